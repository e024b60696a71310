/* SPDX-License-Identifier: MIT */
/* The login carry-over (see session_carry.h). */
#include "handlers/session_carry.h"
#include "proxy/log.h"

#include <string.h>

static int is_uid(const kve_kv_reply_t *n, const kve_kv_reply_t *v)
{
    return n->len == 3 && memcmp(n->str, "uid", 3) == 0 && v->len != 0;
}

/* a "d:<key>" field whose key the route carries */
static int carried(const kve_session_conf_t *conf, const kve_kv_reply_t *n)
{
    if (n->len <= 2 || memcmp(n->str, "d:", 2) != 0)
        return 0;
    if (conf->login_carry.size == 1 && strcmp(conf->login_carry.entries[0], "*") == 0)
        return 1;
    for (size_t i = 0; i != conf->login_carry.size; ++i) {
        const char *k = conf->login_carry.entries[i];
        if (strlen(k) == n->len - 2 && memcmp(k, n->str + 2, n->len - 2) == 0)
            return 1;
    }
    return 0;
}

void kve_session__carry_keep(kve_session_req_t *st, const kve_kv_reply_t *reply)
{
    const kve_session_conf_t *conf = st->self->conf;
    size_t n = 0;

    if (conf->login_carry.size == 0 || !conf->write)
        return;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const kve_kv_reply_t *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != KVE_REPLY_STRING || v->type != KVE_REPLY_STRING)
            continue;
        if (is_uid(k, v))
            return; /* a logged-in session: a Login switches users and carries nothing */
        n += carried(conf, k);
    }
    if (n == 0)
        return;
    st->carry = h2o_mem_alloc_pool(&st->req->pool, 2 * n * sizeof(*st->carry));
    st->carry_size = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const kve_kv_reply_t *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != KVE_REPLY_STRING || v->type != KVE_REPLY_STRING || !carried(conf, k))
            continue;
        st->carry[2 * st->carry_size] = h2o_strdup(&st->req->pool, k->str + 2, k->len - 2);
        st->carry[2 * st->carry_size + 1] = h2o_strdup(&st->req->pool, v->str, v->len);
        ++st->carry_size;
    }
}

/* CREATE's measure of an object: key bytes plus compact JSON bytes (null: 0) */
static size_t data_bytes(json_t *obj)
{
    const char *k;
    json_t *v;
    size_t total = 0;
    json_object_foreach(obj, k, v)
    {
        total += strlen(k);
        if (!json_is_null(v))
            total += json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    return total;
}

json_t *kve_session__carry_merge(kve_session_req_t *st, json_t *data)
{
    json_t *all;
    size_t added = 0;

    if (st->carry_size == 0 || st->status != KVE_SESSION_ACTIVE)
        return json_incref(data);
    all = data != NULL ? json_copy(data) : json_object();
    for (size_t i = 0; i != st->carry_size; ++i) {
        h2o_iovec_t k = st->carry[2 * i], v = st->carry[2 * i + 1];
        json_t *value;
        if (json_object_getn(all, k.base, k.len) != NULL)
            continue; /* the Login's own data wins */
        if ((value = json_loadb(v.base, v.len, JSON_DECODE_ANY, NULL)) == NULL) {
            kve_log(KVE_LOG_WARN, "session", "route %s: login_carry: a data field does not hold JSON; not carried", st->self->aud);
            continue;
        }
        json_object_setn_new(all, k.base, k.len, value);
        ++added;
    }
    if (added != 0 && data_bytes(all) > st->self->conf->max_data) {
        kve_log(KVE_LOG_WARN, "session",
                "route %s: login_carry: the carried data (%zu keys) would pass max_data; dropped, the login goes on", st->self->aud,
                added);
        json_decref(all);
        return json_incref(data);
    }
    return all;
}
