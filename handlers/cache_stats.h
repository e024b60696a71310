/* SPDX-License-Identifier: MIT */
/*
 * What the cache did with a request, for /metrics and the access log: each request on a cached route gets at most one
 * outcome (hit, stale, miss, revalidated, bypass, or pass for unsafe methods), which bumps the route's counter in the
 * thread's own metrics (proxy/metrics.h: a relaxed load and store, no atomic read-modify-write on the hit path) and sets
 * the request's environment variable `cache_status` ("HIT", "STALE", "MISS", "REVALIDATED", "BYPASS", "PASS", or
 * "COALESCED" for a request answered by another one's fetch), which the access log shows with `%{cache_status}e`.
 * Outcomes are static strings: setting one allocates nothing beyond the request's environment entry.
 */
#ifndef KVE_HANDLERS_CACHE_STATS_H
#define KVE_HANDLERS_CACHE_STATS_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/metrics.h"

typedef enum en_kve_cache_outcome_t {
    KVE_CACHE_OUTCOME_HIT = 0,
    KVE_CACHE_OUTCOME_STALE,
    KVE_CACHE_OUTCOME_MISS,
    KVE_CACHE_OUTCOME_REVALIDATED,
    KVE_CACHE_OUTCOME_BYPASS,
    KVE_CACHE_OUTCOME_PASS,     /* an unsafe method: passed through (not counted) */
    KVE_CACHE_OUTCOME_COALESCED /* answered by another request's fetch: counts as coalesced */
} kve_cache_outcome_t;

/** The access log's name for the outcome: `%{cache_status}e`. */
#define KVE_CACHE_STATUS_ENV "cache_status"

/** The metrics route of the cached route at `path` (the series conf/paths.c gives it: "proxy:<path>"); marks it cached. */
size_t kve_cache__metrics_route(const char *path);

/** Records outcome `o` of `req` on metrics route `route` (the last one recorded is what the access log shows). */
void kve_cache__outcome(h2o_req_t *req, size_t route, kve_cache_outcome_t o);

/** Adds `n` to counter `c` of `route` on `req`'s thread. */
void kve_cache__count(h2o_req_t *req, size_t route, kve_metrics_cache_t c, uint64_t n);

/** Adds `n` to counter `c` of `route` in `m` (the thread's counters; callbacks without a request, on that thread). */
void kve_cache__count_thread(kve_metrics_thread_t *m, size_t route, kve_metrics_cache_t c, uint64_t n);

#endif
