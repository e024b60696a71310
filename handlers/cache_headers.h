/* SPDX-License-Identifier: MIT */
/*
 * Header fields the shared cache must not trust, store or pass on. Pure; names compare case-insensitively.
 *
 * Requests: fields by which a client could make the origin build a response for another host, scheme, path
 * or method than the one the cache keys on (http-cache.md §6): Forwarded, X-Forwarded-* (all of them),
 * X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, X-Host,
 * X-Original-Host. The handler drops them before computing the key and before forwarding, then adds its own
 * X-Forwarded-For / X-Forwarded-Proto if the route forwards them.
 *
 * Responses (RFC 9111 §3.1, §3.2): never stored: Connection and the fields it lists, the other hop-by-hop
 * fields (Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade), Proxy-Authenticate,
 * Proxy-Authentication-Info, Proxy-Authorization, the fields a qualified `no-cache="..."` lists, Set-Cookie
 * and Set-Cookie2 (stored responses never hand a cookie to another client), Age (regenerated on every hit)
 * and Surrogate-Control (meant for this cache: not passed downstream either). On a 304 update the same set
 * and Content-Length are not taken over.
 */
#ifndef KVE_HANDLERS_CACHE_HEADERS_H
#define KVE_HANDLERS_CACHE_HEADERS_H

#include <stddef.h>
#include "h2o.h"
#include "handlers/cache_control.h"

/** Whether request field `name` (`len` bytes) is one the handler drops before keying and forwarding. */
int kve_cache_request_header_untrusted(const char *name, size_t len);

/** Drops the untrusted fields from `headers` (`num` entries) in place, keeping the order; returns the new count. */
size_t kve_cache_request_headers_strip(h2o_header_t *headers, size_t num);

/* bits of kve_cache_response_header() */
#define KVE_CACHE_HDR_NO_STORE 0x1u   /* not stored with the response */
#define KVE_CACHE_HDR_NO_FORWARD 0x2u /* not passed downstream either */
#define KVE_CACHE_HDR_NO_UPDATE 0x4u  /* not taken over from a 304 into the stored response */

/**
 * What the cache does with response field `name` (`len` bytes) of a response with header fields `headers`
 * (`num`, for Connection) and directives `cc` (for no-cache="..."; NULL for none): KVE_CACHE_HDR_* bits, 0 to
 * store, forward and update it as usual.
 */
unsigned kve_cache_response_header(const char *name, size_t len, const h2o_header_t *headers, size_t num, const kve_cc_t *cc);

#endif
