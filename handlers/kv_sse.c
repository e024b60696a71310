/* SPDX-License-Identifier: MIT */
/*
 * Server-sent events of the KV REST API: /subscribe/<channel>..., /psubscribe/<pattern>..., /monitor.
 * Each request owns a KV stream (a dedicated Redis connection) and turns its replies into lines
 * `data: message,<channel>,<payload>` (kv-rest-protocol.md §1.6). Every value in an event (channel and
 * pattern names, payloads, MONITOR lines) is written by kv_sse_event.c, which splits it at each CR, LF and
 * CRLF so no value can end an event or forge one. Channel names and patterns with CR or LF are refused
 * at /subscribe and /psubscribe: a subscriber would never see them as it asked (a reader turns every line
 * end into LF) and a confirmation naming them could not be told from one for another name; yet a
 * PSUBSCRIBE still receives any channel a publisher chose, so the splitting is what keeps the stream
 * sound. h2o allows one send in flight, so events queue in `pending`
 * until h2o asks for more (proceed); a client that stops reading is dropped once the queue passes a
 * bound. Comment heartbeats keep proxies from timing out an idle stream.
 *
 * kv.max_streams caps the streams open at once in the whole process (each holds a Redis connection, and a
 * read-only token may open them), kv.max_streams_per_token those of one token (kv_stream_slots.h). One
 * process-wide count rather than a per-thread share of the cap: client connections spread unevenly over
 * threads, and a share would refuse streams on a busy thread while idle threads hold unused ones. A stream
 * holds its slot from just before the connection opens until it closes.
 *
 * Prompt cleanup: h2o 2.2.5 notices an HTTP/1 client that went away only when a write fails, which for a
 * quiet channel is the next heartbeat, and before the response starts (while Redis has not confirmed the
 * subscription) never. So for plain HTTP/1 a second, read-only watcher on a dup() of the client socket,
 * armed as soon as the stream is opened, reports the hangup at once, and the Redis connection is closed
 * (and the slot freed) right then.
 */
#include "handlers/kv_rest_internal.h"
#include "handlers/kv_sse_event.h"
#include "handlers/kv_stream_slots.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>

#define SSE_MAGIC 0x73736531
#define MAX_PENDING (1024 * 1024)
#define MAX_CHANNELS 128

typedef struct st_sse_t {
    uint32_t magic;
    h2o_generator_t super;
    h2o_req_t *req;
    kve_rest_handler_t *self;
    kve_rest_thread_t *thread;
    kve_kv_stream_t *stream;
    /** the token's id in kv_stream_slots.c: its slot is held while `stream` is set */
    uint64_t token_id;
    kve_drain_watcher_t drain;
    h2o_timeout_entry_t heartbeat;
    h2o_socket_t *watch;
    kve_buf_t pending, inflight;
    unsigned sending : 1;
    unsigned ending : 1; /* finish after what is queued */
    unsigned ended : 1;  /* the final send was made */
    unsigned failed : 1; /* end with an error (close the connection) */
    unsigned monitor : 1;
    unsigned started : 1; /* the response began (on the first reply from Redis) */
    /** SUBSCRIBE, PSUBSCRIBE or MONITOR; the number of channels or patterns */
    const char *kind;
    size_t channels;
    /** the client's address, for the log lines ("?" if unknown) */
    char client[64];
} sse_t;

/* the client's numeric address into `buf` (`size` bytes), "?" if unknown */
static void client_address(h2o_req_t *req, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername != NULL ? req->conn->callbacks->get_peername(req->conn, (void *)&ss) : 0;
    char host[NI_MAXHOST];

    if (len == 0 || h2o_socket_getnumerichost((void *)&ss, len, host) == SIZE_MAX)
        strcpy(host, "?");
    snprintf(buf, size, "%s", host);
}

/* takes a slot for a new stream of `token_id`; else answers 503 and returns 0 */
static int acquire_slot(kve_rest_handler_t *self, h2o_req_t *req, uint64_t token_id)
{
    size_t max = (size_t)self->conf->max_streams, per_token = (size_t)self->conf->max_streams_per_token;
    int first = 0, why = kve_stream_slots_acquire(token_id, max, per_token, &first);
    char msg[96];

    if (why == KVE_STREAM_SLOT_OK)
        return 1;
    if (why == KVE_STREAM_SLOT_TOTAL) {
        if (first) /* one line per episode, not per refusal */
            kve_log(KVE_LOG_WARN, "kv", "kv.max_streams (%zu) reached: refusing new streams until one closes", max);
        snprintf(msg, sizeof(msg), "ERR too many streams (kv.max_streams is %zu)", max);
    } else {
        if (first)
            kve_log(KVE_LOG_WARN, "kv",
                    "kv.max_streams_per_token (%zu) reached for a token (sha256 %08x): refusing its new streams until one closes",
                    per_token, (unsigned)(token_id >> 32));
        snprintf(msg, sizeof(msg), "ERR too many streams for this token (kv.max_streams_per_token is %zu)", per_token);
    }
    kve_rest__send_error(self, req, 503, msg, 0);
    return 0;
}

static void close_stream(sse_t *s)
{
    if (s->stream != NULL) {
        kve_kv_stream_close(s->stream);
        s->stream = NULL;
        kve_stream_slots_release(s->token_id);
    }
    if (s->watch != NULL) {
        h2o_socket_close(s->watch);
        s->watch = NULL;
    }
    if (h2o_timeout_is_linked(&s->heartbeat))
        h2o_timeout_unlink(&s->heartbeat);
    if (h2o_linklist_is_linked(&s->drain.link))
        h2o_linklist_unlink(&s->drain.link);
}

/* sends what is pending, or the end; at most one send is in flight */
static void flush(sse_t *s)
{
    h2o_iovec_t buf;
    kve_buf_t tmp;

    if (s->sending || s->ended || s->req == NULL)
        return;
    if (s->pending.len == 0 && !s->ending)
        return;
    tmp = s->inflight, s->inflight = s->pending, s->pending = tmp;
    s->pending.len = 0;
    buf = h2o_iovec_init(s->inflight.base, s->inflight.len);
    s->sending = 1;
    if (s->ending) { /* end() closed the stream already */
        s->ended = 1;
        h2o_send(s->req, &buf, buf.len != 0, s->failed ? H2O_SEND_STATE_ERROR : H2O_SEND_STATE_FINAL);
    } else {
        h2o_send(s->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void end(sse_t *s, int failed)
{
    s->ending = 1;
    s->failed |= failed;
    close_stream(s); /* the subscription ends now, even if the last bytes are still queued */
    flush(s);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    sse_t *s = H2O_STRUCT_FROM_MEMBER(sse_t, super, gen);
    s->sending = 0;
    s->inflight.len = 0;
    flush(s);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    sse_t *s = H2O_STRUCT_FROM_MEMBER(sse_t, super, gen);
    close_stream(s);
    s->req = NULL;
}

static void on_dispose(void *p)
{
    sse_t *s = p;
    if (s->started)
        kve_log(KVE_LOG_INFO, "kv", "%s stream of %s closed", s->kind, s->client);
    close_stream(s);
    kve_buf_dispose(&s->pending);
    kve_buf_dispose(&s->inflight);
    s->magic = 0;
}

/* queues one event whose data is `text` */
static void queue_event(sse_t *s, const char *text, size_t len)
{
    kve_sse_event_begin(&s->pending);
    kve_sse_event_data(&s->pending, text, len);
    kve_sse_event_end(&s->pending);
}

/* `first`: the reply that started the response (MONITOR's "+OK", or the first subscribe confirmation) */
static void queue_reply(sse_t *s, const kve_kv_reply_t *r, int first)
{
    const kve_kv_reply_t *last;
    size_t i;

    if (s->monitor) {
        if (first && r->type == KVE_REPLY_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0)
            queue_event(s, "\"OK\"", 4);
        else if (r->type == KVE_REPLY_STATUS || r->type == KVE_REPLY_STRING)
            queue_event(s, r->str, r->len);
        return;
    }
    if (r->type != KVE_REPLY_ARRAY || r->elements < 3)
        return;
    /* "message,<channel>,<payload>" or "subscribe,<channel>,<count>" etc.: the elements joined by commas */
    kve_sse_event_begin(&s->pending);
    for (i = 0; i + 1 != r->elements; ++i) {
        const kve_kv_reply_t *e = r->element[i];
        if (e->type == KVE_REPLY_STRING || e->type == KVE_REPLY_STATUS)
            kve_sse_event_data(&s->pending, e->str, e->len);
        kve_buf_putc(&s->pending, ',');
    }
    last = r->element[i];
    if (last->type == KVE_REPLY_INTEGER) {
        char n[24];
        kve_sse_event_data(&s->pending, n, (size_t)snprintf(n, sizeof(n), "%lld", last->integer));
    } else if (last->type == KVE_REPLY_STRING || last->type == KVE_REPLY_STATUS) {
        kve_sse_event_data(&s->pending, last->str, last->len);
    }
    kve_sse_event_end(&s->pending);
}

static void start_response(sse_t *s, h2o_req_t *req);

/* the stream failed before the response began: an ordinary JSON error (503, 504) */
static void fail_unstarted(sse_t *s, int err)
{
    close_stream(s);
    kve_rest__send_kv_error(s->self, s->req, err, kve_rest__sync_seen(s->self));
}

static void on_stream(void *data, int err, const kve_kv_reply_t *reply)
{
    sse_t *s = data;
    int first;
    KVE_CHECK_OBJ(s, SSE_MAGIC);
    if (s->req == NULL)
        return;
    if (err != 0) { /* the stream failed; end() still closes it, which releases it */
        kve_log(KVE_LOG_WARN, "kv", "subscription stream ended: %s (%s stream of %s)", kve_strerror(err), s->kind, s->client);
        if (s->started)
            end(s, 0);
        else
            fail_unstarted(s, err);
        return;
    }
    first = !s->started;
    if (first && reply->type == KVE_REPLY_ERROR) { /* e.g. NOPERM from a Redis ACL */
        close_stream(s);
        kve_rest__send_error(s->self, s->req, 400, reply->str, kve_rest__sync_seen(s->self));
        return;
    }
    if (first)
        start_response(s, s->req);
    queue_reply(s, reply, first);
    if (s->pending.len > MAX_PENDING) {
        kve_log(KVE_LOG_WARN, "kv", "dropping a subscriber that does not read (%zu bytes queued), client %s", s->pending.len,
                s->client);
        end(s, 1);
        return;
    }
    flush(s);
}

static void on_heartbeat(h2o_timeout_entry_t *entry)
{
    sse_t *s = H2O_STRUCT_FROM_MEMBER(sse_t, heartbeat, entry);
    kve_buf_append(&s->pending, ": ping\n\n", 8);
    flush(s);
    h2o_timeout_link(s->req->conn->ctx->loop, &s->thread->heartbeat, &s->heartbeat);
}

static void on_drain(kve_drain_watcher_t *w)
{
    sse_t *s = H2O_STRUCT_FROM_MEMBER(sse_t, drain, w);
    h2o_linklist_unlink(&w->link);
    end(s, 0);
}

static void on_watch(h2o_socket_t *sock, const char *err)
{
    sse_t *s = sock->data;
    char c;
    ssize_t n = recv(h2o_socket_get_fd(sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { /* the client hung up */
        if (s->started) {
            end(s, 1);
        } else { /* Redis has not answered yet: free the connection and slot now, and end the request */
            close_stream(s);
            kve_rest__send_error(s->self, s->req, 499, "ERR the client closed the request", 0);
        }
    } else if (n > 0) {
        h2o_socket_read_stop(sock); /* it sent something (a pipelined request): leave it to h2o */
    }
}

/* HTTP/1 without TLS: watch the client socket for a hangup (see the top of the file) */
static void watch_client(sse_t *s, h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    int fd;
    if (sock == NULL || sock->ssl != NULL || req->version >= 0x200 ||
        (fd = fcntl(h2o_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0)) == -1)
        return;
    s->watch = h2o_evloop_socket_create(req->conn->ctx->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    s->watch->data = s;
    h2o_socket_read_start(s->watch, on_watch);
}

/* channel or pattern names from "/a/b%2Fc": percent-decoded segments */
static size_t parse_names(kve_rest_handler_t *self, h2o_req_t *req, const char *args, size_t len, const char **argv,
                          size_t *argvlen, const char **err)
{
    kve_rest_cmd_t cmd;
    size_t i;

    if (len <= 1) {
        *err = "ERR name at least one channel, like /subscribe/news";
        return 0;
    }
    /* the path parser gives a command whose "name" is the first channel */
    if (kve_rest_parse_path(args, len, NULL, 0, NULL, 0, &req->pool, &cmd, err) != 0)
        return 0;
    if (cmd.argc > MAX_CHANNELS) {
        *err = "ERR too many channels in one request";
        return 0;
    }
    for (i = 0; i != cmd.argc; ++i) {
        if (cmd.argvlen[i] == 0 || cmd.argvlen[i] > self->conf->max_key_size || memchr(cmd.argv[i], ',', cmd.argvlen[i]) != NULL ||
            memchr(cmd.argv[i], '\r', cmd.argvlen[i]) != NULL || memchr(cmd.argv[i], '\n', cmd.argvlen[i]) != NULL) {
            *err = "ERR channel names must be non-empty, without commas or line breaks, and within the key size limit";
            return 0;
        }
        argv[i + 1] = cmd.argv[i];
        argvlen[i + 1] = cmd.argvlen[i];
    }
    return cmd.argc;
}

static void start_response(sse_t *s, h2o_req_t *req)
{
    kve_thread_t *thread = kve_server_thread(req->conn->ctx);

    s->started = 1;
    if (s->monitor)
        kve_log(KVE_LOG_INFO, "kv", "MONITOR stream opened for %s", s->client);
    else
        kve_log(KVE_LOG_INFO, "kv", "%s stream opened for %s (%zu channel%s)", s->kind, s->client, s->channels,
                s->channels == 1 ? "" : "s");
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
    kve_rest__add_sync_header(req, kve_rest__sync_seen(s->self));
    kve_rest__add_cors(s->self, req);
    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    h2o_start_response(req, &s->super);
    s->drain.on_drain = on_drain;
    kve_server_watch_drain(thread, &s->drain);
    s->heartbeat.cb = on_heartbeat;
    h2o_timeout_link(req->conn->ctx->loop, &s->thread->heartbeat, &s->heartbeat);
}

void kve_rest__serve_stream(kve_rest_handler_t *self, h2o_req_t *req, h2o_iovec_t token, const char *kind, const char *args,
                            size_t args_len, int read_only)
{
    kve_kv_t *kv = kve_rest__link(self, kve_server_thread(req->conn->ctx), read_only);
    const char *argv[MAX_CHANNELS + 1], *err = NULL;
    size_t argvlen[MAX_CHANNELS + 1], argc = 1;
    int monitor = strcmp(kind, "monitor") == 0, kverr = KVE_EUNAVAIL;
    sse_t *s;

    argv[0] = monitor ? "MONITOR" : kind[0] == 's' ? "SUBSCRIBE" : "PSUBSCRIBE";
    argvlen[0] = strlen(argv[0]);
    if (monitor ? args_len > 1 : (argc += parse_names(self, req, args, args_len, argv, argvlen, &err)) == 1) {
        kve_rest__send_error(self, req, 400, err != NULL ? err : "ERR /monitor takes no arguments", 0);
        return;
    }
    s = h2o_mem_alloc_shared(&req->pool, sizeof(*s), on_dispose);
    *s = (sse_t){SSE_MAGIC};
    s->req = req, s->self = self, s->thread = kve_rest__thread(self, req), s->monitor = monitor;
    s->kind = argv[0], s->channels = argc - 1;
    client_address(req, s->client, sizeof(s->client));
    s->token_id = kve_stream_slots_token_id(token.base, token.len);
    if (!acquire_slot(self, req, s->token_id))
        return;
    if (kv == NULL || (s->stream = kve_kv_stream_open(kv, argc, argv, argvlen, on_stream, s, &kverr)) == NULL) {
        kve_stream_slots_release(s->token_id);
        kve_rest__send_kv_error(self, req, kverr, 0);
        return;
    }
    /* the response starts with Redis' first reply (the subscription is in place), or is an error; a client that
     * leaves before then is noticed at once */
    watch_client(s, req);
}
