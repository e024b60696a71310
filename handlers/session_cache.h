/* SPDX-License-Identifier: MIT */
/*
 * Sessions and the shared cache on one route (issue 10; docs/sessions.md §13). The session handler runs before the
 * cache's; the cache's filter runs before the session filter (h2o 2.2.5 runs the filter registered last first), so it
 * sees the upstream's x-session-* commands still in place. On routes with sessions (kve_cache_conf_t.session_cookie)
 * the cache asks these functions whether a request or its response belongs to one user: such a request is neither
 * looked up nor stored (Cache-Status `fwd=bypass; detail=session`); a response carrying session commands or the
 * session's Set-Cookie is not stored (`detail=session`), by a miss or by a background refresh. No x-session-* field is
 * ever stored by the cache (kve_cache_response_header), so a stored response can never replay a command.
 */
#ifndef KVE_HANDLERS_SESSION_CACHE_H
#define KVE_HANDLERS_SESSION_CACHE_H

#include <stddef.h>
#include "h2o.h"

/**
 * Whether `req` (on a session route, after the session handler) is tied to a session: it has one (active), or its
 * session could not be read (the store unavailable), or it presented a cookie the response will clear. 0 for a request
 * the session handler has not seen.
 */
int kve_session_private(h2o_req_t *req);

/** Whether header field `name` is one kvedge's sessions own: x-session-*, any case, '_' read as '-'. */
int kve_session_owned_field(h2o_iovec_t name);

/**
 * Whether response fields `headers` (`num`) carry something of the sessions: an x-session-* field (an upstream
 * command), or a Set-Cookie of the cookie `cookie_name`.
 */
int kve_session_response_owned(const h2o_header_t *headers, size_t num, const char *cookie_name);

#endif
