/* SPDX-License-Identifier: MIT */
/*
 * Limit handler: answers 400 to ambiguous framing, 431 or 413 when a request's headers or body exceed the
 * path's limits, and logs each answer. As every path's first handler it also opens the request's stream in
 * kvedge_open_streams (proxy/streams.h), which the path's access logger closes.
 */
#include "handlers/limits.h"
#include "handlers/framing.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/pending.h"
#include "proxy/server.h"
#include "proxy/streams.h"

/* set in req->env when this handler answered, so the access logger does not log the request as h2o's own 413 */
#define ANSWERED_ENV "kvedge.limits"

struct st_limits_handler_t {
    h2o_handler_t super;
    kve_limits_conf_t conf;
};

/* NULL if `req`'s headers are within `conf`, else the reason (and the size found through `*found`) */
static const char *check_headers(const kve_limits_conf_t *conf, const h2o_req_t *req, size_t *found)
{
    size_t i, total = 0;

    if (req->headers.size > conf->max_headers) {
        *found = req->headers.size;
        return "too many header fields";
    }
    for (i = 0; i != req->headers.size; ++i)
        total += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (total > conf->max_header_size) {
        *found = total;
        return "header section too large";
    }
    return NULL;
}

/* 400 and close: the framing may mean something else to a proxy in front, so nothing after it is trusted */
static int refuse_framing(h2o_req_t *req, const char *reason)
{
    kve_log(KVE_LOG_WARN, "limits", "400 for %.*s %.*s: %s (ambiguous request framing, RFC 9112)",
            (int)KVE_MIN(req->method.len, 16), req->method.base, kve_log_path_len(req->path.base, req->path.len), req->path.base,
            reason);
    req->http1_is_persistent = 0;
    *h2o_req_getenv(req, H2O_STRLIT(ANSWERED_ENV), 1) = h2o_iovec_init(H2O_STRLIT("400"));
    h2o_send_error_400(req, "Bad Request", "bad request framing", H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
    return 0;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_limits_handler_t *self = (void *)_self;
    size_t found = 0;
    const char *reason;

    kve_pending_conn_t *conn = kve_streams_conn_of(req);

    if (conn != NULL) {
        /* the request is a handler's now: its bytes leave the pending budget (pending.h; HTTP/1 only), and it is an
         * open stream until its logger runs (proxy/streams.h: why it is counted here, on the connection) */
        if (req->version < 0x200)
            kve_pending_release(conn);
        kve_streams_open(conn, kve_server_thread(req->conn->ctx)->metrics);
    }
    if ((reason = kve_framing_check(req)) != NULL)
        return refuse_framing(req, reason);
    reason = check_headers(&self->conf, req, &found);

    if (reason == NULL && self->conf.max_body_size != 0 && req->entity.base != NULL && req->entity.len > self->conf.max_body_size) {
        kve_log(KVE_LOG_WARN, "limits", "413 for %.*s %.*s: request body larger than limits.max_body_size (%zu bytes)",
                (int)KVE_MIN(req->method.len, 16), req->method.base, kve_log_path_len(req->path.base, req->path.len),
                req->path.base, self->conf.max_body_size);
        req->http1_is_persistent = 0;
        *h2o_req_getenv(req, H2O_STRLIT(ANSWERED_ENV), 1) = h2o_iovec_init(H2O_STRLIT("413"));
        h2o_send_error_generic(req, 413, "Request Entity Too Large", "request entity is too large", 0);
        return 0;
    }
    if (reason == NULL)
        return -1; /* within limits: on to the next handler */
    kve_log(KVE_LOG_WARN, "limits", "431 for %.*s: %s (%zu; limits: %zu fields, %zu bytes)",
            kve_log_path_len(req->path.base, req->path.len), req->path.base, reason, found, self->conf.max_headers,
            self->conf.max_header_size);
    req->http1_is_persistent = 0;
    *h2o_req_getenv(req, H2O_STRLIT(ANSWERED_ENV), 1) = h2o_iovec_init(H2O_STRLIT("431"));
    h2o_send_error_generic(req, 431, "Request Header Fields Too Large", "request header fields too large", 0);
    return 0;
}

void kve_limits_register(h2o_pathconf_t *pathconf, const kve_limits_conf_t *conf)
{
    struct st_limits_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
    self->conf = *conf;
}

int kve_limits_answered(h2o_req_t *req)
{
    return h2o_req_getenv(req, H2O_STRLIT(ANSWERED_ENV), 0) != NULL;
}
