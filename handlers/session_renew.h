/* SPDX-License-Identifier: MIT */
/*
 * Session renewal (docs/sessions.md §6): a session `renew_after` old (since its creation or last renewal) gets a new
 * handle on its next request. LOAD tells the age; the request then runs RENEW (a second round trip, once per
 * renew_after per session), a compare-and-set: of parallel requests past the age exactly one moves the session to a
 * new handle (same slot tag) and sets the cookie; the others, and any request with the old handle for `renew_grace`,
 * go on with the session at its new key through the forwarder RENEW leaves at the old one (LOAD follows it), without a
 * cookie. Also the helpers the handle changes share: the user's index key and the public id of a store key.
 */
#ifndef KVE_HANDLERS_SESSION_RENEW_H
#define KVE_HANDLERS_SESSION_RENEW_H

#include "handlers/session_internal.h"

/**
 * Reads a LOAD reply that holds a session (its HGETALL pairs, borrowed): takes the live key from the "@key" pair
 * (the request came with a renewed handle in its grace window: st->key becomes the live session's key), the user id
 * (st->uid, in the pool), and decides whether the session is due for renewal. Returns 1 when it is: the reply is
 * then copied to st->loaded (in the pool) for kve_session__renewed; 0 otherwise.
 */
int kve_session__renew_check(kve_session_req_t *st, const kve_kv_reply_t *reply, int64_t now);

/**
 * Sends RENEW for `st` (kve_session__renew_check returned 1). When it has answered, kve_session__renewed(st) runs:
 * st->renewed is set when this request renewed (st->handle and st->key are then the new ones), and st->key is the
 * live key when another request renewed first; a failed RENEW leaves the session where it was (logged). Returns -1
 * when nothing was sent (then nothing runs).
 */
int kve_session__renew_start(kve_session_req_t *st);

/**
 * Fills `cmd` with RENEW of the session of `st` (ACTIVE: st->key the live key, st->handle its handle, st->uid its user
 * or NULL) to a new handle with the same slot tag, written to st->new_handle / st->new_key. The arguments live in the
 * request's pool. (kve_session__renew_start sends it.)
 */
void kve_session__renew_command(kve_session_req_t *st, kve_kv_command_t *cmd);

/** The key of the index of user `uid` on the slot of store key `key`: "kvs1:{<tag>}:u:<hex of uid>", in `pool`
 * (kve_session_users_index of session_users.h). */
char *kve_session__index_key(h2o_mem_pool_t *pool, const char *key, const char *uid);

/** The public id of the session at store key `key` (the same as kve_session_pid of its handle; kve_session_users_pid). */
void kve_session__pid_of_key(char out[KVE_SESSION_PID_SIZE], const uint8_t *k_pid, size_t klen, const char *key);

/** Whether `v` (`len` bytes) is a session key on the same slot tag as the session key `key`. */
int kve_session__same_slot_key(const char *key, const char *v, size_t len);

#endif
