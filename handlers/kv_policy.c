/* SPDX-License-Identifier: MIT */
/*
 * Command policy of the KV REST API (see kv_policy.h). The order of the checks matters and is the
 * order of kve_rest_policy_apply: configured refusals, the read-only rule, built-in refusals (unless
 * re-allowed), key sizes, then the rewrites and synthesized replies. The lookup table and the policy bits
 * derived from the command table are built once, by kve_rest_policy_init() when the API is registered.
 */
#include "handlers/kv_policy.h"
#include "proxy/common.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

static const kve_cmd_info_t commands[] = {
#define KVE_CMD(name, arity, first, last, step, flags) {name, arity, first, last, step, flags},
#include "handlers/kv_commands.def"
#undef KVE_CMD
};

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
    {"monitor", "use the /monitor endpoint"},
    {"subscribe", "use the /subscribe/<channel> endpoint"},
    {"ssubscribe", "use the /subscribe/<channel> endpoint"},
    {"psubscribe", "use the /psubscribe/<pattern> endpoint"},
    {"unsubscribe", "close the /subscribe request"},
    {"sunsubscribe", "close the /subscribe request"},
    {"punsubscribe", "close the /psubscribe request"},
    {"wait", "blocking commands would hold the shared connection"},
    {"waitaof", "blocking commands would hold the shared connection"},
};

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
    POL_STREAM = 1 << 7,    /* what a streaming endpoint sends (/subscribe, /psubscribe, /monitor) */
    POL_SUBSCRIBE = 1 << 8, /* receives messages: reads nothing and changes nothing in the keyspace */
    POL_HARD_SHIFT = 16     /* index + 1 of a hard refusal */
};
static uint32_t policy_bits[KVE_ARRAY_SIZE(commands)];

static int compare_name(const char *name, size_t len, const char *entry)
{
    size_t i;
    for (i = 0; i != len; ++i) {
        int a = (unsigned char)name[i] | 0x20 * (name[i] >= 'A' && name[i] <= 'Z'), b = (unsigned char)entry[i];
        if (b == '\0' || a != b)
            return a - b;
    }
    return entry[len] == '\0' ? 0 : -1;
}

/* Lookup by an open-addressing hash of the lowercase name, built once: a bsearch over the ~370 names was a
 * tenth of a pipelined command's cost. */
#define LOOKUP_SLOTS 1024                   /* power of two, well above twice the number of commands */
static uint16_t lookup_table[LOOKUP_SLOTS]; /* index + 1 into commands[], 0 = empty */
static int tables_ready;

static uint32_t hash_name(const char *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a over the lowercased bytes */
    size_t i;
    for (i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)name[i];
        h = (h ^ (c >= 'A' && c <= 'Z' ? c | 0x20 : c)) * 16777619u;
    }
    return h;
}

static const kve_cmd_info_t *lookup(const char *name, size_t len)
{
    uint32_t slot;

    if (len == 0 || len > 64)
        return NULL;
    for (slot = hash_name(name, len) & (LOOKUP_SLOTS - 1); lookup_table[slot] != 0; slot = (slot + 1) & (LOOKUP_SLOTS - 1))
        if (compare_name(name, len, commands[lookup_table[slot] - 1].name) == 0)
            return commands + lookup_table[slot] - 1;
    return NULL;
}

static void set_bits(const char *name, uint32_t bits)
{
    const kve_cmd_info_t *info = lookup(name, strlen(name));
    if (info != NULL) /* a name this Redis does not know has nothing to mark */
        policy_bits[info - commands] |= bits;
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
                 {"monitor", POL_STREAM}};
    size_t i;

    _Static_assert(KVE_ARRAY_SIZE(commands) * 2 < LOOKUP_SLOTS, "lookup table is large enough");
    if (tables_ready)
        return;
    for (i = 0; i != KVE_ARRAY_SIZE(commands); ++i) {
        uint32_t slot = hash_name(commands[i].name, strlen(commands[i].name)) & (LOOKUP_SLOTS - 1);
        while (lookup_table[slot] != 0)
            slot = (slot + 1) & (LOOKUP_SLOTS - 1);
        lookup_table[slot] = (uint16_t)(i + 1);
    }
    for (i = 0; i != KVE_ARRAY_SIZE(named); ++i)
        set_bits(named[i].name, named[i].bits);
    for (i = 0; i != KVE_ARRAY_SIZE(hard_refusals); ++i)
        set_bits(hard_refusals[i].name, (uint32_t)(i + 1) << POL_HARD_SHIFT);
    tables_ready = 1;
}

const kve_cmd_info_t *kve_cmd_lookup(const char *name, size_t len)
{
    KVE_ASSERT(tables_ready);
    return lookup(name, len);
}

static uint32_t bits_of(const kve_cmd_info_t *info)
{
    return info != NULL ? policy_bits[info - commands] : 0;
}

/* the command as Redis knows it (`top`), and the subcommand when there is one ("config get" ->
 * "config|get"; otherwise `info` is `top`); both NULL for a command this Redis does not know */
typedef struct st_cmd_ref_t {
    const kve_cmd_info_t *info, *top;
} cmd_ref_t;

static cmd_ref_t find_info(const kve_rest_cmd_t *cmd)
{
    cmd_ref_t ref = {NULL, lookup(cmd->argv[0], cmd->argvlen[0])};
    char full[160];
    size_t n;

    ref.info = ref.top;
    if (ref.top == NULL || (ref.top->flags & KVE_CMDF_CONTAINER) == 0 || cmd->argc < 2 || cmd->argvlen[1] > 64)
        return ref;
    n = strlen(ref.top->name);
    memcpy(full, ref.top->name, n);
    full[n] = '|';
    memcpy(full + n + 1, cmd->argv[1], cmd->argvlen[1]);
    if ((ref.info = lookup(full, n + 1 + cmd->argvlen[1])) == NULL)
        ref.info = ref.top;
    return ref;
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

/* built-in refusals: returns the reason, or NULL if the command may go (a streaming endpoint's own command
 * is what that endpoint is for: none of them applies) */
static const char *builtin_refusal(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, cmd_ref_t ref, unsigned flags)
{
    const kve_cmd_info_t *info = ref.info;
    uint32_t bits = bits_of(ref.top);
    size_t i;

    if ((flags & KVE_POLICY_F_STREAM) != 0 && (bits & POL_STREAM) != 0)
        return NULL;
    if ((bits >> POL_HARD_SHIFT) != 0)
        return hard_refusals[(bits >> POL_HARD_SHIFT) - 1].reason;
    if (info == NULL) { /* a command this Redis does not know: only the name can tell */
        for (i = 0; i != KVE_ARRAY_SIZE(hard_refusals); ++i)
            if (compare_name(cmd->argv[0], cmd->argvlen[0], hard_refusals[i].name) == 0)
                return hard_refusals[i].reason;
        return NULL;
    }
    bits = bits_of(info);
    if ((info->flags & KVE_CMDF_BLOCKING) != 0) {
        if ((bits & POL_XREAD) == 0)
            return "blocking commands would hold the shared connection";
        if (has_arg(cmd, 1, "block"))
            return "blocking commands would hold the shared connection (drop BLOCK)";
    }
    if (listed(p->allow.entries, p->allow.size, info->name) || listed(p->allow.entries, p->allow.size, ref.top->name))
        return NULL; /* "config" allows every CONFIG subcommand, "config|get" only that one */
    if ((bits & POL_KEYS) != 0 && !p->allow_keys)
        return "it is disabled; use SCAN (or set kv.allow_keys: true)";
    if ((bits & POL_FLUSH) != 0 && !p->allow_flush)
        return "it is disabled (set kv.allow_flush: true)";
    if ((info->flags & KVE_CMDF_ADMIN) != 0)
        return "administrative commands are not allowed (list it in kv.allow_commands to allow it)";
    return NULL;
}

static int read_only_allows(const kve_cmd_info_t *info)
{
    uint32_t bits = bits_of(info);
    if (info == NULL || (info->flags & KVE_CMDF_WRITE) != 0 || (bits & (POL_KEYS | POL_SCAN)) != 0)
        return 0;
    return (bits & (POL_PING_ECHO | POL_SUBSCRIBE)) != 0 || (info->flags & (KVE_CMDF_CAT_READ | KVE_CMDF_READONLY)) != 0;
}

/* Upstash's key limit, over the positions Redis declares as keys (commands with keys found by scanning
 * their arguments, such as EVAL, are checked on their declared positions only) */
static int check_key_sizes(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, const kve_cmd_info_t *info, h2o_mem_pool_t *pool,
                           kve_policy_result_t *res)
{
    int i, last;
    char *msg;

    if (info == NULL || info->first_key <= 0 || info->key_step <= 0 || p->max_key_size == 0)
        return 0;
    last = info->last_key < 0 ? (int)cmd->argc + info->last_key : info->last_key;
    for (i = info->first_key; i <= last && (size_t)i < cmd->argc; i += info->key_step) {
        if (cmd->argvlen[i] <= p->max_key_size)
            continue;
        msg = h2o_mem_alloc_pool(pool, 96);
        snprintf(msg, 96, "ERR max key size exceeded. Limit: %llu bytes, Actual: %zu bytes", (unsigned long long)p->max_key_size,
                 cmd->argvlen[i]);
        res->verdict = KVE_POLICY_DENY;
        res->error = msg;
        return -1;
    }
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
    static const char script[] = "local r = redis.call('SCAN', unpack(ARGV)) local out = {} "
                                 "for _, k in ipairs(r[2]) do out[#out + 1] = k out[#out + 1] = redis.call('TYPE', k)['ok'] end "
                                 "return {r[1], out}";
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

static int may_write(const kve_cmd_info_t *info)
{
    /* unknown commands (modules) and scripts are assumed to write: the sync token must not lag */
    return info == NULL || (info->flags & (KVE_CMDF_WRITE | KVE_CMDF_MAY_REPLICATE)) != 0 ||
           ((info->flags & KVE_CMDF_CAT_SCRIPTING) != 0 && (info->flags & KVE_CMDF_READONLY) == 0);
}

void kve_rest_policy_apply(const kve_rest_policy_t *p, unsigned flags, kve_rest_cmd_t *cmd, h2o_mem_pool_t *pool,
                           kve_policy_result_t *res)
{
    int read_only = (flags & KVE_POLICY_F_READ_ONLY) != 0;
    cmd_ref_t ref;
    const kve_cmd_info_t *info;
    const char *reason;
    uint32_t bits;
    char buf[72];

    KVE_ASSERT(tables_ready);
    ref = find_info(cmd);
    info = ref.info;
    bits = bits_of(info);
    *res = (kve_policy_result_t){KVE_POLICY_SEND, NULL, 0, 0};
    if (p->deny.size != 0 && (listed(p->deny.entries, p->deny.size, display_name(cmd, info, buf, sizeof(buf))) ||
                              (ref.top != info && listed(p->deny.entries, p->deny.size, ref.top->name)))) {
        deny(res, pool, "ERR command '", display_name(cmd, info, buf, sizeof(buf)), "' is disabled by the server's policy");
        return;
    }
    if (read_only && !read_only_allows(info)) { /* first: a read-only token is told what it may not do, not why others may not */
        deny(res, pool, "NOPERM this user has no permissions to run the '", display_name(cmd, info, buf, sizeof(buf)), "' command");
        return;
    }
    if ((reason = builtin_refusal(p, cmd, ref, flags)) != NULL) {
        char after[192];
        snprintf(after, sizeof(after), "' is not allowed over the REST API: %s", reason);
        deny(res, pool, "ERR command '", display_name(cmd, info, buf, sizeof(buf)), after);
        return;
    }
    if (check_key_sizes(p, cmd, info, pool, res) != 0)
        return;
    res->is_write = !read_only && may_write(info);
    if ((bits & POL_SCAN_FAMILY) != 0) {
        if (scan_options(p, cmd, (bits & POL_SCAN) != 0 ? 2 : 3, (bits & POL_SCAN) != 0, pool))
            rewrite_scan_withtype(cmd, pool);
    } else if ((bits & POL_COPY) != 0 && cmd->argc >= 3 && cmd->argvlen[1] == cmd->argvlen[2] &&
               memcmp(cmd->argv[1], cmd->argv[2], cmd->argvlen[1]) == 0 && !has_arg(cmd, 3, "db")) {
        res->verdict = KVE_POLICY_REPLY_INTEGER; /* Upstash: copying a key onto itself copies nothing */
        res->integer = 0;
    }
}
