/* SPDX-License-Identifier: MIT */
/*
 * Session middleware on a reverse-proxy route (issue 10; design in docs/sessions.md): a handler registered before
 * h2o's proxy and an output filter. The handler strips every request header kvedge owns (x-session-*, the session
 * cookie's pair), loads the session its cookie names with one store round trip (a script that also enforces the
 * absolute timeout and touches the idle TTL at most once per touch_threshold), and forwards with a short-lived
 * HS256 JWT (X-Session-JWT) and X-Session-Status. The filter strips every x-session-* response header and, on routes
 * with `write`, applies X-Session-Login / -Set / -Logout, holding the response until the store has answered, then
 * sets or clears the cookie. Unknown handles are never adopted; the store down answers 503 on required routes and
 * forwards anonymous on optional ones.
 */
#ifndef KVE_HANDLERS_SESSION_H
#define KVE_HANDLERS_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"

/** `session.mode` (the configuration's enum order). */
enum { KVE_SESSION_OFF = 0, KVE_SESSION_OPTIONAL = 1, KVE_SESSION_REQUIRED = 2 };

/** `session.jwt_alg` (the configuration's enum order). */
enum { KVE_SESSION_JWT_HS256 = 0, KVE_SESSION_JWT_ES256 = 1 };

/** A route's `session.headers`: plain identity headers sent next to the JWT (NULL: not sent). */
typedef struct st_kve_session_headers_t {
    /** the session's user id (only when it is visible ASCII) */
    char *user;
    /** the session's public id (the JWT's sid) */
    char *sid;
} kve_session_headers_t;

/** A route's `session.csrf:` (the CSRF gate of unsafe methods, session_csrf.h). */
typedef struct st_kve_session_csrf_conf_t {
    /** refuse unsafe requests a browser sent from another origin (default: on) */
    int enabled;
    /** other origins allowed ("https://app.example"; normalised by the configuration, kve_session_csrf_origin) */
    struct {
        char **entries;
        size_t size;
    } origins;
} kve_session_csrf_conf_t;

/** A route's `session:` (and the top-level block of defaults). Filled by conf/session_conf.c. */
typedef struct st_kve_session_conf_t {
    /** the route gave `session:` (set by the configuration's check) */
    int present;
    int mode;
    /** the upstream may change sessions with X-Session-* response headers */
    int write;
    char *cookie_name;
    int same_site; /* kve_same_site_t */
    int secure;
    uint64_t idle_ms;
    uint64_t absolute_ms;
    uint64_t touch_threshold_ms;
    /** the HS256 key of the JWTs (>= 32 bytes; a secret) and their lifetime */
    char *jwt_key;
    uint64_t jwt_ttl_ms;
    /** the JWTs' `aud` (NULL or "": the route's path) */
    char *audience;
    /** the most bytes of data (keys and JSON values) one session holds */
    uint64_t max_data;
    /** the store's name, and its id (resolved by the configuration) */
    char *store;
    size_t store_id;
    uint64_t store_timeout_ms;
    /** forward the session cookie's pair to the upstream (default: removed) */
    int forward_cookie;
    /** the route's path (borrowed; set with store_id) */
    const char *route;
    /** the CSRF gate (routes only: the top-level block of defaults has no csrf:) */
    kve_session_csrf_conf_t csrf;
    /** the most sessions one user holds (a login past it ends the user's oldest); 1..1000 */
    int64_t max_sessions;
    /** the path of kvedge's own session endpoints (logout, list, revoke, auth); "" or NULL: none */
    char *endpoint;
    /** renewal: a session this old (since its creation or last renewal) gets a new handle; 0: never. The old handle
     * keeps working for renew_grace_ms (below renew_after_ms) so that parallel requests never fork the session. */
    uint64_t renew_after_ms;
    uint64_t renew_grace_ms;
    /** a Set that is not applied: KVE_SESSION_SET_FAILURE_IGNORE (logged, the response goes on) or _ERROR (503) */
    int set_failure;
    /** the JWTs' algorithm: KVE_SESSION_JWT_HS256 (jwt_key) or KVE_SESSION_JWT_ES256 (jwt_private_key) */
    int jwt_alg;
    /** ES256: the P-256 private key as PEM (a secret; usually jwt_private_key_file) */
    char *jwt_private_key;
    /** ES256: where the JWKS with the public key is served */
    char *jwks_path;
    /** JWTs kept per thread and route for reuse, for the same session version until 80 % of jwt_ttl (0: every request signs) */
    int64_t jwt_cache_entries;
    /** plain identity headers (route level only) */
    kve_session_headers_t headers;
    /** strict-signature mode (session_sig.h): the key of X-Session-Sig (>= 32 bytes; a secret, never logged); NULL: off */
    char *command_key;
    /** login_carry (route level only; session_carry.h): the data keys an anonymous session's Login carries over into the
     * new session; the one entry "*": all of them; none: nothing is carried */
    struct {
        char **entries;
        size_t size;
    } login_carry;
} kve_session_conf_t;

/** `session.set_failure` (the configuration's enum order). */
enum { KVE_SESSION_SET_FAILURE_IGNORE = 0, KVE_SESSION_SET_FAILURE_ERROR = 1 };

/**
 * Registers the session handler as the next handler of `pathconf` (before the proxy) and its output filter.
 * `conf` is borrowed and must outlive the server (its mode is not OFF).
 */
void kve_session_register(h2o_pathconf_t *pathconf, const kve_session_conf_t *conf);

#endif
