/* SPDX-License-Identifier: MIT */
/*
 * Request metrics: a fixed registry of route names (filled while configuring, before threads start) and
 * per-thread counters indexed by route and status code, plus a latency histogram per route. Each
 * thread writes only its own counters (relaxed atomic stores, no locks on the request path); the
 * /metrics renderer sums the threads. Prometheus text format helpers live here too.
 */
#ifndef KVE_PROXY_METRICS_H
#define KVE_PROXY_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/buf.h"

#define KVE_METRICS_MAX_ROUTES 32
#define KVE_METRICS_NUM_BUCKETS 14
#define KVE_METRICS_MIN_STATUS 100
#define KVE_METRICS_MAX_STATUS 599

/** Histogram upper bounds in microseconds (0.5 ms .. 10 s); the +Inf bucket is implicit. */
extern const uint64_t kve_metrics_bucket_us[KVE_METRICS_NUM_BUCKETS];

/** The HTTP cache's counters of a route (handlers/cache_stats.h bumps them; rendered as kvedge_cache_*). */
typedef enum en_kve_metrics_cache_t {
    KVE_METRICS_CACHE_HIT = 0,     /* answered fresh from the store */
    KVE_METRICS_CACHE_MISS,        /* forwarded: nothing usable stored (or a stale object without validators) */
    KVE_METRICS_CACHE_STALE,       /* answered stale from the store */
    KVE_METRICS_CACHE_REVALIDATED, /* a stale object the origin confirmed with 304 */
    KVE_METRICS_CACHE_BYPASS,      /* forwarded without a lookup (the key cannot be made, the store failed, ...) */
    KVE_METRICS_CACHE_COALESCED,   /* answered by another request's fetch (request coalescing) */
    KVE_METRICS_CACHE_STORED,      /* objects written to the store */
    KVE_METRICS_CACHE_STORED_BYTES,
    KVE_METRICS_CACHE_STORE_ERRORS, /* lookups and writes the store failed */
    KVE_METRICS_CACHE_PURGED, /* objects purged by URL or route (tag purges: KVE_METRICS_CACHE_TAG_PURGED of the admin route) */
    KVE_METRICS_CACHE_TAG_PURGED,
    KVE_METRICS_CACHE_NUM
} kve_metrics_cache_t;

/** The sessions' events on a route (handlers/session_metrics.h counts them; rendered as kvedge_session_total{route,event}). */
typedef enum en_kve_metrics_session_t {
    KVE_METRICS_SESSION_CREATED = 0,     /* a new session stored (login, or lazily by X-Session-Set) */
    KVE_METRICS_SESSION_LOADED,          /* a request's cookie named a live session */
    KVE_METRICS_SESSION_ROTATED,         /* a session moved to a new handle, data kept (X-Session-Rotate, renewal) */
    KVE_METRICS_SESSION_EXPIRED,         /* a well-formed cookie named no live session (expired, ended, or never known) */
    KVE_METRICS_SESSION_DESTROYED,       /* a session ended by a logout */
    KVE_METRICS_SESSION_REFUSED,         /* a required route answered 401 (no session) */
    KVE_METRICS_SESSION_UNAVAILABLE,     /* the store failed a session read or write */
    KVE_METRICS_SESSION_COOKIE_INVALID,  /* a malformed or doubled session cookie (no store access) */
    KVE_METRICS_SESSION_COMMAND_INVALID, /* an X-Session-* response field dropped: unknown, repeated, too long, bad JSON, or
                                          * from an upstream without session.write */
    KVE_METRICS_SESSION_CSRF_REFUSED,    /* an unsafe request from another origin answered 403 (the CSRF gate) */
    KVE_METRICS_SESSION_NUM
} kve_metrics_session_t;

/**
 * How a proxied request's upstream failed (handlers/upstream_errors.h tells them apart from h2o's proxy error;
 * rendered as kvedge_upstream_errors_total{route,kind}).
 */
typedef enum en_kve_metrics_upstream_t {
    KVE_METRICS_UPSTREAM_CONNECT = 0,  /* the connection could not be made (refused, unreachable, no socket) */
    KVE_METRICS_UPSTREAM_TIMEOUT,      /* connecting, sending or waiting for the head or the body took longer than the timeout */
    KVE_METRICS_UPSTREAM_RESET,        /* the connection failed or was closed while sending, before the head or mid-body */
    KVE_METRICS_UPSTREAM_TLS,          /* the TLS handshake failed (certificate not trusted, name mismatch, ...) */
    KVE_METRICS_UPSTREAM_BAD_RESPONSE, /* a head or a chunked body that does not parse, or is refused */
    KVE_METRICS_UPSTREAM_OTHER,        /* anything else h2o's proxy reports */
    KVE_METRICS_UPSTREAM_NUM
} kve_metrics_upstream_t;

/** The label values of kve_metrics_upstream_t, in order. */
extern const char *const kve_metrics_upstream_kinds[KVE_METRICS_UPSTREAM_NUM];

typedef struct st_kve_metrics_route_t {
    uint64_t status[KVE_METRICS_MAX_STATUS - KVE_METRICS_MIN_STATUS + 1];
    uint64_t buckets[KVE_METRICS_NUM_BUCKETS + 1]; /* non-cumulative; last = +Inf */
    uint64_t duration_sum_us;
    uint64_t cache[KVE_METRICS_CACHE_NUM];
    uint64_t session[KVE_METRICS_SESSION_NUM];
    uint64_t upstream[KVE_METRICS_UPSTREAM_NUM];
} kve_metrics_route_t;

typedef struct st_kve_metrics_thread_t {
    kve_metrics_route_t routes[KVE_METRICS_MAX_ROUTES];
    /**
     * Requests a handler of this thread took and whose response is not finished (HTTP/1 requests and HTTP/2
     * streams alike, SSE streams included); written by the owning thread only, summed as kvedge_open_streams.
     */
    int64_t open_streams;
} kve_metrics_thread_t;

/**
 * Returns the id of route `name`, registering it if new (not thread-safe: call while configuring). Ids
 * beyond the capacity share the last slot, named "other".
 */
size_t kve_metrics_route_id(const char *name);
/** Name of route `id`. */
const char *kve_metrics_route_name(size_t id);
/** Number of registered routes. */
size_t kve_metrics_num_routes(void);
/** Forgets every route and the retired counts (at exit, and between unit tests). */
void kve_metrics_reset_routes(void);

/** Registers a worker's counters (on its thread, before it serves; `m` is borrowed until detached). */
void kve_metrics_thread_attach(kve_metrics_thread_t *m);
/** Unregisters them once the worker has drained: what they counted is kept (added to the retired counts). */
void kve_metrics_thread_detach(kve_metrics_thread_t *m);
/**
 * Fills `out` with up to `max` counter blocks to render, the retired counts first, then every live worker's (of
 * every server), and holds them (detaching waits) until kve_metrics_threads_release(), which must follow. Returns
 * the number of blocks.
 */
size_t kve_metrics_threads_acquire(kve_metrics_thread_t **out, size_t max);
void kve_metrics_threads_release(void);

/** Counts one response of `route` with `status` that took `duration_us` (owning thread only). */
void kve_metrics_observe(kve_metrics_thread_t *m, size_t route, int status, uint64_t duration_us);

/** Adds `n` to cache counter `c` of `route` (owning thread only; a relaxed load and store, no atomic read-modify-write). */
static inline void kve_metrics_cache_add(kve_metrics_thread_t *m, size_t route, kve_metrics_cache_t c, uint64_t n)
{
    uint64_t *p = &m->routes[route < KVE_METRICS_MAX_ROUTES ? route : KVE_METRICS_MAX_ROUTES - 1].cache[c];
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/** Marks `route` as cached: its cache series are rendered, zeros included (while configuring). */
void kve_metrics_mark_cached(size_t route);
/** Whether `route` was marked cached (the console's overview shows its cache counters). */
int kve_metrics_route_cached(size_t route);

/**
 * Appends the cache metrics summed over `threads`: kvedge_cache_requests_total{route,status}, and per route the
 * coalesced, stored objects and bytes, store errors and purged objects counters of the routes marked cached.
 */
void kve_metrics_render_cache(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads);

/** Adds `n` to session counter `c` of `route` (owning thread only; a relaxed load and store). */
static inline void kve_metrics_session_add(kve_metrics_thread_t *m, size_t route, kve_metrics_session_t c, uint64_t n)
{
    uint64_t *p = &m->routes[route < KVE_METRICS_MAX_ROUTES ? route : KVE_METRICS_MAX_ROUTES - 1].session[c];
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/** Marks `route` as a session route: its kvedge_session_total series are rendered, zeros included (while configuring). */
void kve_metrics_mark_session(size_t route);

/** Whether `route` was marked a session route (the console's overview shows its session counters). */
int kve_metrics_route_session(size_t route);
/** The event label values of kve_metrics_session_t, in order ("created", "loaded", ...). */
extern const char *const kve_metrics_session_events[KVE_METRICS_SESSION_NUM];

/** Appends kvedge_session_total{route,event} summed over `threads`, every event of every session route. */
void kve_metrics_render_session(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads);

/** Adds `delta` (+1 when a request is taken, -1 when it is done) to the thread's open streams (owning thread only). */
static inline void kve_metrics_open_add(kve_metrics_thread_t *m, int64_t delta)
{
    __atomic_store_n(&m->open_streams, __atomic_load_n(&m->open_streams, __ATOMIC_RELAXED) + delta, __ATOMIC_RELAXED);
}

/** Counts one upstream failure of kind `k` on `route` (owning thread only; a relaxed load and store). */
static inline void kve_metrics_upstream_add(kve_metrics_thread_t *m, size_t route, kve_metrics_upstream_t k)
{
    uint64_t *p = &m->routes[route < KVE_METRICS_MAX_ROUTES ? route : KVE_METRICS_MAX_ROUTES - 1].upstream[k];
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/** Marks `route` as proxied: its kvedge_upstream_errors_total series are rendered, zeros included (while configuring). */
void kve_metrics_mark_proxied(size_t route);

/**
 * Appends kvedge_open_streams (the threads' open streams summed) and kvedge_upstream_errors_total{route,kind} of every
 * proxied route, summed over `threads`.
 */
void kve_metrics_render_streams(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads);

/** Appends the request metrics (counters and histograms) summed over `threads`. */
void kve_metrics_render_requests(kve_buf_t *buf, kve_metrics_thread_t *const *threads, size_t num_threads);

#endif
