/* SPDX-License-Identifier: MIT */
/* Admin endpoints (see admin.h): authentication, /healthz, /metrics; /readyz is readyz.c's. */
#include "handlers/admin.h"
#include "handlers/bearer.h"
#include "handlers/readyz.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/kv_replicas.h"
#include "proxy/process_metrics.h"
#include "proxy/stores.h"

#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct st_admin_handler_t {
    h2o_handler_t super;
    kve_admin_endpoint_t endpoint;
    char *token;
    size_t token_len;
    uint64_t ready_timeout_ms;
    kve_admin_sources_t sources;
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
        kve_readyz_serve(req, self->ready_timeout_ms);
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
    sum->pipelines += st->pipelines, sum->pipeline_commands += st->pipeline_commands, sum->pipeline_errors += st->pipeline_errors;
    sum->bytes_sent += st->bytes_sent, sum->bytes_received += st->bytes_received, sum->retries += st->retries;
    sum->script_fallbacks += st->script_fallbacks;
    sum->not_acknowledged += st->not_acknowledged;
    sum->redirects += st->redirects, sum->slot_map_refreshes += st->slot_map_refreshes;
    for (size_t i = 0; i != KVE_KV_PIPELINE_BUCKETS; ++i)
        sum->pipeline_sizes[i] += st->pipeline_sizes[i];
}

/*
 * The counters of store `id`'s links on every thread (NULL while the thread has none); `ro`: its read-only links
 * (NULL when the store has none). These blocks belong to the stores set and outlive the links: a link its thread is
 * destroying is never touched here.
 */
static size_t store_links(kve_server_t *server, size_t id, int ro, const kve_kv_stats_t **out, size_t max)
{
    size_t i, n = kve_server_num_threads(server);
    for (i = 0; i != n && i != max; ++i) {
        const kve_thread_t *t = kve_server_get_thread(server, i);
        const kve_thread_store_t *s = id < __atomic_load_n(&t->num_stores, __ATOMIC_ACQUIRE) ? t->stores + id : NULL;
        out[i] = s == NULL || (ro && !s->has_ro) ? NULL : ro ? &s->ro_stats : &s->rw_stats;
    }
    return i;
}

/* the stores' names and kinds, from thread 0 (every thread has the same stores); 0 before the threads started */
static size_t store_names(kve_server_t *server, const char **names, int *rest, int *cluster, size_t max)
{
    const kve_thread_t *t = kve_server_get_thread(server, 0);
    size_t i, n = __atomic_load_n(&t->num_stores, __ATOMIC_ACQUIRE); /* set last by the thread's start hook */
    for (i = 0; i != n && i != max; ++i)
        names[i] = t->stores[i].name, rest[i] = t->stores[i].rest, cluster[i] = t->stores[i].cluster;
    return i;
}

/* one gauge per store and thread for its links (`ro`: the read-only ones, for the stores that have them), and the
 * links' counters added to sums[store] */
static void render_links(kve_buf_t *buf, kve_server_t *server, const char **names, size_t nstores, int ro, kve_kv_stats_t *sums)
{
    static const char *const metric[] = {"kvedge_kv_link_up", "kvedge_kv_read_only_link_up"};
    static const char *const help[] = {"the thread's link to the store", "the thread's link to the store for read-only tokens"};
    const kve_kv_stats_t *links[256];
    kve_kv_stats_t st;
    int header = 0;

    for (size_t id = 0; id != nstores; ++id) {
        size_t n = store_links(server, id, ro, links, KVE_ARRAY_SIZE(links));
        if (ro && (n == 0 || links[0] == NULL)) /* the store has no read-only user */
            continue;
        if (!header++)
            kve_buf_printf(buf, "# HELP %s 1 when %s is connected and ready.\n# TYPE %s gauge\n", metric[ro], help[ro], metric[ro]);
        for (size_t i = 0; i != n; ++i) {
            memset(&st, 0, sizeof(st));
            if (links[i] != NULL)
                kve_kv_stats_read(links[i], &st);
            kve_buf_printf(buf, "%s{store=\"%s\",thread=\"%zu\"} %d\n", metric[ro], names[id], i, st.state == KVE_KV_UP);
            add_stats(sums + id, &st);
        }
    }
}

/* `only`: NULL for every store, else the stores whose only[id] is set */
static void render_counter_of(kve_buf_t *buf, const char *name, const char *help, const char **names, size_t nstores,
                              const kve_kv_stats_t *sums, size_t offset, const char *type, const int *only)
{
    kve_buf_printf(buf, "# HELP kvedge_kv_%s %s\n# TYPE kvedge_kv_%s %s\n", name, help, name, type);
    for (size_t id = 0; id != nstores; ++id)
        if (only == NULL || only[id])
            kve_buf_printf(buf, "kvedge_kv_%s{store=\"%s\"} %llu\n", name, names[id],
                           (unsigned long long)*(const uint64_t *)((const char *)(sums + id) + offset));
}

static void render_counter(kve_buf_t *buf, const char *name, const char *help, const char **names, size_t nstores,
                           const kve_kv_stats_t *sums, size_t offset, const char *type)
{
    render_counter_of(buf, name, help, names, nstores, sums, offset, type, NULL);
}

/* the Redis Cluster stores' redirections and slot maps (nothing when there is none) */
static void render_cluster(kve_buf_t *buf, const char **names, size_t nstores, const kve_kv_stats_t *sums, const int *cluster)
{
    size_t id;
    for (id = 0; id != nstores && !cluster[id]; ++id)
        ;
    if (id == nstores)
        return;
    render_counter_of(
        buf, "redirects_total",
        "Commands sent again after a cluster node redirected them (MOVED, ASK) or asked for a retry (TRYAGAIN, READONLY).", names,
        nstores, sums, offsetof(kve_kv_stats_t, redirects), "counter", cluster);
    render_counter_of(buf, "slot_map_refreshes_total",
                      "Slot maps read from the cluster (at start, after a redirection or a failure, and every 10 s).", names,
                      nstores, sums, offsetof(kve_kv_stats_t, slot_map_refreshes), "counter", cluster);
}

/* the KV REST stores' requests (pipelines): counters and a histogram of the commands each carried */
static void render_pipelines(kve_buf_t *buf, const char **names, size_t nstores, const kve_kv_stats_t *sums, const int *rest)
{
    size_t id, i;

    for (id = 0; id != nstores && !rest[id]; ++id)
        ;
    if (id == nstores)
        return;
#define COUNTER(name, help, field)                                                                                                 \
    render_counter_of(buf, name, help, names, nstores, sums, offsetof(kve_kv_stats_t, field), "counter", rest)
    COUNTER("pipelines_total", "Requests sent to a KV REST store (/pipeline, /multi-exec, path form; a retry counts).", pipelines);
    COUNTER("pipeline_errors_total", "Requests to a KV REST store that failed as a whole (network, HTTP status, bad body).",
            pipeline_errors);
    COUNTER("bytes_sent_total", "Request body bytes sent to a KV REST store.", bytes_sent);
    COUNTER("bytes_received_total", "Response body bytes received from a KV REST store.", bytes_received);
    COUNTER("retries_total", "Read commands sent again to a KV REST store after a network error.", retries);
#undef COUNTER
    kve_buf_printf(buf, "# HELP kvedge_kv_pipeline_commands Commands per request to a KV REST store.\n"
                        "# TYPE kvedge_kv_pipeline_commands histogram\n");
    for (id = 0; id != nstores; ++id) {
        uint64_t cum = 0;
        if (!rest[id])
            continue;
        for (i = 0; i != KVE_KV_PIPELINE_BUCKETS; ++i) {
            cum += sums[id].pipeline_sizes[i];
            if (i + 1 < KVE_KV_PIPELINE_BUCKETS)
                kve_buf_printf(buf, "kvedge_kv_pipeline_commands_bucket{store=\"%s\",le=\"%llu\"} %llu\n", names[id],
                               (unsigned long long)KVE_KV_PIPELINE_BUCKET(i), (unsigned long long)cum);
            else
                kve_buf_printf(buf, "kvedge_kv_pipeline_commands_bucket{store=\"%s\",le=\"+Inf\"} %llu\n", names[id],
                               (unsigned long long)cum);
        }
        kve_buf_printf(
            buf, "kvedge_kv_pipeline_commands_sum{store=\"%s\"} %llu\nkvedge_kv_pipeline_commands_count{store=\"%s\"} %llu\n",
            names[id], (unsigned long long)sums[id].pipeline_commands, names[id], (unsigned long long)sums[id].pipelines);
    }
}

/* one node's numbers summed over the threads: whether every thread's link to it is up, its reads, its fallbacks */
static void sum_node(kve_server_t *server, size_t id, size_t node, int *up, uint64_t *reads, uint64_t *fallbacks)
{
    size_t nthreads = kve_server_num_threads(server);

    *up = 1, *reads = 0, *fallbacks = 0;
    for (size_t i = 0; i != nthreads; ++i) {
        const kve_thread_t *t = kve_server_get_thread(server, i);
        const kve_thread_store_t *s = id < __atomic_load_n(&t->num_stores, __ATOMIC_ACQUIRE) ? t->stores + id : NULL;
        kve_kv_stats_t st = {0};
        if (s == NULL || s->nodes == NULL) {
            *up = 0;
            continue;
        }
        kve_kv_stats_read(node == 0 ? &s->rw_stats : &s->nodes[node].link, &st);
        *up &= st.state == KVE_KV_UP;
        *reads += __atomic_load_n(&s->nodes[node].reads, __ATOMIC_RELAXED);
        *fallbacks += __atomic_load_n(&s->nodes[node].fallbacks, __ATOMIC_RELAXED);
    }
}

/* the replicas topology: per node (the primary, each replica) whether every thread's link is up, the reads it
 * answered and, for a replica, the batches that went to the primary instead */
static void render_nodes(kve_buf_t *buf, kve_server_t *server, const char **names, size_t nstores)
{
    static const char *const metric[] = {"kvedge_kv_node_up", "kvedge_kv_node_reads_total", "kvedge_kv_replica_fallbacks_total"};
    static const char *const type[] = {"gauge", "counter", "counter"};
    static const char *const help[] = {
        "1 when every thread's link to the node (the store's primary or a replica) is up.", "Read-only commands the node answered.",
        "Batches sent to a replica that the primary answered (behind the sync token, not linked, loading, down)."};
    const kve_thread_t *t0 = kve_server_get_thread(server, 0);

    for (int k = 0; k != 3; ++k) {
        int header = 0;
        for (size_t id = 0; id != nstores; ++id) {
            for (size_t node = k == 2 ? 1 : 0; node < t0->stores[id].num_nodes; ++node) {
                const char *role = node == 0 ? "primary" : "replica", *name = t0->stores[id].node_names[node];
                uint64_t reads, fallbacks;
                int up;
                sum_node(server, id, node, &up, &reads, &fallbacks);
                if (!header++)
                    kve_buf_printf(buf, "# HELP %s %s\n# TYPE %s %s\n", metric[k], help[k], metric[k], type[k]);
                kve_buf_printf(buf, "%s{store=\"%s\",node=\"%s\",role=\"%s\"} %llu\n", metric[k], names[id], name, role,
                               k == 0 ? (unsigned long long)up : (unsigned long long)(k == 1 ? reads : fallbacks));
            }
        }
    }
}

static void render_kv(kve_buf_t *buf, kve_server_t *server)
{
    const char *names[KVE_STORES_MAX];
    kve_kv_stats_t sums[KVE_STORES_MAX] = {0};
    int rest[KVE_STORES_MAX] = {0}, cluster[KVE_STORES_MAX] = {0};
    size_t n = store_names(server, names, rest, cluster, KVE_ARRAY_SIZE(names));

    render_links(buf, server, names, n, 0, sums);
    render_links(buf, server, names, n, 1, sums);
#define COUNTER(name, help, field) render_counter(buf, name, help, names, n, sums, offsetof(kve_kv_stats_t, field), "counter")
    COUNTER("commands_total", "Commands sent to the store.", commands);
    COUNTER("error_replies_total", "Error replies from the store.", error_replies);
    COUNTER("timeouts_total", "Commands that timed out.", timeouts);
    COUNTER("late_replies_total", "Replies that came after their command had timed out.", late_replies);
    COUNTER("failures_total", "Commands failed by the link (down, circuit open, connection lost).", failures);
    COUNTER("reconnects_total", "Reconnections after a lost link.", reconnects);
    COUNTER("script_fallbacks_total", "Scripts sent again as EVAL after their EVALSHA was answered NOSCRIPT.", script_fallbacks);
    COUNTER("writes_not_acknowledged_total", "Requests whose writes fewer than min_replicas_ack replicas confirmed in time (503).",
            not_acknowledged);
#undef COUNTER
    render_counter(buf, "inflight", "Commands awaiting a reply.", names, n, sums, offsetof(kve_kv_stats_t, inflight), "gauge");
    render_pipelines(buf, names, n, sums, rest);
    render_cluster(buf, names, n, sums, cluster);
    render_nodes(buf, server, names, n);
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
    kve_metrics_thread_t *threads[256];
    size_t n;

    render_process(buf, src);
    kve_process_metrics_render(buf);
    /* every worker of every server (a reload runs two for a while) and what ended ones counted */
    n = kve_metrics_threads_acquire(threads, KVE_ARRAY_SIZE(threads));
    kve_metrics_render_requests(buf, threads, n);
    kve_metrics_render_streams(buf, threads, n);
    kve_metrics_render_cache(buf, threads, n);
    kve_metrics_render_session(buf, threads, n);
    kve_metrics_threads_release();
    render_kv(buf, src->server);
}
