/* SPDX-License-Identifier: MIT */
/*
 * The session filter (see session.h): every x-session-* response header is removed before the response leaves,
 * whatever the route's settings. On routes with `write`, a forwarded response below 500 may carry commands:
 * X-Session-Logout (current, or all of the user's sessions; wins), X-Session-Login ({"sub": ..., "data": {...}}: a new handle on
 * the user's slot, the old one deleted first), X-Session-Set (a JSON object merged key by key, null deletes; no session yet: a new
 * anonymous one, never the client's unknown handle), X-Session-Rotate (1: a new handle at once, session_rotate.c; then
 * the Set of the same response). A command that writes holds the response (an output stream that keeps the first
 * send) until the store answers; then the cookie is set or cleared. A failed Login or Rotate (and a failed Set with
 * set_failure: error) releases a JSON 503 instead of the upstream's response (session_fail.c). A request that renewed
 * its handle (session_renew.c) gets the new cookie unless a command set or cleared it.
 */
#include "handlers/session_carry.h"
#include "handlers/session_fail.h"
#include "handlers/session_internal.h"
#include "handlers/session_metrics.h"
#include "handlers/session_rotate.h"
#include "handlers/session_script.h"
#include "handlers/session_sig.h"
#include "handlers/session_users.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

enum { CMD_NONE = 0, CMD_SET, CMD_LOGIN, CMD_LOGOUT, CMD_ROTATE };

typedef struct st_kve_session_ostream_t {
    h2o_ostream_t super;
    kve_session_req_t *st;
    int waiting, have_pending;
    H2O_VECTOR(h2o_iovec_t) bufs;
    h2o_send_state_t state;
    /** st->fail_body went out instead of the upstream's body (which is dropped) */
    int replaced;
} kve_session_ostream_t;

/* the upstream's commands, taken off the response */
typedef struct st_commands_t {
    h2o_iovec_t set, login, logout;
    int invalid;
    h2o_iovec_t rotate;
    /** X-Session-Sig (strict-signature mode, session_sig.h) */
    h2o_iovec_t sig;
} commands_t;

static void take_commands(h2o_req_t *req, commands_t *cmds)
{
    for (ssize_t i = 0; i < (ssize_t)req->res.headers.size; ++i) {
        h2o_header_t *h = req->res.headers.entries + i;
        h2o_iovec_t *slot = NULL;
        if (!kve_session__owned_field(*h->name))
            continue;
        if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("x-session-set")))
            slot = &cmds->set;
        else if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("x-session-login")))
            slot = &cmds->login;
        else if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("x-session-logout")))
            slot = &cmds->logout;
        else if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("x-session-rotate")))
            slot = &cmds->rotate;
        else if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("x-session-sig")))
            slot = &cmds->sig;
        if (slot == NULL || slot->base != NULL || h->value.len > KVE_SESSION_COMMAND_MAX)
            cmds->invalid = 1; /* an unknown name, a command twice, a value too long: stripped, no effect */
        else
            *slot = h2o_strdup(&req->pool, h->value.base, h->value.len);
        h2o_delete_header(&req->res.headers, i--);
    }
}

static void add_cookie(h2o_req_t *req, kve_session_handler_t *self, const char *handle)
{
    h2o_iovec_t v = kve_session_set_cookie(&req->pool, self->conf->cookie_name, handle, self->conf->same_site, self->conf->secure);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, v.base, v.len);
    /* a response that sets or clears the cookie is never stored by a shared cache */
    h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"), 1);
}

/* argv for a command: grows in the request's pool */
typedef struct st_args_t {
    const char **v;
    size_t *len;
    size_t n, cap;
} args_t;

static void arg(h2o_mem_pool_t *pool, args_t *a, const char *s, size_t len)
{
    if (a->n == a->cap) {
        size_t cap = a->cap == 0 ? 16 : a->cap * 2;
        const char **v = h2o_mem_alloc_pool(pool, cap * sizeof(*v));
        size_t *l = h2o_mem_alloc_pool(pool, cap * sizeof(*l));
        if (a->n != 0)
            memcpy(v, a->v, a->n * sizeof(*v)), memcpy(l, a->len, a->n * sizeof(*l));
        a->v = v, a->len = l, a->cap = cap;
    }
    a->v[a->n] = s, a->len[a->n] = len, ++a->n;
}

static void arg_int(h2o_mem_pool_t *pool, args_t *a, long long v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    h2o_iovec_t s = h2o_strdup(pool, buf, (size_t)n);
    arg(pool, a, s.base, s.len);
}

/* the data pairs of a JSON object: key, compact JSON ("" for null); -1 for a key out of bounds */
static int data_args(h2o_mem_pool_t *pool, args_t *a, json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        size_t klen = strlen(k);
        char *text;
        if (klen == 0 || klen > KVE_SESSION_DATA_KEY_MAX)
            return -1;
        arg(pool, a, h2o_strdup(pool, k, klen).base, klen);
        if (json_is_null(v)) {
            arg(pool, a, "", 0);
            continue;
        }
        if ((text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
            return -1;
        h2o_iovec_t s = h2o_strdup(pool, text, strlen(text));
        free(text);
        arg(pool, a, s.base, s.len);
    }
    return 0;
}

static json_t *parse_object(h2o_iovec_t v)
{
    json_t *o = json_loadb(v.base, v.len, JSON_REJECT_DUPLICATES, NULL);
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* CREATE's arguments for a new session at st->new_key: uid (NULL: anonymous), data (NULL: none); -1 when invalid */
static int create_args(kve_session_req_t *st, args_t *a, const char *uid, json_t *data)
{
    h2o_mem_pool_t *pool = &st->req->pool;
    const kve_session_conf_t *conf = st->self->conf;
    int64_t now = kve_session__now_ms();
    const char *sha[2];
    size_t shalen[2];

    kve_kv_script_argv(&kve_session_scripts()->create, 0, sha, shalen);
    arg(pool, a, sha[0], shalen[0]), arg(pool, a, sha[1], shalen[1]);
    if (uid != NULL) { /* a logged-in session joins its user's index (same slot) */
        h2o_iovec_t index = kve_session_users_index(pool, st->new_key, uid);
        arg(pool, a, "2", 1), arg(pool, a, st->new_key, strlen(st->new_key)), arg(pool, a, index.base, index.len);
    } else {
        arg(pool, a, "1", 1), arg(pool, a, st->new_key, strlen(st->new_key));
    }
    arg_int(pool, a, now), arg_int(pool, a, now + (int64_t)conf->absolute_ms);
    arg_int(pool, a, (long long)KVE_MIN(conf->idle_ms, conf->absolute_ms));
    arg(pool, a, uid != NULL ? uid : "", uid != NULL ? strlen(uid) : 0);
    arg_int(pool, a, (long long)conf->max_data);
    arg_int(pool, a, (long long)conf->max_sessions);
    if (uid != NULL) { /* the listing's summaries of a logged-in session */
        h2o_iovec_t ua = kve_session_users_ua(pool, st->req), ip = kve_session_users_ip(pool, st->req);
        arg(pool, a, ua.base, ua.len), arg(pool, a, ip.base, ip.len);
    } else {
        arg(pool, a, "", 0), arg(pool, a, "", 0);
    }
    return data != NULL ? data_args(pool, a, data) : 0;
}

static int patch_args(kve_session_req_t *st, args_t *a, json_t *data, const char *key)
{
    h2o_mem_pool_t *pool = &st->req->pool;
    const char *sha[2];
    size_t shalen[2];

    kve_kv_script_argv(&kve_session_scripts()->patch, 0, sha, shalen);
    arg(pool, a, sha[0], shalen[0]), arg(pool, a, sha[1], shalen[1]);
    arg(pool, a, "1", 1), arg(pool, a, key, strlen(key));
    arg_int(pool, a, kve_session__now_ms()), arg_int(pool, a, (long long)st->self->conf->idle_ms);
    arg_int(pool, a, (long long)st->self->conf->max_data);
    return data_args(pool, a, data);
}

/* --- applying a command --- */

/* on down the chain: the upstream's data, or once a failure's JSON body in its place (the generator is not asked for
 * more; it is stopped when the request ends) */
static void send_down(kve_session_ostream_t *o, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    if (o->st->fail_body.base == NULL) {
        h2o_ostream_send_next(&o->super, req, bufs, n, state);
    } else if (!o->replaced) {
        o->replaced = 1;
        h2o_ostream_send_next(&o->super, req, &o->st->fail_body, 1, H2O_SEND_STATE_FINAL);
    }
}

static void release(kve_session_ostream_t *o)
{
    o->waiting = 0;
    if (o->have_pending) {
        o->have_pending = 0;
        send_down(o, o->st->req, o->bufs.entries, o->bufs.size, o->state);
    }
}

static void on_write_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_session_req_t *st = data;
    KVE_CHECK_OBJ(st, KVE_SESSION_REQ_MAGIC);
    if (err != 0 || reply->type == KVE_REPLY_ERROR || reply->type == KVE_REPLY_TOO_BIG) {
        if (st->write_err == 0)
            kve_log(KVE_LOG_WARN, "session", "route %s: a session write failed (%s)", st->self->aud,
                    err != 0 ? "store unavailable" : "refused by the store");
        st->write_err = 1;
        st->write_failed |= i < 8 * sizeof(st->write_failed) ? 1u << i : 0;
    }
}

static void on_write_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_session_req_t *st = data;
    h2o_req_t *req = st->req;

    KVE_CHECK_OBJ(st, KVE_SESSION_REQ_MAGIC);
    st->batch = NULL;
    if (result->err != 0)
        st->write_err = 1;
    if (st->write_err)
        kve_session__count(st, KVE_METRICS_SESSION_UNAVAILABLE);
    /* first the failures that replace the response (its headers go), then the cookie */
    if (st->command == CMD_LOGIN && st->write_err)
        kve_session__fail(st, "login");
    else if (st->command == CMD_ROTATE && (st->write_failed & 1) != 0)
        kve_session__fail(st, "rotate");
    st->set_failed |= (st->command == CMD_SET && st->write_err) || (st->command == CMD_ROTATE && (st->write_failed & 2) != 0);
    if (st->set_failed && st->self->conf->set_failure == KVE_SESSION_SET_FAILURE_ERROR)
        kve_session__fail(st, "set");
    switch (st->command) {
    case CMD_LOGOUT: /* the cookie goes whatever the store said */
        if (!st->write_err && st->status == KVE_SESSION_ACTIVE)
            kve_session__count(st, KVE_METRICS_SESSION_DESTROYED);
        add_cookie(req, st->self, NULL);
        break;
    case CMD_LOGIN:
        if (st->write_err) { /* never half a login: no new cookie; the old handle may be gone already */
            if (st->status == KVE_SESSION_ACTIVE || st->clear_cookie)
                add_cookie(req, st->self, NULL);
        } else {
            kve_session__count(st, KVE_METRICS_SESSION_CREATED);
            add_cookie(req, st->self, st->new_handle);
        }
        break;
    case CMD_ROTATE: /* failed: the old handle may be gone already */
        if ((st->write_failed & 1) == 0)
            kve_session__count(st, KVE_METRICS_SESSION_ROTATED);
        add_cookie(req, st->self, (st->write_failed & 1) == 0 ? st->new_handle : NULL);
        break;
    case CMD_SET:
        if (!st->write_err && st->new_handle[0] != '\0') {
            kve_session__count(st, KVE_METRICS_SESSION_CREATED);
            add_cookie(req, st->self, st->new_handle);
        } else if (st->clear_cookie)
            add_cookie(req, st->self, NULL);
        else if (st->renewed)
            add_cookie(req, st->self, st->handle);
        break;
    }
    if (st->ostr != NULL)
        release(st->ostr);
}

static void on_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    kve_session_ostream_t *o = (void *)_self;
    if (!o->waiting) {
        send_down(o, req, bufs, n, state);
        return;
    }
    /* the generator keeps its buffers until it is asked to proceed (h2o's throttle filter relies on the same) */
    h2o_vector_reserve(&req->pool, &o->bufs, n);
    if (n != 0)
        memcpy(o->bufs.entries, bufs, n * sizeof(*bufs));
    o->bufs.size = n;
    o->state = state;
    o->have_pending = 1;
}

/* builds the batch of the command; 0 when it was sent, -1 when nothing was (then nothing changed) */
static int send_command(kve_session_req_t *st, const commands_t *cmds)
{
    h2o_mem_pool_t *pool = &st->req->pool;
    kve_kv_command_t batch[2];
    args_t cmd = {0};
    kve_session_users_cmd_t end;
    size_t n = 0;
    json_t *obj = NULL, *sub, *data = NULL;
    kve_kv_batch_opts_t opts = {st->self->conf->store_timeout_ms};
    kve_kv_t *kv = kve_session__link(st);
    int err, ret = -1;

    if ((st->command == CMD_LOGOUT || st->command == CMD_LOGIN) && st->status == KVE_SESSION_ACTIVE) {
        if (st->command == CMD_LOGOUT && st->logout_all && st->uid != NULL) /* every session of the user */
            kve_session_users_revoke_all(pool, &end, st->key, st->uid);
        else /* this session, and its member of the user's index */
            kve_session_users_destroy(pool, &end, st->key, st->uid);
        batch[n++] = end.cmd;
    }
    if (st->command == CMD_LOGIN) {
        uint8_t tag[KVE_SESSION_TAG_BYTES];
        if ((obj = parse_object(cmds->login)) == NULL || !json_is_string(sub = json_object_get(obj, "sub")) ||
            json_string_length(sub) == 0 || json_string_length(sub) > KVE_SESSION_UID_MAX ||
            strlen(json_string_value(sub)) != json_string_length(sub) ||
            ((data = json_object_get(obj, "data")) != NULL && !json_is_object(data)) ||
            json_object_size(obj) != (data != NULL ? 2 : 1))
            goto Invalid;
        kve_session_user_tag(st->self->k_tag, sizeof(st->self->k_tag), json_string_value(sub), json_string_length(sub), tag);
        kve_session_new_handle(st->new_handle, tag);
        kve_session_key(st->new_key, st->new_handle);
        json_t *all = kve_session__carry_merge(st, data); /* login_carry: the anonymous session's listed keys too */
        int bad = create_args(st, &cmd, json_string_value(sub), all);
        json_decref(all);
        if (bad != 0)
            goto Invalid;
    } else if (st->command == CMD_SET) {
        if ((obj = parse_object(cmds->set)) == NULL)
            goto Invalid;
        if (st->status == KVE_SESSION_ACTIVE) {
            if (patch_args(st, &cmd, obj, st->key) != 0)
                goto Invalid;
        } else { /* lazily created, always under a fresh handle */
            kve_session_new_handle(st->new_handle, NULL);
            kve_session_key(st->new_key, st->new_handle);
            if (create_args(st, &cmd, NULL, obj) != 0)
                goto Invalid;
        }
    } else if (st->command == CMD_ROTATE) { /* then the Set of the same response, if any, on the new key */
        kve_session__rotate_command(st, &batch[n++]);
        if (cmds->set.base != NULL && ((obj = parse_object(cmds->set)) == NULL || patch_args(st, &cmd, obj, st->new_key) != 0)) {
            kve_log(KVE_LOG_WARN, "session", "route %s: an invalid X-Session-Set command was dropped", st->self->aud);
            cmd.n = 0;
        }
    }
    if (cmd.n != 0) {
        batch[n] = KVE_KV_COMMAND(cmd.n, cmd.v, cmd.len);
        batch[n++].script = (st->command == CMD_SET && st->status == KVE_SESSION_ACTIVE) || st->command == CMD_ROTATE
                                ? &kve_session_scripts()->patch
                                : &kve_session_scripts()->create;
    }
    /* Login's DESTROY must run before its CREATE, Rotate's ROTATE before its Set: no NOSCRIPT fallback reorders them */
    opts.flags = KVE_KV_BATCH_ORDERED;
    if (n == 0) {
        ret = 1; /* nothing to write (a logout without a session) */
    } else if (kv != NULL && (st->batch = kve_kv_batch(kv, batch, n, &opts, on_write_reply, on_write_done, st, &err)) != NULL) {
        ret = 0;
    }
    json_decref(obj);
    return ret;
Invalid:
    kve_session__count(st, KVE_METRICS_SESSION_COMMAND_INVALID);
    kve_log(KVE_LOG_WARN, "session", "route %s: an invalid %s command was dropped", st->self->aud,
            st->command == CMD_LOGIN ? "X-Session-Login" : "X-Session-Set");
    json_decref(obj);
    st->new_handle[0] = '\0';
    return 2;
}

static int pick_command(kve_session_req_t *st, const commands_t *cmds)
{
    h2o_iovec_t lo = cmds->logout;
    if (lo.base != NULL) {
        if (h2o_memis(lo.base, lo.len, H2O_STRLIT("current")))
            return CMD_LOGOUT;
        if (h2o_memis(lo.base, lo.len, H2O_STRLIT("all"))) {
            st->logout_all = 1; /* an anonymous session has no user: only itself ends */
            return CMD_LOGOUT;
        }
        kve_log(KVE_LOG_WARN, "session", "route %s: an invalid X-Session-Logout command was dropped", st->self->aud);
        kve_session__count(st, KVE_METRICS_SESSION_COMMAND_INVALID);
    }
    if (cmds->login.base != NULL)
        return CMD_LOGIN;
    if (cmds->rotate.base != NULL && !kve_session__rotate_valid(cmds->rotate))
        kve_log(KVE_LOG_WARN, "session", "route %s: an invalid X-Session-Rotate command was dropped", st->self->aud);
    else if (cmds->rotate.base != NULL && st->status == KVE_SESSION_ACTIVE) /* no session: nothing to rotate */
        return CMD_ROTATE;
    if (cmds->set.base != NULL)
        return CMD_SET;
    return CMD_NONE;
}

/* strict-signature mode (session_sig.h): 1 when the route has no command_key or X-Session-Sig signs the commands;
 * else 0: every command is dropped (counted, logged without values) */
static int commands_signed(kve_session_req_t *st, const commands_t *cmds)
{
    const char *key = st->self->conf->command_key;
    kve_session_sig_cmds_t c = {cmds->login, cmds->set, cmds->rotate, cmds->logout};
    if (key == NULL || kve_session_sig_valid(&st->req->pool, key, strlen(key), &c, cmds->sig))
        return 1;
    kve_session__count(st, KVE_METRICS_SESSION_COMMAND_INVALID);
    kve_log(KVE_LOG_WARN, "session", "route %s: X-Session-* commands dropped: %s X-Session-Sig (session.command_key is set)",
            st->self->aud, cmds->sig.base == NULL ? "no" : "a wrong");
    return 0;
}

/* the output stream that holds the response while the store works (waiting), or replaces it after a failure */
static h2o_ostream_t **add_ostream(h2o_req_t *req, kve_session_req_t *st, h2o_ostream_t **slot, int waiting)
{
    kve_session_ostream_t *o = (void *)h2o_add_ostream(req, sizeof(*o), slot);
    o->super.do_send = on_send;
    o->st = st;
    o->waiting = waiting;
    o->have_pending = 0;
    o->replaced = 0;
    memset(&o->bufs, 0, sizeof(o->bufs));
    st->ostr = o;
    return &o->super.next;
}

/* the store is unavailable: a Login or Rotate the upstream believes done, or a Set with set_failure: error, is a 503 */
static void not_applied(kve_session_req_t *st, const commands_t *cmds)
{
    kve_log(KVE_LOG_WARN, "session", "route %s: X-Session-* commands not applied: the store is unavailable", st->self->aud);
    if (cmds->login.base != NULL)
        kve_session__fail(st, "login");
    else if (cmds->rotate.base != NULL && kve_session__rotate_valid(cmds->rotate))
        kve_session__fail(st, "rotate");
    else if (cmds->set.base != NULL && st->self->conf->set_failure == KVE_SESSION_SET_FAILURE_ERROR)
        kve_session__fail(st, "set");
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    kve_session_req_t *st = kve_session__state(req);
    commands_t cmds = {{NULL, 0}, {NULL, 0}, {NULL, 0}, 0};
    int sent = 1;

    take_commands(req, &cmds); /* always: no X-Session-* header ever reaches a client */
    if (st == NULL)
        goto Next;
    if (cmds.invalid) {
        kve_session__count(st, KVE_METRICS_SESSION_COMMAND_INVALID);
        kve_log(KVE_LOG_WARN, "session", "route %s: unknown, repeated or oversized X-Session-* response headers were dropped",
                st->self->aud);
    }
    st->command = CMD_NONE;
    if (st->phase == KVE_SESSION_PHASE_FORWARD && req->res.status < 500 &&
        (cmds.set.base || cmds.login.base || cmds.logout.base || cmds.rotate.base)) {
        if (!st->self->conf->write) {
            kve_session__count(st, KVE_METRICS_SESSION_COMMAND_INVALID);
            kve_log(KVE_LOG_WARN, "session", "route %s: X-Session-* commands from an upstream without session.write",
                    st->self->aud);
        } else if (!commands_signed(st, &cmds)) {
            /* none applies */
        } else if (st->status == KVE_SESSION_UNAVAILABLE && cmds.logout.base == NULL) /* a logout still clears the cookie */
            not_applied(st, &cmds);
        else
            st->command = pick_command(st, &cmds);
    }
    if (st->command != CMD_NONE && (sent = send_command(st, &cmds)) == 0) {
        slot = add_ostream(req, st, slot, 1);
        goto Next;
    } else if (st->command != CMD_NONE && sent == -1) {
        st->write_err = 1;
        st->write_failed = ~0u;
        on_write_done(st, &(kve_kv_batch_result_t){0});
    } else if (st->command == CMD_LOGOUT) { /* no session to delete: the cookie goes all the same */
        add_cookie(req, st->self, NULL);
    } else if (st->clear_cookie) {
        add_cookie(req, st->self, NULL);
    } else if (st->renewed) { /* the request renewed the handle */
        add_cookie(req, st->self, st->handle);
    }
    if (st->fail_body.base != NULL) /* the failure's JSON replaces the upstream's body */
        slot = add_ostream(req, st, slot, 0);
Next:
    h2o_setup_next_ostream(req, slot);
}

void kve_session__register_filter(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}
