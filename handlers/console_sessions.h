/* SPDX-License-Identifier: MIT */
/*
 * The web console's Sessions page (issue 13; docs/console.md "Sessions"): the session routes' counters, a user's
 * sessions, and revoking one of them or all. Rows of kve_console_routes[] (console_routes.c):
 *
 *   GET  <console>/api/sessions             the session stores and their routes, each with the events the session
 *                                           middleware counted since the start (kvedge_session_total): no store access
 *   POST <console>/api/sessions/list        {"user"}: the user's live sessions on every session store (LIST)
 *   POST <console>/api/sessions/revoke      {"user","pid"}: ends the user's session with that public id (LIST, DESTROY)
 *   POST <console>/api/sessions/revoke-all  {"user"}: ends every session of the user (REVOKE_ALL on every store)
 *
 * The two revokes are KVE_CONSOLE_WRITE rows (a read-only console session gets 403); the router checks the session,
 * Origin and X-Console-CSRF first. Bodies: handlers/console_sessions_parse.h (400 on anything else).
 *
 * A "session store" is what a session route's sessions live in: its store and the keys derived from its jwt_key (the
 * users' slot tags, the public ids). Routes sharing both (a route and its endpoint, or routes with one jwt_key and
 * store) share their sessions and are listed as one group. The groups are found by walking the request's own
 * configuration generation (its globalconf's paths) for session handlers (kve_session__handler_of): nothing is kept
 * between requests, a reload is seen at once.
 *
 * The commands are the session middleware's own (handlers/session_users.h: LIST, DESTROY, REVOKE_ALL on the user's
 * slot); the answers carry public ids only, never a cookie value nor a store key. The store down or slow past the
 * route's store_timeout: 503 {"error":"session store \"<name>\" unavailable"}.
 */
#ifndef KVE_HANDLERS_CONSOLE_SESSIONS_H
#define KVE_HANDLERS_CONSOLE_SESSIONS_H

#include "handlers/console_routes.h"

/** The most session groups one request looks at (more are left out, and the summary says so with "truncated"). */
#define KVE_CONSOLE_SESSIONS_MAX_GROUPS 32
/** The most routes named per group. */
#define KVE_CONSOLE_SESSIONS_MAX_ROUTES 16

void kve_console_sessions_summary(kve_console_call_t *call);
void kve_console_sessions_list(kve_console_call_t *call);
void kve_console_sessions_revoke(kve_console_call_t *call);
void kve_console_sessions_revoke_all(kve_console_call_t *call);

#endif
