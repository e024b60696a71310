/* SPDX-License-Identifier: MIT */
/*
 * A cache of minted session JWTs for one route on one thread (docs/sessions.md §8): libjwt 1.10.2 spends ~0.5 ms per
 * ES256 signature (it re-parses the PEM every time) and ~10 µs per HS256 token (claims built, parsed and dumped
 * twice), so a token is reused for the same session (its public id) and version until 80 % of its lifetime has
 * passed, as Oathkeeper does. A session's claims are a function of its handle
 * and its `ver` (every write bumps ver; login and rotation make a new handle, hence a new public id), so a reused
 * token never shows stale data. The route's `aud` is implied: each route's handler has caches of its own.
 *
 * Direct-mapped and bounded: `entries` slots (a power of two), each holding at most one token (malloc'd, at most
 * KVE_SESSION_JWT_MAX bytes). No locking: one cache per thread (h2o handler context).
 */
#ifndef KVE_HANDLERS_SESSION_JWT_CACHE_H
#define KVE_HANDLERS_SESSION_JWT_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"

typedef struct st_kve_jwt_cache_t kve_jwt_cache_t;

/** A cache of `entries` slots (rounded down to a power of two, at least 1). Free it with kve_jwt_cache_free(). */
kve_jwt_cache_t *kve_jwt_cache_new(size_t entries);

/** Frees `cache` and its tokens (NULL: nothing). */
void kve_jwt_cache_free(kve_jwt_cache_t *cache);

/**
 * The token of session `pid` (a hex public id) at version `ver`, if one was put and `now` (seconds) is before its reuse
 * deadline; else {NULL, 0}. The bytes are the cache's until the next kve_jwt_cache_put() on it: copy them.
 */
h2o_iovec_t kve_jwt_cache_get(kve_jwt_cache_t *cache, const char *pid, int64_t ver, int64_t now);

/**
 * Keeps `token` (copied) for (`pid`, `ver`) until `iat + ttl_sec * 4 / 5` (seconds), replacing whatever its slot held.
 * Nothing is kept when that deadline is not after `iat` (a lifetime under 2 s) or the token is too long.
 */
void kve_jwt_cache_put(kve_jwt_cache_t *cache, const char *pid, int64_t ver, int64_t iat, int64_t ttl_sec, const char *token,
                       size_t len);

/** Counters since the cache was made: lookups that found a usable token, and those that did not. */
void kve_jwt_cache_stats(const kve_jwt_cache_t *cache, uint64_t *hits, uint64_t *misses);

#endif
