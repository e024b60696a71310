/* SPDX-License-Identifier: MIT */
/*
 * KV REST API requests (see kv_rest.h): the raw path (kv_path.h), routing, authentication, decoding,
 * policy, then the commands of the request as ONE batch on the thread's KV link (kv.h), and one JSON (or
 * RESP2) response when the batch is done. The batch delivers results in command order whatever order the
 * store answers in, so the body is encoded as they come; a timeout or a lost connection turns the whole response
 * into a 504/503, since a partial result of a pipeline or transaction cannot be trusted. /multi-exec is an atomic
 * batch (applied whole or not at all; a command refused at queue time makes it 400 with the store's reason). A
 * request that may write asks the batch for the store's sync position, which makes its sync token (kv_sync.h).
 *
 * The work one request causes is bounded: its batch times out as a whole and counts once towards the link's
 * circuit breaker, every reply is held to kv.max_reply_size while it is read (a larger one arrives as
 * KVE_REPLY_TOO_BIG), and a /pipeline longer than WINDOW commands keeps at most WINDOW of them in flight (the
 * batch's window), sending none once the response has used up kv.max_reply_size (kve_kv_batch_stop): those
 * entries are "ERR max response size exceeded" without reaching the store.
 */
#include "handlers/kv_rest_internal.h"
#include "handlers/bearer.h"
#include "handlers/kv_json.h"
#include "handlers/kv_path.h"
#include "handlers/kv_reply.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/json.h"
#include "proxy/log.h"
#include "proxy/park.h"
#include "proxy/resp.h"

#include <netdb.h>
#include <stdio.h>
#include <time.h>

#define REQ_MAGIC 0x6b767271
/** /pipeline commands in flight at once (a pipeline this long or shorter is sent whole) */
#define WINDOW 128

enum { MODE_SINGLE, MODE_PIPELINE, MODE_MULTI };

struct st_rest_req_t {
    uint32_t magic;
    h2o_req_t *req;
    kve_rest_handler_t *self;
    kve_rest_thread_t *thread;
    int mode;
    unsigned base64 : 1;
    unsigned resp2 : 1;
    unsigned read_only : 1; /* the token's class: its commands go to the read-only link */
    size_t ncmds;
    kve_rest_cmd_t *cmds;
    kve_policy_result_t *verdicts;
    /** the batch while its callbacks are due; its commands, and the user command of each (batch index -> index) */
    kve_kv_batch_t *batch;
    kve_kv_command_t *kcmds;
    uint32_t *user_index;
    size_t stop_at; /* commands from here on were not sent: the response budget was spent */
    int writes;     /* a command that may write is sent: the batch reads the sync position after it */
    unsigned budget_spent : 1;
    size_t next_cmd; /* pipeline/transaction: entries are appended in command order */
    size_t entries;  /* entries written so far */
    int failure;     /* first KVE_E* of the link, if any */
    int status;      /* HTTP status of a single command (200 or 400) */
    const char *first_queue_error;
    uint64_t sync;   /* the client's token (0: none), then the response's */
    int sync_issued; /* `sync` is a token issued to this request's writes: answered as is */
    kve_buf_t body;
    /** the client socket kept polled while Redis answers (proxy/park.h) */
    h2o_socket_t *parked;
};

static const h2o_generator_t static_generator = {NULL, NULL};

kve_rest_thread_t *kve_rest__thread(kve_rest_handler_t *self, h2o_req_t *req)
{
    return h2o_context_get_handler_context(req->conn->ctx, &self->super);
}

/* --- responses --- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

static int origin_allowed(kve_rest_handler_t *self, const h2o_iovec_t *origin)
{
    size_t i;
    for (i = 0; i != self->conf->cors_origins.size; ++i) {
        const char *o = self->conf->cors_origins.entries[i];
        if (strcmp(o, "*") == 0 || h2o_memis(origin->base, origin->len, o, strlen(o)))
            return 1;
    }
    return 0;
}

void kve_rest__add_cors(kve_rest_handler_t *self, h2o_req_t *req)
{
    ssize_t i;
    if (self->conf->cors_origins.size == 0 || (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1)) == -1 ||
        !origin_allowed(self, &req->headers.entries[i].value))
        return;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, req->headers.entries[i].value.base,
                   req->headers.entries[i].value.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                          H2O_STRLIT("upstash-sync-token"));
}

void kve_rest__add_sync_header(h2o_req_t *req, uint64_t sync)
{
    char *v = h2o_mem_alloc_pool(&req->pool, 20);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("upstash-sync-token"), 0, NULL, v, kve_u64toa(sync, v));
}

/* sends `len` bytes at `body` (which must live until the request ends) */
static void send_body(kve_rest_handler_t *self, h2o_req_t *req, int status, const char *content_type, const char *body, size_t len,
                      uint64_t sync)
{
    h2o_iovec_t buf = h2o_iovec_init(body, len);

    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    kve_rest__add_sync_header(req, sync);
    kve_rest__add_cors(self, req);
    h2o_start_response(req, (h2o_generator_t *)&static_generator);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void kve_rest__send_error(kve_rest_handler_t *self, h2o_req_t *req, int status, const char *msg, uint64_t sync)
{
    kve_buf_t out = KVE_BUF_INIT;
    char *body;

    kve_json_error(&out, msg);
    body = h2o_mem_alloc_pool(&req->pool, out.len);
    memcpy(body, out.base, out.len);
    send_body(self, req, status, "application/json", body, out.len, sync);
    kve_buf_dispose(&out);
}

void kve_rest__send_kv_error(kve_rest_handler_t *self, h2o_req_t *req, int err, uint64_t sync)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "ERR %s", kve_strerror(err));
    kve_rest__send_error(self, req, kve_err_http_status(err), msg, sync);
}

/* --- completion --- */

static uint64_t response_sync(struct st_rest_req_t *st)
{
    uint64_t seen;
    /* a write's own token, unique to it: the highest seen may already be another write's (concurrent writes on
     * another thread), and two writes must never share a token */
    if (st->sync_issued)
        return st->sync;
    seen = kve_rest__sync_seen(st->self);
    return KVE_MAX(st->sync, seen); /* never less than the client's own token */
}

static int encode(struct st_rest_req_t *st, const kve_kv_reply_t *reply, size_t limit)
{
    return st->resp2 ? kve_rest_resp2(&st->body, reply, limit) : kve_json_envelope(&st->body, reply, st->base64, limit);
}

/*
 * Appends `reply` as the response (a single command) or as its next entry. A reply that would take the body
 * past kv.max_reply_size is replaced by an error, so the body holds at most that many bytes of results plus
 * those short errors (at most kv.max_commands of them). Returns whether an error reply was written.
 */
static const kve_kv_reply_t too_big = {.type = KVE_REPLY_ERROR, .len = 30, .str = (char *)"ERR max response size exceeded"};

static size_t reply_cap(const struct st_rest_req_t *st)
{
    uint64_t cap = st->self->conf->max_reply_size;
    return cap != 0 && cap < SIZE_MAX ? (size_t)cap : SIZE_MAX;
}

/*
 * Appends `reply` as the response (a single command) or as its next entry. A reply that would take the body
 * past kv.max_reply_size (or was already too big to read, KVE_REPLY_TOO_BIG) is replaced by an error, so the
 * body holds at most that many bytes of results plus those short errors (at most kv.max_commands of them); a
 * reply that did not fit in what was left spends the budget. Returns whether an error reply was written.
 */
static int append_entry(struct st_rest_req_t *st, const kve_kv_reply_t *reply)
{
    size_t mark;

    if (reply->type == KVE_REPLY_TOO_BIG)
        reply = &too_big;
    if (st->mode != MODE_SINGLE && !st->resp2 && st->entries++ != 0)
        kve_buf_putc(&st->body, ',');
    mark = st->body.len;
    if (encode(st, reply, reply_cap(st)) != 0) {
        st->body.len = mark;
        st->budget_spent = 1;
        reply = &too_big;
        encode(st, reply, SIZE_MAX);
    }
    return reply->type == KVE_REPLY_ERROR;
}

/* entries for commands that did not reach Redis, up to `limit`: those the policy answered itself (refusals
 * in a pipeline, COPY k k) and those not sent because the response budget was spent */
static void emit_synthesized(struct st_rest_req_t *st, size_t limit)
{
    for (; st->next_cmd < limit; ++st->next_cmd) {
        const kve_policy_result_t *v = st->verdicts + st->next_cmd;
        kve_kv_reply_t r = {.type = KVE_REPLY_INTEGER, .integer = v->integer};
        if (v->verdict == KVE_POLICY_SEND && st->next_cmd < st->stop_at)
            break; /* its reply comes from Redis */
        if (v->verdict == KVE_POLICY_SEND)
            r = too_big;
        else if (v->verdict == KVE_POLICY_DENY)
            r = (kve_kv_reply_t){.type = KVE_REPLY_ERROR, .len = strlen(v->error), .str = (char *)v->error};
        append_entry(st, &r);
    }
}

static void finish(struct st_rest_req_t *st)
{
    h2o_req_t *req = st->req; /* alive: if the request had ended, on_dispose would have cancelled every command */

    kve_unpark(st->parked);
    st->parked = NULL;
    if (st->failure != 0) {
        kve_rest__send_kv_error(st->self, req, st->failure, response_sync(st));
        return;
    }
    if (st->mode == MODE_MULTI && st->first_queue_error != NULL) {
        kve_rest__send_error(st->self, req, 400, st->first_queue_error, response_sync(st));
        return;
    }
    if (st->mode != MODE_SINGLE) {
        emit_synthesized(st, st->ncmds);
        if (!st->resp2)
            kve_buf_putc(&st->body, ']');
    }
    send_body(st->self, req, st->status, st->resp2 ? "application/octet-stream" : "application/json", st->body.base, st->body.len,
              response_sync(st));
}

/* a result of the batch (in command order); errors of the link fail the whole response (see on_done) */
static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    struct st_rest_req_t *st = data;
    size_t index;

    KVE_CHECK_OBJ(st, REQ_MAGIC);
    index = st->user_index[i];
    if (err == KVE_ENOTSENT) { /* after kve_kv_batch_stop: it and those after it were never sent */
        if (st->stop_at == SIZE_MAX)
            st->stop_at = index;
        return;
    }
    if (err != 0 || st->failure != 0) {
        if (st->failure == 0 && err != KVE_EABORTED)
            st->failure = err;
        return;
    }
    if (st->mode == MODE_SINGLE) {
        st->status = append_entry(st, reply) ? 400 : 200;
        return;
    }
    emit_synthesized(st, index);
    append_entry(st, reply);
    st->next_cmd = index + 1;
    /* a long pipeline: no more commands once the response's budget is spent */
    if (st->mode == MODE_PIPELINE && (st->budget_spent || st->body.len >= reply_cap(st)))
        kve_kv_batch_stop(st->batch);
}

/* the batch is done: the sync token of a request that wrote, then the response */
static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    struct st_rest_req_t *st = data;

    KVE_CHECK_OBJ(st, REQ_MAGIC);
    st->batch = NULL;
    if (result->err == KVE_EABORTED && st->first_queue_error == NULL)
        st->first_queue_error = result->abort_reply != NULL && result->abort_reply->str != NULL
                                    ? h2o_strdup(&st->req->pool, result->abort_reply->str, result->abort_reply->len).base
                                    : "ERR transaction discarded";
    /* the writes ran (or may have): they get a token of their own, even when the position could not be read */
    if (st->writes && st->failure == 0) {
        uint64_t token = kve_sync_issue(&st->self->sync, result->sync_known ? result->sync_offset : 0, st->sync);
        st->sync = KVE_MAX(token, st->sync); /* (KVE_MAX evaluates its arguments twice) */
        st->sync_issued = 1;
    }
    /* min_replicas_ack: applied on the primary (its token stands), not confirmed by enough replicas: 503 */
    if (result->err == KVE_ENOACK && st->failure == 0)
        st->failure = KVE_ENOACK;
    finish(st);
}

static void on_dispose(void *p)
{
    struct st_rest_req_t *st = p;
    if (st->batch != NULL)
        kve_kv_batch_cancel(st->batch);
    kve_buf_dispose(&st->body);
    st->magic = 0;
}

/* the request's commands that reach the store, as one batch: read-only ones flagged so (a driver with replicas
 * may serve them when they have the client's writes, min_sync) */
static size_t build_batch(struct st_rest_req_t *st)
{
    size_t i, n = 0;

    st->kcmds = h2o_mem_alloc_pool(&st->req->pool, sizeof(*st->kcmds) * st->ncmds);
    st->user_index = h2o_mem_alloc_pool(&st->req->pool, sizeof(*st->user_index) * st->ncmds);
    for (i = 0; i != st->ncmds; ++i) {
        const kve_rest_cmd_t *cmd = st->cmds + i;
        if (st->verdicts[i].verdict != KVE_POLICY_SEND)
            continue; /* refused or answered by the policy: never reaches the store */
        st->kcmds[n] = KVE_KV_COMMAND(cmd->argc, cmd->argv, cmd->argvlen);
        if (st->verdicts[i].is_write) {
            st->writes = 1;
        } else {
            st->kcmds[n].flags = KVE_KV_CMD_READ_ONLY;
            st->kcmds[n].min_sync = st->sync;
        }
        st->user_index[n++] = (uint32_t)i;
    }
    return n;
}

/* --- request decoding --- */

static int header_is(h2o_req_t *req, const char *name, size_t nlen, const char *value, size_t vlen, int *present)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, nlen, -1);
    *present = i != -1;
    return i != -1 && h2o_lcstris(req->headers.entries[i].value.base, req->headers.entries[i].value.len, value, vlen);
}

/* Upstash-Encoding and Upstash-Response-Format; returns an error message or NULL */
static const char *read_format_headers(struct st_rest_req_t *st, h2o_req_t *req)
{
    int present;
    st->base64 = header_is(req, H2O_STRLIT("upstash-encoding"), H2O_STRLIT("base64"), &present);
    if (header_is(req, H2O_STRLIT("upstash-response-format"), H2O_STRLIT("resp2"), &present)) {
        st->resp2 = 1;
    } else if (present && !header_is(req, H2O_STRLIT("upstash-response-format"), H2O_STRLIT("json"), &present)) {
        return "ERR Upstash-Response-Format must be json or resp2";
    }
    if (st->resp2 && st->base64)
        return "ERR Upstash-Response-Format: resp2 cannot be combined with Upstash-Encoding: base64";
    if (st->resp2 && st->mode == MODE_MULTI)
        return "ERR Upstash-Response-Format: resp2 is not supported for /multi-exec";
    return NULL;
}

static uint64_t read_client_sync(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("upstash-sync-token"), -1);
    uint64_t v;
    if (i == -1 || !kve_sync_parse(req->headers.entries[i].value.base, req->headers.entries[i].value.len, &v))
        return 0; /* none, or not one of ours: ignored */
    return v;
}

/* the token from Authorization: Bearer, or else ?_token= (a header of another scheme means no token) */
static h2o_iovec_t find_token(h2o_req_t *req, const char *query, size_t query_len)
{
    h2o_iovec_t tok = kve_bearer_token(req);

    if (tok.base == NULL && query != NULL && h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) == -1)
        kve_rest_query_param(query, query_len, "_token", &req->pool, &tok);
    return tok;
}

static int decode(struct st_rest_req_t *st, h2o_req_t *req, const char *rest, size_t rest_len, const char *query, size_t qlen,
                  const char **err)
{
    kve_rest_handler_t *self = st->self;
    char *body = req->entity.base;
    size_t max = (size_t)self->conf->max_commands;

    switch (st->mode) {
    case MODE_SINGLE:
        st->ncmds = 1;
        st->cmds = h2o_mem_alloc_pool(&req->pool, sizeof(*st->cmds));
        if (rest_len == 0)
            return body == NULL ? (*err = "ERR empty command", -1)
                                : kve_rest_parse_command(body, req->entity.len, &req->pool, st->cmds, err);
        return kve_rest_parse_path(rest, rest_len, query, qlen, body, body != NULL ? req->entity.len : 0, &req->pool, st->cmds,
                                   err);
    default:
        if (body == NULL) {
            *err = "ERR the request body must be a JSON array of commands, like [[\"SET\",\"k\",\"v\"],[\"GET\",\"k\"]]";
            return -1;
        }
        return kve_rest_parse_commands(body, req->entity.len, &req->pool, max, &st->cmds, &st->ncmds, err);
    }
}

/* runs the policy on every command; returns the error that refuses the whole request, if any (a refusal
 * is a per-entry error in a JSON pipeline only: a transaction is discarded as a whole) */
static const char *apply_policy(struct st_rest_req_t *st, h2o_req_t *req, int read_only)
{
    size_t i;
    st->verdicts = h2o_mem_alloc_pool(&req->pool, sizeof(*st->verdicts) * st->ncmds);
    for (i = 0; i != st->ncmds; ++i) {
        kve_policy_result_t *v = st->verdicts + i;
        kve_rest_policy_apply(&st->self->policy, read_only ? KVE_POLICY_F_READ_ONLY : 0, st->cmds + i, &req->pool, v);
        if (v->verdict == KVE_POLICY_DENY && (st->mode != MODE_PIPELINE || st->resp2))
            return v->error;
        if (v->verdict == KVE_POLICY_REPLY_INTEGER && st->resp2)
            v->verdict = KVE_POLICY_SEND; /* RESP2 output is Redis' own answer */
    }
    return NULL;
}

/* sends the request's commands; answers at once when nothing needs Redis */
/* the timeout of the request's commands (one group: they time out together): kv.script_timeout when one runs a
 * script (the link then stops the script if it is still running), else kv.command_timeout */
static uint64_t request_timeout(struct st_rest_req_t *st)
{
    for (size_t i = 0; i != st->ncmds; ++i)
        if (st->verdicts[i].verdict == KVE_POLICY_SEND && kve_kv_script_kind(st->cmds[i].argv[0], st->cmds[i].argvlen[0]) != 0)
            return st->self->conf->script_timeout_ms;
    return st->self->conf->command_timeout_ms;
}

static void execute(struct st_rest_req_t *st, h2o_req_t *req)
{
    kve_kv_t *kv = kve_rest__link(st->self, kve_server_thread(req->conn->ctx), st->read_only);
    kve_kv_batch_opts_t opts = {request_timeout(st), NULL, reply_cap(st) != SIZE_MAX ? reply_cap(st) : 0};
    size_t n = build_batch(st);
    int err = KVE_EUNAVAIL;

    if (st->mode == MODE_SINGLE && n == 0) { /* COPY k k */
        st->status = append_entry(st, &(kve_kv_reply_t){.type = KVE_REPLY_INTEGER, .integer = st->verdicts[0].integer}) ? 400 : 200;
        finish(st);
        return;
    }
    if (n == 0) { /* a pipeline or transaction the policy answered whole */
        finish(st);
        return;
    }
    opts.window = st->mode == MODE_PIPELINE ? WINDOW : 0;
    opts.flags = (st->mode == MODE_MULTI ? KVE_KV_BATCH_ATOMIC : 0) | (st->writes ? KVE_KV_BATCH_SYNC | KVE_KV_BATCH_ACK : 0);
    if (kv == NULL || (st->batch = kve_kv_batch(kv, st->kcmds, n, &opts, on_reply, on_done, st, &err)) == NULL) {
        st->failure = err; /* nothing was sent */
        finish(st);
        return;
    }
    st->parked = kve_park(req);
}

static int route(const char *rest, size_t len, const char *name, const char **args, size_t *args_len)
{
    size_t n = strlen(name);
    if (len < 1 + n || rest[0] != '/' || memcmp(rest + 1, name, n) != 0 || (len > 1 + n && rest[1 + n] != '/'))
        return 0;
    *args = rest + 1 + n;
    *args_len = len - 1 - n;
    return 1;
}

/* "subscribe", "psubscribe" or "monitor" when the path names one of the streaming endpoints */
static const char *stream_kind(const char *rest, size_t len, const char **args, size_t *args_len)
{
    static const char *const kinds[] = {"subscribe", "psubscribe", "monitor"};
    size_t i;
    for (i = 0; i != KVE_ARRAY_SIZE(kinds); ++i)
        if (route(rest, len, kinds[i], args, args_len))
            return kinds[i];
    return NULL;
}

/* the policy's refusal of a streaming endpoint, or NULL: its command alone is judged (the channel names
 * are checked by the endpoint) */
static const char *stream_refusal(kve_rest_handler_t *self, h2o_req_t *req, const char *kind, int read_only)
{
    const char *argv[1] = {kind};
    size_t argvlen[1] = {strlen(kind)};
    kve_rest_cmd_t cmd = {1, argv, argvlen};
    kve_policy_result_t res;

    kve_rest_policy_apply(&self->policy, KVE_POLICY_F_STREAM | (read_only ? KVE_POLICY_F_READ_ONLY : 0), &cmd, &req->pool, &res);
    return res.verdict == KVE_POLICY_DENY ? res.error : NULL;
}

static int method_allowed(kve_rest_handler_t *self, h2o_req_t *req)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT"};
    size_t i;
    for (i = 0; i != KVE_ARRAY_SIZE(methods); ++i)
        if (h2o_memis(req->method.base, req->method.len, methods[i], strlen(methods[i])))
            return 1;
    return 0;
}

static int serve_options(kve_rest_handler_t *self, h2o_req_t *req)
{
    static const char allow_headers[] =
        "authorization, content-type, upstash-encoding, upstash-response-format, upstash-sync-token, "
        "upstash-telemetry-runtime, upstash-telemetry-platform, upstash-telemetry-sdk";
    if (self->conf->cors_origins.size == 0)
        return 0;
    req->res.status = 204;
    req->res.reason = "No Content";
    kve_rest__add_cors(self, req);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT("GET, HEAD, POST, PUT, OPTIONS"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL, allow_headers,
                          sizeof(allow_headers) - 1);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL, H2O_STRLIT("600"));
    req->res.content_length = 0;
    h2o_start_response(req, (h2o_generator_t *)&static_generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    return 1;
}

/* a token that was presented and refused: why, and the client's address (never the token) */
static void log_refused(h2o_req_t *req, const char *why)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername != NULL ? req->conn->callbacks->get_peername(req->conn, (void *)&ss) : 0;
    char host[NI_MAXHOST];

    if (len == 0 || h2o_socket_getnumerichost((void *)&ss, len, host) == SIZE_MAX)
        strcpy(host, "?");
    kve_log(KVE_LOG_INFO, "kv", "401 for %s: %s", host, why);
}

static int authenticate(kve_rest_handler_t *self, h2o_req_t *req, const char *query, size_t qlen, int *read_only)
{
    h2o_iovec_t tok = find_token(req, query, qlen);
    char who[160];
    int access = KVE_ACCESS_NONE;

    if (tok.base != NULL &&
        (access = kve_rest_auth_check(self->auth, tok.base, tok.len, time(NULL), who, sizeof(who))) == KVE_ACCESS_NONE)
        log_refused(req, who);
    *read_only = access == KVE_ACCESS_READ_ONLY;
    return access != KVE_ACCESS_NONE;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    kve_rest_handler_t *self = (void *)_self;
    size_t path_end = req->query_at != SIZE_MAX ? req->query_at : req->path.len, qlen = 0, args_len;
    const char *rest = req->path.base + self->prefix_len, *query = NULL, *args, *err, *kind;
    size_t rest_len = path_end >= self->prefix_len ? path_end - self->prefix_len : 0;
    struct st_rest_req_t *st;
    int read_only;

    if (req->query_at != SIZE_MAX)
        query = req->path.base + req->query_at + 1, qlen = req->path.len - req->query_at - 1;
    /* h2o routed the normalised path here; serve only a raw path that says the same */
    if ((err = kve_rest_check_path(req->path.base, path_end, self->conf->path, self->prefix_len, &req->pool)) != NULL) {
        kve_rest__send_error(self, req, 400, err, kve_rest__sync_seen(self));
        return 0;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) && serve_options(self, req))
        return 0;
    if (!method_allowed(self, req)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD, POST, PUT"));
        kve_rest__send_error(self, req, 405, "ERR method not allowed", kve_rest__sync_seen(self));
        return 0;
    }
    if (!authenticate(self, req, query, qlen, &read_only)) {
        kve_rest__send_error(self, req, 401, "WRONGPASS invalid or missing auth token", 0);
        return 0;
    }
    if (req->entity.base != NULL && req->entity.len > self->conf->max_request_size) {
        kve_rest__send_error(self, req, 400, "ERR max request size exceeded", kve_rest__sync_seen(self));
        return 0;
    }
    if ((kind = stream_kind(rest, rest_len, &args, &args_len)) != NULL) {
        if ((err = stream_refusal(self, req, kind, read_only)) != NULL)
            kve_rest__send_error(self, req, 400, err, kve_rest__sync_seen(self));
        else
            kve_rest__serve_stream(self, req, find_token(req, query, qlen), kind, args, args_len, read_only);
        return 0;
    }
    st = h2o_mem_alloc_shared(&req->pool, sizeof(*st), on_dispose);
    *st = (struct st_rest_req_t){REQ_MAGIC, req, self, kve_rest__thread(self, req), MODE_SINGLE};
    st->stop_at = SIZE_MAX;
    st->sync = read_client_sync(req);
    st->read_only = read_only;
    if (route(rest, rest_len, "pipeline", &args, &args_len) && args_len <= 1)
        st->mode = MODE_PIPELINE, rest_len = 0;
    else if (route(rest, rest_len, "multi-exec", &args, &args_len) && args_len <= 1)
        st->mode = MODE_MULTI, rest_len = 0;
    else if (rest_len == 1 && rest[0] == '/')
        rest_len = 0;
    if ((err = read_format_headers(st, req)) != NULL || decode(st, req, rest, rest_len, query, qlen, &err) != 0 ||
        (err = apply_policy(st, req, read_only)) != NULL) {
        kve_rest__send_error(self, req, 400, err, response_sync(st));
        return 0;
    }
    kve_buf_reserve(&st->body, 1024); /* one allocation for a typical reply instead of growing twice */
    if (st->mode != MODE_SINGLE && !st->resp2)
        kve_buf_putc(&st->body, '[');
    st->status = 200;
    execute(st, req);
    return 0;
}

/* --- registration --- */

static void on_context_init(h2o_handler_t *_self, h2o_context_t *ctx)
{
    kve_rest_handler_t *self = (void *)_self;
    kve_rest_thread_t *t = kve_zalloc(sizeof(*t));
    h2o_timeout_init(ctx->loop, &t->heartbeat, self->conf->heartbeat_ms);
    h2o_context_set_handler_context(ctx, _self, t);
}

static void on_context_dispose(h2o_handler_t *_self, h2o_context_t *ctx)
{
    kve_rest_thread_t *t = h2o_context_get_handler_context(ctx, _self);
    h2o_timeout_dispose(ctx->loop, &t->heartbeat);
    free(t);
}

static void on_handler_dispose(h2o_handler_t *_self)
{
    kve_rest_handler_t *self = (void *)_self;
    kve_rest_auth_free(self->auth);
}

void kve_rest_policy_of(const kve_rest_conf_t *conf, kve_rest_policy_t *out)
{
    *out = (kve_rest_policy_t){conf->allow_keys, conf->allow_flush, conf->max_key_size, conf->scan_max_count};
    out->deny.entries = conf->deny_commands.entries, out->deny.size = conf->deny_commands.size;
    out->allow.entries = conf->allow_commands.entries, out->allow.size = conf->allow_commands.size;
}

void kve_rest_register(h2o_pathconf_t *pathconf, const kve_rest_conf_t *conf)
{
    kve_rest_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->super.on_context_init = on_context_init;
    self->super.on_context_dispose = on_context_dispose;
    self->super.dispose = on_handler_dispose;
    self->conf = conf;
    self->store_id = conf->store_id;
    /* a JWT key shorter than KVE_JWT_MIN_KEY is refused by the configuration, and never verifies anything */
    self->auth = kve_rest_auth_new(conf->tokens.entries, conf->tokens.size, conf->jwt_key, conf->jwt_max_ttl_ms / 1000);
    kve_rest_policy_init();
    kve_rest_policy_of(conf, &self->policy);
    self->prefix_len = strcmp(pathconf->path.base, "/") == 0 ? 0 : pathconf->path.len;
}
