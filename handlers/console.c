/* SPDX-License-Identifier: MIT */
/* The console's handler: the assets, and the router over kve_console_routes[] (see console.h, console_routes.h). */
#include "handlers/console.h"
#include "handlers/console_assets.h"
#include "handlers/console_history.h"
#include "handlers/console_cache.h"
#include "handlers/console_parse.h"
#include "handlers/console_routes.h"
#include "proxy/common.h"

#include <openssl/crypto.h>
#include <string.h>

#define COOKIE_NAME "kvedge_console"

static int method_is(h2o_req_t *req, const char *m)
{
    return req->method.len == strlen(m) && memcmp(req->method.base, m, req->method.len) == 0;
}

static int unsafe_method(h2o_req_t *req)
{
    return !method_is(req, "GET") && !method_is(req, "HEAD") && !method_is(req, "OPTIONS");
}

/* the part of the request's path below the console path, without the query: "" for the console path itself */
static h2o_iovec_t subpath(kve_console_t *self, h2o_req_t *req)
{
    size_t plen = strlen(self->path), len = req->path_normalized.len;
    const char *p = req->path_normalized.base;
    if (len < plen)
        return h2o_iovec_init("", 0);
    return h2o_iovec_init(p + plen, len - plen);
}

static void serve_asset(h2o_req_t *req, const kve_console_asset_t *a)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a->content_type, strlen(a->content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, a->etag, strlen(a->etag));
    if (i != -1 && h2o_memis(req->headers.entries[i].value.base, req->headers.entries[i].value.len, a->etag, strlen(a->etag))) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_send_inline(req, NULL, 0);
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = a->len;
    h2o_send_inline(req, (const char *)a->data, a->len);
}

/* GET/HEAD of "", "/" or "/<asset>": 1 when answered */
static int try_asset(kve_console_t *self, h2o_req_t *req, h2o_iovec_t sub)
{
    if (!method_is(req, "GET") && !method_is(req, "HEAD"))
        return 0;
    if (sub.len == 0) { /* the page's relative URLs need the trailing "/" */
        kve_console_send_redirect(req, 301, "Moved Permanently", self->path);
        return 1;
    }
    if (h2o_memis(sub.base, sub.len, H2O_STRLIT("/")))
        sub = h2o_iovec_init(H2O_STRLIT("/index.html"));
    for (size_t i = 0; i != kve_console_num_assets; ++i) {
        const kve_console_asset_t *a = kve_console_assets + i;
        if (sub.len == strlen(a->name) + 1 && sub.base[0] == '/' && memcmp(sub.base + 1, a->name, sub.len - 1) == 0) {
            serve_asset(req, a);
            return 1;
        }
    }
    return 0;
}

/* the session named by the request's cookie: 1 and `*out`, or 0 */
static int find_session(h2o_req_t *req, kve_console_session_t *out)
{
    const char *value = NULL;
    size_t value_len = 0;
    int found = 0;

    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        const char *v;
        size_t vlen;
        int r =
            kve_console_cookie_value(req->headers.entries[i].value.base, req->headers.entries[i].value.len, COOKIE_NAME, &v, &vlen);
        if (r < 0 || (r == 1 && found++))
            return 0; /* twice: a planted cookie */
        if (r == 1)
            value = v, value_len = vlen;
    }
    return found && kve_console_session_find(value, value_len, out);
}

static int csrf_ok(h2o_req_t *req, const kve_console_session_t *s)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-console-csrf"), -1);
    if (i == -1 || h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-console-csrf"), i) != -1)
        return 0;
    return kve_secure_equal(req->headers.entries[i].value.base, req->headers.entries[i].value.len, s->csrf, KVE_CONSOLE_SECRET_HEX);
}

static const kve_console_route_t *find_route(h2o_req_t *req, h2o_iovec_t sub, int *path_known)
{
    *path_known = 0;
    for (const kve_console_route_t *r = kve_console_routes; r->method != NULL; ++r) {
        if (!h2o_memis(sub.base, sub.len, r->path, strlen(r->path)))
            continue;
        *path_known = 1;
        if (method_is(req, r->method) || (method_is(req, "HEAD") && strcmp(r->method, "GET") == 0))
            return r;
    }
    return NULL;
}

/* why `r` may not run (status and message), or 0 */
static int refusal(h2o_req_t *req, const kve_console_route_t *r, int has_session, const kve_console_session_t *s, const char **why)
{
    size_t max_body = r->max_body != 0 ? r->max_body : KVE_CONSOLE_MAX_BODY;

    if (!has_session && !(r->flags & KVE_CONSOLE_PUBLIC))
        return *why = "login required", 401;
    if (unsafe_method(req) && !kve_console_same_origin(req))
        return *why = "cross-origin request refused (Origin)", 403;
    if (unsafe_method(req) && !(r->flags & KVE_CONSOLE_PUBLIC) && !csrf_ok(req, s))
        return *why = "missing or wrong X-Console-CSRF", 403;
    if ((r->flags & KVE_CONSOLE_WRITE) && (!has_session || s->read_only))
        return *why = "read-only session", 403;
    if (req->entity.len > max_body)
        return *why = "request body too large", 413;
    return 0;
}

static void dispatch(kve_console_t *self, h2o_req_t *req, const kve_console_route_t *r)
{
    kve_console_session_t session;
    kve_console_call_t call = {req, self, NULL};
    int has_session = find_session(req, &session), status;
    const char *why;

    if ((status = refusal(req, r, has_session, &session, &why)) != 0) {
        kve_console_send_error(req, status, why);
    } else {
        call.session = has_session ? &session : NULL;
        r->handler(&call);
    }
    OPENSSL_cleanse(&session, sizeof(session));
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    kve_console_t *self = (void *)_self;
    h2o_iovec_t sub = subpath(self, req);
    const kve_console_route_t *r;
    int path_known;

    kve_console_security_headers(req);
    if (try_asset(self, req, sub))
        return 0;
    if ((r = find_route(req, sub, &path_known)) != NULL) {
        dispatch(self, req, r);
        return 0;
    }
    kve_console_send_error(req, path_known ? 405 : 404, path_known ? "method not allowed" : "not found");
    return 0;
}

static void wipe_free(char *s, size_t len)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, len);
        free(s);
    }
}

static void on_dispose(h2o_handler_t *_self)
{
    kve_console_t *self = (void *)_self;
    free(self->path);
    wipe_free(self->token, self->token_len);
    wipe_free(self->read_only_token, self->read_only_token_len);
    free(self->hooks.config_json);
    if (self->hooks.free_ctx != NULL)
        self->hooks.free_ctx(self->hooks.ctx);
    kve_console_cache_free(self->cache);
}

static char *copy_secret(const char *s, size_t *len)
{
    *len = s != NULL ? strlen(s) : 0;
    return *len != 0 ? kve_strdup(s) : NULL;
}

void kve_console_register(h2o_pathconf_t *pathconf, const kve_admin_conf_t *conf, const kve_admin_sources_t *sources,
                          kve_console_hooks_t *hooks)
{
    kve_console_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->super.dispose = on_dispose;
    self->path = kve_strdup(conf->console.path);
    self->token = copy_secret(conf->token, &self->token_len);
    self->read_only_token = copy_secret(conf->read_only_token, &self->read_only_token_len);
    self->session_ttl_ms = conf->console.session_ttl_ms;
    self->sources = *sources;
    self->hooks = *hooks;
    self->cache = kve_console_cache_new(hooks->routes, hooks->num_routes);
    kve_console_api_init();
    memset(hooks, 0, sizeof(*hooks));
    if (sources->server != NULL) /* the overview's history: a timer on the first worker, no request work */
        kve_console_history_register(pathconf, sources->server);
}
