/* SPDX-License-Identifier: MIT */
/*
 * Purging the HTTP cache, on the admin path (`<admin.path>/purge`, registered when a route caches), with the admin
 * token (Authorization: Bearer; purging is refused with 403 when no admin.token is configured):
 *
 *   POST <admin>/purge?url=<absolute URL>   the URL's object and all its Vary variants; the route is found by the
 *                                           URL's path, the key made with that route's key rules (key headers and
 *                                           cookies come from the purge request's own fields)
 *   POST <admin>/purge?tag=<tag>[&tag=...]  every object tagged so (exact match, up to KVE_CACHE_PURGE_MAX_TAGS)
 *   POST <admin>/purge?route=<route path>   every object of the route
 *   ...&soft=1                              soft purge: objects are marked stale (their head records rewritten so
 *                                           their freshness ends now), not deleted; the next request gets the
 *                                           stale object under its stale-while-revalidate window (or revalidates)
 *
 * `PURGE` is accepted for `POST`. Parameters are percent-decoded. The answer is JSON:
 * {"purged":N,"soft":false} with N the objects deleted (or marked); errors are JSON too, {"error":"..."}: 400 (a
 * missing, unknown, repeated or bad parameter, a URL that is not http(s)://host/...), 404 (no cached route serves the
 * URL, no such cached route), 414 (a query or URL too long), 401 (no or wrong token), 405, 503 (the store failed; N
 * says what was purged before). A purge reads each set page by page (SSCAN) and deletes object by object, so it works
 * the same when the sets and the objects live in different Redis Cluster slots; an object stored while a purge runs,
 * from a response fetched before it started, may survive it.
 */
#ifndef KVE_HANDLERS_CACHE_PURGE_H
#define KVE_HANDLERS_CACHE_PURGE_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_key.h"
#include "handlers/route.h"

/** The most tags one purge request names. */
#define KVE_CACHE_PURGE_MAX_TAGS 32
/** The longest query string, and the longest url= (decoded). */
#define KVE_CACHE_PURGE_MAX_QUERY 16384
#define KVE_CACHE_PURGE_MAX_URL 8192

typedef enum en_kve_cache_purge_kind_t {
    KVE_CACHE_PURGE_NONE = 0,
    KVE_CACHE_PURGE_URL,
    KVE_CACHE_PURGE_TAG,
    KVE_CACHE_PURGE_ROUTE
} kve_cache_purge_kind_t;

/** A parsed purge request (values decoded into the pool given to kve_cache_purge_parse). */
typedef struct st_kve_cache_purge_query_t {
    kve_cache_purge_kind_t kind;
    int soft;
    h2o_iovec_t url, route;
    h2o_iovec_t tags[KVE_CACHE_PURGE_MAX_TAGS];
    size_t num_tags;
} kve_cache_purge_query_t;

/**
 * Parses the query string `query` (without '?'; may be empty) into `q`. Returns NULL, or a message for the client
 * with `*status` set (400 or 414).
 */
const char *kve_cache_purge_parse(h2o_mem_pool_t *pool, h2o_iovec_t query, kve_cache_purge_query_t *q, int *status);

/** What a purge needs of the configuration (the routes and their metrics series); opaque. */
typedef struct st_kve_cache_purger_t kve_cache_purger_t;

/**
 * A purger over `routes` (borrowed: all the configuration's routes, which must outlive it); `metrics_route`: the series
 * tag purges are counted in. Call it while configuring (it looks the routes' metrics series up). Free with
 * kve_cache_purger_free().
 */
kve_cache_purger_t *kve_cache_purger_new(const kve_route_conf_t *routes, size_t num_routes, size_t metrics_route);
void kve_cache_purger_free(kve_cache_purger_t *purger);

/**
 * Runs the purge `q` (kve_cache_purge_parse) on a worker thread and answers `req` with the JSON described above (every
 * path of it: 200, 404, 400, 503). A URL purge makes the key with `req`'s own header fields. The caller has checked who
 * may purge: the admin token (<admin>/purge) or a read-write console session (handlers/console_cache.c).
 */
void kve_cache_purge_start(kve_cache_purger_t *purger, h2o_req_t *req, const kve_cache_purge_query_t *q);

/** The route serving `path` (its path before any query), as h2o picks it: the longest prefix at a '/' boundary; NULL: none. */
const kve_route_conf_t *kve_cache_route_for_path(const kve_route_conf_t *routes, size_t num_routes, h2o_iovec_t path);

/** Whether route `r` caches. */
int kve_cache_route_caches(const kve_route_conf_t *r);

/**
 * Resolves the absolute URL `url` as a purge does: its route (`*route`; NULL when no route serves its path) and the
 * encoding of its primary key (appended to `enc`), made with the route's key rules and the header fields `headers` (key
 * headers and cookies). Returns NULL, or a message for the client with `*status` (400: not an absolute http(s) URL, a
 * bad host; 404: no route, or a route that does not cache, then `*route` is set).
 */
const char *kve_cache_url_resolve(const kve_route_conf_t *routes, size_t num_routes, h2o_iovec_t url, const h2o_header_t *headers,
                                  size_t num_headers, const kve_route_conf_t **route, kve_buf_t *enc, int *status);

/**
 * Registers the purge endpoint as the next handler of `pathconf`. `token` (NULL or empty: purging is refused) is
 * copied; `routes` (all the configuration's routes) is borrowed and must outlive the server. `metrics_route`: the
 * series tag purges are counted in.
 */
void kve_cache_purge_register(h2o_pathconf_t *pathconf, const char *token, const kve_route_conf_t *routes, size_t num_routes,
                              size_t metrics_route);

/**
 * THE MEMORY TIER HOOKS HERE, per object (a purge also evicts the memory tiers when it ends: the URL, the route's
 * tier, or every tier on the stores a tag purge walked, handlers/cache_memory_sync.h). Every purge calls it on the thread that runs
 * the purge, once per object it deleted or marked stale in store `store` (an id of the configuration's stores), whether or not the
 * store still had it: `primary` is the URL's key hash (handlers/cache_key.h), `variant` the variant's hash, or NULL for the URL's
 * own object AND every variant of the URL (a URL purge calls it once so); `soft`: the object was marked stale (the memory tier must
 * drop it or treat it as stale from now on). Its body here does nothing.
 */
void kve_cache__purged(size_t store, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant, int soft);

#endif
