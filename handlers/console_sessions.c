/* SPDX-License-Identifier: MIT */
/* The console's Sessions page: counters, a user's sessions, revoke one or all (see console_sessions.h). */
#include "handlers/console_sessions.h"
#include "handlers/console_sessions_parse.h"
#include "handlers/session_active.h"
#include "handlers/session_internal.h"
#include "handlers/session_users.h"
#include "proxy/common.h"
#include "proxy/json.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/server.h"

#include <string.h>
#include <time.h>

#define OP_MAGIC 0xc0553510
/* LIST of max_sessions (<= 1000) members, six short strings each: as the session endpoint allows */
#define MAX_REPLY (2 * 1024 * 1024)

/* the events of kvedge_session_total, in kve_metrics_session_t's order */
static const char *const events[] = {"created", "loaded",      "rotated",        "expired",         "destroyed",
                                     "refused", "unavailable", "cookie_invalid", "command_invalid", "csrf_refused"};
_Static_assert(sizeof(events) / sizeof(events[0]) == KVE_METRICS_SESSION_NUM, "a session event without a name");

/* the routes whose sessions are one set: same store, same keys (see console_sessions.h) */
typedef struct st_group_t {
    kve_session_handler_t *h; /* the first handler seen: its keys, store and timeout */
    /** every handler of the group (routes and endpoints): their active-session sketches are merged */
    kve_session_handler_t *all[KVE_CONSOLE_SESSIONS_MAX_ROUTES * 2];
    size_t num_all;
    const char *routes[KVE_CONSOLE_SESSIONS_MAX_ROUTES];
    size_t metrics[KVE_CONSOLE_SESSIONS_MAX_ROUTES];
    size_t num_routes;
} group_t;

typedef struct st_groups_t {
    group_t g[KVE_CONSOLE_SESSIONS_MAX_GROUPS];
    size_t n;
    int truncated;
} groups_t;

static int same_group(const kve_session_handler_t *a, const kve_session_handler_t *b)
{
    return a->conf->store_id == b->conf->store_id && memcmp(a->k_tag, b->k_tag, sizeof(a->k_tag)) == 0 &&
           memcmp(a->k_pid, b->k_pid, sizeof(a->k_pid)) == 0;
}

static void add_handler(groups_t *gs, kve_session_handler_t *h)
{
    const char *route = h->conf->route != NULL ? h->conf->route : "?";
    group_t *g = NULL;

    for (size_t i = 0; i != gs->n && g == NULL; ++i)
        if (same_group(gs->g[i].h, h))
            g = gs->g + i;
    if (g == NULL) {
        if (gs->n == KVE_CONSOLE_SESSIONS_MAX_GROUPS) {
            gs->truncated = 1;
            return;
        }
        g = gs->g + gs->n++;
        memset(g, 0, sizeof(*g));
        g->h = h;
    }
    if (g->num_all != KVE_ARRAY_SIZE(g->all))
        g->all[g->num_all++] = h;
    else
        gs->truncated = 1;
    for (size_t i = 0; i != g->num_routes; ++i)
        if (strcmp(g->routes[i], route) == 0)
            return; /* a route's endpoint: the same sessions, the same series */
    if (g->num_routes == KVE_CONSOLE_SESSIONS_MAX_ROUTES) {
        gs->truncated = 1;
        return;
    }
    g->routes[g->num_routes] = route;
    g->metrics[g->num_routes++] = h->metrics_route;
}

static void scan_path(groups_t *gs, h2o_pathconf_t *path)
{
    for (size_t i = 0; i != path->handlers.size; ++i) {
        kve_session_handler_t *h = kve_session__handler_of(path->handlers.entries[i]);
        if (h != NULL)
            add_handler(gs, h);
    }
}

/* every session group of the request's configuration generation */
static void find_groups(h2o_req_t *req, groups_t *gs)
{
    gs->n = 0;
    gs->truncated = 0;
    for (h2o_hostconf_t **host = req->conn->ctx->globalconf->hosts; *host != NULL; ++host) {
        for (size_t i = 0; i != (*host)->paths.size; ++i)
            scan_path(gs, (*host)->paths.entries + i);
        scan_path(gs, &(*host)->fallback_path);
    }
}

static const char *store_name(const group_t *g)
{
    return g->h->conf->store != NULL ? g->h->conf->store : "default";
}

static void render_group_head(kve_buf_t *buf, const group_t *g)
{
    kve_buf_printf(buf, "\"store\":");
    kve_json_string(buf, store_name(g), strlen(store_name(g)));
    kve_buf_printf(buf, ",\"routes\":[");
    for (size_t i = 0; i != g->num_routes; ++i) {
        if (i != 0)
            kve_buf_putc(buf, ',');
        kve_json_string(buf, g->routes[i], strlen(g->routes[i]));
    }
    kve_buf_putc(buf, ']');
}

static void send_buf(h2o_req_t *req, int status, kve_buf_t *buf)
{
    kve_console_send_json(req, status, buf->base, buf->len);
    kve_buf_dispose(buf);
}

/* --- the summary: counters, no store access --- */

/* the sessions with a request in the window, logged-in and anonymous: every handler's sketches of every thread merged */
static void render_active(kve_buf_t *buf, const group_t *g, h2o_req_t *req)
{
    kve_session_active_sum_t *sum = h2o_mem_alloc_pool(&req->pool, sizeof(*sum));
    memset(sum, 0, sizeof(*sum));
    for (size_t i = 0; i != g->num_all; ++i)
        if (g->all[i]->active != NULL)
            kve_session_active_merge(g->all[i]->active, (uint64_t)time(NULL), sum);
    kve_buf_printf(buf, ",\"active\":{\"window_s\":%d,\"logged_in\":%.0f,\"anonymous\":%.0f}", KVE_SESSION_ACTIVE_MINUTES * 60,
                   kve_session_active_estimate(sum->regs[KVE_SESSION_ACTIVE_LOGGED_IN]),
                   kve_session_active_estimate(sum->regs[KVE_SESSION_ACTIVE_ANONYMOUS]));
}

void kve_console_sessions_summary(kve_console_call_t *call)
{
    kve_metrics_thread_t *threads[256];
    kve_buf_t buf = KVE_BUF_INIT;
    groups_t *gs = h2o_mem_alloc_pool(&call->req->pool, sizeof(*gs));
    size_t nt;

    find_groups(call->req, gs);
    nt = kve_metrics_threads_acquire(threads, KVE_ARRAY_SIZE(threads));
    kve_buf_printf(&buf, "{\"groups\":[");
    for (size_t i = 0; i != gs->n; ++i) {
        const group_t *g = gs->g + i;
        kve_buf_printf(&buf, "%s{", i ? "," : "");
        render_group_head(&buf, g);
        render_active(&buf, g, call->req);
        kve_buf_printf(&buf, ",\"events\":{");
        for (size_t e = 0; e != KVE_METRICS_SESSION_NUM; ++e) {
            uint64_t n = 0;
            for (size_t r = 0; r != g->num_routes; ++r)
                for (size_t t = 0; t != nt; ++t)
                    n += __atomic_load_n(&threads[t]->routes[KVE_MIN(g->metrics[r], (size_t)KVE_METRICS_MAX_ROUTES - 1)].session[e],
                                         __ATOMIC_RELAXED);
            kve_buf_printf(&buf, "%s\"%s\":%llu", e ? "," : "", events[e], (unsigned long long)n);
        }
        kve_buf_printf(&buf, "}}");
    }
    kve_metrics_threads_release();
    kve_buf_printf(&buf, "],\"truncated\":%s}", gs->truncated ? "true" : "false");
    send_buf(call->req, 200, &buf);
}

/* revocations count as the session middleware's own logouts do: `destroyed` of the group's first route */
static void count_destroyed(h2o_req_t *req, const group_t *g, size_t n)
{
    kve_metrics_thread_t *m = kve_server_thread(req->conn->ctx)->metrics;
    if (m != NULL && n != 0 && g->num_routes != 0)
        kve_metrics_session_add(m, g->metrics[0], KVE_METRICS_SESSION_DESTROYED, n);
}

/* --- list, revoke, revoke all: one command per group, the groups one after the other --- */

enum { OP_LIST, OP_REVOKE, OP_REVOKE_ALL };

typedef struct st_op_t {
    uint32_t magic;
    int kind;
    h2o_req_t *req;
    kve_console_sessions_args_t args;
    groups_t groups;
    /** the group being asked */
    size_t at;
    kve_kv_batch_t *batch;
    /** the command of the group being asked failed, or its reply is not of the expected shape */
    int failed;
    /** list: the sessions rendered so far (JSON array members) */
    kve_buf_t out;
    /** sessions listed or revoked */
    size_t count;
    /** a session key on the user's slot of the group being asked (its hash: 64 zeros, no session's) */
    char key[KVE_SESSION_KEY_SIZE];
    /** revoke: the key of the session whose pid matched (in the group being asked), and DESTROY is running */
    char target[KVE_SESSION_KEY_SIZE];
    int destroying;
} op_t;

static void on_op_dispose(void *p)
{
    op_t *op = p;
    if (op->batch != NULL)
        kve_kv_batch_cancel(op->batch);
    op->batch = NULL;
    kve_buf_dispose(&op->out);
    op->magic = 0;
}

static void step(op_t *op);

static void fail_unavailable(op_t *op)
{
    const group_t *g = op->groups.g + op->at;
    kve_buf_t buf = KVE_BUF_INIT, msg = KVE_BUF_INIT;
    kve_buf_printf(&msg, "session store \"%s\" unavailable", store_name(g));
    kve_buf_putc(&msg, '\0');
    kve_json_error(&buf, msg.base);
    kve_buf_dispose(&msg);
    kve_log(KVE_LOG_WARN, "console", "sessions: the session store %s failed or did not answer", store_name(g));
    send_buf(op->req, 503, &buf);
}

/* a decimal store field ("" or junk: 0) */
static long long num_of(const kve_kv_reply_t *r)
{
    long long v = 0;
    if (r->type == KVE_REPLY_INTEGER)
        return r->integer;
    if (r->type != KVE_REPLY_STRING || r->len > 18)
        return 0;
    for (size_t i = 0; i != r->len; ++i) {
        if (r->str[i] < '0' || r->str[i] > '9')
            return 0;
        v = v * 10 + (r->str[i] - '0');
    }
    return v;
}

static void render_text(kve_buf_t *buf, const char *name, const kve_kv_reply_t *r, size_t max)
{
    kve_buf_printf(buf, ",\"%s\":", name);
    if (r->type == KVE_REPLY_STRING)
        kve_json_string(buf, r->str, KVE_MIN(r->len, max));
    else
        kve_buf_printf(buf, "\"\"");
}

/* one listed session: f[0..5] = hash, crt, last, auth, ua, ip (LIST's reply) */
static void list_one(op_t *op, const char *pid, const kve_kv_reply_t *const *f)
{
    long long auth = num_of(f[3]);
    kve_buf_printf(&op->out, "%s{\"pid\":\"%s\",\"created\":%lld,\"last_seen\":%lld,", op->count++ ? "," : "", pid, num_of(f[1]),
                   num_of(f[2]));
    if (auth != 0)
        kve_buf_printf(&op->out, "\"auth_time\":%lld,", auth);
    else
        kve_buf_printf(&op->out, "\"auth_time\":null,");
    render_group_head(&op->out, op->groups.g + op->at);
    render_text(&op->out, "ua", f[4], KVE_SESSION_UA_MAX);
    render_text(&op->out, "ip_prefix", f[5], 64);
    kve_buf_putc(&op->out, '}');
}

static void find_one(op_t *op, const char *pid, const kve_kv_reply_t *const *f)
{
    size_t head = strlen(op->key) - KVE_SESSION_HASH_HEX;
    if (op->target[0] != '\0' || strcmp(pid, op->args.pid) != 0)
        return;
    memcpy(op->target, op->key, head); /* "kvs1:{T}:s:" and the member's hash */
    memcpy(op->target + head, f[0]->str, KVE_SESSION_HASH_HEX);
    op->target[head + KVE_SESSION_HASH_HEX] = '\0';
}

/* LIST's reply: KVE_SESSION_LIST_FIELDS strings per session; the public id of each well-formed one */
static void each_listed(op_t *op, const kve_kv_reply_t *reply)
{
    const kve_session_handler_t *h = op->groups.g[op->at].h;
    for (size_t i = 0; i + KVE_SESSION_LIST_FIELDS <= reply->elements; i += KVE_SESSION_LIST_FIELDS) {
        const kve_kv_reply_t *const *f = (const kve_kv_reply_t *const *)reply->element + i;
        char pid[KVE_SESSION_PID_SIZE];
        if (f[0]->type != KVE_REPLY_STRING || kve_session_users_pid(pid, h->k_pid, sizeof(h->k_pid), f[0]->str, f[0]->len) != 0)
            continue;
        if (op->kind == OP_LIST)
            list_one(op, pid, f);
        else
            find_one(op, pid, f);
    }
}

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    op_t *op = data;
    KVE_CHECK_OBJ(op, OP_MAGIC);
    if (err != 0 || reply->type == KVE_REPLY_ERROR || reply->type == KVE_REPLY_TOO_BIG) {
        op->failed = 1;
    } else if (op->destroying) {
        /* DESTROY answers 1 */
    } else if (op->kind == OP_REVOKE_ALL) {
        if (reply->type == KVE_REPLY_INTEGER && reply->integer >= 0) {
            op->count += (size_t)reply->integer;
            count_destroyed(op->req, op->groups.g + op->at, (size_t)reply->integer);
        } else
            op->failed = 1;
    } else if (reply->type == KVE_REPLY_ARRAY) {
        each_listed(op, reply);
    } else {
        op->failed = 1;
    }
}

static void send_command(op_t *op, kve_session_users_cmd_t *c);

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    op_t *op = data;
    KVE_CHECK_OBJ(op, OP_MAGIC);
    op->batch = NULL;
    if (result->err != 0 || op->failed) {
        fail_unavailable(op);
    } else if (op->destroying) {
        const group_t *g = op->groups.g + op->at;
        kve_log(KVE_LOG_INFO, "console", "sessions: revoked session %s (store %s, route %s)", op->args.pid, store_name(g),
                g->routes[0]);
        count_destroyed(op->req, g, 1);
        op->count = 1;
        op->at = op->groups.n;
        step(op);
    } else if (op->kind == OP_REVOKE && op->target[0] != '\0') {
        kve_session_users_cmd_t c;
        op->destroying = 1;
        kve_session_users_destroy(&op->req->pool, &c, op->target, op->args.user);
        send_command(op, &c);
    } else {
        ++op->at;
        step(op);
    }
}

static void send_command(op_t *op, kve_session_users_cmd_t *c)
{
    const kve_session_conf_t *conf = op->groups.g[op->at].h->conf;
    kve_kv_batch_opts_t opts = {conf->store_timeout_ms, NULL, MAX_REPLY};
    kve_kv_t *kv = kve_thread_link(kve_server_thread(op->req->conn->ctx), conf->store_id, 0);
    int err;

    op->failed = 0;
    if (kv == NULL || (op->batch = kve_kv_batch(kv, &c->cmd, 1, &opts, on_reply, on_done, op, &err)) == NULL)
        fail_unavailable(op);
}

static void finish(op_t *op)
{
    kve_buf_t buf = KVE_BUF_INIT;
    if (op->kind == OP_LIST) {
        kve_buf_printf(&buf, "{\"sessions\":[");
        if (op->out.len != 0)
            kve_buf_append(&buf, op->out.base, op->out.len);
        kve_buf_printf(&buf, "]}");
    } else if (op->kind == OP_REVOKE && op->count == 0) {
        kve_console_send_error(op->req, 404, "no session of this user has that public id");
        return;
    } else {
        if (op->kind == OP_REVOKE_ALL)
            kve_log(KVE_LOG_INFO, "console", "sessions: revoked every session of a user (%zu)", op->count);
        kve_buf_printf(&buf, "{\"revoked\":%zu}", op->count);
    }
    send_buf(op->req, 200, &buf);
}

/* the command of the current group on the user's slot, or the answer when every group was asked */
static void step(op_t *op)
{
    const group_t *g;
    kve_session_users_cmd_t c;
    uint8_t tag[KVE_SESSION_TAG_BYTES];
    size_t n;

    if (op->at == op->groups.n) {
        finish(op);
        return;
    }
    g = op->groups.g + op->at;
    kve_session_user_tag(g->h->k_tag, sizeof(g->h->k_tag), op->args.user, op->args.user_len, tag);
    memcpy(op->key, "kvs1:{", 6);
    n = 6 + kve_base64url_encode(op->key + 6, tag, sizeof(tag));
    KVE_ASSERT(n == 6 + KVE_SESSION_TAG_CHARS);
    memcpy(op->key + n, "}:s:", 4);
    memset(op->key + n + 4, '0', KVE_SESSION_HASH_HEX);
    op->key[n + 4 + KVE_SESSION_HASH_HEX] = '\0';
    if (op->kind == OP_REVOKE_ALL)
        kve_session_users_revoke_all(&op->req->pool, &c, op->key, op->args.user);
    else
        kve_session_users_list(&op->req->pool, &c, op->key, op->args.user, kve_session__now_ms());
    send_command(op, &c);
}

static void start(kve_console_call_t *call, int kind)
{
    h2o_req_t *req = call->req;
    kve_console_sessions_args_t args;
    const char *err;
    op_t *op;

    if (kve_console_sessions_parse(req->entity.base, req->entity.len, kind == OP_REVOKE, &args, &err) != 0) {
        kve_buf_t buf = KVE_BUF_INIT;
        kve_json_error(&buf, err);
        send_buf(req, 400, &buf);
        return;
    }
    op = h2o_mem_alloc_shared(&req->pool, sizeof(*op), on_op_dispose);
    memset(op, 0, sizeof(*op));
    op->magic = OP_MAGIC;
    op->kind = kind;
    op->req = req;
    op->args = args;
    find_groups(req, &op->groups);
    step(op);
}

void kve_console_sessions_list(kve_console_call_t *call)
{
    start(call, OP_LIST);
}

void kve_console_sessions_revoke(kve_console_call_t *call)
{
    start(call, OP_REVOKE);
}

void kve_console_sessions_revoke_all(kve_console_call_t *call)
{
    start(call, OP_REVOKE_ALL);
}
