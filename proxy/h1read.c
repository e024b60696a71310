/* SPDX-License-Identifier: MIT */
/* The hook on h2o's HTTP/1 request reading (see h1read.h). */
#include "proxy/h1read.h"
#include "proxy/pending.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* the capacity h2o gives a socket's input buffer at its first read (lib/common/socket.c) */
#define UNCHARGED_BUFFER (H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE * 2)

typedef void (*read_start_fn)(h2o_socket_t *sock, h2o_socket_cb cb);

/* libh2o's h2o_socket_read_start (resolved on first use) */
static read_start_fn next_read_start;
/* h2o's static HTTP/1 request callback; set once by kve_h1read_init, before any worker thread exists */
static h2o_socket_cb h1_reqread;
/* set while kve_h1read_init accepts its throwaway connection: the next read_start is h2o's HTTP/1 one */
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

#define REFUSAL_BODY "request data pending over limits.max_pending_size\n"
#define REFUSAL                                                                                                                    \
    "HTTP/1.1 503 Service Unavailable\r\n"                                                                                         \
    "Content-Type: text/plain; charset=utf-8\r\n"                                                                                  \
    "Connection: close\r\n"                                                                                                        \
    "Retry-After: 1\r\n"                                                                                                           \
    "Content-Length: 50\r\n" /* strlen(REFUSAL_BODY), checked below */                                                             \
    "\r\n" REFUSAL_BODY

_Static_assert(sizeof(REFUSAL_BODY) - 1 == 50, "Content-Length of REFUSAL");

static void on_h1_read(h2o_socket_t *sock, const char *err);

/*
 * Answers 503 (best effort: plain sockets that are not writing anything else) and ends the socket's sending
 * side. The caller then has h2o close the connection: closing with unread input makes the kernel reset it,
 * so the client stops sending at once.
 */
static void answer_refusal(h2o_socket_t *sock)
{
    static const char response[] = REFUSAL;
    int fd = h2o_socket_get_fd(sock);

    if (sock->ssl == NULL && !h2o_socket_is_writing(sock)) {
        while (send(fd, response, sizeof(response) - 1, MSG_NOSIGNAL) == -1 && errno == EINTR)
            ;
        shutdown(fd, SHUT_WR);
    } else {
        /* TLS, or h2o writing its own answer: that write (or the close_notify) fails at once, and h2o closes */
        shutdown(fd, SHUT_RDWR);
    }
}

/* closes another connection of this thread now, through h2o's error path (it is not inside a callback) */
static void close_other(h2o_socket_t *sock)
{
    if (sock->_cb.read == on_h1_read)
        h1_reqread(sock, h2o_socket_error_closed);
    else /* not reading its request (writing h2o's own error or "100 Continue"): h2o closes on the write's failure */
        shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
}

/* refuses the largest requests of `thread` while it must; 1 if `self` (the reader, or NULL) was refused */
static int enforce(kve_pending_thread_t *thread, kve_pending_conn_t *self)
{
    do {
        kve_pending_conn_t *victim = kve_pending_largest(thread, self);
        h2o_socket_t *sock;
        if (victim == NULL)
            break;
        sock = victim->sock;
        kve_pending_refuse(victim);
        answer_refusal(sock);
        if (victim == self)
            return 1;
        close_other(sock); /* frees `victim` */
    } while (kve_pending_over(thread));
    return 0;
}

void kve_h1read_enforce(kve_pending_thread_t *thread)
{
    if (kve_pending_over(thread))
        enforce(thread, NULL);
}

static void on_h1_read(h2o_socket_t *sock, const char *err)
{
    if (err == NULL) {
        kve_pending_conn_t *conn = kve_pending_conn_of(sock);
        h2o_buffer_t *input = sock->input;
        /* the first buffer of every reading connection (8 KiB: a request without a large body) is not charged: those
         * are bounded by limits.max_connections, and a GET then costs no shared counter (without an allocation,
         * `input` is h2o's prototype: nothing held) */
        size_t allocated = input->bytes != NULL && input->capacity > UNCHARGED_BUFFER ? input->capacity : 0;
        int ret = kve_pending_update(conn, allocated, input->size);
        /* a refused connection is closed the way h2o closes one whose peer went away */
        if (ret < 0 || (ret > 0 && enforce(conn->thread, conn)))
            err = h2o_socket_error_closed;
    }
    h1_reqread(sock, err);
}

/* interposes libh2o's function of the same name (see h1read.h) */
void h2o_socket_read_start(h2o_socket_t *sock, h2o_socket_cb cb)
{
    if (__builtin_expect(capturing, 0) && h1_reqread == NULL)
        h1_reqread = cb;
    if (cb == h1_reqread && cb != NULL)
        cb = on_h1_read;
    next()(sock, cb);
}

int kve_h1read_is_hooked(h2o_socket_t *sock)
{
    return sock->_cb.read == on_h1_read;
}

int kve_h1read_init(h2o_context_t *ctx, char *err, size_t errlen)
{
    h2o_accept_ctx_t accept_ctx = {.ctx = ctx, .hosts = ctx->globalconf->hosts};
    h2o_socket_t *sock;
    int fds[2], hooked;

    if (h1_reqread != NULL)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        snprintf(err, errlen, "HTTP/1 read hook: socketpair: %s", strerror(errno));
        return -1;
    }
    sock = h2o_evloop_socket_create(ctx->loop, fds[0], 0);
    capturing = 1;
    h2o_accept(&accept_ctx, sock); /* plain: h2o_http1_accept -> h2o_socket_read_start(sock, reqread_on_read) */
    capturing = 0;
    hooked = h1_reqread != NULL && kve_h1read_is_hooked(sock);
    /* h2o closes its connection and the socket, as when a peer goes away */
    sock->_cb.read(sock, h2o_socket_error_closed);
    close(fds[1]);
    h2o_evloop_run(ctx->loop, 0); /* frees the disposed socket */
    if (!hooked) {
        h1_reqread = NULL;
        snprintf(err, errlen,
                 "HTTP/1 read hook: libh2o's calls to h2o_socket_read_start do not reach kvedge, so limits.max_pending_size "
                 "cannot be enforced (set it to 0 to run without it)");
        return -1;
    }
    return 0;
}
