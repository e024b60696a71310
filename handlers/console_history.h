/* SPDX-License-Identifier: MIT */
/*
 * The overview's history (issue 13; docs/console.md "Overview"): a ring of samples of the summed counters, one every
 * KVE_CONSOLE_HISTORY_INTERVAL_MS, the last KVE_CONSOLE_HISTORY_POINTS intervals (10 minutes), so the page's graphs
 * are full when it opens. One ring per process (static, under a mutex, like the console's sessions): a reload keeps
 * it, a restart starts it empty.
 *
 * Who samples: a timer on the first worker thread of each server whose configuration serves the console (a handler
 * with no on_req work, registered after the console's: it only uses on_context_init/on_context_dispose). Requests never
 * touch the ring; a sample costs one pass over every thread's counters (as /metrics does) every 2 s. During a reload
 * both generations' timers run; a sample closer than 3/4 of the interval to the previous one is skipped.
 */
#ifndef KVE_HANDLERS_CONSOLE_HISTORY_H
#define KVE_HANDLERS_CONSOLE_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/buf.h"

/** time between two samples */
#define KVE_CONSOLE_HISTORY_INTERVAL_MS 2000
/** points (intervals between two samples) kept: 300 x 2 s = 10 minutes */
#define KVE_CONSOLE_HISTORY_POINTS 300

struct st_kve_server_t;

/**
 * Registers the sampler as the next handler of `pathconf` (after the console's handler, which answers every request:
 * this one never sees one). `server` is borrowed; its first worker's loop runs the timer.
 */
void kve_console_history_register(h2o_pathconf_t *pathconf, struct st_kve_server_t *server);

/** Takes a sample now (the timer's work). Thread-safe. */
void kve_console_history_sample(void);
/** The same at the given times (`mono_ms` on kve_now_ms()'s clock, `unix_ms` the wall clock): unit tests step the clock. */
void kve_console_history__sample_at(uint64_t mono_ms, int64_t unix_ms);

/**
 * Appends the history as a JSON object to `buf`: {"interval_ms", "capacity", "last" (the newest sample's sequence
 * number, 0 before any), "routes" (the route names, by id), "points": [{"seq", "t" (Unix time, s), "rps", "rps_4xx",
 * "rps_5xx", "p50_ms", "p99_ms" (null without requests), "hit_ratio" (null without cache lookups),
 * "sessions_loaded_s", "sessions_created_s", "route_rps" (requests/s of each route of "routes", in its order)}]},
 * oldest first, only the points whose seq is greater than `after`. The console's own route ("admin") is left out of
 * the sums (its polls would draw a floor of requests), not out of route_rps.
 */
void kve_console_history_render(kve_buf_t *buf, uint64_t after);

/** Forgets every sample (between unit tests). */
void kve_console_history_reset(void);

/**
 * The q-quantile (0..1), in ms, of a non-cumulative latency histogram of KVE_METRICS_NUM_BUCKETS + 1 buckets,
 * interpolated within its bucket like Prometheus' histogram_quantile; -1 when it is empty.
 */
double kve_console_quantile_ms(const uint64_t *buckets, double q);

#endif
