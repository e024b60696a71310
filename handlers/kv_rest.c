/* SPDX-License-Identifier: MIT */
/*
 * KV REST API requests (see kv_rest.h): the raw path (kv_path.h), routing, authentication, decoding,
 * policy, then the commands of the request issued back to back on the thread's KV link, and one JSON (or
 * RESP2) response when the last reply is in. Replies on one connection come back in order, so the body is encoded as they arrive;
 * a timeout or a lost connection turns the whole response into a 504/503, since a partial result of a
 * pipeline or transaction cannot be trusted. The sync counter's INCR is the exception: it comes after
 * every user command, so when it fails the result is complete and stands (with the last token known).
 *
 * The work one request causes is bounded: all of its commands form one kve_kv_group_t (they time out
 * together and count once towards the link's circuit breaker), every reply is held to kv.max_reply_size
 * while it is read (a larger one arrives as KVE_REPLY_TOO_BIG), and a /pipeline longer than WINDOW
 * commands keeps at most WINDOW of them in flight, sending the rest as replies come back and none once the
 * response has used up kv.max_reply_size: those entries are "ERR max response size exceeded" without
 * reaching Redis. A transaction is always sent whole (MULTI...EXEC back to back, see issue_all).
 */
#include "handlers/kv_rest_internal.h"
#include "handlers/bearer.h"
#include "handlers/kv_json.h"
#include "handlers/kv_path.h"
#include "handlers/kv_reply.h"
#include "proxy/common.h"
#include "proxy/err.h"
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
enum { SLOT_USER, SLOT_MULTI, SLOT_QUEUED, SLOT_EXEC, SLOT_SYNC, SLOT_SYNC_FIX };

struct st_rest_req_t;

struct st_slot_t {
    struct st_rest_req_t *st;
    kve_kv_cmd_t *handle;
    uint32_t index; /* user command index */
    uint8_t kind;
};

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
    struct st_slot_t *slots;
    size_t nslots;
    size_t pending;
    /** the request's commands: one timeout, one count towards the breaker; their options (issue) */
    kve_kv_group_t group;
    kve_kv_opts_t opts;
    size_t next_issue;   /* pipeline: the next user command to send */
    size_t stop_at;      /* commands from here on were not sent: the response budget was spent */
    size_t user_waiting; /* user commands sent and not yet answered */
    int writes;          /* a command that may write was sent: the sync counter's INCR follows them */
    unsigned budget_spent : 1;
    size_t next_cmd; /* pipeline/transaction: entries are appended in command order */
    size_t entries;  /* entries written so far */
    int failure;     /* first KVE_E* of the link, if any */
    int status;      /* HTTP status of a single command (200 or 400) */
    const char *first_queue_error;
    uint64_t sync;
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

    kve_rest_json_error(&out, msg);
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
    return KVE_MAX(st->sync, kve_rest__sync_seen(st->self));
}

static int encode(struct st_rest_req_t *st, const kve_kv_reply_t *reply, size_t limit)
{
    return st->resp2 ? kve_rest_resp2(&st->body, reply, limit) : kve_rest_json_envelope(&st->body, reply, st->base64, limit);
}

/*
 * Appends `reply` as the response (a single command) or as its next entry. A reply that would take the body
 * past kv.max_reply_size is replaced by an error, so the body holds at most that many bytes of results plus
 * those short errors (at most kv.max_commands of them). Returns whether an error reply was written.
 */
static const kve_kv_reply_t too_big = {KVE_REPLY_ERROR, 0, 30, "ERR max response size exceeded", 0, NULL};

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
        kve_kv_reply_t r = {KVE_REPLY_INTEGER, v->integer, 0, NULL, 0, NULL};
        if (v->verdict == KVE_POLICY_SEND && st->next_cmd < st->stop_at)
            break; /* its reply comes from Redis */
        if (v->verdict == KVE_POLICY_SEND)
            r = too_big;
        else if (v->verdict == KVE_POLICY_DENY)
            r = (kve_kv_reply_t){KVE_REPLY_ERROR, 0, strlen(v->error), (char *)v->error, 0, NULL};
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

static void on_user_reply(struct st_rest_req_t *st, uint32_t index, const kve_kv_reply_t *reply)
{
    if (st->mode == MODE_SINGLE) {
        st->status = append_entry(st, reply) ? 400 : 200;
        return;
    }
    emit_synthesized(st, index);
    append_entry(st, reply);
    st->next_cmd = index + 1;
}

/* EXEC's reply: the array of results (one entry each, with the policy's own answers in their places), or
 * EXECABORT when a command failed to queue (its own error was kept) */
static void on_exec_reply(struct st_rest_req_t *st, const kve_kv_reply_t *reply)
{
    size_t i;
    if (reply->type == KVE_REPLY_TOO_BIG) { /* the transaction ran: every entry says its result was too big */
        st->stop_at = st->next_cmd;
        return;
    }
    if (reply->type != KVE_REPLY_ARRAY) {
        if (st->first_queue_error == NULL)
            st->first_queue_error = reply->type == KVE_REPLY_ERROR ? h2o_strdup(&st->req->pool, reply->str, reply->len).base
                                                                   : "ERR transaction discarded";
        return;
    }
    for (i = 0; i != reply->elements; ++i) {
        emit_synthesized(st, st->ncmds);
        append_entry(st, reply->element[i]);
        ++st->next_cmd;
    }
}

static int issue(struct st_rest_req_t *st, kve_kv_t *kv, uint8_t kind, uint32_t index, size_t argc, const char *const *argv,
                 const size_t *argvlen);
static void issue_more(struct st_rest_req_t *st);

/* the highest token this request knows was handed out: the process', or the client's if plausible (kv_sync.h) */
static uint64_t sync_floor(struct st_rest_req_t *st)
{
    return kve_sync_floor(&st->self->sync, st->sync);
}

/* INCR <sync_key> came back at or below a token already handed out: the key was deleted (FLUSHDB, FLUSHALL,
 * DEL, a Redis without persistence restarted). Raise it past that token so tokens keep growing; the script is
 * idempotent, so concurrent writes that all saw the low value raise it once between them. */
static void fix_sync_counter(struct st_rest_req_t *st, uint64_t value, uint64_t floor)
{
    char target[24];
    const char *key = st->self->conf->sync_key;
    const char *argv[5] = {"EVAL", kve_sync_raise_script, "1", key, target};
    size_t argvlen[5] = {4, strlen(kve_sync_raise_script), 1, strlen(key), 0};
    kve_kv_t *kv = kve_rest__link(st->self, kve_server_thread(st->req->conn->ctx), 0);

    argvlen[4] = kve_u64toa(floor + 1, target); /* floor <= KVE_SYNC_MAX */
    if (kv == NULL || issue(st, kv, SLOT_SYNC_FIX, 0, 5, argv, argvlen) != 0)
        return;
    if (kve_sync_should_log_raise(&st->self->sync, floor))
        kve_log(KVE_LOG_INFO, "kv", "%s restarted at %llu (below %llu): moved past it", key, (unsigned long long)value,
                (unsigned long long)floor);
}

/* The counter could not be read: an error reply (the key holds something else, an ACL), a timeout or a lost
 * connection. The user's commands ran and replied, so the response stands, with the last token known. */
static void on_sync_failed(struct st_rest_req_t *st, int err, const kve_kv_reply_t *reply)
{
    const char *key = st->self->conf->sync_key, *text = reply != NULL && reply->str != NULL ? reply->str : "";
    size_t len = reply != NULL && reply->str != NULL ? KVE_MIN(reply->len, 100) : 0;

    if (err != 0) { /* transient, and the link reports it */
        kve_log(KVE_LOG_DEBUG, "kv", "INCR %s failed (%s): the response carries the last sync token", key, kve_strerror(err));
    } else if ((len >= 4 && memcmp(text, "BUSY", 4) == 0) || (len >= 7 && memcmp(text, "LOADING", 7) == 0)) {
        /* transient too: a script holds Redis (the watchdog reports it) or it is loading its data */
        kve_log(KVE_LOG_DEBUG, "kv", "INCR %s failed (%.*s): the response carries the last sync token", key, (int)len, text);
    } else if (kve_sync_should_warn(&st->self->sync, text, len)) {
        kve_log(KVE_LOG_WARN, "kv", "INCR %s failed (%.*s): sync tokens stay at %llu until it works again (DEL %s resets it)", key,
                (int)len, text, (unsigned long long)kve_rest__sync_seen(st->self), key);
    }
}

/* The counter holds something no count of writes reaches (a client set it): never taken as a token. */
static void on_sync_implausible(struct st_rest_req_t *st, const kve_kv_reply_t *reply)
{
    const char *key = st->self->conf->sync_key;
    char value[48];

    if (reply->type == KVE_REPLY_INTEGER)
        snprintf(value, sizeof(value), "%lld", reply->integer);
    else
        snprintf(value, sizeof(value), "\"%.*s\"", (int)KVE_MIN(reply->str != NULL ? reply->len : 0, 40),
                 reply->str != NULL ? reply->str : "");
    if (kve_sync_should_warn(&st->self->sync, KVE_STRLIT("implausible")))
        kve_log(KVE_LOG_WARN, "kv",
                "the sync counter %s holds %s, not a plausible count (1 to 2^53): ignored, sync tokens stay at %llu until "
                "it is reset (DEL %s)",
                key, value, (unsigned long long)kve_rest__sync_seen(st->self), key);
}

static void on_sync_reply(struct st_rest_req_t *st, uint8_t kind, int err, const kve_kv_reply_t *reply)
{
    uint64_t floor = sync_floor(st), v;

    if (err != 0 || reply->type == KVE_REPLY_ERROR) {
        on_sync_failed(st, err, reply);
    } else if (!kve_sync_value(reply, &v)) {
        on_sync_implausible(st, reply);
    } else if (kind == SLOT_SYNC && v <= floor) {
        fix_sync_counter(st, v, floor);
    } else {
        kve_sync_note(&st->self->sync, v);
    }
}

static void on_reply(void *data, int err, const kve_kv_reply_t *reply)
{
    struct st_slot_t *slot = data;
    struct st_rest_req_t *st = slot->st;

    KVE_CHECK_OBJ(st, REQ_MAGIC);
    slot->handle = NULL;
    if (slot->kind == SLOT_SYNC || slot->kind == SLOT_SYNC_FIX) {
        if (st->failure == 0)
            on_sync_reply(st, slot->kind, err, reply); /* failing to count the writes never fails the request */
    } else if (err != 0) {
        if (st->failure == 0)
            st->failure = err;
    } else if (st->failure == 0) {
        switch (slot->kind) {
        case SLOT_USER:
            --st->user_waiting;
            on_user_reply(st, slot->index, reply);
            issue_more(st);
            break;
        case SLOT_QUEUED:
            if (reply->type == KVE_REPLY_ERROR && st->first_queue_error == NULL)
                st->first_queue_error = h2o_strdup(&st->req->pool, reply->str, reply->len).base;
            break;
        case SLOT_EXEC:
            on_exec_reply(st, reply);
            break;
        }
    }
    if (--st->pending == 0)
        finish(st);
}

static void on_dispose(void *p)
{
    struct st_rest_req_t *st = p;
    size_t i;
    for (i = 0; i != st->nslots; ++i)
        if (st->slots[i].handle != NULL)
            kve_kv_cancel(st->slots[i].handle);
    kve_buf_dispose(&st->body);
    st->magic = 0;
}

/* --- issuing --- */

static int issue(struct st_rest_req_t *st, kve_kv_t *kv, uint8_t kind, uint32_t index, size_t argc, const char *const *argv,
                 const size_t *argvlen)
{
    struct st_slot_t *slot = st->slots + st->nslots;
    int err = 0;

    *slot = (struct st_slot_t){st, NULL, index, kind};
    st->opts.split_array = kind == SLOT_EXEC; /* EXEC's results are held to the limit one by one */
    if ((slot->handle = kve_kv_command(kv, argc, argv, argvlen, &st->opts, on_reply, slot, &err)) == NULL)
        return err;
    ++st->nslots;
    ++st->pending;
    return 0;
}

/* the sync counter's INCR, after every command that may write (on the same connection, so after them); the
 * callers send it only when one was sent (st->writes) */
static int issue_sync(struct st_rest_req_t *st, kve_kv_t *kv)
{
    const char *sync[2] = {"INCR", st->self->conf->sync_key};
    size_t sync_len[2] = {4, strlen(st->self->conf->sync_key)};
    return issue(st, kv, SLOT_SYNC, 0, 2, sync, sync_len);
}

/* Sends user commands from next_issue on while fewer than `window` wait (pipelines and single commands);
 * after the last one, the sync counter's INCR. */
static int issue_window(struct st_rest_req_t *st, kve_kv_t *kv, size_t window)
{
    int err = 0;

    for (; st->next_issue != st->ncmds && st->user_waiting < window && err == 0; ++st->next_issue) {
        const kve_rest_cmd_t *cmd = st->cmds + st->next_issue;
        if (st->verdicts[st->next_issue].verdict != KVE_POLICY_SEND)
            continue; /* refused or answered by the policy: never reaches Redis */
        if ((err = issue(st, kv, SLOT_USER, (uint32_t)st->next_issue, cmd->argc, cmd->argv, cmd->argvlen)) != 0)
            break;
        st->writes |= st->verdicts[st->next_issue].is_write;
        ++st->user_waiting;
    }
    if (err == 0 && st->next_issue == st->ncmds && st->writes)
        err = issue_sync(st, kv);
    return err;
}

/* a user command of a long pipeline was answered: send the next one, or none once the budget is spent */
static void issue_more(struct st_rest_req_t *st)
{
    kve_kv_t *kv;
    int err;

    if (st->next_issue == st->ncmds)
        return;
    if (st->budget_spent || (st->body.len >= reply_cap(st))) {
        st->stop_at = st->next_issue; /* their entries: "ERR max response size exceeded" */
        st->next_issue = st->ncmds;
        if (st->writes && (kv = kve_rest__link(st->self, kve_server_thread(st->req->conn->ctx), st->read_only)) != NULL &&
            issue_sync(st, kv) != 0)
            kve_log(KVE_LOG_DEBUG, "kv", "INCR %s not sent: the response carries the last sync token", st->self->conf->sync_key);
        return;
    }
    if ((kv = kve_rest__link(st->self, kve_server_thread(st->req->conn->ctx), st->read_only)) == NULL ||
        (err = issue_window(st, kv, WINDOW)) != 0)
        st->failure = kv == NULL ? KVE_EUNAVAIL : err;
}

/* Queues the commands of the request: a transaction and a pipeline of at most WINDOW commands whole, a
 * longer pipeline's first WINDOW. A link changes state only from the event loop (queuing writes nothing),
 * so either the first command fails and nothing was queued, or all of them are: a MULTI is never left
 * open on the shared connection. */
static int issue_all(struct st_rest_req_t *st, kve_kv_t *kv)
{
    static const char *const multi[] = {"MULTI"}, *const exec[] = {"EXEC"};
    static const size_t multi_len[] = {5}, exec_len[] = {4};
    size_t i;
    int err = 0;

    if (st->mode == MODE_SINGLE) { /* the hot path: one command the policy let through (execute checked) */
        st->next_issue = st->user_waiting = 1;
        st->writes = st->verdicts[0].is_write;
        if ((err = issue(st, kv, SLOT_USER, 0, st->cmds[0].argc, st->cmds[0].argv, st->cmds[0].argvlen)) == 0 && st->writes)
            err = issue_sync(st, kv);
        KVE_ASSERT(err == 0 || st->nslots == 0);
        return err;
    }
    if (st->mode == MODE_PIPELINE) {
        err = issue_window(st, kv, WINDOW);
        KVE_ASSERT(err == 0 || st->nslots == 0);
        return err;
    }
    err = issue(st, kv, SLOT_MULTI, 0, 1, multi, multi_len);
    for (i = 0; i != st->ncmds && err == 0; ++i) {
        if (st->verdicts[i].verdict != KVE_POLICY_SEND)
            continue;
        st->writes |= st->verdicts[i].is_write;
        err = issue(st, kv, SLOT_QUEUED, (uint32_t)i, st->cmds[i].argc, st->cmds[i].argv, st->cmds[i].argvlen);
    }
    if (err == 0)
        err = issue(st, kv, SLOT_EXEC, 0, 1, exec, exec_len);
    if (err == 0 && st->writes)
        err = issue_sync(st, kv);
    KVE_ASSERT(err == 0 || st->nslots == 0);
    return err;
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
    uint64_t v = 0;
    size_t j;
    if (i == -1 || req->headers.entries[i].value.len > 19)
        return 0;
    for (j = 0; j != req->headers.entries[i].value.len; ++j) {
        char c = req->headers.entries[i].value.base[j];
        if (c < '0' || c > '9')
            return 0; /* not one of ours: ignore */
        v = v * 10 + (uint64_t)(c - '0');
    }
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
    size_t i, nsend = 0;
    int err;

    for (i = 0; i != st->ncmds; ++i)
        nsend += st->verdicts[i].verdict == KVE_POLICY_SEND;
    if (st->mode == MODE_SINGLE && nsend == 0) { /* COPY k k */
        st->status = append_entry(st, &(kve_kv_reply_t){KVE_REPLY_INTEGER, st->verdicts[0].integer}) ? 400 : 200;
        finish(st);
        return;
    }
    st->slots = h2o_mem_alloc_pool(&req->pool, sizeof(*st->slots) * (st->ncmds + 4)); /* + MULTI, EXEC, sync, fix */
    st->opts = (kve_kv_opts_t){request_timeout(st), &st->group, reply_cap(st) != SIZE_MAX ? reply_cap(st) : 0};
    ++st->pending; /* held while issuing, so a reply can never finish the request early */
    if (kv == NULL || (err = issue_all(st, kv)) != 0)
        st->failure = kv == NULL ? KVE_EUNAVAIL : err; /* nothing was sent */
    if (--st->pending == 0)
        finish(st);
    else
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
