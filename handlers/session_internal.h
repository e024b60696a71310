/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the session handler (session.c: the request path) and its filter (session_filter.c: the
 * response path). The per-request state lives in the request's pool (h2o_mem_alloc_shared with a dispose that
 * cancels the store batch in flight) and is found through req->env, which survives the delegation to the proxy.
 */
#ifndef KVE_HANDLERS_SESSION_INTERNAL_H
#define KVE_HANDLERS_SESSION_INTERNAL_H

#include "handlers/session.h"
#include "handlers/session_cookie.h"
#include "proxy/kv.h"

#define KVE_SESSION_ENV "kvedge.session"
#define KVE_SESSION_REQ_MAGIC 0x5e55104e
/** The longest X-Session-* command value looked at (bytes). */
#define KVE_SESSION_COMMAND_MAX 8192
/** The longest data key (bytes). */
#define KVE_SESSION_DATA_KEY_MAX 128

typedef struct st_kve_session_handler_t {
    h2o_handler_t super;
    const kve_session_conf_t *conf;
    /** keys derived from the JWT key: the users' slot tags and the public ids (docs/sessions.md §3) */
    uint8_t k_tag[32], k_pid[32];
    /** the JWTs' `aud` */
    const char *aud;
    size_t cookie_name_len;
    /** the route's series in /metrics (session_metrics.h) */
    size_t metrics_route;
    /** ES256: the signing key (NULL: HS256 with conf->jwt_key); the per-thread token caches hang on the h2o context */
    struct st_kve_es256_key_t *es256;
    /** plain identity headers, lower-cased (base NULL: not sent) */
    h2o_iovec_t header_user, header_sid;
    /** the sessions seen in the last minutes (session_active.h; the console's Sessions page reads them) */
    struct st_kve_session_active_t *active;
} kve_session_handler_t;

/** Where a request is. */
enum {
    KVE_SESSION_PHASE_LOAD = 0, /* the handler is reading the session */
    KVE_SESSION_PHASE_FORWARD,  /* delegated to the proxy: the filter handles the upstream's response */
    KVE_SESSION_PHASE_ANSWERED  /* answered by the handler (401, 503): the filter only strips and clears */
};

/** What the request carries (X-Session-Status). */
enum { KVE_SESSION_ANONYMOUS = 0, KVE_SESSION_ACTIVE, KVE_SESSION_UNAVAILABLE };

typedef struct st_kve_session_req_t {
    uint32_t magic;
    int phase;
    int status;
    /** the client presented a cookie that is malformed or names no session: the response clears it */
    int clear_cookie;
    h2o_req_t *req;
    kve_session_handler_t *self;
    kve_kv_batch_t *batch;
    /** ACTIVE (or while loading): the presented handle and its store key */
    char handle[KVE_SESSION_HANDLE_LEN + 1];
    char key[KVE_SESSION_KEY_SIZE];
    /** the response side (session_filter.c) */
    struct st_kve_session_ostream_t *ostr;
    int command; /* KVE_SESSION_CMD_* being applied */
    char new_handle[KVE_SESSION_HANDLE_LEN + 1];
    char new_key[KVE_SESSION_KEY_SIZE];
    int write_err;
    /** the session's user id (NULL: anonymous), from LOAD (in the request's pool) */
    char *uid;
    /** the command is X-Session-Logout: all (every session of the user) */
    int logout_all;
    /* renewal, rotation, failures (session_renew.c, session_rotate.c, session_fail.c) */
    /** LOAD's reply, kept in the pool while RENEW runs (NULL otherwise) */
    kve_kv_reply_t *loaded;
    /** this request renewed the handle: `handle` and `key` are the new ones, and the response sets the cookie */
    int renewed;
    /** bit i: command i of the write batch failed (all bits: the batch failed as a whole) */
    unsigned write_failed;
    /** an X-Session-Set was not applied (the store refused or failed; set_failure decides) */
    int set_failed;
    /** the response is replaced by a 503 with this JSON body (kve_session__fail) */
    h2o_iovec_t fail_body;
    /** login_carry (session_carry.c): the data pairs (key without "d:", JSON text) of the anonymous session LOAD read
     * that a Login would carry over, in the request's pool; carry_size counts the pairs (0: nothing to carry) */
    h2o_iovec_t *carry;
    size_t carry_size;
} kve_session_req_t;

/** The request's state, or NULL on a request the session handler has not seen. */
kve_session_req_t *kve_session__state(h2o_req_t *req);

/**
 * `handler` as a session handler (one kve_session_register() made, a route's or an endpoint's), or NULL when it is
 * another kind. The web console walks a generation's paths with it (handlers/console_sessions.c) to find the session
 * routes, their keys and stores: borrowed, valid while the generation serves.
 */
kve_session_handler_t *kve_session__handler_of(h2o_handler_t *handler);

/** The request's link to the session store (NULL: none on this thread). */
kve_kv_t *kve_session__link(kve_session_req_t *st);

/** Wall-clock milliseconds (the store's timestamps). */
int64_t kve_session__now_ms(void);

/** Whether header field `name` is one kvedge owns: x-session-*, with '_' read as '-', in any case. */
int kve_session__owned_field(h2o_iovec_t name);

/** After RENEW answered (see kve_session__renew_start): mints the JWT from st->loaded and forwards (session.c). */
void kve_session__renewed(kve_session_req_t *st);

/** Registers the response filter on `pathconf` (after the handler). */
void kve_session__register_filter(h2o_pathconf_t *pathconf);

struct st_kve_session_claims_t;

/**
 * session_identity.c: a new JWT for claims `c` in the request's pool, HS256 or ES256, kept in the thread's token cache
 * under the session's store key `key` (unless jwt_cache_entries is 0). {NULL, 0} with a message in `err` when no token
 * can be made.
 */
h2o_iovec_t kve_session__token(kve_session_handler_t *self, h2o_req_t *req, const char *key,
                               const struct st_kve_session_claims_t *c, char *err, size_t errlen);

/**
 * On a token-cache hit for the session stored at `key` at the version in `reply` (LOAD's HGETALL pairs), adds
 * X-Session-JWT and the plain identity headers, sets *uid to the session's user id (in the request's pool; NULL:
 * anonymous; the cache keeps only ids of at most KVE_SESSION_UID_MAX bytes) and returns 1; else 0: the caller mints.
 */
int kve_session__identity_cached(kve_session_handler_t *self, h2o_req_t *req, const char *key, const kve_kv_reply_t *reply,
                                 char **uid);

/**
 * Adds the route's plain identity headers (session.headers) for user `uid` (NULL: anonymous; must live as long as the
 * request, e.g. in its pool) and public id `pid` (copied).
 */
void kve_session__plain_headers(kve_session_handler_t *self, h2o_req_t *req, const char *uid, const char *pid);

/** Loads the ES256 key, the header names and the token caches' context hooks (self->conf set). */
void kve_session__identity_init(kve_session_handler_t *self);

/** Frees what kve_session__identity_init made. */
void kve_session__identity_dispose(kve_session_handler_t *self);

/**
 * The secret the slot-tag and public-id keys derive from: jwt_key when given, else (ES256) 32 bytes derived from the
 * private key. `buf` holds KVE_SESSION_DERIVE_MAX bytes.
 */
#define KVE_SESSION_DERIVE_MAX 4096
void kve_session__derivation_secret(const kve_session_handler_t *self, uint8_t *buf, size_t *len);

#endif
