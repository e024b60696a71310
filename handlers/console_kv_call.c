/* SPDX-License-Identifier: MIT */
/* One call of the keys page (see console_kv_internal.h): its state, parameters, store, batches and answers. */
#include "handlers/console_kv_internal.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/json.h"
#include "proxy/log.h"
#include "proxy/server.h"

#include <stdio.h>
#include <string.h>

#define MAX_STORE_NAME 128

static void on_dispose(void *p)
{
    kve_console_kv_call_t *c = p;
    KVE_CHECK_OBJ(c, KVE_CONSOLE_KV_MAGIC);
    if (c->batch != NULL) /* the client went away with a batch in flight: no callback may touch this memory */
        kve_kv_batch_cancel(c->batch);
    c->batch = NULL;
    kve_buf_dispose(&c->out);
    c->magic = 0;
}

void kve_console_kv__bad(kve_console_kv_call_t *c, const char *msg)
{
    kve_console_send_error(c->req, 400, msg);
}

void kve_console_kv__send_out(kve_console_kv_call_t *c)
{
    kve_console_send_json(c->req, 200, c->out.base, c->out.len);
    kve_buf_dispose(&c->out);
}

/* {"error": "<prefix><bytes>"}: `bytes` may be the store's text (escaped as JSON) */
static void send_error_text(kve_console_kv_call_t *c, int status, const char *prefix, const char *bytes, size_t len)
{
    kve_buf_t buf = KVE_BUF_INIT;
    kve_buf_append(&buf, prefix, strlen(prefix));
    kve_buf_append(&buf, bytes, len);
    kve_buf_putc(&buf, '\0');
    c->out.len = 0;
    kve_json_error(&c->out, buf.base);
    kve_buf_dispose(&buf);
    kve_console_send_json(c->req, status, c->out.base, c->out.len);
    kve_buf_dispose(&c->out);
}

static void store_failed(kve_console_kv_call_t *c, int err)
{
    char msg[256];
    h2o_req_log_error(c->req, "console", "keys: store %s: %s", c->store_name, kve_strerror(err));
    snprintf(msg, sizeof(msg), "the store \"%s\" is unavailable: ", c->store_name);
    send_error_text(c, 503, msg, kve_strerror(err), strlen(kve_strerror(err)));
}

static int find_store(const kve_thread_t *thread, const char *name, size_t len, size_t *id)
{
    for (size_t i = 0; i != thread->num_stores; ++i) {
        if (thread->stores[i].name != NULL && h2o_memis(name, len, thread->stores[i].name, strlen(thread->stores[i].name))) {
            *id = i;
            return 0;
        }
    }
    return -1;
}

kve_console_kv_call_t *kve_console_kv__start(kve_console_call_t *call)
{
    kve_console_kv_call_t *c = h2o_mem_alloc_shared(&call->req->pool, sizeof(*c), on_dispose);
    const kve_thread_t *thread = kve_server_thread(call->req->conn->ctx);
    int def = call->console->hooks.kv_store;
    h2o_iovec_t name;
    size_t id = def >= 0 ? (size_t)def : 0;

    memset(c, 0, sizeof(*c));
    c->magic = KVE_CONSOLE_KV_MAGIC;
    c->req = call->req;
    c->out = (kve_buf_t)KVE_BUF_INIT;
    c->store_name = "";
    if (kve_console_kv__param(c, "store", MAX_STORE_NAME, 0, &name) < 0)
        return NULL;
    if (name.len != 0 && find_store(thread, name.base, name.len, &id) != 0) {
        kve_console_send_error(call->req, 404, "no such store");
        return NULL;
    }
    if (id >= thread->num_stores) {
        kve_console_send_error(call->req, 503, "no store is configured");
        return NULL;
    }
    c->store_name = thread->stores[id].name;
    /* a read-only session reads through the store's read-only user when it has one (the KV API's store) */
    c->kv = kve_thread_link(thread, id, call->session == NULL || call->session->read_only);
    return c;
}

/* the request's form: the query string of a GET/HEAD, else the body only (a change never reads the query string) */
static h2o_iovec_t form_of(h2o_req_t *req)
{
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        if (req->query_at == SIZE_MAX)
            return h2o_iovec_init("", 0);
        return h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    }
    return req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
}

int kve_console_kv__param(kve_console_kv_call_t *c, const char *name, size_t max, int required, h2o_iovec_t *out)
{
    h2o_iovec_t form = form_of(c->req);
    const char *raw;
    size_t raw_len;
    char msg[128];
    long n;
    int r = kve_console_kv_field(form.base, form.len, name, &raw, &raw_len);

    *out = h2o_iovec_init("", 0);
    if (r == 0 && !required)
        return 0;
    if (r <= 0) {
        snprintf(msg, sizeof(msg), r == 0 ? "missing parameter %s" : "parameter %s given twice", name);
        kve_console_kv__bad(c, msg);
        return -1;
    }
    out->base = h2o_mem_alloc_pool(&c->req->pool, raw_len + 1);
    if ((n = kve_console_kv_decode(raw, raw_len, out->base, max)) < 0) {
        snprintf(msg, sizeof(msg), n == -1 ? "parameter %s: bad %%-escape" : "parameter %s: longer than %zu bytes", name, max);
        kve_console_kv__bad(c, msg);
        return -1;
    }
    out->len = (size_t)n;
    out->base[n] = '\0';
    return 1;
}

int kve_console_kv__int_param(kve_console_kv_call_t *c, const char *name, long long min, long long max, long long def,
                              long long *out)
{
    h2o_iovec_t v;
    char msg[160];
    int r = kve_console_kv__param(c, name, 24, 0, &v);

    if (r < 0)
        return -1;
    if (r == 0) {
        *out = def;
        return 0;
    }
    if (kve_console_kv_int(v.base, v.len, min, max, out) != 0) {
        snprintf(msg, sizeof(msg), "parameter %s: expected an integer from %lld to %lld", name, min, max);
        kve_console_kv__bad(c, msg);
        return -1;
    }
    return 0;
}

int kve_console_kv__send(kve_console_kv_call_t *c, const kve_kv_command_t *cmds, size_t n, kve_kv_reply_cb on_reply,
                         kve_kv_done_cb on_done)
{
    kve_kv_batch_opts_t opts = {.max_reply_size = KVE_CONSOLE_KV_MAX_REPLY};
    int err = KVE_EUNAVAIL;

    c->err = 0;
    c->too_big = 0;
    c->store_error = h2o_iovec_init(NULL, 0);
    /* no window: the batch copies every argument before it returns */
    if (c->kv == NULL || (c->batch = kve_kv_batch(c->kv, cmds, n, &opts, on_reply, on_done, c, &err)) == NULL) {
        store_failed(c, err);
        return -1;
    }
    return 0;
}

int kve_console_kv__failed(kve_console_kv_call_t *c, int err, const kve_kv_reply_t *reply)
{
    KVE_CHECK_OBJ(c, KVE_CONSOLE_KV_MAGIC);
    if (err != 0) {
        if (c->err == 0)
            c->err = err;
        return 1;
    }
    if (reply->type == KVE_REPLY_TOO_BIG) {
        c->too_big = 1;
        return 1;
    }
    if (reply->type == KVE_REPLY_ERROR) {
        if (c->store_error.base == NULL)
            c->store_error = h2o_strdup(&c->req->pool, reply->str, reply->len > 512 ? 512 : reply->len);
        return 1;
    }
    return 0;
}

int kve_console_kv__done_failed(kve_console_kv_call_t *c, const kve_kv_batch_result_t *result)
{
    char msg[128];

    KVE_CHECK_OBJ(c, KVE_CONSOLE_KV_MAGIC);
    c->batch = NULL;
    if (c->err == 0 && result->err != 0)
        c->err = result->err;
    if (c->err != 0) {
        store_failed(c, c->err);
    } else if (c->too_big) {
        snprintf(msg, sizeof(msg), "the store's answer is larger than %d MiB: ask for fewer items (count)",
                 KVE_CONSOLE_KV_MAX_REPLY / (1024 * 1024));
        kve_console_send_error(c->req, 413, msg);
    } else if (c->store_error.base != NULL) {
        send_error_text(c, 409, "the store refused: ", c->store_error.base, c->store_error.len);
    } else {
        return 0;
    }
    return 1;
}
