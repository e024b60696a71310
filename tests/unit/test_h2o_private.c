/* SPDX-License-Identifier: MIT */
/*
 * Checks, against the libh2o installed here, what proxy/h2o_private.h relies on: each wrapper is exercised on a
 * real loop, context or socket pair, so a library whose internals moved fails here (and under ASan in build-asan)
 * rather than in production. The compile-time guard covers a new version number; these cover a rebuilt 2.2.5.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/h2o_private.h"
#include "h2o/http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

/* --- handing an idle HTTP/1 connection to another loop (the reload) --- */

static int closed_calls;

static void on_sock_close(void *data)
{
    (void)data;
    ++closed_calls;
}

static void init_server(h2o_globalconf_t *conf, h2o_context_t *ctx, h2o_loop_t *loop)
{
    h2o_config_init(conf);
    h2o_hostconf_t *host = h2o_config_register_host(conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(h2o_handler_t))->on_req = on_req;
    h2o_context_init(ctx, loop, conf);
}

TEST(http1_detach_to_another_loop)
{
    h2o_globalconf_t conf1, conf2;
    h2o_context_t ctx1, ctx2;
    h2o_loop_t *loop1 = h2o_evloop_create(), *loop2 = h2o_evloop_create();
    h2o_accept_ctx_t accept1 = {.ctx = &ctx1}, accept2 = {.ctx = &ctx2};
    h2o_socket_export_t info = {.fd = -1};
    h2o_socket_t *sock, *moved;
    int fds[2];

    init_server(&conf1, &ctx1, loop1);
    init_server(&conf2, &ctx2, loop2);
    accept1.hosts = conf1.hosts;
    accept2.hosts = conf2.hosts;
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    sock = h2o_evloop_socket_create(loop1, fds[0], 0);
    sock->on_close.cb = on_sock_close;
    h2o_accept(&accept1, sock);
    CHECK(exchange(loop1, fds[1], "GET /1 HTTP/1.1\r\nHost: test\r\n\r\n"));
    CHECK(kve_h2o_http1_awaits_request(sock));

    closed_calls = 0;
    CHECK_EQ_INT(kve_h2o_http1_detach(sock, loop1, &info), 0);
    CHECK_EQ_INT(closed_calls, 1); /* h2o closed its side, through its own path */
    CHECK(info.fd != -1);
    for (int i = 0; i != 5; ++i)
        h2o_evloop_run(loop1, 1); /* frees the disposed sockets; nothing of the connection is left on loop1 */

    /* the client noticed nothing: its next request is answered on the other loop, on the same connection */
    moved = h2o_socket_import(loop2, &info);
    h2o_http1_accept(&accept2, moved, *h2o_get_timestamp(&ctx2, NULL, NULL));
    CHECK(exchange(loop2, fds[1], "GET /2 HTTP/1.1\r\nHost: test\r\n\r\n"));
    CHECK(exchange(loop2, fds[1], "GET /3 HTTP/1.1\r\nHost: test\r\n\r\n"));

    close(fds[1]);
    for (int i = 0; i != 10; ++i)
        h2o_evloop_run(loop2, 1);
    kve_h2o_context_dispose(&ctx1);
    kve_h2o_context_dispose(&ctx2);
    h2o_config_dispose(&conf1);
    h2o_config_dispose(&conf2);
    h2o_evloop_destroy(loop1);
    h2o_evloop_destroy(loop2);
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

/* --- the proxy's upstream heads (kve_h2o_proxy_observe_heads) --- */

static h2o_req_t *proxied_req;
static int observed_wrong_req, observed_heads;
static char observed[256];

static int record_req(h2o_handler_t *self, h2o_req_t *req)
{
    proxied_req = req;
    return -1; /* on to the proxy */
}

static int observe_wants(h2o_req_t *req)
{
    if (req != proxied_req)
        ++observed_wrong_req; /* the layout read from rp_generator_t is not the request */
    return 1;
}

static void observe_head(h2o_req_t *req, const kve_h2o_head_field_t *fields, size_t num)
{
    size_t off = 0;
    ++observed_heads;
    for (size_t i = 0; i != num && off < sizeof(observed); ++i)
        off += (size_t)snprintf(observed + off, sizeof(observed) - off, "%.*s=%.*s;", (int)fields[i].name.len, fields[i].name.base,
                                (int)fields[i].value.len, fields[i].value.base);
}

/* a one-shot upstream on `lfd` (non-blocking): accepts, reads the head, answers with a 103 then `response` */
static void serve_upstream(int lfd, int *cfd, const char *response)
{
    char buf[2048];
    if (*cfd < 0 && (*cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
        return;
    if (read(*cfd, buf, sizeof(buf)) > 0 && write(*cfd, response, strlen(response)) != (ssize_t)strlen(response))
        CHECK(!"upstream write");
}

TEST(proxy_heads_observed)
{
    static const char response[] = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: x-a\r\n"
                                   "X-A: 1\r\nContent-Length: 2\r\n\r\nok";
    static const kve_h2o_head_observer_t observer = {observe_wants, observe_head};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sin);
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_loop_t *loop = h2o_evloop_create();
    h2o_accept_ctx_t accept_ctx = {.ctx = &ctx};
    h2o_proxy_config_vars_t pconf = {.io_timeout = 5000};
    h2o_url_t upstream;
    char err[128], url[64], buf[2048] = "";
    int lfd, cfd = -1, fds[2];
    size_t got = 0;

    CHECK_EQ_INT(kve_h2o_http1client_guard(loop, err, sizeof(err)), 0); /* once per process: the wrapper observes */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(lfd >= 0 && bind(lfd, (void *)&sin, sizeof(sin)) == 0 && listen(lfd, 4) == 0 &&
          getsockname(lfd, (void *)&sin, &slen) == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(sin.sin_port));
    CHECK_EQ_INT(h2o_url_parse(url, strlen(url), &upstream), 0);

    h2o_config_init(&conf);
    h2o_hostconf_t *host = h2o_config_register_host(&conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = record_req;
    h2o_proxy_register_reverse_proxy(path, &upstream, &pconf);
    h2o_context_init(&ctx, loop, &conf);
    accept_ctx.hosts = conf.hosts;
    CHECK(!kve_h2o_proxy_heads_observed());
    kve_h2o_proxy_observe_heads(&observer);
    CHECK(kve_h2o_proxy_heads_observed());

    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    h2o_accept(&accept_ctx, h2o_evloop_socket_create(loop, fds[0], 0));
    CHECK(write(fds[1], "GET /x HTTP/1.1\r\nHost: t\r\n\r\n", 29) == 29);
    for (int i = 0; i != 300 && strstr(buf, "\r\n\r\nok") == NULL; ++i) {
        ssize_t n;
        h2o_evloop_run(loop, 10);
        serve_upstream(lfd, &cfd, response);
        while (got < sizeof(buf) - 1 && (n = read(fds[1], buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)n;
        buf[got] = '\0';
    }
    CHECK(strstr(buf, "HTTP/1.1 200 OK\r\n") != NULL);
    CHECK_EQ_INT(observed_heads, 1);
    CHECK_EQ_INT(observed_wrong_req, 0);
    /* the final head (not the 103), with the fields h2o's proxy drops */
    CHECK_EQ_STR(observed, "Date=Sun, 06 Nov 1994 08:49:37 GMT;Connection=x-a;X-A=1;Content-Length=2;");

    kve_h2o_proxy_observe_heads(NULL);
    close(fds[1]);
    if (cfd >= 0)
        close(cfd);
    close(lfd);
    for (int i = 0; i != 10; ++i)
        h2o_evloop_run(loop, 1);
    kve_h2o_context_dispose(&ctx);
    h2o_config_dispose(&conf);
    h2o_evloop_destroy(loop);
    kve_h2o_release_thread_buffers();
}

/* --- the proxy's backpressure (kve_h2o_proxy_backpressure) --- */

#define BP_CAP (64 * 1024)
#define BP_BODY (48u * 1024 * 1024)

/* writes what the upstream socket takes of a BP_BODY-byte response (byte i of the body is i % 251); returns the total */
static size_t bp_feed(int cfd, size_t sent)
{
    static char chunk[65536];
    for (;;) {
        size_t off = sent < 128 ? 0 : sent - 128, len = 0; /* the 128-byte head is sent first, alone */
        ssize_t n;
        if (sent == 0) {
            int pad = 128 - snprintf(NULL, 0, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nX-Pad: \r\n\r\n", BP_BODY);
            len = (size_t)snprintf(chunk, sizeof(chunk), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nX-Pad: %*s\r\n\r\n", BP_BODY,
                                   pad, "x");
            CHECK_EQ_INT((int)len, 128);
        } else {
            if (off >= BP_BODY)
                return sent;
            len = BP_BODY - off < sizeof(chunk) ? BP_BODY - off : sizeof(chunk);
            for (size_t i = 0; i != len; ++i)
                chunk[i] = (char)((off + i) % 251);
        }
        if ((n = write(cfd, chunk, len)) <= 0)
            return sent;
        sent += (size_t)n;
    }
}

static h2o_req_t *other_req;

/* answers with a generator of its own, and sends nothing yet */
static int other_handler(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t gen = {NULL, NULL};
    other_req = req;
    req->res.status = 200;
    h2o_start_response(req, &gen);
    return 0;
}

TEST(proxy_backpressure)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sin);
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_loop_t *loop = h2o_evloop_create();
    h2o_accept_ctx_t accept_ctx = {.ctx = &ctx};
    h2o_proxy_config_vars_t pconf = {.io_timeout = 10000};
    h2o_url_t upstream;
    char err[128], url[64], buf[65536];
    int lfd, cfd = -1, fds[2], ofds[2], reading = -1, bad = 0;
    size_t sent = 0, got = 0, body_at = 0;
    ssize_t input;

    CHECK_EQ_INT(kve_h2o_http1client_guard(loop, err, sizeof(err)), 0);
    kve_h2o_proxy_backpressure(BP_CAP);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(lfd >= 0 && bind(lfd, (void *)&sin, sizeof(sin)) == 0 && listen(lfd, 4) == 0 &&
          getsockname(lfd, (void *)&sin, &slen) == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(sin.sin_port));
    CHECK_EQ_INT(h2o_url_parse(url, strlen(url), &upstream), 0);
    h2o_config_init(&conf);
    h2o_hostconf_t *host = h2o_config_register_host(&conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_create_handler(h2o_config_register_path(host, "/other", 0), sizeof(h2o_handler_t))->on_req = other_handler;
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = record_req;
    h2o_proxy_register_reverse_proxy(path, &upstream, &pconf);
    h2o_context_init(&ctx, loop, &conf);
    accept_ctx.hosts = conf.hosts;

    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    h2o_accept(&accept_ctx, h2o_evloop_socket_create(loop, fds[0], 0));
    CHECK(write(fds[1], "GET /x HTTP/1.1\r\nHost: t\r\n\r\n", 28) == 28);
    /* the client reads nothing: the proxy stops reading its upstream once BP_CAP bytes wait */
    for (int i = 0; i != 200; ++i) {
        h2o_evloop_run(loop, 5);
        if (cfd < 0)
            cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0)
            sent = bp_feed(cfd, sent);
    }
    input = kve_h2o_proxy_upstream_input(proxied_req, &reading);
    fprintf(stderr, "    paused: upstream sent %zu bytes, %zd in the proxy's input, reading %d\n", sent, input, reading);
    /* it stopped reading when its input passed the cap; the proxy's do_send may have taken that input (swapped into the
     * buffer being sent) since: at most about 2 * BP_CAP plus one read event (what the kernel had) is held */
    CHECK_EQ_INT(reading, 0);
    CHECK(input >= 0 && input < 16 * 1024 * 1024);
    CHECK(sent < BP_BODY / 2); /* the upstream is held back by the kernel's buffers */

    /* the client reads everything now: reading resumes, and the body arrives whole and in order */
    for (int i = 0; i != 20000 && (body_at == 0 || got - body_at < BP_BODY); ++i) {
        ssize_t n;
        h2o_evloop_run(loop, 1);
        sent = bp_feed(cfd, sent);
        while ((n = read(fds[1], buf, sizeof(buf))) > 0) {
            size_t start = 0;
            if (body_at == 0) {
                char *end = memmem(buf, (size_t)n, "\r\n\r\n", 4);
                CHECK(end != NULL); /* the head comes in the first read */
                start = (size_t)(end + 4 - buf);
                body_at = got + start;
            }
            for (size_t j = start; j != (size_t)n; ++j)
                bad += (unsigned char)buf[j] != (got + j - body_at) % 251;
            got += (size_t)n;
        }
    }
    CHECK(body_at != 0);
    CHECK_EQ_INT((int)(got - body_at), (int)BP_BODY);
    CHECK_EQ_INT(bad, 0);

    /* a request answered by another generator (16 bytes: ASan catches a read past them) is never taken for the
     * proxy's */
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ofds), 0);
    h2o_accept(&accept_ctx, h2o_evloop_socket_create(loop, ofds[0], 0));
    CHECK(write(ofds[1], "GET /other HTTP/1.1\r\nHost: t\r\n\r\n", 32) == 32);
    for (int i = 0; i != 100 && other_req == NULL; ++i)
        h2o_evloop_run(loop, 1);
    CHECK(other_req != NULL);
    CHECK_EQ_INT((int)kve_h2o_proxy_upstream_input(other_req, &reading), -1);
    h2o_send(other_req, NULL, 0, H2O_SEND_STATE_FINAL);
    close(ofds[1]);

    kve_h2o_proxy_backpressure(0);
    close(fds[1]);
    if (cfd >= 0)
        close(cfd);
    close(lfd);
    for (int i = 0; i != 10; ++i)
        h2o_evloop_run(loop, 1);
    kve_h2o_context_dispose(&ctx);
    h2o_config_dispose(&conf);
    h2o_evloop_destroy(loop);
    kve_h2o_release_thread_buffers();
}

void kve_suite_h2o_private(void)
{
    RUN(socket_reader);
    RUN(expire_timeouts);
    RUN(context_shutdown_and_dispose);
    RUN(http1_hook_and_raw_head);
    RUN(http1_detach_to_another_loop);
    RUN(http1client_check_head);
    RUN(http1client_guard_captures_on_head);
    RUN(proxy_heads_observed);
    RUN(proxy_backpressure);
}
