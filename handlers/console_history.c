/* SPDX-License-Identifier: MIT */
/* The overview's history: a per-process ring of counter samples, sampled by a timer on one worker (console_history.h). */
#include "handlers/console_history.h"
#include "proxy/common.h"
#include "proxy/json.h"
#include "proxy/metrics.h"
#include "proxy/server.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define NUM_SAMPLES (KVE_CONSOLE_HISTORY_POINTS + 1) /* a point is the difference of two samples */

typedef struct st_sample_t {
    uint64_t seq;     /* 1, 2, ...: the page asks for the points after the last one it has */
    uint64_t mono_ms; /* kve_now_ms(): rates divide by the real time between two samples */
    int64_t unix_ms;
    uint64_t requests, status_4xx, status_5xx;
    uint64_t buckets[KVE_METRICS_NUM_BUCKETS + 1];
    uint64_t cache_served, cache_lookups; /* hit + stale; hit + stale + miss + bypass */
    uint64_t sessions_loaded, sessions_created;
    uint64_t route_requests[KVE_METRICS_MAX_ROUTES]; /* per route id, the console's own included */
} sample_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sample_t ring[NUM_SAMPLES];
static size_t ring_len;   /* samples held (up to NUM_SAMPLES) */
static size_t ring_next;  /* where the next sample goes */
static uint64_t last_seq; /* of the newest sample */

double kve_console_quantile_ms(const uint64_t *buckets, double q)
{
    uint64_t total = 0, cum = 0;
    size_t i;
    for (i = 0; i != KVE_METRICS_NUM_BUCKETS + 1; ++i)
        total += buckets[i];
    if (total == 0)
        return -1;
    double rank = q * (double)total;
    for (i = 0; i != KVE_METRICS_NUM_BUCKETS; ++i) {
        if (buckets[i] != 0 && (double)(cum + buckets[i]) >= rank) {
            double lo = i == 0 ? 0 : (double)kve_metrics_bucket_us[i - 1], hi = (double)kve_metrics_bucket_us[i];
            return (lo + (hi - lo) * (rank - (double)cum) / (double)buckets[i]) / 1000;
        }
        cum += buckets[i];
    }
    return (double)kve_metrics_bucket_us[KVE_METRICS_NUM_BUCKETS - 1] / 1000; /* in +Inf: the last bound */
}

/* the responses of route block `m` */
static uint64_t route_requests(const kve_metrics_route_t *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i != KVE_METRICS_MAX_STATUS - KVE_METRICS_MIN_STATUS + 1; ++i)
        n += LOAD(m->status[i]);
    return n;
}

/* adds route block `m` (of one thread) to the totals of `s` */
static void add_route(sample_t *s, const kve_metrics_route_t *m)
{
    size_t i;
    for (i = 0; i != KVE_METRICS_MAX_STATUS - KVE_METRICS_MIN_STATUS + 1; ++i) {
        uint64_t n = LOAD(m->status[i]);
        s->requests += n;
        if (i / 100 == 3)
            s->status_4xx += n;
        else if (i / 100 == 4)
            s->status_5xx += n;
    }
    for (i = 0; i != KVE_METRICS_NUM_BUCKETS + 1; ++i)
        s->buckets[i] += LOAD(m->buckets[i]);
    uint64_t served = LOAD(m->cache[KVE_METRICS_CACHE_HIT]) + LOAD(m->cache[KVE_METRICS_CACHE_STALE]);
    s->cache_served += served;
    s->cache_lookups += served + LOAD(m->cache[KVE_METRICS_CACHE_MISS]) + LOAD(m->cache[KVE_METRICS_CACHE_BYPASS]);
    s->sessions_loaded += LOAD(m->session[KVE_METRICS_SESSION_LOADED]);
    s->sessions_created += LOAD(m->session[KVE_METRICS_SESSION_CREATED]);
}

/* the summed counters of every route but the console's own ("admin"), and each route's requests */
static void take(sample_t *s)
{
    kve_metrics_thread_t *threads[256];
    size_t n = kve_metrics_threads_acquire(threads, KVE_ARRAY_SIZE(threads));
    for (size_t r = 0; r != kve_metrics_num_routes() && r != KVE_METRICS_MAX_ROUTES; ++r) {
        int own = strcmp(kve_metrics_route_name(r), "admin") == 0;
        for (size_t t = 0; t != n; ++t) {
            s->route_requests[r] += route_requests(threads[t]->routes + r);
            if (!own)
                add_route(s, threads[t]->routes + r);
        }
    }
    kve_metrics_threads_release();
}

void kve_console_history_sample(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    kve_console_history__sample_at(kve_now_ms(), (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void kve_console_history__sample_at(uint64_t mono_ms, int64_t unix_ms)
{
    sample_t s = {.mono_ms = mono_ms, .unix_ms = unix_ms};

    pthread_mutex_lock(&lock);
    /* two timers during a reload (one per generation): one sample per interval */
    if (ring_len != 0 &&
        s.mono_ms - ring[(ring_next + NUM_SAMPLES - 1) % NUM_SAMPLES].mono_ms < KVE_CONSOLE_HISTORY_INTERVAL_MS * 3 / 4)
        goto Exit;
    take(&s);
    s.seq = ++last_seq;
    ring[ring_next] = s;
    ring_next = (ring_next + 1) % NUM_SAMPLES;
    if (ring_len != NUM_SAMPLES)
        ++ring_len;
Exit:
    pthread_mutex_unlock(&lock);
}

static uint64_t delta(uint64_t after, uint64_t before)
{
    return after > before ? after - before : 0;
}

static void render_ms(kve_buf_t *buf, const char *name, double ms)
{
    if (ms < 0)
        kve_buf_printf(buf, ",\"%s\":null", name);
    else
        kve_buf_printf(buf, ",\"%s\":%.3f", name, ms);
}

/* the point between samples `a` and `b` (b newer) */
static void render_point(kve_buf_t *buf, const sample_t *a, const sample_t *b, size_t num_routes)
{
    double dt = (double)(b->mono_ms - a->mono_ms) / 1000;
    uint64_t buckets[KVE_METRICS_NUM_BUCKETS + 1], lookups = delta(b->cache_lookups, a->cache_lookups);

    for (size_t i = 0; i != KVE_METRICS_NUM_BUCKETS + 1; ++i)
        buckets[i] = delta(b->buckets[i], a->buckets[i]);
    kve_buf_printf(buf, "{\"seq\":%llu,\"t\":%.3f,\"rps\":%.3f,\"rps_4xx\":%.3f,\"rps_5xx\":%.3f", (unsigned long long)b->seq,
                   (double)b->unix_ms / 1000, (double)delta(b->requests, a->requests) / dt,
                   (double)delta(b->status_4xx, a->status_4xx) / dt, (double)delta(b->status_5xx, a->status_5xx) / dt);
    render_ms(buf, "p50_ms", kve_console_quantile_ms(buckets, 0.5));
    render_ms(buf, "p99_ms", kve_console_quantile_ms(buckets, 0.99));
    if (lookups == 0)
        kve_buf_printf(buf, ",\"hit_ratio\":null");
    else
        kve_buf_printf(buf, ",\"hit_ratio\":%.4f", (double)delta(b->cache_served, a->cache_served) / (double)lookups);
    kve_buf_printf(buf, ",\"sessions_loaded_s\":%.3f,\"sessions_created_s\":%.3f,\"route_rps\":[",
                   (double)delta(b->sessions_loaded, a->sessions_loaded) / dt,
                   (double)delta(b->sessions_created, a->sessions_created) / dt);
    for (size_t r = 0; r != num_routes; ++r)
        kve_buf_printf(buf, "%s%.3f", r ? "," : "", (double)delta(b->route_requests[r], a->route_requests[r]) / dt);
    kve_buf_printf(buf, "]}");
}

/* "routes":[names], the order of every point's route_rps */
static void render_route_names(kve_buf_t *buf, size_t num_routes)
{
    kve_buf_printf(buf, ",\"routes\":[");
    for (size_t r = 0; r != num_routes; ++r) {
        if (r != 0)
            kve_buf_putc(buf, ',');
        kve_json_string(buf, kve_metrics_route_name(r), strlen(kve_metrics_route_name(r)));
    }
    kve_buf_putc(buf, ']');
}

void kve_console_history_render(kve_buf_t *buf, uint64_t after)
{
    size_t num_routes = KVE_MIN(kve_metrics_num_routes(), (size_t)KVE_METRICS_MAX_ROUTES);
    int first = 1;

    pthread_mutex_lock(&lock);
    kve_buf_printf(buf, "{\"interval_ms\":%d,\"capacity\":%d,\"last\":%llu", KVE_CONSOLE_HISTORY_INTERVAL_MS,
                   KVE_CONSOLE_HISTORY_POINTS, (unsigned long long)last_seq);
    render_route_names(buf, num_routes);
    kve_buf_printf(buf, ",\"points\":[");
    size_t oldest = (ring_next + NUM_SAMPLES - ring_len) % NUM_SAMPLES;
    for (size_t i = 1; i < ring_len; ++i) {
        const sample_t *a = ring + (oldest + i - 1) % NUM_SAMPLES, *b = ring + (oldest + i) % NUM_SAMPLES;
        if (b->seq <= after || b->mono_ms <= a->mono_ms)
            continue;
        if (!first)
            kve_buf_putc(buf, ',');
        first = 0;
        render_point(buf, a, b, num_routes);
    }
    kve_buf_printf(buf, "]}");
    pthread_mutex_unlock(&lock);
}

void kve_console_history_reset(void)
{
    pthread_mutex_lock(&lock);
    memset(ring, 0, sizeof(ring));
    ring_len = ring_next = 0;
    last_seq = 0;
    pthread_mutex_unlock(&lock);
}

/* --- the sampler: a timer on the first worker of a server serving the console --- */

typedef struct st_sampler_t {
    h2o_loop_t *loop;
    h2o_timeout_t timeout;
    h2o_timeout_entry_t entry;
} sampler_t;

typedef struct st_history_handler_t {
    h2o_handler_t super;
    kve_server_t *server;
    sampler_t *sampler; /* on the server's first worker, between on_context_init and on_context_dispose */
} history_handler_t;

static void on_tick(h2o_timeout_entry_t *entry)
{
    sampler_t *s = H2O_STRUCT_FROM_MEMBER(sampler_t, entry, entry);
    kve_console_history_sample();
    h2o_timeout_link(s->loop, &s->timeout, &s->entry);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    return -1; /* never reached: the console's handler before this one answers every request */
}

static void on_context_init(h2o_handler_t *_self, h2o_context_t *ctx)
{
    history_handler_t *self = (void *)_self;
    sampler_t *s;

    /* only the first worker (not another worker, nor a throwaway context the server makes while starting) */
    if (ctx != &kve_server_get_thread(self->server, 0)->ctx || self->sampler != NULL)
        return;
    s = kve_zalloc(sizeof(*s));
    s->loop = ctx->loop;
    h2o_timeout_init(s->loop, &s->timeout, KVE_CONSOLE_HISTORY_INTERVAL_MS);
    s->entry.cb = on_tick;
    h2o_timeout_link(s->loop, &s->timeout, &s->entry);
    self->sampler = s;
    kve_console_history_sample();
}

static void on_context_dispose(h2o_handler_t *_self, h2o_context_t *ctx)
{
    history_handler_t *self = (void *)_self;
    sampler_t *s = self->sampler;

    if (s == NULL || s->loop != ctx->loop)
        return;
    if (h2o_timeout_is_linked(&s->entry))
        h2o_timeout_unlink(&s->entry);
    h2o_timeout_dispose(s->loop, &s->timeout);
    free(s);
    self->sampler = NULL;
}

void kve_console_history_register(h2o_pathconf_t *pathconf, kve_server_t *server)
{
    history_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
    self->super.on_context_init = on_context_init;
    self->super.on_context_dispose = on_context_dispose;
    self->server = server;
}
