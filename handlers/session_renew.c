/* SPDX-License-Identifier: MIT */
/*
 * Session renewal (see session_renew.h). The new handle keeps the old one's slot tag, so RENEW touches one slot: the
 * old key, the new key and (for a user) the user's index. RENEW itself is the compare-and-set: whoever finds the
 * session not yet renewed moves it; the others learn where it went.
 */
#include "handlers/session_renew.h"
#include "handlers/session_metrics.h"
#include "handlers/session_script.h"
#include "handlers/session_users.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* "kvs1:{" tag "}:s:" */
#define KEY_PREFIX_LEN (6 + KVE_SESSION_TAG_CHARS + 4)

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int kve_session__same_slot_key(const char *key, const char *v, size_t len)
{
    if (len != KVE_SESSION_KEY_SIZE - 1 || memcmp(v, key, KEY_PREFIX_LEN) != 0)
        return 0;
    for (size_t i = KEY_PREFIX_LEN; i != len; ++i)
        if (hex_digit(v[i]) < 0)
            return 0;
    return 1;
}

void kve_session__pid_of_key(char out[KVE_SESSION_PID_SIZE], const uint8_t *k_pid, size_t klen, const char *key)
{
    KVE_ASSERT(kve_session_users_pid(out, k_pid, klen, key + KEY_PREFIX_LEN, KVE_SESSION_HASH_HEX) == 0); /* `key` is checked */
}

char *kve_session__index_key(h2o_mem_pool_t *pool, const char *key, const char *uid)
{
    return kve_session_users_index(pool, key, uid).base;
}

static int64_t int_value(const kve_kv_reply_t *v)
{
    char buf[24];
    if (v->len == 0 || v->len >= sizeof(buf))
        return 0;
    memcpy(buf, v->str, v->len);
    buf[v->len] = '\0';
    return strtoll(buf, NULL, 10);
}

static int is_field(const kve_kv_reply_t *n, const char *name)
{
    size_t len = strlen(name);
    return n->len == len && memcmp(n->str, name, len) == 0;
}

/* the HGETALL pairs of a LOAD reply, copied into the pool (strings only: LOAD returns nothing else) */
static kve_kv_reply_t *copy_pairs(h2o_mem_pool_t *pool, const kve_kv_reply_t *reply)
{
    kve_kv_reply_t *r = h2o_mem_alloc_pool(pool, sizeof(*r));

    memset(r, 0, sizeof(*r));
    r->type = KVE_REPLY_ARRAY;
    r->elements = reply->elements;
    r->element = h2o_mem_alloc_pool(pool, sizeof(*r->element) * reply->elements);
    for (size_t i = 0; i != reply->elements; ++i) {
        const kve_kv_reply_t *e = reply->element[i];
        kve_kv_reply_t *c = h2o_mem_alloc_pool(pool, sizeof(*c));
        memset(c, 0, sizeof(*c));
        c->type = e->type;
        if (e->type == KVE_REPLY_STRING) {
            c->str = h2o_strdup(pool, e->str, e->len).base;
            c->len = e->len;
        }
        r->element[i] = c;
    }
    return r;
}

int kve_session__renew_check(kve_session_req_t *st, const kve_kv_reply_t *reply, int64_t now)
{
    const kve_kv_reply_t *live = NULL;
    int64_t since = 0;

    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const kve_kv_reply_t *n = reply->element[i], *v = reply->element[i + 1];
        if (n->type != KVE_REPLY_STRING || v->type != KVE_REPLY_STRING)
            continue;
        if (is_field(n, "@key"))
            live = v;
        else if (is_field(n, "uid") && v->len != 0 && v->len <= KVE_SESSION_UID_MAX)
            st->uid = h2o_strdup(&st->req->pool, v->str, v->len).base;
        else if (is_field(n, "crt") || is_field(n, "rnw"))
            since = KVE_MAX(since, int_value(v));
    }
    if (live != NULL) { /* a renewed handle in its grace window: the session lives on at its new key */
        if (kve_session__same_slot_key(st->key, live->str, live->len))
            memcpy(st->key, live->str, live->len + 1);
        else
            kve_log(KVE_LOG_WARN, "session", "route %s: LOAD named a live key of another slot; ignored", st->self->aud);
        return 0;
    }
    if (st->self->conf->renew_after_ms == 0 || since <= 0 || now - since < (int64_t)st->self->conf->renew_after_ms)
        return 0;
    st->loaded = copy_pairs(&st->req->pool, reply);
    return 1;
}

static void on_renew_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_session_req_t *st = data;

    KVE_CHECK_OBJ(st, KVE_SESSION_REQ_MAGIC);
    if (err != 0 || reply->type != KVE_REPLY_ARRAY || reply->elements == 0 || reply->element[0]->type != KVE_REPLY_INTEGER) {
        kve_log(KVE_LOG_WARN, "session", "route %s: RENEW failed (%s); the session goes on at its handle", st->self->aud,
                err != 0 ? "store unavailable" : "refused by the store");
    } else if (reply->element[0]->integer == 1) {
        memcpy(st->handle, st->new_handle, sizeof(st->handle));
        memcpy(st->key, st->new_key, sizeof(st->key));
        st->renewed = 1;
        kve_session__count(st, KVE_METRICS_SESSION_ROTATED);
    } else if (reply->elements >= 2 && reply->element[1]->type == KVE_REPLY_STRING) { /* another request renewed first */
        const kve_kv_reply_t *live = reply->element[1];
        if (kve_session__same_slot_key(st->key, live->str, live->len))
            memcpy(st->key, live->str, live->len + 1);
    }
    OPENSSL_cleanse(st->new_handle, sizeof(st->new_handle));
    st->new_handle[0] = '\0', st->new_key[0] = '\0';
}

static void on_renew_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_session_req_t *st = data;

    KVE_CHECK_OBJ(st, KVE_SESSION_REQ_MAGIC);
    st->batch = NULL;
    kve_session__renewed(st);
}

void kve_session__renew_command(kve_session_req_t *st, kve_kv_command_t *cmd)
{
    const kve_session_conf_t *conf = st->self->conf;
    h2o_mem_pool_t *pool = &st->req->pool;
    const char **argv = h2o_mem_alloc_pool(pool, 9 * sizeof(*argv));
    size_t *argvlen = h2o_mem_alloc_pool(pool, 9 * sizeof(*argvlen)), n = 2;
    const char *index = st->uid != NULL ? kve_session__index_key(pool, st->key, st->uid) : NULL;
    char num[24];

    /* the new handle: the old one's slot tag (the same slot), a fresh secret */
    kve_session_new_handle(st->new_handle, NULL);
    memcpy(st->new_handle, st->handle, KVE_SESSION_TAG_CHARS);
    kve_session_key(st->new_key, st->new_handle);
    kve_kv_script_argv(&kve_session_scripts()->renew, 0, argv, argvlen);
    argv[n] = index != NULL ? "3" : "2", argvlen[n++] = 1;
    argv[n] = st->key, argvlen[n++] = strlen(st->key);
    argv[n] = st->new_key, argvlen[n++] = strlen(st->new_key);
    if (index != NULL)
        argv[n] = index, argvlen[n++] = strlen(index);
    argvlen[n] = (size_t)snprintf(num, sizeof(num), "%lld", (long long)kve_session__now_ms());
    argv[n] = h2o_strdup(pool, num, argvlen[n]).base, ++n;
    argvlen[n] = (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)conf->renew_after_ms);
    argv[n] = h2o_strdup(pool, num, argvlen[n]).base, ++n;
    argvlen[n] = (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)conf->renew_grace_ms);
    argv[n] = h2o_strdup(pool, num, argvlen[n]).base, ++n;
    *cmd = KVE_KV_COMMAND(n, argv, argvlen);
    cmd->script = &kve_session_scripts()->renew;
}

int kve_session__renew_start(kve_session_req_t *st)
{
    kve_kv_command_t cmd;
    kve_kv_batch_opts_t opts = {st->self->conf->store_timeout_ms, NULL, 1024};
    kve_kv_t *kv = kve_session__link(st);
    int err;

    kve_session__renew_command(st, &cmd);
    if (kv == NULL || (st->batch = kve_kv_batch(kv, &cmd, 1, &opts, on_renew_reply, on_renew_done, st, &err)) == NULL) {
        OPENSSL_cleanse(st->new_handle, sizeof(st->new_handle));
        st->new_handle[0] = '\0', st->new_key[0] = '\0';
        return -1;
    }
    return 0;
}
