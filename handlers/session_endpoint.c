/* SPDX-License-Identifier: MIT */
/* kvedge's own session endpoints: logout, list, revoke, auth (see session_endpoint.h). */
#include "handlers/session_endpoint.h"
#include "handlers/session_csrf.h"
#include "handlers/session_metrics.h"
#include "handlers/session_users.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>

#define ENDPOINT_ENV "kvedge.session.endpoint"
#define ENDPOINT_REQ_MAGIC 0x5e55e1d0

enum { OP_NONE = 0, OP_LOGOUT, OP_LIST, OP_REVOKE, OP_AUTH };

/* the gate and the operation share the route's settings (a copy: mode optional, no writes); the keys of the public
 * ids are the session handler's (kve_session_handler_t.k_pid, reached through the request's session state) */
typedef struct st_endpoint_t {
    kve_session_conf_t conf;
} endpoint_t;

typedef struct st_endpoint_handler_t {
    h2o_handler_t super;
    endpoint_t *ep;
} endpoint_handler_t;

typedef struct st_endpoint_req_t {
    uint32_t magic;
    int op;
    /** logout: every session of the user */
    int all;
    /** revoke: the public id asked for; the key of its session once found, and whether it is the caller's */
    char pid[KVE_SESSION_PID_SIZE];
    char target[KVE_SESSION_KEY_SIZE];
    int target_current;
    h2o_req_t *req;
    endpoint_t *ep;
    kve_session_req_t *st;
    kve_kv_batch_t *batch;
    /* the store applied the change but fewer replicas than min_replicas_ack confirmed it */
    int not_acked;
    /** a store command failed, or answered an error */
    int failed;
    /** auth: the token to answer with */
    h2o_iovec_t jwt;
    /** list: the JSON body being built */
    json_t *list;
} endpoint_req_t;

static endpoint_req_t *state(h2o_req_t *req)
{
    h2o_iovec_t *env = h2o_req_getenv(req, H2O_STRLIT(ENDPOINT_ENV), 0);
    endpoint_req_t *er;
    if (env == NULL || env->base == NULL)
        return NULL;
    er = (void *)env->base;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    return er;
}

static void on_req_dispose(void *p)
{
    endpoint_req_t *er = p;
    if (er->batch != NULL)
        kve_kv_batch_cancel(er->batch);
    er->batch = NULL;
    if (er->list != NULL)
        json_decref(er->list);
    er->list = NULL;
    er->magic = 0;
}

/* --- answers --- */

static void add_clearing_cookie(h2o_req_t *req, const kve_session_conf_t *conf)
{
    h2o_iovec_t v = kve_session_set_cookie(&req->pool, conf->cookie_name, NULL, conf->same_site, conf->secure);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, v.base, v.len);
}

static void answer(h2o_req_t *req, int status, const char *reason, const char *type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"), 1);
    if (type != NULL)
        h2o_set_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-type"), 0, type, strlen(type), 1);
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

static void answer_text(h2o_req_t *req, int status, const char *reason, const char *body)
{
    answer(req, status, reason, "text/plain; charset=utf-8", body, strlen(body));
}

static void answer_204(h2o_req_t *req)
{
    answer(req, 204, "No Content", NULL, "", 0);
}

static void answer_405(h2o_req_t *req, const char *allow)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    answer_text(req, 405, "Method Not Allowed", "method not allowed\n");
}

/* --- the gate: path, method, CSRF (no store access) --- */

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int is_pid(h2o_iovec_t s)
{
    if (s.len != KVE_SESSION_PID_SIZE - 1)
        return 0;
    for (size_t i = 0; i != s.len; ++i)
        if (!((s.base[i] >= '0' && s.base[i] <= '9') || (s.base[i] >= 'a' && s.base[i] <= 'f')))
            return 0;
    return 1;
}

/* whether the query string has the parameter all=1 */
static int query_all(h2o_req_t *req)
{
    const char *p, *end;
    if (req->query_at == SIZE_MAX)
        return 0;
    p = req->path.base + req->query_at + 1, end = req->path.base + req->path.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp != NULL ? amp : end;
        if (h2o_memis(p, (size_t)(stop - p), H2O_STRLIT("all=1")))
            return 1;
        p = stop + 1;
    }
    return 0;
}

/* the operation of `rest` (the path after the endpoint's prefix) and `req`'s method; OP_NONE when answered */
static int route_op(h2o_req_t *req, h2o_iovec_t rest, char *pid)
{
    if (rest.len > KVE_SESSION_ENDPOINT_PATH_MAX || rest.len < 2 || rest.base[0] != '/') {
        answer_text(req, 404, "Not Found", "not found\n");
        return OP_NONE;
    }
    rest.base++, rest.len--;
    if (h2o_memis(rest.base, rest.len, H2O_STRLIT("auth")))
        return OP_AUTH; /* any method: it changes nothing (an auth_request subrequest keeps the client's method) */
    if (h2o_memis(rest.base, rest.len, H2O_STRLIT("logout"))) {
        if (is_method(req, "POST"))
            return OP_LOGOUT;
        answer_405(req, "POST");
    } else if (h2o_memis(rest.base, rest.len, H2O_STRLIT("list"))) {
        if (is_method(req, "GET") || is_method(req, "HEAD"))
            return OP_LIST;
        answer_405(req, "GET, HEAD");
    } else if (is_pid(rest)) {
        if (is_method(req, "DELETE")) {
            memcpy(pid, rest.base, rest.len);
            pid[rest.len] = '\0';
            return OP_REVOKE;
        }
        answer_405(req, "DELETE");
    } else {
        answer_text(req, 404, "Not Found", "not found\n");
    }
    return OP_NONE;
}

static int gate_on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    endpoint_handler_t *self = (void *)_self;
    size_t prefix = req->pathconf->path.len;
    endpoint_req_t *er;
    char pid[KVE_SESSION_PID_SIZE] = "";
    kve_session_csrf_verdict_t csrf;
    int op;

    if (prefix > req->path_normalized.len) { /* not under the prefix: cannot happen with h2o's prefix match */
        answer_text(req, 404, "Not Found", "not found\n");
        return 0;
    }
    if ((op = route_op(req, h2o_iovec_init(req->path_normalized.base + prefix, req->path_normalized.len - prefix), pid)) == OP_NONE)
        return 0;
    if ((op == OP_LOGOUT || op == OP_REVOKE) && (csrf = kve_session_csrf_check(req, &self->ep->conf)) != KVE_SESSION_CSRF_OK) {
        kve_log(KVE_LOG_WARN, "session", "endpoint %s: a cross-site %s was refused (%s)", self->ep->conf.endpoint,
                op == OP_LOGOUT ? "logout" : "revoke", kve_session_csrf_reason(csrf));
        answer_text(req, 403, "Forbidden", "cross-site request refused\n");
        return 0;
    }
    er = h2o_mem_alloc_shared(&req->pool, sizeof(*er), on_req_dispose);
    memset(er, 0, sizeof(*er));
    er->magic = ENDPOINT_REQ_MAGIC;
    er->op = op;
    er->all = op == OP_LOGOUT && query_all(req);
    memcpy(er->pid, pid, sizeof(er->pid));
    er->req = req;
    er->ep = self->ep;
    *h2o_req_getenv(req, H2O_STRLIT(ENDPOINT_ENV), 1) = h2o_iovec_init((char *)er, 0);
    return -1; /* on to the session handler, which loads the session */
}

/* --- the operations (the session is loaded) --- */

/* `flags`: KVE_KV_BATCH_ACK for the changes (a logout, a revocation): on a store with min_replicas_ack they are answered
 * only once enough replicas have them, so a failover cannot bring an ended session back after a 204 */
static int start(endpoint_req_t *er, kve_session_users_cmd_t *c, kve_kv_reply_cb on_reply, kve_kv_done_cb on_done, unsigned flags)
{
    /* LIST of max_sessions (<= 1000) members: four short strings each, well under 2 MiB with the driver's costs */
    kve_kv_batch_opts_t opts = {er->ep->conf.store_timeout_ms, NULL, 2 * 1024 * 1024, 0, flags};
    kve_kv_t *kv = kve_session__link(er->st);
    int err;
    if (kv == NULL || (er->batch = kve_kv_batch(kv, &c->cmd, 1, &opts, on_reply, on_done, er, &err)) == NULL)
        return -1;
    return 0;
}

static int reply_failed(int err, const kve_kv_reply_t *reply)
{
    return err != 0 || reply->type == KVE_REPLY_ERROR || reply->type == KVE_REPLY_TOO_BIG;
}

static void on_write_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    endpoint_req_t *er = data;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    if (reply_failed(err, reply))
        er->failed = 1;
}

/* the end of a logout (er->failed: the store did not end the session): the cookie goes whatever the store said */
static void finish_logout(endpoint_req_t *er)
{
    add_clearing_cookie(er->req, &er->ep->conf);
    if (er->failed) {
        kve_log(KVE_LOG_WARN, "session", "endpoint %s: a logout could not end the session in the store%s", er->ep->conf.endpoint,
                er->not_acked ? " (not acknowledged by enough replicas)" : "");
        answer_text(er->req, 503, "Service Unavailable",
                    er->not_acked ? "logout not acknowledged by enough replicas: try again\n" : "session store unavailable\n");
    } else {
        kve_session__count(er->st, KVE_METRICS_SESSION_DESTROYED);
        answer_204(er->req);
    }
}

static void on_logout_done(void *data, const kve_kv_batch_result_t *result)
{
    endpoint_req_t *er = data;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    er->batch = NULL;
    if (result->err != 0)
        er->failed = 1;
    er->not_acked = result->err == KVE_ENOACK;
    finish_logout(er);
}

static void logout(endpoint_req_t *er)
{
    kve_session_req_t *st = er->st;
    kve_session_users_cmd_t c;
    if (er->all && st->uid != NULL)
        kve_session_users_revoke_all(&er->req->pool, &c, st->key, st->uid);
    else
        kve_session_users_destroy(&er->req->pool, &c, st->key, st->uid);
    if (start(er, &c, on_write_reply, on_logout_done, KVE_KV_BATCH_ACK) != 0) {
        er->failed = 1;
        finish_logout(er);
    }
}

static long long int_of(const kve_kv_reply_t *r)
{
    return r->type == KVE_REPLY_STRING && r->len != 0 ? strtoll(r->str, NULL, 10) : 0;
}

/* LIST's reply: KVE_SESSION_LIST_FIELDS strings per session; calls `each` for each well-formed one */
static void each_listed(endpoint_req_t *er, const kve_kv_reply_t *reply,
                        void (*each)(endpoint_req_t *er, const char *pid, const kve_kv_reply_t *const *f))
{
    for (size_t i = 0; i + KVE_SESSION_LIST_FIELDS <= reply->elements; i += KVE_SESSION_LIST_FIELDS) {
        const kve_kv_reply_t *const *f = (const kve_kv_reply_t *const *)reply->element + i;
        char pid[KVE_SESSION_PID_SIZE];
        if (f[0]->type != KVE_REPLY_STRING ||
            kve_session_users_pid(pid, er->st->self->k_pid, sizeof(er->st->self->k_pid), f[0]->str, f[0]->len) != 0)
            continue;
        each(er, pid, f);
    }
}

static int is_current(endpoint_req_t *er, const kve_kv_reply_t *hash)
{
    size_t keylen = strlen(er->st->key);
    return hash->len == KVE_SESSION_HASH_HEX && memcmp(er->st->key + keylen - KVE_SESSION_HASH_HEX, hash->str, hash->len) == 0;
}

static void list_one(endpoint_req_t *er, const char *pid, const kve_kv_reply_t *const *f)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:b}", "pid", pid, "created", (json_int_t)int_of(f[1]), "last_seen",
                          (json_int_t)int_of(f[2]), "current", is_current(er, f[0]));
    if (f[3]->type == KVE_REPLY_STRING && f[3]->len != 0)
        json_object_set_new(o, "auth_time", json_integer((json_int_t)int_of(f[3])));
    if (f[4]->type == KVE_REPLY_STRING && f[4]->len != 0) /* printable ASCII by construction: a JSON string as is */
        json_object_set_new(o, "ua", json_stringn(f[4]->str, KVE_MIN(f[4]->len, KVE_SESSION_UA_MAX)));
    if (f[5]->type == KVE_REPLY_STRING && f[5]->len != 0)
        json_object_set_new(o, "ip_prefix", json_stringn(f[5]->str, KVE_MIN(f[5]->len, 64)));
    json_array_append_new(er->list, o);
}

static void on_list_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    endpoint_req_t *er = data;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    if (reply_failed(err, reply) || reply->type != KVE_REPLY_ARRAY) {
        er->failed = 1;
        return;
    }
    er->list = json_array();
    each_listed(er, reply, list_one);
}

static void on_list_done(void *data, const kve_kv_batch_result_t *result)
{
    endpoint_req_t *er = data;
    char *body;
    h2o_iovec_t b;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    er->batch = NULL;
    if (result->err != 0 || er->failed || er->list == NULL) {
        answer_text(er->req, 503, "Service Unavailable", "session store unavailable\n");
        return;
    }
    json_t *o = json_object();
    json_object_set(o, "sessions", er->list);
    body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    KVE_ASSERT(body != NULL);
    b = h2o_strdup(&er->req->pool, body, strlen(body));
    free(body);
    answer(er->req, 200, "OK", "application/json", b.base, b.len);
}

static void find_one(endpoint_req_t *er, const char *pid, const kve_kv_reply_t *const *f)
{
    size_t keylen = strlen(er->st->key);
    if (er->target[0] != '\0' || strcmp(pid, er->pid) != 0)
        return;
    /* the same slot's prefix "kvs1:{T}:s:" and the member's hash */
    memcpy(er->target, er->st->key, keylen - KVE_SESSION_HASH_HEX);
    memcpy(er->target + keylen - KVE_SESSION_HASH_HEX, f[0]->str, KVE_SESSION_HASH_HEX);
    er->target[keylen] = '\0';
    er->target_current = is_current(er, f[0]);
}

static void on_find_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    endpoint_req_t *er = data;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    if (reply_failed(err, reply) || reply->type != KVE_REPLY_ARRAY) {
        er->failed = 1;
        return;
    }
    each_listed(er, reply, find_one);
}

static void on_revoke_done(void *data, const kve_kv_batch_result_t *result)
{
    endpoint_req_t *er = data;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    er->batch = NULL;
    if (result->err != 0 || er->failed) {
        answer_text(er->req, 503, "Service Unavailable",
                    result->err == KVE_ENOACK ? "revocation not acknowledged by enough replicas: try again\n"
                                              : "session store unavailable\n");
        return;
    }
    kve_session__count(er->st, KVE_METRICS_SESSION_DESTROYED);
    if (er->target_current) /* the caller ended its own session */
        add_clearing_cookie(er->req, &er->ep->conf);
    answer_204(er->req);
}

static void on_find_done(void *data, const kve_kv_batch_result_t *result)
{
    endpoint_req_t *er = data;
    kve_session_users_cmd_t c;
    KVE_CHECK_OBJ(er, ENDPOINT_REQ_MAGIC);
    er->batch = NULL;
    if (result->err != 0 || er->failed) {
        answer_text(er->req, 503, "Service Unavailable", "session store unavailable\n");
    } else if (er->target[0] == '\0') { /* not one of the user's sessions (another user's, ended, or never issued) */
        answer_text(er->req, 404, "Not Found", "no such session\n");
    } else {
        kve_session_users_destroy(&er->req->pool, &c, er->target, er->st->uid);
        if (start(er, &c, on_write_reply, on_revoke_done, KVE_KV_BATCH_ACK) != 0)
            answer_text(er->req, 503, "Service Unavailable", "session store unavailable\n");
    }
}

static void list(endpoint_req_t *er, kve_kv_reply_cb on_reply, kve_kv_done_cb on_done)
{
    kve_session_users_cmd_t c;
    kve_session_users_list(&er->req->pool, &c, er->st->key, er->st->uid, kve_session__now_ms());
    if (start(er, &c, on_reply, on_done, 0) != 0)
        answer_text(er->req, 503, "Service Unavailable", "session store unavailable\n");
}

/* auth: the token the session handler minted for this request */
static void auth(endpoint_req_t *er)
{
    h2o_req_t *req = er->req;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-session-jwt"), -1);
    if (i == -1) {
        answer_text(req, 503, "Service Unavailable", "no token\n");
        return;
    }
    er->jwt = req->headers.entries[i].value;
    answer_204(req);
}

static int op_on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    endpoint_req_t *er = state(req);
    kve_session_req_t *st = kve_session__state(req);

    if (er == NULL || st == NULL) { /* the gate and the session handler ran first: cannot happen */
        answer_text(req, 500, "Internal Server Error", "internal error\n");
        return 0;
    }
    er->st = st;
    if (st->status == KVE_SESSION_UNAVAILABLE) {
        if (er->op == OP_LOGOUT)
            add_clearing_cookie(req, &er->ep->conf);
        answer_text(req, 503, "Service Unavailable", "session store unavailable\n");
    } else if (st->status != KVE_SESSION_ACTIVE) {
        if (er->op == OP_LOGOUT) { /* nothing to end; a cookie naming no session is cleared by the session filter */
            if (!st->clear_cookie)
                add_clearing_cookie(req, &er->ep->conf);
            answer_204(req);
        } else {
            answer_text(req, 401, "Unauthorized", "no session\n");
        }
    } else if (er->op == OP_LOGOUT) {
        logout(er);
    } else if (st->uid == NULL) { /* an anonymous (data-only) session has no user */
        answer_text(req, 401, "Unauthorized", "no logged-in session\n");
    } else if (er->op == OP_AUTH) {
        auth(er);
    } else {
        list(er, er->op == OP_LIST ? on_list_reply : on_find_reply, er->op == OP_LIST ? on_list_done : on_find_done);
    }
    return 0;
}

/* after the session filter (which strips every x-session-* header): /auth's token */
static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    endpoint_req_t *er = state(req);
    if (er != NULL && er->jwt.base != NULL && req->res.status == 204)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-session-jwt"), 0, NULL, er->jwt.base, er->jwt.len);
    h2o_setup_next_ostream(req, slot);
}

static void on_op_dispose(h2o_handler_t *_self)
{
    endpoint_handler_t *self = (void *)_self;
    OPENSSL_cleanse(self->ep, sizeof(*self->ep));
    free(self->ep);
}

void kve_session_endpoint_register(h2o_pathconf_t *pathconf, const kve_session_conf_t *route_conf)
{
    endpoint_t *ep = kve_malloc(sizeof(*ep));
    endpoint_handler_t *gate, *op;
    h2o_filter_t *f;

    ep->conf = *route_conf; /* strings borrowed from the route's */
    ep->conf.mode = KVE_SESSION_OPTIONAL;
    ep->conf.write = 0;
    ep->conf.csrf.enabled = 1; /* the endpoints' POST and DELETE are always checked (the route's csrf.origins apply) */
    /* h2o 2.2.5 puts a new filter first (h2o_create_filter prepends): ours is created before the session filter so
     * that it runs after it */
    f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
    gate = (void *)h2o_create_handler(pathconf, sizeof(*gate));
    gate->super.on_req = gate_on_req;
    gate->ep = ep;
    kve_session_register(pathconf, &ep->conf); /* the session handler, and the session filter */
    op = (void *)h2o_create_handler(pathconf, sizeof(*op));
    op->super.on_req = op_on_req;
    op->super.dispose = on_op_dispose;
    op->ep = ep;
}
