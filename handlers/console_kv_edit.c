/* SPDX-License-Identifier: MIT */
/*
 * The keys page's changes (see console_kv.h): POST api/kv/change with op=<name> and the op's fields. The op is looked up
 * in a fixed table and maps to exactly one command with the client's bytes as its arguments, so the client never names
 * a command (no KEYS, no FLUSHALL, no script: only what this table says). `create=1` creates a key of the op's type and
 * refuses (409) when the key exists: SET NX for a string, EXISTS first for the others. Deleting needs `confirm` equal
 * to the key, byte for byte. Only read-write sessions get here (the route is KVE_CONSOLE_WRITE).
 */
#include "handlers/console_kv.h"
#include "handlers/console_kv_internal.h"
#include "proxy/common.h"
#include "proxy/json.h"
#include "proxy/log.h"

#include <stdio.h>
#include <string.h>

enum {
    A_FIELD = 0x1,
    A_VALUE = 0x2,
    A_MEMBER = 0x4,
    A_SCORE = 0x8,
    A_INDEX = 0x10,
    A_TTL = 0x20,
    A_ID = 0x40,
    A_PAIRS = 0x80,
    A_CONFIRM = 0x100,
    A_ONE = 0x200 /* LREM's count: the first occurrence */
};

typedef struct st_op_t {
    const char *name, *cmd;
    unsigned args;
    int can_create;
} op_t;

static const op_t ops[] = {
    {"set", "SET", A_VALUE, 1},
    {"hset", "HSET", A_FIELD | A_VALUE, 1},
    {"hdel", "HDEL", A_FIELD, 0},
    {"lset", "LSET", A_INDEX | A_VALUE, 0},
    {"rpush", "RPUSH", A_VALUE, 1},
    {"lrem", "LREM", A_ONE | A_VALUE, 0},
    {"sadd", "SADD", A_MEMBER, 1},
    {"srem", "SREM", A_MEMBER, 0},
    {"zadd", "ZADD", A_SCORE | A_MEMBER, 1},
    {"zrem", "ZREM", A_MEMBER, 0},
    {"xadd", "XADD", A_PAIRS, 1},
    {"xdel", "XDEL", A_ID, 0},
    {"expire", "PEXPIRE", A_TTL, 0},
    {"persist", "PERSIST", 0, 0},
    {"delete", "DEL", A_CONFIRM, 0},
};

#define MAX_ARGS (4 + 2 * KVE_CONSOLE_KV_MAX_PAIRS)

static const op_t *find_op(h2o_iovec_t name)
{
    for (size_t i = 0; i != KVE_ARRAY_SIZE(ops); ++i)
        if (h2o_memis(name.base, name.len, ops[i].name, strlen(ops[i].name)))
            return ops + i;
    return NULL;
}

static void add_arg(kve_console_kv_call_t *c, const char *s, size_t len)
{
    c->argv[c->argc] = s;
    c->argvlen[c->argc++] = len;
}

/* a parameter checked by `ok` (NULL: any bytes up to `max`) appended as an argument: 0, or -1 when answered */
static int arg_param(kve_console_kv_call_t *c, const char *name, size_t max, int (*ok)(const char *, size_t), const char *what)
{
    h2o_iovec_t v;
    char msg[128];

    if (kve_console_kv__param(c, name, max, 1, &v) < 0)
        return -1;
    if (ok != NULL && !ok(v.base, v.len)) {
        snprintf(msg, sizeof(msg), "parameter %s: expected %s", name, what);
        kve_console_kv__bad(c, msg);
        return -1;
    }
    add_arg(c, v.base, v.len);
    return 0;
}

/* XADD's pairs: f0, v0, f1, v1, ... (at least one, at most KVE_CONSOLE_KV_MAX_PAIRS) */
static int pair_args(kve_console_kv_call_t *c)
{
    char f[16], v[16];
    h2o_iovec_t x;
    size_t i;

    add_arg(c, "*", 1);
    for (i = 0; i != KVE_CONSOLE_KV_MAX_PAIRS; ++i) {
        snprintf(f, sizeof(f), "f%zu", i);
        snprintf(v, sizeof(v), "v%zu", i);
        int r = kve_console_kv__param(c, f, KVE_CONSOLE_KV_MAX_VALUE, 0, &x);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        add_arg(c, x.base, x.len);
        if (arg_param(c, v, KVE_CONSOLE_KV_MAX_VALUE, NULL, NULL) != 0)
            return -1;
    }
    if (i == 0) {
        kve_console_kv__bad(c, "xadd needs a field and a value (f0, v0)");
        return -1;
    }
    return 0;
}

static int ttl_arg(kve_console_kv_call_t *c)
{
    long long ms;
    char *s = h2o_mem_alloc_pool(&c->req->pool, 24);
    if (kve_console_kv__int_param(c, "ttl_ms", 1, (long long)KVE_CONSOLE_KV_MAX_TTL_MS, 0, &ms) != 0)
        return -1;
    if (ms == 0) {
        kve_console_kv__bad(c, "missing parameter ttl_ms");
        return -1;
    }
    add_arg(c, s, (size_t)snprintf(s, 24, "%lld", ms));
    return 0;
}

static int index_ok(const char *s, size_t len)
{
    long long v;
    return kve_console_kv_int(s, len, -((long long)1 << 62), (long long)1 << 62, &v) == 0;
}

/* the command's arguments after the key, in the command's order: 0, or -1 when the request was answered */
static int op_args(kve_console_kv_call_t *c, const op_t *op)
{
    const size_t V = KVE_CONSOLE_KV_MAX_VALUE;
    unsigned a = op->args;

    if (((a & A_INDEX) && arg_param(c, "index", 24, index_ok, "an integer index") != 0) ||
        ((a & A_SCORE) && arg_param(c, "score", 80, kve_console_kv_score_ok, "a number (or inf, -inf)") != 0))
        return -1;
    if (a & A_ONE)
        add_arg(c, "1", 1);
    if (((a & A_PAIRS) && pair_args(c) != 0) || ((a & A_FIELD) && arg_param(c, "field", V, NULL, NULL) != 0) ||
        ((a & A_VALUE) && arg_param(c, "value", V, NULL, NULL) != 0) ||
        ((a & A_MEMBER) && arg_param(c, "member", V, NULL, NULL) != 0) ||
        ((a & A_ID) && arg_param(c, "id", 42, kve_console_kv_stream_id_ok, "a stream id (ms-seq)") != 0) ||
        ((a & A_TTL) && ttl_arg(c) != 0))
        return -1;
    if (strcmp(op->cmd, "SET") == 0)
        add_arg(c, c->create ? "NX" : "KEEPTTL", c->create ? 2 : 7); /* an edit keeps the key's TTL */
    return 0;
}

/* --- sending --- */

static void on_op_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_console_kv_call_t *c = data;
    const op_t *op = c->op;

    if (kve_console_kv__failed(c, err, reply))
        return;
    if (c->create && strcmp(op->cmd, "SET") == 0 && reply->type == KVE_REPLY_NIL) {
        c->store_error = h2o_iovec_init(H2O_STRLIT("the key exists")); /* SET NX wrote nothing */
        return;
    }
    kve_buf_printf(&c->out, "{\"store\":");
    kve_json_string(&c->out, c->store_name, strlen(c->store_name));
    kve_buf_printf(&c->out, ",\"op\":\"%s\",\"result\":", op->name);
    kve_json_value(&c->out, reply, 0, 1);
    kve_buf_putc(&c->out, '}');
}

static void on_op_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_console_kv_call_t *c = data;
    const op_t *op = c->op;

    if (kve_console_kv__done_failed(c, result))
        return;
    kve_log(KVE_LOG_INFO, "console", "keys: %s on store %s (%zu-byte key)", op->name, c->store_name, c->key.len);
    kve_console_kv__send_out(c);
}

static void send_op(kve_console_kv_call_t *c)
{
    kve_kv_command_t cmd = KVE_KV_COMMAND(c->argc, c->argv, c->argvlen);
    kve_console_kv__send(c, &cmd, 1, on_op_reply, on_op_done);
}

static void on_exists_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_console_kv_call_t *c = data;
    if (!kve_console_kv__failed(c, err, reply) && reply->type == KVE_REPLY_INTEGER && reply->integer != 0)
        c->store_error = h2o_iovec_init(H2O_STRLIT("the key exists"));
}

static void on_exists_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_console_kv_call_t *c = data;
    if (!kve_console_kv__done_failed(c, result))
        send_op(c);
}

/* delete: `confirm` must name the key exactly (the page asked the operator) */
static int confirmed(kve_console_kv_call_t *c)
{
    h2o_iovec_t confirm;
    if (kve_console_kv__param(c, "confirm", KVE_CONSOLE_KV_MAX_KEY, 1, &confirm) < 0)
        return 0;
    if (!h2o_memis(confirm.base, confirm.len, c->key.base, c->key.len)) {
        kve_console_kv__bad(c, "parameter confirm: must name the key to delete exactly");
        return 0;
    }
    return 1;
}

void kve_console_kv_change(kve_console_call_t *call)
{
    kve_console_kv_call_t *c = kve_console_kv__start(call);
    const op_t *op;
    h2o_iovec_t name;
    long long create;

    if (c == NULL || kve_console_kv__param(c, "op", 16, 1, &name) < 0)
        return;
    if ((op = find_op(name)) == NULL) {
        kve_console_kv__bad(c, "parameter op: unknown operation");
        return;
    }
    if (kve_console_kv__param(c, "key", KVE_CONSOLE_KV_MAX_KEY, 1, &c->key) < 0 ||
        kve_console_kv__int_param(c, "create", 0, 1, 0, &create) < 0)
        return;
    if (create && !op->can_create) {
        kve_console_kv__bad(c, "parameter create: this operation does not create a key");
        return;
    }
    c->op = op;
    c->create = (int)create;
    c->argv = h2o_mem_alloc_pool(&c->req->pool, sizeof(*c->argv) * MAX_ARGS);
    c->argvlen = h2o_mem_alloc_pool(&c->req->pool, sizeof(*c->argvlen) * MAX_ARGS);
    add_arg(c, op->cmd, strlen(op->cmd));
    add_arg(c, c->key.base, c->key.len);
    if (((op->args & A_CONFIRM) && !confirmed(c)) || op_args(c, op) != 0)
        return;
    if (c->create && strcmp(op->cmd, "SET") != 0) {
        const char *argv[2] = {"EXISTS", c->key.base};
        size_t argvlen[2] = {6, c->key.len};
        kve_kv_command_t cmd = KVE_KV_COMMAND(2, argv, argvlen);
        kve_console_kv__send(c, &cmd, 1, on_exists_reply, on_exists_done);
        return;
    }
    send_op(c);
}
