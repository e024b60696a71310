/* SPDX-License-Identifier: MIT */
/*
 * The sessions' Lua scripts (docs/sessions.md §4), each touching the keys of one hash slot, run as EVALSHA with the EVAL
 * fallback of proxy/kv.h. Times are milliseconds computed by kvedge and passed as arguments.
 *
 * LOAD       KEYS: session. ARGV: now, idle, touch_threshold. The session's HGETALL pairs, or nil (absent, or past its
 *            absolute deadline: then deleted). Touches `last` and the TTL (min(idle, abs - now)) at most once per
 *            touch_threshold.
 * CREATE     KEYS: session [, the user's index]. ARGV: now, abs, ttl, uid ("": anonymous), max_data, max_sessions (0: no
 *            cap; the configuration gives 1..1000), ua, ip ("": none), then data key, JSON pairs. 1, or an error reply (the
 *            key exists, the data is too large) with nothing written. With the index (a logged-in session): prunes its
 *            ended members (past their deadline, or whose session is gone), adds this session (member: the key's hash,
 *            score: abs), deletes the oldest sessions past max_sessions (never this one), and expires the index with its
 *            latest member.
 * PATCH      KEYS: session (a RENEW forwarder: the session it names). ARGV: now, idle, max_data, then data key, JSON ("":
 *            delete) pairs. The new `ver`, or an error reply (no session, data too large) with nothing written.
 * DESTROY    KEYS: session [, the user's index]. Deletes the session and its index member (a RENEW forwarder: the session
 *            it names as well). 1.
 * REVOKE_ALL KEYS: the user's index, a session key of that user (the slot's key prefix). Deletes every session of the
 *            index, that session and the index. The number of members.
 * LIST       KEYS: the user's index, a session key of that user. ARGV: now. Prunes the ended members; for each live one
 *            six strings: its hash, crt, last, auth, ua, ip ("" when absent).
 * RENEW      KEYS: session, new session (the same slot tag)[, the user's index]. ARGV: now, renew_after, renew_grace.
 *            Compare-and-set: only when the session is `renew_after` old (since `rnw`, else `crt`) and not renewed yet,
 *            it moves to the new key (`rnw` = now; the index member follows) and the old key becomes a forwarder {nxt: new
 *            key, rot: now} that LOAD follows for `renew_grace` ms (0: no forwarder). {1}: renewed; {0, key}: another request
 *            renewed first, the session lives at `key`; {0}: not due (or gone).
 * ROTATE     KEYS: session, new session (the same slot tag)[, the user's index]. ARGV: now. Moves the session to the new
 *            key at once (no grace; `rnw` = now; the index member follows): 1, or an error reply with nothing written.
 * LOAD also follows a RENEW forwarder (one hop) and then appends the pair "@key", <the live key> to its reply.
 *
 * The scripts that work on a user's index build its members' session keys from the prefix of KEYS[1] or KEYS[2]
 * ("kvs1:{T}:s:"): one slot by construction, as every session of the user has the user's tag T.
 */
#ifndef KVE_HANDLERS_SESSION_SCRIPT_H
#define KVE_HANDLERS_SESSION_SCRIPT_H

#include "proxy/kv.h"

typedef struct st_kve_session_scripts_t {
    kve_kv_script_t load, create, patch;
    kve_kv_script_t destroy, revoke_all, list;
    kve_kv_script_t renew, rotate;
} kve_session_scripts_t;

/** The scripts (initialised once, immutable afterwards; safe from any thread). */
const kve_session_scripts_t *kve_session_scripts(void);

#endif
