/* SPDX-License-Identifier: MIT */
/*
 * Active sessions (issue 13, the console's Sessions page; docs/console.md "Sessions"): how many distinct sessions made
 * a request in the last KVE_SESSION_ACTIVE_MINUTES minutes, logged-in and anonymous apart, estimated with HyperLogLog
 * (2^KVE_SESSION_ACTIVE_P registers: a standard error of about 1.04 / sqrt(m), ~3 %, and nearly exact for a few
 * sessions) without any store access.
 *
 * Each session handler owns one (kve_session_handler_t.active). The request path notes every request whose LOAD found
 * a live session (session.c): the first 16 hex digits of the session key's hash (64 bits of the SHA-256 of the cookie,
 * folded and mixed, no hash computed again) into the sketch of the request's thread and minute. A few instructions and no lock:
 * each thread writes only its own sketches (allocated on its first note), with relaxed atomic byte stores; readers (the console,
 * any thread) merge every thread's registers with relaxed loads, so a reading taken while a thread writes is an estimate of a
 * moment in between. The minutes are a ring of KVE_SESSION_ACTIVE_MINUTES + 1 slots: a slot is cleared by its thread the first time
 * it notes in a new minute, and a reader takes only the slots of the current minute and the KVE_SESSION_ACTIVE_MINUTES - 1 before
 * it.
 *
 * What is counted: a session is its store key, so a session renewed (a new handle, docs/sessions.md §6) within the
 * window counts twice; sessions that only exist (no request) do not count. The sketches belong to a configuration
 * generation: a reload starts from zero.
 */
#ifndef KVE_HANDLERS_SESSION_ACTIVE_H
#define KVE_HANDLERS_SESSION_ACTIVE_H

#include <stddef.h>
#include <stdint.h>

/** log2 of the registers per sketch. */
#define KVE_SESSION_ACTIVE_P 10
#define KVE_SESSION_ACTIVE_REGS (1u << KVE_SESSION_ACTIVE_P)
/** The window: the current minute and the ones before it, this many in all. */
#define KVE_SESSION_ACTIVE_MINUTES 5
/** Threads with a sketch (kve_thread_t.index; the configuration allows at most 256 threads); others are not counted. */
#define KVE_SESSION_ACTIVE_MAX_THREADS 256

enum { KVE_SESSION_ACTIVE_ANONYMOUS = 0, KVE_SESSION_ACTIVE_LOGGED_IN = 1, KVE_SESSION_ACTIVE_KINDS = 2 };

typedef struct st_kve_session_active_t kve_session_active_t;

/** The registers of a merge (kve_session_active_merge), one set per kind; zero it before the first merge. */
typedef struct st_kve_session_active_sum_t {
    uint8_t regs[KVE_SESSION_ACTIVE_KINDS][KVE_SESSION_ACTIVE_REGS];
} kve_session_active_sum_t;

/** A new, empty set of sketches (freed with kve_session_active_free, once no thread notes any more). */
kve_session_active_t *kve_session_active_new(void);
void kve_session_active_free(kve_session_active_t *a);

/**
 * Notes one request of the session whose store hash is `hash_hex` (at least 16 hex digits: those are used) on thread `thread` (its
 * index; only that thread calls with it), at `now_s` (Unix seconds).
 */
void kve_session_active_note(kve_session_active_t *a, size_t thread, const char *hash_hex, int logged_in, uint64_t now_s);

/** Adds (the registers' maximum: a union) every thread's sketches of the window ending at `now_s` to `sum`. */
void kve_session_active_merge(const kve_session_active_t *a, uint64_t now_s, kve_session_active_sum_t *sum);

/** The HyperLogLog estimate of KVE_SESSION_ACTIVE_REGS registers (small counts by linear counting). */
double kve_session_active_estimate(const uint8_t *regs);

#endif
