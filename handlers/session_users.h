/* SPDX-License-Identifier: MIT */
/*
 * A user's sessions (docs/sessions.md §3, §10): the per-user index "kvs1:{T}:u:<uidhex>" (a ZSET on the slot of the
 * user's tag T: member the hex SHA-256 of a handle, score its absolute deadline in ms), kept by CREATE and DESTROY, and
 * the commands that end, list or revoke a user's sessions. Builders only: they fill store commands whose strings live
 * in the request's pool; the callers send them.
 */
#ifndef KVE_HANDLERS_SESSION_USERS_H
#define KVE_HANDLERS_SESSION_USERS_H

#include "handlers/session_internal.h"

/** The most args a command of this module takes (EVALSHA, sha, numkeys, two keys, one argument). */
#define KVE_SESSION_USERS_ARGC 6
/** The hex of a storage hash (a session key's last characters, an index member). */
#define KVE_SESSION_HASH_HEX 64
/** The most bytes of a User-Agent kept with a logged-in session (for the listing). */
#define KVE_SESSION_UA_MAX 128
/** The strings LIST gives per session: hash, crt, last, auth, ua, ip. */
#define KVE_SESSION_LIST_FIELDS 6

/** A store command with room for its arguments (the strings are in a pool; `cmd` points into the struct: use it in place). */
typedef struct st_kve_session_users_cmd_t {
    const char *argv[KVE_SESSION_USERS_ARGC];
    size_t argvlen[KVE_SESSION_USERS_ARGC];
    kve_kv_command_t cmd;
} kve_session_users_cmd_t;

/**
 * The index key of user `uid` (1..KVE_SESSION_UID_MAX bytes, any byte but NUL) on the slot of session key `key` (a
 * kve_session_key() output: the tag is taken from it), allocated in `pool`: "kvs1:{T}:u:" and the hex of the uid.
 */
h2o_iovec_t kve_session_users_index(h2o_mem_pool_t *pool, const char *key, const char *uid);

/**
 * The public id (KVE_SESSION_PID_SIZE bytes with the NUL) of the session whose storage hash is `hash_hex`
 * (KVE_SESSION_HASH_HEX lower-case hex digits, as in an index member) under `k_pid`: the same value kve_session_pid()
 * gives for the handle. Returns 0, or -1 (nothing written) when `hash_hex` is not such a hash.
 */
int kve_session_users_pid(char out[KVE_SESSION_PID_SIZE], const uint8_t *k_pid, size_t klen, const char *hash_hex, size_t len);

/**
 * The summaries kept with a logged-in session for its listing (docs/sessions.md §3), allocated in `pool`: `ua` the
 * request's User-Agent cut to KVE_SESSION_UA_MAX bytes, every byte outside printable ASCII replaced by '?' ("" when
 * absent); `ip` the peer's address prefix, "203.0.113.0/24" or "2001:db8:1::/48" ("" when unknown). The peer is the
 * TCP client: behind a front proxy, the proxy.
 */
h2o_iovec_t kve_session_users_ua(h2o_mem_pool_t *pool, h2o_req_t *req);
h2o_iovec_t kve_session_users_ip(h2o_mem_pool_t *pool, h2o_req_t *req);

/** DESTROY of session key `key`, and its member of the index of `uid` (NULL: an anonymous session, no index). */
void kve_session_users_destroy(h2o_mem_pool_t *pool, kve_session_users_cmd_t *c, const char *key, const char *uid);

/** REVOKE_ALL of user `uid` (non-empty), whose session `key` is one (and is deleted too). */
void kve_session_users_revoke_all(h2o_mem_pool_t *pool, kve_session_users_cmd_t *c, const char *key, const char *uid);

/** LIST of user `uid` (non-empty), whose session `key` is one, at `now_ms`. */
void kve_session_users_list(h2o_mem_pool_t *pool, kve_session_users_cmd_t *c, const char *key, const char *uid, int64_t now_ms);

#endif
