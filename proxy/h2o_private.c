/* SPDX-License-Identifier: MIT */
/* kvedge's uses of libh2o 2.2.5's private fields and internals (see h2o_private.h, which names the sources). */
#include "proxy/h2o_private.h"

#include <dlfcn.h>
#include <errno.h>
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

/* interposes libh2o's function of the same name (see kve_h2o_http1_hook_reader); one compare per call */
void h2o_socket_read_start(h2o_socket_t *sock, h2o_socket_cb cb)
{
    if (__builtin_expect(capturing, 0) && kve_h2o__http1_reqread == NULL)
        kve_h2o__http1_reqread = cb;
    if (cb == kve_h2o__http1_reqread && cb != NULL)
        cb = http1_hook;
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
