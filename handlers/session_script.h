/* SPDX-License-Identifier: MIT */
/*
 * The sessions' Lua scripts (docs/sessions.md §4), each touching the keys of one hash slot, run as EVALSHA with the EVAL
 * fallback of proxy/kv.h. Times are milliseconds computed by kvedge and passed as arguments.
 *
 * LOAD   KEYS: session. ARGV: now, idle, touch_threshold. The session's HGETALL pairs, or nil (absent, or past its
 *        absolute deadline: then deleted). Touches `last` and the TTL (min(idle, abs - now)) at most once per
 *        touch_threshold.
 * CREATE KEYS: session. ARGV: now, abs, ttl, uid ("": anonymous), max_data, then data key, JSON pairs. 1, or an error
 *        reply (the key exists, the data is too large) with nothing written.
 * PATCH  KEYS: session. ARGV: now, idle, max_data, then data key, JSON ("": delete) pairs. The new `ver`, or an error
 *        reply (no session, data too large) with nothing written.
 */
#ifndef KVE_HANDLERS_SESSION_SCRIPT_H
#define KVE_HANDLERS_SESSION_SCRIPT_H

#include "proxy/kv.h"

typedef struct st_kve_session_scripts_t {
    kve_kv_script_t load, create, patch;
} kve_session_scripts_t;

/** The scripts (initialised once, immutable afterwards; safe from any thread). */
const kve_session_scripts_t *kve_session_scripts(void);

#endif
