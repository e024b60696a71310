/* SPDX-License-Identifier: MIT */
/* Route registry, per-thread request counters and their Prometheus rendering (see metrics.h). */
#include "proxy/metrics.h"
#include "proxy/common.h"

#include <pthread.h>
#include <stdio.h>

const uint64_t kve_metrics_bucket_us[KVE_METRICS_NUM_BUCKETS] = {500,    1000,   2500,   5000,    10000,   25000,   50000,
                                                                 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

static char *route_names[KVE_METRICS_MAX_ROUTES];
static uint8_t cached_routes[KVE_METRICS_MAX_ROUTES];
static uint8_t session_routes[KVE_METRICS_MAX_ROUTES];
static uint8_t proxied_routes[KVE_METRICS_MAX_ROUTES];

const char *const kve_metrics_upstream_kinds[KVE_METRICS_UPSTREAM_NUM] = {"connect", "timeout",      "reset",
                                                                          "tls",     "bad_response", "other"};
static size_t num_routes;

/*
 * Every worker's counters (of every server: a reload runs two for a while) and what the workers of servers that
 * ended counted, so that counters never go back across a reload. Taken by the renderer and by (de)registration only.
 */
static pthread_mutex_t threads_mutex = PTHREAD_MUTEX_INITIALIZER;
static kve_metrics_thread_t **live_threads;
static size_t num_live_threads;
static kve_metrics_thread_t retired;

_Static_assert(sizeof(kve_metrics_thread_t) % sizeof(uint64_t) == 0, "kve_metrics_thread_t is made of uint64_t counters");

/*
 * Routes are registered while configuring, on the main thread, which a reload does while workers render: a name is
 * written before the count that publishes it (release; readers acquire), and names live until the process ends.
 */
size_t kve_metrics_route_id(const char *name)
{
    size_t i, n = __atomic_load_n(&num_routes, __ATOMIC_ACQUIRE);
    for (i = 0; i != n; ++i)
        if (strcmp(route_names[i], name) == 0)
            return i;
    if (n == KVE_METRICS_MAX_ROUTES - 1) {
        if (__atomic_load_n(&route_names[n], __ATOMIC_ACQUIRE) == NULL)
            __atomic_store_n(&route_names[n], kve_strdup("other"), __ATOMIC_RELEASE);
        return n;
    }
    route_names[n] = kve_strdup(name);
    __atomic_store_n(&num_routes, n + 1, __ATOMIC_RELEASE);
    return n;
}

const char *kve_metrics_route_name(size_t id)
{
    const char *name = id < KVE_METRICS_MAX_ROUTES ? __atomic_load_n(&route_names[id], __ATOMIC_ACQUIRE) : NULL;
    return name != NULL ? name : "other";
}

size_t kve_metrics_num_routes(void)
{
    return __atomic_load_n(&route_names[KVE_METRICS_MAX_ROUTES - 1], __ATOMIC_ACQUIRE) != NULL
               ? KVE_METRICS_MAX_ROUTES
               : __atomic_load_n(&num_routes, __ATOMIC_ACQUIRE);
}

void kve_metrics_thread_attach(kve_metrics_thread_t *m)
{
    pthread_mutex_lock(&threads_mutex);
    live_threads = kve_realloc(live_threads, sizeof(*live_threads) * (num_live_threads + 1));
    live_threads[num_live_threads++] = m;
    pthread_mutex_unlock(&threads_mutex);
}

void kve_metrics_thread_detach(kve_metrics_thread_t *m)
{
    const uint64_t *from = (const uint64_t *)m;
    uint64_t *to = (uint64_t *)&retired;

    pthread_mutex_lock(&threads_mutex);
    for (size_t i = 0; i != num_live_threads; ++i) {
        if (live_threads[i] == m) {
            live_threads[i] = live_threads[--num_live_threads];
            for (size_t j = 0; j != sizeof(*m) / sizeof(uint64_t); ++j)
                __atomic_store_n(&to[j], to[j] + __atomic_load_n(&from[j], __ATOMIC_RELAXED), __ATOMIC_RELAXED);
            break;
        }
    }
    if (num_live_threads == 0) {
        free(live_threads);
        live_threads = NULL;
    }
    pthread_mutex_unlock(&threads_mutex);
}

size_t kve_metrics_threads_acquire(kve_metrics_thread_t **out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&threads_mutex);
    if (max != 0)
        out[n++] = &retired;
    for (size_t i = 0; i != num_live_threads && n != max; ++i)
        out[n++] = live_threads[i];
    return n;
}

void kve_metrics_threads_release(void)
{
    pthread_mutex_unlock(&threads_mutex);
}

void kve_metrics_reset_routes(void)
{
    size_t i;
    for (i = 0; i != KVE_METRICS_MAX_ROUTES; ++i) {
        free(route_names[i]);
        route_names[i] = NULL;
        cached_routes[i] = 0;
        session_routes[i] = 0;
        proxied_routes[i] = 0;
    }
    num_routes = 0;
    memset(&retired, 0, sizeof(retired));
}

#define BUMP(field, n) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

void kve_metrics_observe(kve_metrics_thread_t *m, size_t route, int status, uint64_t duration_us)
{
    kve_metrics_route_t *r = &m->routes[KVE_MIN(route, (size_t)KVE_METRICS_MAX_ROUTES - 1)];
    size_t b = 0;

    if (status < KVE_METRICS_MIN_STATUS || status > KVE_METRICS_MAX_STATUS)
        status = 599; /* h2o never produces these; keep them visible rather than dropping */
    BUMP(r->status[status - KVE_METRICS_MIN_STATUS], 1);
    while (b != KVE_METRICS_NUM_BUCKETS && duration_us > kve_metrics_bucket_us[b])
        ++b;
    BUMP(r->buckets[b], 1);
    BUMP(r->duration_sum_us, duration_us);
}

/* `s` as a label value of the text format: backslash, double quote and newline escaped; NUL-terminated in `out` */
static const char *label_value(kve_buf_t *out, const char *s)
{
    out->len = 0;
    for (; *s != '\0'; ++s) {
        if (*s == '\\' || *s == '"') {
            kve_buf_putc(out, '\\');
            kve_buf_putc(out, *s);
        } else if (*s == '\n') {
            kve_buf_append(out, "\\n", 2);
        } else {
            kve_buf_putc(out, *s);
        }
    }
    kve_buf_putc(out, '\0');
    return out->base;
}

/* `name` is the route's label value, already escaped */
static void render_statuses(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads, size_t route,
                            const char *name)
{
    size_t s, t;
    for (s = 0; s != KVE_METRICS_MAX_STATUS - KVE_METRICS_MIN_STATUS + 1; ++s) {
        uint64_t n = 0;
        for (t = 0; t != num_threads; ++t)
            n += LOAD(threads[t]->routes[route].status[s]);
        if (n != 0)
            kve_buf_printf(buf, "kvedge_http_requests_total{route=\"%s\",status=\"%zu\"} %llu\n", name, s + KVE_METRICS_MIN_STATUS,
                           (unsigned long long)n);
    }
}

static void render_histogram(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads, size_t route,
                             const char *name)
{
    uint64_t cumulative = 0, sum = 0;
    size_t b, t;

    for (b = 0; b != KVE_METRICS_NUM_BUCKETS + 1; ++b) {
        for (t = 0; t != num_threads; ++t)
            cumulative += LOAD(threads[t]->routes[route].buckets[b]);
        if (b == KVE_METRICS_NUM_BUCKETS)
            kve_buf_printf(buf, "kvedge_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name,
                           (unsigned long long)cumulative);
        else
            kve_buf_printf(buf, "kvedge_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", name,
                           (double)kve_metrics_bucket_us[b] / 1e6, (unsigned long long)cumulative);
    }
    for (t = 0; t != num_threads; ++t)
        sum += LOAD(threads[t]->routes[route].duration_sum_us);
    kve_buf_printf(buf, "kvedge_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", name, (double)sum / 1e6);
    kve_buf_printf(buf, "kvedge_http_request_duration_seconds_count{route=\"%s\"} %llu\n", name, (unsigned long long)cumulative);
}

void kve_metrics_render_requests(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads)
{
    size_t r, n = kve_metrics_num_routes();
    kve_buf_t label = KVE_BUF_INIT;

    kve_buf_printf(buf, "# HELP kvedge_http_requests_total HTTP responses by route and status.\n"
                        "# TYPE kvedge_http_requests_total counter\n");
    for (r = 0; r != n; ++r)
        render_statuses(buf, threads, num_threads, r, label_value(&label, kve_metrics_route_name(r)));
    kve_buf_printf(buf, "# HELP kvedge_http_request_duration_seconds Time from request start to response end.\n"
                        "# TYPE kvedge_http_request_duration_seconds histogram\n");
    for (r = 0; r != n; ++r)
        render_histogram(buf, threads, num_threads, r, label_value(&label, kve_metrics_route_name(r)));
    kve_buf_dispose(&label);
}

/* --- the HTTP cache --- */

static uint64_t cache_sum(kve_metrics_thread_t *const *threads, size_t num_threads, size_t route, kve_metrics_cache_t c)
{
    uint64_t n = 0;
    for (size_t t = 0; t != num_threads; ++t)
        n += LOAD(threads[t]->routes[route].cache[c]);
    return n;
}

void kve_metrics_mark_cached(size_t route)
{
    __atomic_store_n(&cached_routes[KVE_MIN(route, (size_t)KVE_METRICS_MAX_ROUTES - 1)], 1, __ATOMIC_RELAXED);
}

int kve_metrics_route_cached(size_t route)
{
    return route < KVE_METRICS_MAX_ROUTES && __atomic_load_n(&cached_routes[route], __ATOMIC_RELAXED);
}

/* whether `route` is cached (routes without `cache:` are left out) */
static int cache_route_used(kve_metrics_thread_t *const *threads, size_t num_threads, size_t route)
{
    return __atomic_load_n(&cached_routes[route], __ATOMIC_RELAXED);
}

static void render_cache_family(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads, const char *name,
                                const char *help, kve_metrics_cache_t c)
{
    kve_buf_t label = KVE_BUF_INIT;
    kve_buf_printf(buf, "# HELP kvedge_cache_%s %s\n# TYPE kvedge_cache_%s counter\n", name, help, name);
    for (size_t r = 0; r != kve_metrics_num_routes(); ++r)
        if (cache_route_used(threads, num_threads, r))
            kve_buf_printf(buf, "kvedge_cache_%s{route=\"%s\"} %llu\n", name, label_value(&label, kve_metrics_route_name(r)),
                           (unsigned long long)cache_sum(threads, num_threads, r, c));
    kve_buf_dispose(&label);
}

void kve_metrics_render_cache(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads)
{
    static const struct {
        const char *status;
        kve_metrics_cache_t c;
    } statuses[] = {{"hit", KVE_METRICS_CACHE_HIT},
                    {"miss", KVE_METRICS_CACHE_MISS},
                    {"stale", KVE_METRICS_CACHE_STALE},
                    {"revalidated", KVE_METRICS_CACHE_REVALIDATED},
                    {"bypass", KVE_METRICS_CACHE_BYPASS}};
    kve_buf_t label = KVE_BUF_INIT;
    uint64_t tag_purged = 0;

    kve_buf_printf(buf, "# HELP kvedge_cache_requests_total Requests on cached routes by cache outcome.\n"
                        "# TYPE kvedge_cache_requests_total counter\n");
    for (size_t r = 0; r != kve_metrics_num_routes(); ++r) {
        tag_purged += cache_sum(threads, num_threads, r, KVE_METRICS_CACHE_TAG_PURGED);
        if (!cache_route_used(threads, num_threads, r))
            continue;
        label_value(&label, kve_metrics_route_name(r));
        for (size_t i = 0; i != sizeof(statuses) / sizeof(statuses[0]); ++i)
            kve_buf_printf(buf, "kvedge_cache_requests_total{route=\"%s\",status=\"%s\"} %llu\n", label.base, statuses[i].status,
                           (unsigned long long)cache_sum(threads, num_threads, r, statuses[i].c));
    }
    kve_buf_dispose(&label);
    render_cache_family(buf, threads, num_threads, "coalesced_total", "Requests answered by another request's fetch.",
                        KVE_METRICS_CACHE_COALESCED);
    render_cache_family(buf, threads, num_threads, "stored_objects_total", "Objects written to the store.",
                        KVE_METRICS_CACHE_STORED);
    render_cache_family(buf, threads, num_threads, "stored_bytes_total", "Body bytes of the objects written to the store.",
                        KVE_METRICS_CACHE_STORED_BYTES);
    render_cache_family(buf, threads, num_threads, "store_errors_total", "Lookups and writes the store failed.",
                        KVE_METRICS_CACHE_STORE_ERRORS);
    render_cache_family(buf, threads, num_threads, "purged_objects_total", "Objects purged by URL or route purges.",
                        KVE_METRICS_CACHE_PURGED);
    kve_buf_printf(buf,
                   "# HELP kvedge_cache_tag_purged_objects_total Objects purged by tag purges (all routes).\n"
                   "# TYPE kvedge_cache_tag_purged_objects_total counter\nkvedge_cache_tag_purged_objects_total %llu\n",
                   (unsigned long long)tag_purged);
}

/* --- sessions --- */

void kve_metrics_mark_session(size_t route)
{
    __atomic_store_n(&session_routes[KVE_MIN(route, (size_t)KVE_METRICS_MAX_ROUTES - 1)], 1, __ATOMIC_RELAXED);
}

int kve_metrics_route_session(size_t route)
{
    return route < KVE_METRICS_MAX_ROUTES && __atomic_load_n(&session_routes[route], __ATOMIC_RELAXED);
}

const char *const kve_metrics_session_events[KVE_METRICS_SESSION_NUM] = {
    "created", "loaded",      "rotated",        "expired",         "destroyed",
    "refused", "unavailable", "cookie_invalid", "command_invalid", "csrf_refused"};

void kve_metrics_render_session(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads)
{
    const char *const *events = kve_metrics_session_events;
    kve_buf_t label = KVE_BUF_INIT;

    kve_buf_printf(buf, "# HELP kvedge_session_total Session events by route: created, loaded, rotated, expired, destroyed, "
                        "refused, unavailable, cookie_invalid, command_invalid, csrf_refused.\n"
                        "# TYPE kvedge_session_total counter\n");
    for (size_t r = 0; r != kve_metrics_num_routes(); ++r) {
        if (!__atomic_load_n(&session_routes[r], __ATOMIC_RELAXED))
            continue;
        label_value(&label, kve_metrics_route_name(r));
        for (size_t e = 0; e != KVE_METRICS_SESSION_NUM; ++e) {
            uint64_t n = 0;
            for (size_t t = 0; t != num_threads; ++t)
                n += LOAD(threads[t]->routes[r].session[e]);
            kve_buf_printf(buf, "kvedge_session_total{route=\"%s\",event=\"%s\"} %llu\n", label.base, events[e],
                           (unsigned long long)n);
        }
    }
    kve_buf_dispose(&label);
}

/* --- open streams and upstream errors --- */

void kve_metrics_mark_proxied(size_t route)
{
    proxied_routes[KVE_MIN(route, (size_t)KVE_METRICS_MAX_ROUTES - 1)] = 1;
}

void kve_metrics_render_streams(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads)
{
    kve_buf_t label = KVE_BUF_INIT;
    int64_t open = 0;

    for (size_t t = 0; t != num_threads; ++t)
        open += LOAD(threads[t]->open_streams);
    kve_buf_printf(buf,
                   "# HELP kvedge_open_streams Requests being processed (HTTP/1 requests and HTTP/2 streams, SSE streams "
                   "included).\n# TYPE kvedge_open_streams gauge\nkvedge_open_streams %lld\n",
                   (long long)KVE_MAX(open, (int64_t)0));
    kve_buf_printf(buf, "# HELP kvedge_upstream_errors_total Proxied requests whose upstream failed, by route and kind: connect, "
                        "timeout, reset, tls, bad_response, other.\n# TYPE kvedge_upstream_errors_total counter\n");
    for (size_t r = 0; r != kve_metrics_num_routes(); ++r) {
        if (!proxied_routes[r])
            continue;
        label_value(&label, kve_metrics_route_name(r));
        for (size_t k = 0; k != KVE_METRICS_UPSTREAM_NUM; ++k) {
            uint64_t n = 0;
            for (size_t t = 0; t != num_threads; ++t)
                n += LOAD(threads[t]->routes[r].upstream[k]);
            kve_buf_printf(buf, "kvedge_upstream_errors_total{route=\"%s\",kind=\"%s\"} %llu\n", label.base,
                           kve_metrics_upstream_kinds[k], (unsigned long long)n);
        }
    }
    kve_buf_dispose(&label);
}
