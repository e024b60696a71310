/* SPDX-License-Identifier: MIT */
/*
 * What the cache needs from an upstream response head that h2o's proxy drops before any filter sees it
 * (proxy_should_drop_for_res [2.2.5 lib/core/proxy.c:431]): the upstream's Date, which freshness (Expires - Date,
 * RFC 9111 §4.2.1) and age (apparent_age, §4.2.3) are computed from, and the field names its Connection lists,
 * which an intermediary must not forward or store (RFC 9110 §7.6.1, RFC 9111 §3.1). Read through
 * kve_h2o_proxy_observe_heads() (proxy/h2o_private.h) for requests the cache forwarded, into their
 * kve_cache_req_t (upstream_date, upstream_connection).
 */
#ifndef KVE_HANDLERS_CACHE_UPSTREAM_H
#define KVE_HANDLERS_CACHE_UPSTREAM_H

#include "h2o.h"

/** Starts observing upstream heads for the cache (idempotent; main thread, before the workers start). */
void kve_cache_upstream_observe(void);

struct st_kve_cache_req_t;

/**
 * Whether the response to `st`'s forwarded request was made by h2o itself (connect error, timeout, a refused
 * head: no upstream head was read), when that can be known (heads are observed).
 */
int kve_cache_upstream_failed(const struct st_kve_cache_req_t *st);

/**
 * Drops from `headers` the fields named in `connection` (a comma-separated list of field names, as the upstream's
 * Connection lines joined; {NULL, 0}: none). Keeps the order; returns how many were dropped.
 */
size_t kve_cache_drop_connection_listed(h2o_headers_t *headers, h2o_iovec_t connection);

#endif
