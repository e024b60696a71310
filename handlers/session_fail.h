/* SPDX-License-Identifier: MIT */
/*
 * A session command that failed turns the response into a clear error (docs/sessions.md §7): a failed Login or
 * Rotate, and a failed Set on a route with `set_failure: error`, answer 503 with a small JSON body instead of the
 * upstream's response, whose status, headers and body would claim a change that did not happen. The filter's held
 * output stream sends the body (see session_filter.c); the cookie kvedge sets or clears is added afterwards.
 */
#ifndef KVE_HANDLERS_SESSION_FAIL_H
#define KVE_HANDLERS_SESSION_FAIL_H

#include "handlers/session_internal.h"

/**
 * Replaces the response of `st` by a 503 (called before the first byte left): every upstream header is dropped,
 * Content-Type: application/json and Cache-Control: no-store are set, and st->fail_body (in the pool) is the body
 * {"error":"session_unavailable","command":"<command>",...}. `command` is a static string ("login", "rotate", "set").
 * A second call keeps the first failure.
 */
void kve_session__fail(kve_session_req_t *st, const char *command);

#endif
