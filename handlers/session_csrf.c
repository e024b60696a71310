/* SPDX-License-Identifier: MIT */
/*
 * The CSRF gate of session routes (see session_csrf.h): Fetch Metadata first, then Origin, then Referer, with the
 * route's listed origins allowed. Everything is judged on the request's own headers with fixed-size buffers: an origin
 * longer than KVE_SESSION_CSRF_ORIGIN_MAX never matches, a header sent twice is refused (ambiguous), and a request
 * carrying none of them passes (not a browser).
 */
#include "handlers/session_csrf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_safe_method(h2o_iovec_t m)
{
    return h2o_memis(m.base, m.len, H2O_STRLIT("GET")) || h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")) ||
           h2o_memis(m.base, m.len, H2O_STRLIT("OPTIONS")) || h2o_memis(m.base, m.len, H2O_STRLIT("TRACE"));
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

/* the end of the host at `p` (a name or a bracketed IPv6 address), or NULL */
static const char *host_end(const char *p, const char *end)
{
    const char *start = p;
    if (p != end && *p == '[') {
        for (++p; p != end && ipv6_char(*p); ++p)
            ;
        return p != end && *p == ']' && p - start > 1 ? p + 1 : NULL;
    }
    while (p != end && host_char(*p))
        ++p;
    return p != start ? p : NULL;
}

/* ":port" at `p` (1 to 5 digits, 1 to 65535) into *port; the end, or NULL */
static const char *port_end(const char *p, const char *end, unsigned *port)
{
    const char *start = ++p;
    unsigned v = 0;
    while (p != end && *p >= '0' && *p <= '9' && p - start < 5)
        v = v * 10 + (unsigned)(*p++ - '0');
    if (p == start || v == 0 || v > 65535)
        return NULL;
    *port = v;
    return p;
}

int kve_session_csrf_origin(h2o_iovec_t in, int url_prefix, char *out)
{
    const char *p = in.base, *end, *host, *hend;
    const char *scheme;
    unsigned dport, port;
    int n;

    if (in.len < 7) /* also {NULL, 0}, as h2o gives an empty value: no arithmetic on NULL */
        return -1;
    end = in.base + in.len;
    if (in.len >= 8 && strncasecmp(p, "https://", 8) == 0)
        scheme = "https", dport = 443, p += 8;
    else if (in.len >= 7 && strncasecmp(p, "http://", 7) == 0)
        scheme = "http", dport = 80, p += 7;
    else
        return -1;
    host = p;
    if ((hend = host_end(p, end)) == NULL)
        return -1;
    p = hend, port = dport;
    if (p != end && *p == ':' && (p = port_end(p, end, &port)) == NULL)
        return -1;
    if (p != end && !(url_prefix && (*p == '/' || *p == '?' || *p == '#')))
        return -1; /* userinfo, a path in an Origin, junk */
    if ((size_t)(hend - host) > KVE_SESSION_CSRF_ORIGIN_MAX - 16)
        return -1;
    n = snprintf(out, KVE_SESSION_CSRF_ORIGIN_MAX + 1, "%s://", scheme);
    for (const char *h = host; h != hend; ++h)
        out[n++] = h2o_tolower(*h);
    if (port != dport)
        n += snprintf(out + n, KVE_SESSION_CSRF_ORIGIN_MAX + 1 - (size_t)n, ":%u", port);
    out[n] = '\0';
    return n;
}

/* the one value of header `name` in *value: 0 absent, 1 once, 2 more than once */
static int find_one(h2o_req_t *req, const char *name, size_t len, h2o_iovec_t *value)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    if (i == -1)
        return 0;
    *value = req->headers.entries[i].value;
    return h2o_find_header_by_str(&req->headers, name, len, i) == -1 ? 1 : 2;
}

static int listed(const kve_session_conf_t *conf, const char *origin, size_t len)
{
    for (size_t i = 0; i != conf->csrf.origins.size; ++i)
        if (h2o_memis(origin, len, conf->csrf.origins.entries[i], strlen(conf->csrf.origins.entries[i])))
            return 1;
    return 0;
}

/* whether normalised `origin` is the request's own: its scheme (or https over plain http: TLS ended in front) and Host */
static int same_origin(h2o_req_t *req, const char *origin, size_t len)
{
    h2o_iovec_t authority = req->input.authority;
    char url[KVE_SESSION_CSRF_ORIGIN_MAX + 1], self[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    int https = req->input.scheme == &H2O_URL_SCHEME_HTTPS || (len >= 8 && memcmp(origin, "https://", 8) == 0);
    int n;

    if (authority.len == 0 || authority.len > KVE_SESSION_CSRF_ORIGIN_MAX - 16)
        return 0;
    n = snprintf(url, sizeof(url), "%s://%.*s", https ? "https" : "http", (int)authority.len, authority.base);
    n = kve_session_csrf_origin(h2o_iovec_init(url, (size_t)n), 0, self);
    return n >= 0 && h2o_memis(origin, len, self, (size_t)n);
}

/* an Origin or Referer: listed or same-origin */
static int origin_ok(h2o_req_t *req, const kve_session_conf_t *conf, h2o_iovec_t value, int url_prefix)
{
    char origin[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    int n = kve_session_csrf_origin(value, url_prefix, origin);
    if (n < 0)
        return 0;
    return listed(conf, origin, (size_t)n) || same_origin(req, origin, (size_t)n);
}

kve_session_csrf_verdict_t kve_session_csrf_check(h2o_req_t *req, const kve_session_conf_t *conf)
{
    h2o_iovec_t origin = {NULL, 0}, site = {NULL, 0}, referer = {NULL, 0};
    int norigin, nsite;
    char canon[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    int n;

    if (!conf->csrf.enabled || is_safe_method(req->method))
        return KVE_SESSION_CSRF_OK;
    norigin = find_one(req, H2O_STRLIT("origin"), &origin);
    if (norigin == 1 && (n = kve_session_csrf_origin(origin, 0, canon)) >= 0 && listed(conf, canon, (size_t)n))
        return KVE_SESSION_CSRF_OK;
    if ((nsite = find_one(req, H2O_STRLIT("sec-fetch-site"), &site)) != 0) {
        if (nsite == 1 &&
            (h2o_lcstris(site.base, site.len, H2O_STRLIT("same-origin")) || h2o_lcstris(site.base, site.len, H2O_STRLIT("none"))))
            return KVE_SESSION_CSRF_OK;
        return KVE_SESSION_CSRF_FETCH_SITE;
    }
    if (norigin != 0)
        return norigin == 1 && origin_ok(req, conf, origin, 0) ? KVE_SESSION_CSRF_OK : KVE_SESSION_CSRF_ORIGIN;
    switch (find_one(req, H2O_STRLIT("referer"), &referer)) {
    case 0:
        return KVE_SESSION_CSRF_OK;
    case 1:
        return origin_ok(req, conf, referer, 1) ? KVE_SESSION_CSRF_OK : KVE_SESSION_CSRF_REFERER;
    default:
        return KVE_SESSION_CSRF_REFERER;
    }
}

int kve_session_csrf_allowed(h2o_req_t *req, const kve_session_conf_t *conf)
{
    return kve_session_csrf_check(req, conf) == KVE_SESSION_CSRF_OK;
}

const char *kve_session_csrf_reason(kve_session_csrf_verdict_t v)
{
    switch (v) {
    case KVE_SESSION_CSRF_FETCH_SITE:
        return "Sec-Fetch-Site";
    case KVE_SESSION_CSRF_ORIGIN:
        return "Origin";
    case KVE_SESSION_CSRF_REFERER:
        return "Referer";
    default:
        return "ok";
    }
}
