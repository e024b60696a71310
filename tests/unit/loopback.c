/* SPDX-License-Identifier: MIT */
/* The loopback harness for handlers (see loopback.h). */
#include "loopback.h"
#include "test.h"
#include "proxy/common.h"
#include "proxy/h2o_private.h"
#include "proxy/kv_redis.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_MS 5000
#define LINK_UP_TIMEOUT_MS 5000

/* --- the connection --- */

static socklen_t fill_addr(struct sockaddr *sa, uint16_t port)
{
    struct sockaddr_in *sin = (void *)sa;
    *sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return sizeof(*sin);
}

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    return fill_addr(sa, 80);
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    return fill_addr(sa, 50000);
}

/* no get_socket: the code that works on the client socket sees there is none */
static const h2o_conn_callbacks_t conn_callbacks = {.get_sockname = get_sockname, .get_peername = get_peername};

/* kve_loopback_req_wire(): the request's socket */
static h2o_socket_t *get_socket(h2o_conn_t *conn)
{
    return H2O_STRUCT_FROM_MEMBER(kve_loopback_req_t, conn, conn)->sock;
}

static const h2o_conn_callbacks_t wire_conn_callbacks = {
    .get_sockname = get_sockname, .get_peername = get_peername, .get_socket = get_socket};

/* --- the thread --- */

kve_loopback_t *kve_loopback_create(void)
{
    kve_loopback_t *lb = kve_zalloc(sizeof(*lb));

    h2o_config_init(&lb->globalconf);
    lb->hosts[0] = h2o_config_register_host(&lb->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    lb->loop = h2o_evloop_create();
    lb->thread.metrics = &lb->metrics;
    lb->store.name = "default";
    lb->thread.stores = &lb->store;
    lb->thread.num_stores = 1;
    kve_pending_init(&lb->pending, 0, 1);
    kve_pending_thread_init(&lb->pending_thread, &lb->pending);
    h2o_linklist_init_anchor(&lb->thread.drain_watchers);
    return lb;
}

h2o_pathconf_t *kve_loopback_register_path(kve_loopback_t *lb, const char *path)
{
    KVE_ASSERT(!lb->started);
    return h2o_config_register_path(lb->hosts[0], path, 0);
}

h2o_pathconf_t *kve_loopback_fallback_path(kve_loopback_t *lb)
{
    return &lb->hosts[0]->fallback_path;
}

void kve_loopback_start(kve_loopback_t *lb)
{
    KVE_ASSERT(!lb->started);
    h2o_context_init(&lb->thread.ctx, lb->loop, &lb->globalconf);
    lb->started = 1;
}

static int link_up(void *data)
{
    kve_kv_stats_t st;
    kve_kv_get_stats(data, &st);
    return st.state == KVE_KV_UP;
}

int kve_loopback_connect_kv(kve_loopback_t *lb, const char *socket_path, int read_only)
{
    char url[160], err[256];
    kve_redis_conf_t conf = {
        .url = url, .connect_timeout_ms = 1000, .command_timeout_ms = 2000, .reconnect_max_delay_ms = 200, .breaker_threshold = 5};
    kve_redis_target_t *target = lb->targets + lb->num_targets;
    kve_kv_t **slot = read_only ? &lb->store.ro : &lb->store.rw;

    KVE_ASSERT(lb->started && *slot == NULL && lb->num_targets < KVE_ARRAY_SIZE(lb->targets));
    snprintf(url, sizeof(url), "unix://%s", socket_path);
    if (kve_redis_target_init(target, &conf, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "    loopback: redis target %s: %s\n", url, err);
        return -1;
    }
    target->role = read_only ? "read-only" : "read-write";
    ++lb->num_targets;
    *slot = kve_kv_redis_create(lb->loop, target, &conf, NULL);
    return kve_loopback_run_until(lb, link_up, *slot, LINK_UP_TIMEOUT_MS);
}

int kve_loopback_run_until(kve_loopback_t *lb, int (*done)(void *data), void *data, uint64_t timeout_ms)
{
    uint64_t deadline = h2o_now(lb->loop) + timeout_ms;

    while (done == NULL || !done(data)) {
        if (h2o_now(lb->loop) >= deadline)
            return done == NULL ? 0 : -1;
        h2o_evloop_run(lb->loop, 10);
    }
    return 0;
}

void kve_loopback_destroy(kve_loopback_t *lb)
{
    kve_kv_t **links[] = {&lb->store.ro, &lb->store.rw};

    for (size_t i = 0; i != KVE_ARRAY_SIZE(links); ++i) {
        if (*links[i] != NULL)
            kve_kv_destroy(*links[i]);
        *links[i] = NULL;
    }
    /* as the server's workers end: the context on its thread, then the configuration, then the loop */
    if (lb->started)
        kve_h2o_context_dispose(&lb->thread.ctx);
    h2o_config_dispose(&lb->globalconf);
    h2o_evloop_destroy(lb->loop);
    for (size_t i = 0; i != lb->num_targets; ++i)
        kve_redis_target_dispose(lb->targets + i);
    kve_h2o_release_thread_buffers();
    free(lb);
}

/* --- requests --- */

static void terminate_body(kve_loopback_req_t *r)
{
    *kve_buf_reserve(&r->body, 1) = '\0';
}

/* the client reads what was sent and asks for more: on the next loop iteration, as a socket's write completes */
static void on_proceed(h2o_timeout_entry_t *entry)
{
    kve_loopback_req_t *r = H2O_STRUCT_FROM_MEMBER(kve_loopback_req_t, proceed, entry);
    h2o_proceed_response(&r->req);
}

/* the payload of what came in `raw` so far */
static void dechunk(kve_loopback_req_t *r)
{
    while (r->raw_decoded != r->raw.len && !r->dechunk.done) {
        size_t off = 0, len = 0;
        const char *why;
        long n = kve_http1_chunked_decode(&r->dechunk, r->raw.base + r->raw_decoded, r->raw.len - r->raw_decoded, &off, &len, &why);
        if (n < 0) {
            CHECK_FAIL_("loopback: the response's chunked framing is broken: %s", why);
            r->raw_decoded = r->raw.len;
            return;
        }
        if (n == 0)
            return; /* needs more */
        kve_buf_append(&r->body, r->raw.base + r->raw_decoded + off, len);
        r->raw_decoded += (size_t)n;
    }
}

static void on_send(h2o_ostream_t *ostr, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    kve_loopback_req_t *r = H2O_STRUCT_FROM_MEMBER(kve_loopback_req_t, final, ostr);

    KVE_ASSERT(!r->done);
    if (!r->started) {
        r->started = 1;
        r->status = req->res.status;
        r->reason = req->res.reason;
        r->content_length = req->res.content_length;
        r->chunked = h2o_find_header(&req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, -1) != -1;
    }
    for (size_t i = 0; i != bufcnt; ++i)
        kve_buf_append(&r->raw, bufs[i].base, bufs[i].len);
    if (r->chunked)
        dechunk(r);
    else
        kve_buf_append(&r->body, r->raw.base + r->body.len, r->raw.len - r->body.len);
    terminate_body(r);
    if (h2o_send_state_is_in_progress(state)) {
        h2o_timeout_link(r->lb->loop, &r->lb->thread.ctx.zero_timeout, &r->proceed);
        return;
    }
    r->done = 1;
    r->send_error = state == H2O_SEND_STATE_ERROR;
    if (r->chunked && !r->send_error && !r->dechunk.done)
        CHECK_FAIL_("%s", "loopback: the chunked response ended without its last chunk");
}

/* runs when the request's pool is cleared (h2o_mem_clear_pool releases the shared objects newest first, so after the
 * handlers' request state) */
static void on_pool_cleared(void *p)
{
    kve_loopback_req_t *r = *(kve_loopback_req_t **)p;
    r->pool_cleared = 1;
}

static h2o_iovec_t pool_strdup(kve_loopback_req_t *r, const char *s)
{
    return h2o_strdup(&r->req.pool, s, strlen(s));
}

kve_loopback_req_t *kve_loopback_req(kve_loopback_t *lb, const char *method, const char *path)
{
    kve_loopback_req_t *r = kve_zalloc(sizeof(*r));
    struct timeval now;

    KVE_ASSERT(lb->started);
    gettimeofday(&now, NULL);
    r->lb = lb;
    r->conn = (h2o_conn_t){.ctx = &lb->thread.ctx,
                           .hosts = lb->hosts,
                           .connected_at = now,
                           .id = __sync_add_and_fetch(&h2o_connection_id, 1),
                           .callbacks = &conn_callbacks};
    h2o_init_request(&r->req, &r->conn, NULL);
    r->final.do_send = on_send;
    kve_h2o_req_set_final_ostream(&r->req, &r->final);
    r->proceed.cb = on_proceed;
    terminate_body(r);
    /* the first shared object of the pool: its dispose tells the pool was cleared */
    *(kve_loopback_req_t **)h2o_mem_alloc_shared(&r->req.pool, sizeof(r), on_pool_cleared) = r;

    r->req.input.method = pool_strdup(r, method);
    r->req.input.path = pool_strdup(r, path);
    r->req.input.scheme = &H2O_URL_SCHEME_HTTP;
    r->req.version = 0x101;
    r->req.http1_is_persistent = 1;
    return r;
}

void kve_loopback_req_header(kve_loopback_req_t *r, const char *name, const char *value)
{
    h2o_iovec_t lc = pool_strdup(r, name);
    h2o_strtolower(lc.base, lc.len);
    h2o_add_header_by_str(&r->req.pool, &r->req.headers, lc.base, lc.len, 1, NULL, value, strlen(value));
}

void kve_loopback_req_body(kve_loopback_req_t *r, const void *body, size_t len)
{
    r->req.entity = h2o_strdup(&r->req.pool, len != 0 ? body : "", len);
}

void kve_loopback_req_body_str(kve_loopback_req_t *r, const char *body)
{
    kve_loopback_req_body(r, body, strlen(body));
}

void kve_loopback_req_wire(kve_loopback_req_t *r, const char *head)
{
    size_t head_len = strlen(head), body_len = r->req.entity.len;
    h2o_iovec_t dst;
    int fds[2];

    KVE_ASSERT(r->sock == NULL);
    KVE_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    r->sock = h2o_evloop_socket_create(r->lb->loop, fds[0], 0);
    r->peer_fd = fds[1];
    /* as the server's accept does (server.c): the socket leads to its pending record */
    kve_pending_conn_init(&r->pending, &r->lb->pending_thread, r->sock);
    r->sock->on_close.data = &r->pending;
    /* as h2o's HTTP/1 reader leaves it: the head, then the body right after it */
    dst = h2o_buffer_reserve(&r->sock->input, head_len + body_len);
    memcpy(dst.base, head, head_len);
    if (body_len != 0)
        memcpy(dst.base + head_len, r->req.entity.base, body_len);
    r->sock->input->size += head_len + body_len;
    if (r->req.entity.base != NULL)
        r->req.entity = h2o_iovec_init(r->sock->input->bytes + head_len, body_len);
    r->conn.callbacks = &wire_conn_callbacks;
}

void kve_loopback_req_start(kve_loopback_req_t *r)
{
    h2o_process_request(&r->req);
}

static int req_done(void *data)
{
    return ((kve_loopback_req_t *)data)->done;
}

int kve_loopback_req_run(kve_loopback_req_t *r, uint64_t timeout_ms)
{
    kve_loopback_req_start(r);
    return kve_loopback_run_until(r->lb, req_done, r, timeout_ms);
}

const char *kve_loopback_res_header(kve_loopback_req_t *r, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&r->req.res.headers, name, strlen(name), -1);
    if (i == -1)
        return NULL;
    return h2o_strdup(&r->req.pool, r->req.res.headers.entries[i].value.base, r->req.res.headers.entries[i].value.len).base;
}

/* --- nothing left behind --- */

static size_t kv_inflight(kve_loopback_t *lb)
{
    kve_kv_t *links[] = {lb->store.rw, lb->store.ro};
    size_t n = 0;
    for (size_t i = 0; i != KVE_ARRAY_SIZE(links); ++i) {
        kve_kv_stats_t st;
        if (links[i] == NULL)
            continue;
        kve_kv_get_stats(links[i], &st);
        n += st.inflight;
    }
    return n;
}

static int kv_idle(void *data)
{
    return kv_inflight(data) == 0;
}

void kve_loopback_req_free(kve_loopback_req_t *r)
{
    kve_loopback_t *lb = r->lb;
    h2o_mem_pool_t *pool = &r->req.pool;

    if (h2o_timeout_is_linked(&r->proceed))
        h2o_timeout_unlink(&r->proceed);
    h2o_dispose_request(&r->req); /* stops the generator if still sending, runs the loggers, clears the pool */
    CHECK(r->pool_cleared);       /* the handlers' request state was released (LSan reports a reference kept) */
    CHECK(pool->chunks == NULL && pool->shared_refs == NULL && pool->directs == NULL);
    if (r->sock != NULL) { /* closed as the connection would; the loop frees it */
        h2o_socket_close(r->sock);
        close(r->peer_fd);
        h2o_evloop_run(lb->loop, 0);
    }
    /* cancelled commands are in flight until their replies come (and are dropped) */
    if (kve_loopback_run_until(lb, kv_idle, lb, DRAIN_TIMEOUT_MS) != 0)
        CHECK_FAIL_("loopback: %zu KV commands still in flight %d ms after the request ended", kv_inflight(lb), DRAIN_TIMEOUT_MS);
    kve_buf_dispose(&r->raw);
    kve_buf_dispose(&r->body);
    free(r);
}
