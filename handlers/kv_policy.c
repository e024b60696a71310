/* SPDX-License-Identifier: MIT */
/*
 * Command policy of the KV REST API (see kv_policy.h). The order of the checks matters and is the
 * order of kve_rest_policy_apply: the name as Redis will read it (alphabet, known subcommand of a
 * container), configured refusals, the read-only rule, built-in refusals (unless re-allowed), refusals that
 * depend on arguments, key sizes, then the rewrites and synthesized replies. The checks by name alone are
 * one function (judge_name), shared with kve_rest_policy_name_allowed() so that Redis ACL rules generated
 * from it mirror the policy. The command table, its lookup, the name alphabet and what reads and what writes
 * (kve_cmd_kind()) are the core's (proxy/kv_commands.h); the policy bits derived from them are built once, by
 * kve_rest_policy_init() when the API is registered.
 */
#include "handlers/kv_policy.h"
#include "proxy/cluster_route.h"
#include "proxy/common.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

/* refusals that no configuration can lift: the command cannot work on a shared, stateless connection */
static const struct st_refusal_t {
    const char *name;
    const char *reason;
} hard_refusals[] = {
    {"multi", "send transactions to /multi-exec"},
    {"exec", "send transactions to /multi-exec"},
    {"discard", "send transactions to /multi-exec"},
    {"watch", "send transactions to /multi-exec"},
    {"unwatch", "send transactions to /multi-exec"},
    {"select", "connections are shared; use a database per kvedge"},
    {"swapdb", "connections are shared; use a database per kvedge"},
    {"auth", "authenticate with the REST token"},
    {"hello", "the REST API speaks RESP2 as JSON"},
    {"client", "connections are shared"},
    {"quit", "connections are shared"},
    {"reset", "connections are shared"},
    {"readonly", "connections are shared"},
    {"readwrite", "connections are shared"},
    {"asking", "connections are shared"},
    {"monitor", "use the /monitor endpoint (list monitor in kv.allow_commands to enable it)"},
    {"subscribe", "use the /subscribe/<channel> endpoint"},
    {"ssubscribe", "use the /subscribe/<channel> endpoint"},
    {"psubscribe", "use the /psubscribe/<pattern> endpoint"},
    {"unsubscribe", "close the /subscribe request"},
    {"sunsubscribe", "close the /subscribe request"},
    {"punsubscribe", "close the /psubscribe request"},
    {"wait", "blocking commands would hold the shared connection"},
    {"waitaof", "blocking commands would hold the shared connection"},
    {"script|debug", "the Lua debugger takes over the connection (SYNC blocks the whole server)"},
};

/* refusals kv.allow_commands lifts by listing the command (or its container) */
static const struct st_refusal_t soft_refusals[] = {
    {"migrate", "it makes Redis connect to another server (list migrate in kv.allow_commands to allow it)"},
    {"move", "it moves keys to another database (list move in kv.allow_commands to allow it)"},
    {"script|flush", "it empties the script cache of every client (list script|flush in kv.allow_commands to allow it)"},
    {"function|flush", "it deletes every function library (list function|flush in kv.allow_commands to allow it)"},
};

#define BLOCKING_REASON "blocking commands would hold the shared connection"
#define MONITOR_REASON                                                                                                             \
    "it shows every command of every client with its arguments (list monitor in kv.allow_commands to allow /monitor)"
#define COPY_DB_REASON "COPY ... DB copies to another database (list copy in kv.allow_commands to allow it)"
#define RESTORE_FLUSH_REASON                                                                                                       \
    "FUNCTION RESTORE ... FLUSH deletes every function library (list function|flush in kv.allow_commands to allow it)"
#define INVALID_NAME_ERROR "ERR invalid command name: command names are letters, digits, '_', '-' and '.'"

/* per command, what the policy needs to know beyond Redis' flags, computed once (the request path then
 * tests bits instead of comparing names) */
enum {
    POL_KEYS = 1 << 0,
    POL_FLUSH = 1 << 1,
    POL_SCAN_FAMILY = 1 << 2,
    POL_SCAN = 1 << 3,
    POL_COPY = 1 << 4,
    POL_XREAD = 1 << 5, /* blocking only with BLOCK */
    POL_PING_ECHO = 1 << 6,
    POL_STREAM = 1 << 7,            /* what a streaming endpoint sends (/subscribe, /psubscribe, /monitor) */
    POL_SUBSCRIBE = 1 << 8,         /* receives messages: reads nothing and changes nothing in the keyspace */
    POL_MONITOR = 1 << 9,           /* the /monitor endpoint needs kv.allow_commands */
    POL_FUNCTION_RESTORE = 1 << 10, /* FUNCTION RESTORE ... FLUSH is FUNCTION FLUSH */
    POL_REFUSABLE = 1 << 11,        /* a built-in refusal by name may apply (most commands: none does) */
    POL_ARGUMENTS = POL_XREAD | POL_COPY | POL_FUNCTION_RESTORE, /* refusals that depend on arguments may apply */
    POL_HARD_SHIFT = 16,                                         /* index + 1 of a hard refusal */
    POL_SOFT_SHIFT = 24                                          /* index + 1 of a refusal kv.allow_commands lifts */
};
_Static_assert(KVE_ARRAY_SIZE(hard_refusals) < 256 && KVE_ARRAY_SIZE(soft_refusals) < 256, "refusal indexes fit in 8 bits");
static uint32_t policy_bits[KVE_CMD_COUNT];
static const kve_cmd_info_t *commands; /* kve_cmd_table() */
static int tables_ready;

static void set_bits(const char *name, uint32_t bits)
{
    const kve_cmd_info_t *info = kve_cmd_lookup(name, strlen(name));
    if (info != NULL) /* a name this Redis does not know has nothing to mark */
        policy_bits[info - commands] |= bits;
}

/* POL_REFUSABLE for a command one of builtin_refusal()'s checks can refuse (its own or its container's bits) */
static void mark_refusable(size_t i)
{
    const kve_cmd_info_t *top = kve_cmd_container(commands + i);
    uint32_t bits = policy_bits[i] | (top != commands + i ? policy_bits[top - commands] & ~0xffffu : 0);
    if ((bits & (POL_KEYS | POL_FLUSH | POL_STREAM)) != 0 || (bits >> POL_HARD_SHIFT) != 0 ||
        (commands[i].flags & (KVE_CMDF_BLOCKING | KVE_CMDF_ADMIN)) != 0)
        policy_bits[i] |= POL_REFUSABLE;
}

void kve_rest_policy_init(void)
{
    static const struct {
        const char *name;
        uint32_t bits;
    } named[] = {{"keys", POL_KEYS},
                 {"flushall", POL_FLUSH},
                 {"flushdb", POL_FLUSH},
                 {"scan", POL_SCAN_FAMILY | POL_SCAN},
                 {"hscan", POL_SCAN_FAMILY},
                 {"sscan", POL_SCAN_FAMILY},
                 {"zscan", POL_SCAN_FAMILY},
                 {"copy", POL_COPY},
                 {"xread", POL_XREAD},
                 {"xreadgroup", POL_XREAD},
                 {"ping", POL_PING_ECHO},
                 {"echo", POL_PING_ECHO},
                 {"subscribe", POL_STREAM | POL_SUBSCRIBE},
                 {"psubscribe", POL_STREAM | POL_SUBSCRIBE},
                 {"monitor", POL_STREAM | POL_MONITOR},
                 {"function|restore", POL_FUNCTION_RESTORE}};
    size_t i, n;

    if (tables_ready)
        return;
    kve_cmd_init();
    commands = kve_cmd_table(&n);
    KVE_ASSERT(n == KVE_CMD_COUNT);
    for (i = 0; i != KVE_ARRAY_SIZE(named); ++i)
        set_bits(named[i].name, named[i].bits);
    for (i = 0; i != KVE_ARRAY_SIZE(hard_refusals); ++i)
        set_bits(hard_refusals[i].name, (uint32_t)(i + 1) << POL_HARD_SHIFT);
    for (i = 0; i != KVE_ARRAY_SIZE(soft_refusals); ++i)
        set_bits(soft_refusals[i].name, (uint32_t)(i + 1) << POL_SOFT_SHIFT);
    for (i = 0; i != KVE_CMD_COUNT; ++i)
        mark_refusable(i);
    tables_ready = 1;
}

static uint32_t bits_of(const kve_cmd_info_t *info)
{
    return info != NULL ? policy_bits[info - commands] : 0;
}

/* the name messages and the configured lists use: Redis' own (lowercase) or the request's, lowercased */
static const char *display_name(const kve_rest_cmd_t *cmd, const kve_cmd_info_t *info, char *buf, size_t cap)
{
    size_t i, n;
    if (info != NULL)
        return info->name;
    n = KVE_MIN(cmd->argvlen[0], cap - 1);
    for (i = 0; i != n; ++i)
        buf[i] = (char)tolower((unsigned char)cmd->argv[0][i]);
    buf[n] = '\0';
    return buf;
}

static int listed(char *const *entries, size_t size, const char *name)
{
    size_t i;
    for (i = 0; i != size; ++i)
        if (strcasecmp(entries[i], name) == 0)
            return 1;
    return 0;
}

static int has_arg(const kve_rest_cmd_t *cmd, size_t from, const char *word)
{
    size_t i, n = strlen(word);
    for (i = from; i < cmd->argc; ++i)
        if (cmd->argvlen[i] == n && strncasecmp(cmd->argv[i], word, n) == 0)
            return 1;
    return 0;
}

/* res = DENY with the message `before` + name + `after` (in the pool) */
static void deny(kve_policy_result_t *res, h2o_mem_pool_t *pool, const char *before, const char *name, const char *after)
{
    size_t a = strlen(before), b = strlen(name), c = strlen(after);
    char *msg = h2o_mem_alloc_pool(pool, a + b + c + 1);
    memcpy(msg, before, a);
    memcpy(msg + a, name, b);
    memcpy(msg + a + b, after, c + 1);
    res->verdict = KVE_POLICY_DENY;
    res->error = msg;
}

/* what a read-only token may run: the core's reads (kve_cmd_kind()) but KEYS and SCAN, plus PING, ECHO and the
 * subscriptions, which read nothing and change nothing */
static int read_only_allows(const kve_cmd_info_t *info)
{
    uint32_t bits = bits_of(info);
    unsigned kind = kve_cmd_kind(info);
    if ((kind & KVE_CMD_K_WRITE) != 0 || (bits & (POL_KEYS | POL_SCAN)) != 0)
        return 0;
    return (bits & (POL_PING_ECHO | POL_SUBSCRIBE)) != 0 || (kind & KVE_CMD_K_READ) != 0;
}

/* kv.allow_commands lists the command or its container ("config" allows every CONFIG subcommand, "config|get"
 * only that one) */
static int allow_listed(const kve_rest_policy_t *p, kve_cmd_ref_t ref)
{
    return p->allow.size != 0 && (listed(p->allow.entries, p->allow.size, ref.info->name) ||
                                  (ref.top != ref.info && listed(p->allow.entries, p->allow.size, ref.top->name)));
}

/* the refusals kv.allow_commands (or allow_keys / allow_flush) lifts: the reason, or NULL */
static const char *liftable_refusal(const kve_rest_policy_t *p, const kve_cmd_info_t *info, uint32_t bits)
{
    if ((bits >> POL_SOFT_SHIFT) != 0)
        return soft_refusals[(bits >> POL_SOFT_SHIFT) - 1].reason;
    if ((bits & POL_KEYS) != 0 && !p->allow_keys)
        return "it is disabled; use SCAN (or set kv.allow_keys: true)";
    if ((bits & POL_FLUSH) != 0 && !p->allow_flush)
        return "it is disabled (set kv.allow_flush: true)";
    if ((info->flags & KVE_CMDF_ADMIN) != 0)
        return "administrative commands are not allowed (list it in kv.allow_commands to allow it)";
    return NULL;
}

/* built-in refusals by name: the reason, or NULL if the command may go (a streaming endpoint's own command
 * is what that endpoint is for: only /monitor needs to be allowed) */
static const char *builtin_refusal(const kve_rest_policy_t *p, kve_cmd_ref_t ref, const char *name, unsigned flags)
{
    uint32_t bits = bits_of(ref.info), hard;
    const char *reason;
    size_t i;

    if ((flags & KVE_POLICY_F_STREAM) != 0 && (bits & POL_STREAM) != 0)
        return (bits & POL_MONITOR) == 0 || listed(p->allow.entries, p->allow.size, "monitor") ? NULL : MONITOR_REASON;
    if ((hard = (bits >> POL_HARD_SHIFT) & 0xff) != 0 || (hard = (bits_of(ref.top) >> POL_HARD_SHIFT) & 0xff) != 0)
        return hard_refusals[hard - 1].reason;
    if (ref.info == NULL) { /* a command this Redis does not know: only the name can tell */
        for (i = 0; i != KVE_ARRAY_SIZE(hard_refusals); ++i)
            if (strcmp(name, hard_refusals[i].name) == 0)
                return hard_refusals[i].reason;
        return NULL;
    }
    if ((ref.info->flags & KVE_CMDF_BLOCKING) != 0 && (bits & POL_XREAD) == 0)
        return BLOCKING_REASON;
    if ((reason = liftable_refusal(p, ref.info, bits)) == NULL || allow_listed(p, ref))
        return NULL;
    return reason;
}

enum { NAME_ALLOWED, NAME_DENIED, NAME_NOPERM, NAME_REFUSED };

/* The checks by name alone, in order: the configured deny list, the read-only rule, the built-in refusals
 * (*reason). `name` is the command's name as the configured lists spell it (lowercase). */
static inline int judge_name(const kve_rest_policy_t *p, unsigned flags, kve_cmd_ref_t ref, const char *name, const char **reason)
{
    if (p->deny.size != 0 && (listed(p->deny.entries, p->deny.size, name) ||
                              (ref.top != ref.info && listed(p->deny.entries, p->deny.size, ref.top->name))))
        return NAME_DENIED;
    if ((flags & KVE_POLICY_F_READ_ONLY) != 0 && !read_only_allows(ref.info)) /* a read-only token is told what it may not do */
        return NAME_NOPERM;
    if (ref.info != NULL && (bits_of(ref.info) & POL_REFUSABLE) == 0)
        return NAME_ALLOWED; /* most commands: no built-in refusal applies (saves a call per command) */
    return (*reason = builtin_refusal(p, ref, name, flags)) != NULL ? NAME_REFUSED : NAME_ALLOWED;
}

int kve_rest_policy_name_allowed(const kve_rest_policy_t *p, unsigned flags, const kve_cmd_info_t *info)
{
    kve_cmd_ref_t ref = {info, kve_cmd_container(info)};
    const char *reason;
    return judge_name(p, flags, ref, info->name, &reason) == NAME_ALLOWED;
}

/* refusals that depend on the arguments (after the checks by name): the reason, or NULL */
static const char *argument_refusal(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, kve_cmd_ref_t ref, uint32_t bits)
{
    if ((bits & POL_ARGUMENTS) == 0)
        return NULL;
    if ((bits & POL_XREAD) != 0 && has_arg(cmd, 1, "block"))
        return BLOCKING_REASON " (drop BLOCK)";
    if ((bits & POL_COPY) != 0 && has_arg(cmd, 3, "db") && !allow_listed(p, ref))
        return COPY_DB_REASON;
    if ((bits & POL_FUNCTION_RESTORE) != 0 && has_arg(cmd, 3, "flush") &&
        !listed(p->allow.entries, p->allow.size, "function|flush") && !listed(p->allow.entries, p->allow.size, "function"))
        return RESTORE_FLUSH_REASON; /* the FUNCTION FLUSH switch */
    return NULL;
}

/* Redis' own error for a subcommand its container does not have (not echoed unless it is a plausible name) */
static void deny_unknown_subcommand(kve_policy_result_t *res, h2o_mem_pool_t *pool, const kve_rest_cmd_t *cmd,
                                    const kve_cmd_info_t *top)
{
    char container[32], *msg = h2o_mem_alloc_pool(pool, 256);
    size_t i, n = KVE_MIN(strlen(top->name), sizeof(container) - 1);

    for (i = 0; i != n; ++i)
        container[i] = (char)toupper((unsigned char)top->name[i]);
    container[n] = '\0';
    if (kve_cmd_name_valid(cmd->argv[1], cmd->argvlen[1], KVE_CMD_NAME_SUB))
        snprintf(msg, 256, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)KVE_MIN(cmd->argvlen[1], 128), cmd->argv[1],
                 container);
    else
        snprintf(msg, 256, "ERR unknown subcommand (subcommand names are letters and '-'). Try %s HELP.", container);
    res->verdict = KVE_POLICY_DENY;
    res->error = msg;
}

/* the key limit's refusal, in Upstash's words */
static int refuse_key_size(const kve_rest_policy_t *p, size_t actual, h2o_mem_pool_t *pool, kve_policy_result_t *res)
{
    char *msg = h2o_mem_alloc_pool(pool, 96);
    snprintf(msg, 96, "ERR max key size exceeded. Limit: %llu bytes, Actual: %zu bytes", (unsigned long long)p->max_key_size,
             actual);
    res->verdict = KVE_POLICY_DENY;
    res->error = msg;
    return -1;
}

/* commands whose keys are found by reading their arguments (EVAL numkeys, XREAD STREAMS, ZUNIONSTORE numkeys,
 * SORT ... STORE, MIGRATE ... KEYS): every key the core's key finder names (proxy/kv_commands.h) */
static int check_movable_key_sizes(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, const kve_cmd_info_t *info,
                                   h2o_mem_pool_t *pool, kve_policy_result_t *res)
{
    kve_cmd_keys_t keys;
    size_t r, i;

    if (kve_cmd_keys(info, cmd->argc, cmd->argv, cmd->argvlen, 0, &keys) == 0)
        return 0;
    for (r = 0; r != keys.nranges; ++r)
        for (i = keys.ranges[r].first; i <= keys.ranges[r].last; i += keys.ranges[r].step)
            if (cmd->argvlen[i] > p->max_key_size)
                return refuse_key_size(p, cmd->argvlen[i], pool, res);
    return 0;
}

/* Upstash's key limit, over every key argument: the positions Redis declares as keys, and for commands with movable
 * keys the ones the key finder names */
static int check_key_sizes(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, const kve_cmd_info_t *info, h2o_mem_pool_t *pool,
                           kve_policy_result_t *res)
{
    int i, last;

    if (info == NULL || p->max_key_size == 0)
        return 0;
    if ((kve_cmd_kind(info) & KVE_CMD_K_MOVABLE_KEYS) != 0)
        return check_movable_key_sizes(p, cmd, info, pool, res);
    if (info->first_key <= 0 || info->key_step <= 0)
        return 0;
    last = info->last_key < 0 ? (int)cmd->argc + info->last_key : info->last_key;
    for (i = info->first_key; i <= last && (size_t)i < cmd->argc; i += info->key_step)
        if (cmd->argvlen[i] > p->max_key_size)
            return refuse_key_size(p, cmd->argvlen[i], pool, res);
    return 0;
}

static int is_word(const kve_rest_cmd_t *cmd, size_t i, const char *word, size_t len)
{
    return cmd->argvlen[i] == len && strncasecmp(cmd->argv[i], word, len) == 0;
}

/* the COUNT value at argv[i], lowered to the cap if above it (a huge COUNT makes one call as slow as KEYS) */
static void cap_count(const kve_rest_policy_t *p, kve_rest_cmd_t *cmd, size_t i, h2o_mem_pool_t *pool)
{
    char num[24], *capped;

    if (p->scan_max_count <= 0 || cmd->argvlen[i] >= sizeof(num)) /* longer: not a number Redis accepts */
        return;
    memcpy(num, cmd->argv[i], cmd->argvlen[i]);
    num[cmd->argvlen[i]] = '\0';
    if (strtoll(num, NULL, 10) <= p->scan_max_count)
        return;
    capped = h2o_mem_alloc_pool(pool, 24);
    cmd->argvlen[i] = (size_t)snprintf(capped, 24, "%lld", (long long)p->scan_max_count);
    cmd->argv[i] = capped;
}

/*
 * SCAN/HSCAN/SSCAN/ZSCAN options from argv[i] on, read as Redis reads them: MATCH, COUNT and TYPE take the
 * next word as their value, any other word stands alone (NOVALUES, NOSCORES, Upstash's WITHTYPE, or a
 * syntax error Redis reports), so no flag or MATCH value can hide a COUNT from the cap. Lowers COUNT
 * values to the cap; for SCAN (`scan`) takes WITHTYPE out and returns whether it was there.
 */
static int scan_options(const kve_rest_policy_t *p, kve_rest_cmd_t *cmd, size_t i, int scan, h2o_mem_pool_t *pool)
{
    size_t out = i;
    int withtype = 0;

    if (i >= cmd->argc)
        return 0; /* no options (or not even a cursor): Redis answers with its arity error */
    while (i < cmd->argc) {
        size_t words = 1;
        if (i + 1 < cmd->argc && (is_word(cmd, i, "match", 5) || is_word(cmd, i, "count", 5) || is_word(cmd, i, "type", 4))) {
            if (is_word(cmd, i, "count", 5))
                cap_count(p, cmd, i + 1, pool);
            words = 2;
        } else if (scan && is_word(cmd, i, "withtype", 8)) {
            withtype = 1;
            words = 0, ++i;
        }
        for (; words != 0; --words, ++i, ++out)
            cmd->argv[out] = cmd->argv[i], cmd->argvlen[out] = cmd->argvlen[i];
    }
    cmd->argc = out;
    return withtype;
}

/* Upstash's SCAN ... WITHTYPE (the flag already taken out): one round trip through a script that adds TYPE
 * for every key */
static void rewrite_scan_withtype(kve_rest_cmd_t *cmd, h2o_mem_pool_t *pool)
{
    static const char script[] = KVE_SCAN_WITHTYPE_SCRIPT; /* a SCAN on a cluster store too (cluster_route.h) */
    const char **argv = h2o_mem_alloc_pool(pool, sizeof(*argv) * (cmd->argc + 2));
    size_t *argvlen = h2o_mem_alloc_pool(pool, sizeof(*argvlen) * (cmd->argc + 2)), i, n = 0;

    argv[n] = "EVAL", argvlen[n++] = 4;
    argv[n] = script, argvlen[n++] = sizeof(script) - 1;
    argv[n] = "0", argvlen[n++] = 1;
    for (i = 1; i != cmd->argc; ++i)
        argv[n] = cmd->argv[i], argvlen[n++] = cmd->argvlen[i];
    cmd->argv = argv;
    cmd->argvlen = argvlen;
    cmd->argc = n;
}

/* res = DENY for what judge_name() or argument_refusal() refused */
static void deny_by_policy(kve_policy_result_t *res, h2o_mem_pool_t *pool, int verdict, const char *name, const char *reason)
{
    char after[256];

    switch (verdict) {
    case NAME_DENIED:
        deny(res, pool, "ERR command '", name, "' is disabled by the server's policy");
        break;
    case NAME_NOPERM:
        deny(res, pool, "NOPERM this user has no permissions to run the '", name, "' command");
        break;
    default:
        snprintf(after, sizeof(after), "' is not allowed over the REST API: %s", reason);
        deny(res, pool, "ERR command '", name, after);
        break;
    }
}

void kve_rest_policy_apply(const kve_rest_policy_t *p, unsigned flags, kve_rest_cmd_t *cmd, h2o_mem_pool_t *pool,
                           kve_policy_result_t *res)
{
    int read_only = (flags & KVE_POLICY_F_READ_ONLY) != 0, verdict;
    kve_cmd_ref_t ref;
    const char *reason = NULL, *name;
    uint32_t bits;
    char buf[72];

    KVE_ASSERT(tables_ready && cmd->argc != 0);
    *res = (kve_policy_result_t){KVE_POLICY_SEND, NULL, 0, 0};
    if (!kve_cmd_find(cmd->argc, cmd->argv, cmd->argvlen, &ref)) { /* Redis could read it as another command */
        res->verdict = KVE_POLICY_DENY;
        res->error = INVALID_NAME_ERROR;
        return;
    }
    if (ref.top != NULL && ref.info == ref.top && (ref.top->flags & KVE_CMDF_CONTAINER) != 0 && cmd->argc >= 2) {
        deny_unknown_subcommand(res, pool, cmd, ref.top);
        return;
    }
    name = display_name(cmd, ref.info, buf, sizeof(buf));
    bits = bits_of(ref.info);
    if ((verdict = judge_name(p, flags, ref, name, &reason)) != NAME_ALLOWED ||
        (reason = argument_refusal(p, cmd, ref, bits)) != NULL) {
        deny_by_policy(res, pool, verdict != NAME_ALLOWED ? verdict : NAME_REFUSED, name, reason);
        return;
    }
    if (check_key_sizes(p, cmd, ref.info, pool, res) != 0)
        return;
    /* the core's write bit: unknown commands (modules) and scripts count as writes, so the sync token never lags */
    res->is_write = !read_only && (kve_cmd_kind(ref.info) & KVE_CMD_K_WRITE) != 0;
    if ((bits & POL_SCAN_FAMILY) != 0) {
        if (scan_options(p, cmd, (bits & POL_SCAN) != 0 ? 2 : 3, (bits & POL_SCAN) != 0, pool))
            rewrite_scan_withtype(cmd, pool);
    } else if ((bits & POL_COPY) != 0 && cmd->argc >= 3 && cmd->argvlen[1] == cmd->argvlen[2] &&
               memcmp(cmd->argv[1], cmd->argv[2], cmd->argvlen[1]) == 0 && !has_arg(cmd, 3, "db")) {
        res->verdict = KVE_POLICY_REPLY_INTEGER; /* Upstash: copying a key onto itself copies nothing */
        res->integer = 0;
    }
}
