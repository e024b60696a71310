/* SPDX-License-Identifier: MIT */
/*
 * The console's login sessions: held in memory, one table per process shared by every worker thread under a
 * mutex (a reload keeps them; a restart ends them). At most KVE_CONSOLE_MAX_SESSIONS live at once: expired ones are
 * dropped first, then the one closest to expiring. An id and a CSRF token are 32 random bytes each (RAND_bytes), in
 * hex; ids are compared in constant time.
 */
#ifndef KVE_HANDLERS_CONSOLE_SESSION_H
#define KVE_HANDLERS_CONSOLE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define KVE_CONSOLE_MAX_SESSIONS 64
/** hex length of an id and of a CSRF token */
#define KVE_CONSOLE_SECRET_HEX 64

/** A copy of a session (the table's entry may change once the lock is dropped). */
typedef struct st_kve_console_session_t {
    char id[KVE_CONSOLE_SECRET_HEX + 1];
    char csrf[KVE_CONSOLE_SECRET_HEX + 1];
    int read_only;
    /** when it ends, on the monotonic clock of kve_now_ms() */
    uint64_t expires_ms;
} kve_console_session_t;

/** Starts a session of `ttl_ms`; fills `out`. Returns 0, or -1 when no random bytes could be had. */
int kve_console_session_create(int read_only, uint64_t ttl_ms, kve_console_session_t *out);
/** The live session of `id` into `out`: 1, or 0 when there is none (unknown, expired, malformed). */
int kve_console_session_find(const char *id, size_t len, kve_console_session_t *out);
/** Ends the session `id` (a logout); nothing when there is none. */
void kve_console_session_end(const char *id, size_t len);
/** Ends every session. */
void kve_console_session_end_all(void);
/** The number of live sessions. */
size_t kve_console_session_count(void);

#endif
