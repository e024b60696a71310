/* SPDX-License-Identifier: MIT */
/*
 * Whether a shared cache may store a response to a request (RFC 9111 §3, §3.5; RFC 9213; the cache's own
 * policy for Set-Cookie and for responses without freshness information). Pure; the verdict names the first
 * reason that applies, so the handler can put it in Cache-Status `detail` and in its metrics.
 *
 * Stored: a response to GET; with a final status other than 206 (partial content is not stored) and 304
 * (it only updates a stored response); with must-understand only if the status is understood (and then
 * no-store is ignored, §5.2.2.3); without no-store or private (a qualified `private="f"` counts as private);
 * to a request with Authorization only if the response has public, s-maxage or must-revalidate (§3.5); with
 * Set-Cookie only if the rules allow it; never with `Vary: *`; and only with freshness information: explicit
 * (s-maxage, max-age, Expires), heuristic or default TTL per the rules, or `public`, or no-cache with a
 * validator on a heuristically cacheable status (stored to be revalidated). A response that is stale on
 * arrival with no validator and no stale window is useless and not stored either. When a targeted field
 * overrides Cache-Control, freshness the cache adds itself (heuristic, default TTL) still respects
 * Cache-Control's no-store and private.
 */
#ifndef KVE_HANDLERS_CACHE_STORABLE_H
#define KVE_HANDLERS_CACHE_STORABLE_H

#include "h2o.h"
#include "handlers/cache_control.h"
#include "handlers/cache_freshness.h"
#include "handlers/cache_response.h"

/** The verdict: KVE_CACHE_STORE_OK, or why not. */
typedef enum en_kve_cache_store_t {
    KVE_CACHE_STORE_OK = 0,
    KVE_CACHE_STORE_METHOD,           /* the request method is not GET */
    KVE_CACHE_STORE_REQUEST_NO_STORE, /* the request said no-store */
    KVE_CACHE_STORE_STATUS,           /* 1xx, 206, 304, not in 200..599, or must-understand with an unknown status */
    KVE_CACHE_STORE_NO_STORE,         /* the response said no-store */
    KVE_CACHE_STORE_PRIVATE,          /* the response said private */
    KVE_CACHE_STORE_AUTHORIZATION,    /* the request had Authorization and the response did not allow sharing */
    KVE_CACHE_STORE_SET_COOKIE,       /* the response sets a cookie and the rules do not store such responses */
    KVE_CACHE_STORE_VARY_STAR,        /* Vary: * */
    KVE_CACHE_STORE_NO_FRESHNESS,     /* no freshness information, and the rules add none */
    KVE_CACHE_STORE_USELESS           /* stale on arrival, nothing to revalidate with, no stale window */
} kve_cache_store_t;

/** Whether the cache knows the semantics of `status` (for must-understand). */
int kve_cache_status_understood(int status);

/**
 * The verdict for response `r` (with freshness `f`, from kve_cache_fresh_compute()) to a request with
 * method `method`, directives `req` (NULL: none) and `has_authorization` (an Authorization field present).
 */
kve_cache_store_t kve_cache_storable(h2o_iovec_t method, const kve_cc_t *req, int has_authorization, const kve_cache_resp_t *r,
                                     const kve_cache_fresh_t *f, const kve_cache_rules_t *rules);

/** A short static name of a verdict for Cache-Status `detail` and logs ("ok", "method", "no-store", ...). */
const char *kve_cache_store_reason(kve_cache_store_t verdict);

#endif
