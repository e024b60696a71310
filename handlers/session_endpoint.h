/* SPDX-License-Identifier: MIT */
/*
 * kvedge's own session endpoints (issue 10; docs/sessions.md §10), under a route's `session.endpoint` (default
 * "/_session"), for the browser and for `auth_request`-style front proxies:
 *
 *   POST   <endpoint>/logout[?all=1]  ends the caller's session (all=1: every session of its user); 204 and the
 *                                     clearing cookie, also when there was no session (idempotent)
 *   GET    <endpoint>/list            the caller's user's live sessions: 200 {"sessions": [{"pid", "created",
 *                                     "last_seen", "auth_time", "ua", "ip_prefix", "current"}]} (times in ms); never a
 *                                     handle or a key
 *   DELETE <endpoint>/<pid>           ends one session of the caller's user (its public id, as in the JWTs' `sid`):
 *                                     204; a pid that is not one of the user's: 404
 *   GET    <endpoint>/auth            204 with X-Session-JWT when the caller has a logged-in session, else 401
 *                                     (HEAD too, and any method on /auth: it changes nothing)
 *
 * The pathconf's handlers, in order: a gate (the path and the method; POST and DELETE must pass the CSRF check of
 * handlers/session_csrf.h, on even where the route turned its own gate off, with the route's csrf.origins: refusals
 * cost no store access), the route's session handler (kve_session_register() with
 * a copy of the route's settings: mode optional, no upstream writes; it loads the session with its one round trip
 * and mints the JWT), the operation (at most two more round trips: DELETE /<pid> lists, then destroys), and a
 * filter that adds X-Session-JWT to /auth's 204 after the session filter stripped every x-session-* header.
 * Logged-in sessions only for list, revoke and auth (an anonymous, data-only session has no user): 401 otherwise.
 * The store unavailable: 503 (logout: 503 with the clearing cookie). Every answer has Cache-Control: no-store.
 */
#ifndef KVE_HANDLERS_SESSION_ENDPOINT_H
#define KVE_HANDLERS_SESSION_ENDPOINT_H

#include "h2o.h"
#include "handlers/session.h"

/** The longest path after the endpoint's prefix that is looked at (bytes); a longer one is 404 at once. */
#define KVE_SESSION_ENDPOINT_PATH_MAX 64

/**
 * Registers the endpoints on `pathconf` (the endpoint's own path, registered for it alone) for the sessions of
 * `route_conf` (borrowed, must outlive the server: its cookie, keys, store and audience are the route's).
 */
void kve_session_endpoint_register(h2o_pathconf_t *pathconf, const kve_session_conf_t *route_conf);

#endif
