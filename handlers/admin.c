/* SPDX-License-Identifier: MIT */
/* Admin endpoints (see admin.h). /readyz is asynchronous: it owns a PING on each of the thread's KV links
 * (the read-only tokens' one too, when there is one) until the reply, the timeout, or the request's end (then
 * the commands are cancelled by the pool's dispose callback); it is ready when every link answered PONG. */
#include "handlers/admin.h"
#include "handlers/bearer.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"

#include <stdio.h>
#include <time.h>

#define READY_MAGIC 0x72656479

struct st_admin_handler_t {
    h2o_handler_t super;
    kve_admin_endpoint_t endpoint;
    char *token;
    size_t token_len;
    uint64_t ready_timeout_ms;
    kve_admin_sources_t sources;
};

struct st_ready_t;

struct st_ready_ping_t {
    struct st_ready_t *r;
    kve_kv_cmd_t *cmd;
    /** "" or " (read-only user)", for the message */
    const char *which;
};

struct st_ready_t {
    uint32_t magic;
    h2o_req_t *req;
    struct st_ready_ping_t pings[2];
    size_t pending;
    /** the first failure, in the request's pool */
    char *failure;
};

static time_t process_start_time;

static void send_text(h2o_req_t *req, int status, const char *reason, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

static int authorized(struct st_admin_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t token;
    if (self->token == NULL)
        return 1;
    token = kve_bearer_token(req);
    return token.base != NULL && kve_secure_equal(token.base, token.len, self->token, self->token_len);
}

static void on_ready_dispose(void *p)
{
    struct st_ready_t *r = p;
    for (size_t i = 0; i != KVE_ARRAY_SIZE(r->pings); ++i)
        if (r->pings[i].cmd != NULL)
            kve_kv_cancel(r->pings[i].cmd);
}

static void fail_ready(struct st_ready_t *r, const char *which, const char *why)
{
    char body[256];
    int n;
    if (r->failure != NULL)
        return;
    n = snprintf(body, sizeof(body), "not ready: kv store%s: %s\n", which, why);
    r->failure = h2o_strdup(&r->req->pool, body, (size_t)KVE_MIN(n, (int)sizeof(body) - 1)).base;
}

static void finish_ready(struct st_ready_t *r)
{
    if (r->failure == NULL)
        send_text(r->req, 200, "OK", "text/plain; charset=utf-8", H2O_STRLIT("ready\n"));
    else
        send_text(r->req, 503, "Service Unavailable", "text/plain; charset=utf-8", r->failure, strlen(r->failure));
}

static void on_ready_reply(void *data, int err, const kve_kv_reply_t *reply)
{
    struct st_ready_ping_t *ping = data;
    struct st_ready_t *r = ping->r;

    KVE_CHECK_OBJ(r, READY_MAGIC);
    ping->cmd = NULL;
    if (err != 0)
        fail_ready(r, ping->which, kve_strerror(err));
    else if (!(reply->type == KVE_REPLY_STATUS && reply->len == 4 && memcmp(reply->str, "PONG", 4) == 0))
        fail_ready(r, ping->which, reply->type == KVE_REPLY_ERROR ? reply->str : "unexpected reply");
    if (--r->pending == 0)
        finish_ready(r);
}

/* PINGs `kv` (NULL: no link) for `r`; a PING that cannot be sent fails `r` at once */
static void ping_link(struct st_admin_handler_t *self, struct st_ready_t *r, kve_kv_t *kv, size_t i, const char *which)
{
    static const char *const ping[] = {"PING"};
    static const size_t ping_len[] = {4};
    kve_kv_opts_t opts = {self->ready_timeout_ms};
    int err = KVE_EUNAVAIL;

    r->pings[i] = (struct st_ready_ping_t){r, NULL, which};
    if (kv != NULL && (r->pings[i].cmd = kve_kv_command(kv, 1, ping, ping_len, &opts, on_ready_reply, r->pings + i, &err)) != NULL)
        ++r->pending;
    else
        fail_ready(r, which, kve_strerror(err));
}

static void serve_ready(struct st_admin_handler_t *self, h2o_req_t *req)
{
    kve_thread_t *thread = kve_server_thread(req->conn->ctx);
    struct st_ready_t *r = h2o_mem_alloc_shared(&req->pool, sizeof(*r), on_ready_dispose);

    *r = (struct st_ready_t){READY_MAGIC, req};
    ++r->pending; /* held while sending, so a reply can never finish early */
    ping_link(self, r, thread->kv, 0, "");
    if (thread->kv_ro != NULL)
        ping_link(self, r, thread->kv_ro, 1, " (read-only user)");
    if (--r->pending == 0)
        finish_ready(r);
}

static void render_metrics(const kve_admin_sources_t *src, kve_buf_t *buf);

static void serve_metrics(struct st_admin_handler_t *self, h2o_req_t *req)
{
    kve_buf_t buf = KVE_BUF_INIT;
    char *body;

    render_metrics(&self->sources, &buf);
    body = h2o_mem_alloc_pool(&req->pool, buf.len + 1);
    memcpy(body, buf.base, buf.len);
    send_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, buf.len);
    kve_buf_dispose(&buf);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_admin_handler_t *self = (void *)_self;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        h2o_send_error_405(req, "Method Not Allowed", "method not allowed", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    if (!authorized(self, req)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
        h2o_send_error_generic(req, 401, "Unauthorized", "admin token required\n", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    switch (self->endpoint) {
    case KVE_ADMIN_HEALTHZ:
        send_text(req, 200, "OK", "text/plain; charset=utf-8", H2O_STRLIT("ok\n"));
        break;
    case KVE_ADMIN_READYZ:
        serve_ready(self, req);
        break;
    case KVE_ADMIN_METRICS:
        serve_metrics(self, req);
        break;
    }
    return 0;
}

static void on_dispose(h2o_handler_t *_self)
{
    struct st_admin_handler_t *self = (void *)_self;
    if (self->token != NULL) {
        OPENSSL_cleanse(self->token, self->token_len);
        free(self->token);
    }
}

void kve_admin_register(h2o_pathconf_t *pathconf, kve_admin_endpoint_t endpoint, const kve_admin_conf_t *conf,
                        const kve_admin_sources_t *sources)
{
    struct st_admin_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    if (process_start_time == 0)
        process_start_time = time(NULL);
    self->super.on_req = on_req;
    self->super.dispose = on_dispose;
    self->endpoint = endpoint;
    if (conf->token != NULL && conf->token[0] != '\0') {
        self->token = kve_strdup(conf->token);
        self->token_len = strlen(conf->token);
    }
    self->ready_timeout_ms = conf->ready_timeout_ms;
    self->sources = *sources;
}

/* --- /metrics --- */

static void add_stats(kve_kv_stats_t *sum, const kve_kv_stats_t *st)
{
    sum->commands += st->commands, sum->error_replies += st->error_replies, sum->timeouts += st->timeouts;
    sum->late_replies += st->late_replies;
    sum->failures += st->failures, sum->reconnects += st->reconnects, sum->inflight += st->inflight;
}

/* one gauge per thread for its link `ro` (0: kv, 1: kv_ro; the read-only one only when the store has a user for
 * read-only tokens), and the links' counters added to `sum` */
static void render_links(kve_buf_t *buf, kve_server_t *server, int ro, kve_kv_stats_t *sum)
{
    static const char *const names[] = {"kvedge_kv_link_up", "kvedge_kv_read_only_link_up"};
    static const char *const helps[] = {"the thread's KV link", "the thread's KV link for read-only tokens"};
    size_t i, n = kve_server_num_threads(server);
    kve_kv_stats_t st;

    if (ro && (n == 0 || kve_server_get_thread(server, 0)->kv_ro == NULL))
        return;
    kve_buf_printf(buf, "# HELP %s 1 when %s is connected and ready.\n# TYPE %s gauge\n", names[ro], helps[ro], names[ro]);
    for (i = 0; i != n; ++i) {
        kve_thread_t *t = kve_server_get_thread(server, i);
        kve_kv_t *kv = ro ? t->kv_ro : t->kv;
        memset(&st, 0, sizeof(st));
        if (kv != NULL)
            kve_kv_get_stats(kv, &st);
        kve_buf_printf(buf, "%s{thread=\"%zu\"} %d\n", names[ro], i, st.state == KVE_KV_UP);
        add_stats(sum, &st);
    }
}

static void render_kv(kve_buf_t *buf, kve_server_t *server)
{
    kve_kv_stats_t sum = {0};

    render_links(buf, server, 0, &sum);
    render_links(buf, server, 1, &sum);
#define COUNTER(name, help, v)                                                                                                     \
    kve_buf_printf(buf, "# HELP kvedge_kv_" name " " help "\n# TYPE kvedge_kv_" name " counter\nkvedge_kv_" name " %llu\n",        \
                   (unsigned long long)(v))
    COUNTER("commands_total", "Commands sent to the KV store.", sum.commands);
    COUNTER("error_replies_total", "Error replies from the KV store.", sum.error_replies);
    COUNTER("timeouts_total", "Commands that timed out.", sum.timeouts);
    COUNTER("late_replies_total", "Replies that came after their command had timed out.", sum.late_replies);
    COUNTER("failures_total", "Commands failed by the link (down, circuit open, connection lost).", sum.failures);
    COUNTER("reconnects_total", "Reconnections after a lost link.", sum.reconnects);
#undef COUNTER
    kve_buf_printf(buf,
                   "# HELP kvedge_kv_inflight Commands awaiting a reply.\n# TYPE kvedge_kv_inflight gauge\n"
                   "kvedge_kv_inflight %llu\n",
                   (unsigned long long)sum.inflight);
}

static void render_process(kve_buf_t *buf, const kve_admin_sources_t *src)
{
    kve_buf_printf(buf,
                   "# HELP kvedge_build_info Version of kvedge.\n# TYPE kvedge_build_info gauge\n"
                   "kvedge_build_info{version=\"%s\"} 1\n"
                   "# HELP kvedge_process_start_time_seconds Start time of the process.\n"
                   "# TYPE kvedge_process_start_time_seconds gauge\nkvedge_process_start_time_seconds %lld\n"
                   "# HELP kvedge_connections Open client connections.\n# TYPE kvedge_connections gauge\n"
                   "kvedge_connections %zu\n",
                   KVE_VERSION, (long long)process_start_time, kve_server_num_connections(src->server));
    if (src->embedded != NULL)
        kve_buf_printf(buf,
                       "# HELP kvedge_embedded_redis_up 1 while the embedded redis-server process runs.\n"
                       "# TYPE kvedge_embedded_redis_up gauge\nkvedge_embedded_redis_up %d\n"
                       "# HELP kvedge_embedded_redis_restarts_total Restarts of the embedded redis-server.\n"
                       "# TYPE kvedge_embedded_redis_restarts_total counter\nkvedge_embedded_redis_restarts_total %llu\n",
                       kve_embedded_pid(src->embedded) != 0, (unsigned long long)kve_embedded_restarts(src->embedded));
}

static void render_metrics(const kve_admin_sources_t *src, kve_buf_t *buf)
{
    size_t i, n = kve_server_num_threads(src->server);
    kve_metrics_thread_t *threads[256];

    render_process(buf, src);
    for (i = 0; i != n && i != KVE_ARRAY_SIZE(threads); ++i)
        threads[i] = kve_server_get_thread(src->server, i)->metrics;
    kve_metrics_render_requests(buf, threads, i);
    render_kv(buf, src->server);
}
