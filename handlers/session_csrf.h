/* SPDX-License-Identifier: MIT */
/*
 * The CSRF gate of session routes (issue 10; docs/sessions.md §9): a request with an unsafe method (anything but GET,
 * HEAD, OPTIONS, TRACE) that a browser sent from another site is refused before it reaches the upstream or the store.
 * The decision uses, in this order:
 *
 *   1. `Origin` listed in the route's `csrf.origins` (exact, after normalisation): allowed;
 *   2. Fetch Metadata: `Sec-Fetch-Site: same-origin` or `none` allowed, anything else (`cross-site`, `same-site`, an
 *      unknown value, the header twice) refused; a browser that sends it is believed, whatever Host says;
 *   3. else `Origin`: same-origin (scheme, host, port; see below) allowed, anything else refused (`null` too);
 *   4. else `Referer`: the origin of its URL, judged like `Origin`;
 *   5. none of the three: allowed (not a browser, or one old enough to send none; SameSite=Lax is the baseline).
 *
 * "Same-origin" compares the normalised origin (lower case, default port dropped) with the request's scheme and
 * Host; a request that reached kvedge over plain http also accepts the https origin of the same host (TLS ended in
 * front of kvedge). A `same-site` sibling (another subdomain) is refused unless listed: it would carry the SameSite=Lax
 * cookie. Pure functions on the request's headers: no I/O, no allocation.
 */
#ifndef KVE_HANDLERS_SESSION_CSRF_H
#define KVE_HANDLERS_SESSION_CSRF_H

#include <stddef.h>
#include "h2o.h"
#include "handlers/session.h"

/** The longest origin looked at (scheme, "://", host, port), in bytes; a longer one is not same-origin. */
#define KVE_SESSION_CSRF_ORIGIN_MAX 320

/** Why a request was refused (or KVE_SESSION_CSRF_OK). */
typedef enum {
    KVE_SESSION_CSRF_OK = 0,
    KVE_SESSION_CSRF_FETCH_SITE, /* Sec-Fetch-Site other than same-origin / none */
    KVE_SESSION_CSRF_ORIGIN,     /* Origin not same-origin and not listed */
    KVE_SESSION_CSRF_REFERER     /* Referer not same-origin and not listed */
} kve_session_csrf_verdict_t;

/**
 * 1 when `req` may go on, 0 when it must be refused (403, not forwarded): the method is safe, `conf->csrf.enabled` is
 * off, or the request is not a cross-site one (see above). Reads only `req`'s method, scheme, authority and headers.
 * kvedge's own session endpoints call it for their POST/DELETE too.
 */
int kve_session_csrf_allowed(h2o_req_t *req, const kve_session_conf_t *conf);

/** The same decision with its reason (for the log line). */
kve_session_csrf_verdict_t kve_session_csrf_check(h2o_req_t *req, const kve_session_conf_t *conf);

/** A short text for a verdict ("Sec-Fetch-Site", "Origin", "Referer", "ok"). */
const char *kve_session_csrf_reason(kve_session_csrf_verdict_t v);

/**
 * Normalises the origin at the start of `in` (an Origin value, or with `url_prefix` the origin part of an absolute URL
 * such as a Referer, which may go on with a path, query or fragment) into `out` (at least KVE_SESSION_CSRF_ORIGIN_MAX + 1
 * bytes): "http" or "https" in lower case, "://", the host in lower case (a name, an IPv4 address or a bracketed IPv6
 * one), ":port" unless it is the scheme's default. Returns the length, or -1 when `in` is not such an origin (userinfo,
 * another scheme, an empty or bad host or port, "null", too long). The configuration checks `csrf.origins` with it.
 */
int kve_session_csrf_origin(h2o_iovec_t in, int url_prefix, char *out);

#endif
