/* SPDX-License-Identifier: MIT */
/*
 * A cache of minted session JWTs for one route on one thread (docs/sessions.md §8): libjwt 1.10.2 would spend ~0.5 ms
 * per ES256 signature and an HS256 token costs ~10 µs (claims built, parsed and dumped twice), so a token is reused
 * for the same session (its store key, i.e. the hash H of its handle) and version until 80 % of its lifetime has
 * passed, as Oathkeeper does. A session's claims are a function of its handle and its `ver` (every write bumps ver;
 * login and rotation make a new handle), so a reused token never shows stale data. The route's `aud` is implied: each
 * route's handler has caches of its own. An entry also keeps the session's public id and user id, so a hit needs no
 * other hashing (the plain identity headers).
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

/** What a hit returns: the cache's bytes, valid until the next kve_jwt_cache_put() on that cache (copy them). */
typedef struct st_kve_jwt_cache_hit_t {
    h2o_iovec_t token;
    /** the session's public id (the token's sid) */
    const char *sid;
    /** the session's user id (the token's sub); NULL: anonymous */
    const char *sub;
} kve_jwt_cache_hit_t;

/** A cache of `entries` slots (rounded down to a power of two, at least 1). Free it with kve_jwt_cache_free(). */
kve_jwt_cache_t *kve_jwt_cache_new(size_t entries);

/** Frees `cache` and its tokens (NULL: nothing). */
void kve_jwt_cache_free(kve_jwt_cache_t *cache);

/**
 * Looks up the token of the session stored at `key` (its store key, ending in the hex of its hash) at version `ver`:
 * 1 with *hit filled when one was put and `now` (seconds) is before its reuse deadline, else 0.
 */
int kve_jwt_cache_get(kve_jwt_cache_t *cache, const char *key, int64_t ver, int64_t now, kve_jwt_cache_hit_t *hit);

/**
 * Keeps `token` (`len` bytes), its `sid` and `sub` (NULL: none; all copied) for (`key`, `ver`) until
 * `iat + ttl_sec * 4 / 5` (seconds), replacing whatever its slot held. Nothing is kept when that deadline is not after
 * `iat` (a lifetime under 2 s) or something is too long.
 */
void kve_jwt_cache_put(kve_jwt_cache_t *cache, const char *key, int64_t ver, int64_t iat, int64_t ttl_sec, const char *token,
                       size_t len, const char *sid, const char *sub);

/** Counters since the cache was made: lookups that found a usable token, and those that did not. */
void kve_jwt_cache_stats(const kve_jwt_cache_t *cache, uint64_t *hits, uint64_t *misses);

#endif
