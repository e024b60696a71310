/* SPDX-License-Identifier: MIT */
/* The output buffer limit check of an external Redis (see redis_limits.h). */
#include "proxy/redis_limits.h"
#include "proxy/common.h"
#include "proxy/kv_redis_internal.h"
#include "proxy/log.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

/* the target's flag: 0 not checked yet; 1 a link is asking or has asked (one check per target, not one per thread).
 * Targets are shared read-only by the links, except for this one field. */
static int *checked_flag(const kve_redis_link_t *link)
{
    return (int *)&link->target->limit_checked;
}

/* the next space-separated word of [*p, end) */
static int next_word(const char **p, const char *end, const char **word, size_t *len)
{
    while (*p != end && **p == ' ')
        ++*p;
    *word = *p;
    while (*p != end && **p != ' ')
        ++*p;
    *len = (size_t)(*p - *word);
    return *len != 0;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (len == 0 || len > 19)
        return -1;
    for (i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int kve_redis_parse_output_limit(const char *value, size_t len, uint64_t *hard, uint64_t *soft)
{
    const char *p = value, *end = value + len, *w;
    size_t wl;
    uint64_t secs;

    while (next_word(&p, end, &w, &wl)) {
        if (wl != 6 || memcmp(w, "normal", 6) != 0)
            continue;
        if (!next_word(&p, end, &w, &wl) || parse_u64(w, wl, hard) != 0 || !next_word(&p, end, &w, &wl) ||
            parse_u64(w, wl, soft) != 0 || !next_word(&p, end, &w, &wl) || parse_u64(w, wl, &secs) != 0)
            return -1;
        return 0;
    }
    return -1;
}

static void on_config_reply(redisAsyncContext *ac, void *_reply, void *privdata)
{
    const redisReply *reply = _reply;
    kve_redis_link_t *link = privdata; /* alive: hiredis runs this from the link's connection, even when it goes away */
    const char *peer = link->super.peer;
    uint64_t hard, soft;

    if (reply == NULL) { /* the connection went away first: another link (or this one, later) asks again */
        __atomic_store_n(checked_flag(link), 0, __ATOMIC_RELAXED);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        kve_log(KVE_LOG_INFO, "redis",
                "cannot check Redis' client-output-buffer-limit (CONFIG GET: %.*s); make sure its normal "
                "class has a hard limit (see docs/configuration.md; link to %s)",
                (int)KVE_MIN(reply->len, 100), reply->str, peer);
    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[1]->type != REDIS_REPLY_STRING ||
               kve_redis_parse_output_limit(reply->element[1]->str, reply->element[1]->len, &hard, &soft) != 0) {
        kve_log(KVE_LOG_INFO, "redis", "cannot check Redis' client-output-buffer-limit (unexpected CONFIG GET reply; link to %s)",
                peer);
    } else if (hard == 0 && soft == 0) {
        kve_log(KVE_LOG_WARN, "redis",
                "Redis' client-output-buffer-limit for normal clients is unlimited: one request can make it buffer without bound; "
                "set e.g. CONFIG SET client-output-buffer-limit \"normal 256mb 0 0\" (see docs/configuration.md; link to %s)",
                peer);
    } else {
        kve_log(KVE_LOG_DEBUG, "redis", "Redis' client-output-buffer-limit normal: hard %llu, soft %llu bytes (link to %s)",
                (unsigned long long)hard, (unsigned long long)soft, peer);
    }
}

void kve_redis__check_output_limit(kve_redis_link_t *link)
{
    static const char *const argv[] = {"CONFIG", "GET", "client-output-buffer-limit"};
    static const size_t argvlen[] = {6, 3, 26};
    int expected = 0;

    if (link->target->kill_via != NULL) /* a read-only link (its user may not CONFIG GET): the store's read-write link asks */
        return;
    if (!__atomic_compare_exchange_n(checked_flag(link), &expected, 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    if (redisAsyncCommandArgv(link->adapter.ac, on_config_reply, link, 3, (const char **)argv, argvlen) != REDIS_OK)
        __atomic_store_n(checked_flag(link), 0, __ATOMIC_RELAXED);
}
