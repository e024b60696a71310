/* SPDX-License-Identifier: MIT */
/* The console's response helpers and its same-origin check (see console_routes.h). */
#include "handlers/console_routes.h"
#include "handlers/session_csrf.h"

#include <stdio.h>
#include <string.h>

#define CSP                                                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "  \
    "base-uri 'none'; form-action 'self'"

void kve_console_security_headers(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, H2O_STRLIT(CSP));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("same-origin"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
}

void kve_console_send_json(h2o_req_t *req, int status, const char *json, size_t len)
{
    char *body = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(body, json, len);
    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : "Error";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

void kve_console_send_error(h2o_req_t *req, int status, const char *message)
{
    char json[256];
    int n = snprintf(json, sizeof(json), "{\"error\":\"%s\"}", message); /* messages are kvedge's own, plain ASCII */
    kve_console_send_json(req, status, json, (size_t)n < sizeof(json) ? (size_t)n : sizeof(json) - 1);
}

/* the normalised origin of the request itself (scheme, Host) into out; its length or -1 */
static int own_origin(h2o_req_t *req, const char *scheme, char *out)
{
    char raw[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    int n = snprintf(raw, sizeof(raw), "%s://%.*s", scheme, (int)req->authority.len, req->authority.base);
    if (n < 0 || (size_t)n >= sizeof(raw))
        return -1;
    return kve_session_csrf_origin(h2o_iovec_init(raw, (size_t)n), 0, out);
}

int kve_console_same_origin(h2o_req_t *req)
{
    char theirs[KVE_SESSION_CSRF_ORIGIN_MAX + 1], ours[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    int is_tls = req->scheme == &H2O_URL_SCHEME_HTTPS, len, ours_len;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);

    if (i != -1) {
        if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), i) != -1)
            return 0; /* twice */
        len = kve_session_csrf_origin(req->headers.entries[i].value, 0, theirs);
    } else if ((i = h2o_find_header(&req->headers, H2O_TOKEN_REFERER, -1)) != -1) {
        len = kve_session_csrf_origin(req->headers.entries[i].value, 1, theirs);
    } else {
        return 0; /* neither: a browser always sends one of them on a POST from a page */
    }
    if (len < 0)
        return 0;
    if ((ours_len = own_origin(req, is_tls ? "https" : "http", ours)) == len && memcmp(ours, theirs, (size_t)len) == 0)
        return 1;
    /* plain http to kvedge behind a TLS front end: the page's origin is the https one of the same host */
    return !is_tls && (ours_len = own_origin(req, "https", ours)) == len && memcmp(ours, theirs, (size_t)len) == 0;
}

void kve_console_send_redirect(h2o_req_t *req, int status, const char *reason, const char *path)
{
    h2o_iovec_t to = h2o_concat(&req->pool, h2o_iovec_init(path, strlen(path)), h2o_iovec_init(H2O_STRLIT("/")));
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = 0;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, to.base, to.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, NULL, 0);
}
