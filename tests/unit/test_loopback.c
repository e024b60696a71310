/* SPDX-License-Identifier: MIT */
/*
 * Handlers run through the loopback harness (loopback.h): each test builds its paths the way conf/paths.c does
 * (the limit check, the feature handler, the access logger), sends requests without sockets and checks status,
 * headers and body; kve_loopback_req_free checks that nothing is left behind. The KV tests use a real
 * redis-server on a unix socket (redis_server.h), started once for the suite.
 */
#include "test.h"
#include "loopback.h"
#include "redis_server.h"
#include "handlers/access.h"
#include "handlers/admin.h"
#include "handlers/kv_rest.h"
#include "handlers/limits.h"
#include "proxy/common.h"
#include "proxy/err.h"

#define TIMEOUT_MS 5000
#define ADMIN_TOKEN "admin-token-0123456789"
#define KV_TOKEN "kv-token-0123456789abcdef"
#define KV_RO_TOKEN "kv-ro-token-0123456789abcd"
#define MAX_HEADERS 8
#define MAX_HEADER_SIZE 1024
#define MAX_BODY 64

static kve_test_redis_t *redis;

static const kve_admin_conf_t admin_conf = {.path = "/", .token = ADMIN_TOKEN, .ready_timeout_ms = 1000};

static kve_rest_token_conf_t kv_tokens[] = {{.token = KV_TOKEN, .read_only = 0, .name = "test"},
                                            {.token = KV_RO_TOKEN, .read_only = 1, .name = "test-ro"}};
static const kve_rest_conf_t kv_conf = {.path = "/kv",
                                        .store = "default",
                                        .store_id = 0,
                                        .tokens = {kv_tokens, KVE_ARRAY_SIZE(kv_tokens)},
                                        .jwt_max_ttl_ms = 3600 * 1000,
                                        .max_request_size = 1 << 20,
                                        .max_key_size = 1024,
                                        .max_reply_size = 1 << 20,
                                        .max_commands = 100,
                                        .scan_max_count = 1000,
                                        .script_timeout_ms = 5000,
                                        .heartbeat_ms = 30000,
                                        .max_streams = 4,
                                        .max_streams_per_token = 2};

/* --- building paths as conf/paths.c does --- */

static size_t route_id(void)
{
    return kve_metrics_route_id("loopback");
}

/* the limit check first; `max_body` 0: no body check (the KV API has its own) */
static h2o_pathconf_t *begin_path(kve_loopback_t *lb, const char *path, size_t max_body)
{
    h2o_pathconf_t *pc = path != NULL ? kve_loopback_register_path(lb, path) : kve_loopback_fallback_path(lb);
    kve_limits_conf_t limits = {.max_header_size = MAX_HEADER_SIZE, .max_headers = MAX_HEADERS, .max_body_size = max_body};
    kve_limits_register(pc, &limits);
    return pc;
}

/* the access logger last: it counts every response in the thread's metrics */
static void end_path(h2o_pathconf_t *pc)
{
    kve_access_register(pc, route_id(), NULL);
}

/*
 * /healthz and the fallback path (404). /readyz is not here: it asks every worker thread of a kve_server_t through
 * their mailboxes (handlers/readyz.h), which the one-thread harness does not have; the integration tests cover it.
 */
static kve_loopback_t *admin_server(void)
{
    static const kve_admin_sources_t sources = {NULL, NULL}; /* /metrics is not registered */
    kve_loopback_t *lb = kve_loopback_create();
    h2o_pathconf_t *pc;

    pc = begin_path(lb, "/healthz", MAX_BODY);
    kve_admin_register(pc, KVE_ADMIN_HEALTHZ, &admin_conf, &sources);
    end_path(pc);
    end_path(begin_path(lb, NULL, MAX_BODY));
    kve_loopback_start(lb);
    return lb;
}

/* the KV REST API at /kv with a link to the suite's Redis */
static kve_loopback_t *kv_server(void)
{
    kve_loopback_t *lb = kve_loopback_create();
    h2o_pathconf_t *pc = begin_path(lb, "/kv", 0);

    kve_rest_register(pc, &kv_conf);
    end_path(pc);
    kve_loopback_start(lb);
    CHECK_NOT_NULL(redis);
    if (redis != NULL)
        CHECK_EQ_INT(kve_loopback_connect_kv(lb, kve_test_redis_socket(redis), 0), 0);
    return lb;
}

static uint64_t responses(kve_loopback_t *lb, int status)
{
    return lb->metrics.routes[route_id()].status[status - KVE_METRICS_MIN_STATUS];
}

static uint64_t kv_commands(kve_loopback_t *lb)
{
    kve_kv_stats_t st = {0};
    if (lb->store.rw != NULL)
        kve_kv_get_stats(lb->store.rw, &st);
    return st.commands;
}

/* sends `method` `path` with an optional Authorization: Bearer `token` and `body`; runs it to its end */
static kve_loopback_req_t *do_request(kve_loopback_t *lb, const char *method, const char *path, const char *token, const char *body)
{
    kve_loopback_req_t *r = kve_loopback_req(lb, method, path);
    if (token != NULL) {
        char auth[128];
        snprintf(auth, sizeof(auth), "Bearer %s", token);
        kve_loopback_req_header(r, "Authorization", auth);
    }
    if (body != NULL)
        kve_loopback_req_body_str(r, body);
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    CHECK(r->done && !r->send_error);
    return r;
}

/* the response has `status`, a Content-Length that matches, and the body `body` */
#define CHECK_RESPONSE(r, status_, body_)                                                                                          \
    do {                                                                                                                           \
        CHECK_EQ_INT((r)->status, status_);                                                                                        \
        CHECK_EQ_STR((r)->body.base, body_);                                                                                       \
        CHECK_EQ_UINT((r)->content_length, (r)->body.len);                                                                         \
    } while (0)

/* --- admin endpoints --- */

TEST(healthz)
{
    kve_loopback_t *lb = admin_server();
    kve_loopback_req_t *r;

    r = do_request(lb, "GET", "/healthz", ADMIN_TOKEN, NULL);
    CHECK_RESPONSE(r, 200, "ok\n");
    CHECK_EQ_STR(kve_loopback_res_header(r, "content-type"), "text/plain; charset=utf-8");
    CHECK_EQ_STR(kve_loopback_res_header(r, "cache-control"), "no-store");
    kve_loopback_req_free(r);

    r = do_request(lb, "GET", "/healthz", NULL, NULL);
    CHECK_EQ_INT(r->status, 401);
    CHECK_EQ_STR(kve_loopback_res_header(r, "www-authenticate"), "Bearer");
    kve_loopback_req_free(r);

    r = do_request(lb, "GET", "/healthz", "admin-token-0123456788", NULL);
    CHECK_EQ_INT(r->status, 401);
    kve_loopback_req_free(r);

    r = do_request(lb, "POST", "/healthz", ADMIN_TOKEN, "");
    CHECK_EQ_INT(r->status, 405);
    CHECK_EQ_STR(kve_loopback_res_header(r, "allow"), "GET, HEAD");
    kve_loopback_req_free(r);

    r = do_request(lb, "GET", "/nowhere", ADMIN_TOKEN, NULL);
    CHECK_EQ_INT(r->status, 404);
    kve_loopback_req_free(r);

    /* the access logger ran for each, on the thread the handlers found through the context */
    CHECK_EQ_UINT(responses(lb, 200), 1);
    CHECK_EQ_UINT(responses(lb, 401), 2);
    CHECK_EQ_UINT(responses(lb, 405), 1);
    CHECK_EQ_UINT(responses(lb, 404), 1);
    kve_loopback_destroy(lb);
}

/* --- the limit check --- */

TEST(limits)
{
    kve_loopback_t *lb = admin_server();
    kve_loopback_req_t *r;
    char big[MAX_HEADER_SIZE + 1], body[MAX_BODY + 2];
    size_t at;

    /* one header field over limits.max_headers */
    r = kve_loopback_req(lb, "GET", "/healthz");
    for (int i = 0; i != MAX_HEADERS + 1; ++i)
        kve_loopback_req_header(r, "x-filler", "1");
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    CHECK_EQ_INT(r->status, 431);
    CHECK_EQ_INT(r->req.http1_is_persistent, 0); /* the connection closes after it */
    kve_loopback_req_free(r);

    /* names and values at limits.max_header_size pass, one byte more is refused */
    at = MAX_HEADER_SIZE - strlen("x-big") - strlen("authorization") - strlen("Bearer " ADMIN_TOKEN);
    memset(big, 'v', sizeof(big) - 1);
    big[at] = '\0';
    r = kve_loopback_req(lb, "GET", "/healthz");
    kve_loopback_req_header(r, "authorization", "Bearer " ADMIN_TOKEN);
    kve_loopback_req_header(r, "x-big", big);
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    CHECK_EQ_INT(r->status, 200);
    kve_loopback_req_free(r);
    big[at] = 'v';
    big[at + 1] = '\0';
    r = kve_loopback_req(lb, "GET", "/healthz");
    kve_loopback_req_header(r, "authorization", "Bearer " ADMIN_TOKEN);
    kve_loopback_req_header(r, "x-big", big);
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    CHECK_EQ_INT(r->status, 431);
    kve_loopback_req_free(r);

    /* a body one byte over limits.max_body_size, and one at it */
    memset(body, 'b', sizeof(body) - 1);
    body[MAX_BODY + 1] = '\0';
    r = do_request(lb, "POST", "/healthz", ADMIN_TOKEN, body);
    CHECK_EQ_INT(r->status, 413);
    CHECK_EQ_INT(r->req.http1_is_persistent, 0);
    kve_loopback_req_free(r);
    body[MAX_BODY] = '\0';
    r = do_request(lb, "POST", "/healthz", ADMIN_TOKEN, body);
    CHECK_EQ_INT(r->status, 405); /* through the check, to the endpoint (which takes GET only) */
    kve_loopback_req_free(r);

    CHECK_EQ_UINT(responses(lb, 431), 2);
    CHECK_EQ_UINT(responses(lb, 413), 1);
    kve_loopback_destroy(lb);
}

/* --- kvedge_open_streams, counted on the connection record (proxy/streams.h) --- */

static int response_done(void *data)
{
    return ((kve_loopback_req_t *)data)->done;
}

/* a wired request (the socket leads to its connection record) to `path`, run to the end of its response */
static kve_loopback_req_t *wired_get(kve_loopback_t *lb, const char *path, size_t extra_headers)
{
    char head[256];
    kve_loopback_req_t *r = kve_loopback_req(lb, "GET", path);
    kve_loopback_req_header(r, "authorization", "Bearer " ADMIN_TOKEN);
    for (size_t i = 0; i != extra_headers; ++i)
        kve_loopback_req_header(r, "x-filler", "1");
    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    kve_loopback_req_wire(r, head);
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    return r;
}

TEST(open_streams)
{
    static const struct {
        const char *path;
        size_t extra_headers;
        int status;
    } endings[] = {{"/healthz", 0, 200}, {"/nowhere", 0, 404}, {"/healthz", MAX_HEADERS, 431}};
    kve_loopback_t *lb = admin_server();
    kve_loopback_req_t *r;

    /* a request is open from the limit check until its logger ran (its response done is not enough: h2o disposes
     * the request, and runs the logger, after the last byte went out) */
    for (size_t i = 0; i != KVE_ARRAY_SIZE(endings); ++i) {
        r = wired_get(lb, endings[i].path, endings[i].extra_headers);
        CHECK_EQ_INT(r->status, endings[i].status);
        CHECK_EQ_INT((int)lb->metrics.open_streams, 1);
        CHECK_EQ_UINT(r->pending.open_streams, 1);
        kve_loopback_req_free(r);
        CHECK_EQ_INT((int)lb->metrics.open_streams, 0);
    }

    /* an answer h2o sends itself before routing (here a 413, as for a body over its own limit): bound to the fallback
     * path, its logger runs, but no handler opened a stream, so none is closed */
    r = kve_loopback_req(lb, "POST", "/healthz");
    kve_loopback_req_wire(r, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n");
    h2o_send_error_generic(&r->req, 413, "Request Entity Too Large", "request entity is too large",
                           H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
    CHECK_EQ_INT(kve_loopback_run_until(lb, response_done, r, TIMEOUT_MS), 0);
    CHECK_EQ_INT(r->status, 413);
    CHECK(r->req.pathconf == &lb->hosts[0]->fallback_path);
    kve_loopback_req_free(r);
    CHECK_EQ_INT((int)lb->metrics.open_streams, 0);
    CHECK_EQ_UINT(responses(lb, 413), 1); /* it was logged */

    /* a request without a socket (no connection record) is not counted at all */
    r = do_request(lb, "GET", "/healthz", ADMIN_TOKEN, NULL);
    CHECK_EQ_INT(r->status, 200);
    CHECK_EQ_INT((int)lb->metrics.open_streams, 0);
    kve_loopback_req_free(r);
    CHECK_EQ_INT((int)lb->metrics.open_streams, 0);
    kve_loopback_destroy(lb);
}

/* --- the harness with a streaming response (a generator that sends one byte per proceed) --- */

static int stream_stops;

static void stream_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    static const char bytes[] = "abc";
    size_t *sent = (size_t *)(self + 1);
    h2o_iovec_t buf = h2o_iovec_init(bytes + *sent, 1);
    ++*sent;
    h2o_send(req, &buf, 1, *sent == 3 ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void stream_stop(h2o_generator_t *self, h2o_req_t *req)
{
    ++stream_stops;
}

static int stream_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_generator_t *gen = h2o_mem_alloc_pool(&req->pool, sizeof(*gen) + sizeof(size_t));
    *gen = (h2o_generator_t){stream_proceed, stream_stop};
    *(size_t *)(gen + 1) = 0;
    req->res.status = 200;
    h2o_start_response(req, gen);
    stream_proceed(gen, req);
    return 0;
}

static int got_first_byte(void *data)
{
    return ((kve_loopback_req_t *)data)->body.len != 0;
}

TEST(streaming)
{
    kve_loopback_t *lb = kve_loopback_create();
    kve_loopback_req_t *r;

    h2o_create_handler(kve_loopback_register_path(lb, "/stream"), sizeof(h2o_handler_t))->on_req = stream_on_req;
    kve_loopback_start(lb);
    stream_stops = 0;

    /* each in-progress send is acknowledged on the next loop iteration, until the final one */
    r = do_request(lb, "GET", "/stream", NULL, NULL);
    CHECK_EQ_INT(r->status, 200);
    CHECK_EQ_STR(r->body.base, "abc");
    CHECK_EQ_UINT(r->content_length, SIZE_MAX);
    CHECK_EQ_STR(kve_loopback_res_header(r, "transfer-encoding"), "chunked"); /* HTTP/1.1 without a length */
    CHECK_EQ_MEM(r->raw.base, r->raw.len, "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", 23);
    kve_loopback_req_free(r);
    CHECK_EQ_INT(stream_stops, 0);

    /* the client leaves mid-stream: the generator is stopped */
    r = kve_loopback_req(lb, "GET", "/stream");
    kve_loopback_req_start(r);
    CHECK_EQ_INT(kve_loopback_run_until(lb, got_first_byte, r, TIMEOUT_MS), 0);
    CHECK(!r->done);
    kve_loopback_req_free(r);
    CHECK_EQ_INT(stream_stops, 1);
    kve_loopback_destroy(lb);
}

/* --- the KV REST API --- */

TEST(kv_unauthorized)
{
    kve_loopback_t *lb = kv_server();
    uint64_t before = kv_commands(lb);
    kve_loopback_req_t *r;

    r = do_request(lb, "GET", "/kv/get/loopback:secret", NULL, NULL);
    CHECK_RESPONSE(r, 401, "{\"error\":\"WRONGPASS invalid or missing auth token\"}");
    CHECK_EQ_STR(kve_loopback_res_header(r, "content-type"), "application/json");
    kve_loopback_req_free(r);
    r = do_request(lb, "GET", "/kv/get/loopback:secret", "kv-token-0123456789abcdeX", NULL);
    CHECK_RESPONSE(r, 401, "{\"error\":\"WRONGPASS invalid or missing auth token\"}");
    kve_loopback_req_free(r);
    r = do_request(lb, "GET", "/kv/get/loopback:secret?_token=nope", NULL, NULL);
    CHECK_EQ_INT(r->status, 401);
    kve_loopback_req_free(r);

    CHECK_EQ_UINT(kv_commands(lb), before); /* nothing reached Redis */
    kve_loopback_destroy(lb);
}

TEST(kv_path_command)
{
    kve_loopback_t *lb = kv_server();
    kve_loopback_req_t *r;

    r = do_request(lb, "GET", "/kv/set/loopback:path/hello%20world", KV_TOKEN, NULL);
    CHECK_RESPONSE(r, 200, "{\"result\":\"OK\"}");
    CHECK_EQ_STR(kve_loopback_res_header(r, "content-type"), "application/json");
    CHECK_NOT_NULL(kve_loopback_res_header(r, "upstash-sync-token"));
    kve_loopback_req_free(r);

    r = do_request(lb, "GET", "/kv/get/loopback:path", KV_TOKEN, NULL);
    CHECK_RESPONSE(r, 200, "{\"result\":\"hello world\"}");
    kve_loopback_req_free(r);

    /* the token in the query works too; a Redis error reply is a 400 */
    r = do_request(lb, "GET", "/kv/incr/loopback:path?_token=" KV_TOKEN, NULL, NULL);
    CHECK_RESPONSE(r, 400, "{\"error\":\"ERR value is not an integer or out of range\"}");
    kve_loopback_req_free(r);
    kve_loopback_destroy(lb);
}

TEST(kv_pipeline)
{
    kve_loopback_t *lb = kv_server();
    kve_loopback_req_t *r;

    r = do_request(
        lb, "POST", "/kv/pipeline", KV_TOKEN,
        "[[\"SET\",\"loopback:pipe\",\"1\"],[\"INCR\",\"loopback:pipe\"],[\"GET\",\"loopback:pipe\"],[\"DEL\",\"loopback:pipe\"]]");
    CHECK_RESPONSE(r, 200, "[{\"result\":\"OK\"},{\"result\":2},{\"result\":\"2\"},{\"result\":1}]");
    kve_loopback_req_free(r);

    /* a refused command is an entry of its own; the others run */
    r = do_request(lb, "POST", "/kv/pipeline", KV_TOKEN, "[[\"GET\",\"loopback:pipe\"],[\"FLUSHALL\"],[\"PING\"]]");
    CHECK_EQ_INT(r->status, 200);
    CHECK(strncmp(r->body.base, "[{\"result\":null},{\"error\":\"", 27) == 0);
    CHECK(r->body.len > 20 && strcmp(r->body.base + r->body.len - 20, "},{\"result\":\"PONG\"}]") == 0);
    kve_loopback_req_free(r);
    kve_loopback_destroy(lb);
}

TEST(kv_dot_segment)
{
    static const char *const paths[] = {"/kv/get/a/../b", "/kv/get/./b", "/kv/get/%2e%2E/b", "/kv/get/a/..", "/api/../kv/get/b"};
    kve_loopback_t *lb = kv_server();
    uint64_t before = kv_commands(lb);

    for (size_t i = 0; i != KVE_ARRAY_SIZE(paths); ++i) {
        kve_loopback_req_t *r = do_request(lb, "GET", paths[i], KV_TOKEN, NULL);
        CHECK_EQ_INT(r->status, 400);
        CHECK(strncmp(r->body.base, "{\"error\":\"ERR the request path ", 31) == 0);
        kve_loopback_req_free(r);
    }
    CHECK_EQ_UINT(kv_commands(lb), before);
    kve_loopback_destroy(lb);
}

TEST(kv_client_gone)
{
    kve_loopback_t *lb = kv_server();
    kve_loopback_req_t *r = kve_loopback_req(lb, "POST", "/kv/multi-exec");
    uint64_t before = kv_commands(lb);

    kve_loopback_req_header(r, "authorization", "Bearer " KV_TOKEN);
    kve_loopback_req_body_str(r, "[[\"SET\",\"loopback:gone\",\"1\"],[\"INCR\",\"loopback:gone\"]]");
    kve_loopback_req_start(r); /* the commands are queued; the client leaves before any reply */
    CHECK(!r->done);
    CHECK(kv_commands(lb) > before);
    kve_loopback_req_free(r); /* cancels them; the harness waits until their replies were dropped */

    /* the transaction was sent whole, so it applied whole */
    r = do_request(lb, "GET", "/kv/get/loopback:gone", KV_TOKEN, NULL);
    CHECK_RESPONSE(r, 200, "{\"result\":\"2\"}");
    kve_loopback_req_free(r);
    r = do_request(lb, "GET", "/kv/del/loopback:gone", KV_TOKEN, NULL);
    kve_loopback_req_free(r);
    kve_loopback_destroy(lb);
}

TEST(kv_read_only_token)
{
    kve_loopback_t *lb = kv_server();
    kve_kv_stats_t ro_before, ro_after;
    uint64_t rw_before;
    kve_loopback_req_t *r;

    /* the store's read-only link, which read-only tokens use (kve_thread_link), on the same Redis */
    CHECK_EQ_INT(kve_loopback_connect_kv(lb, kve_test_redis_socket(redis), 1), 0);
    r = do_request(lb, "GET", "/kv/set/loopback:ro/v1", KV_TOKEN, NULL);
    CHECK_RESPONSE(r, 200, "{\"result\":\"OK\"}");
    kve_loopback_req_free(r);

    /* a write with the read-only token is refused before Redis */
    rw_before = kv_commands(lb);
    kve_kv_get_stats(lb->store.ro, &ro_before);
    r = do_request(lb, "GET", "/kv/set/loopback:ro/v2", KV_RO_TOKEN, NULL);
    CHECK_RESPONSE(r, 400, "{\"error\":\"NOPERM this user has no permissions to run the 'set' command\"}");
    kve_loopback_req_free(r);
    kve_kv_get_stats(lb->store.ro, &ro_after);
    CHECK_EQ_UINT(ro_after.commands, ro_before.commands);

    /* in a pipeline the write is an error entry of its own; the read runs, on the read-only link */
    r = do_request(lb, "POST", "/kv/pipeline", KV_RO_TOKEN, "[[\"GET\",\"loopback:ro\"],[\"DEL\",\"loopback:ro\"]]");
    CHECK_RESPONSE(r, 200, "[{\"result\":\"v1\"},{\"error\":\"NOPERM this user has no permissions to run the 'del' command\"}]");
    kve_loopback_req_free(r);
    kve_kv_get_stats(lb->store.ro, &ro_after);
    CHECK_EQ_UINT(ro_after.commands, ro_before.commands + 1);
    CHECK_EQ_UINT(kv_commands(lb), rw_before); /* nothing on the read-write link, so no write happened */

    /* the value is unchanged */
    r = do_request(lb, "GET", "/kv/get/loopback:ro", KV_RO_TOKEN, NULL);
    CHECK_RESPONSE(r, 200, "{\"result\":\"v1\"}");
    kve_loopback_req_free(r);

    r = do_request(lb, "GET", "/kv/del/loopback:ro", KV_TOKEN, NULL);
    CHECK_RESPONSE(r, 200, "{\"result\":1}");
    kve_loopback_req_free(r);
    kve_loopback_destroy(lb);
}

/* --- request framing (handlers/framing.h, run by the limit check) --- */

#define PIPELINE_BODY "[[\"PING\"]]"

/* a POST of PIPELINE_BODY to /kv/pipeline over a socket whose raw head is `head` */
static kve_loopback_req_t *wire_post(kve_loopback_t *lb, const char *head)
{
    kve_loopback_req_t *r = kve_loopback_req(lb, "POST", "/kv/pipeline");
    kve_loopback_req_header(r, "authorization", "Bearer " KV_TOKEN);
    kve_loopback_req_body_str(r, PIPELINE_BODY);
    kve_loopback_req_wire(r, head);
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    return r;
}

#define HEAD_START "POST /kv/pipeline HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KV_TOKEN "\r\n"

TEST(framing)
{
    static const char *const refused[] = {
        HEAD_START "Content-Length: 10\r\nContent-Length: 10\r\n\r\n",
        HEAD_START "content-length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
        HEAD_START "Transfer-Encoding: chunked\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
        HEAD_START "Content-Length: 10\r\nX-Folded: a\r\n b\r\n\r\n",
        /* not the request's head (the method differs): refused rather than guessed at */
        "GET /kv/pipeline HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    kve_loopback_t *lb = kv_server();
    uint64_t before = kv_commands(lb);
    kve_loopback_req_t *r;

    for (size_t i = 0; i != KVE_ARRAY_SIZE(refused); ++i) {
        r = wire_post(lb, refused[i]);
        CHECK_EQ_INT(r->status, 400);
        CHECK_EQ_STR(r->body.base, "bad request framing");
        CHECK_EQ_INT(r->req.http1_is_persistent, 0); /* nothing after it on the connection is trusted */
        kve_loopback_req_free(r);
    }
    CHECK_EQ_UINT(responses(lb, 400), KVE_ARRAY_SIZE(refused));
    CHECK_EQ_UINT(kv_commands(lb), before); /* none reached the handler */

    /* the same request framed once goes through, to Redis */
    r = wire_post(lb, HEAD_START "Content-Length: 10\r\n\r\n");
    CHECK_RESPONSE(r, 200, "[{\"result\":\"PONG\"}]");
    CHECK_EQ_INT(r->req.http1_is_persistent, 1);
    kve_loopback_req_free(r);
    CHECK_EQ_UINT(kv_commands(lb), before + 1);

    /* without a body only the parsed headers are looked at: a folded line reaches them as a field without a name */
    r = kve_loopback_req(lb, "GET", "/kv/get/loopback:framing");
    kve_loopback_req_header(r, "authorization", "Bearer " KV_TOKEN);
    kve_loopback_req_header(r, "", "folded");
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    CHECK_EQ_INT(r->status, 400);
    CHECK_EQ_STR(r->body.base, "bad request framing");
    kve_loopback_req_free(r);

    /* HTTP/2 frames bodies itself: the same field is not a framing question there */
    r = kve_loopback_req(lb, "GET", "/kv/get/loopback:framing");
    r->req.version = 0x200;
    kve_loopback_req_header(r, "authorization", "Bearer " KV_TOKEN);
    kve_loopback_req_header(r, "", "folded");
    CHECK_EQ_INT(kve_loopback_req_run(r, TIMEOUT_MS), 0);
    CHECK_RESPONSE(r, 200, "{\"result\":null}");
    kve_loopback_req_free(r);
    kve_loopback_destroy(lb);
}

void kve_suite_loopback(void)
{
    char err[256];

    RUN(streaming);
    RUN(healthz);
    RUN(limits);
    RUN(open_streams);
    if ((redis = kve_test_redis_start(err, sizeof(err))) == NULL)
        fprintf(stderr, "    redis-server: %s (the KV tests fail)\n", err);
    RUN(kv_unauthorized);
    RUN(kv_path_command);
    RUN(kv_pipeline);
    RUN(kv_dot_segment);
    RUN(kv_client_gone);
    RUN(kv_read_only_token);
    RUN(framing);
    kve_test_redis_free(redis);
    redis = NULL;
}
