/* SPDX-License-Identifier: MIT */
/*
 * The CSRF check of kvedge's session endpoints (docs/sessions.md §9). Interim, minimal version (branch sess-users):
 * the full per-route gate (csrf.origins, on by default for session routes) is helper C's (branch sess-gate), with
 * this same function; when that lands this file is replaced by its version. An unsafe method (anything but GET,
 * HEAD, OPTIONS, TRACE) is refused when `Sec-Fetch-Site` is present and not `same-origin` or `none`, else when
 * `Origin` (else `Referer`) is present and is not the request's own origin (http or https with its Host). A request
 * with none of the three is allowed (not a browser; SameSite=Lax is the baseline). No I/O, no allocation.
 */
#ifndef KVE_HANDLERS_SESSION_CSRF_H
#define KVE_HANDLERS_SESSION_CSRF_H

#include "h2o.h"
#include "handlers/session.h"

/** 1 when `req` may go on, 0 when it must be refused (403, not forwarded). `conf` is not used by this version. */
int kve_session_csrf_allowed(h2o_req_t *req, const kve_session_conf_t *conf);

#endif
