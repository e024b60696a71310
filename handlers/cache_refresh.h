/* SPDX-License-Identifier: MIT */
/*
 * The background refresh of RFC 5861 stale-while-revalidate: a stale object within its window is served at once
 * and ONE refresh per object runs, whatever the number of requests, threads and instances: the first takes a
 * refresh lock in KV (`SET <P>:r <owner> NX PX <ms>`, in the object's hash-tag slot); the others see it held and
 * only serve. The refresh has no client request: it runs on proxy/httpclient.h to the route's upstream (the
 * route's path mapping, Host as h2o's proxy sends it), with the triggering request's header fields (less
 * hop-by-hop, framing and conditional ones) and the stored validators. Its answer is stored with the filter's
 * code (cache_internal.h): 304 -> the stored head updated (RFC 9111 §4.3.4), a storable response -> the object
 * replaced (same Vary list only), anything else (5xx, an error, uncacheable) -> the stale object stays for its
 * windows. After a store the lock is cut to one second (a request that read the old object just before the store
 * does not start a second refresh); after a failure its owner deletes it.
 */
#ifndef KVE_HANDLERS_CACHE_REFRESH_H
#define KVE_HANDLERS_CACHE_REFRESH_H

#include "h2o.h"

struct st_kve_cache_req_t;
struct st_kve_cache_handler_t;
struct st_kve_coal_entry_t;

/** The route's upstream, for fetches that have no client request. */
typedef struct st_kve_cache_upstream_t {
    const char *url;     /* the route's upstream URL */
    const char *ca_file; /* https: CA bundle (NULL or "": the system store) */
    uint64_t timeout_ms; /* I/O timeout */
    int preserve_host;   /* send the client's Host (as h2o's proxy does with preserve_host) */
} kve_cache_upstream_t;

/** Sets up the route's upstream for refreshes on `self` (logs and leaves refreshes off when it cannot). */
void kve_cache__refresh_init(struct st_kve_cache_handler_t *self, const kve_cache_upstream_t *upstream);
/** Frees what kve_cache__refresh_init made (after every thread's client was destroyed). */
void kve_cache__refresh_dispose(struct st_kve_cache_handler_t *self);

/** Whether the route can refresh in the background. */
int kve_cache__can_refresh(const struct st_kve_cache_handler_t *self);

/**
 * Starts the background refresh of `st`'s stale object unless one runs already (the refresh lock). Copies all it
 * needs from the request, which may end at once. Fire and forget.
 */
void kve_cache__refresh(struct st_kve_cache_req_t *st);

/**
 * A fill that outlives its client: a coalescing leader snapshots its request when it starts leading
 * (kve_cache__fill_prepare: NULL when the route has no upstream for this); when its client goes away before the
 * object was stored (its request is disposed while it still leads), kve_cache__fill_start makes the fetch again
 * on the HTTP client and stores it, releasing group `e` once it is stored (or at once when it is not). A response
 * with a Vary list other than the stored index's is not stored this way. Otherwise the snapshot is discarded.
 */
typedef struct st_kve_cache_fill_t kve_cache_fill_t;
kve_cache_fill_t *kve_cache__fill_prepare(struct st_kve_cache_req_t *st);
void kve_cache__fill_start(kve_cache_fill_t *fill, struct st_kve_coal_entry_t *e);
/** NULL is a no-op. */
void kve_cache__fill_discard(kve_cache_fill_t *fill);

#endif
