/* SPDX-License-Identifier: MIT */
/*
 * The script watchdog's kill (see kv_redis_internal.h): a connection of its own, since the link's is queued
 * behind the script, that authenticates and sends SCRIPT KILL (or FUNCTION KILL). While a script runs, Redis
 * serves other clients only once the script has run busy-reply-threshold (lua-time-limit) ms, and then only
 * commands allowed while busy (AUTH, SCRIPT KILL, FUNCTION KILL...): the handshake's PING may get -BUSY,
 * which here means "alive". The attempt is bounded by the link's connect timeout and retried while the link
 * still waits for a script that timed out, at most KILL_ATTEMPTS times until the link gets a reply again.
 */
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_redis_internal.h"
#include "proxy/log.h"

#include <stdio.h>
#include <strings.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#define KILL_MAGIC 0x6b696c6c
#define KILL_ATTEMPTS 5

struct st_kve_redis_kill_t {
    uint32_t magic;
    kve_redis_link_t *link;
    kve_redis_adapter_t adapter;
    h2o_timeout_entry_t timeout_entry;
    /** replies still due before the kill's own (AUTH, PING) */
    size_t handshake_pending;
    int function;
    unsigned done : 1;
};

static const char *what(const struct st_kve_redis_kill_t *k)
{
    return k->function ? "FUNCTION KILL" : "SCRIPT KILL";
}

static void on_cleanup(kve_redis_adapter_t *adapter)
{
    struct st_kve_redis_kill_t *k = H2O_STRUCT_FROM_MEMBER(struct st_kve_redis_kill_t, adapter, adapter);
    if (h2o_timeout_is_linked(&k->timeout_entry))
        h2o_timeout_unlink(&k->timeout_entry);
    if (k->link->kill == k)
        k->link->kill = NULL;
    k->magic = 0;
    free(k);
}

/* the outcome, logged; `again`: the script may still run (another attempt is allowed) */
static void finish(struct st_kve_redis_kill_t *k, const redisReply *reply, int again)
{
    kve_redis_link_t *link = k->link;

    k->done = 1;
    if (reply != NULL && reply->type == REDIS_REPLY_STATUS) {
        kve_log(KVE_LOG_WARN, "redis", "%s: stopped a script that ran past its timeout (%s)", link->super.peer, what(k));
        link->kill_attempts = 0;
    } else if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncasecmp(reply->str, "NOTBUSY", 7) == 0) {
        kve_log(KVE_LOG_DEBUG, "redis", "%s: %s: no script was running any more", link->super.peer, what(k));
        link->kill_attempts = 0;
    } else if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncasecmp(reply->str, "UNKILLABLE", 10) == 0) {
        kve_log(KVE_LOG_ERROR, "redis",
                "%s: a script that ran past its timeout has written and cannot be killed: Redis answers BUSY to every "
                "client until it ends (only SHUTDOWN NOSAVE stops it)",
                link->super.peer);
    } else if (!again || link->kill_attempts >= KILL_ATTEMPTS) {
        kve_log(KVE_LOG_ERROR, "redis", "%s: could not stop a script that ran past its timeout (%s: %.*s)", link->super.peer,
                what(k), reply != NULL && reply->type == REDIS_REPLY_ERROR ? (int)KVE_MIN(reply->len, 120) : 12,
                reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str : "no answer");
    }
    redisAsyncFree(k->adapter.ac); /* frees `k` (from the cleanup hook) */
}

static void on_reply(redisAsyncContext *ac, void *_reply, void *privdata)
{
    struct st_kve_redis_kill_t *k = privdata;
    redisReply *reply = _reply;

    KVE_CHECK_OBJ(k, KILL_MAGIC);
    if (reply == NULL || k->done)
        return;
    if (k->handshake_pending != 0) {
        --k->handshake_pending;
        /* AUTH must succeed; PING may be refused with BUSY while the script runs */
        if (reply->type == REDIS_REPLY_ERROR && strncasecmp(reply->str, "BUSY", 4) != 0)
            finish(k, reply, 0);
        return;
    }
    finish(k, reply, 0);
}

/* no answer within the connect timeout: Redis may not serve other clients yet (the script has not run
 * busy-reply-threshold ms): try again, a bounded number of times */
static void on_timeout(h2o_timeout_entry_t *entry)
{
    struct st_kve_redis_kill_t *k = H2O_STRUCT_FROM_MEMBER(struct st_kve_redis_kill_t, timeout_entry, entry);
    kve_redis_link_t *link = k->link;
    int function = k->function;

    if (k->done)
        return;
    finish(k, NULL, 1); /* outside hiredis' callbacks: `k` is freed now */
    kve_redis__kill_script(&link->super, function ? KVE_KV_SCRIPT_FUNCTION : KVE_KV_SCRIPT_EVAL);
}

static const kve_redis_target_t *kill_target(const kve_redis_link_t *link)
{
    return link->target->kill_via != NULL ? link->target->kill_via : link->target;
}

void kve_redis__kill_script(kve_kv_t *kv, int kind)
{
    kve_redis_link_t *link = (void *)kv;
    int function = kind == KVE_KV_SCRIPT_FUNCTION;
    struct st_kve_redis_kill_t *k;
    char why[160];

    if (link->kill != NULL || link->super.closing || link->kill_attempts >= KILL_ATTEMPTS)
        return; /* one at a time; a hopeless episode is not retried forever */
    ++link->kill_attempts;
    k = kve_zalloc(sizeof(*k));
    k->magic = KILL_MAGIC;
    k->link = link;
    k->function = function;
    k->adapter.on_cleanup = on_cleanup;
    if ((k->handshake_pending = kve_redis_adapter_connect(&k->adapter, link->super.loop, kill_target(link), 0, NULL, on_reply, k,
                                                          why, sizeof(why))) == 0) {
        kve_log(KVE_LOG_ERROR, "redis", "%s: could not connect to stop a script that ran past its timeout: %s", link->super.peer,
                why);
        free(k);
        return;
    }
    link->kill = k;
    k->timeout_entry.cb = on_timeout;
    h2o_timeout_link(link->super.loop, &link->connect_timeout, &k->timeout_entry);
    redisAsyncCommandArgv(k->adapter.ac, on_reply, k, 2, (const char *[]){function ? "FUNCTION" : "SCRIPT", "KILL"}, NULL);
}

void kve_redis__kill_dispose(kve_redis_link_t *link)
{
    if (link->kill != NULL)
        redisAsyncFree(link->kill->adapter.ac); /* frees it and clears link->kill */
}
