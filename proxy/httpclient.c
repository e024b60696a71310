/* SPDX-License-Identifier: MIT */
/*
 * HTTP client requests (see httpclient.h): the cap and the FIFO queue, writing the request, reading
 * the response with flow control, the callbacks and their re-entrancy, timeouts, retries and the end
 * of a request. Connections and the pool are in httpclient_conn.c.
 *
 * Re-entrancy: while a callback of a request runs (`in_callback`), kve_httpclient_proceed() and
 * kve_httpclient_cancel() on that request only set a flag that the code after the callback acts on, so
 * a request is never freed under a callback's feet and on_body never nests in itself.
 */
#include "proxy/httpclient_internal.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"

#include <stdio.h>
#include <sys/socket.h>

/* what the reading steps tell their loop */
enum { STEP_NEXT, STEP_WAIT, STEP_STOP };

static void on_read(h2o_socket_t *sock, const char *err);
static void do_write(kve_httpclient_req_t *req);

/* --- helpers --- */

static h2o_buffer_t *input_of(kve_httpclient_req_t *req)
{
    return req->conn->sock->input;
}

static void unlink_entry(h2o_timeout_entry_t *entry)
{
    if (h2o_timeout_is_linked(entry))
        h2o_timeout_unlink(entry);
}

/* the I/O timer runs only while the client waits on the upstream, not on the caller */
static void touch_io_timer(kve_httpclient_req_t *req)
{
    unlink_entry(&req->timer);
    if (req->state == KVE_HTTPCLIENT_EXCHANGE && (req->writing || (req->held == 0 && (req->sent_all || req->got_head))))
        h2o_timeout_link(req->client->loop, &req->client->io_timeout, &req->timer);
}

static void start(kve_httpclient_req_t *req);

static void pump(kve_httpclient_t *client)
{
    while (!client->closing && client->num_inflight < client->up->conf.max_inflight && !h2o_linklist_is_empty(&client->queue)) {
        kve_httpclient_req_t *req = H2O_STRUCT_FROM_MEMBER(kve_httpclient_req_t, link, client->queue.next);
        h2o_linklist_unlink(&req->link);
        --client->num_queued;
        start(req);
    }
}

/* gives up the request's slot (it has one from the queue's exit until its connection is released) */
static void release_slot(kve_httpclient_req_t *req)
{
    if (!h2o_linklist_is_linked(&req->link))
        return;
    h2o_linklist_unlink(&req->link);
    if (req->state == KVE_HTTPCLIENT_QUEUED)
        --req->client->num_queued;
    else
        --req->client->num_inflight;
}

/* frees everything of `req` and starts queued requests when a slot came free */
static void dispose(kve_httpclient_req_t *req)
{
    kve_httpclient_t *client = req->client;
    int had_slot = h2o_linklist_is_linked(&req->link) && req->state != KVE_HTTPCLIENT_QUEUED;

    if (req->state != KVE_HTTPCLIENT_DONE) { /* a finished request may outlive its client: touch nothing of it */
        kve_httpclient__connect_abort(req);
        if (req->conn != NULL)
            kve_httpclient__conn_close(req->conn);
        release_slot(req);
        unlink_entry(&req->timer);
        unlink_entry(&req->deadline);
        unlink_entry(&req->deferred);
    }
    kve_buf_dispose(&req->head);
    if (req->final_buf != NULL)
        h2o_buffer_dispose(&req->final_buf);
    free(req);
    if (had_slot)
        pump(client);
}

/* --- errors --- */

void kve_httpclient__fail(kve_httpclient_req_t *req, int err, const char *detail)
{
    kve_httpclient_t *client = req->client;

    KVE_ASSERT(!req->in_callback);
    ++client->stats.failed;
    if (err == KVE_EUPSTREAM_TLS || err == KVE_EUPSTREAM_PROTO || err == KVE_EUPSTREAM_TOO_LARGE)
        kve_log(KVE_LOG_WARN, "httpclient", "upstream %s: %s (%s)", client->up->conf.url, kve_strerror(err), detail);
    /* the connection and the slot go first: the callback may start another request */
    kve_httpclient__connect_abort(req);
    if (req->conn != NULL) {
        kve_httpclient__conn_close(req->conn);
        req->conn = NULL;
    }
    release_slot(req);
    unlink_entry(&req->timer);
    unlink_entry(&req->deadline);
    unlink_entry(&req->deferred);
    req->in_callback = 1; /* a cancel from on_error is a no-op */
    req->cb->on_error(req, req->data, err, detail);
    req->in_callback = 0;
    dispose(req);
    pump(client);
}

static void on_deferred(h2o_timeout_entry_t *entry)
{
    kve_httpclient_req_t *req = H2O_STRUCT_FROM_MEMBER(kve_httpclient_req_t, deferred, entry);
    kve_httpclient__fail(req, req->deferred_err, req->deferred_detail);
}

void kve_httpclient__fail_deferred(kve_httpclient_req_t *req, int err, const char *detail)
{
    if (h2o_timeout_is_linked(&req->deferred))
        return;
    req->deferred_err = err;
    req->deferred_detail = detail;
    req->deferred.cb = on_deferred;
    h2o_timeout_link(req->client->loop, &req->client->zero_timeout, &req->deferred);
}

static void on_io_timeout(h2o_timeout_entry_t *entry)
{
    kve_httpclient_req_t *req = H2O_STRUCT_FROM_MEMBER(kve_httpclient_req_t, timer, entry);
    kve_httpclient__fail(req, KVE_EUPSTREAM_IO_TIMEOUT,
                         req->writing    ? "writing the request"
                         : req->got_head ? "reading the body"
                                         : "waiting for the response");
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    kve_httpclient_req_t *req = H2O_STRUCT_FROM_MEMBER(kve_httpclient_req_t, deadline, entry);
    if (req->held != 0) { /* the caller may still be writing the piece out: fail once it gives it back */
        req->deadline_hit = 1;
        return;
    }
    kve_httpclient__fail(req, KVE_EUPSTREAM_DEADLINE, req->state == KVE_HTTPCLIENT_QUEUED ? "waiting in the queue" : "in flight");
}

/* a reused connection that failed before any response byte: send once more on a new one */
static int try_retry(kve_httpclient_req_t *req)
{
    if (!req->reused || req->got_bytes || !req->retry_safe || req->retried || req->client->closing)
        return 0;
    ++req->client->stats.retries;
    req->retried = 1;
    req->reused = req->head_sent = req->sent_all = req->writing = 0;
    kve_httpclient__conn_close(req->conn);
    req->conn = NULL;
    unlink_entry(&req->timer);
    req->state = KVE_HTTPCLIENT_CONNECTING;
    kve_httpclient__connect(req);
    return 1;
}

/* --- starting --- */

static void start(kve_httpclient_req_t *req)
{
    kve_httpclient_t *client = req->client;
    kve_httpclient__conn_t *conn;

    ++client->num_inflight;
    h2o_linklist_insert(&client->active, &req->link);
    req->state = KVE_HTTPCLIENT_CONNECTING;
    if (!req->new_connection && (conn = kve_httpclient__conn_take_idle(client)) != NULL) {
        req->conn = conn;
        conn->req = req;
        req->reused = 1;
        ++client->stats.reused;
        kve_httpclient__on_connected(req);
        return;
    }
    kve_httpclient__connect(req);
}

void kve_httpclient__on_connected(kve_httpclient_req_t *req)
{
    req->state = KVE_HTTPCLIENT_EXCHANGE;
    req->timer.cb = on_io_timeout;
    h2o_socket_read_start(req->conn->sock, on_read);
    do_write(req);
    touch_io_timer(req);
}

/* --- writing --- */

static int body_is_streamed(const kve_httpclient_req_t *req)
{
    return req->body_size != KVE_HTTPCLIENT_NO_BODY && req->inline_body.base == NULL;
}

static void on_write_failed(kve_httpclient_req_t *req, const char *err)
{
    if (req->got_head) { /* the upstream answered before taking the whole body: the response decides */
        req->body.keepalive = 0;
        return;
    }
    if (!try_retry(req))
        kve_httpclient__fail(req, KVE_EUPSTREAM_IO, err);
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    kve_httpclient__conn_t *conn = sock->data;
    kve_httpclient_req_t *req = conn->req;

    req->writing = 0;
    if (err != NULL) {
        on_write_failed(req, err);
        return;
    }
    if (req->piece_sent) {
        req->piece_sent = 0;
        req->piece_cnt = 0;
        if (!req->body_final && !req->got_head && req->cb->on_write_ready != NULL) {
            req->in_callback = 1;
            req->cb->on_write_ready(req, req->data);
            req->in_callback = 0;
            if (req->cancelled) {
                ++req->client->stats.cancelled;
                dispose(req);
                return;
            }
        }
    }
    do_write(req);
    touch_io_timer(req);
}

/* adds the pending piece of a streamed body to `vecs` (chunk framing included) */
static size_t add_piece(kve_httpclient_req_t *req, h2o_iovec_t *vecs)
{
    size_t n = 0, len = 0, i;
    int chunked = req->body_size == KVE_HTTPCLIENT_CHUNKED;

    for (i = 0; i != req->piece_cnt; ++i)
        len += req->piece[i].len;
    if (chunked && len != 0)
        vecs[n++] = h2o_iovec_init(req->chunk_head, kve_http1_chunk_header(req->chunk_head, len));
    for (i = 0; i != req->piece_cnt; ++i)
        if (req->piece[i].len != 0)
            vecs[n++] = req->piece[i];
    if (chunked && len != 0)
        vecs[n++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
    if (chunked && req->body_final)
        vecs[n++] = h2o_iovec_init(H2O_STRLIT("0\r\n\r\n"));
    return n;
}

/* writes whatever is ready (head, inline body, the caller's piece) unless a write is in progress */
static void do_write(kve_httpclient_req_t *req)
{
    h2o_iovec_t vecs[KVE_HTTPCLIENT_MAX_WRITE_BUFS + 4];
    size_t n = 0;

    if (req->writing || req->state != KVE_HTTPCLIENT_EXCHANGE || req->sent_all)
        return;
    if (!req->head_sent) {
        vecs[n++] = h2o_iovec_init(req->head.base, req->head.len);
        req->head_sent = 1;
        if (!body_is_streamed(req)) {
            if (req->inline_body.len != 0)
                vecs[n++] = req->inline_body;
            req->sent_all = 1;
        }
    }
    if (req->piece_ready && !req->got_head) {
        n += add_piece(req, vecs + n);
        req->piece_ready = 0;
        req->piece_sent = 1;
        if (req->body_final)
            req->sent_all = 1;
    }
    if (n == 0) {
        if (req->piece_sent) { /* an empty final piece with Content-Length: nothing to send */
            req->piece_sent = 0;
            req->piece_cnt = 0;
        }
        return;
    }
    req->writing = 1;
    h2o_socket_write(req->conn->sock, vecs, n, on_write_done);
}

/* --- reading --- */

static uint64_t announced_length(const kve_http1_body_t *body)
{
    if (body->content_length != UINT64_MAX) /* also HEAD's: the length of what a GET would have returned */
        return body->content_length;
    return body->framing == KVE_HTTP1_BODY_NONE ? 0 : UINT64_MAX;
}

static int call_on_head(kve_httpclient_req_t *req, const kve_http1_response_t *parsed)
{
    kve_httpclient_response_t res = {parsed->status,  parsed->minor_version, h2o_iovec_init(parsed->reason, parsed->reason_len),
                                     parsed->headers, parsed->num_headers,   announced_length(&req->body)};
    int ret;

    req->in_callback = 1;
    ret = req->cb->on_head(req, req->data, &res);
    req->in_callback = 0;
    if (ret != 0)
        req->cancelled = 1;
    return ret;
}

static int read_head(kve_httpclient_req_t *req)
{
    const kve_httpclient_conf_t *conf = &req->client->up->conf;
    kve_http1_header_t headers[KVE_HTTPCLIENT_MAX_HEADERS];
    kve_http1_response_t res;
    h2o_buffer_t *in = input_of(req);
    const char *why;
    int n = kve_http1_parse_response(in->bytes, in->size, conf->max_head_size, headers, conf->max_headers, &res, &why);

    if (n == KVE_HTTP1_INCOMPLETE)
        return STEP_WAIT;
    if (n < 0) {
        kve_httpclient__fail(req, n == KVE_HTTP1_TOO_LARGE ? KVE_EUPSTREAM_TOO_LARGE : KVE_EUPSTREAM_PROTO, why);
        return STEP_STOP;
    }
    if (res.status >= 100 && res.status < 200 && res.status != 101) { /* 100 Continue, 103 Early Hints: skipped */
        h2o_buffer_consume(&req->conn->sock->input, (size_t)n);
        return STEP_NEXT;
    }
    if (kve_http1_response_body(&res, req->is_head, &req->body, &why) != 0) {
        kve_httpclient__fail(req, KVE_EUPSTREAM_PROTO, why);
        return STEP_STOP;
    }
    req->got_head = 1;
    req->piece_ready = 0; /* an early answer: the rest of the body is not sent */
    if (!req->sent_all || req->writing)
        req->body.keepalive = 0;
    req->body_left = req->body.content_length;
    kve_http1_chunked_init(&req->chunked);
    if (call_on_head(req, &res) != 0 || req->cancelled) {
        ++req->client->stats.cancelled;
        dispose(req);
        return STEP_STOP;
    }
    h2o_buffer_consume(&req->conn->sock->input, (size_t)n);
    return STEP_NEXT;
}

/* the final piece: the input is detached so the connection can go back to the pool before the callback */
static int deliver_final(kve_httpclient_req_t *req, size_t len, size_t extra)
{
    kve_httpclient_t *client = req->client;
    kve_httpclient__conn_t *conn = req->conn;
    int keep = req->body.keepalive && extra == 0 && req->sent_all && !req->writing;

    req->final_buf = conn->sock->input;
    h2o_buffer_init(&conn->sock->input, &h2o_socket_buffer_prototype);
    unlink_entry(&req->timer);
    unlink_entry(&req->deadline);
    req->conn = NULL;
    if (keep)
        kve_httpclient__conn_release(conn);
    else
        kve_httpclient__conn_close(conn);
    release_slot(req);
    req->state = KVE_HTTPCLIENT_DONE;
    ++client->stats.completed;
    pump(client);
    req->proceeded = 0; /* only a proceed from inside this on_body counts */
    req->in_callback = 1;
    req->cb->on_body(req, req->data, len != 0 ? req->final_buf->bytes : "", len, 1);
    req->in_callback = 0;
    if (req->cancelled || req->proceeded)
        dispose(req);
    return STEP_STOP;
}

/* a piece that is not the last: reading stops until the caller proceeds */
static int deliver(kve_httpclient_req_t *req, size_t len)
{
    req->held = len;
    h2o_socket_read_stop(req->conn->sock);
    touch_io_timer(req);
    req->proceeded = 0; /* only a proceed from inside this on_body counts */
    req->in_callback = 1;
    req->cb->on_body(req, req->data, input_of(req)->bytes, len, 0);
    req->in_callback = 0;
    if (req->cancelled) {
        ++req->client->stats.cancelled;
        dispose(req);
        return STEP_STOP;
    }
    if (!req->proceeded)
        return STEP_STOP;
    req->proceeded = 0;
    h2o_buffer_consume(&req->conn->sock->input, req->held);
    req->held = 0;
    if (req->deadline_hit) {
        kve_httpclient__fail(req, KVE_EUPSTREAM_DEADLINE, "in flight");
        return STEP_STOP;
    }
    h2o_socket_read_start(req->conn->sock, on_read);
    return STEP_NEXT;
}

static int read_chunked(kve_httpclient_req_t *req)
{
    h2o_buffer_t *in = input_of(req);
    size_t off, len, off2, len2;
    const char *why;
    long n = kve_http1_chunked_decode(&req->chunked, in->bytes, in->size, &off, &len, &why);

    if (n < 0) {
        kve_httpclient__fail(req, KVE_EUPSTREAM_PROTO, why);
        return STEP_STOP;
    }
    if (len == 0) {
        if (n != 0)
            h2o_buffer_consume(&req->conn->sock->input, (size_t)n);
        if (req->chunked.done)
            return deliver_final(req, 0, input_of(req)->size);
        return n == 0 ? STEP_WAIT : STEP_NEXT;
    }
    if (off != 0)
        h2o_buffer_consume(&req->conn->sock->input, off);
    in = input_of(req);
    { /* is this the last payload? look ahead on a copy of the decoder */
        kve_http1_chunked_t probe = req->chunked;
        long m = kve_http1_chunked_decode(&probe, in->bytes + len, in->size - len, &off2, &len2, &why);
        if (m >= 0 && probe.done && len2 == 0) {
            req->chunked = probe;
            return deliver_final(req, len, in->size - len - (size_t)m);
        }
    }
    return deliver(req, len);
}

static int read_body(kve_httpclient_req_t *req)
{
    h2o_buffer_t *in = input_of(req);
    size_t n;

    switch (req->body.framing) {
    case KVE_HTTP1_BODY_NONE:
        return deliver_final(req, 0, in->size);
    case KVE_HTTP1_BODY_LENGTH:
        if ((n = (size_t)KVE_MIN(req->body_left, (uint64_t)in->size)) == 0)
            return STEP_WAIT;
        req->body_left -= n;
        return req->body_left == 0 ? deliver_final(req, n, in->size - n) : deliver(req, n);
    case KVE_HTTP1_BODY_CHUNKED:
        return read_chunked(req);
    case KVE_HTTP1_BODY_CLOSE:
        return in->size == 0 ? STEP_WAIT : deliver(req, in->size);
    }
    KVE_ASSERT(!"unreachable framing");
    return STEP_STOP;
}

/* runs the response through as far as the buffered input goes */
static void process(kve_httpclient_req_t *req)
{
    int step;
    do {
        step = req->got_head ? read_body(req) : read_head(req);
    } while (step == STEP_NEXT);
    if (step == STEP_WAIT)
        touch_io_timer(req);
}

static void on_eof(kve_httpclient_req_t *req, const char *err)
{
    int closed = err == h2o_socket_error_closed;

    if (!req->got_bytes && try_retry(req))
        return;
    if (closed && req->got_head && req->body.framing == KVE_HTTP1_BODY_CLOSE) {
        req->body.keepalive = 0;
        deliver_final(req, 0, 0);
        return;
    }
    kve_httpclient__fail(req, closed ? KVE_EUPSTREAM_CLOSED : KVE_EUPSTREAM_IO,
                         !closed                                      ? err
                         : !req->got_head && input_of(req)->size == 0 ? "closed before responding"
                         : !req->got_head                             ? "closed in the middle of the response head"
                                                                      : "closed in the middle of the response body");
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    kve_httpclient__conn_t *conn = sock->data;
    kve_httpclient_req_t *req = conn->req;

    if (err != NULL) {
        on_eof(req, err);
        return;
    }
    if (sock->bytes_read != 0)
        req->got_bytes = 1;
    process(req);
}

/* --- the public side --- */

kve_httpclient_t *kve_httpclient_create(h2o_context_t *ctx, kve_httpclient_upstream_t *up)
{
    kve_httpclient_t *client = kve_zalloc(sizeof(*client));

    client->loop = ctx->loop;
    client->resolver = &ctx->receivers.hostinfo_getaddr;
    client->up = up;
    h2o_linklist_init_anchor(&client->idle);
    h2o_linklist_init_anchor(&client->queue);
    h2o_linklist_init_anchor(&client->active);
    h2o_timeout_init(client->loop, &client->connect_timeout, up->conf.connect_timeout_ms);
    h2o_timeout_init(client->loop, &client->io_timeout, up->conf.io_timeout_ms);
    h2o_timeout_init(client->loop, &client->deadline_timeout, up->conf.deadline_ms);
    h2o_timeout_init(client->loop, &client->idle_timeout, up->conf.idle_timeout_ms);
    h2o_timeout_init(client->loop, &client->zero_timeout, 0);
    return client;
}

void kve_httpclient_destroy(kve_httpclient_t *client)
{
    int i;

    client->closing = 1;
    while (!h2o_linklist_is_empty(&client->queue))
        kve_httpclient__fail(H2O_STRUCT_FROM_MEMBER(kve_httpclient_req_t, link, client->queue.next), KVE_ESHUTDOWN,
                             "client destroyed");
    while (!h2o_linklist_is_empty(&client->active))
        kve_httpclient__fail(H2O_STRUCT_FROM_MEMBER(kve_httpclient_req_t, link, client->active.next), KVE_ESHUTDOWN,
                             "client destroyed");
    while (!h2o_linklist_is_empty(&client->idle))
        kve_httpclient__conn_close(H2O_STRUCT_FROM_MEMBER(kve_httpclient__conn_t, link, client->idle.next));
    /* h2o frees closed sockets on the loop's next turn (a TLS one after its close_notify write) */
    for (i = 0; i != 200 && client->num_sockets != 0; ++i)
        h2o_evloop_run(client->loop, 10);
    if (client->num_sockets != 0)
        kve_log(KVE_LOG_ERROR, "httpclient", "upstream %s: %zu sockets not freed at shutdown", client->up->conf.url,
                client->num_sockets);
    h2o_timeout_dispose(client->loop, &client->connect_timeout);
    h2o_timeout_dispose(client->loop, &client->io_timeout);
    h2o_timeout_dispose(client->loop, &client->deadline_timeout);
    h2o_timeout_dispose(client->loop, &client->idle_timeout);
    h2o_timeout_dispose(client->loop, &client->zero_timeout);
    if (client->num_sockets == 0)
        free(client);
}

void kve_httpclient_get_stats(const kve_httpclient_t *client, kve_httpclient_stats_t *out)
{
    *out = client->stats;
    out->inflight = client->num_inflight;
    out->queued = client->num_queued;
    out->idle = client->num_idle;
}

static int is_idempotent(h2o_iovec_t method)
{
    static const char *const methods[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(methods); ++i)
        if (h2o_memis(method.base, method.len, methods[i], strlen(methods[i])))
            return 1;
    return 0;
}

static int check_body(const kve_httpclient_request_t *spec)
{
    if (spec->body.base == NULL)
        return spec->body.len == 0 ? 0 : -1;
    return spec->body_size == spec->body.len ? 0 : -1;
}

int kve_httpclient_request(kve_httpclient_t *client, const kve_httpclient_request_t *spec, const kve_httpclient_callbacks_t *cb,
                           void *data, kve_httpclient_req_t **out)
{
    const kve_httpclient_conf_t *conf = &client->up->conf;
    kve_httpclient_req_t *req;
    const char *why;

    *out = NULL;
    if (client->closing)
        return KVE_ESHUTDOWN;
    if (check_body(spec) != 0 || cb->on_head == NULL || cb->on_body == NULL || cb->on_error == NULL)
        return KVE_EINVAL;
    if (client->num_inflight >= conf->max_inflight && client->num_queued >= conf->max_queue) {
        ++client->stats.rejected;
        return KVE_EUPSTREAM_BUSY;
    }
    req = kve_zalloc(sizeof(*req));
    if (kve_http1_write_request(&req->head, spec->method.base, spec->method.len, spec->path.base, spec->path.len,
                                client->up->authority, strlen(client->up->authority), spec->headers, spec->num_headers,
                                spec->body_size, &why) != 0) {
        kve_buf_dispose(&req->head);
        free(req);
        return KVE_EINVAL;
    }
    req->client = client;
    req->cb = cb;
    req->data = data;
    req->body_size = spec->body_size;
    /* a zero-length body is sent with the head */
    req->inline_body = spec->body.base != NULL || spec->body_size == 0
                           ? h2o_iovec_init(spec->body.base != NULL ? spec->body.base : "", spec->body.len)
                           : h2o_iovec_init(NULL, 0);
    req->retry_safe = (is_idempotent(spec->method) || spec->retry_safe) && !body_is_streamed(req);
    req->is_head = h2o_memis(spec->method.base, spec->method.len, H2O_STRLIT("HEAD"));
    req->new_connection = spec->new_connection != 0;
    ++client->stats.requests;
    *out = req;
    if (conf->deadline_ms != 0) {
        req->deadline.cb = on_deadline;
        h2o_timeout_link(client->loop, &client->deadline_timeout, &req->deadline);
    }
    if (client->num_inflight < conf->max_inflight && h2o_linklist_is_empty(&client->queue)) {
        start(req);
    } else {
        req->state = KVE_HTTPCLIENT_QUEUED;
        h2o_linklist_insert(&client->queue, &req->link);
        ++client->num_queued;
    }
    return 0;
}

int kve_httpclient_write(kve_httpclient_req_t *req, const h2o_iovec_t *bufs, size_t nbufs, int is_final)
{
    uint64_t len = 0;
    size_t i;

    if (!body_is_streamed(req) || req->body_final || req->piece_ready || req->piece_sent || nbufs > KVE_HTTPCLIENT_MAX_WRITE_BUFS)
        return KVE_EINVAL;
    for (i = 0; i != nbufs; ++i)
        len += bufs[i].len;
    if (len == 0 && !is_final)
        return KVE_EINVAL;
    if (req->body_size != KVE_HTTPCLIENT_CHUNKED &&
        (req->body_given + len > req->body_size || (is_final && req->body_given + len != req->body_size)))
        return KVE_EINVAL;
    req->body_given += len;
    req->body_final = is_final != 0;
    if (req->got_head || req->state == KVE_HTTPCLIENT_DONE)
        return 0; /* the upstream has answered: the rest of the body is dropped */
    memcpy(req->piece, bufs, nbufs * sizeof(bufs[0]));
    req->piece_cnt = nbufs;
    req->piece_ready = 1;
    if (req->state == KVE_HTTPCLIENT_EXCHANGE) {
        do_write(req);
        touch_io_timer(req);
    }
    return 0;
}

void kve_httpclient_proceed(kve_httpclient_req_t *req)
{
    if (req->in_callback) {
        req->proceeded = 1;
        return;
    }
    if (req->state == KVE_HTTPCLIENT_DONE) {
        dispose(req);
        return;
    }
    if (req->held == 0)
        return;
    h2o_buffer_consume(&req->conn->sock->input, req->held);
    req->held = 0;
    if (req->deadline_hit) {
        kve_httpclient__fail_deferred(req, KVE_EUPSTREAM_DEADLINE, "in flight");
        return;
    }
    h2o_socket_read_start(req->conn->sock, on_read);
    process(req);
}

void kve_httpclient_cancel(kve_httpclient_req_t *req)
{
    if (req->in_callback) {
        req->cancelled = 1;
        return;
    }
    if (req->state != KVE_HTTPCLIENT_DONE)
        ++req->client->stats.cancelled;
    dispose(req);
}
