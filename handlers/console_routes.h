/* SPDX-License-Identifier: MIT */
/*
 * The console's router: a table of (method, path, handler, flags). A page adds its APIs by adding rows to
 * kve_console_routes[] (console_routes.c) and writing handlers of this shape; the router does the rest before a
 * handler runs:
 *
 *   - a session cookie naming a live session, unless the row is KVE_CONSOLE_PUBLIC (else 401 JSON);
 *   - for POST, PUT, PATCH and DELETE: an Origin (or, without one, a Referer) of the request's own scheme://host, and,
 *     for a row that is not KVE_CONSOLE_PUBLIC, the session's CSRF token in X-Console-CSRF (else 403 JSON);
 *   - KVE_CONSOLE_WRITE: a session that is not read-only (else 403 JSON);
 *   - a body no longer than the row's max_body (0: KVE_CONSOLE_MAX_BODY) (else 413 JSON).
 *
 * A GET row must never change state. Every response gets the console's security headers (console_http.c).
 */
#ifndef KVE_HANDLERS_CONSOLE_ROUTES_H
#define KVE_HANDLERS_CONSOLE_ROUTES_H

#include "h2o.h"
#include "handlers/console.h"
#include "handlers/console_session.h"

/** The console's state (one per registered path); console.c owns it. */
typedef struct st_kve_console_t {
    h2o_handler_t super;
    char *path;
    char *token, *read_only_token;
    size_t token_len, read_only_token_len;
    uint64_t session_ttl_ms;
    kve_admin_sources_t sources;
    kve_console_hooks_t hooks;
    /** the cache page's state (handlers/console_cache.h; owned) */
    struct st_kve_console_cache_t *cache;
} kve_console_t;

/** What a route's handler gets. */
typedef struct st_kve_console_call_t {
    h2o_req_t *req;
    kve_console_t *console;
    /** NULL for a KVE_CONSOLE_PUBLIC row without a session */
    const kve_console_session_t *session;
} kve_console_call_t;

enum {
    KVE_CONSOLE_PUBLIC = 0x1, /* no session needed (the login) */
    KVE_CONSOLE_WRITE = 0x2   /* changes state: refused to a read-only session */
};

typedef struct st_kve_console_route_t {
    /** "GET", "POST", ... (a GET row answers HEAD too) */
    const char *method;
    /** below the console path, e.g. "/api/session" */
    const char *path;
    /** sends the response (every path of it: the handler answers the request) */
    void (*handler)(kve_console_call_t *call);
    unsigned flags;
    /** the longest body taken; 0: KVE_CONSOLE_MAX_BODY */
    size_t max_body;
} kve_console_route_t;

/** The rows, ended by a row whose method is NULL. */
extern const kve_console_route_t kve_console_routes[];

/* --- helpers for handlers (console_http.c) --- */

/** Adds the console's security headers (CSP, nosniff, Referrer-Policy, frame refusal) to `req`'s response. */
void kve_console_security_headers(h2o_req_t *req);
/** Sends `json` (`len` bytes, copied) with `status`, Cache-Control: no-store. */
void kve_console_send_json(h2o_req_t *req, int status, const char *json, size_t len);
/** Sends `status` with Location: `path` + "/" (h2o_send_redirect would drop the headers already added). */
void kve_console_send_redirect(h2o_req_t *req, int status, const char *reason, const char *path);
/** Sends {"error":"<message>"} with `status`. */
void kve_console_send_error(h2o_req_t *req, int status, const char *message);
/** 1 when the Origin (or, without one, the Referer) of `req` is its own scheme://host (see console_routes.h). */
int kve_console_same_origin(h2o_req_t *req);

/* --- the handlers (console_auth.c, console_api.c) --- */
void kve_console_login(kve_console_call_t *call);
void kve_console_logout(kve_console_call_t *call);
void kve_console_logout_all(kve_console_call_t *call);
void kve_console_api_session(kve_console_call_t *call);
/** Public: {"logged_in":false} without a session (the page's first question: no 401 in the browser's console), else as api/session.
 */
void kve_console_api_whoami(kve_console_call_t *call);
void kve_console_api_overview(kve_console_call_t *call);
void kve_console_api_config(kve_console_call_t *call);
void kve_console_api_check(kve_console_call_t *call);
/** Notes the start time the overview reports (at registration). */
void kve_console_api_init(void);

#endif
