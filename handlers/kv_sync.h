/* SPDX-License-Identifier: MIT */
/*
 * The sync-token counter of the KV REST API (kv.sync_key; see kv_rest.h), kept sane whatever the key holds.
 * The key is an ordinary Redis key: a read-write token can set it to anything, and a Redis without
 * persistence loses it. So:
 * - only a count in 1..KVE_SYNC_MAX is ever taken as a token; anything else (2^63-1, a negative number,
 *   junk) is ignored with one warning line, and tokens stay where they were until the key is reset;
 * - the highest count seen is one value for the whole process (atomic), so the tokens kvedge hands out
 *   never go back, whichever thread answers, and a client's own token is never answered with less;
 * - when an INCR comes back at or below a token already handed out (the key was lost), the counter is
 *   raised with kve_sync_raise_script, which is idempotent: however many writes saw the low value at once,
 *   it ends just past the highest token any of them knew, instead of being raised once per write.
 */
#ifndef KVE_HANDLERS_KV_SYNC_H
#define KVE_HANDLERS_KV_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/kv.h"

/** The highest count taken as a token: 2^53 (exact in a JavaScript number; 285 years at a million writes a second). */
#define KVE_SYNC_MAX ((uint64_t)1 << 53)

/** Shared by all threads of one KV API; zero-initialised. Every field is accessed atomically. */
typedef struct st_kve_sync_state_t {
    /** the highest plausible count seen: no token handed out is above it */
    uint64_t seen;
    /** a hash of the condition last warned about (0: none since the counter was last fine) */
    uint64_t warned;
    /** the highest floor the counter was raised past, for logging each reset once */
    uint64_t raised;
} kve_sync_state_t;

/**
 * EVAL script, KEYS[1] the counter, ARGV[1] a count: sets the counter to ARGV[1] if it is lower (or missing)
 * and returns its value as a string. Raising to the same floor twice changes nothing.
 */
extern const char kve_sync_raise_script[];

/** The count in `reply`, an INCR's integer or the raise script's string: 1 and *v if it is in 1..KVE_SYNC_MAX, else 0. */
int kve_sync_value(const kve_kv_reply_t *reply, uint64_t *v);

/** The highest token seen so far (the thread-safe read of state->seen). */
uint64_t kve_sync_seen(kve_sync_state_t *state);

/**
 * The count a write's INCR must pass for its token to order it after every token handed out: `seen`, or the
 * client's token if it is plausible and at most 2^32 above (a client cannot push the shared counter far).
 */
uint64_t kve_sync_floor(kve_sync_state_t *state, uint64_t client);

/** Records count `v` (1..KVE_SYNC_MAX): raises `seen` to it, and ends a warned condition. */
void kve_sync_note(kve_sync_state_t *state, uint64_t v);

/** Whether to log a warning about `condition` (`len` bytes) now: once, until the condition changes or kve_sync_note(). */
int kve_sync_should_warn(kve_sync_state_t *state, const char *condition, size_t len);

/** Whether to log that the counter was raised past `floor`: once per floor (concurrent raises share one). */
int kve_sync_should_log_raise(kve_sync_state_t *state, uint64_t floor);

#endif
