/* SPDX-License-Identifier: MIT */
/*
 * The console's cache page (issue 13; docs/console.md, "Cache"): what the store holds for a URL, and purges from a
 * console session instead of the admin token.
 *
 *   GET  <console>/api/cache/lookup?url=<absolute URL>   the route that serves the URL, its primary key, its Vary list,
 *        and every stored object (the URL's own, and each variant in the URL's variant set, at most
 *        KVE_CONSOLE_CACHE_MAX_VARIANTS): its head (status, header fields as stored), age, freshness left, the stale
 *        windows left, the store's TTL, tags and sizes. Read-only store commands (GET, STRLEN, PTTL, SSCAN) on the
 *        route's store; the key is made exactly as a purge makes it (kve_cache_url_resolve, handlers/cache_purge.h),
 *        key headers and cookies from the console request's own fields.
 *   POST <console>/api/cache/purge   body application/x-www-form-urlencoded in the syntax of <admin>/purge's query
 *        (url= | tag=[&tag=...] | route=, &soft=1), parsed by kve_cache_purge_parse and run by kve_cache_purge_start:
 *        the same purge, the same JSON answer. A change: the router refuses it to read-only sessions and checks CSRF
 *        and Origin (handlers/console_routes.h).
 *
 * Errors are {"error":"..."}: 400 (bad or missing url, a URL that is not http(s), too long), 404 (no route serves the
 * URL; for a purge: no cached route), 503 (the store failed or is down).
 */
#ifndef KVE_HANDLERS_CONSOLE_CACHE_H
#define KVE_HANDLERS_CONSOLE_CACHE_H

#include <stddef.h>
#include "handlers/route.h"

/** The most variants a lookup lists (more: "variants_truncated": true). */
#define KVE_CONSOLE_CACHE_MAX_VARIANTS 64

struct st_kve_console_call_t;

/** The page's state: the configuration's routes (borrowed; they outlive the console) and a purger over them. */
typedef struct st_kve_console_cache_t kve_console_cache_t;

/** Made while configuring (the purger looks metrics series up); NULL routes: no route at all. Free with _free. */
kve_console_cache_t *kve_console_cache_new(const kve_route_conf_t *routes, size_t num_routes);
void kve_console_cache_free(kve_console_cache_t *cache);

/** GET api/cache/lookup (see above). */
void kve_console_cache_lookup(struct st_kve_console_call_t *call);
/** POST api/cache/purge (see above; a KVE_CONSOLE_WRITE row). */
void kve_console_cache_purge(struct st_kve_console_call_t *call);

#endif
