/* SPDX-License-Identifier: MIT */
/*
 * Authentication of the KV REST API. A request presents a token (Authorization: Bearer, or ?_token=):
 * either one of the configured static tokens, each read-write or read-only (compared in constant time),
 * or a JWT that kvedge minted with its own key (HS256; `kvedge token` mints them) carrying `access`
 * ("rw" or "ro") and `exp`. libjwt 1.10.2 verifies signatures only; every other check it skips is done
 * here (sessions.md §2.4): length and alphabet before decoding, a non-empty key, the algorithm pinned to
 * HS256 by enum and by header string, and typed `exp`, `aud` and `access` claims.
 *
 * Lifetime: a JWT is accepted only while `exp` is at most `jwt_max_ttl` seconds ahead (kv.jwt_max_ttl), and,
 * when it carries `iat`, only if `exp - iat` is at most that too. So `kvedge token` cannot mint, and the
 * server does not accept, tokens that outlive the configured cap, and lowering the cap retires longer-lived
 * tokens already handed out. Optional `nbf` and `iat` must be integers and not in the future. Every
 * comparison on claim values (which are anything up to 2^63-1) is overflow-checked; a few seconds of clock
 * skew are allowed on each bound.
 */
#ifndef KVE_HANDLERS_KV_AUTH_H
#define KVE_HANDLERS_KV_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum { KVE_ACCESS_NONE = 0, KVE_ACCESS_READ_ONLY = 1, KVE_ACCESS_READ_WRITE = 2 };

/** The shortest JWT key accepted (HS256 keys are raw bytes; RFC 7518 §3.2 asks for >= 256 bits). */
#define KVE_JWT_MIN_KEY 32
/** The longest token string looked at; longer ones are refused before any decoding. */
#define KVE_TOKEN_MAX 8192
/** The longest JWT lifetime, in seconds, that can be configured (kv.jwt_max_ttl) or minted: 366 days. */
#define KVE_JWT_TTL_LIMIT (366 * 86400)
/** Clock skew allowed on exp, nbf and iat, in seconds. */
#define KVE_JWT_SKEW_SEC 5

typedef struct st_kve_rest_token_conf_t {
    char *token;
    /** 0 = read-write, 1 = read-only (the config's enum order) */
    int read_only;
    char *name;
} kve_rest_token_conf_t;

typedef struct st_kve_rest_auth_t kve_rest_auth_t;

/**
 * Copies the tokens and the JWT key (NULL or "" = no JWTs). JWTs live at most `jwt_max_ttl` seconds
 * (1..KVE_JWT_TTL_LIMIT; see the top of this file).
 */
kve_rest_auth_t *kve_rest_auth_new(const kve_rest_token_conf_t *tokens, size_t ntokens, const char *jwt_key, uint64_t jwt_max_ttl);
void kve_rest_auth_free(kve_rest_auth_t *auth);

/**
 * Returns the access the token grants (KVE_ACCESS_*), KVE_ACCESS_NONE if it is unknown, malformed, badly
 * signed or expired. `who` (`wholen` >= 1 bytes, NUL-terminated) gets a text for logs, never the secret: the
 * token's name when it is accepted ("token <name>", "token #<n>" or "jwt"), else why it is not
 * ("unknown token", "token too long", "jwt refused: expired", ...).
 */
int kve_rest_auth_check(const kve_rest_auth_t *auth, const char *token, size_t len, time_t now, char *who, size_t wholen);

/**
 * Mints a JWT for `access` valid `ttl_sec` seconds (1..KVE_JWT_TTL_LIMIT) from `now`, with subject `sub`
 * (may be NULL). Returns a malloc'd string, or NULL with a message in `err` (e.g. a key shorter than
 * KVE_JWT_MIN_KEY). The caller holds `ttl_sec` to the configured cap (kv.jwt_max_ttl).
 */
char *kve_rest_jwt_mint(const char *key, int access, uint64_t ttl_sec, const char *sub, time_t now, char *err, size_t errlen);

/**
 * Verifies a JWT minted by kve_rest_jwt_mint with `key`, accepting lifetimes up to `max_ttl` seconds (see
 * the top of this file). Returns the access (KVE_ACCESS_*), or KVE_ACCESS_NONE with the reason in `err`.
 */
int kve_rest_jwt_verify(const char *key, const char *token, size_t len, time_t now, uint64_t max_ttl, char *err, size_t errlen);

#endif
