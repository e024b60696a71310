/* SPDX-License-Identifier: MIT */
/*
 * Freshness of a stored response (RFC 9111 §4.2, RFC 5861) as pure arithmetic on seconds since the epoch.
 * The handler computes a kve_cache_fresh_t and the initial age once, when it stores the response, keeps both
 * in the object's head record, and on each lookup asks kve_cache_use() what it may do with the object.
 *
 * - Lifetime, shared cache: s-maxage > max-age > Expires - Date (Date absent or invalid: the response time)
 *   > heuristic (only if the rules enable it: 10 % of Date - Last-Modified, capped, only for heuristically
 *   cacheable statuses or `public`) > the rules' default TTL (only if configured, only for 200 203 204 300
 *   301 308: never for errors, against cache-poisoned DoS) > none (0).
 * - Age (§4.2.3): corrected_initial_age = max(apparent_age, Age + response_delay); current = that + resident.
 * - Stale use: never with no-cache, must-revalidate, proxy-revalidate or s-maxage (§4.2.4); otherwise with
 *   request max-stale, or within stale-while-revalidate (serve and refresh once), or, when the origin fails,
 *   within stale-if-error. Each window is the larger of the response's directive and the operator's grace.
 */
#ifndef KVE_HANDLERS_CACHE_FRESHNESS_H
#define KVE_HANDLERS_CACHE_FRESHNESS_H

#include <stdint.h>
#include "handlers/cache_control.h"
#include "handlers/cache_response.h"

/** The operator's rules for one cached route (seconds); zero-initialised means "RFC only, nothing extra". */
typedef struct st_kve_cache_rules_t {
    int64_t default_ttl;            /* lifetime of responses without freshness information; 0: such responses are not stored */
    int heuristic;                  /* whether heuristic freshness (§4.2.2) is used */
    int64_t heuristic_max;          /* its cap; 0 with `heuristic` on means KVE_CACHE_HEURISTIC_MAX */
    int64_t stale_while_revalidate; /* operator grace on top of the response's stale-while-revalidate */
    int64_t stale_if_error;         /* operator grace on top of the response's stale-if-error */
    int store_set_cookie;           /* whether responses with Set-Cookie are stored (the handler strips the cookie) */
} kve_cache_rules_t;

/** The default cap of heuristic freshness: one day. */
#define KVE_CACHE_HEURISTIC_MAX 86400

/* flags of kve_cache_fresh_t */
#define KVE_CACHE_FRESH_NO_STALE 0x1u  /* must-revalidate, proxy-revalidate or s-maxage: never served stale */
#define KVE_CACHE_FRESH_NO_CACHE 0x2u  /* no-cache: validated on every use */
#define KVE_CACHE_FRESH_EXPLICIT 0x4u  /* the lifetime came from s-maxage, max-age or Expires */
#define KVE_CACHE_FRESH_HEURISTIC 0x8u /* ... from Last-Modified */
#define KVE_CACHE_FRESH_DEFAULT 0x10u  /* ... from the rules' default TTL */

/** How long a response may be used, from the moment its age was 0. */
typedef struct st_kve_cache_fresh_t {
    int64_t lifetime; /* freshness lifetime, >= 0 */
    int64_t swr;      /* seconds after the lifetime during which it may be served while one refresh runs */
    int64_t sie;      /* seconds after the lifetime during which it may be served when the origin fails */
    unsigned flags;   /* KVE_CACHE_FRESH_* */
} kve_cache_fresh_t;

/** What a lookup may do with a stored response. */
typedef enum en_kve_cache_use_t {
    KVE_CACHE_USE_FRESH = 0,        /* serve it (hit) */
    KVE_CACHE_USE_STALE,            /* serve it stale: the request's max-stale allows it */
    KVE_CACHE_USE_STALE_REVALIDATE, /* serve it stale and refresh it in the background (stale-while-revalidate) */
    KVE_CACHE_USE_VALIDATE          /* go upstream (conditionally, with its validators); on failure ask kve_cache_use_on_error() */
} kve_cache_use_t;

/** Whether `status` is heuristically cacheable (RFC 9110 §15.1): 200 203 204 206 300 301 308 404 405 410 414 501. */
int kve_cache_status_heuristic(int status);

/** Computes the freshness of response `r` under `rules`, received at `response_time`. */
void kve_cache_fresh_compute(kve_cache_fresh_t *f, const kve_cache_resp_t *r, const kve_cache_rules_t *rules,
                             int64_t response_time);

/** The corrected initial age (§4.2.3) of `r`, requested at `request_time`, received at `response_time`. */
int64_t kve_cache_initial_age(const kve_cache_resp_t *r, int64_t request_time, int64_t response_time);

/** The current age at `now` of a response with `initial_age` received at `response_time` (never below initial_age). */
int64_t kve_cache_current_age(int64_t initial_age, int64_t response_time, int64_t now);

/** The remaining freshness at `age` (RFC 9211 `ttl`): negative when stale. */
int64_t kve_cache_ttl(const kve_cache_fresh_t *f, int64_t age);

/** What a request with directives `req` (NULL: none, or ignored by the operator) may do with `f` at `age`. */
kve_cache_use_t kve_cache_use(const kve_cache_fresh_t *f, int64_t age, const kve_cc_t *req);

/** Whether `f` at `age` may be served when the origin fails (connect error, timeout, 5xx): RFC 5861 stale-if-error. */
int kve_cache_use_on_error(const kve_cache_fresh_t *f, int64_t age, const kve_cc_t *req);

#endif
