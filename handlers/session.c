/* SPDX-License-Identifier: MIT */
/*
 * The session handler's request path (see session.h): strip what kvedge owns, read the cookie, LOAD the session with
 * one batch, then forward with the JWT, answer 401 (required route, no session) or 503 (required route, store
 * unavailable). A cookie that is malformed or names no session is never adopted: the request goes on anonymous and
 * the response clears the cookie.
 */
#include "handlers/session_internal.h"
#include "handlers/session_active.h"
#include "handlers/session_carry.h"
#include "handlers/session_csrf.h"
#include "handlers/session_jwt.h"
#include "handlers/session_metrics.h"
#include "handlers/session_renew.h"
#include "handlers/session_script.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

kve_session_req_t *kve_session__state(h2o_req_t *req)
{
    h2o_iovec_t *env = h2o_req_getenv(req, H2O_STRLIT(KVE_SESSION_ENV), 0);
    kve_session_req_t *st;
    if (env == NULL || env->base == NULL)
        return NULL;
    st = (void *)env->base;
    KVE_CHECK_OBJ(st, KVE_SESSION_REQ_MAGIC);
    return st;
}

kve_kv_t *kve_session__link(kve_session_req_t *st)
{
    return kve_thread_link(kve_server_thread(st->req->conn->ctx), st->self->conf->store_id, 0);
}

int64_t kve_session__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kve_session__owned_field(h2o_iovec_t name)
{
    static const char prefix[] = "x-session-";
    if (name.len < sizeof(prefix) - 1)
        return 0;
    for (size_t i = 0; i != sizeof(prefix) - 1; ++i) {
        char c = name.base[i];
        c = c == '_' ? '-' : (char)h2o_tolower(c);
        if (c != prefix[i])
            return 0;
    }
    return 1;
}

static void on_dispose(void *p)
{
    kve_session_req_t *st = p;
    if (st->batch != NULL)
        kve_kv_batch_cancel(st->batch);
    st->batch = NULL;
    OPENSSL_cleanse(st->handle, sizeof(st->handle));
    OPENSSL_cleanse(st->new_handle, sizeof(st->new_handle));
    st->magic = 0;
}

static void strip_owned(h2o_req_t *req)
{
    for (ssize_t i = 0; i < (ssize_t)req->headers.size; ++i)
        if (kve_session__owned_field(*req->headers.entries[i].name))
            h2o_delete_header(&req->headers, i--);
}

static const char *const status_names[] = {"anonymous", "active", "unavailable"};

static void add_status(kve_session_req_t *st)
{
    const char *v = status_names[st->status];
    h2o_add_header_by_str(&st->req->pool, &st->req->headers, H2O_STRLIT("x-session-status"), 0, NULL, v, strlen(v));
}

/* the request goes to the proxy (or is answered 401/503 on a required route); returns what on_req returns */
static int proceed(kve_session_req_t *st, int from_on_req)
{
    h2o_req_t *req = st->req;
    int required = st->self->conf->mode == KVE_SESSION_REQUIRED;

    if (st->status == KVE_SESSION_ACTIVE) {
        kve_session__count(st, KVE_METRICS_SESSION_LOADED);
        /* the live key's hash (after a forwarder, the session it named); h2o's timestamp of the request: no clock read */
        kve_session_active_note(st->self->active, kve_server_thread(req->conn->ctx)->index, st->key + KVE_SESSION_KEY_SIZE - 1 - 64,
                                st->uid != NULL, (uint64_t)req->processed_at.at.tv_sec);
    } else if (st->status == KVE_SESSION_UNAVAILABLE)
        kve_session__count(st, KVE_METRICS_SESSION_UNAVAILABLE);
    else if (st->clear_cookie && st->handle[0] != '\0') /* a well-formed handle LOAD did not find */
        kve_session__count(st, KVE_METRICS_SESSION_EXPIRED);
    if (required && st->status == KVE_SESSION_ANONYMOUS)
        kve_session__count(st, KVE_METRICS_SESSION_REFUSED);

    if (required && st->status != KVE_SESSION_ACTIVE) {
        st->phase = KVE_SESSION_PHASE_ANSWERED;
        if (st->status == KVE_SESSION_UNAVAILABLE)
            h2o_send_error_503(req, "Service Unavailable", "session store unavailable\n", 0);
        else
            h2o_send_error_generic(req, 401, "Unauthorized", "session required\n", 0);
        return 0;
    }
    add_status(st);
    st->phase = KVE_SESSION_PHASE_FORWARD;
    if (from_on_req)
        return -1;
    h2o_delegate_request(req, &st->self->super);
    return 0;
}

/* the JSON values of the session's d: fields, as one object (a field that does not parse is left out and logged) */
static void add_data(json_t *data, const kve_kv_reply_t *name, const kve_kv_reply_t *value)
{
    json_t *v = json_loadb(value->str, value->len, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        kve_log(KVE_LOG_WARN, "session", "a session data field does not hold JSON; left out of the JWT");
        return;
    }
    json_object_setn_new(data, name->str + 2, name->len - 2, v);
}

static int64_t int_field(const kve_kv_reply_t *v)
{
    char buf[24];
    if (v->len == 0 || v->len >= sizeof(buf))
        return 0;
    memcpy(buf, v->str, v->len);
    buf[v->len] = '\0';
    return strtoll(buf, NULL, 10);
}

/* the loaded session (HGETALL pairs) as the request's JWT; -1 when no token can be made */
static int inject_jwt(kve_session_req_t *st, const kve_kv_reply_t *reply)
{
    kve_session_handler_t *self = st->self;
    kve_session_claims_t c = {self->aud, NULL, NULL, 0, 0, (int64_t)time(NULL), (int64_t)(self->conf->jwt_ttl_ms / 1000), NULL};
    char pid[KVE_SESSION_PID_SIZE], err[160], *uid = NULL;
    json_t *data;

    if (kve_session__identity_cached(self, st->req, st->key, reply, &st->uid)) /* a token for this version already */
        return 0;
    data = json_object();
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const kve_kv_reply_t *n = reply->element[i], *v = reply->element[i + 1];
        if (n->type != KVE_REPLY_STRING || v->type != KVE_REPLY_STRING)
            continue;
        if (n->len > 2 && memcmp(n->str, "d:", 2) == 0)
            add_data(data, n, v);
        else if (n->len == 3 && memcmp(n->str, "uid", 3) == 0 && v->len != 0)
            uid = h2o_strdup(&st->req->pool, v->str, v->len).base, st->uid = v->len <= KVE_SESSION_UID_MAX ? uid : NULL;
        else if (n->len == 3 && memcmp(n->str, "ver", 3) == 0)
            c.sver = int_field(v);
        else if (n->len == 4 && memcmp(n->str, "auth", 4) == 0)
            c.auth_time = int_field(v) / 1000;
    }
    kve_session__pid_of_key(pid, self->k_pid, sizeof(self->k_pid), st->key); /* the live session's (renewal) */
    c.sub = uid, c.sid = pid, c.data = data;
    h2o_iovec_t v = kve_session__token(self, st->req, st->key, &c, err, sizeof(err));
    json_decref(data);
    if (v.base == NULL) {
        kve_log(KVE_LOG_ERROR, "session", "route %s: no JWT for a session: %s", self->aud, err);
        return -1;
    }
    h2o_add_header_by_str(&st->req->pool, &st->req->headers, H2O_STRLIT("x-session-jwt"), 0, NULL, v.base, v.len);
    kve_session__plain_headers(self, st->req, uid, pid);
    return 0;
}

static void on_load_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_session_req_t *st = data;

    KVE_CHECK_OBJ(st, KVE_SESSION_REQ_MAGIC);
    if (err != 0 || reply->type == KVE_REPLY_ERROR || reply->type == KVE_REPLY_TOO_BIG) {
        if (err == 0)
            kve_log(KVE_LOG_WARN, "session", "route %s: the session store refused LOAD", st->self->aud);
        st->status = KVE_SESSION_UNAVAILABLE;
    } else if (reply->type == KVE_REPLY_ARRAY && reply->elements >= 2) {
        kve_session__carry_keep(st, reply); /* login_carry: what a Login in the response would carry over */
        if (kve_session__renew_check(st, reply, kve_session__now_ms()) == 0) /* else RENEW first (on_load_done) */
            st->status = inject_jwt(st, reply) == 0 ? KVE_SESSION_ACTIVE : KVE_SESSION_UNAVAILABLE;
    } else { /* nil: unknown, idle-expired or past its absolute deadline: never adopted */
        st->status = KVE_SESSION_ANONYMOUS;
        st->clear_cookie = 1;
    }
}

static void on_load_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_session_req_t *st = data;

    KVE_CHECK_OBJ(st, KVE_SESSION_REQ_MAGIC);
    st->batch = NULL;
    if (result->err != 0)
        st->status = KVE_SESSION_UNAVAILABLE;
    else if (st->loaded != NULL) { /* due for renewal: RENEW, then kve_session__renewed goes on */
        if (kve_session__renew_start(st) != 0)
            kve_session__renewed(st); /* not sent: on at the old handle */
        return;
    }
    proceed(st, 0);
}

void kve_session__renewed(kve_session_req_t *st)
{
    st->status = inject_jwt(st, st->loaded) == 0 ? KVE_SESSION_ACTIVE : KVE_SESSION_UNAVAILABLE;
    st->loaded = NULL;
    proceed(st, 0);
}

static int start_load(kve_session_req_t *st)
{
    const kve_session_conf_t *conf = st->self->conf;
    char now[24], idle[24], touch[24];
    const char *argv[7];
    size_t argvlen[7];
    kve_kv_command_t cmd;
    kve_kv_batch_opts_t opts = {conf->store_timeout_ms, NULL, 64 * 1024};
    kve_kv_t *kv = kve_session__link(st);
    int err;

    kve_kv_script_argv(&kve_session_scripts()->load, 0, argv, argvlen);
    argv[2] = "1", argvlen[2] = 1;
    argv[3] = st->key, argvlen[3] = strlen(st->key);
    argvlen[4] = (size_t)snprintf(now, sizeof(now), "%lld", (long long)kve_session__now_ms()), argv[4] = now;
    argvlen[5] = (size_t)snprintf(idle, sizeof(idle), "%llu", (unsigned long long)conf->idle_ms), argv[5] = idle;
    argvlen[6] = (size_t)snprintf(touch, sizeof(touch), "%llu", (unsigned long long)conf->touch_threshold_ms), argv[6] = touch;
    cmd = KVE_KV_COMMAND(7, argv, argvlen);
    cmd.script = &kve_session_scripts()->load;
    if (kv == NULL || (st->batch = kve_kv_batch(kv, &cmd, 1, &opts, on_load_reply, on_load_done, st, &err)) == NULL)
        return -1;
    return 0;
}

/* the CSRF gate refused the request: 403 before the store or the upstream is asked */
static int refuse_cross_site(kve_session_req_t *st, kve_session_csrf_verdict_t why)
{
    kve_log(KVE_LOG_WARN, "session", "route %s: an unsafe request from another origin was refused (CSRF gate: %s)", st->self->aud,
            kve_session_csrf_reason(why));
    kve_session__count(st, KVE_METRICS_SESSION_CSRF_REFUSED);
    st->phase = KVE_SESSION_PHASE_ANSWERED;
    h2o_send_error_generic(st->req, 403, "Forbidden", "cross-site request refused\n", 0);
    return 0;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    kve_session_handler_t *self = (void *)_self;
    kve_session_req_t *st = h2o_mem_alloc_shared(&req->pool, sizeof(*st), on_dispose);
    h2o_iovec_t value;
    kve_session_cookie_t found;
    kve_session_csrf_verdict_t csrf;

    memset(st, 0, sizeof(*st));
    st->magic = KVE_SESSION_REQ_MAGIC;
    st->req = req;
    st->self = self;
    *h2o_req_getenv(req, H2O_STRLIT(KVE_SESSION_ENV), 1) = h2o_iovec_init((char *)st, 0);
    /* first, whatever happens next: no client-sent copy of a header kvedge owns reaches the upstream */
    strip_owned(req);
    if ((csrf = kve_session_csrf_check(req, self->conf)) != KVE_SESSION_CSRF_OK)
        return refuse_cross_site(st, csrf);
    found =
        kve_session_cookie_find(req->headers.entries, req->headers.size, self->conf->cookie_name, self->cookie_name_len, &value);
    if (found == KVE_SESSION_COOKIE_OK)
        memcpy(st->handle, value.base, KVE_SESSION_HANDLE_LEN);
    if (!self->conf->forward_cookie)
        kve_session_cookie_strip(&req->pool, &req->headers, self->conf->cookie_name, self->cookie_name_len);
    if (found != KVE_SESSION_COOKIE_OK) {
        st->clear_cookie = found == KVE_SESSION_COOKIE_INVALID; /* malformed or doubled: no store lookup */
        if (st->clear_cookie)
            kve_session__count(st, KVE_METRICS_SESSION_COOKIE_INVALID);
        return proceed(st, 1);
    }
    kve_session_key(st->key, st->handle);
    if (start_load(st) != 0) {
        st->status = KVE_SESSION_UNAVAILABLE;
        return proceed(st, 1);
    }
    return 0;
}

/* HMAC-SHA256(jwt_key, label) (ES256 without jwt_key: a secret derived from the private key): the keys of the slot
 * tags and public ids */
static void derive(const kve_session_handler_t *self, const char *label, uint8_t out[32])
{
    uint8_t secret[KVE_SESSION_DERIVE_MAX];
    size_t secret_len = 0;
    unsigned len = 0;
    kve_session__derivation_secret(self, secret, &secret_len);
    KVE_ASSERT(HMAC(EVP_sha256(), secret, (int)secret_len, (const uint8_t *)label, strlen(label), out, &len) != NULL);
    KVE_ASSERT(len == 32);
    OPENSSL_cleanse(secret, sizeof(secret));
}

static void on_handler_dispose(h2o_handler_t *_self)
{
    kve_session_handler_t *self = (void *)_self;
    OPENSSL_cleanse(self->k_tag, sizeof(self->k_tag));
    OPENSSL_cleanse(self->k_pid, sizeof(self->k_pid));
    kve_session__identity_dispose(self);
    kve_session_active_free(self->active);
}

kve_session_handler_t *kve_session__handler_of(h2o_handler_t *handler)
{
    return handler->on_req == on_req ? (kve_session_handler_t *)handler : NULL;
}

void kve_session_register(h2o_pathconf_t *pathconf, const kve_session_conf_t *conf)
{
    kve_session_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    KVE_ASSERT(conf->jwt_alg == KVE_SESSION_JWT_ES256 ||
               (conf->jwt_key != NULL && strlen(conf->jwt_key) >= KVE_SESSION_JWT_MIN_KEY));
    self->super.on_req = on_req;
    self->super.dispose = on_handler_dispose;
    self->conf = conf;
    kve_session__identity_init(self);
    self->active = kve_session_active_new();
    self->cookie_name_len = strlen(conf->cookie_name);
    self->metrics_route = kve_session__metrics_route(conf->route != NULL ? conf->route : "?");
    self->aud = conf->audience != NULL && conf->audience[0] != '\0' ? conf->audience : conf->route != NULL ? conf->route : "kvedge";
    derive(self, "kvedge session tag v1", self->k_tag);
    derive(self, "kvedge session pid v1", self->k_pid);
    kve_session_scripts();
    kve_session__register_filter(pathconf);
}
