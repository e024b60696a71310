/* SPDX-License-Identifier: MIT */
/* The interim CSRF check of the session endpoints (see session_csrf.h). */
#include "handlers/session_csrf.h"

#include <string.h>

static int safe_method(h2o_iovec_t m)
{
    return h2o_memis(m.base, m.len, H2O_STRLIT("GET")) || h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")) ||
           h2o_memis(m.base, m.len, H2O_STRLIT("OPTIONS")) || h2o_memis(m.base, m.len, H2O_STRLIT("TRACE"));
}

/* whether `v` starts with "http://" or "https://" and the request's authority, followed by `end` or the end of `v` */
static int same_origin(h2o_req_t *req, h2o_iovec_t v, char end)
{
    h2o_iovec_t host = req->authority;
    size_t skip;
    if (v.len >= 7 && h2o_lcstris(v.base, 7, H2O_STRLIT("http://")))
        skip = 7;
    else if (v.len >= 8 && h2o_lcstris(v.base, 8, H2O_STRLIT("https://")))
        skip = 8;
    else
        return 0;
    if (host.len == 0 || v.len - skip < host.len || !h2o_lcstris(v.base + skip, host.len, host.base, host.len))
        return 0;
    return v.len - skip == host.len || (end != '\0' && v.base[skip + host.len] == end);
}

/* the only value of header `name`, or NULL base (absent); a header given twice is `*twice` */
static h2o_iovec_t only(h2o_req_t *req, const char *name, size_t len, int *twice)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    if (i == -1)
        return h2o_iovec_init(NULL, 0);
    if (h2o_find_header_by_str(&req->headers, name, len, i) != -1)
        *twice = 1;
    return req->headers.entries[i].value;
}

int kve_session_csrf_allowed(h2o_req_t *req, const kve_session_conf_t *conf)
{
    int twice = 0;
    h2o_iovec_t v;

    (void)conf;
    if (safe_method(req->method))
        return 1;
    if ((v = only(req, H2O_STRLIT("sec-fetch-site"), &twice)).base != NULL)
        return !twice && (h2o_lcstris(v.base, v.len, H2O_STRLIT("same-origin")) || h2o_lcstris(v.base, v.len, H2O_STRLIT("none")));
    if ((v = only(req, H2O_STRLIT("origin"), &twice)).base != NULL)
        return !twice && same_origin(req, v, '\0');
    if ((v = only(req, H2O_STRLIT("referer"), &twice)).base != NULL)
        return !twice && same_origin(req, v, '/');
    return 1;
}
