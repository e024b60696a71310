/* SPDX-License-Identifier: MIT */
/*
 * The ES256 signing key of a session route (docs/sessions.md §8): a P-256 private key read once from PEM, its public
 * half as a JWK (RFC 7517) whose `kid` is the key's RFC 7638 thumbprint, and as a public PEM (what a verifier such as
 * kve_session_jwt_verify_alg() takes). The key is parsed once and signs with OpenSSL directly (kve_es256_sign, ~40 µs):
 * libjwt 1.10.2 re-parses the PEM on every sign (~0.5 ms), so it is not used for ES256 minting; the PEM text is kept
 * for comparison (tests, bench/session_sign.c).
 */
#ifndef KVE_HANDLERS_SESSION_ES256_H
#define KVE_HANDLERS_SESSION_ES256_H

#include <stddef.h>
#include <stdint.h>

/** The longest PEM text accepted (a P-256 key takes about 250 bytes). */
#define KVE_ES256_PEM_MAX 16384
/** The length of a kid: base64url of a SHA-256 digest. */
#define KVE_ES256_KID_LEN 43

typedef struct st_kve_es256_key_t kve_es256_key_t;

/**
 * Reads an unencrypted P-256 private key from `pem` (`len` bytes, PKCS#8 or SEC 1). Returns the key (free it with
 * kve_es256_key_free), or NULL with a message in `err` that never quotes the key (not PEM, encrypted, another curve or
 * type, too long).
 */
kve_es256_key_t *kve_es256_key_load(const char *pem, size_t len, char *err, size_t errlen);

/** Frees `key` (NULL: nothing), wiping the private parts. */
void kve_es256_key_free(kve_es256_key_t *key);

/** The length of an ES256 signature: r || s, 32 bytes each (RFC 7518 §3.4), not DER. */
#define KVE_ES256_SIG_LEN 64

/**
 * Signs `len` bytes of `input` (a JWS signing input) with ECDSA P-256 / SHA-256 into `sig` (r || s). Returns 0, or -1
 * when OpenSSL fails. Safe to call from several threads at once (the parsed key is only read).
 */
int kve_es256_sign(const kve_es256_key_t *key, const void *input, size_t len, uint8_t sig[KVE_ES256_SIG_LEN]);

/** The PEM of the private key, as given (borrowed from `key`): what libjwt signs with. */
const char *kve_es256_key_pem(const kve_es256_key_t *key, size_t *len);

/** The public key as PEM ("-----BEGIN PUBLIC KEY-----"; borrowed). */
const char *kve_es256_key_public_pem(const kve_es256_key_t *key, size_t *len);

/** The key id: the RFC 7638 thumbprint, KVE_ES256_KID_LEN base64url characters (borrowed, NUL-terminated). */
const char *kve_es256_key_kid(const kve_es256_key_t *key);

/** The public JWK as one compact JSON object: kty, crv, x, y, kid, use "sig", alg "ES256" (borrowed). */
const char *kve_es256_key_jwk(const kve_es256_key_t *key);

/**
 * 32 bytes derived from the private scalar (SHA-256 of a label and the scalar): the secret a route signing with ES256
 * and no jwt_key derives its slot-tag and public-id keys from. The same key in another PEM spelling gives the same
 * bytes.
 */
void kve_es256_key_secret(const kve_es256_key_t *key, uint8_t out[32]);

#endif
