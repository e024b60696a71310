/* SPDX-License-Identifier: MIT */
/* The TLS transport of a hiredis context (see redis_tls.h for the design). */
#include "proxy/redis_tls.h"
#include "proxy/common.h"
#include "proxy/redis_reply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>
#include <openssl/err.h>

#if HIREDIS_MAJOR != 0 || HIREDIS_MINOR != 14
#error "proxy/redis_tls.c drives hiredis 0.14's reader and callbacks: check redisProcessCallbacks() of this version"
#endif

/* exported by hiredis 0.14 (async.c) but not declared in its headers: parses what the reader holds and runs the
 * callbacks, or, when the reader has an error, disconnects (pending callbacks get NULL replies) */
void redisProcessCallbacks(redisAsyncContext *ac);

#define FEED_SIZE 16384 /* what hiredis reads at a time on a plain link */
/*
 * h2o reads a readable socket until a read comes back short, then decrypts all of it before calling back: one event
 * can hold what the kernel had buffered twice (encrypted and clear), up to ~4x the receive buffer with the buffers'
 * doubling. Loopback autotuning let a 32 MiB reply over the limit grow the process by 14-28 MiB that way (a plain
 * link reads 16 KiB at a time). Capping the receive buffer bounds that to ~8 MiB (measured); the cost is the TCP
 * window: ~1 MiB in flight, e.g. 20 MB/s at 50 ms RTT for one large value (a Redis in another region).
 */
#define RCVBUF_SIZE (1024 * 1024)

_Static_assert(sizeof(((redisReader *)0)->errstr) == sizeof(((redisContext *)0)->errstr), "the copy in tls_fail");

/*
 * Ends the connection through hiredis' own error path (see redis_tls.h) with "TLS <what>: <err>" (and OpenSSL's reason
 * when it has one) as ac->errstr. Called only from h2o's callbacks (never inside a hiredis callback), with a live
 * context; the adapter may be gone when this returns.
 */
static void tls_fail(kve_redis_adapter_t *a, const char *what, const char *err)
{
    redisAsyncContext *ac = a->ac;
    redisReader *r = ac->c.reader;
    unsigned long e = ERR_peek_last_error(); /* OpenSSL's reason, e.g. the server's alert: "tlsv13 alert certificate required" */
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    /* a server that wants a client certificate (or refuses ours) ends the connection right after a TLS 1.3 handshake
     * that succeeded on our side; its alert is often lost to the reset our first write causes: say what it means */
    if (a->tls_ready && !a->tls_heard && reason == NULL)
        what = SSL_CTX_get0_certificate(a->tls_target->ssl_ctx) == NULL
                   ? "connection ended after the handshake (a client certificate required?)"
                   : "connection ended after the handshake (our client certificate refused?)";
    snprintf(r->errstr, sizeof(r->errstr), "TLS %s: %s%s%s%s", what, err, reason != NULL ? " (" : "", reason != NULL ? reason : "",
             reason != NULL ? ")" : "");
    r->err = REDIS_ERR_IO;
    if ((ac->c.flags & REDIS_CONNECTED) == 0) { /* as hiredis does for a connect that failed: onConnect, then free */
        ac->c.err = ac->err = REDIS_ERR_IO;
        memcpy(ac->c.errstr, r->errstr, sizeof(ac->c.errstr));
        ac->errstr = ac->c.errstr;
        if (ac->onConnect != NULL)
            ac->onConnect(ac, REDIS_ERR);
    }
    redisProcessCallbacks(ac); /* fails on the reader's error: hiredis disconnects and frees the context */
}

/* writes what hiredis queued, unless the handshake is not done or a write is in flight (its end comes back here) */
static void on_written(h2o_socket_t *sock, const char *err);

static void tls_flush(kve_redis_adapter_t *a)
{
    redisContext *c = &a->ac->c;
    h2o_iovec_t buf;

    if (!a->tls_ready || a->tls_writing || sdslen(c->obuf) == 0)
        return;
    buf = h2o_iovec_init(c->obuf, sdslen(c->obuf));
    a->tls_writing = 1;
    h2o_socket_write(a->sock, &buf, 1, on_written); /* encrypts all of it now; the callback comes from the loop */
    sdsfree(c->obuf);                               /* as hiredis does once its buffer is written */
    c->obuf = sdsempty();
    KVE_ASSERT(c->obuf != NULL);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    kve_redis_adapter_t *a = sock->data;

    a->tls_writing = 0; /* (never called after the socket was closed: h2o drops the callback) */
    if (err != NULL)
        tls_fail(a, "write failed", err);
    else
        tls_flush(a);
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    kve_redis_adapter_t *a = H2O_STRUCT_FROM_MEMBER(kve_redis_adapter_t, flush_entry, entry);
    if (a->ac == NULL)
        return;
    if (a->before_flush != NULL) {
        a->queuing = 1;
        a->before_flush(a);
        a->queuing = 0;
    }
    tls_flush(a);
}

/* whether the reader stopped inside a bulk string that passes its reply's limit: then skip the rest of it */
static void check_drop(kve_redis_adapter_t *a)
{
    redisReader *r = a->ac->c.reader;
    if (r->ridx >= 0 && r->rstack[r->ridx].type == REDIS_REPLY_STRING)
        a->discard = kve_redis_reader_drop_bulk(r);
}

/*
 * A connection with a reader state (the link): fed piece by piece, with redis_adapter.c's dropping of oversize bulk
 * strings, from the decrypted input instead of the fd. Its adapter outlives its contexts, so `a` stays valid.
 */
static void feed_limited(kve_redis_adapter_t *a, h2o_socket_t *sock)
{
    for (;;) {
        size_t n;
        if (a->discard != 0) {
            n = KVE_MIN(a->discard, sock->input->size);
            h2o_buffer_consume(&sock->input, n);
            if ((a->discard -= n) != 0)
                return; /* the rest of the string comes later */
        } else if (sock->input->size != 0) {
            n = KVE_MIN(sock->input->size, FEED_SIZE);
            redisReaderFeed(a->ac->c.reader, sock->input->bytes, n);
            h2o_buffer_consume(&sock->input, n);
        } else {
            return;
        }
        redisProcessCallbacks(a->ac); /* (after a discard too: the placeholder) */
        if (a->ac == NULL)
            return; /* closed by a callback: the socket is closed too */
        check_drop(a);
    }
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    kve_redis_adapter_t *a = sock->data;
    redisAsyncContext *ac = a->ac;

    if (ac == NULL)
        return;
    if (sock->input->size != 0)
        a->tls_heard = 1;
    if (err != NULL) {
        tls_fail(a, "read failed", err == h2o_socket_error_closed ? "connection closed by the server" : err);
        return;
    }
    if (ac->c.reader->privdata != NULL) {
        feed_limited(a, sock);
        return;
    }
    /* a stream: no limits; its adapter may be freed by the callbacks, so it is not touched after them */
    redisReaderFeed(ac->c.reader, sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
    redisProcessCallbacks(ac);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    kve_redis_adapter_t *a = sock->data;
    redisAsyncContext *ac = a->ac;

    /* h2o's own name check knows no IP entries and runs only under TLS 1.2; OpenSSL has checked the name or address
     * during the handshake (tls_client.h): a mismatch fails it with "hostname mismatch" */
    if (err != NULL && err != h2o_socket_error_ssl_cert_name_mismatch) {
        char what[300];
        snprintf(what, sizeof(what), "handshake with %s failed", a->tls_target->tls_server_name);
        tls_fail(a, what, err);
        return;
    }
    a->tls_ready = 1;
    ac->c.flags |= REDIS_CONNECTED;
    if (ac->onConnect != NULL)
        ac->onConnect(ac, REDIS_OK);
    h2o_socket_read_start(sock, on_read); /* always reading: TLS has its own records (alerts, tickets) */
    tls_flush(a);
}

static void on_tcp_connect(h2o_socket_t *sock, const char *err)
{
    kve_redis_adapter_t *a = sock->data;
    int so_error = 0;
    socklen_t len = sizeof(so_error);

    if (a->ac == NULL)
        return;
    if (err == NULL && getsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        so_error = errno;
    if (err != NULL || so_error != 0) {
        tls_fail(a, "connect failed", err != NULL ? err : strerror(so_error));
        return;
    }
    ERR_clear_error(); /* what tls_fail finds in the thread's queue is then about this connection */
    h2o_socket_ssl_handshake(sock, a->tls_target->ssl_ctx, a->tls_target->tls_server_name, on_handshake);
}

static void ev_add_write(void *data)
{
    kve_redis_adapter_t *a = data;
    if (a->queuing || !a->tls_ready)
        return; /* the end of the handshake writes what is queued */
    if (a->flush_timeout == NULL) {
        tls_flush(a); /* streams and the watchdog write rarely: now (h2o_socket_write calls back from the loop) */
    } else if (!h2o_timeout_is_linked(&a->flush_entry)) {
        a->flush_entry.cb = on_flush;
        h2o_timeout_link(h2o_socket_get_loop(a->sock), a->flush_timeout, &a->flush_entry);
    }
}

static void ev_noop(void *data)
{
    /* reads: always on once the handshake is done; writes: a flush finds nothing to write */
}

static void ev_cleanup(void *data)
{
    kve_redis_adapter__release(data); /* the same release as a plain link's */
}

void kve_redis_tls_attach(kve_redis_adapter_t *a, h2o_loop_t *loop, int fd, const kve_redis_target_t *target)
{
    redisAsyncContext *ac = a->ac;

    a->tls_target = target;
    a->tls_ready = a->tls_writing = a->tls_heard = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){RCVBUF_SIZE}, sizeof(int));
    a->sock = h2o_evloop_socket_create(loop, fd, 0);
    a->sock->data = a;
    ac->ev.data = a;
    ac->ev.addRead = ev_noop;
    ac->ev.delRead = ev_noop;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_noop;
    ac->ev.cleanup = ev_cleanup;
    h2o_socket_notify_write(a->sock, on_tcp_connect); /* writable: hiredis' non-blocking connect is over */
}
