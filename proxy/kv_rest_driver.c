/* SPDX-License-Identifier: MIT */
/*
 * KV REST driver (see kv_rest_driver.h; transactions sent as a script are in kv_rest_tx.c). A link collects the commands of one
 * loop turn into requests being built
 * (`building`: one /pipeline body; path-form and /multi-exec requests are complete at once, on `ready`); a 0 ms
 * timer sends them all at the end of the turn. Each request owns its ops until its response (or its failure)
 * completes every one of them; kv.c puts results back in order across requests answered out of order. States:
 * CONNECTING (the PING probe is out; commands queue and go), UP, DOWN (commands fail fast with KVE_EUNAVAIL, or
 * KVE_EAUTH after the store refused the token; a tick sends the next probe after the backoff).
 */
#include "proxy/kv_rest_driver.h"
#include "proxy/buf.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_commands.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_rest_codec.h"
#include "proxy/kv_rest_internal.h"
#include "proxy/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECONNECT_MIN_MS 50
#define TICK_MS 50
#define MAX_PATH_TARGET (16 * 1024)

static void start_probe(rest_link_t *link);
static void req_start(rest_link_t *link, rest_req_t *r);
static void count_sent(kve_kv_stats_t *st, const rest_req_t *r);

/* --- requests --- */

rest_req_t *kve_kv_rest__req_new(rest_link_t *link, int kind)
{
    rest_req_t *r = kve_zalloc(sizeof(*r));
    r->magic = KVE_KV_REST_REQ_MAGIC;
    r->link = link;
    r->kind = kind;
    return r;
}

void kve_kv_rest__req_add_op(rest_req_t *r, kve_kv_op_t *op, size_t off, size_t len, int safe)
{
    if (r->n == r->cap) {
        r->cap = r->cap == 0 ? 8 : r->cap * 2;
        r->ops = realloc(r->ops, sizeof(*r->ops) * r->cap);
        r->meta = realloc(r->meta, sizeof(*r->meta) * r->cap);
        KVE_ASSERT(r->ops != NULL && r->meta != NULL);
    }
    r->meta[r->n] = (rest_op_meta_t){(uint32_t)off, (uint32_t)len, (uint8_t)safe};
    r->ops[r->n++] = op;
}

/* whether `cmd` may run twice: a read (Redis' read-only flag or @read category, and not a write) */
int kve_kv_rest__cmd_is_safe(const kve_kv_command_t *cmd)
{
    kve_cmd_ref_t ref;
    return kve_cmd_find(cmd->argc, cmd->argv, cmd->argvlen, &ref) && (kve_cmd_kind(ref.info) & KVE_CMD_K_READ) != 0;
}

static void sync_answer(kve_kv_batch_t *b, int known, uint64_t offset)
{
    while (b != NULL) {
        kve_kv_batch_t *next = b->driver_next;
        b->driver_next = NULL;
        kve_kv__sync_done(b, known, offset);
        b = next;
    }
}

/* answers `b` and the batches linked to it with the current token (when `ok` and it is a number) */
void kve_kv_rest__sync_answer_now(rest_link_t *link, kve_kv_batch_t *b, int ok)
{
    char raw[KVE_KV_REST_SYNC_MAX];
    int numeric = 0;
    uint64_t value = 0;

    if (b == NULL)
        return;
    kve_kv_rest_sync_get(link->sync, raw, &numeric, &value);
    sync_answer(b, ok && numeric, value);
}

static void pump(rest_link_t *link);

void kve_kv_rest__req_free(rest_req_t *r)
{
    rest_link_t *link = r->link;
    int counted = r->counted;

    if (counted)
        --link->num_sent, link->num_sent_writes -= r->write;
    if (r->prev != NULL && (*r->prev = r->next) != NULL)
        r->next->prev = r->prev;
    if (link->last == r)
        link->last = NULL;
    if (link->probe == r)
        link->probe = NULL;
    kve_buf_dispose(&r->target);
    kve_buf_dispose(&r->body);
    kve_buf_dispose(&r->resp);
    free(r->ops);
    free(r->meta);
    r->magic = 0;
    free(r);
    if (counted && !link->super.closing)
        pump(link);
}

/* every op of `r` gets `err` (or `reply`), its sync waiters the current token; frees `r` */
void kve_kv_rest__req_finish(rest_req_t *r, int err, const kve_kv_reply_t *reply)
{
    rest_link_t *link = r->link;
    kve_kv_batch_t *waiting = r->sync_waiting;

    r->sync_waiting = NULL;
    for (size_t i = 0; i != r->n; ++i)
        kve_kv__complete(r->ops[i], err, reply);
    kve_kv_rest__sync_answer_now(link, waiting, err == 0);
    kve_kv_rest__req_free(r);
}

/* --- link state --- */

static void go_down(rest_link_t *link, const char *why)
{
    kve_kv__set_state(&link->super, KVE_KV_DOWN);
    if (link->super.closing)
        return;
    if (!link->logged_down) {
        kve_log(KVE_LOG_WARN, "kv-rest", "link to %s is down: %s; reconnecting", link->super.peer, why);
        link->logged_down = 1;
    } else {
        kve_log(KVE_LOG_DEBUG, "kv-rest", "reconnect to %s failed: %s", link->super.peer, why);
    }
    link->backoff_ms = link->backoff_ms == 0 ? RECONNECT_MIN_MS : KVE_MIN(link->backoff_ms * 2, link->conf.reconnect_max_delay_ms);
    link->next_attempt_at = h2o_now(link->super.loop) + link->backoff_ms;
    if (!h2o_timeout_is_linked(&link->tick_entry))
        h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
}

static void go_up(rest_link_t *link)
{
    if (link->super.stats->state == KVE_KV_UP)
        return;
    if (link->ever_up)
        KVE_STAT_ADD(link->super.stats->reconnects, 1);
    kve_log(link->logged_down || !link->ever_up ? KVE_LOG_INFO : KVE_LOG_DEBUG, "kv-rest", "link to %s is up", link->super.peer);
    link->ever_up = 1;
    link->logged_down = link->logged_auth = link->auth_refused = 0;
    link->backoff_ms = 0;
    link->consecutive_timeouts = 0;
    kve_kv__set_state(&link->super, KVE_KV_UP);
}

/* the store refused the token: a configuration problem; one line per episode, never the token */
static void refuse_token(rest_link_t *link, int status)
{
    if (!link->logged_auth)
        kve_log(KVE_LOG_ERROR, "kv-rest", "%s refused kvedge's token (HTTP %d): check the store's token; retrying",
                link->super.peer, status);
    link->logged_auth = link->logged_down = 1;
    if (link->super.stats->state != KVE_KV_DOWN)
        go_down(link, "token refused");
    link->auth_refused = 1;
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    rest_link_t *link = H2O_STRUCT_FROM_MEMBER(rest_link_t, tick_entry, entry);
    if (link->super.closing || link->probe != NULL || link->super.stats->state != KVE_KV_DOWN)
        return;
    if (h2o_now(link->super.loop) >= link->next_attempt_at)
        start_probe(link);
    else
        h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
}

/* --- responses --- */

static int status_error(int status)
{
    switch (status) {
    case 401:
    case 403:
        return KVE_EAUTH;
    case 413:
        return KVE_ETOO_LARGE;
    case 429:
        return KVE_ERATE_LIMITED;
    default:
        return KVE_EPROTO;
    }
}

static int transport_error(int err)
{
    switch (err) {
    case KVE_EUPSTREAM_IO_TIMEOUT:
    case KVE_EUPSTREAM_DEADLINE:
    case KVE_EUPSTREAM_CONNECT_TIMEOUT:
        return KVE_ETIMEDOUT;
    case KVE_EUPSTREAM_PROTO:
    case KVE_EUPSTREAM_TOO_LARGE:
        return KVE_EPROTO;
    case KVE_ESHUTDOWN:
        return KVE_ESHUTDOWN;
    default:
        return KVE_ECONN;
    }
}

static int on_head(kve_httpclient_req_t *hreq, void *data, const kve_httpclient_response_t *res)
{
    rest_req_t *r = data;
    rest_link_t *link = r->link;

    KVE_CHECK_OBJ(r, KVE_KV_REST_REQ_MAGIC);
    r->status = res->status;
    for (size_t i = 0; i != res->num_headers; ++i)
        if (res->headers[i].name_len == 18 && memcmp(res->headers[i].name, "upstash-sync-token", 18) == 0)
            kve_kv_rest_sync_take(link->sync, res->headers[i].value, res->headers[i].value_len);
    /* 200, and 400 (an error envelope: a discarded transaction, a command error in the path form) carry JSON */
    if (res->status == 200 || res->status == 400) {
        if (res->content_length != UINT64_MAX && res->content_length > r->limit) {
            r->hreq = NULL;
            kve_kv_rest__req_finish(r, 0, &(kve_kv_reply_t){KVE_REPLY_TOO_BIG});
            return 1;
        }
        return 0;
    }
    r->hreq = NULL;
    KVE_STAT_ADD(link->super.stats->pipeline_errors, r->kind != REQ_PROBE);
    if (res->status == 401 || res->status == 403)
        refuse_token(link, res->status);
    else if (res->status >= 500)
        kve_log(KVE_LOG_DEBUG, "kv-rest", "%s answered HTTP %d", link->super.peer, res->status);
    kve_kv_rest__req_finish(r, status_error(res->status), NULL);
    return 1; /* the body is not needed: the connection is closed */
}

static void complete_entries(rest_req_t *r)
{
    size_t *limits = kve_malloc(sizeof(*limits) * KVE_MAX(r->n, 1));
    kve_rest_entry_t *e = kve_malloc(sizeof(*e) * KVE_MAX(r->n, 1));
    kve_kv_batch_t *waiting = r->sync_waiting;
    size_t i;

    for (i = 0; i != r->n; ++i)
        limits[i] = kve_kv__max_reply_size(r->ops[i]->batch);
    if (kve_rest_decode_entries(r->resp.base, r->resp.len, r->n, limits, e) != 0) {
        free(limits), free(e);
        kve_log(KVE_LOG_DEBUG, "kv-rest", "%s sent a body that is not %zu entries", r->link->super.peer, r->n);
        KVE_STAT_ADD(r->link->super.stats->pipeline_errors, 1);
        kve_kv_rest__req_finish(r, KVE_EPROTO, NULL);
        return;
    }
    r->sync_waiting = NULL;
    for (i = 0; i != r->n; ++i) {
        kve_kv__complete(r->ops[i], e[i].err, e[i].reply);
        kve_rest_reply_free(e[i].reply);
    }
    kve_kv_rest__sync_answer_now(r->link, waiting, 1);
    free(limits), free(e);
    kve_kv_rest__req_free(r);
}

/* a 400 to a /multi-exec or /pipeline: the request as a whole was refused ({"error"}) */
static void complete_refused(rest_req_t *r, const kve_rest_entry_t *env)
{
    if ((r->kind == REQ_MULTI || r->kind == REQ_TX) && env->reply != NULL && env->reply->type == KVE_REPLY_ERROR) {
        kve_kv__set_abort_reply(r->ops[0]->batch, env->reply);
        kve_kv_rest__req_finish(r, KVE_EABORTED, NULL);
    } else if (env->reply != NULL && env->reply->type == KVE_REPLY_ERROR) {
        kve_kv_rest__req_finish(r, 0, env->reply); /* every command of a refused pipeline gets the error */
    } else {
        kve_kv_rest__req_finish(r, KVE_EPROTO, NULL);
    }
}

static void on_complete(rest_req_t *r)
{
    rest_link_t *link = r->link;
    kve_rest_entry_t env = {KVE_EPROTO, NULL};

    if (r->kind == REQ_PROBE) {
        if (r->status == 200)
            go_up(link);
        else
            go_down(link, "the store's answer to PING was not a 200");
        kve_kv_rest__req_free(r);
        return;
    }
    go_up(link); /* the store answered */
    if (r->status == 200 && r->kind == REQ_TX) {
        kve_kv_rest__complete_tx(r);
        return;
    }
    if (r->status == 200 && r->kind != REQ_PATH) {
        complete_entries(r);
        return;
    }
    if (kve_rest_decode_envelope(r->resp.base, r->resp.len, r->limit, &env) != 0) {
        KVE_STAT_ADD(link->super.stats->pipeline_errors, 1);
        kve_kv_rest__req_finish(r, KVE_EPROTO, NULL);
        return;
    }
    if (r->kind == REQ_PATH)
        env.err == 0 ? kve_kv_rest__req_finish(r, 0, env.reply) : kve_kv_rest__req_finish(r, env.err, NULL);
    else
        complete_refused(r, &env);
    kve_rest_reply_free(env.reply);
}

static void on_body(kve_httpclient_req_t *hreq, void *data, const char *bytes, size_t len, int is_final)
{
    rest_req_t *r = data;

    KVE_CHECK_OBJ(r, KVE_KV_REST_REQ_MAGIC);
    if (r->resp.len + len > r->limit) { /* over what its commands may take: not read further */
        kve_httpclient_cancel(hreq);
        r->hreq = NULL;
        if (r->kind == REQ_PROBE)
            kve_kv_rest__req_free(r);
        else
            kve_kv_rest__req_finish(r, 0, &(kve_kv_reply_t){KVE_REPLY_TOO_BIG});
        return;
    }
    kve_buf_append(&r->resp, bytes, len);
    KVE_STAT_ADD(r->link->super.stats->bytes_received, len);
    if (!is_final) {
        kve_httpclient_proceed(hreq);
        return;
    }
    r->hreq = NULL;
    kve_httpclient_proceed(hreq); /* frees hreq; the response is ours */
    on_complete(r);
}

static int is_unreachable(int err)
{
    return err == KVE_EUPSTREAM_CONNECT || err == KVE_EUPSTREAM_RESOLVE || err == KVE_EUPSTREAM_CONNECT_TIMEOUT ||
           err == KVE_EUPSTREAM_TLS;
}

/* a network error before any response came: nothing (connect refused, reset) or the request only (a kept-alive
 * connection the store closed as it was reused) reached the store */
static int is_retryable(const rest_req_t *r, int err)
{
    return r->status == 0 && (err == KVE_EUPSTREAM_CONNECT || err == KVE_EUPSTREAM_CLOSED || err == KVE_EUPSTREAM_IO);
}

/* copies `r`'s ops that may run twice (all of them, or none of a transaction) into a new request */
static rest_req_t *retry_of(rest_req_t *r)
{
    rest_req_t *again = kve_kv_rest__req_new(r->link, r->kind);

    again->retried = 1;
    if (r->kind == REQ_PIPELINE) {
        kve_buf_putc(&again->body, '[');
        for (size_t i = 0; i != r->n; ++i) {
            if (!r->meta[i].safe)
                continue;
            if (again->n != 0)
                kve_buf_putc(&again->body, ',');
            kve_kv_rest__req_add_op(again, r->ops[i], again->body.len, r->meta[i].len, 1);
            kve_buf_append(&again->body, r->body.base + r->meta[i].off, r->meta[i].len);
        }
        kve_buf_putc(&again->body, ']');
        return again;
    }
    if (r->kind == REQ_PATH) /* /pipeline and /multi-exec targets are written by req_start */
        kve_buf_append(&again->target, r->target.base, r->target.len);
    kve_buf_append(&again->body, r->body.base, r->body.len);
    for (size_t i = 0; i != r->n; ++i)
        kve_kv_rest__req_add_op(again, r->ops[i], 0, 0, 1);
    return again;
}

/*
 * After a network error before any response: the reads of `r` are sent once more, on a new connection, in a request
 * that takes `r`'s place (its sync waiters, the requests chained after it); the writes fail with KVE_ECONN (whether
 * they ran is unknown: never sent twice). A transaction is retried only when every command of it reads. Returns 0
 * when nothing is retried (`r` is left as it was).
 */
static int try_retry(rest_req_t *r, int err)
{
    rest_link_t *link = r->link;
    rest_req_t *again;
    size_t i, safe = 0;

    if (r->retried || link->super.closing || !is_retryable(r, err))
        return 0;
    for (i = 0; i != r->n; ++i)
        safe += r->meta[i].safe;
    if (safe == 0 || ((r->kind == REQ_MULTI || r->kind == REQ_TX) && safe != r->n))
        return 0;
    again = retry_of(r);
    again->sync_waiting = r->sync_waiting, r->sync_waiting = NULL;
    KVE_STAT_ADD(link->super.stats->retries, safe);
    kve_log(KVE_LOG_DEBUG, "kv-rest", "%s: %s; %zu read(s) sent again, %zu write(s) failed", link->super.peer, kve_strerror(err),
            safe, r->n - safe);
    for (i = 0; i != r->n; ++i)
        if (!r->meta[i].safe)
            kve_kv__complete(r->ops[i], KVE_ECONN, NULL);
    req_start(link, again); /* in `r`'s place: before `r` lets go of its turn (pump) */
    kve_kv_rest__req_free(r);
    return 1;
}

static void on_error(kve_httpclient_req_t *hreq, void *data, int err, const char *detail)
{
    rest_req_t *r = data;
    rest_link_t *link = r->link;
    int kerr = transport_error(err);

    KVE_CHECK_OBJ(r, KVE_KV_REST_REQ_MAGIC);
    r->hreq = NULL;
    /* the store cannot be reached (no connection, no TLS): the link goes down; a request that failed on a connection
     * (closed, reset, cut mid-reply) fails its commands only, as a timeout does */
    if (is_unreachable(err) && link->super.stats->state != KVE_KV_DOWN) {
        char why[200];
        snprintf(why, sizeof(why), "%s (%s)", kve_strerror(err), detail != NULL ? detail : "");
        if (err == KVE_EUPSTREAM_TLS && !link->logged_down) /* once per outage, as the line go_down writes */
            kve_log(KVE_LOG_ERROR, "kv-rest", "TLS with %s failed: %s", link->super.peer,
                    detail != NULL ? detail : kve_strerror(err));
        go_down(link, why);
    }
    if (r->kind == REQ_PROBE) {
        kve_kv_rest__req_free(r);
        return;
    }
    KVE_STAT_ADD(link->super.stats->pipeline_errors, 1);
    if (!try_retry(r, err))
        kve_kv_rest__req_finish(r, kerr, NULL);
}

static const kve_httpclient_callbacks_t callbacks = {on_head, on_body, on_error, NULL};

/* --- sending --- */

static void count_sent(kve_kv_stats_t *st, const rest_req_t *r)
{
    size_t b = 0;
    while (r->n > KVE_KV_PIPELINE_BUCKET(b))
        ++b;
    KVE_STAT_ADD(st->pipelines, 1);
    KVE_STAT_ADD(st->pipeline_commands, r->n);
    KVE_STAT_ADD(st->pipeline_sizes[b], 1);
    KVE_STAT_ADD(st->bytes_sent, r->body.len);
}

static void req_start(rest_link_t *link, rest_req_t *r)
{
    static const char *const paths[] = {"/pipeline", "/multi-exec"};
    kve_httpclient_request_t spec = {.method = h2o_iovec_init(H2O_STRLIT("POST"))};
    char sync[KVE_KV_REST_SYNC_MAX];
    size_t nh = 3;
    int err;

    if (r->kind != REQ_PATH) {
        kve_buf_append(&r->target, link->conf.prefix, strlen(link->conf.prefix));
        kve_buf_append(&r->target, paths[r->kind == REQ_MULTI], strlen(paths[r->kind == REQ_MULTI]));
    }
    spec.path = h2o_iovec_init(r->target.base, r->target.len);
    /* the highest token any thread's link received (kve_httpclient_request copies the headers) */
    link->headers[3] =
        (kve_http1_field_t){H2O_STRLIT("upstash-sync-token"), sync, kve_kv_rest_sync_get(link->sync, sync, NULL, NULL)};
    if (link->headers[3].value_len != 0)
        nh = 4;
    spec.headers = link->headers;
    spec.num_headers = nh;
    spec.body_size = r->body.len;
    spec.body = h2o_iovec_init(r->body.base, r->body.len);
    r->limit = link->conf.max_response_size;
    if (r->kind != REQ_PROBE) {
        /* the bound: what the commands may take (base64 makes strings 4/3 longer), or the link's bound */
        size_t sum = r->n == 0 ? SIZE_MAX : 0; /* no op: a staged argument's PSETEX, answered "OK" */
        for (size_t i = 0; i != r->n; ++i) {
            size_t l = kve_kv__max_reply_size(r->ops[i]->batch);
            if (l == 0) {
                sum = SIZE_MAX;
                break;
            }
            sum += l / 3 * 4 + 256;
        }
        r->limit = KVE_MIN(r->limit, sum);
        KVE_STAT_ADD(link->super.stats->syncs, r->sync_waiting != NULL);
    }
    spec.new_connection = r->retried;
    if ((err = kve_httpclient_request(link->client, &spec, &callbacks, r, &r->hreq)) != 0) {
        if (r->kind == REQ_PROBE) {
            kve_kv_rest__req_free(r);
            go_down(link, kve_strerror(err));
        } else {
            kve_kv_rest__req_finish(r, err == KVE_EUPSTREAM_BUSY ? KVE_EUNAVAIL : transport_error(err), NULL);
        }
        return;
    }
    if (r->kind != REQ_PROBE) {
        count_sent(link->super.stats, r);
        r->counted = 1;
        ++link->num_sent, link->num_sent_writes += r->write;
    }
    if ((r->next = link->sent) != NULL)
        r->next->prev = &r->next;
    r->prev = &link->sent;
    link->sent = r;
}

static void close_building(rest_link_t *link)
{
    rest_req_t *r = link->building;
    if (r == NULL)
        return;
    kve_buf_putc(&r->body, ']');
    link->building = NULL;
    *link->ready_tail = r;
    link->ready_tail = &r->next;
}

/*
 * The order rule: the queue's requests start in order, a request that writes only when nothing is out, a read when no
 * write is out. So a write is applied after everything sent before it and before everything sent after it (a lookup
 * after a store or an invalidation sees it, a read after a SET reads it, as on the Redis driver's one connection),
 * while reads run side by side on several connections. Commands that come meanwhile gather in the next requests.
 */
static void pump(rest_link_t *link)
{
    rest_req_t *r;

    if (link->pumping)
        return; /* a request that ended inside req_start: the loop below goes on */
    link->pumping = 1;
    while ((r = link->queue_head) != NULL && (r->write ? link->num_sent == 0 : link->num_sent_writes == 0)) {
        if ((link->queue_head = r->next) == NULL)
            link->queue_tail = &link->queue_head;
        r->next = NULL;
        req_start(link, r);
    }
    link->pumping = 0;
}

static int req_writes(const rest_req_t *r)
{
    if (r->n == 0)
        return 1; /* a staged argument (PSETEX) */
    for (size_t i = 0; i != r->n; ++i)
        if (!r->meta[i].safe)
            return 1;
    return 0;
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    rest_link_t *link = H2O_STRUCT_FROM_MEMBER(rest_link_t, flush_entry, entry);
    kve_kv_batch_t *now = link->sync_now;

    close_building(link);
    link->last = NULL;
    if (link->ready_head != NULL) { /* the turn's requests join the queue, in order */
        for (rest_req_t *c = link->ready_head; c != NULL; c = c->next)
            c->write = (uint8_t)req_writes(c);
        *link->queue_tail = link->ready_head;
        link->queue_tail = link->ready_tail;
        link->ready_head = NULL;
        link->ready_tail = &link->ready_head;
    }
    pump(link);
    link->sync_now = NULL;
    kve_kv_rest__sync_answer_now(link, now, 1);
}

static void schedule_flush(rest_link_t *link)
{
    if (!h2o_timeout_is_linked(&link->flush_entry))
        h2o_timeout_link(link->super.loop, &link->flush_timeout, &link->flush_entry);
}

void kve_kv_rest__push_ready(rest_link_t *link, rest_req_t *r)
{
    close_building(link); /* the commands before it go before it */
    *link->ready_tail = r;
    link->ready_tail = &r->next;
    link->last = r;
    schedule_flush(link);
}

static int refuse_now(rest_link_t *link)
{
    if (link->super.stats->state == KVE_KV_DOWN)
        return link->auth_refused ? KVE_EAUTH : KVE_EUNAVAIL;
    return 0;
}

/* a command whose arguments are not all UTF-8: alone, in the path form */
static int send_path(rest_link_t *link, kve_kv_op_t *op)
{
    rest_req_t *r = kve_kv_rest__req_new(link, REQ_PATH);
    h2o_iovec_t body;

    if (kve_rest_encode_path(&r->target, link->conf.prefix, op->cmd, &body) != 0 || r->target.len > MAX_PATH_TARGET) {
        kve_kv_rest__req_free(r);
        return KVE_EINVAL;
    }
    kve_buf_append(&r->body, body.base, body.len);
    kve_kv_rest__req_add_op(r, op, 0, 0, kve_kv_rest__cmd_is_safe(op->cmd));
    kve_kv_rest__push_ready(link, r);
    return 0;
}

static int link_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    rest_link_t *link = (void *)kv;
    rest_req_t *r;
    size_t off;
    int err;

    if ((err = refuse_now(link)) != 0)
        return err;
    if (!kve_rest_cmd_is_utf8(op->cmd))
        return send_path(link, op);
    if ((r = link->building) != NULL && (r->n >= link->conf.max_commands || r->body.len >= link->conf.max_bytes)) {
        close_building(link);
        r = NULL;
    }
    if (r == NULL) {
        r = link->building = kve_kv_rest__req_new(link, REQ_PIPELINE);
        kve_buf_putc(&r->body, '[');
    } else {
        kve_buf_putc(&r->body, ',');
    }
    off = r->body.len;
    kve_rest_encode_json(&r->body, op->cmd);
    kve_kv_rest__req_add_op(r, op, off, r->body.len - off, kve_kv_rest__cmd_is_safe(op->cmd));
    link->last = r;
    schedule_flush(link);
    return 0;
}

static int link_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    rest_link_t *link = (void *)kv;
    rest_req_t *r;
    int err;

    if ((err = refuse_now(link)) != 0)
        return err;
    for (size_t i = 0; i != n; ++i)
        if (!kve_rest_cmd_is_utf8(ops[i].cmd))
            return kve_kv_rest__send_tx(link, ops, n); /* /multi-exec is JSON only */
    r = kve_kv_rest__req_new(link, REQ_MULTI);
    kve_buf_putc(&r->body, '[');
    for (size_t i = 0; i != n; ++i) {
        if (i != 0)
            kve_buf_putc(&r->body, ',');
        kve_rest_encode_json(&r->body, ops[i].cmd);
        kve_kv_rest__req_add_op(r, ops + i, 0, 0, kve_kv_rest__cmd_is_safe(ops[i].cmd));
    }
    kve_buf_putc(&r->body, ']');
    kve_kv_rest__push_ready(link, r);
    return 0;
}

/* the position after the batch's last command: the token of the response to the request that took it */
static void link_sync(kve_kv_t *kv, kve_kv_batch_t *b)
{
    rest_link_t *link = (void *)kv;
    kve_kv_batch_t **head = link->last != NULL ? &link->last->sync_waiting : &link->sync_now;
    b->driver_next = *head;
    *head = b;
    schedule_flush(link);
}

static void start_probe(rest_link_t *link)
{
    rest_req_t *r = kve_kv_rest__req_new(link, REQ_PROBE);
    kve_buf_append(&r->body, H2O_STRLIT("[[\"PING\"]]"));
    link->probe = r;
    if (link->super.stats->state == KVE_KV_DOWN)
        kve_kv__set_state(&link->super, KVE_KV_CONNECTING);
    req_start(link, r);
}

/* --- breaker, destroy --- */

/* fails every request out (the store is hung or the link out of step) and goes down */
static void drop_sent(rest_link_t *link, int err)
{
    rest_req_t *r;
    while ((r = link->sent) != NULL) {
        if (r->hreq != NULL)
            kve_httpclient_cancel(r->hreq);
        r->hreq = NULL;
        if (r->kind == REQ_PROBE)
            kve_kv_rest__req_free(r);
        else
            kve_kv_rest__req_finish(r, err, NULL);
    }
}

static void link_on_timeout(kve_kv_t *kv)
{
    rest_link_t *link = (void *)kv;
    char why[96];

    if (++link->consecutive_timeouts < link->conf.breaker_threshold || link->super.stats->state == KVE_KV_DOWN)
        return;
    snprintf(why, sizeof(why), "%llu commands timed out in a row (a request counts once)",
             (unsigned long long)link->consecutive_timeouts);
    link->consecutive_timeouts = 0;
    go_down(link, why);
    drop_sent(link, KVE_ECONN);
}

static void link_on_reply(kve_kv_t *kv)
{
    ((rest_link_t *)kv)->consecutive_timeouts = 0;
}

static void link_destroy(kve_kv_t *kv)
{
    rest_link_t *link = (void *)kv;
    rest_req_t *r;

    if (h2o_timeout_is_linked(&link->flush_entry))
        h2o_timeout_unlink(&link->flush_entry);
    if (h2o_timeout_is_linked(&link->tick_entry))
        h2o_timeout_unlink(&link->tick_entry);
    close_building(link);
    while ((r = link->ready_head) != NULL) {
        link->ready_head = r->next;
        kve_kv_rest__req_finish(r, KVE_ECONN, NULL);
    }
    link->ready_tail = &link->ready_head;
    while ((r = link->queue_head) != NULL) {
        link->queue_head = r->next;
        kve_kv_rest__req_finish(r, KVE_ECONN, NULL);
    }
    link->queue_tail = &link->queue_head;
    drop_sent(link, KVE_ECONN);
    sync_answer(link->sync_now, 0, 0);
    link->sync_now = NULL;
    kve_kv__set_state(kv, KVE_KV_DOWN);
    kve_httpclient_destroy(link->client);
    h2o_timeout_dispose(kv->loop, &link->flush_timeout);
    h2o_timeout_dispose(kv->loop, &link->tick);
    kve_kv__dispose(kv);
    kve_kv_rest_sync_dispose(&link->own_sync);
    free(link);
}

static kve_kv_stream_t *link_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                         kve_kv_stream_cb cb, void *data, int *err)
{
    *err = KVE_ENOTSUP; /* SUBSCRIBE and MONITOR would need the remote store's SSE endpoints: not yet */
    return NULL;
}

static void link_stream_close(kve_kv_stream_t *stream)
{
    KVE_ASSERT(!"a KV REST link opens no stream");
}

static const kve_kv_driver_t rest_driver = {"kv-rest",     link_send,    link_send_atomic, link_sync,         link_on_timeout,
                                            link_on_reply, link_destroy, link_stream_open, link_stream_close, NULL};

kve_kv_t *kve_kv_rest_create(h2o_context_t *ctx, kve_httpclient_upstream_t *up, const kve_kv_rest_conf_t *conf,
                             kve_kv_stats_t *stats)
{
    rest_link_t *link = kve_zalloc(sizeof(*link));
    const kve_httpclient_conf_t *hc = kve_httpclient_upstream_conf(up);
    int n;

    kve_kv__init(&link->super, &rest_driver, ctx->loop, conf->command_timeout_ms);
    if (stats != NULL)
        kve_kv__use_stats(&link->super, stats);
    link->conf = *conf;
    kve_kv_rest_sync_init(&link->own_sync);
    link->sync = conf->sync != NULL ? conf->sync : &link->own_sync;
    if (link->conf.max_commands == 0)
        link->conf.max_commands = KVE_KV_REST_MAX_COMMANDS;
    if (link->conf.max_bytes == 0)
        link->conf.max_bytes = KVE_KV_REST_MAX_BYTES;
    if (link->conf.max_response_size == 0)
        link->conf.max_response_size = KVE_KV_REST_MAX_RESPONSE;
    if (link->conf.breaker_threshold == 0)
        link->conf.breaker_threshold = 5;
    if (link->conf.reconnect_max_delay_ms < RECONNECT_MIN_MS)
        link->conf.reconnect_max_delay_ms = RECONNECT_MIN_MS;
    if (link->conf.prefix == NULL)
        link->conf.prefix = "";
    n = snprintf(link->auth, sizeof(link->auth), "Bearer %s", conf->token);
    KVE_ASSERT(n > 0 && (size_t)n < sizeof(link->auth));
    link->headers[0] = (kve_http1_field_t){H2O_STRLIT("authorization"), link->auth, (size_t)n};
    link->headers[1] = (kve_http1_field_t){H2O_STRLIT("content-type"), H2O_STRLIT("application/json")};
    link->headers[2] = (kve_http1_field_t){H2O_STRLIT("upstash-encoding"), H2O_STRLIT("base64")};
    snprintf(link->super.peer, sizeof(link->super.peer), "%s%s%s%s%s", hc->url, link->conf.prefix,
             conf->store_name != NULL ? " (store " : "", conf->store_name != NULL ? conf->store_name : "",
             conf->store_name != NULL ? ")" : "");
    link->client = kve_httpclient_create(ctx, up);
    link->ready_tail = &link->ready_head;
    link->queue_tail = &link->queue_head;
    h2o_timeout_init(ctx->loop, &link->flush_timeout, 0);
    link->flush_entry.cb = on_flush;
    h2o_timeout_init(ctx->loop, &link->tick, TICK_MS);
    link->tick_entry.cb = on_tick;
    kve_kv__set_state(&link->super, KVE_KV_CONNECTING);
    start_probe(link);
    return &link->super;
}
