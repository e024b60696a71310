/* SPDX-License-Identifier: MIT */
/* Tests for the Redis ACL users that mirror the KV policy (handlers/kv_acl.c). */
#include "test.h"
#include "handlers/kv_acl.h"

static int has(const kve_strv_t *v, const char *s)
{
    for (size_t i = 0; i != v->n; ++i)
        if (strcmp(v->v[i], s) == 0)
            return 1;
    return 0;
}

static kve_rest_conf_t conf_with(int allow_keys, int allow_flush)
{
    kve_rest_conf_t conf = {0};
    conf.allow_keys = allow_keys;
    conf.allow_flush = allow_flush;
    conf.max_key_size = 32768;
    conf.scan_max_count = 1000;
    return conf;
}

TEST(read_write_user_removes_what_the_policy_refuses)
{
    kve_rest_conf_t conf = conf_with(0, 0);
    kve_acl_user_t u = {0};

    kve_rest_acl_build(&conf, 0, 0, &u);
    CHECK_EQ_STR(u.rules.v[0], "resetkeys");
    CHECK(has(&u.rules, "+@all"));
    CHECK(!has(&u.rules, "-@all"));
    for (const char *const *r = (const char *const[]){"-flushall", "-flushdb", "-keys", "-select", "-swapdb", "-shutdown", NULL};
         *r != NULL; ++r)
        CHECK(has(&u.rules, *r));
    /* allowed ones, and what kvedge needs itself */
    for (const char *const *r = (const char *const[]){"-get", "-set", "-eval", "-fcall", "-multi", "-exec", "-ping", "-script|kill",
                                                      "-subscribe", NULL};
         *r != NULL; ++r)
        CHECK(!has(&u.rules, *r));
    /* CONFIG HELP is harmless, the rest of CONFIG is not: one rule per subcommand */
    CHECK(has(&u.rules, "-config|get"));
    CHECK(has(&u.rules, "-config|set"));
    CHECK(!has(&u.rules, "-config"));
    /* the check at connect asks about what scripts could call, not about NOSCRIPT commands */
    CHECK(has(&u.refused, "flushall"));
    CHECK(has(&u.refused, "keys"));
    CHECK(has(&u.refused, "select"));
    CHECK(!has(&u.refused, "auth"));
    CHECK(!has(&u.refused, "get"));
    CHECK(u.refused.v[u.refused.n] == NULL);
    kve_rest_acl_dispose(&u);
}

TEST(read_only_user_adds_what_the_policy_allows)
{
    kve_rest_conf_t conf = conf_with(1, 1);
    kve_acl_user_t u = {0};

    kve_rest_acl_build(&conf, 1, 0, &u);
    CHECK(has(&u.rules, "-@all"));
    for (const char *const *r = (const char *const[]){"+get", "+mget", "+eval_ro", "+fcall_ro", "+subscribe", "+psubscribe",
                                                      "+ping", "+multi", "+exec", "+object|encoding", NULL};
         *r != NULL; ++r)
        CHECK(has(&u.rules, *r));
    /* never for read-only tokens, whatever allow_keys says; nothing that writes */
    for (const char *const *r = (const char *const[]){"+keys", "+scan", "+set", "+eval", "+flushall", "+select", "+script|kill",
                                                      "+monitor", "+@all", NULL};
         *r != NULL; ++r)
        CHECK(!has(&u.rules, *r));
    CHECK(has(&u.refused, "keys"));
    CHECK(has(&u.refused, "set"));
    kve_rest_acl_dispose(&u);
}

TEST(configuration_is_followed)
{
    kve_rest_conf_t conf = conf_with(1, 1);
    char *deny[] = {"getdel", "config|help"};
    kve_acl_user_t rw = {0}, ro = {0};

    conf.deny_commands.entries = deny, conf.deny_commands.size = 2;
    kve_rest_acl_build(&conf, 0, 1, &rw);
    kve_rest_acl_build(&conf, 1, 1, &ro);
    CHECK(!has(&rw.rules, "-keys"));
    CHECK(!has(&rw.rules, "-flushall"));
    CHECK(has(&rw.rules, "-getdel"));
    CHECK(has(&rw.rules, "-config"));  /* every subcommand refused now: one rule */
    CHECK(!has(&rw.rules, "-select")); /* the store's database is not 0: kvedge sends SELECT */
    CHECK(has(&ro.rules, "+select"));
    CHECK(has(&rw.refused, "getdel"));
    CHECK(!has(&rw.refused, "config|get")); /* NOSCRIPT: scripts cannot call it whatever the ACL says */
    kve_rest_acl_dispose(&rw);
    kve_rest_acl_dispose(&ro);
}

TEST(cluster_store_gets_the_slot_map_and_asking)
{
    kve_rest_conf_t conf = conf_with(0, 0);
    kve_acl_user_t rw = {0}, ro = {0}, plain = {0};

    kve_rest_acl_build(&conf, 0, KVE_ACL_CLUSTER, &rw);
    kve_rest_acl_build(&conf, 1, KVE_ACL_CLUSTER, &ro);
    kve_rest_acl_build(&conf, 1, 0, &plain);
    CHECK(has(&ro.rules, "+cluster|shards"));
    CHECK(has(&ro.rules, "+cluster|slots"));
    CHECK(has(&ro.rules, "+asking"));
    CHECK(!has(&ro.rules, "+cluster")); /* the rest of CLUSTER stays refused */
    CHECK(!has(&plain.rules, "+cluster|shards"));
    CHECK(!has(&plain.rules, "+asking"));
    CHECK(!has(&rw.rules, "-asking"));
    CHECK(!has(&rw.refused, "cluster|shards"));
    kve_rest_acl_dispose(&rw);
    kve_rest_acl_dispose(&ro);
    kve_rest_acl_dispose(&plain);
}

void kve_suite_kv_acl(void)
{
    RUN(read_write_user_removes_what_the_policy_refuses);
    RUN(read_only_user_adds_what_the_policy_allows);
    RUN(cluster_store_gets_the_slot_map_and_asking);
    RUN(configuration_is_followed);
}
