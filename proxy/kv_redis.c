/* SPDX-License-Identifier: MIT */
/*
 * Redis driver of the KV interface (see kv_redis.h). States: DOWN (no context; a tick timer waits for the
 * next attempt and commands fail fast), CONNECTING (context exists, handshake AUTH/SELECT/PING queued;
 * commands queue behind it), UP. Any transport error, a failed handshake, the connect timeout or
 * `breaker_threshold` consecutive command timeouts free the context (hiredis then fails every queued
 * command with a NULL reply) and go DOWN with exponential backoff.
 * Replies are redisReply objects from redis_reply.c's recycled ones, handed out as kve_kv_reply_t: the
 * layouts are checked below. The reader holds each reply to its command's max_reply_size as it is read,
 * and refuses a reply when no command waits for one (the connection is out of step, e.g. a server that
 * answers more than it was asked): that, like a parse error, rebuilds the connection. Late replies (their
 * command timed out) never reset the breaker's count (kv.c).
 */
#include "proxy/kv_redis.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_redis_internal.h"
#include "proxy/log.h"
#include "proxy/redis_acl.h"
#include "proxy/redis_reply.h"
#include "proxy/resp.h"

#include <stdio.h>
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

static void start_connect(kve_redis_link_t *link);

static void schedule_reconnect(kve_redis_link_t *link, const char *why)
{
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

/* frees the context (deferred by hiredis when inside one of its callbacks); queued commands complete with
 * KVE_ECONN */
static void drop_link(kve_redis_link_t *link, const char *why)
{
    redisAsyncContext *ac = link->adapter.ac;
    if (ac == NULL)
        return;
    ac->onDisconnect = NULL; /* the state change happens here, not in on_disconnect */
    redisAsyncFree(ac);
    schedule_reconnect(link, why);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    kve_redis_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, tick_entry, entry);
    if (link->adapter.ac != NULL || link->super.closing)
        return;
    if (h2o_now(link->super.loop) >= link->next_attempt_at) {
        start_connect(link);
    } else {
        h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
    }
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    kve_redis_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, connect_entry, entry);
    drop_link(link, "connect or handshake timed out");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    kve_redis_link_t *link = ac->data;
    if (status != REDIS_OK)
        schedule_reconnect(link, ac->errstr); /* hiredis frees the context after this returns */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    kve_redis_link_t *link = ac->data;
    const char *why = "connection closed";
    if (status != REDIS_OK)
        kve_redis_adapter_failure(ac, &why);
    schedule_reconnect(link, why);
}

static void on_handshake_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    kve_redis_link_t *link = privdata;
    char why[160];

    if (reply == NULL || link->adapter.ac != ac)
        return; /* the context is going away; its disconnect path handles the state */
    if (kve_redis_adapter_handshake_failed(reply, why, sizeof(why)) != 0) {
        drop_link(link, why);
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
    kve_redis_acl_check(&link->super, link->target);
    if (link->check_output_limit)
        kve_redis__check_output_limit(link);
}

static void on_command_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* the reader asks at the start of each reply: the limit of the command it answers */
static size_t next_reply_limit(kve_redis_reader_t *reader, int *split)
{
    kve_redis_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, reader, reader);
    const redisCallback *head = link->adapter.ac->replies.head;
    const kve_kv_cmd_t *cmd;

    *split = 0;
    if (head == NULL)
        return KVE_REDIS_REPLY_UNEXPECTED;
    if (head->fn != on_command_reply)
        return 0; /* the handshake's and the output limit check's */
    cmd = head->privdata;
    *split = cmd->split_array;
    return cmd->max_reply_size;
}

static void start_connect(kve_redis_link_t *link)
{
    char err[160];

    link->reader.next_limit = next_reply_limit;
    link->reader.waiting = NULL;
    if ((link->handshake_pending = kve_redis_adapter_connect(&link->adapter, link->super.loop, link->target, 1, &link->reader,
                                                             on_handshake_reply, link, err, sizeof(err))) == 0) {
        schedule_reconnect(link, err);
        return;
    }
    link->reader.waiting = (void *const *)&link->adapter.ac->replies.head; /* stable while the context lives */
    redisAsyncSetConnectCallback(link->adapter.ac, on_connect);
    redisAsyncSetDisconnectCallback(link->adapter.ac, on_disconnect);
    kve_kv__set_state(&link->super, KVE_KV_CONNECTING);
    h2o_timeout_link(link->super.loop, &link->connect_timeout, &link->connect_entry);
}

/* --- the driver vtable --- */

static void on_command_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    static const kve_kv_reply_t too_big = {KVE_REPLY_TOO_BIG};
    const kve_kv_reply_t *r = reply;

    /* NULL: the connection ended (every command queued on it fails, not only the one whose reply was bad) */
    if (r == NULL)
        kve_kv__complete(privdata, kve_redis_adapter_failure(ac, NULL), NULL);
    else
        kve_kv__complete(privdata, 0, r->type == KVE_REPLY_TOO_BIG ? &too_big : r); /* the partial tree is hiredis' to free */
}

static int link_send(kve_kv_t *kv, kve_kv_cmd_t *cmd, size_t argc, const char *const *argv, const size_t *argvlen)
{
    kve_redis_link_t *link = (void *)kv;
    int ret;

    if (link->adapter.ac == NULL)
        return KVE_EUNAVAIL;
    link->fmt.len = 0;
    kve_resp_format(&link->fmt, argc, argv, argvlen);
    ret = redisAsyncFormattedCommand(link->adapter.ac, on_command_reply, cmd, link->fmt.base, link->fmt.len);
    if (link->fmt.cap > 64 * 1024) /* one huge value must not pin its buffer */
        kve_buf_dispose(&link->fmt);
    return ret == REDIS_OK ? 0 : KVE_ECONN;
}

/* a command, or a group of them, timed out: the breaker counts groups in a row without a reply on time */
static void link_on_timeout(kve_kv_t *kv)
{
    kve_redis_link_t *link = (void *)kv;
    char why[96];
    if (++link->consecutive_timeouts < link->breaker_threshold || link->adapter.ac == NULL)
        return;
    snprintf(why, sizeof(why), "%llu commands timed out in a row (a request counts once)",
             (unsigned long long)link->consecutive_timeouts);
    link->consecutive_timeouts = 0;
    drop_link(link, why);
}

static void link_on_reply(kve_kv_t *kv)
{
    kve_redis_link_t *link = (void *)kv;
    link->consecutive_timeouts = 0;
    link->kill_attempts = 0;
}

static void link_destroy(kve_kv_t *kv)
{
    kve_redis_link_t *link = (void *)kv;
    drop_link(link, "shutting down"); /* completes queued commands with KVE_ESHUTDOWN */
    kve_redis__kill_dispose(link);
    KVE_ASSERT(link->num_streams == 0);
    if (h2o_timeout_is_linked(&link->tick_entry))
        h2o_timeout_unlink(&link->tick_entry);
    if (h2o_timeout_is_linked(&link->connect_entry))
        h2o_timeout_unlink(&link->connect_entry);
    h2o_timeout_dispose(kv->loop, &link->tick);
    h2o_timeout_dispose(kv->loop, &link->connect_timeout);
    h2o_timeout_dispose(kv->loop, &link->flush_timeout);
    kve_buf_dispose(&link->fmt);
    kve_kv__dispose(kv);
    free(link);
    kve_redis_reply_release_thread(); /* the thread's last connection is gone */
}

static const kve_kv_driver_t redis_driver = {"redis",
                                             link_send,
                                             link_on_timeout,
                                             link_on_reply,
                                             link_destroy,
                                             kve_redis__stream_open,
                                             kve_redis__stream_close,
                                             kve_redis__kill_script};

kve_kv_t *kve_kv_redis_create(h2o_loop_t *loop, const kve_redis_target_t *target, const kve_redis_conf_t *conf)
{
    kve_redis_link_t *link = kve_zalloc(sizeof(*link));

    kve_kv__init(&link->super, &redis_driver, loop, conf->command_timeout_ms);
    link->target = target;
    link->reconnect_max_ms = conf->reconnect_max_delay_ms; /* the configuration enforces >= 50 ms and >= 1 */
    link->breaker_threshold = (uint64_t)conf->breaker_threshold;
    link->check_output_limit = strcmp(conf->url, "embedded") != 0; /* kvedge sets the embedded one's */
    if (target->path != NULL)
        snprintf(link->super.peer, sizeof(link->super.peer), "unix:%s", target->path);
    else
        snprintf(link->super.peer, sizeof(link->super.peer), "%s:%d", target->host, target->port);
    if (target->username != NULL) /* two links (two users) per thread: say which */
        snprintf(link->super.peer + strlen(link->super.peer), sizeof(link->super.peer) - strlen(link->super.peer), " as %s",
                 target->username);
    if (target->store != NULL) /* several stores: say which */
        snprintf(link->super.peer + strlen(link->super.peer), sizeof(link->super.peer) - strlen(link->super.peer), " (store %s)",
                 target->store);
    h2o_timeout_init(loop, &link->tick, TICK_MS);
    link->tick_entry.cb = on_tick;
    h2o_timeout_init(loop, &link->connect_timeout, conf->connect_timeout_ms);
    link->connect_entry.cb = on_connect_timeout;
    h2o_timeout_init(loop, &link->flush_timeout, 0);
    link->adapter.flush_timeout = &link->flush_timeout;
    start_connect(link);
    return &link->super;
}
