/* SPDX-License-Identifier: MIT */
/*
 * The request bodies of the console's Sessions page (issue 13; handlers/console_sessions.h): a JSON object naming a
 * user and, for a revoke of one session, its public id. Pure: no I/O, no h2o; the fuzz target console_sessions drives
 * it with hostile bytes.
 *
 *   {"user": "<id>"}                  list, revoke-all
 *   {"user": "<id>", "pid": "<pid>"}  revoke one
 *
 * `user`: a JSON string of 1..KVE_SESSION_UID_MAX bytes (UTF-8, as X-Session-Login's "sub"; any character but
 * U+0000); `pid`: KVE_SESSION_PID_SIZE - 1 lower-case hex digits. No other member, no member twice.
 */
#ifndef KVE_HANDLERS_CONSOLE_SESSIONS_PARSE_H
#define KVE_HANDLERS_CONSOLE_SESSIONS_PARSE_H

#include <stddef.h>
#include "handlers/session_cookie.h"

/** The longest body taken (a user id of KVE_SESSION_UID_MAX bytes escaped as \uXXXX is 6x; then a pid and braces). */
#define KVE_CONSOLE_SESSIONS_MAX_BODY 2048

/** What a body names. */
typedef struct st_kve_console_sessions_args_t {
    /** the user id, NUL-terminated (holds no NUL) */
    char user[KVE_SESSION_UID_MAX + 1];
    size_t user_len;
    /** the public id ("" when not asked for) */
    char pid[KVE_SESSION_PID_SIZE];
} kve_console_sessions_args_t;

/**
 * Parses `body` (`len` bytes, not NUL-terminated) into `out`; `want_pid`: the pid is required (else refused).
 * Returns 0, or -1 with `*err` a static message for the client ("user: ..."), `out` then unspecified.
 */
int kve_console_sessions_parse(const char *body, size_t len, int want_pid, kve_console_sessions_args_t *out, const char **err);

#endif
