/* SPDX-License-Identifier: MIT */
/* hiredis <-> h2o evloop adapter and shared connection setup (see redis_adapter.h). */
#include "proxy/redis_adapter.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/redis_reply.h"
#include "proxy/redis_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#define DISCARD_PER_EVENT (1024 * 1024) /* then other connections get their turn (epoll is level-triggered) */

/* reads and drops what is left of a dropped bulk string: 0 once done (or the connection failed: hiredis'
 * own read finds that too), -1 to wait for more */
static int discard_input(kve_redis_adapter_t *a)
{
    char buf[16384];
    size_t budget = DISCARD_PER_EVENT;
    ssize_t n;

    while (a->discard != 0) {
        if (budget == 0)
            return -1;
        if ((n = read(a->ac->c.fd, buf, KVE_MIN(sizeof(buf), a->discard))) > 0) {
            a->discard -= (size_t)n;
            budget -= KVE_MIN(budget, (size_t)n);
        } else if (n == -1 && errno == EINTR) {
            continue;
        } else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return -1;
        } else {
            a->discard = 0;
        }
    }
    return 0;
}

/*
 * hiredis reads 16 KiB at a time and parses what it has. A bulk string that would pass its reply's limit is
 * dropped instead of buffered whole: the reader parses a placeholder in its place and the rest of its bytes
 * are read and discarded here before hiredis reads again (the placeholder is parsed then). Only a connection
 * with a reader state does this, and only its adapter is touched after hiredis ran callbacks: a stream's
 * adapter may be freed by them (kv_redis_stream.c), the link's outlives its contexts.
 */
static void on_sock_read(h2o_socket_t *sock, const char *err)
{
    kve_redis_adapter_t *a = sock->data;
    redisReader *r;
    int limited;

    if (a->ac == NULL || (a->discard != 0 && discard_input(a) != 0))
        return;
    limited = a->ac->c.reader->privdata != NULL;
    redisAsyncHandleRead(a->ac);
    if (!limited)
        return; /* `a` may be gone */
    /* (only when the reader stopped inside a bulk string, the rare case: between replies it waits for a type byte) */
    if (a->ac != NULL && (r = a->ac->c.reader)->ridx >= 0 && r->rstack[r->ridx].type == REDIS_REPLY_STRING &&
        (a->discard = kve_redis_reader_drop_bulk(r)) != 0 && discard_input(a) == 0 && a->ac != NULL)
        redisAsyncHandleRead(a->ac); /* what follows the string, if anything, and the placeholder */
}

static void on_sock_write(h2o_socket_t *sock, const char *err)
{
    kve_redis_adapter_t *a = sock->data;
    a->write_armed = 0;
    if (a->ac != NULL)
        redisAsyncHandleWrite(a->ac);
}

static void ev_add_read(void *data)
{
    kve_redis_adapter_t *a = data;
    if (!a->reading) {
        a->reading = 1;
        h2o_socket_read_start(a->sock, on_sock_read);
    }
}

static void ev_del_read(void *data)
{
    kve_redis_adapter_t *a = data;
    if (a->reading) {
        a->reading = 0;
        h2o_socket_read_stop(a->sock);
    }
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
    a->flushing = 1; /* a write that cannot finish now re-arms through the notification below */
    redisAsyncHandleWrite(a->ac);
    a->flushing = 0;
}

static void ev_add_write(void *data)
{
    kve_redis_adapter_t *a = data;
    if (a->queuing)
        return;
    if (a->flush_timeout != NULL && !a->flushing && (a->ac->c.flags & REDIS_CONNECTED) != 0) {
        if (!h2o_timeout_is_linked(&a->flush_entry)) {
            a->flush_entry.cb = on_flush;
            h2o_timeout_link(h2o_socket_get_loop(a->sock), a->flush_timeout, &a->flush_entry);
        }
        return;
    }
    if (!a->write_armed) {
        a->write_armed = 1;
        h2o_socket_notify_write(a->sock, on_sock_write);
    }
}

static void ev_del_write(void *data)
{
    /* h2o 2.2.5 cannot cancel a notification; the callback finds nothing to write */
}

void kve_redis_adapter__release(kve_redis_adapter_t *a)
{
    if (h2o_timeout_is_linked(&a->flush_entry))
        h2o_timeout_unlink(&a->flush_entry);
    if (a->sock != NULL) {
        h2o_socket_close(a->sock); /* closes our dup only; hiredis closes its own fd (a TLS link: after close_notify) */
        a->sock = NULL;
    }
    a->reading = 0;
    a->write_armed = 0;
    a->tls_ready = a->tls_writing = a->tls_heard = 0;
    a->discard = 0;
    a->ac = NULL;
    if (a->on_cleanup != NULL)
        a->on_cleanup(a);
}

static void ev_cleanup(void *data)
{
    kve_redis_adapter__release(data);
}

/* queues AUTH, SELECT and PING as the header says; returns how many */
static size_t queue_handshake(redisAsyncContext *ac, const kve_redis_target_t *t, int select_db, kve_redis_adapter_cb cb,
                              void *privdata)
{
    size_t n = 1;
    char db[16];

    if (t->username != NULL) { /* a user without a password is a `nopass` user: any password opens it, none does not */
        redisAsyncCommandArgv(ac, cb, privdata, 3, (const char *[]){"AUTH", t->username, t->password != NULL ? t->password : ""},
                              NULL);
        ++n;
    } else if (t->password != NULL) {
        redisAsyncCommandArgv(ac, cb, privdata, 2, (const char *[]){"AUTH", t->password}, NULL);
        ++n;
    }
    if (select_db && t->db != 0) {
        snprintf(db, sizeof(db), "%d", t->db);
        redisAsyncCommandArgv(ac, cb, privdata, 2, (const char *[]){"SELECT", db}, NULL);
        ++n;
    }
    redisAsyncCommandArgv(ac, cb, privdata, 1, (const char *[]){"PING"}, NULL);
    return n;
}

size_t kve_redis_adapter_connect(kve_redis_adapter_t *a, h2o_loop_t *loop, const kve_redis_target_t *target, int select_db,
                                 kve_redis_reader_t *reader, kve_redis_adapter_cb cb, void *privdata, char *err, size_t errlen)
{
    redisAsyncContext *ac =
        target->path != NULL ? redisAsyncConnectUnix(target->path) : redisAsyncConnect(target->host, target->port);
    int fd;

    KVE_ASSERT(ac != NULL); /* NULL only when out of memory */
    if (ac->err != 0 || (fd = fcntl(ac->c.fd, F_DUPFD_CLOEXEC, 0)) == -1) {
        snprintf(err, errlen, "%s", ac->err != 0 ? ac->errstr : "cannot duplicate the socket");
        redisAsyncFree(ac);
        return 0;
    }
    ac->c.reader->fn = &kve_redis_reply_functions;
    ac->c.reader->privdata = reader;
    if (reader != NULL)
        reader->refused = KVE_REDIS_REFUSED_NONE;
    ac->data = privdata;
    a->ac = ac;
    a->reading = a->write_armed = 0;
    a->discard = 0;
    if (target->ssl_ctx != NULL) {
        kve_redis_tls_attach(a, loop, fd, target);
        return queue_handshake(ac, target, select_db, cb, privdata);
    }
    a->tls_target = NULL;
    a->sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    a->sock->data = a;
    ac->ev.data = a;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    ev_add_write(a); /* hiredis 0.14 completes a connect only on an I/O event */
    return queue_handshake(ac, target, select_db, cb, privdata);
}

int kve_redis_adapter_handshake_failed(const redisReply *reply, char *why, size_t len)
{
    if (reply->type != REDIS_REPLY_ERROR)
        return 0;
    snprintf(why, len, "handshake failed: %.*s", (int)KVE_MIN(reply->len, 120), reply->str);
    return -1;
}

int kve_redis_adapter_auth_refused(const redisReply *reply)
{
    static const char *const prefixes[] = {"WRONGPASS", "NOAUTH", "NOPERM", "ERR invalid password", "ERR AUTH "};

    if (reply->type != REDIS_REPLY_ERROR)
        return 0;
    for (size_t i = 0; i != KVE_ARRAY_SIZE(prefixes); ++i)
        if (reply->len >= strlen(prefixes[i]) && strncmp(reply->str, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

int kve_redis_adapter_failure(const redisAsyncContext *ac, const char **why)
{
    const char *msg;
    int err = KVE_EPROTO;

    _Static_assert(KVE_REDIS_REPLY_MAX_ELEMENTS == 16777216, "the message below");
    switch (ac->err) {
    case REDIS_ERR_PROTOCOL: /* hiredis' text names it ("Protocol error, got ...", "No support for nested ...") */
        msg = ac->errstr;
        break;
    case REDIS_ERR_OOM: /* only a refusal of the reply functions (redis_reply.h) */
        if (ac->c.reader != NULL && ac->c.reader->privdata != NULL &&
            ((kve_redis_reader_t *)ac->c.reader->privdata)->refused == KVE_REDIS_REFUSED_UNEXPECTED)
            msg = "protocol error: a reply no command was waiting for (the connection is out of step)";
        else
            msg = "protocol error: an array reply with more than 16777216 elements";
        break;
    default:
        msg = ac->err != 0 ? ac->errstr : "connection closed";
        err = KVE_ECONN;
        break;
    }
    if (why != NULL)
        *why = msg;
    return err;
}
