/* SPDX-License-Identifier: MIT */
/* Tests for the KV REST command policy (handlers/kv_policy.c). */
#include "test.h"
#include "handlers/kv_policy.h"

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
    char *deny[] = {"subscribe", "monitor"};
    kve_rest_policy_t p = defaults;
    size_t i;

    /* the endpoint's own command goes; as a command it is still refused with the pointer to the endpoint */
    for (i = 0; i != sizeof(endpoints) / sizeof(endpoints[0]); ++i) {
        CHECK_EQ_INT(apply(&defaults, KVE_POLICY_F_STREAM, (const char *[]){endpoints[i], NULL}, NULL).verdict, KVE_POLICY_SEND);
        CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){endpoints[i], "x", NULL}, NULL).verdict, KVE_POLICY_DENY);
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
    kve_policy_result_t r = apply(&defaults, 0, (const char *[]){"COPY", "k", "k", NULL}, NULL);
    CHECK_EQ_INT(r.verdict, KVE_POLICY_REPLY_INTEGER);
    CHECK_EQ_INT(r.integer, 0);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"COPY", "k", "j", NULL}, NULL).verdict, KVE_POLICY_SEND);
    CHECK_EQ_INT(apply(&defaults, 0, (const char *[]){"COPY", "k", "k", "DB", "1", NULL}, NULL).verdict, KVE_POLICY_SEND);
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
}
