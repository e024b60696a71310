/* SPDX-License-Identifier: MIT */
/*
 * The primary cache key of a request and the names of the KV keys that hold a cached object. Pure: the
 * encoding is appended to a kve_buf_t the caller owns; nothing is kept.
 *
 * The key covers: the method (HEAD is keyed as GET, so HEAD is answered from a stored GET), the scheme, the
 * normalised host (lower case, trailing dot and the scheme's default port removed: "Example.COM.:80" is
 * "example.com" for http), the path byte for byte (no decoding: an origin may tell "%41" from "A"), the query
 * per the route's rules (as sent, or parameters sorted by name with same-name order kept, or ignored; either
 * way minus parameters whose name matches an exclusion glob such as "utm_*"), the configured request fields
 * (normalised as for Vary) and the configured cookies, each with "absent" distinct from "empty". Every part
 * is a length-prefixed field (cache_enc.h), so the encoding is injective; it starts with a version field, so
 * changing the encoding changes every key. The hash is SHA-256 truncated to 128 bits (hex in key names).
 *
 * KV key names: "<ns>kvc1:{<primary hex>}:<suffix>" and, for a Vary variant,
 * "<ns>kvc1:{<primary hex>}:<variant hex>:<suffix>". The {hash tag} makes every key of one URL (head, body,
 * variant index, every variant) fall in one Redis Cluster slot. `ns` is the caller's namespace (may be empty).
 *
 * Note for the handler: excluded query parameters are still forwarded, so they must never change the
 * response (the operator's promise); the key does not protect against a query the origin reads differently.
 */
#ifndef KVE_HANDLERS_CACHE_KEY_H
#define KVE_HANDLERS_CACHE_KEY_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/buf.h"

/** The version of the key encoding (the first field of every encoding and part of every key name). */
#define KVE_CACHE_KEY_VERSION "kvc1"
/** Bytes of a key hash, and hex characters of one in a key name. */
#define KVE_CACHE_HASH_LEN 16
#define KVE_CACHE_HASH_HEX (2 * KVE_CACHE_HASH_LEN)

typedef enum en_kve_cache_query_t {
    KVE_CACHE_QUERY_AS_SENT = 0, /* parameters in the order sent ("?" with nothing after it differs from none) */
    KVE_CACHE_QUERY_SORTED,      /* parameters sorted by name (stable), empty ones dropped */
    KVE_CACHE_QUERY_IGNORE       /* the query is not part of the key */
} kve_cache_query_t;

/** A route's key rules (borrowed by kve_cache_key_encode(); the caller keeps them alive). */
typedef struct st_kve_cache_key_conf_t {
    kve_cache_query_t query;
    const char *const *exclude_query; /* glob patterns on parameter names as sent: '*' any run, '?' one byte */
    size_t num_exclude_query;
    const char *const *headers; /* lower-case request field names that are part of the key */
    size_t num_headers;
    const char *const *cookies; /* cookie names that are part of the key (case-sensitive) */
    size_t num_cookies;
} kve_cache_key_conf_t;

/** The parts of a request the key reads (all borrowed). */
typedef struct st_kve_cache_key_req_t {
    h2o_iovec_t method, scheme, authority; /* scheme "http" or "https"; authority: host[:port] */
    h2o_iovec_t path;                      /* the raw request target's path and query */
    const h2o_header_t *headers;
    size_t num_headers;
} kve_cache_key_req_t;

/**
 * Appends the normalised host of `authority` for `scheme` to `out`. Returns 0, or -1 if the authority is not
 * a plain host name or IP literal with an optional port (then the request must not be cached).
 */
int kve_cache_host_normalize(h2o_iovec_t authority, h2o_iovec_t scheme, kve_buf_t *out);

/** Whether the parameter name `name` (`len` bytes) matches the glob `pattern` (NUL-terminated). */
int kve_cache_glob_match(const char *pattern, const char *name, size_t len);

/**
 * Appends the encoding of `req`'s primary key under `conf` to `out`. Returns 0, or -1 if the host is invalid or
 * the scheme longer than 7 bytes (then the request must not be cached).
 */
int kve_cache_key_encode(const kve_cache_key_conf_t *conf, const kve_cache_key_req_t *req, kve_buf_t *out);

/** The hash of an encoding (primary key, or a secondary key from kve_vary_secondary_key()). */
void kve_cache_key_hash(const void *enc, size_t len, uint8_t hash[KVE_CACHE_HASH_LEN]);

/**
 * Writes the KV key name for `primary` (and `variant`, or NULL) with `suffix` (e.g. "h" head, "b" body, "v"
 * variant index) under namespace `ns` into `buf` (`cap` bytes, NUL-terminated). Returns the length, or the
 * length needed if >= cap.
 */
size_t kve_cache_key_name(char *buf, size_t cap, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant,
                          const char *suffix);

#endif
