/* SPDX-License-Identifier: MIT */
/* The connect-time check of a link's Redis rights (see redis_acl.h). */
#include "proxy/redis_acl.h"
#include "proxy/buf.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include "proxy/err.h"

#include <strings.h>

/* returns the names in ARGV the user may run; "container|sub" names a subcommand; names Redis does not know
 * (an older Redis) are skipped */
static const char script[] = "local out = {} "
                             "for _, name in ipairs(ARGV) do "
                             "local bar = string.find(name, '|', 1, true) local ok, yes "
                             "if bar then ok, yes = pcall(redis.acl_check_cmd, string.sub(name, 1, bar - 1), "
                             "string.sub(name, bar + 1)) "
                             "else ok, yes = pcall(redis.acl_check_cmd, name) end "
                             "if ok and yes then out[#out + 1] = name end "
                             "end return out";

#define MAX_LISTED 12

/* one warning per role and process, whatever the number of threads and reconnections */
static int warned_rw, warned_ro;

static int *warned_flag(const kve_redis_target_t *target)
{
    return target->role != NULL && strcmp(target->role, "read-only") == 0 ? &warned_ro : &warned_rw;
}

static int first_time(const kve_redis_target_t *target)
{
    return !__atomic_exchange_n(warned_flag(target), 1, __ATOMIC_RELAXED);
}

static const char *user_of(const kve_redis_target_t *target)
{
    return target->username != NULL ? target->username : "default";
}

static void report_allowed(const kve_redis_target_t *target, const kve_kv_reply_t *reply)
{
    kve_buf_t names = KVE_BUF_INIT;
    size_t i;

    for (i = 0; i != reply->elements && i != MAX_LISTED; ++i)
        if (reply->element[i]->type == KVE_REPLY_STRING)
            kve_buf_printf(&names, "%s%.*s", i != 0 ? ", " : "", (int)KVE_MIN(reply->element[i]->len, 64), reply->element[i]->str);
    kve_log(KVE_LOG_WARN, "redis",
            "redis user %s (%s tokens) can run %zu commands the KV policy refuses (%.*s%s): scripts (EVAL, FCALL) could "
            "run them; give it the rules `kvedge acl` prints (docs/security.md)",
            user_of(target), target->role != NULL ? target->role : "all", reply->elements, (int)names.len,
            names.base != NULL ? names.base : "", reply->elements > MAX_LISTED ? ", ..." : "");
    kve_buf_dispose(&names);
}

static void on_reply(void *data, size_t index, int err, const kve_kv_reply_t *reply)
{
    const kve_redis_target_t *target = data;

    if (err != 0) { /* the link failed or timed out; the next connection checks again */
        kve_log(KVE_LOG_DEBUG, "redis", "the ACL check of redis user %s failed: %s", user_of(target), kve_strerror(err));
    } else if (reply->type == KVE_REPLY_ARRAY && reply->elements == 0) {
        kve_log(KVE_LOG_DEBUG, "redis", "redis user %s: ACL checked, nothing refused is allowed", user_of(target));
    } else if (reply->type == KVE_REPLY_ARRAY) {
        if (first_time(target))
            report_allowed(target, reply);
    } else if (reply->type == KVE_REPLY_ERROR && strncasecmp(reply->str, "NOPERM", 6) == 0) {
        /* the user cannot run scripts at all: nothing can be bypassed through them */
        kve_log(KVE_LOG_DEBUG, "redis", "redis user %s cannot run scripts: nothing to check", user_of(target));
    } else if (first_time(target)) {
        kve_log(KVE_LOG_WARN, "redis", "could not check the rights of redis user %s (%.*s): Redis 7.0 or later is needed",
                user_of(target), reply->type == KVE_REPLY_ERROR ? (int)KVE_MIN(reply->len, 120) : 0,
                reply->type == KVE_REPLY_ERROR ? reply->str : "");
    }
}

void kve_redis_acl_check(kve_kv_t *kv, const kve_redis_target_t *target)
{
    size_t n = 0, i;
    const char **argv;
    size_t *argvlen;
    int err;

    if (target->acl_refused == NULL)
        return;
    while (target->acl_refused[n] != NULL)
        ++n;
    argv = kve_malloc(sizeof(*argv) * (n + 3));
    argvlen = kve_malloc(sizeof(*argvlen) * (n + 3));
    argv[0] = "EVAL_RO", argv[1] = script, argv[2] = "0";
    for (i = 0; i != n; ++i)
        argv[3 + i] = target->acl_refused[i];
    for (i = 0; i != n + 3; ++i)
        argvlen[i] = strlen(argv[i]);
    /* an ordinary command of the link: in order with the others, bounded by the command timeout */
    if (kve_kv_call(kv, n + 3, argv, argvlen, NULL, on_reply, (void *)target, &err) == NULL)
        kve_log(KVE_LOG_DEBUG, "redis", "the ACL check of redis user %s could not be sent: %s", user_of(target), kve_strerror(err));
    free(argv);
    free(argvlen);
}
