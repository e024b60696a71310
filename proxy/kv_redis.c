/* SPDX-License-Identifier: MIT */
/*
 * Redis driver of the KV interface (see kv_redis.h). States: DOWN (no context; a tick timer waits for the
 * next attempt and commands fail fast), CONNECTING (context exists, handshake AUTH/SELECT/PING queued;
 * commands queue behind it), UP. Any transport error, a failed handshake, the connect timeout or
 * `breaker_threshold` consecutive command timeouts free the context (hiredis then fails every queued
 * command with a NULL reply) and go DOWN with exponential backoff.
 *
 * The evloop adapter wraps a dup() of hiredis' fd in an h2o socket with H2O_SOCKET_FLAG_DONT_READ: h2o
 * reports readiness and hiredis does its own reads and writes. h2o 2.2.5 cannot cancel a write
 * notification, so delWrite only forgets it; a spurious write callback is harmless to hiredis.
 * Replies are hiredis' own objects, handed out as kve_kv_reply_t: the layouts are checked below.
 */
#include "proxy/kv_redis.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"
#include "proxy/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

_Static_assert(KVE_REPLY_STRING == REDIS_REPLY_STRING && KVE_REPLY_ARRAY == REDIS_REPLY_ARRAY &&
                   KVE_REPLY_INTEGER == REDIS_REPLY_INTEGER && KVE_REPLY_NIL == REDIS_REPLY_NIL &&
                   KVE_REPLY_STATUS == REDIS_REPLY_STATUS && KVE_REPLY_ERROR == REDIS_REPLY_ERROR,
               "reply kinds match hiredis");
_Static_assert(sizeof(kve_kv_reply_t) == sizeof(redisReply) && offsetof(kve_kv_reply_t, integer) == offsetof(redisReply, integer) &&
                   offsetof(kve_kv_reply_t, len) == offsetof(redisReply, len) &&
                   offsetof(kve_kv_reply_t, str) == offsetof(redisReply, str) &&
                   offsetof(kve_kv_reply_t, elements) == offsetof(redisReply, elements) &&
                   offsetof(kve_kv_reply_t, element) == offsetof(redisReply, element),
               "kve_kv_reply_t has redisReply's layout");

#define RECONNECT_MIN_MS 50
#define TICK_MS 50

typedef struct st_redis_link_t {
    kve_kv_t super;
    kve_redis_target_t target;
    uint64_t reconnect_max_ms;
    uint64_t breaker_threshold;
    redisAsyncContext *ac;
    h2o_socket_t *sock;
    unsigned reading : 1;
    unsigned write_armed : 1;
    unsigned ever_up : 1;
    unsigned logged_down : 1;
    size_t handshake_pending;
    uint64_t consecutive_timeouts;
    uint64_t backoff_ms;
    uint64_t next_attempt_at;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    h2o_timeout_t connect_timeout;
    h2o_timeout_entry_t connect_entry;
} redis_link_t;

static void start_connect(redis_link_t *link);

/* --- evloop adapter: the five hiredis hooks --- */

static void on_sock_read(h2o_socket_t *sock, const char *err)
{
    redis_link_t *link = sock->data;
    if (link->ac != NULL)
        redisAsyncHandleRead(link->ac);
}

static void on_sock_write(h2o_socket_t *sock, const char *err)
{
    redis_link_t *link = sock->data;
    link->write_armed = 0;
    if (link->ac != NULL)
        redisAsyncHandleWrite(link->ac);
}

static void ev_add_read(void *data)
{
    redis_link_t *link = data;
    if (!link->reading) {
        link->reading = 1;
        h2o_socket_read_start(link->sock, on_sock_read);
    }
}

static void ev_del_read(void *data)
{
    redis_link_t *link = data;
    if (link->reading) {
        link->reading = 0;
        h2o_socket_read_stop(link->sock);
    }
}

static void ev_add_write(void *data)
{
    redis_link_t *link = data;
    if (!link->write_armed) {
        link->write_armed = 1;
        h2o_socket_notify_write(link->sock, on_sock_write);
    }
}

static void ev_del_write(void *data)
{
    /* h2o 2.2.5 cannot cancel a notification; the callback finds nothing to write */
}

static void ev_cleanup(void *data)
{
    redis_link_t *link = data;
    if (link->sock != NULL) {
        h2o_socket_close(link->sock); /* closes our dup only; hiredis closes its own fd */
        link->sock = NULL;
    }
    link->reading = 0;
    link->write_armed = 0;
}

static int attach(redis_link_t *link, redisAsyncContext *ac)
{
    int fd = fcntl(ac->c.fd, F_DUPFD_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    link->sock = h2o_evloop_socket_create(link->super.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    link->sock->data = link;
    ac->ev.data = link;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

/* --- state changes --- */

static void schedule_reconnect(redis_link_t *link, const char *why)
{
    link->ac = NULL;
    kve_kv__set_state(&link->super, KVE_KV_DOWN);
    if (h2o_timeout_is_linked(&link->connect_entry))
        h2o_timeout_unlink(&link->connect_entry);
    if (link->super.closing)
        return;
    if (!link->logged_down) { /* one line per outage, not one per attempt */
        kve_log(KVE_LOG_WARN, "redis", "link to %s is down: %s; reconnecting", link->super.peer, why);
        link->logged_down = 1;
    } else {
        kve_log(KVE_LOG_DEBUG, "redis", "reconnect to %s failed: %s", link->super.peer, why);
    }
    link->backoff_ms = link->backoff_ms == 0 ? RECONNECT_MIN_MS : KVE_MIN(link->backoff_ms * 2, link->reconnect_max_ms);
    link->next_attempt_at = h2o_now(link->super.loop) + link->backoff_ms;
    if (!h2o_timeout_is_linked(&link->tick_entry))
        h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
}

/* frees the context from outside a hiredis callback; queued commands complete with KVE_ECONN */
static void drop_link(redis_link_t *link, const char *why)
{
    redisAsyncContext *ac = link->ac;
    if (ac == NULL)
        return;
    ac->onDisconnect = NULL; /* we handle the state change here */
    link->ac = NULL;
    redisAsyncFree(ac);
    schedule_reconnect(link, why);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    redis_link_t *link = H2O_STRUCT_FROM_MEMBER(redis_link_t, tick_entry, entry);
    if (link->ac != NULL || link->super.closing)
        return;
    if (h2o_now(link->super.loop) >= link->next_attempt_at) {
        start_connect(link);
    } else {
        h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
    }
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    redis_link_t *link = H2O_STRUCT_FROM_MEMBER(redis_link_t, connect_entry, entry);
    drop_link(link, "connect or handshake timed out");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    redis_link_t *link = ac->data;
    if (status != REDIS_OK)
        schedule_reconnect(link, ac->errstr); /* hiredis frees the context after this returns */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_link_t *link = ac->data;
    schedule_reconnect(link, status == REDIS_OK ? "connection closed" : ac->errstr);
}

/* --- handshake --- */

static void on_handshake_reply(redisAsyncContext *ac, void *_reply, void *privdata)
{
    redis_link_t *link = privdata;
    redisReply *reply = _reply;
    char why[160];

    if (reply == NULL || link->ac != ac)
        return; /* the context is going away; its disconnect path handles the state */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* AUTH errors never echo the password; LOADING means "retry shortly" */
        snprintf(why, sizeof(why), "handshake failed: %.*s", (int)KVE_MIN(reply->len, 120), reply->str);
        drop_link(link, why); /* inside a callback hiredis defers the free until it returns */
        return;
    }
    if (--link->handshake_pending != 0)
        return;
    h2o_timeout_unlink(&link->connect_entry);
    if (link->ever_up)
        KVE_STAT_ADD(link->super.stats.reconnects, 1);
    kve_log(link->logged_down || !link->ever_up ? KVE_LOG_INFO : KVE_LOG_DEBUG, "redis", "link to %s is up", link->super.peer);
    link->ever_up = 1;
    link->logged_down = 0;
    link->backoff_ms = 0;
    link->consecutive_timeouts = 0;
    kve_kv__set_state(&link->super, KVE_KV_UP);
}

static void send_handshake_command(redis_link_t *link, size_t argc, const char **argv)
{
    redisAsyncCommandArgv(link->ac, on_handshake_reply, link, (int)argc, argv, NULL);
    ++link->handshake_pending;
}

static void send_handshake(redis_link_t *link)
{
    const kve_redis_target_t *t = &link->target;
    char db[16];

    link->handshake_pending = 0;
    if (t->password != NULL && t->username != NULL) {
        send_handshake_command(link, 3, (const char *[]){"AUTH", t->username, t->password});
    } else if (t->password != NULL) {
        send_handshake_command(link, 2, (const char *[]){"AUTH", t->password});
    }
    if (t->db != 0) {
        snprintf(db, sizeof(db), "%d", t->db);
        send_handshake_command(link, 2, (const char *[]){"SELECT", db});
    }
    send_handshake_command(link, 1, (const char *[]){"PING"});
}

static void start_connect(redis_link_t *link)
{
    redisAsyncContext *ac = link->target.path != NULL ? redisAsyncConnectUnix(link->target.path)
                                                      : redisAsyncConnect(link->target.host, link->target.port);
    KVE_ASSERT(ac != NULL); /* NULL only when out of memory */
    if (ac->err != 0 || attach(link, ac) != 0) {
        char why[160];
        snprintf(why, sizeof(why), "%s", ac->err != 0 ? ac->errstr : "cannot duplicate the socket");
        redisAsyncFree(ac);
        schedule_reconnect(link, why);
        return;
    }
    ac->data = link;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    link->ac = ac;
    kve_kv__set_state(&link->super, KVE_KV_CONNECTING);
    ev_add_write(link); /* hiredis 0.14 completes a connect only on an I/O event */
    h2o_timeout_link(link->super.loop, &link->connect_timeout, &link->connect_entry);
    send_handshake(link);
}

/* --- the driver vtable --- */

static void on_command_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    kve_kv__complete(privdata, reply != NULL ? 0 : KVE_ECONN, reply);
}

static int link_send(kve_kv_t *kv, kve_kv_cmd_t *cmd, size_t argc, const char *const *argv, const size_t *argvlen)
{
    redis_link_t *link = (void *)kv;
    if (link->ac == NULL)
        return KVE_EUNAVAIL;
    if (redisAsyncCommandArgv(link->ac, on_command_reply, cmd, (int)argc, (const char **)argv, argvlen) != REDIS_OK)
        return KVE_ECONN;
    return 0;
}

static void link_on_timeout(kve_kv_t *kv)
{
    redis_link_t *link = (void *)kv;
    char why[96];
    if (++link->consecutive_timeouts < link->breaker_threshold || link->ac == NULL)
        return;
    snprintf(why, sizeof(why), "%llu commands timed out in a row", (unsigned long long)link->consecutive_timeouts);
    link->consecutive_timeouts = 0;
    drop_link(link, why);
}

static void link_on_reply(kve_kv_t *kv)
{
    ((redis_link_t *)kv)->consecutive_timeouts = 0;
}

static void link_destroy(kve_kv_t *kv)
{
    redis_link_t *link = (void *)kv;
    drop_link(link, "shutting down"); /* completes queued commands with KVE_ESHUTDOWN */
    if (h2o_timeout_is_linked(&link->tick_entry))
        h2o_timeout_unlink(&link->tick_entry);
    if (h2o_timeout_is_linked(&link->connect_entry))
        h2o_timeout_unlink(&link->connect_entry);
    h2o_timeout_dispose(kv->loop, &link->tick);
    h2o_timeout_dispose(kv->loop, &link->connect_timeout);
    kve_redis_target_dispose(&link->target);
    kve_kv__dispose(kv);
    free(link);
}

static const kve_kv_driver_t redis_driver = {"redis", link_send, link_on_timeout, link_on_reply, link_destroy};

static void copy_target(kve_redis_target_t *dst, const kve_redis_target_t *src)
{
    dst->path = kve_strdup(src->path);
    dst->host = kve_strdup(src->host);
    dst->port = src->port;
    dst->db = src->db;
    dst->username = kve_strdup(src->username);
    dst->password = kve_strdup(src->password);
}

kve_kv_t *kve_kv_redis_create(h2o_loop_t *loop, const kve_redis_target_t *target, const kve_redis_conf_t *conf)
{
    redis_link_t *link = kve_zalloc(sizeof(*link));

    kve_kv__init(&link->super, &redis_driver, loop, conf->command_timeout_ms);
    copy_target(&link->target, target);
    link->reconnect_max_ms = KVE_MAX(conf->reconnect_max_delay_ms, RECONNECT_MIN_MS);
    link->breaker_threshold = conf->breaker_threshold > 0 ? (uint64_t)conf->breaker_threshold : 1;
    if (target->path != NULL)
        snprintf(link->super.peer, sizeof(link->super.peer), "unix:%s", target->path);
    else
        snprintf(link->super.peer, sizeof(link->super.peer), "%s:%d", target->host, target->port);
    h2o_timeout_init(loop, &link->tick, TICK_MS);
    link->tick_entry.cb = on_tick;
    h2o_timeout_init(loop, &link->connect_timeout, conf->connect_timeout_ms);
    link->connect_entry.cb = on_connect_timeout;
    start_connect(link);
    return &link->super;
}
