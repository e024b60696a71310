/* SPDX-License-Identifier: MIT */
/*
 * The login carry-over (issue 10; docs/sessions.md §7, `session.login_carry`): a Login from an ANONYMOUS session copies
 * the route's listed data keys of the old session into the new one. The data comes from the request's own LOAD (no
 * extra round trip): the request path keeps the pairs it may need in the request's pool, the response path merges them
 * under the Login's own data (which wins on a clash). A logged-in session (a user switch) carries nothing; carried keys
 * that would take the new session past max_data are all dropped (logged) and the login goes on without them. The old
 * handle is destroyed first as for every Login (the write batch is unchanged).
 */
#ifndef KVE_HANDLERS_SESSION_CARRY_H
#define KVE_HANDLERS_SESSION_CARRY_H

#include <jansson.h>
#include "handlers/session_internal.h"

/**
 * On a route with login_carry and write: keeps in st->carry (the request's pool) the data pairs of `reply` (LOAD's
 * HGETALL pairs, borrowed) that login_carry names, when the session has no user. Does nothing otherwise.
 */
void kve_session__carry_keep(kve_session_req_t *st, const kve_kv_reply_t *reply);

/**
 * The data of a Login's new session: `data` (the Login's own object, borrowed; NULL: none) plus the kept pairs it does
 * not name, or `data` alone when there are none or the sum (CREATE's measure: key bytes plus compact JSON bytes) would
 * pass max_data (then logged, without keys or values). A new reference, or NULL (no data): the caller decrefs.
 */
json_t *kve_session__carry_merge(kve_session_req_t *st, json_t *data);

#endif
