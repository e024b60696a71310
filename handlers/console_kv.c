/* SPDX-License-Identifier: MIT */
/*
 * The keys page's read side (see console_kv.h): the stores, a SCAN page with every key's type and TTL (one pipelined
 * batch of TYPE/PTTL for the page), and one key's view: TYPE and PTTL, then its length and a page of its contents
 * (GETRANGE for a string, never the whole value; HSCAN, LRANGE, SSCAN, ZRANGE WITHSCORES, XRANGE COUNT).
 */
#include "handlers/console_kv.h"
#include "handlers/console_kv_internal.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/json.h"
#include "proxy/server.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_COUNT 100
#define S(x) x, sizeof(x) - 1

static const char *const types[] = {"string", "hash", "list", "set", "zset", "stream"};

static void json_cstr(kve_buf_t *out, const char *s)
{
    kve_json_string(out, s, strlen(s));
}

/* --- stores --- */

void kve_console_kv_stores(kve_console_call_t *call)
{
    const kve_thread_t *thread = kve_server_thread(call->req->conn->ctx);
    int def = call->console->hooks.kv_store;
    kve_buf_t buf = KVE_BUF_INIT;

    kve_buf_printf(&buf, "{\"stores\":[");
    for (size_t i = 0; i != thread->num_stores; ++i) {
        kve_buf_printf(&buf, "%s{\"name\":", i ? "," : "");
        json_cstr(&buf, thread->stores[i].name);
        kve_buf_printf(&buf, ",\"kv\":%s}", def >= 0 && (size_t)def == i ? "true" : "false");
    }
    kve_buf_printf(&buf, "],\"default\":");
    if (thread->num_stores != 0)
        json_cstr(&buf, thread->stores[def >= 0 && (size_t)def < thread->num_stores ? (size_t)def : 0].name);
    else
        kve_buf_printf(&buf, "null");
    kve_buf_printf(&buf,
                   ",\"read_only\":%s,\"limits\":{\"max_key\":%d,\"max_value\":%d,\"show\":%d,\"max_count\":%d,\"max_pairs\":%d}}",
                   call->session->read_only ? "true" : "false", KVE_CONSOLE_KV_MAX_KEY, KVE_CONSOLE_KV_MAX_VALUE,
                   KVE_CONSOLE_KV_SHOW, KVE_CONSOLE_KV_MAX_COUNT, KVE_CONSOLE_KV_MAX_PAIRS);
    kve_console_send_json(call->req, 200, buf.base, buf.len);
    kve_buf_dispose(&buf);
}

/* --- helpers --- */

static int is_string(const kve_kv_reply_t *r)
{
    return r != NULL && r->type == KVE_REPLY_STRING;
}

/* `reply` as a byte string (console_kv_codec.h), `null` when it is not a string */
static void bytes_of(kve_buf_t *out, const kve_kv_reply_t *reply)
{
    if (is_string(reply))
        kve_console_kv_bytes(out, reply->str, reply->len, reply->len, KVE_CONSOLE_KV_SHOW);
    else
        kve_buf_printf(out, "null");
}

static void protocol_error(kve_console_kv_call_t *c)
{
    if (c->err == 0)
        c->err = KVE_EPROTO;
}

/* the answer's head: store, key, and what is known of it */
static void render_key_head(kve_console_kv_call_t *c, kve_buf_t *out)
{
    kve_buf_printf(out, "{\"store\":");
    json_cstr(out, c->store_name);
    kve_buf_printf(out, ",\"key\":");
    kve_console_kv_bytes(out, c->key.base, c->key.len, c->key.len, KVE_CONSOLE_KV_SHOW);
    kve_buf_printf(out, ",\"type\":");
    json_cstr(out, c->type);
    kve_buf_printf(out, ",\"ttl_ms\":%lld,\"length\":%lld,\"count\":%lld", c->ttl_ms, c->length, c->count);
}

/* --- a page of keys --- */

static void send_keys(kve_console_kv_call_t *c)
{
    kve_buf_t out = KVE_BUF_INIT;
    int first = 1;

    kve_buf_printf(&out, "{\"store\":");
    json_cstr(&out, c->store_name);
    kve_buf_printf(&out, ",\"cursor\":");
    if (h2o_memis(c->cursor.base, c->cursor.len, H2O_STRLIT("0")))
        kve_buf_printf(&out, "null"); /* SCAN is done */
    else
        kve_json_string(&out, c->cursor.base, c->cursor.len);
    kve_buf_printf(&out, ",\"keys\":[");
    for (size_t i = 0; i != c->num_keys; ++i) {
        if (strcmp(c->types[i], "none") == 0)
            continue; /* gone between SCAN and TYPE */
        kve_buf_printf(&out, "%s{\"key\":", first ? "" : ",");
        kve_console_kv_bytes(&out, c->keys[i].base, c->keys[i].len, c->keys[i].len, KVE_CONSOLE_KV_MAX_KEY);
        kve_buf_printf(&out, ",\"type\":");
        json_cstr(&out, c->types[i]);
        kve_buf_printf(&out, ",\"ttl_ms\":%lld}", c->ttls[i]);
        first = 0;
    }
    kve_buf_printf(&out, "]}");
    kve_buf_dispose(&c->out);
    c->out = out;
    kve_console_kv__send_out(c);
}

static void copy_type(char *dst, const kve_kv_reply_t *reply)
{
    size_t n = reply->len < 23 ? reply->len : 23;
    memcpy(dst, reply->str, n);
    dst[n] = '\0';
}

static void on_meta_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_console_kv_call_t *c = data;
    if (kve_console_kv__failed(c, err, reply) || i / 2 >= c->num_keys)
        return;
    if (i % 2 == 0 && (reply->type == KVE_REPLY_STATUS || reply->type == KVE_REPLY_STRING))
        copy_type(c->types[i / 2], reply);
    else if (i % 2 == 1 && reply->type == KVE_REPLY_INTEGER)
        c->ttls[i / 2] = reply->integer;
    else
        protocol_error(c);
}

static void on_meta_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_console_kv_call_t *c = data;
    if (!kve_console_kv__done_failed(c, result))
        send_keys(c);
}

/* TYPE and PTTL of every key of the page, in one batch */
static void send_meta(kve_console_kv_call_t *c)
{
    h2o_mem_pool_t *pool = &c->req->pool;
    size_t n = c->num_keys;
    kve_kv_command_t *cmds = h2o_mem_alloc_pool(pool, sizeof(*cmds) * 2 * n);
    const char **argv = h2o_mem_alloc_pool(pool, sizeof(*argv) * 4 * n);
    size_t *argvlen = h2o_mem_alloc_pool(pool, sizeof(*argvlen) * 4 * n);

    c->types = h2o_mem_alloc_pool(pool, sizeof(*c->types) * n);
    c->ttls = h2o_mem_alloc_pool(pool, sizeof(*c->ttls) * n);
    for (size_t i = 0; i != n; ++i) {
        strcpy(c->types[i], "none");
        c->ttls[i] = -2;
        argv[4 * i] = "TYPE", argvlen[4 * i] = 4;
        argv[4 * i + 2] = "PTTL", argvlen[4 * i + 2] = 4;
        argv[4 * i + 1] = argv[4 * i + 3] = c->keys[i].base;
        argvlen[4 * i + 1] = argvlen[4 * i + 3] = c->keys[i].len;
        cmds[2 * i] = KVE_KV_COMMAND(2, argv + 4 * i, argvlen + 4 * i);
        cmds[2 * i + 1] = KVE_KV_COMMAND(2, argv + 4 * i + 2, argvlen + 4 * i + 2);
        cmds[2 * i].flags = cmds[2 * i + 1].flags = KVE_KV_CMD_READ_ONLY;
    }
    kve_console_kv__send(c, cmds, 2 * n, on_meta_reply, on_meta_done);
}

static void on_scan_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_console_kv_call_t *c = data;
    const kve_kv_reply_t *keys;

    if (kve_console_kv__failed(c, err, reply))
        return;
    if (reply->type != KVE_REPLY_ARRAY || reply->elements != 2 || !is_string(reply->element[0]) ||
        reply->element[1]->type != KVE_REPLY_ARRAY || !kve_console_kv_cursor_ok(reply->element[0]->str, reply->element[0]->len)) {
        protocol_error(c);
        return;
    }
    c->cursor = h2o_strdup(&c->req->pool, reply->element[0]->str, reply->element[0]->len);
    keys = reply->element[1];
    c->keys = h2o_mem_alloc_pool(&c->req->pool, sizeof(*c->keys) * (keys->elements + 1));
    for (size_t k = 0; k != keys->elements; ++k) {
        if (!is_string(keys->element[k])) {
            protocol_error(c);
            return;
        }
        c->keys[c->num_keys++] = h2o_strdup(&c->req->pool, keys->element[k]->str, keys->element[k]->len);
    }
}

static void on_scan_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_console_kv_call_t *c = data;
    if (kve_console_kv__done_failed(c, result))
        return;
    if (c->num_keys == 0)
        send_keys(c);
    else
        send_meta(c);
}

static int known_type(h2o_iovec_t t)
{
    for (size_t i = 0; i != KVE_ARRAY_SIZE(types); ++i)
        if (h2o_memis(t.base, t.len, types[i], strlen(types[i])))
            return 1;
    return 0;
}

void kve_console_kv_keys(kve_console_call_t *call)
{
    kve_console_kv_call_t *c = kve_console_kv__start(call);
    h2o_iovec_t pattern, type;
    const char *argv[8];
    size_t argvlen[8], argc = 0;
    char count[24];

    if (c == NULL || kve_console_kv__param(c, "pattern", KVE_CONSOLE_KV_MAX_KEY, 0, &pattern) < 0 ||
        kve_console_kv__param(c, "cursor", 20, 0, &c->cursor) < 0 ||
        kve_console_kv__int_param(c, "count", 1, KVE_CONSOLE_KV_MAX_COUNT, DEFAULT_COUNT, &c->count) < 0 ||
        kve_console_kv__param(c, "type", 16, 0, &type) < 0)
        return;
    if (c->cursor.len == 0)
        c->cursor = h2o_iovec_init(H2O_STRLIT("0"));
    if (!kve_console_kv_cursor_ok(c->cursor.base, c->cursor.len)) {
        kve_console_kv__bad(c, "parameter cursor: expected a SCAN cursor (digits)");
        return;
    }
    if (type.len != 0 && !known_type(type)) {
        kve_console_kv__bad(c, "parameter type: expected string, hash, list, set, zset or stream");
        return;
    }
    if (pattern.len == 0)
        pattern = h2o_iovec_init(H2O_STRLIT("*"));
    snprintf(count, sizeof(count), "%lld", c->count);
    argv[argc] = "SCAN", argvlen[argc++] = 4;
    argv[argc] = c->cursor.base, argvlen[argc++] = c->cursor.len;
    argv[argc] = "MATCH", argvlen[argc++] = 5;
    argv[argc] = pattern.base, argvlen[argc++] = pattern.len;
    argv[argc] = "COUNT", argvlen[argc++] = 5;
    argv[argc] = count, argvlen[argc++] = strlen(count);
    if (type.len != 0) {
        argv[argc] = "TYPE", argvlen[argc++] = 4;
        argv[argc] = type.base, argvlen[argc++] = type.len;
    }
    kve_kv_command_t cmd = KVE_KV_COMMAND(argc, argv, argvlen);
    cmd.flags = KVE_KV_CMD_READ_ONLY;
    kve_console_kv__send(c, &cmd, 1, on_scan_reply, on_scan_done);
}

/* --- one key --- */

/* what a page of the key's contents continues with: the next cursor (JSON) */
static void render_next_scan(kve_console_kv_call_t *c, kve_buf_t *out, const kve_kv_reply_t *cursor)
{
    if (h2o_memis(cursor->str, cursor->len, H2O_STRLIT("0")))
        kve_buf_printf(out, ",\"next\":null");
    else
        kve_buf_printf(out, ",\"next\":\"%.*s\"", (int)cursor->len, cursor->str); /* digits: checked */
}

static void render_next_index(kve_console_kv_call_t *c, kve_buf_t *out, size_t got)
{
    long long start = 0;
    kve_console_kv_int(c->cursor.base, c->cursor.len, 0, LLONG_MAX, &start);
    if ((long long)got == c->count && start + (long long)got < c->length)
        kve_buf_printf(out, ",\"next\":\"%lld\"", start + (long long)got);
    else
        kve_buf_printf(out, ",\"next\":null");
}

/* items of a flat array: one byte string each, or [a, b] per pair */
static int render_flat(kve_buf_t *out, const kve_kv_reply_t *arr, int pairs)
{
    size_t step = pairs ? 2 : 1;
    if (arr->type != KVE_REPLY_ARRAY || arr->elements % step != 0)
        return -1;
    kve_buf_printf(out, ",\"items\":[");
    for (size_t i = 0; i != arr->elements; i += step) {
        if (!is_string(arr->element[i]) || (pairs && !is_string(arr->element[i + 1])))
            return -1;
        kve_buf_printf(out, "%s%s", i ? "," : "", pairs ? "[" : "");
        bytes_of(out, arr->element[i]);
        if (pairs) {
            kve_buf_putc(out, ',');
            bytes_of(out, arr->element[i + 1]);
            kve_buf_putc(out, ']');
        }
    }
    kve_buf_putc(out, ']');
    return 0;
}

/* XRANGE: [[id, [f, v, ...]], ...] as [{"id", "fields": [[f, v], ...]}] */
static int render_stream(kve_console_kv_call_t *c, kve_buf_t *out, const kve_kv_reply_t *arr)
{
    const kve_kv_reply_t *last = NULL;

    if (arr->type != KVE_REPLY_ARRAY)
        return -1;
    kve_buf_printf(out, ",\"items\":[");
    for (size_t i = 0; i != arr->elements; ++i) {
        const kve_kv_reply_t *e = arr->element[i];
        if (e->type != KVE_REPLY_ARRAY || e->elements != 2 || !is_string(e->element[0]) ||
            !kve_console_kv_stream_id_ok(e->element[0]->str, e->element[0]->len))
            return -1;
        kve_buf_printf(out, "%s{\"id\":\"%.*s\",\"fields\"", i ? "," : "", (int)e->element[0]->len, e->element[0]->str);
        kve_buf_t fields = KVE_BUF_INIT;
        int r = render_flat(&fields, e->element[1], 1);
        if (r == 0)
            kve_buf_append(out, fields.base + strlen(",\"items\""), fields.len - strlen(",\"items\""));
        kve_buf_dispose(&fields);
        if (r != 0)
            return -1;
        kve_buf_putc(out, '}');
        last = e->element[0];
    }
    kve_buf_putc(out, ']');
    if (last != NULL && (long long)arr->elements == c->count)
        kve_buf_printf(out, ",\"next\":\"%.*s\"", (int)last->len, last->str);
    else
        kve_buf_printf(out, ",\"next\":null");
    return 0;
}

static int render_contents(kve_console_kv_call_t *c, const kve_kv_reply_t *r)
{
    kve_buf_t *out = &c->out;

    if (strcmp(c->type, "string") == 0) {
        if (r->type != KVE_REPLY_STRING)
            return -1;
        kve_buf_printf(out, ",\"value\":");
        kve_console_kv_bytes(out, r->str, r->len, c->length > 0 ? (size_t)c->length : 0, KVE_CONSOLE_KV_SHOW);
        return 0;
    }
    if (strcmp(c->type, "hash") == 0 || strcmp(c->type, "set") == 0) {
        if (r->type != KVE_REPLY_ARRAY || r->elements != 2 || !is_string(r->element[0]) ||
            !kve_console_kv_cursor_ok(r->element[0]->str, r->element[0]->len) ||
            render_flat(out, r->element[1], c->type[0] == 'h') != 0)
            return -1;
        render_next_scan(c, out, r->element[0]);
        return 0;
    }
    if (strcmp(c->type, "list") == 0 || strcmp(c->type, "zset") == 0) {
        int zset = c->type[0] == 'z';
        if (render_flat(out, r, zset) != 0)
            return -1;
        render_next_index(c, out, r->elements / (zset ? 2 : 1));
        return 0;
    }
    return render_stream(c, out, r);
}

static void on_contents_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_console_kv_call_t *c = data;
    if (kve_console_kv__failed(c, err, reply))
        return;
    if (i == 0 && reply->type == KVE_REPLY_INTEGER)
        c->length = reply->integer;
    else if (i != 1 || render_contents(c, reply) != 0)
        protocol_error(c);
}

static void send_key(kve_console_kv_call_t *c)
{
    kve_buf_t out = KVE_BUF_INIT;

    render_key_head(c, &out);
    kve_buf_printf(&out, ",\"cursor\":");
    kve_json_string(&out, c->cursor.base, c->cursor.len);
    if (c->out.len != 0)
        kve_buf_append(&out, c->out.base, c->out.len);
    kve_buf_putc(&out, '}');
    kve_buf_dispose(&c->out);
    c->out = out;
    kve_console_kv__send_out(c);
}

static void on_contents_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_console_kv_call_t *c = data;
    if (!kve_console_kv__done_failed(c, result))
        send_key(c);
}

/* the cursor's check and the page's range for `type`; -1 when the request was answered */
static int page_args(kve_console_kv_call_t *c, char *a, char *b, size_t size)
{
    long long start;
    int scan = strcmp(c->type, "hash") == 0 || strcmp(c->type, "set") == 0;

    if (strcmp(c->type, "stream") == 0) {
        if (c->cursor.len != 0 && !kve_console_kv_stream_id_ok(c->cursor.base, c->cursor.len))
            return kve_console_kv__bad(c, "parameter cursor: expected a stream id (ms-seq)"), -1;
        snprintf(a, size, "%s%s", c->cursor.len != 0 ? "(" : "-", c->cursor.base); /* after the last one shown */
        snprintf(b, size, "%lld", c->count);
        return 0;
    }
    if (c->cursor.len == 0)
        c->cursor = h2o_iovec_init(H2O_STRLIT("0"));
    if (scan) {
        if (!kve_console_kv_cursor_ok(c->cursor.base, c->cursor.len))
            return kve_console_kv__bad(c, "parameter cursor: expected a SCAN cursor (digits)"), -1;
        snprintf(a, size, "%lld", c->count);
        return 0;
    }
    if (kve_console_kv_int(c->cursor.base, c->cursor.len, 0, (long long)1 << 62, &start) != 0)
        return kve_console_kv__bad(c, "parameter cursor: expected an index from 0"), -1;
    snprintf(a, size, "%lld", start);
    snprintf(b, size, "%lld", start + c->count - 1);
    return 0;
}

static void send_contents(kve_console_kv_call_t *c)
{
    const char *argv[2][8];
    size_t argvlen[2][8], n = 0;
    char a[48], b[48], show[24];
    const char *len_cmd, *k = c->key.base;
    size_t kl = c->key.len;

#define ARG(i, s, l) (argv[i][n] = (s), argvlen[i][n++] = (l))
    if (strcmp(c->type, "string") == 0) {
        len_cmd = "STRLEN";
        snprintf(show, sizeof(show), "%d", KVE_CONSOLE_KV_SHOW - 1);
        ARG(1, "GETRANGE", 8), ARG(1, k, kl), ARG(1, "0", 1), ARG(1, show, strlen(show));
    } else if (page_args(c, a, b, sizeof(a)) != 0) {
        return;
    } else if (strcmp(c->type, "hash") == 0 || strcmp(c->type, "set") == 0) {
        len_cmd = c->type[0] == 'h' ? "HLEN" : "SCARD";
        ARG(1, c->type[0] == 'h' ? "HSCAN" : "SSCAN", 5), ARG(1, k, kl), ARG(1, c->cursor.base, c->cursor.len);
        ARG(1, "COUNT", 5), ARG(1, a, strlen(a));
    } else if (strcmp(c->type, "list") == 0) {
        len_cmd = "LLEN";
        ARG(1, "LRANGE", 6), ARG(1, k, kl), ARG(1, a, strlen(a)), ARG(1, b, strlen(b));
    } else if (strcmp(c->type, "zset") == 0) {
        len_cmd = "ZCARD";
        ARG(1, "ZRANGE", 6), ARG(1, k, kl), ARG(1, a, strlen(a)), ARG(1, b, strlen(b)), ARG(1, "WITHSCORES", 10);
    } else {
        len_cmd = "XLEN";
        ARG(1, "XRANGE", 6), ARG(1, k, kl), ARG(1, a, strlen(a)), ARG(1, "+", 1), ARG(1, "COUNT", 5), ARG(1, b, strlen(b));
    }
#undef ARG
    argv[0][0] = len_cmd, argvlen[0][0] = strlen(len_cmd);
    argv[0][1] = k, argvlen[0][1] = kl;
    kve_kv_command_t cmds[2] = {KVE_KV_COMMAND(2, argv[0], argvlen[0]), KVE_KV_COMMAND(n, argv[1], argvlen[1])};
    cmds[0].flags = cmds[1].flags = KVE_KV_CMD_READ_ONLY;
    kve_console_kv__send(c, cmds, 2, on_contents_reply, on_contents_done);
}

static void on_head_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_console_kv_call_t *c = data;
    if (kve_console_kv__failed(c, err, reply))
        return;
    if (i == 0 && (reply->type == KVE_REPLY_STATUS || reply->type == KVE_REPLY_STRING))
        copy_type(c->type, reply);
    else if (i == 1 && reply->type == KVE_REPLY_INTEGER)
        c->ttl_ms = reply->integer;
    else
        protocol_error(c);
}

static void on_head_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_console_kv_call_t *c = data;

    if (kve_console_kv__done_failed(c, result))
        return;
    if (strcmp(c->type, "none") == 0) {
        kve_console_send_error(c->req, 404, "no such key");
    } else if (!known_type(h2o_iovec_init(c->type, strlen(c->type)))) {
        send_key(c); /* a module's type: its name and TTL, no view */
    } else {
        send_contents(c);
    }
}

void kve_console_kv_key(kve_console_call_t *call)
{
    kve_console_kv_call_t *c = kve_console_kv__start(call);
    const char *argv[4];
    size_t argvlen[4];

    if (c == NULL || kve_console_kv__param(c, "key", KVE_CONSOLE_KV_MAX_KEY, 1, &c->key) < 0 ||
        kve_console_kv__param(c, "cursor", 42, 0, &c->cursor) < 0 ||
        kve_console_kv__int_param(c, "count", 1, KVE_CONSOLE_KV_MAX_COUNT, DEFAULT_COUNT, &c->count) < 0)
        return;
    strcpy(c->type, "none");
    argv[0] = "TYPE", argvlen[0] = 4, argv[1] = c->key.base, argvlen[1] = c->key.len;
    argv[2] = "PTTL", argvlen[2] = 4, argv[3] = c->key.base, argvlen[3] = c->key.len;
    kve_kv_command_t cmds[2] = {KVE_KV_COMMAND(2, argv, argvlen), KVE_KV_COMMAND(2, argv + 2, argvlen + 2)};
    cmds[0].flags = cmds[1].flags = KVE_KV_CMD_READ_ONLY;
    kve_console_kv__send(c, cmds, 2, on_head_reply, on_head_done);
}
