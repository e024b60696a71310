/* SPDX-License-Identifier: MIT */
/* kvedge's uses of libh2o 2.2.5's private fields and internals (see h2o_private.h, which names the sources). */
#include "proxy/h2o_private.h"
#include "proxy/log.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- the HTTP/1 request reader --- */

typedef void (*read_start_fn)(h2o_socket_t *sock, h2o_socket_cb cb);

h2o_socket_cb kve_h2o__http1_reqread;
/* what replaces it; set with it, once, before any worker thread exists */
static h2o_socket_cb http1_hook;
/* libh2o's h2o_socket_read_start (resolved on first use) */
static read_start_fn next_read_start;
/* set while kve_h2o_http1_hook_reader accepts its throwaway connection: the next read_start is h2o's HTTP/1 one */
static int capturing;

static read_start_fn next(void)
{
    read_start_fn fn = __atomic_load_n(&next_read_start, __ATOMIC_ACQUIRE);
    if (__builtin_expect(fn == NULL, 0)) {
        *(void **)&fn = dlsym(RTLD_NEXT, "h2o_socket_read_start");
        if (fn == NULL) {
            fprintf(stderr, "kvedge: h2o_socket_read_start not found in libh2o: %s\n", dlerror());
            abort();
        }
        __atomic_store_n(&next_read_start, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

h2o_socket_cb kve_h2o__http1client_on_head;
/* the throwaway client whose socket's first read_start is h2o's HTTP/1 client's on_head (kve_h2o_http1client_guard) */
static h2o_http1client_t *capturing_client;
static void guarded_on_head(h2o_socket_t *sock, const char *err);
/* the socket whose on_head runs on this thread while the proxy's backpressure is on: its next read_start is its body
 * reader's */
static __thread h2o_socket_t *head_sock;
static h2o_socket_cb guard_body_reader(h2o_socket_t *sock, h2o_socket_cb cb);

/* interposes libh2o's function of the same name (see kve_h2o_http1_hook_reader and kve_h2o_http1client_guard); two
 * compares per call */
void h2o_socket_read_start(h2o_socket_t *sock, h2o_socket_cb cb)
{
    if (__builtin_expect(capturing, 0) && kve_h2o__http1_reqread == NULL)
        kve_h2o__http1_reqread = cb;
    if (__builtin_expect(capturing_client != NULL, 0) && sock == capturing_client->sock && kve_h2o__http1client_on_head == NULL)
        kve_h2o__http1client_on_head = cb;
    if (cb == kve_h2o__http1_reqread && cb != NULL)
        cb = http1_hook;
    else if (cb == kve_h2o__http1client_on_head && cb != NULL)
        cb = guarded_on_head;
    else if (__builtin_expect(sock == head_sock, 0) && cb != NULL)
        cb = guard_body_reader(sock, cb);
    next()(sock, cb);
}

int kve_h2o_http1_hook_reader(h2o_context_t *ctx, h2o_socket_cb hook, char *err, size_t errlen)
{
    h2o_accept_ctx_t accept_ctx = {.ctx = ctx, .hosts = ctx->globalconf->hosts};
    h2o_socket_t *sock;
    int fds[2], hooked;

    if (kve_h2o__http1_reqread != NULL)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    http1_hook = hook;
    sock = h2o_evloop_socket_create(ctx->loop, fds[0], 0);
    capturing = 1;
    h2o_accept(&accept_ctx, sock); /* plain: h2o_http1_accept -> reqread_start -> h2o_socket_read_start(reqread_on_read) */
    capturing = 0;
    hooked = kve_h2o__http1_reqread != NULL && kve_h2o_socket_reader(sock) == hook;
    /* h2o closes its connection and the socket, as when a peer goes away */
    kve_h2o_socket_fail_read(sock, h2o_socket_error_closed);
    close(fds[1]);
    h2o_evloop_run(ctx->loop, 0); /* frees the disposed socket */
    if (!hooked) {
        kve_h2o__http1_reqread = NULL;
        http1_hook = NULL;
        snprintf(err, errlen, "libh2o's calls to h2o_socket_read_start do not reach kvedge");
        return -1;
    }
    return 0;
}

/* --- the raw HTTP/1 head --- */

int kve_h2o_http1_raw_head(h2o_req_t *req, h2o_iovec_t *head)
{
    h2o_socket_t *sock;
    const char *start;
    size_t len;

    if (req->conn->callbacks->get_socket == NULL || (sock = req->conn->callbacks->get_socket(req->conn)) == NULL)
        return 0;
    start = sock->input->bytes;
    if (start == NULL || req->entity.base < start || req->entity.base > start + sock->input->size ||
        (len = (size_t)(req->entity.base - start)) > H2O_MAX_REQLEN || len < req->input.method.len ||
        memcmp(start, req->input.method.base, req->input.method.len) != 0)
        return -1;
    *head = h2o_iovec_init(start, len);
    return 1;
}

/* --- loops and contexts --- */

void kve_h2o_loop_expire_timeouts(h2o_loop_t *loop)
{
    h2o_linklist_t *node;
    uint64_t now = h2o_now(loop);

    for (node = loop->_timeouts.next; node != &loop->_timeouts; node = node->next) {
        h2o_timeout_t *timeout = H2O_STRUCT_FROM_MEMBER(h2o_timeout_t, _link, node);
        h2o_timeout_run(loop, timeout, now - 1 + timeout->timeout);
    }
}

void kve_h2o_context_cancel_goaway_timer(h2o_context_t *ctx)
{
    if (h2o_timeout_is_linked(&ctx->http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&ctx->http2._graceful_shutdown_timeout);
}

void kve_h2o_context_dispose(h2o_context_t *ctx)
{
    h2o_multithread_queue_t *queue = ctx->queue;
    h2o_context_dispose(ctx);
    free(queue);
}

void kve_h2o_release_thread_buffers(void)
{
    h2o_mem_recycle_t *r = &h2o_socket_buffer_prototype.allocator;
    while (r->cnt != 0)
        free(h2o_mem_alloc_recycle(r, 0));
}

/* --- the HTTP/1 client's response head --- */

/* picohttpparser, bundled and exported by libh2o 2.2.5 (its header is not installed) [2.2.5 deps/picohttpparser] */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status, const char **msg, size_t *msg_len,
                       struct phr_header *headers, size_t *num_headers, size_t last_len);

static int header_is(const struct phr_header *h, const char *name, size_t len)
{
    return h->name_len == len && h2o_lcstris(h->name, h->name_len, name, len);
}

/* 0: the final response's head in `buf` is one on_head handles without its assertion; -1: it is not; 1: incomplete */
int kve_h2o_http1client_check_head(const char *buf, size_t len)
{
    struct phr_header headers[100];
    size_t num_headers, i;
    int minor_version, status, rlen;
    const char *msg;
    size_t msg_len;

    for (;;) { /* as on_head: informational responses (1xx but 101) first [2.2.5 lib/common/http1client.c:246] */
        num_headers = sizeof(headers) / sizeof(headers[0]);
        rlen = phr_parse_response(buf, len, &minor_version, &status, &msg, &msg_len, headers, &num_headers, 0);
        if (rlen == -2)
            return 1;
        if (rlen < 0)
            return 0; /* on_head answers "failed to parse the response" before it sets _can_keepalive */
        if (!(100 <= status && status <= 199 && status != 101))
            break;
        buf += rlen, len -= (size_t)rlen;
    }
    for (i = 0; i != num_headers; ++i) {
        if (header_is(headers + i, H2O_STRLIT("transfer-encoding"))) {
            if (!h2o_memis(headers[i].value, headers[i].value_len, H2O_STRLIT("chunked")) &&
                !h2o_memis(headers[i].value, headers[i].value_len, H2O_STRLIT("identity")))
                return -1;
        } else if (header_is(headers + i, H2O_STRLIT("content-length"))) {
            if (h2o_strtosize(headers[i].value, headers[i].value_len) == SIZE_MAX)
                return -1;
        }
    }
    return 0;
}

static const kve_h2o_head_observer_t *head_observer;

void kve_h2o_proxy_observe_heads(const kve_h2o_head_observer_t *observer)
{
    head_observer = observer;
}

int kve_h2o_proxy_heads_observed(void)
{
    return head_observer != NULL && kve_h2o__http1client_on_head != NULL;
}

/* the prefix of h2o's struct rp_generator_t [2.2.5 lib/core/proxy.c:32] (see kve_h2o_proxy_observe_heads and
 * kve_h2o_proxy_backpressure) */
struct rp_generator_prefix {
    h2o_generator_t super;
    h2o_req_t *src_req;
    h2o_http1client_t *client;
};

/* --- the proxy's backpressure (kve_h2o_proxy_backpressure) --- */

/* upstream bytes a response may hold in its client's socket input before reading stops (0: off); set at start-up */
static size_t proxy_max_buffer;
static size_t max_buffer(void)
{
    return __atomic_load_n(&proxy_max_buffer, __ATOMIC_RELAXED); /* a reload may set it while workers read it */
}
/* h2o's proxy do_proceed [2.2.5 lib/core/proxy.c:346], learned from the first generator that passes gen_is_proxys */
static void (*proxy_do_proceed)(h2o_generator_t *gen, h2o_req_t *req);

/* the http1client's body readers (on_body_until_close, on_body_content_length, on_body_chunked [2.2.5
 * lib/common/http1client.c:90, 111, 150]), learned as on_head installs them; each has its wrapper and resume */
#define NUM_BODY_READERS 3
static h2o_socket_cb body_readers[NUM_BODY_READERS];

/* whether `gen`, the `data` of `client`, is h2o's proxy generator that reads from `client` for the request it serves:
 * its client is `client` and it is its request's generator (set by h2o_start_response in on_head [proxy.c:495]) */
static int gen_is_proxys(struct rp_generator_prefix *gen, h2o_http1client_t *client)
{
    void (*known)(h2o_generator_t *, h2o_req_t *);

    if (gen == NULL || gen->client != client || gen->src_req == NULL || gen->src_req->_generator != &gen->super ||
        gen->super.proceed == NULL)
        return 0;
    known = __atomic_load_n(&proxy_do_proceed, __ATOMIC_ACQUIRE);
    if (known == NULL &&
        __atomic_compare_exchange_n(&proxy_do_proceed, &known, gen->super.proceed, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return 1; /* the first: learned (a failed exchange loads what another thread learned into `known`) */
    return known == gen->super.proceed;
}

typedef void (*proceed_fn)(h2o_generator_t *gen, h2o_req_t *req);

/* the prefix of h2o's struct st_h2o_http1client_private_t [2.2.5 lib/common/http1client.c:31-38]: the public client,
 * a union of three callbacks, then the client's one I/O timer (the body's read timeout while it reads a body) */
struct http1client_prefix {
    h2o_http1client_t super;
    union {
        h2o_http1client_connect_cb on_connect;
        h2o_http1client_head_cb on_head;
        h2o_http1client_body_cb on_body;
    } _cb;
    h2o_timeout_entry_t _timeout;
};

/* 1 once the timer at that offset was found linked in its client's ctx->io_timeout (checked once per process, on the
 * first pause that needs it); -1 if it was not there (the layout differs: the timer is never touched) */
static int io_timer_checked;

/* whether `entry` is linked in `timeout` (a walk of its entries: done once) */
static int timer_is_in(h2o_timeout_t *timeout, h2o_timeout_entry_t *entry)
{
    for (h2o_linklist_t *node = timeout->_entries.next; node != &timeout->_entries; node = node->next)
        if (node == &entry->_link)
            return 1;
    return 0;
}

/* restarts `client`'s I/O timer (the upstream's body read timeout) while its reading is stopped for a client that
 * progresses: the timeout then runs from the client's last progress, as nginx's send_timeout */
static void touch_io_timer(h2o_http1client_t *client)
{
    h2o_timeout_entry_t *entry = &((struct http1client_prefix *)client)->_timeout;
    int checked = __atomic_load_n(&io_timer_checked, __ATOMIC_RELAXED);

    if (checked < 0 || !h2o_timeout_is_linked(entry) || entry->cb == NULL)
        return;
    if (checked == 0) {
        checked = timer_is_in(client->ctx->io_timeout, entry) ? 1 : -1;
        __atomic_store_n(&io_timer_checked, checked, __ATOMIC_RELAXED);
        if (checked < 0) {
            kve_log(KVE_LOG_WARN, "proxy",
                    "h2o's HTTP/1 client timer is not where kvedge expects it: a paused proxied response keeps the "
                    "upstream timeout of its last read");
            return;
        }
    }
    h2o_timeout_unlink(entry);
    h2o_timeout_link(client->ctx->loop, client->ctx->io_timeout, entry);
}

/* the largest send of a response whose upstream reading was stopped */
#define PAUSED_CHUNK (256 * 1024)

/* stops reading `sock`, whose input passed the cap, and has the proxy's next proceed call `resume` (read on the
 * proxied path only once per pause); does nothing for a socket whose client is not the proxy's */
static void pause_reading(h2o_socket_t *sock, proceed_fn resume)
{
    h2o_http1client_t *client = sock->data;
    struct rp_generator_prefix *gen = client != NULL ? client->data : NULL;

    if (!gen_is_proxys(gen, client))
        return;
    h2o_socket_read_stop(sock);
    gen->super.proceed = resume;
    /* sends of at most PAUSED_CHUNK from now on (the proxy's do_send passes it to h2o_doublebuffer_prepare [proxy.c:326];
     * HTTP/1 leaves it at SIZE_MAX [lib/core/request.c:236]): the client's progress is seen every PAUSED_CHUNK */
    if (gen->src_req->preferred_chunk_size > PAUSED_CHUNK)
        gen->src_req->preferred_chunk_size = PAUSED_CHUNK;
}

/* in place of the proxy's proceed while its upstream socket does not read: proceeds (the client took the chunk in
 * flight, do_proceed sends the next), then reads again with `reader` once the input is under the cap */
static void resume_reading(struct rp_generator_prefix *gen, h2o_req_t *req, h2o_socket_cb reader, proceed_fn resume)
{
    h2o_http1client_t *client = gen->client; /* NULL once the body ended or failed (the upstream timeout) */

    gen->super.proceed = proxy_do_proceed;
    proxy_do_proceed(&gen->super, req); /* sends IN_PROGRESS while client is set: `gen` and `req` live on */
    if (client == NULL || gen->client != client)
        return;
    touch_io_timer(client); /* the client took a chunk */
    if (client->sock->input->size <= max_buffer())
        next()(client->sock, reader);
    else
        gen->super.proceed = resume;
}

#define BODY_READER(i)                                                                                                             \
    static void resume_body_##i(h2o_generator_t *gen, h2o_req_t *req);                                                             \
    static void guarded_body_##i(h2o_socket_t *sock, const char *err)                                                              \
    {                                                                                                                              \
        if (err == NULL && sock->input->size > max_buffer())                                                                       \
            pause_reading(sock, resume_body_##i);                                                                                  \
        body_readers[i](sock, err);                                                                                                \
    }                                                                                                                              \
    static void resume_body_##i(h2o_generator_t *gen, h2o_req_t *req)                                                              \
    {                                                                                                                              \
        resume_reading((struct rp_generator_prefix *)gen, req, guarded_body_##i, resume_body_##i);                                 \
    }
BODY_READER(0)
BODY_READER(1)
BODY_READER(2)
#undef BODY_READER

static const h2o_socket_cb body_guards[NUM_BODY_READERS] = {guarded_body_0, guarded_body_1, guarded_body_2};

/* the wrapper of body reader `cb`, being installed on `sock` inside on_head (learned on first sight; at most
 * NUM_BODY_READERS exist), or `cb` itself for anything else */
static h2o_socket_cb guard_body_reader(h2o_socket_t *sock, h2o_socket_cb cb)
{
    h2o_http1client_t *client = sock->data;

    /* on_head installs it on the client's own socket ([http1client.c:351]: sock->data is the client); 2.2.5 starts no
     * other reader there (the socket pool exports a returned socket, [lib/common/socketpool.c:318]) */
    if (client == NULL || client->sock != sock)
        return cb;
    for (size_t i = 0; i != NUM_BODY_READERS; ++i) {
        h2o_socket_cb known = __atomic_load_n(&body_readers[i], __ATOMIC_ACQUIRE);
        if (known == NULL && __atomic_compare_exchange_n(&body_readers[i], &known, cb, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return body_guards[i];
        if (known == cb)
            return body_guards[i];
    }
    return cb;
}

ssize_t kve_h2o_proxy_upstream_input(h2o_req_t *req, int *reading)
{
    struct rp_generator_prefix *gen = (struct rp_generator_prefix *)req->_generator;
    proceed_fn known = __atomic_load_n(&proxy_do_proceed, __ATOMIC_ACQUIRE);
    proceed_fn proceed;

    if (gen == NULL || known == NULL)
        return -1;
    proceed = gen->super.proceed; /* only then is it an rp_generator_t, whose further members can be read */
    if (proceed != known && proceed != resume_body_0 && proceed != resume_body_1 && proceed != resume_body_2)
        return -1;
    if (gen->client == NULL || gen->client->sock == NULL)
        return -1;
    *reading = h2o_socket_is_reading(gen->client->sock);
    return (ssize_t)gen->client->sock->input->size;
}

void kve_h2o_proxy_backpressure(size_t bytes)
{
    __atomic_store_n(&proxy_max_buffer, bytes, __ATOMIC_RELAXED);
}

/* shows the complete head in `sock`'s input to the observer, if it wants the request's */
static void observe_head(h2o_socket_t *sock)
{
    h2o_http1client_t *client = sock->data;
    h2o_req_t *req = client != NULL && client->data != NULL ? ((struct rp_generator_prefix *)client->data)->src_req : NULL;
    struct phr_header headers[100];
    kve_h2o_head_field_t fields[100];
    const char *buf = sock->input->bytes, *msg;
    size_t len = sock->input->size, num, msg_len, i;
    int minor_version, status, rlen;

    if (req == NULL || !head_observer->wants(req))
        return;
    for (;;) { /* the final head, after 1xx ones (as kve_h2o_http1client_check_head) */
        num = sizeof(headers) / sizeof(headers[0]);
        rlen = phr_parse_response(buf, len, &minor_version, &status, &msg, &msg_len, headers, &num, 0);
        if (rlen < 0)
            return;
        if (!(100 <= status && status <= 199 && status != 101))
            break;
        buf += rlen, len -= (size_t)rlen;
    }
    for (i = 0; i != num; ++i) {
        fields[i].name = h2o_iovec_init(headers[i].name, headers[i].name_len);
        fields[i].value = h2o_iovec_init(headers[i].value, headers[i].value_len);
    }
    head_observer->on_head(req, fields, num);
}

/* in place of on_head: a head on_head would reject after setting _can_keepalive reaches it as a read error instead */
static void guarded_on_head(h2o_socket_t *sock, const char *err)
{
    int check;
    if (err == NULL && (check = kve_h2o_http1client_check_head(sock->input->bytes, sock->input->size)) < 0) {
        kve_log(KVE_LOG_WARN, "proxy",
                "upstream response refused: a Transfer-Encoding other than chunked or identity, or an invalid "
                "Content-Length (the client gets 502)");
        err = "invalid response head";
    } else if (err == NULL && check == 0 && head_observer != NULL) {
        observe_head(sock);
    }
    if (max_buffer() == 0) {
        kve_h2o__http1client_on_head(sock, err);
        return;
    }
    head_sock = sock; /* on_head installs the body reader with h2o_socket_read_start() [http1client.c:351] */
    kve_h2o__http1client_on_head(sock, err);
    head_sock = NULL;
}

static h2o_http1client_body_cb capture_on_head_cb(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                                  h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    return NULL;
}

static h2o_http1client_head_cb capture_on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs,
                                                  size_t *reqbufcnt, int *method_is_head)
{
    static h2o_iovec_t req = {H2O_STRLIT("GET / HTTP/1.1\r\nhost: x\r\n\r\n")};
    if (errstr != NULL) {
        *(int *)client->data = -1; /* the client is gone */
        return NULL;
    }
    *reqbufs = &req, *reqbufcnt = 1, *method_is_head = 0;
    return capture_on_head_cb;
}

int kve_h2o_http1client_guard(h2o_loop_t *loop, char *err, size_t errlen)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sin);
    h2o_timeout_t io_timeout;
    h2o_http1client_ctx_t hctx = {loop, NULL, &io_timeout, NULL, NULL};
    h2o_http1client_t *client = NULL;
    int lfd, gone = 0, i;

    if (kve_h2o__http1client_on_head != NULL)
        return 0;
    /* a listener the kernel completes the connection to; nothing ever accepts it */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 || bind(lfd, (void *)&sin, sizeof(sin)) != 0 ||
        listen(lfd, 1) != 0 || getsockname(lfd, (void *)&sin, &slen) != 0) {
        snprintf(err, errlen, "a loopback listener for the HTTP/1 client check: %s", strerror(errno));
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    h2o_timeout_init(loop, &io_timeout, 2000);
    h2o_http1client_connect(&client, &gone, &hctx, h2o_iovec_init(H2O_STRLIT("127.0.0.1")), ntohs(sin.sin_port), 0,
                            capture_on_connect);
    capturing_client = client;
    for (i = 0; i != 200 && kve_h2o__http1client_on_head == NULL && !gone; ++i)
        h2o_evloop_run(loop, 10);
    capturing_client = NULL;
    if (!gone)
        h2o_http1client_cancel(client);
    h2o_evloop_run(loop, 0); /* frees the closed socket */
    h2o_timeout_dispose(loop, &io_timeout);
    close(lfd);
    if (kve_h2o__http1client_on_head == NULL) {
        snprintf(err, errlen, "libh2o's HTTP/1 client does not reach kvedge's h2o_socket_read_start");
        return -1;
    }
    return 0;
}

/* --- handing a connection to another thread (the reload) --- */

int kve_h2o_http1_detach(h2o_socket_t *sock, h2o_loop_t *loop, h2o_socket_export_t *info)
{
    struct st_h2o_socket_ssl_t *ssl;
    h2o_socket_t *carrier;
    int fd = fcntl(h2o_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    ssl = sock->ssl;
    sock->ssl = NULL;
    kve_h2o_socket_fail_read(sock, h2o_socket_error_closed); /* h2o closes the connection and its descriptor */
    carrier = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    carrier->ssl = ssl;
    if (h2o_socket_export(carrier, info) != 0) { /* cannot fail on the evloop backend ([evloop.c.h:336 do_export]) */
        h2o_socket_close(carrier);
        return -1;
    }
    return 0;
}
