/* SPDX-License-Identifier: MIT */
/*
 * The checks libjwt 1.10.2 leaves to its callers (docs/sessions.md §8, the research note's §2.4), shared by the KV
 * API's tokens (kv_auth.c) and the sessions' JWTs (session_jwt.c): a bounded length before decoding (libjwt
 * alloca()s the input), the base64url alphabet and exactly three segments with a non-empty signature (its decoder
 * skips junk, so tokens are malleable, and `alg: none` shapes have no signature), a key that is never NULL or empty
 * (libjwt then skips verification and reports alg `none`), and the algorithm pinned both by enum (algorithm
 * confusion) and by the header's exact spelling (libjwt accepts "hs256"). Claims are read back typed with jansson:
 * libjwt's getters cannot tell a string or a real from a missing integer.
 */
#ifndef KVE_HANDLERS_JWT_GUARD_H
#define KVE_HANDLERS_JWT_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <jwt.h>

/** The longest token looked at; longer ones are refused before any decoding. */
#define KVE_JWT_GUARD_MAX 8192

/** Whether `t` (`len` bytes) has a JWS compact shape libjwt may be given: see the top of this file. */
int kve_jwt_well_formed(const char *t, size_t len);

/**
 * Decodes and verifies an HS256 token with `key` (`keylen` >= 1 bytes): the shape check, libjwt's signature check,
 * then the algorithm pinned by enum and header spelling. Returns the jwt_t (the caller jwt_free()s it), or NULL with
 * the reason (a static string) in *why. Claims are not checked here (kve_jwt_claims + kve_jwt_int_claim).
 */
jwt_t *kve_jwt_decode_hs256(const char *token, size_t len, const void *key, size_t keylen, const char **why);

/**
 * kve_jwt_decode_hs256() for algorithm `alg` (HS256, or ES256 with `key` a public key PEM): the algorithm is pinned the
 * same way, so an HS256 token MAC'd with the public PEM as its secret is refused by an ES256 verifier.
 */
jwt_t *kve_jwt_decode_pinned(const char *token, size_t len, const void *key, size_t keylen, jwt_alg_t alg, const char **why);

/** The claims of a decoded token as a JSON object (the caller json_decref()s it), or NULL when they are not one. */
json_t *kve_jwt_claims(jwt_t *jwt);

/** `name` as an integer claim: 1 (in *out), 0 if absent, -1 if present and not an integer (a string, a real, ...). */
int kve_jwt_int_claim(json_t *claims, const char *name, int64_t *out);

/** a + b saturated at the int64 bounds (claims are attacker-chosen integers up to 2^63-1). */
int64_t kve_jwt_sat_add(int64_t a, int64_t b);

#endif
