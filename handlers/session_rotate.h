/* SPDX-License-Identifier: MIT */
/*
 * X-Session-Rotate: 1 (docs/sessions.md §7): the upstream asks for a new handle on a privilege change. The session
 * (data, user, deadlines) moves to a new handle with the same slot tag at once; the old handle is gone, without the
 * grace window of a renewal (S5). The filter sends the command and sets the new cookie when it succeeded; a failure
 * answers 503 (session_fail.h).
 */
#ifndef KVE_HANDLERS_SESSION_ROTATE_H
#define KVE_HANDLERS_SESSION_ROTATE_H

#include "handlers/session_internal.h"

/** Whether `v` is a valid X-Session-Rotate value: exactly "1". */
int kve_session__rotate_valid(h2o_iovec_t v);

/**
 * Fills `cmd` with ROTATE of the session of `st` (ACTIVE: st->key is the live key) to a new handle with the same slot
 * tag, written to st->new_handle / st->new_key. The arguments live in the request's pool.
 */
void kve_session__rotate_command(kve_session_req_t *st, kve_kv_command_t *cmd);

#endif
