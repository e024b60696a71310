/* SPDX-License-Identifier: MIT */
/*
 * Streams of the Redis driver: one hiredis connection per SUBSCRIBE/PSUBSCRIBE/MONITOR, authenticated
 * like the link. hiredis keeps its own per-channel callbacks for subscriptions and re-arms the callback
 * for MONITOR; both end up in on_stream_reply. Lifetime: the stream struct is freed when the caller has
 * closed it and hiredis has released the context (its cleanup hook), whichever comes last, so a callback
 * hiredis runs while freeing never touches freed memory.
 *
 * Errors reach the caller only from a hiredis callback or the cleanup hook, never right before this file
 * frees the context itself: the caller usually closes the stream from its callback, and outside a hiredis
 * callback that frees the context at once and `s` with it (see abort_stream).
 */
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_redis_internal.h"
#include "proxy/log.h"

#include <stdio.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#define STREAM_MAGIC 0x7374726d

struct st_kve_kv_stream_t {
    kve_kv_t *kv; /* first: kve_kv_stream_close finds the driver through it */
    uint32_t magic;
    kve_redis_adapter_t adapter;
    kve_kv_stream_cb cb;
    void *data;
    /** linked until the first reply to the stream's command (connect, handshake and command are bounded) */
    h2o_timeout_entry_t connect_entry;
    /** what to report when the connection goes away: KVE_ECONN, unless a timeout or handshake error set it */
    int error;
    unsigned closed : 1; /* the caller is done with it */
    unsigned failed : 1; /* the error was reported */
};

static kve_redis_link_t *link_of(kve_kv_stream_t *s)
{
    return (kve_redis_link_t *)s->kv;
}

static void release(kve_kv_stream_t *s)
{
    if (h2o_timeout_is_linked(&s->connect_entry))
        h2o_timeout_unlink(&s->connect_entry);
    --link_of(s)->num_streams;
    s->magic = 0;
    free(s);
}

static void fail(kve_kv_stream_t *s, int err)
{
    if (s->closed || s->failed)
        return;
    s->failed = 1;
    if (h2o_timeout_is_linked(&s->connect_entry))
        h2o_timeout_unlink(&s->connect_entry);
    s->cb(s->data, err, NULL);
}

static void on_cleanup(kve_redis_adapter_t *adapter)
{
    kve_kv_stream_t *s = H2O_STRUCT_FROM_MEMBER(kve_kv_stream_t, adapter, adapter);
    if (s->closed)
        release(s);
    else
        fail(s, s->error);
}

/*
 * Ends the connection because of `err`, which reaches the caller while hiredis frees the context (through
 * the NULL replies of queued commands, or the cleanup hook). `s` may be freed when this returns: never
 * touch it afterwards. Called from a timer, redisAsyncFree frees at once; from inside a hiredis callback
 * it only marks the context, and hiredis frees it when the callback returns.
 */
static void abort_stream(kve_kv_stream_t *s, int err)
{
    s->error = err;
    redisAsyncFree(s->adapter.ac);
}

static void on_stream_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    kve_kv_stream_t *s = privdata;
    KVE_CHECK_OBJ(s, STREAM_MAGIC);
    if (reply == NULL) {
        fail(s, s->error);
        return;
    }
    if (h2o_timeout_is_linked(&s->connect_entry))
        h2o_timeout_unlink(&s->connect_entry);
    if (!s->closed && !s->failed)
        s->cb(s->data, 0, reply);
}

static void on_handshake_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    kve_kv_stream_t *s = privdata;
    char why[160];

    KVE_CHECK_OBJ(s, STREAM_MAGIC);
    if (reply == NULL || s->closed || s->failed)
        return;
    if (kve_redis_adapter_handshake_failed(reply, why, sizeof(why)) != 0) {
        kve_log(KVE_LOG_WARN, "redis", "stream to %s: %s", s->kv->peer, why);
        abort_stream(s, KVE_ECONN); /* inside a hiredis callback: the free and the error come after it returns */
    }
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    kve_kv_stream_t *s = H2O_STRUCT_FROM_MEMBER(kve_kv_stream_t, connect_entry, entry);
    /* linked only while the context exists (fail and release unlink it) */
    abort_stream(s, KVE_ETIMEDOUT);
}

kve_kv_stream_t *kve_redis__stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                        kve_kv_stream_cb cb, void *data, int *err)
{
    kve_redis_link_t *link = (void *)kv;
    kve_kv_stream_t *s = kve_zalloc(sizeof(*s));
    char why[160];

    *s = (kve_kv_stream_t){kv, STREAM_MAGIC, {NULL}, cb, data};
    s->error = KVE_ECONN;
    s->adapter.on_cleanup = on_cleanup;
    /* pub/sub and MONITOR do not depend on the database: no SELECT */
    if (kve_redis_adapter_connect(&s->adapter, kv->loop, link->target, 0, NULL, on_handshake_reply, s, why, sizeof(why)) == 0) {
        kve_log(KVE_LOG_WARN, "redis", "stream to %s: %s", kv->peer, why);
        free(s);
        *err = KVE_ECONN;
        return NULL;
    }
    ++link->num_streams;
    s->connect_entry.cb = on_connect_timeout;
    h2o_timeout_link(kv->loop, &link->connect_timeout, &s->connect_entry);
    redisAsyncCommandArgv(s->adapter.ac, on_stream_reply, s, (int)argc, (const char **)argv, argvlen);
    return s;
}

void kve_redis__stream_close(kve_kv_stream_t *s)
{
    KVE_CHECK_OBJ(s, STREAM_MAGIC);
    s->closed = 1;
    if (s->adapter.ac != NULL)
        redisAsyncFree(s->adapter.ac); /* releases `s` from the cleanup hook, now or after hiredis' callback */
    else
        release(s);
}
