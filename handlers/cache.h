/* SPDX-License-Identifier: MIT */
/*
 * The HTTP cache on a reverse-proxy route (RFC 9111 shared cache; first slice): a handler registered before h2o's
 * proxy and an output filter. GET and HEAD are looked up in the route's store with one batch (variant index, head
 * record, body); a fresh object is answered from the store (Age, Cache-Status hit, 304 for a matching conditional),
 * a stale one with validators is revalidated upstream, anything else is delegated to the proxy, and the filter
 * stores a storable response while it streams to the client (handlers/cache_fill.c). Unsafe methods pass through and
 * invalidate the URL. The store down or slow: the request goes upstream, Cache-Status says why.
 *
 * The RFC decisions are the pure functions of handlers/cache_*.h; the KV layout is in handlers/cache_record.h.
 */
#ifndef KVE_HANDLERS_CACHE_H
#define KVE_HANDLERS_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_refresh.h"

/** How a route's cache key is made (`cache.key`; see handlers/cache_key.h). */
typedef struct st_kve_cache_key_cfg_t {
    int query; /* kve_cache_query_t */
    struct {
        char **entries;
        size_t size;
    } exclude_query, headers, cookies;
} kve_cache_key_cfg_t;

/** One `cache.bypass` rule: a request with the header field `header` (lower case), or the cookie `cookie`. */
typedef struct st_kve_cache_bypass_t {
    char *header;
    char *cookie;
} kve_cache_bypass_t;

/** A route's `cache:` (and the global block of defaults, which has no `key`). Filled by conf/cache_conf.c. */
typedef struct st_kve_cache_conf_t {
    /** the route gave `cache:` (set by the configuration's check; a route without it is never cached) */
    int present;
    int enabled;
    uint64_t default_ttl_ms;
    int heuristic;
    uint64_t keep_ms;
    uint64_t max_object_size;
    /** lookups that take longer go upstream */
    uint64_t store_timeout_ms;
    int store_set_cookie;
    /** the store's name, and its id (resolved by the configuration) */
    char *store;
    size_t store_id;
    kve_cache_key_cfg_t key;
    /** RFC 9213: the operator's own targeted field (lower case; NULL or "": only CDN-Cache-Control) */
    char *targeted_field;
    /** Cache-Status carries `key` (the primary key's hash) */
    int debug;
    /** the most variants stored per URL (one Vary list); new ones past it are not stored */
    int64_t max_variants;
    /** `bypass`: requests with one of these go upstream uncached (route only; see handlers/cache_bypass.h) */
    struct {
        kve_cache_bypass_t *entries;
        size_t size;
    } bypass;
    /** concurrent misses for one object wait this long for one upstream fetch (and its lock lives as long); 0: off */
    uint64_t coalesce_timeout_ms;
    /** operator grace: stale-while-revalidate and stale-if-error windows on top of the responses' own */
    uint64_t stale_while_revalidate_ms;
    uint64_t stale_if_error_ms;
    /** bytes of the route's memory tier (0: none; handlers/cache_memory.h) */
    uint64_t memory;
    /** the response field naming the object's purge tags (handlers/cache_tags.h) */
    char *tag_header;
    /** the route's path (borrowed from the route; set with store_id): its implicit tag and its metrics series */
    const char *route;
    /** the route's session cookie (borrowed; NULL: the route has no sessions): requests and responses tied to a session
     * are neither served from nor stored in the cache (handlers/session_cache.h) */
    const char *session_cookie;
} kve_cache_conf_t;

/**
 * Registers the cache's handler as the next handler of `pathconf` (before the proxy) and its output filter.
 * `conf` is borrowed and must outlive the server. `upstream` (read during the call; NULL: none) is the route's
 * upstream, for background refreshes (stale-while-revalidate).
 */
void kve_cache_register(h2o_pathconf_t *pathconf, const kve_cache_conf_t *conf, const kve_cache_upstream_t *upstream);

#endif
