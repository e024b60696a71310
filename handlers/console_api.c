/* SPDX-License-Identifier: MIT */
/*
 * The console's JSON APIs (see console_routes.h): the session, the overview (the metrics as JSON, summed from every
 * worker's counters, kve_metrics_threads_acquire, not parsed from the Prometheus text), the redacted configuration
 * and the check of a pasted configuration (both from kve_console_hooks_t).
 */
#include "handlers/console_history.h"
#include "handlers/console_routes.h"
#include "proxy/common.h"
#include "proxy/json.h"
#include "proxy/metrics.h"
#include "proxy/server.h"

#include <string.h>
#include <time.h>

static time_t start_time; /* set when the first console is registered (close to the process' start) */

static void send_buf(h2o_req_t *req, kve_buf_t *buf)
{
    kve_console_send_json(req, 200, buf->base, buf->len);
    kve_buf_dispose(buf);
}

static void send_session(h2o_req_t *req, const kve_console_session_t *session)
{
    kve_buf_t buf = KVE_BUF_INIT;
    uint64_t now = kve_now_ms(), left = session->expires_ms > now ? session->expires_ms - now : 0;
    kve_buf_printf(&buf, "{\"logged_in\":true,\"read_only\":%s,\"csrf\":\"%s\",\"expires\":%lld,\"expires_in\":%llu}",
                   session->read_only ? "true" : "false", session->csrf, (long long)(time(NULL) + (time_t)(left / 1000)),
                   (unsigned long long)(left / 1000));
    send_buf(req, &buf);
}

void kve_console_api_session(kve_console_call_t *call)
{
    send_session(call->req, call->session);
}

void kve_console_api_whoami(kve_console_call_t *call)
{
    if (call->session == NULL) {
        static const char out[] = "{\"logged_in\":false}";
        kve_console_send_json(call->req, 200, out, sizeof(out) - 1);
        return;
    }
    send_session(call->req, call->session);
}

/* --- overview --- */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void render_route(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t n, size_t r)
{
    uint64_t cls[5] = {0}, buckets[KVE_METRICS_NUM_BUCKETS + 1] = {0}, cache[KVE_METRICS_CACHE_NUM] = {0}, total = 0;
    size_t t, i;

    for (t = 0; t != n; ++t) {
        const kve_metrics_route_t *m = threads[t]->routes + r;
        for (i = 0; i != KVE_METRICS_MAX_STATUS - KVE_METRICS_MIN_STATUS + 1; ++i)
            cls[i / 100] += LOAD(m->status[i]);
        for (i = 0; i != KVE_METRICS_NUM_BUCKETS + 1; ++i)
            buckets[i] += LOAD(m->buckets[i]);
        for (i = 0; i != KVE_METRICS_CACHE_NUM; ++i)
            cache[i] += LOAD(m->cache[i]);
    }
    for (i = 0; i != 5; ++i)
        total += cls[i];
    kve_buf_printf(buf, "{\"name\":");
    kve_json_string(buf, kve_metrics_route_name(r), strlen(kve_metrics_route_name(r)));
    kve_buf_printf(buf, ",\"requests\":%llu,\"status\":{", (unsigned long long)total);
    for (i = 0; i != 5; ++i)
        kve_buf_printf(buf, "%s\"%zuxx\":%llu", i ? "," : "", i + 1, (unsigned long long)cls[i]);
    double p50 = kve_console_quantile_ms(buckets, 0.5), p99 = kve_console_quantile_ms(buckets, 0.99);
    if (p50 < 0)
        kve_buf_printf(buf, "},\"p50_ms\":null,\"p99_ms\":null");
    else
        kve_buf_printf(buf, "},\"p50_ms\":%.3f,\"p99_ms\":%.3f", p50, p99);
    if (kve_metrics_route_cached(r))
        kve_buf_printf(
            buf, ",\"cache\":{\"hits\":%llu,\"misses\":%llu,\"stale\":%llu,\"bypass\":%llu,\"stored\":%llu,\"stored_bytes\":%llu}",
            (unsigned long long)cache[KVE_METRICS_CACHE_HIT], (unsigned long long)cache[KVE_METRICS_CACHE_MISS],
            (unsigned long long)cache[KVE_METRICS_CACHE_STALE], (unsigned long long)cache[KVE_METRICS_CACHE_BYPASS],
            (unsigned long long)cache[KVE_METRICS_CACHE_STORED], (unsigned long long)cache[KVE_METRICS_CACHE_STORED_BYTES]);
    kve_buf_putc(buf, '}');
}

/* the session events of session route `r` summed over `threads` (handlers/session_metrics.h counts them) */
static void render_session_route(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t n, size_t r)
{
    kve_buf_printf(buf, "{\"route\":");
    kve_json_string(buf, kve_metrics_route_name(r), strlen(kve_metrics_route_name(r)));
    for (size_t e = 0; e != KVE_METRICS_SESSION_NUM; ++e) {
        uint64_t sum = 0;
        for (size_t t = 0; t != n; ++t)
            sum += LOAD(threads[t]->routes[r].session[e]);
        kve_buf_printf(buf, ",\"%s\":%llu", kve_metrics_session_events[e], (unsigned long long)sum);
    }
    kve_buf_putc(buf, '}');
}

/* "sessions": one entry per session route (the middleware counts events, not live sessions: see docs/console.md) */
static void render_sessions(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t n)
{
    int first = 1;
    kve_buf_printf(buf, ",\"sessions\":[");
    for (size_t r = 0; r != kve_metrics_num_routes(); ++r) {
        if (!kve_metrics_route_session(r))
            continue;
        if (!first)
            kve_buf_putc(buf, ',');
        first = 0;
        render_session_route(buf, threads, n, r);
    }
    kve_buf_putc(buf, ']');
}

static void render_requests(kve_buf_t *buf)
{
    kve_metrics_thread_t *threads[256];
    size_t n = kve_metrics_threads_acquire(threads, KVE_ARRAY_SIZE(threads));
    int64_t open = 0;

    kve_buf_printf(buf, "\"routes\":[");
    for (size_t r = 0; r != kve_metrics_num_routes(); ++r) {
        if (r != 0)
            kve_buf_putc(buf, ',');
        render_route(buf, threads, n, r);
    }
    kve_buf_putc(buf, ']');
    render_sessions(buf, threads, n);
    for (size_t t = 0; t != n; ++t)
        open += LOAD(threads[t]->open_streams);
    kve_metrics_threads_release();
    kve_buf_printf(buf, ",\"open_streams\":%lld", (long long)open);
}

static const char *state_name(int state)
{
    return state == KVE_KV_UP ? "up" : state == KVE_KV_CONNECTING ? "connecting" : "down";
}

/* every store's links per thread (the counters blocks outlive the links: see admin.c's render_links) */
static void render_stores(kve_buf_t *buf, kve_server_t *server)
{
    const kve_thread_t *t0 = kve_server_get_thread(server, 0);
    size_t nstores = __atomic_load_n(&t0->num_stores, __ATOMIC_ACQUIRE), nthreads = kve_server_num_threads(server);

    kve_buf_printf(buf, "\"stores\":[");
    for (size_t id = 0; id != nstores; ++id) {
        kve_buf_printf(buf, "%s{\"name\":", id ? "," : "");
        kve_json_string(buf, t0->stores[id].name, strlen(t0->stores[id].name));
        kve_buf_printf(buf, ",\"links\":[");
        for (size_t i = 0; i != nthreads; ++i) {
            const kve_thread_t *t = kve_server_get_thread(server, i);
            kve_kv_stats_t st = {0};
            if (id < __atomic_load_n(&t->num_stores, __ATOMIC_ACQUIRE))
                kve_kv_stats_read(&t->stores[id].rw_stats, &st);
            kve_buf_printf(buf, "%s{\"thread\":%zu,\"state\":\"%s\",\"inflight\":%llu,\"commands\":%llu,\"failures\":%llu}",
                           i ? "," : "", i, state_name(st.state), (unsigned long long)st.inflight, (unsigned long long)st.commands,
                           (unsigned long long)st.failures);
        }
        kve_buf_printf(buf, "]}");
    }
    kve_buf_putc(buf, ']');
}

void kve_console_api_overview(kve_console_call_t *call)
{
    kve_buf_t buf = KVE_BUF_INIT;
    kve_server_t *server = call->console->sources.server;

    kve_buf_printf(&buf, "{\"version\":\"%s\",\"start_time\":%lld,\"now\":%lld,\"connections\":%zu,\"console_sessions\":%zu,",
                   KVE_VERSION, (long long)start_time, (long long)time(NULL), kve_server_num_connections(server),
                   kve_console_session_count());
    render_requests(&buf);
    kve_buf_putc(&buf, ',');
    render_stores(&buf, server);
    kve_buf_putc(&buf, '}');
    send_buf(call->req, &buf);
}

/* --- configuration --- */

void kve_console_api_config(kve_console_call_t *call)
{
    const char *json = call->console->hooks.config_json != NULL ? call->console->hooks.config_json : "{}";
    kve_console_send_json(call->req, 200, json, strlen(json));
}

void kve_console_api_check(kve_console_call_t *call)
{
    h2o_req_t *req = call->req;
    kve_buf_t buf = KVE_BUF_INIT;
    char *text;

    if (call->console->hooks.check == NULL) {
        kve_console_send_error(req, 501, "no check");
        return;
    }
    text = kve_strndup(req->entity.base != NULL ? req->entity.base : "", req->entity.len);
    if (strlen(text) != req->entity.len) {
        free(text);
        kve_console_send_error(req, 400, "the configuration holds a NUL byte");
        return;
    }
    call->console->hooks.check(call->console->hooks.ctx, text, req->entity.len, &buf);
    free(text);
    send_buf(req, &buf);
}

void kve_console_api_init(void)
{
    if (start_time == 0)
        start_time = time(NULL);
}
