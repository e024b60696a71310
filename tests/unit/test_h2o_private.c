/* SPDX-License-Identifier: MIT */
/*
 * Checks, against the libh2o installed here, what proxy/h2o_private.h relies on: each wrapper is exercised on a
 * real loop, context or socket pair, so a library whose internals moved fails here (and under ASan in build-asan)
 * rather than in production. The compile-time guard covers a new version number; these cover a rebuilt 2.2.5.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/h2o_private.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- socket readers --- */

static int reads;
static const char *last_err;

static void on_read(h2o_socket_t *sock, const char *err)
{
    ++reads;
    last_err = err;
}

static int run_until_reads(h2o_loop_t *loop, int n)
{
    for (int i = 0; i != 500 && reads < n; ++i)
        h2o_evloop_run(loop, 10);
    return reads >= n;
}

TEST(socket_reader)
{
    h2o_loop_t *loop = h2o_evloop_create();
    int fds[2];
    h2o_socket_t *sock;

    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    sock = h2o_evloop_socket_create(loop, fds[0], 0);
    reads = 0;
    CHECK(kve_h2o_socket_reader(sock) == NULL);
    h2o_socket_read_start(sock, on_read);
    CHECK(kve_h2o_socket_reader(sock) == on_read);
    CHECK(h2o_socket_is_reading(sock));

    /* the first read: the buffer h1read.c does not charge */
    CHECK_EQ_INT(write(fds[1], "x", 1), 1);
    CHECK(run_until_reads(loop, 1));
    CHECK(last_err == NULL);
    CHECK_EQ_UINT(sock->input->size, 1);
    CHECK_EQ_UINT(sock->input->capacity, KVE_H2O_SOCKET_FIRST_INPUT_CAPACITY);

    /* the reader's error path, on demand */
    kve_h2o_socket_fail_read(sock, h2o_socket_error_closed);
    CHECK_EQ_INT(reads, 2);
    CHECK(last_err == h2o_socket_error_closed);

    h2o_socket_read_stop(sock);
    CHECK(kve_h2o_socket_reader(sock) == NULL);
    h2o_socket_close(sock);
    close(fds[1]);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
}

/* --- loops and contexts --- */

static int fired;
static h2o_loop_t *timer_loop;
static h2o_timeout_t *relink_on;

static void on_timer(h2o_timeout_entry_t *entry)
{
    ++fired;
}

/* linked again from its callback (as a KV command's timer may be): must not fire again in the same pass */
static void on_timer_relink(h2o_timeout_entry_t *entry)
{
    ++fired;
    h2o_timeout_link(timer_loop, relink_on, entry);
}

TEST(expire_timeouts)
{
    h2o_loop_t *loop = h2o_evloop_create();
    h2o_timeout_t minute, hour;
    h2o_timeout_entry_t a = {.cb = on_timer_relink}, b = {.cb = on_timer};

    h2o_timeout_init(loop, &minute, 60 * 1000);
    h2o_timeout_init(loop, &hour, 3600 * 1000);
    timer_loop = loop;
    relink_on = &minute;
    h2o_timeout_link(loop, &minute, &a);
    h2o_timeout_link(loop, &hour, &b);
    fired = 0;
    usleep(2000);
    h2o_evloop_run(loop, 0); /* the loop's clock moves past the entries' registration */
    CHECK_EQ_INT(fired, 0);  /* not due */
    kve_h2o_loop_expire_timeouts(loop);
    CHECK_EQ_INT(fired, 2);
    CHECK(h2o_timeout_is_linked(&a) && !h2o_timeout_is_linked(&b));
    h2o_timeout_unlink(&a);
    h2o_timeout_dispose(loop, &minute);
    h2o_timeout_dispose(loop, &hour);
    h2o_evloop_destroy(loop); /* asserts that no timeout is left on the loop */
}

TEST(context_shutdown_and_dispose)
{
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_loop_t *loop = h2o_evloop_create();

    h2o_config_init(&conf);
    h2o_config_register_host(&conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_context_init(&ctx, loop, &conf);
    h2o_context_request_shutdown(&ctx); /* links the GOAWAY timer, although there is no HTTP/2 connection */
    kve_h2o_context_cancel_goaway_timer(&ctx);
    kve_h2o_context_cancel_goaway_timer(&ctx); /* idempotent */
    kve_h2o_context_dispose(&ctx);             /* aborts if a timer is still linked; LSan (build-asan) reports a queue not freed */
    h2o_config_dispose(&conf);
    h2o_evloop_destroy(loop);
    kve_h2o_release_thread_buffers();
}

/* --- the HTTP/1 reader hook and the raw head --- */

static int hook_calls, head_found, awaits_in_handler;
static char head[256];

static void on_hooked_read(h2o_socket_t *sock, const char *err)
{
    ++hook_calls;
    kve_h2o_http1_reqread(sock, err);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t h = {NULL, 0};
    head_found = req->entity.base != NULL ? kve_h2o_http1_raw_head(req, &h) : -2;
    awaits_in_handler = kve_h2o_http1_awaits_request(req->conn->callbacks->get_socket(req->conn));
    snprintf(head, sizeof(head), "%.*s", (int)h.len, h.base != NULL ? h.base : "");
    req->res.status = 200;
    req->res.content_length = 2;
    h2o_send_inline(req, H2O_STRLIT("ok"));
    return 0;
}

/* sends `request` on `fd` and runs the loop until the response ("...ok") came back */
static int exchange(h2o_loop_t *loop, int fd, const char *request)
{
    char buf[1024];
    size_t got = 0;

    if (write(fd, request, strlen(request)) != (ssize_t)strlen(request))
        return 0;
    for (int i = 0; i != 500; ++i) {
        ssize_t n;
        h2o_evloop_run(loop, 10);
        while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\nok") != NULL)
            return strncmp(buf, "HTTP/1.1 200", 12) == 0;
    }
    return 0;
}

TEST(http1_hook_and_raw_head)
{
    static const char post[] = "POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello";
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_loop_t *loop = h2o_evloop_create();
    h2o_accept_ctx_t accept_ctx = {.ctx = &ctx};
    char err[256];
    h2o_socket_t *sock;
    int fds[2];

    h2o_config_init(&conf);
    h2o_hostconf_t *host = h2o_config_register_host(&conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(h2o_handler_t))->on_req = on_req;
    h2o_context_init(&ctx, loop, &conf);
    accept_ctx.hosts = conf.hosts;

    /* once per process (see h2o_private.h); no other unit suite installs it */
    CHECK_EQ_INT(kve_h2o_http1_hook_reader(&ctx, on_hooked_read, err, sizeof(err)), 0);
    CHECK(kve_h2o__http1_reqread != NULL);

    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    hook_calls = 0;
    sock = h2o_evloop_socket_create(loop, fds[0], 0);
    h2o_accept(&accept_ctx, sock);
    CHECK(kve_h2o_http1_awaits_request(sock)); /* accepted, nothing sent yet */
    awaits_in_handler = -1;
    CHECK(exchange(loop, fds[1], post));
    CHECK_EQ_INT(awaits_in_handler, 0);        /* while h2o processes a request */
    CHECK(kve_h2o_http1_awaits_request(sock)); /* the response was written: waiting for the next one */
    CHECK(hook_calls >= 1);                    /* h2o's reads of the request went through the hook */
    CHECK_EQ_INT(head_found, 1);
    CHECK_EQ_STR(head, "POST /x HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\n\r\n"); /* names lower-cased in place */

    /* the next request on the connection: h2o installed its reader again after the response, and got the hook */
    hook_calls = 0;
    CHECK(exchange(loop, fds[1], "GET /y HTTP/1.1\r\nHost: test\r\n\r\n"));
    CHECK(hook_calls >= 1);
    CHECK_EQ_INT(head_found, -2); /* no body: not asked */
    CHECK_EQ_INT(awaits_in_handler, 0);

    close(fds[1]); /* h2o closes the connection on the EOF */
    for (int i = 0; i != 10; ++i)
        h2o_evloop_run(loop, 1);
    kve_h2o_context_dispose(&ctx);
    h2o_config_dispose(&conf);
    h2o_evloop_destroy(loop);
    kve_h2o_release_thread_buffers();
}

static int check_head(const char *s)
{
    return kve_h2o_http1client_check_head(s, strlen(s));
}

TEST(http1client_check_head)
{
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\ntransfer-encoding: identity\r\n\r\n"), 0);
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), 0);
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), -1);
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"), -1); /* h2o compares exactly */
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: gzip, chunked\r\n\r\n"), -1);
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"), -1);
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"), -1);
    CHECK_EQ_INT(check_head("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: x\r\n\r\n"), -1);
    CHECK_EQ_INT(check_head("HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: x\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), 0);
    CHECK_EQ_INT(check_head("HTTP/1.1 200 OK\r\nTransfer-Enc"), 1);
    CHECK_EQ_INT(check_head("HTTP/1.1 100 Continue\r\n\r\n"), 1);
    CHECK_EQ_INT(check_head("garbage\r\n\r\n"), 0); /* on_head refuses it itself, before it sets _can_keepalive */
}

TEST(http1client_guard_captures_on_head)
{
    h2o_loop_t *loop = h2o_evloop_create();
    char err[128] = "";
    CHECK_EQ_INT(kve_h2o_http1client_guard(loop, err, sizeof(err)), 0);
    CHECK(kve_h2o__http1client_on_head != NULL);
    CHECK_EQ_INT(kve_h2o_http1client_guard(loop, err, sizeof(err)), 0); /* once is enough */
    h2o_evloop_destroy(loop);
}

void kve_suite_h2o_private(void)
{
    RUN(socket_reader);
    RUN(expire_timeouts);
    RUN(context_shutdown_and_dispose);
    RUN(http1_hook_and_raw_head);
    RUN(http1client_check_head);
    RUN(http1client_guard_captures_on_head);
}
