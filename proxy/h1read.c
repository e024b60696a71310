/* SPDX-License-Identifier: MIT */
/* The hook on h2o's HTTP/1 request reading (see h1read.h). */
#include "proxy/h1read.h"
#include "proxy/h2o_private.h"
#include "proxy/pending.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* the first buffer of every reading connection, which is not charged */
#define UNCHARGED_BUFFER KVE_H2O_SOCKET_FIRST_INPUT_CAPACITY

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
    if (kve_h2o_socket_reader(sock) == on_h1_read)
        kve_h2o_socket_fail_read(sock, h2o_socket_error_closed);
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
    kve_h2o_http1_reqread(sock, err);
}

int kve_h1read_is_hooked(h2o_socket_t *sock)
{
    return kve_h2o_socket_reader(sock) == on_h1_read;
}

int kve_h1read_init(h2o_context_t *ctx, char *err, size_t errlen)
{
    char why[128];

    if (kve_h2o_http1_hook_reader(ctx, on_h1_read, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "HTTP/1 read hook: %s, so limits.max_pending_size cannot be enforced nor a reload keep connections", why);
    return -1;
}
