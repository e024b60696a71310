/* SPDX-License-Identifier: MIT */
/* Tests for the KV REST command policy (handlers/kv_policy.c). */
#include "test.h"
#include "handlers/kv_policy.h"

#include <strings.h>

static kve_rest_cmd_t make_cmd(h2o_mem_pool_t *pool, const char *const *args)
{
    kve_rest_cmd_t cmd = {0};
    size_t i, n = 0;
    while (args[n] != NULL)
        ++n;
    cmd.argc = n;
    cmd.argv = h2o_mem_alloc_pool(pool, sizeof(*cmd.argv) * n);
    cmd.argvlen = h2o_mem_alloc_pool(pool, sizeof(*cmd.argvlen) * n);
    for (i = 0; i != n; ++i) {
        cmd.argv[i] = args[i];
        cmd.argvlen[i] = strlen(args[i]);
    }
    return cmd;
}

static kve_policy_result_t apply(const kve_rest_policy_t *p, unsigned flags, const char *const *args, kve_rest_cmd_t *out)
{
    static h2o_mem_pool_t pool;
    static int inited;
    kve_policy_result_t res;
    kve_rest_cmd_t cmd;
    if (!inited) {
        h2o_mem_init_pool(&pool);
        inited = 1;
    }
    cmd = make_cmd(&pool, args);
    kve_rest_policy_apply(p, flags, &cmd, &pool, &res);
    if (out != NULL)
        *out = cmd;
    return res;
}

static const kve_rest_policy_t defaults = {0, 0, 32768, 1000};

TEST(lookup)
{
    const kve_cmd_info_t *get = kve_cmd_lookup("GeT", 3), *sub = kve_cmd_lookup("config|get", 10);
    CHECK_NOT_NULL(get);
    CHECK_EQ_STR(get->name, "get");
    CHECK_EQ_INT(get->arity, 2);
    CHECK((get->flags & KVE_CMDF_READONLY) != 0);
    CHECK_NOT_NULL(sub);
    CHECK((sub->flags & KVE_CMDF_ADMIN) != 0);
    CHECK_NULL(kve_cmd_lookup("nosuchcmd", 9));
    CHECK_NULL(kve_cmd_lookup("ge", 2));
    CHECK_NULL(kve_cmd_lookup("gett", 4));
}

TEST(allowed_and_writes)
{
    kve_policy_result_t r = apply(&defaults, 0, (const char *[]){"GET", "k", NULL}, NULL);
    CHECK_EQ_INT(r.verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(r.is_write, 0);
    r = apply(&defaults, 0, (const char *[]){"set", "k", "v", NULL}, NULL);
    CHECK_EQ_INT(r.verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(r.is_write, 1);
    r = apply(&defaults, 0, (const char *[]){"EVAL", "return 1", "0", NULL}, NULL);
    CHECK_EQ_INT(r.is_write, 1); /* scripts may write */
    r = apply(&defaults, 0, (const char *[]){"EVAL_RO", "return 1", "0", NULL}, NULL);
    CHECK_EQ_INT(r.is_write, 0);
    r = apply(&defaults, 0, (const char *[]){"MODULE_CMD", "x", NULL}, NULL);
    CHECK_EQ_INT(r.verdict, KVE_POLICY_SEND); /* unknown: Redis answers */
    CHECK_EQ_INT(r.is_write, 1);
}

TEST(refusals)
{
    static const struct {
        const char *args[5]; /* NULL-terminated */
        const char *error;
    } cases[] = {
        {{"BLPOP", "l", "1"},
         "ERR command 'blpop' is not allowed over the REST API: blocking commands would hold the shared connection"},
        {{"watch", "k"}, "ERR command 'watch' is not allowed over the REST API: send transactions to /multi-exec"},
        {{"MULTI"}, "ERR command 'multi' is not allowed over the REST API: send transactions to /multi-exec"},
        {{"SELECT", "1"},
         "ERR command 'select' is not allowed over the REST API: connections are shared; use a database per kvedge"},
        {{"subscribe", "ch"}, "ERR command 'subscribe' is not allowed over the REST API: use the /subscribe/<channel> endpoint"},
        {{"KEYS", "*"},
         "ERR command 'keys' is not allowed over the REST API: it is disabled; use SCAN (or set kv.allow_keys: true)"},
        {{"FLUSHDB"}, "ERR command 'flushdb' is not allowed over the REST API: it is disabled (set kv.allow_flush: true)"},
        {{"CONFIG", "GET", "maxmemory"},
         "ERR command 'config|get' is not allowed over the REST API: administrative commands are not allowed (list it in "
         "kv.allow_commands to allow it)"},
        {{"XREAD", "BLOCK", "0", "STREAMS"},
         "ERR command 'xread' is not allowed over the REST API: blocking commands would hold the "
         "shared connection (drop BLOCK)"},
    };
    size_t i;
    for (i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        kve_policy_result_t r = apply(&defaults, 0, cases[i].args, NULL);
        CHECK_EQ_INT(r.verdict, KVE_POLICY_DENY);
        CHECK_EQ_STR(r.error, cases[i].error);
    }
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"XREAD", "STREAMS", "s", "0", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

TEST(configured_lists)
{
    char *deny[] = {"get"}, *allow[] = {"config|get", "keys"};
    kve_rest_policy_t p = defaults;
    p.deny.entries = deny, p.deny.size = 1;
    p.allow.entries = allow, p.allow.size = 2;
    CHECK_EQ_STR(apply(&p, 0, (const char *[]){"GET", "k", NULL}, NULL).error,
                 "ERR command 'get' is disabled by the server's policy");
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"config", "get", "x", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"config", "set", "x", "y", NULL}, NULL).verdict, KVE_POLICY_DENY);
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"keys", "*", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"watch", "k", NULL}, NULL).verdict, KVE_POLICY_DENY); /* cannot be re-allowed */
    p.allow_keys = 1, p.allow_flush = 1, p.allow.size = 0;
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"KEYS", "*", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"FLUSHALL", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

TEST(read_only)
{
    static const char *const allowed[][3] = {
        {"GET", "k"},         {"ping"},       {"ECHO", "x"}, {"hgetall", "h"}, {"EVAL_RO", "return 1", "0"},
        {"zrange", "z", "0"}, {"strlen", "k"}};
    static const char *const refused[][3] = {{"SET", "k", "v"},         {"DEL", "k"},          {"KEYS", "*"}, {"SCAN", "0"},
                                             {"EVAL", "return 1", "0"}, {"PUBLISH", "c", "m"}, {"nosuchcmd"}};
    kve_rest_policy_t p = defaults;
    size_t i;
    p.allow_keys = 1;
    for (i = 0; i != sizeof(allowed) / sizeof(allowed[0]); ++i) {
        const char *args[4] = {allowed[i][0], allowed[i][1], allowed[i][2], NULL};
        kve_policy_result_t r = apply(&p, KVE_POLICY_F_READ_ONLY, args, NULL);
        CHECK_EQ_INT(r.verdict, KVE_POLICY_SEND);
        CHECK_EQ_INT(r.is_write, 0);
    }
    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        const char *args[4] = {refused[i][0], refused[i][1], refused[i][2], NULL};
        CHECK_EQ_INT(apply(&p, KVE_POLICY_F_READ_ONLY, args, NULL).verdict, KVE_POLICY_DENY);
    }
    CHECK_EQ_STR(apply(&p, KVE_POLICY_F_READ_ONLY, (const char *[]){"SET", "k", "v", NULL}, NULL).error,
                 "NOPERM this user has no permissions to run the 'set' command");
}

TEST(stream_endpoints)
{
    static const char *const endpoints[] = {"subscribe", "psubscribe", "monitor"};
    const unsigned ro_stream = KVE_POLICY_F_READ_ONLY | KVE_POLICY_F_STREAM;
    char *deny[] = {"subscribe", "monitor"}, *allow[] = {"monitor"};
    kve_rest_policy_t p = defaults, with_monitor = defaults;
    size_t i;

    /* the endpoint's own command goes (/monitor only when allowed); as a command it is still refused with the
     * pointer to the endpoint */
    with_monitor.allow.entries = allow, with_monitor.allow.size = 1;
    for (i = 0; i != sizeof(endpoints) / sizeof(endpoints[0]); ++i) {
        CHECK_EQ_INT(apply(&with_monitor, KVE_POLICY_F_STREAM, (const char *[]){endpoints[i], NULL}, NULL).verdict,
                     KVE_POLICY_SEND);
        CHECK_EQ_INT(apply(&with_monitor, 0, (const char *[]){endpoints[i], "x", NULL}, NULL).verdict, KVE_POLICY_DENY);
    }
    /* read-only tokens may subscribe, not monitor */
    CHECK_EQ_INT(apply(&defaults, ro_stream, (const char *[]){"SUBSCRIBE", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, ro_stream, (const char *[]){"psubscribe", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_STR(apply(&defaults, ro_stream, (const char *[]){"monitor", NULL}, NULL).error,
                 "NOPERM this user has no permissions to run the 'monitor' command");
    CHECK_EQ_STR(apply(&defaults, KVE_POLICY_F_READ_ONLY, (const char *[]){"subscribe", "ch", NULL}, NULL).error,
                 "ERR command 'subscribe' is not allowed over the REST API: use the /subscribe/<channel> endpoint");
    /* the flag lifts nothing else */
    CHECK_EQ_INT(apply(&defaults, KVE_POLICY_F_STREAM, (const char *[]){"ssubscribe", NULL}, NULL).verdict, KVE_POLICY_DENY);
    CHECK_EQ_INT(apply(&defaults, KVE_POLICY_F_STREAM, (const char *[]){"blpop", "l", "0", NULL}, NULL).verdict, KVE_POLICY_DENY);
    CHECK_EQ_INT(apply(&defaults, KVE_POLICY_F_STREAM, (const char *[]){"config", "get", "x", NULL}, NULL).verdict,
                 KVE_POLICY_DENY);
    /* configured refusals apply to the endpoints */
    p.deny.entries = deny, p.deny.size = 2;
    CHECK_EQ_STR(apply(&p, KVE_POLICY_F_STREAM, (const char *[]){"subscribe", NULL}, NULL).error,
                 "ERR command 'subscribe' is disabled by the server's policy");
    CHECK_EQ_STR(apply(&p, ro_stream, (const char *[]){"monitor", NULL}, NULL).error,
                 "ERR command 'monitor' is disabled by the server's policy");
    CHECK_EQ_INT(apply(&p, KVE_POLICY_F_STREAM, (const char *[]){"psubscribe", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

TEST(key_size)
{
    kve_rest_policy_t p = defaults;
    char big[40];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    p.max_key_size = 32;
    CHECK_EQ_STR(apply(&p, 0, (const char *[]){"SET", big, "v", NULL}, NULL).error,
                 "ERR max key size exceeded. Limit: 32 bytes, Actual: 39 bytes");
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"SET", "small", big, NULL}, NULL).verdict,
                 KVE_POLICY_SEND); /* values are not keys */
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"MSET", "a", "1", big, "2", NULL}, NULL).verdict, KVE_POLICY_DENY);
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"MSET", "a", big, "b", "2", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

TEST(scan_rewrites)
{
    kve_rest_cmd_t cmd;
    kve_policy_result_t r = apply(&defaults, 0, (const char *[]){"SCAN", "0", "MATCH", "a*", "COUNT", "999999", NULL}, &cmd);
    CHECK_EQ_INT(r.verdict, KVE_POLICY_SEND);
    CHECK_EQ_MEM(cmd.argv[5], cmd.argvlen[5], "1000", 4);
    r = apply(&defaults, 0, (const char *[]){"HSCAN", "h", "0", "count", "5000", NULL}, &cmd);
    CHECK_EQ_MEM(cmd.argv[4], cmd.argvlen[4], "1000", 4);
    r = apply(&defaults, 0, (const char *[]){"SCAN", "0", "COUNT", "10", NULL}, &cmd);
    CHECK_EQ_MEM(cmd.argv[3], cmd.argvlen[3], "10", 2);
    r = apply(&defaults, 0, (const char *[]){"SCAN", "0", "WITHTYPE", "MATCH", "x", NULL}, &cmd);
    CHECK_EQ_MEM(cmd.argv[0], cmd.argvlen[0], "EVAL", 4);
    CHECK_EQ_INT(cmd.argc, 6); /* EVAL script 0 cursor MATCH x */
    CHECK_EQ_MEM(cmd.argv[3], cmd.argvlen[3], "0", 1);
    CHECK_EQ_MEM(cmd.argv[5], cmd.argvlen[5], "x", 1);
    CHECK_EQ_INT(r.is_write, 0);
}

/* every argument of `cmd` from `from` on equals `expect` (NULL-terminated), and there are no more */
static void check_args(const kve_rest_cmd_t *cmd, size_t from, const char *const *expect)
{
    size_t i;
    for (i = 0; expect[i] != NULL; ++i) {
        CHECK(from + i < cmd->argc);
        if (from + i < cmd->argc)
            CHECK_EQ_MEM(cmd->argv[from + i], cmd->argvlen[from + i], expect[i], strlen(expect[i]));
    }
    CHECK_EQ_UINT(cmd->argc, from + i);
}

/* options are read as Redis reads them (MATCH, COUNT and TYPE take a value; other words stand alone), so
 * a flag before COUNT or a MATCH value "count" cannot hide a COUNT from the cap */
TEST(scan_option_orders)
{
    kve_rest_cmd_t cmd;
    apply(&defaults, 0, (const char *[]){"SCAN", "0", "WITHTYPE", "COUNT", "1000000", NULL}, &cmd);
    CHECK_EQ_MEM(cmd.argv[0], cmd.argvlen[0], "EVAL", 4);
    check_args(&cmd, 3, (const char *[]){"0", "COUNT", "1000", NULL});
    apply(&defaults, 0, (const char *[]){"SCAN", "0", "COUNT", "1000000", "WITHTYPE", NULL}, &cmd);
    check_args(&cmd, 3, (const char *[]){"0", "COUNT", "1000", NULL});
    apply(&defaults, 0, (const char *[]){"SCAN", "0", "MATCH", "count", "COUNT", "1000000", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"SCAN", "0", "MATCH", "count", "COUNT", "1000", NULL});
    apply(&defaults, 0, (const char *[]){"SCAN", "0", "MATCH", "COUNT", "COUNT", "1000000", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"SCAN", "0", "MATCH", "COUNT", "COUNT", "1000", NULL});
    apply(&defaults, 0, (const char *[]){"SCAN", "0", "TYPE", "string", "COUNT", "5000", "COUNT", "7000", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"SCAN", "0", "TYPE", "string", "COUNT", "1000", "COUNT", "1000", NULL});
    /* a MATCH value "withtype" is a pattern, not the flag */
    apply(&defaults, 0, (const char *[]){"SCAN", "0", "MATCH", "withtype", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"SCAN", "0", "MATCH", "withtype", NULL});
    apply(&defaults, 0, (const char *[]){"HSCAN", "h", "0", "NOVALUES", "COUNT", "5000", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"HSCAN", "h", "0", "NOVALUES", "COUNT", "1000", NULL});
    apply(&defaults, 0, (const char *[]){"ZSCAN", "z", "0", "NOSCORES", "MATCH", "count", "COUNT", "99999", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"ZSCAN", "z", "0", "NOSCORES", "MATCH", "count", "COUNT", "1000", NULL});
    apply(&defaults, 0, (const char *[]){"SSCAN", "s", "0", "MATCH", "x", "count", "2000", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"SSCAN", "s", "0", "MATCH", "x", "count", "1000", NULL});
    /* the key of HSCAN may be called "count": options start after the cursor */
    apply(&defaults, 0, (const char *[]){"HSCAN", "count", "0", "COUNT", "3000", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"HSCAN", "count", "0", "COUNT", "1000", NULL});
    /* WITHTYPE is Upstash's for SCAN only: elsewhere Redis reports it; a COUNT without a value too */
    apply(&defaults, 0, (const char *[]){"HSCAN", "h", "0", "WITHTYPE", "COUNT", "3000", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"HSCAN", "h", "0", "WITHTYPE", "COUNT", "1000", NULL});
    apply(&defaults, 0, (const char *[]){"SCAN", "0", "COUNT", NULL}, &cmd);
    check_args(&cmd, 0, (const char *[]){"SCAN", "0", "COUNT", NULL});
}

TEST(copy_onto_itself)
{
    char *allow[] = {"copy"};
    kve_rest_policy_t with_copy = defaults;
    with_copy.allow.entries = allow, with_copy.allow.size = 1;
    kve_policy_result_t r = apply(&defaults, 0, (const char *[]){"COPY", "k", "k", NULL}, NULL);
    CHECK_EQ_INT(r.verdict, KVE_POLICY_REPLY_INTEGER);
    CHECK_EQ_INT(r.integer, 0);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"COPY", "k", "j", NULL}, NULL).verdict, KVE_POLICY_SEND);
    /* COPY ... DB goes to Redis when allowed (issue 15), even onto the same key name */
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"COPY", "k", "k", "DB", "1", NULL}, NULL).verdict, KVE_POLICY_DENY);
    CHECK_EQ_INT(apply(&with_copy, 0, (const char *[]){"COPY", "k", "k", "DB", "1", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

/* `n` arguments with explicit lengths (names may hold NUL bytes) */
static kve_policy_result_t apply_n(const kve_rest_policy_t *p, unsigned flags, size_t n, const char *const *args,
                                   const size_t *lens, kve_rest_cmd_t *out)
{
    static h2o_mem_pool_t pool;
    static int inited;
    kve_policy_result_t res;
    kve_rest_cmd_t cmd = {n, NULL, NULL};
    if (!inited) {
        h2o_mem_init_pool(&pool);
        inited = 1;
    }
    cmd.argv = h2o_mem_alloc_pool(&pool, sizeof(*cmd.argv) * n);
    cmd.argvlen = h2o_mem_alloc_pool(&pool, sizeof(*cmd.argvlen) * n);
    memcpy(cmd.argv, args, sizeof(*cmd.argv) * n);
    memcpy(cmd.argvlen, lens, sizeof(*cmd.argvlen) * n);
    kve_rest_policy_apply(p, flags, &cmd, &pool, &res);
    if (out != NULL)
        *out = cmd;
    return res;
}

/* issue 1: the SCAN family with nothing after the key (or no cursor) must reach Redis as it came, so that
 * Redis answers with its arity error; the argument count must never grow past the real arguments */
TEST(issue1_scan_without_options)
{
    static const char *const cases[][3] = {{"SCAN"}, {"HSCAN", "h"}, {"SSCAN"}, {"ZSCAN", "k"}, {"hscan"}, {"SCAN", "WITHTYPE"}};
    size_t i, n;
    for (i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *args[4] = {cases[i][0], cases[i][1], cases[i][2], NULL};
        kve_rest_cmd_t cmd;
        for (n = 0; args[n] != NULL; ++n)
            ;
        if (strcasecmp(args[0], "scan") != 0) { /* read-only tokens may not SCAN */
            CHECK_EQ_INT(apply(&defaults, KVE_POLICY_F_READ_ONLY, args, &cmd).verdict, KVE_POLICY_SEND);
            check_args(&cmd, 0, args);
            CHECK_EQ_UINT(cmd.argc, n);
        }
        CHECK_EQ_INT(apply(&defaults, 0, args, &cmd).verdict, KVE_POLICY_SEND);
        check_args(&cmd, 0, args);
        CHECK_EQ_UINT(cmd.argc, n);
    }
}

/* issue 2: names Redis would read differently (strcasecmp stops at a NUL) or that are no command name at all */
TEST(issue2_name_alphabet)
{
    static const char *const expect = "ERR invalid command name: command names are letters, digits, '_', '-' and '.'";
    static const char *const names[] = {"FLUSHALL", "KEYS", "PING", "GET", "SHUTDOWN", "DEBUG"};
    char *deny[] = {"get", "ping"};
    kve_rest_policy_t p = defaults;
    char buf[32];
    size_t i, n;
    int c;

    p.deny.entries = deny, p.deny.size = 2;
    for (i = 0; i != sizeof(names) / sizeof(names[0]); ++i) {
        for (n = 0; n != 500; ++n) {
            size_t len = (size_t)snprintf(buf, sizeof(buf), "%s%c%zu", names[i], '\0', n);
            kve_policy_result_t r = apply_n(&p, 0, 2, (const char *[]){buf, "k"}, (size_t[]){len, 1}, NULL);
            CHECK_EQ_INT(r.verdict, KVE_POLICY_DENY);
            CHECK_EQ_STR(r.error, expect);
        }
    }
    /* every byte outside the alphabet, alone, first, in the middle and last */
    for (c = 0; c != 256; ++c) {
        int valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        const char *forms[4][1];
        char one[1] = {(char)c}, first[4] = {(char)c, 'g', 'e', 't'}, mid[4] = {'g', 'e', (char)c, 't'},
             last[4] = {'g', 'e', 't', (char)c};
        size_t lens[4] = {1, 4, 4, 4};
        forms[0][0] = one, forms[1][0] = first, forms[2][0] = mid, forms[3][0] = last;
        for (i = 0; i != 4; ++i) {
            kve_policy_result_t r = apply_n(&defaults, 0, 1, forms[i], lens + i, NULL);
            if (valid) {
                CHECK(r.verdict != KVE_POLICY_DENY || strcmp(r.error, expect) != 0);
            } else {
                CHECK_EQ_INT(r.verdict, KVE_POLICY_DENY);
                CHECK_EQ_STR(r.error, expect);
            }
        }
    }
    /* module commands have dots, some Redis commands dashes or underscores */
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"json.get", "k", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"RESTORE-ASKING", "k", "0", "x", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"bitfield_ro", "k", NULL}, NULL).verdict, KVE_POLICY_SEND);
    /* a subcommand is not a command name */
    CHECK_EQ_STR(apply(&defaults, 0, (const char *[]){"config|get", "x", NULL}, NULL).error, expect);
}

/* issue 2: a NUL in a subcommand name, and unknown subcommands of container commands, get Redis' own error */
TEST(issue2_subcommands)
{
    static const char *const containers[][2] = {
        {"CONFIG", "GET"},   {"config", "set"},     {"ACL", "GETUSER"},   {"SCRIPT", "DEBUG"},
        {"CLIENT", "LIST"},  {"FUNCTION", "FLUSH"}, {"OBJECT", "FREQ"},   {"MEMORY", "USAGE"},
        {"XINFO", "STREAM"}, {"XGROUP", "CREATE"},  {"PUBSUB", "NUMSUB"}, {"COMMAND", "INFO"},
        {"MODULE", "LOAD"},  {"LATENCY", "RESET"},  {"SLOWLOG", "GET"},   {"CLUSTER", "INFO"}};
    char *allow[] = {"config", "acl", "client", "script", "function", "module", "latency", "slowlog", "cluster"};
    kve_rest_policy_t p = defaults;
    char buf[32], expect[96], upper[16];
    size_t i, j, n;

    p.allow.entries = allow, p.allow.size = sizeof(allow) / sizeof(allow[0]);
    for (i = 0; i != sizeof(containers) / sizeof(containers[0]); ++i) {
        for (j = 0; containers[i][0][j] != '\0'; ++j)
            upper[j] = (char)(containers[i][0][j] & ~0x20);
        upper[j] = '\0';
        snprintf(expect, sizeof(expect), "ERR unknown subcommand (subcommand names are letters and '-'). Try %s HELP.", upper);
        for (n = 0; n != 200; ++n) {
            size_t len = (size_t)snprintf(buf, sizeof(buf), "%s%c%zu", containers[i][1], '\0', n);
            kve_policy_result_t r =
                apply_n(&p, 0, 3, (const char *[]){containers[i][0], buf, "x"}, (size_t[]){strlen(containers[i][0]), len, 1}, NULL);
            CHECK_EQ_INT(r.verdict, KVE_POLICY_DENY);
            CHECK_EQ_STR(r.error, expect);
        }
        snprintf(expect, sizeof(expect), "ERR unknown subcommand 'NoSuch'. Try %s HELP.", upper);
        CHECK_EQ_STR(apply(&p, 0, (const char *[]){containers[i][0], "NoSuch", "x", NULL}, NULL).error, expect);
        CHECK_EQ_STR(apply(&p, KVE_POLICY_F_READ_ONLY, (const char *[]){containers[i][0], "NoSuch", NULL}, NULL).error, expect);
    }
    /* known subcommands in any case still work; a container alone goes to Redis, which answers its arity error */
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"Config", "gEt", "maxmemory", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"CLUSTER", "Count-Failure-Reports", "id", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"CONFIG", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"COMMAND", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

/* issue 3: SCRIPT DEBUG would take over the shared connection (or freeze Redis): no configuration lifts it */
TEST(issue3_script_debug)
{
    char *allow[] = {"script", "script|debug"};
    kve_rest_policy_t p = defaults;
    static const char *const expect =
        "ERR command 'script|debug' is not allowed over the REST API: the Lua debugger takes over the connection (SYNC "
        "blocks the whole server)";
    size_t i;
    CHECK_EQ_STR(apply(&defaults, 0, (const char *[]){"SCRIPT", "DEBUG", "SYNC", NULL}, NULL).error, expect);
    CHECK_EQ_STR(apply(&defaults, 0, (const char *[]){"script", "debug", "yes", NULL}, NULL).error, expect);
    for (i = 1; i <= 2; ++i) {
        p.allow.entries = allow + 2 - i, p.allow.size = i;
        CHECK_EQ_STR(apply(&p, 0, (const char *[]){"SCRIPT", "DEBUG", "SYNC", NULL}, NULL).error, expect);
    }
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"SCRIPT", "LOAD", "return 1", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, KVE_POLICY_F_READ_ONLY, (const char *[]){"SCRIPT", "DEBUG", "NO", NULL}, NULL).verdict,
                 KVE_POLICY_DENY);
}

/* issue 15: commands that reach outside the database kvedge serves, or wipe what other clients rely on, go
 * only when kv.allow_commands lists them; read-only tokens never get them */
TEST(issue15_configurable_refusals)
{
    static const struct {
        const char *args[8];
        const char *allow; /* the kv.allow_commands entry that lifts the refusal */
        const char *error;
    } cases[] = {
        {{"MIGRATE", "127.0.0.1", "6380", "k", "0", "1000"},
         "migrate",
         "ERR command 'migrate' is not allowed over the REST API: it makes Redis connect to another server (list migrate in "
         "kv.allow_commands to allow it)"},
        {{"MOVE", "k", "1"},
         "move",
         "ERR command 'move' is not allowed over the REST API: it moves keys to another database (list move in "
         "kv.allow_commands to allow it)"},
        {{"COPY", "a", "b", "DB", "1"},
         "copy",
         "ERR command 'copy' is not allowed over the REST API: COPY ... DB copies to another database (list copy in "
         "kv.allow_commands to allow it)"},
        {{"copy", "a", "b", "REPLACE", "db", "0"},
         "copy",
         "ERR command 'copy' is not allowed over the REST API: COPY ... DB copies to another database (list copy in "
         "kv.allow_commands to allow it)"},
        {{"SCRIPT", "FLUSH"},
         "script|flush",
         "ERR command 'script|flush' is not allowed over the REST API: it empties the script cache of every client "
         "(list script|flush in kv.allow_commands to allow it)"},
        {{"FUNCTION", "FLUSH", "ASYNC"},
         "function|flush",
         "ERR command 'function|flush' is not allowed over the REST API: it deletes every function library (list "
         "function|flush in kv.allow_commands to allow it)"},
        {{"FUNCTION", "RESTORE", "payload", "FLUSH"},
         "function|flush",
         "ERR command 'function|restore' is not allowed over the REST API: FUNCTION RESTORE ... FLUSH deletes every "
         "function library (list function|flush in kv.allow_commands to allow it)"},
    };
    kve_rest_policy_t p = defaults;
    size_t i;

    for (i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char *allow[1] = {(char *)cases[i].allow};
        kve_policy_result_t r = apply(&defaults, 0, cases[i].args, NULL);
        CHECK_EQ_INT(r.verdict, KVE_POLICY_DENY);
        CHECK_EQ_STR(r.error, cases[i].error);
        p.allow.entries = allow, p.allow.size = 1;
        CHECK_EQ_INT(apply(&p, 0, cases[i].args, NULL).verdict, KVE_POLICY_SEND);
        r = apply(&p, KVE_POLICY_F_READ_ONLY, cases[i].args, NULL);
        CHECK_EQ_INT(r.verdict, KVE_POLICY_DENY);
        CHECK(strncmp(r.error, "NOPERM ", 7) == 0);
    }
    /* what stays allowed by default */
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"COPY", "a", "b", "REPLACE", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"FUNCTION", "RESTORE", "payload", "REPLACE", NULL}, NULL).verdict,
                 KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"SCRIPT", "EXISTS", "abc", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

/* issue 15: the /monitor endpoint only when kv.allow_commands lists monitor, and never for read-only tokens */
TEST(issue15_monitor_endpoint)
{
    char *allow[] = {"monitor"};
    kve_rest_policy_t p = defaults;
    CHECK_EQ_STR(apply(&defaults, KVE_POLICY_F_STREAM, (const char *[]){"monitor", NULL}, NULL).error,
                 "ERR command 'monitor' is not allowed over the REST API: it shows every command of every client with its "
                 "arguments (list monitor in kv.allow_commands to allow /monitor)");
    p.allow.entries = allow, p.allow.size = 1;
    CHECK_EQ_INT(apply(&p, KVE_POLICY_F_STREAM, (const char *[]){"monitor", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_STR(apply(&p, KVE_POLICY_F_STREAM | KVE_POLICY_F_READ_ONLY, (const char *[]){"monitor", NULL}, NULL).error,
                 "NOPERM this user has no permissions to run the 'monitor' command");
    /* as a command it stays refused (it would take over the shared connection) */
    CHECK_EQ_INT(apply(&p, 0, (const char *[]){"MONITOR", NULL}, NULL).verdict, KVE_POLICY_DENY);
    /* the subscribe endpoints need nothing */
    CHECK_EQ_INT(apply(&defaults, KVE_POLICY_F_STREAM, (const char *[]){"subscribe", NULL}, NULL).verdict, KVE_POLICY_SEND);
}

/* issue 2: the policy's own lookup must not stop at a NUL either ("config|get\0x" is not config|get) */
TEST(issue2_lookup_nul)
{
    static const char *const names[] = {"get", "config|get", "script|debug", "flushall", "keys", "acl|getuser"};
    char buf[40];
    size_t i, n;
    for (i = 0; i != sizeof(names) / sizeof(names[0]); ++i) {
        for (n = 0; n != 2000; ++n) {
            size_t len = (size_t)snprintf(buf, sizeof(buf), "%s%c%zu", names[i], '\0', n);
            CHECK_NULL(kve_cmd_lookup(buf, len));
        }
        CHECK_NULL(kve_cmd_lookup(buf, strlen(names[i]) + 1)); /* the name and a NUL */
        CHECK_NOT_NULL(kve_cmd_lookup(buf, strlen(names[i])));
    }
}

/* the alphabet is derived from the command table: it must be what the error message says */
TEST(name_alphabet_is_documented)
{
    kve_rest_policy_t p = defaults;
    int c;
    p.allow_keys = 1;
    for (c = 1; c != 256; ++c) {
        char name[2] = {(char)c, 'x'};
        int cmd_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        int sub_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        kve_policy_result_t r = apply_n(&p, 0, 2, (const char *[]){name, "k"}, (size_t[]){2, 1}, NULL);
        CHECK_EQ_INT(r.verdict == KVE_POLICY_DENY && strncmp(r.error, "ERR invalid command name", 24) == 0, !cmd_ok);
        r = apply_n(&p, 0, 2, (const char *[]){"config", name}, (size_t[]){6, 2}, NULL);
        CHECK_EQ_INT(r.verdict, KVE_POLICY_DENY);
        CHECK_EQ_INT(strncmp(r.error, "ERR unknown subcommand '", 24) == 0, sub_ok); /* echoed only when plausible */
    }
}

/* the command table, and each subcommand's container */
TEST(command_table)
{
    size_t n, i, containers = 0, subcommands = 0;
    const kve_cmd_info_t *t = kve_cmd_table(&n);
    CHECK(n > 300);
    for (i = 0; i != n; ++i) {
        const char *bar = strchr(t[i].name, '|');
        const kve_cmd_info_t *top = kve_cmd_container(t + i);
        CHECK(kve_cmd_lookup(t[i].name, strlen(t[i].name)) == t + i);
        if (i != 0)
            CHECK(strcmp(t[i - 1].name, t[i].name) < 0);
        containers += (t[i].flags & KVE_CMDF_CONTAINER) != 0;
        if (bar == NULL) {
            CHECK(top == t + i);
            continue;
        }
        ++subcommands;
        CHECK((top->flags & KVE_CMDF_CONTAINER) != 0);
        CHECK_EQ_MEM(top->name, strlen(top->name), t[i].name, (size_t)(bar - t[i].name));
    }
    CHECK(containers >= 15);
    CHECK(subcommands > 100);
    CHECK_EQ_STR(kve_cmd_container(kve_cmd_lookup("client|no-evict", 15))->name, "client");
}

/* kve_rest_policy_name_allowed: examples, then exactly what kve_rest_policy_apply decides for every entry of
 * the table as a bare command, under several configurations and token classes */
TEST(name_allowed)
{
    char *deny[] = {"get", "xinfo"}, *allow[] = {"config|get", "migrate", "monitor", "script", "script|debug", "acl"};
    kve_rest_policy_t configured = defaults;
    const kve_rest_policy_t *policies[2] = {&defaults, &configured};
    static const unsigned flag_sets[] = {0, KVE_POLICY_F_READ_ONLY, KVE_POLICY_F_STREAM,
                                         KVE_POLICY_F_STREAM | KVE_POLICY_F_READ_ONLY};
    size_t n, i, j, f;
    const kve_cmd_info_t *t = kve_cmd_table(&n);
#define ALLOWED(p, flags, name) kve_rest_policy_name_allowed(p, flags, kve_cmd_lookup(name, strlen(name)))

    configured.deny.entries = deny, configured.deny.size = 2;
    configured.allow.entries = allow, configured.allow.size = 6;
    configured.allow_flush = 1;
    CHECK(ALLOWED(&defaults, 0, "get"));
    CHECK(ALLOWED(&defaults, KVE_POLICY_F_READ_ONLY, "get"));
    CHECK(!ALLOWED(&configured, 0, "get"));
    CHECK(ALLOWED(&defaults, 0, "set"));
    CHECK(!ALLOWED(&defaults, KVE_POLICY_F_READ_ONLY, "set"));
    CHECK(!ALLOWED(&defaults, 0, "config|get"));
    CHECK(ALLOWED(&configured, 0, "config|get"));
    CHECK(!ALLOWED(&configured, KVE_POLICY_F_READ_ONLY, "config|get"));
    CHECK(!ALLOWED(&configured, 0, "config|set"));
    CHECK(!ALLOWED(&configured, 0, "script|debug")); /* never */
    CHECK(ALLOWED(&configured, 0, "script|flush"));  /* the container is listed */
    CHECK(!ALLOWED(&defaults, 0, "script|flush"));
    CHECK(!ALLOWED(&defaults, 0, "migrate"));
    CHECK(ALLOWED(&configured, 0, "migrate"));
    CHECK(!ALLOWED(&defaults, 0, "blpop"));
    CHECK(ALLOWED(&defaults, 0, "xread")); /* BLOCK is an argument */
    CHECK(ALLOWED(&defaults, 0, "copy"));  /* DB is an argument */
    CHECK(!ALLOWED(&defaults, 0, "keys"));
    CHECK(!ALLOWED(&defaults, 0, "flushall"));
    CHECK(ALLOWED(&configured, 0, "flushall"));
    CHECK(!ALLOWED(&configured, 0, "xinfo|stream")); /* the container is denied */
    CHECK(!ALLOWED(&configured, 0, "monitor"));      /* as a command: never */
    CHECK(ALLOWED(&configured, KVE_POLICY_F_STREAM, "monitor"));
    CHECK(!ALLOWED(&defaults, KVE_POLICY_F_STREAM, "monitor"));
    CHECK(!ALLOWED(&configured, KVE_POLICY_F_STREAM | KVE_POLICY_F_READ_ONLY, "monitor"));
    CHECK(ALLOWED(&configured, 0, "acl|setuser")); /* the container is listed */
    CHECK(!ALLOWED(&defaults, 0, "acl|setuser"));
#undef ALLOWED

    for (i = 0; i != n; ++i) {
        const kve_cmd_info_t *top = kve_cmd_container(t + i);
        const char *args[2];
        size_t lens[2], argc = 1;
        if (top != t + i) {
            args[0] = top->name, lens[0] = strlen(top->name);
            args[1] = t[i].name + lens[0] + 1, lens[1] = strlen(args[1]);
            argc = 2;
        } else {
            args[0] = t[i].name, lens[0] = strlen(t[i].name);
        }
        for (j = 0; j != 2; ++j) {
            for (f = 0; f != sizeof(flag_sets) / sizeof(flag_sets[0]); ++f) {
                int by_name = kve_rest_policy_name_allowed(policies[j], flag_sets[f], t + i);
                kve_policy_result_t r = apply_n(policies[j], flag_sets[f], argc, args, lens, NULL);
                if (by_name != (r.verdict != KVE_POLICY_DENY))
                    fprintf(stderr, "    %s (policy %zu, flags %u): by name %d, applied %s\n", t[i].name, j, flag_sets[f], by_name,
                            r.error != NULL ? r.error : "(sent)");
                CHECK_EQ_INT(by_name, r.verdict != KVE_POLICY_DENY);
            }
        }
    }
}

void kve_suite_kv_policy(void)
{
    kve_rest_policy_init();
    RUN(lookup);
    RUN(allowed_and_writes);
    RUN(refusals);
    RUN(configured_lists);
    RUN(read_only);
    RUN(stream_endpoints);
    RUN(key_size);
    RUN(scan_rewrites);
    RUN(scan_option_orders);
    RUN(copy_onto_itself);
    RUN(issue1_scan_without_options);
    RUN(issue2_name_alphabet);
    RUN(issue2_subcommands);
    RUN(issue3_script_debug);
    RUN(issue15_configurable_refusals);
    RUN(issue15_monitor_endpoint);
    RUN(issue2_lookup_nul);
    RUN(name_alphabet_is_documented);
    RUN(command_table);
    RUN(name_allowed);
}
