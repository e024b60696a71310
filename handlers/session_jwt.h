/* SPDX-License-Identifier: MIT */
/*
 * The JWT a session route sends its upstream (X-Session-JWT; docs/sessions.md §8): HS256, minted per request with
 * libjwt 1.10.2 behind the guards of jwt_guard.h, and the matching verification (the helper an upstream written in
 * C would use, and the unit tests' oracle).
 */
#ifndef KVE_HANDLERS_SESSION_JWT_H
#define KVE_HANDLERS_SESSION_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <jwt.h>

/** The shortest HS256 key accepted (bytes). */
#define KVE_SESSION_JWT_MIN_KEY 32
/** The longest token minted or verified (typical upstream header limits are 8 KiB). */
#define KVE_SESSION_JWT_MAX 8192
/** The issuer of every token. */
#define KVE_SESSION_JWT_ISSUER "kvedge"
/** Clock skew allowed when verifying (seconds). */
#define KVE_SESSION_JWT_SKEW 5

/** What a token says (everything borrowed for the call). */
typedef struct st_kve_session_claims_t {
    const char *aud;
    /** the user id; NULL for an anonymous session */
    const char *sub;
    /** the session's public id */
    const char *sid;
    int64_t sver;
    /** seconds; 0: none (anonymous) */
    int64_t auth_time;
    /** seconds */
    int64_t iat;
    int64_t ttl_sec;
    /** the session's data (an object); NULL: {} */
    json_t *data;
} kve_session_claims_t;

/**
 * Mints an HS256 token for `c` signed with `key` (`keylen` >= KVE_SESSION_JWT_MIN_KEY bytes): header
 * {"alg":"HS256","typ":"JWT"}, HMAC-SHA256 with the digest fetched once (session_hash.h; libjwt's path costs several
 * times more). Returns a malloc'd string for the caller to free(), or NULL with a message in `err` (a short key, a token
 * over KVE_SESSION_JWT_MAX).
 */
char *kve_session_jwt_mint(const void *key, size_t keylen, const kve_session_claims_t *c, char *err, size_t errlen);

/**
 * Mints a token for `c` through libjwt 1.10.2 with algorithm `alg`: HS256 (`key` the secret) or ES256 (`key` a P-256
 * private key PEM), with a `kid` header when `kid` is not NULL. Same ownership and errors as kve_session_jwt_mint. Not
 * on the request path (kvedge mints with kve_session_jwt_mint / _mint_es256): kept as the reference the tests and
 * bench/session_sign.c compare with.
 */
char *kve_session_jwt_sign(jwt_alg_t alg, const void *key, size_t keylen, const char *kid, const kve_session_claims_t *c, char *err,
                           size_t errlen);

struct st_kve_es256_key_t;

/**
 * Mints an ES256 token for `c` with `key` (session_es256.h), its header {"alg":"ES256","kid":<the key's kid>,
 * "typ":"JWT"}, signed with OpenSSL directly (the parsed key; libjwt 1.10.2 would re-parse the PEM). Same ownership and
 * errors as kve_session_jwt_mint.
 */
char *kve_session_jwt_mint_es256(const struct st_kve_es256_key_t *key, const kve_session_claims_t *c, char *err, size_t errlen);

/**
 * Verifies a session token: the guards of jwt_guard.h, `iss`, `aud` exactly `aud`, integer `exp` (not past, with
 * skew), `iat` and `nbf` integers not in the future, `exp - iat` at most `max_ttl_sec`. Returns the claims (the caller
 * json_decref()s them), or NULL with the reason (a static string) in *why.
 */
json_t *kve_session_jwt_verify(const void *key, size_t keylen, const char *token, size_t len, const char *aud, int64_t now,
                               int64_t max_ttl_sec, const char **why);

/**
 * kve_session_jwt_verify for algorithm `alg`: HS256 with the secret, or ES256 with the public key PEM as `key`. The
 * algorithm is pinned (an HS256 token MAC'd with the public PEM is refused by the ES256 verifier: algorithm confusion).
 */
json_t *kve_session_jwt_verify_alg(jwt_alg_t alg, const void *key, size_t keylen, const char *token, size_t len, const char *aud,
                                   int64_t now, int64_t max_ttl_sec, const char **why);

#endif
