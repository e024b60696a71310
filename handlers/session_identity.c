/* SPDX-License-Identifier: MIT */
/*
 * What a session route tells its upstream about the session (docs/sessions.md §8): the X-Session-JWT, HS256 or
 * ES256, taken from the thread's token cache (signed and kept on a miss; jwt_cache_entries: 0 signs every request),
 * and the optional plain identity headers. The ES256 key is loaded once when the route is registered.
 */
#include "handlers/session_es256.h"
#include "handlers/session_internal.h"
#include "handlers/session_jwt.h"
#include "handlers/session_jwt_cache.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static h2o_iovec_t to_pool(h2o_req_t *req, char *token)
{
    h2o_iovec_t v = h2o_strdup(&req->pool, token, strlen(token));
    free(token);
    return v;
}

/* a new token for `c` (malloc'd): HS256 with jwt_key, or ES256 with the route's parsed key (OpenSSL, ~40 µs; not
 * libjwt, which would re-parse the PEM: ~0.5 ms) */
static char *sign(kve_session_handler_t *self, const kve_session_claims_t *c, char *err, size_t errlen)
{
    if (self->es256 == NULL)
        return kve_session_jwt_mint(self->conf->jwt_key, strlen(self->conf->jwt_key), c, err, errlen);
    return kve_session_jwt_mint_es256(self->es256, c, err, errlen);
}

h2o_iovec_t kve_session__token(kve_session_handler_t *self, h2o_req_t *req, const char *key, const kve_session_claims_t *c,
                               char *err, size_t errlen)
{
    kve_jwt_cache_t *cache =
        self->conf->jwt_cache_entries > 0 ? h2o_context_get_handler_context(req->conn->ctx, &self->super) : NULL;
    char *token;

    if ((token = sign(self, c, err, errlen)) == NULL)
        return h2o_iovec_init(NULL, 0);
    if (cache != NULL)
        kve_jwt_cache_put(cache, key, c->sver, c->iat, c->ttl_sec, token, strlen(token), c->sid, c->sub);
    return to_pool(req, token);
}

/* the session's `ver` field in LOAD's HGETALL pairs (-1: none) */
static int64_t reply_ver(const kve_kv_reply_t *reply)
{
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const kve_kv_reply_t *n = reply->element[i], *v = reply->element[i + 1];
        char buf[24];
        if (n->type == KVE_REPLY_STRING && n->len == 3 && memcmp(n->str, "ver", 3) == 0 && v->type == KVE_REPLY_STRING &&
            v->len != 0 && v->len < sizeof(buf)) {
            memcpy(buf, v->str, v->len);
            buf[v->len] = '\0';
            return strtoll(buf, NULL, 10);
        }
    }
    return -1;
}

int kve_session__identity_cached(kve_session_handler_t *self, h2o_req_t *req, const char *key, const kve_kv_reply_t *reply,
                                 char **uid)
{
    kve_jwt_cache_t *cache;
    kve_jwt_cache_hit_t hit;
    int64_t ver;

    if (self->conf->jwt_cache_entries <= 0 || (ver = reply_ver(reply)) < 0)
        return 0;
    cache = h2o_context_get_handler_context(req->conn->ctx, &self->super);
    if (!kve_jwt_cache_get(cache, key, ver, (int64_t)time(NULL), &hit))
        return 0;
    h2o_iovec_t v = h2o_strdup(&req->pool, hit.token.base, hit.token.len);
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-session-jwt"), 0, NULL, v.base, v.len);
    *uid = hit.sub != NULL ? h2o_strdup(&req->pool, hit.sub, SIZE_MAX).base : NULL;
    kve_session__plain_headers(self, req, *uid, hit.sid);
    return 1;
}

/* at most one line a minute per thread: a user whose id cannot go in a header would otherwise log on every request */
static void log_not_sent(kve_session_handler_t *self)
{
    static __thread time_t last;
    time_t now = time(NULL);
    if (now - last < 60)
        return;
    last = now;
    kve_log(KVE_LOG_WARN, "session",
            "route %s: a user id that is not visible ASCII is not sent in a plain header (at most one such line a minute)",
            self->aud);
}

/* a user id goes in a plain header only when it is visible ASCII (no CR/LF, no control bytes, no UTF-8) */
static int visible_ascii(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; ++s)
        if (*s < 0x21 || *s > 0x7e)
            return 0;
    return 1;
}

void kve_session__plain_headers(kve_session_handler_t *self, h2o_req_t *req, const char *uid, const char *pid)
{
    if (self->header_user.base != NULL && uid != NULL) {
        if (visible_ascii(uid))
            h2o_add_header_by_str(&req->pool, &req->headers, self->header_user.base, self->header_user.len, 0, NULL, uid,
                                  strlen(uid));
        else
            log_not_sent(self);
    }
    if (self->header_sid.base != NULL && pid != NULL) { /* h2o keeps a reference to the value: `pid` may be on the stack */
        h2o_iovec_t v = h2o_strdup(&req->pool, pid, strlen(pid));
        h2o_add_header_by_str(&req->pool, &req->headers, self->header_sid.base, self->header_sid.len, 0, NULL, v.base, v.len);
    }
}

static void on_context_init(h2o_handler_t *_self, h2o_context_t *ctx)
{
    kve_session_handler_t *self = (void *)_self;
    h2o_context_set_handler_context(ctx, _self, kve_jwt_cache_new((size_t)self->conf->jwt_cache_entries));
}

static void on_context_dispose(h2o_handler_t *_self, h2o_context_t *ctx)
{
    kve_jwt_cache_free(h2o_context_get_handler_context(ctx, _self));
}

static h2o_iovec_t lower(const char *name)
{
    h2o_iovec_t v;
    if (name == NULL)
        return h2o_iovec_init(NULL, 0);
    v = h2o_strdup(NULL, name, strlen(name));
    h2o_strtolower(v.base, v.len);
    return v;
}

void kve_session__identity_init(kve_session_handler_t *self)
{
    const kve_session_conf_t *conf = self->conf;
    char err[256];

    self->header_user = lower(conf->headers.user);
    self->header_sid = lower(conf->headers.sid);
    if (conf->jwt_alg == KVE_SESSION_JWT_ES256) {
        self->es256 = kve_es256_key_load(conf->jwt_private_key, strlen(conf->jwt_private_key), err, sizeof(err));
        KVE_ASSERT(self->es256 != NULL); /* the configuration's check loaded it already */
    }
    if (conf->jwt_cache_entries > 0) {
        self->super.on_context_init = on_context_init;
        self->super.on_context_dispose = on_context_dispose;
    }
}

void kve_session__identity_dispose(kve_session_handler_t *self)
{
    kve_es256_key_free(self->es256);
    self->es256 = NULL;
    free(self->header_user.base);
    free(self->header_sid.base);
}

void kve_session__derivation_secret(const kve_session_handler_t *self, uint8_t *buf, size_t *len)
{
    if (self->conf->jwt_key != NULL && self->conf->jwt_key[0] != '\0') {
        *len = strlen(self->conf->jwt_key);
        memcpy(buf, self->conf->jwt_key, *len);
    } else {
        kve_es256_key_secret(self->es256, buf);
        *len = 32;
    }
}
