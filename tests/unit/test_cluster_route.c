/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/cluster_route.c: where each command goes on a Redis Cluster store (by slot, any node, the fan-outs,
 * refusals: CROSSSLOT, commands with no meaning on a cluster, fan-outs inside a transaction) and the SCAN cursors that
 * encode the shard (round trips, the 2^53 bound, garbage refused).
 */
#include "test.h"
#include "proxy/cluster_route.h"
#include "proxy/kv_commands.h"
#include "proxy/kv_slot.h"

#include <string.h>

/* classifies the command whose words are the NULL-terminated `words` */
static kve_cluster_route_t classify(int in_tx, const char *const *words)
{
    size_t argc = 0, lens[16];
    kve_cluster_route_t out;

    while (words[argc] != NULL) {
        lens[argc] = strlen(words[argc]);
        ++argc;
    }
    kve_kv_command_t cmd = KVE_KV_COMMAND(argc, words, lens);
    kve_cluster_classify(&cmd, in_tx, &out);
    return out;
}
#define C(tx, ...) classify((tx), (const char *const[]){__VA_ARGS__, NULL})

TEST(by_slot)
{
    kve_cluster_route_t r = C(0, "GET", "foo");
    CHECK_EQ_INT(r.dest, KVE_CLUSTER_TO_SLOT);
    CHECK_EQ_INT(r.slot, 12182); /* CLUSTER KEYSLOT foo */
    r = C(0, "set", "{user1}:a", "1");
    CHECK_EQ_INT(r.dest, KVE_CLUSTER_TO_SLOT);
    CHECK_EQ_INT(r.slot, (int)kve_slot_of_key("user1", 5));
    r = C(1, "MSET", "{u}a", "1", "{u}b", "2"); /* one slot: fine, in a transaction too */
    CHECK_EQ_INT(r.dest, KVE_CLUSTER_TO_SLOT);
    CHECK_EQ_INT(r.slot, (int)kve_slot_of_key("u", 1));
    r = C(0, "EVAL", "return 1", "2", "{t}x", "{t}y", "arg");
    CHECK_EQ_INT(r.dest, KVE_CLUSTER_TO_SLOT);
    CHECK_EQ_INT(r.slot, (int)kve_slot_of_key("t", 1));
    r = C(0, "EVAL", "return 1", "0");
    CHECK_EQ_INT(r.dest, KVE_CLUSTER_TO_ANY);
}

TEST(crossslot)
{
    kve_cluster_route_t r = C(0, "MGET", "a", "b");
    CHECK_EQ_INT(r.dest, KVE_CLUSTER_REFUSE);
    CHECK_EQ_STR(r.why, KVE_CLUSTER_CROSSSLOT);
    CHECK_EQ_INT(C(0, "RENAME", "a", "b").dest, KVE_CLUSTER_REFUSE);
    CHECK_EQ_INT(C(1, "DEL", "a", "b").dest, KVE_CLUSTER_REFUSE);
    CHECK_EQ_INT(C(0, "EVAL", "return 1", "2", "a", "b").dest, KVE_CLUSTER_REFUSE);
    CHECK_EQ_INT(C(0, "ZUNIONSTORE", "{z}d", "2", "{z}a", "b").dest, KVE_CLUSTER_REFUSE); /* movable keys */
}

TEST(keyless)
{
    CHECK_EQ_INT(C(0, "PING").dest, KVE_CLUSTER_TO_ANY);
    CHECK_EQ_INT(C(0, "TIME").dest, KVE_CLUSTER_TO_ANY);
    CHECK_EQ_INT(C(0, "DBSIZE").dest, KVE_CLUSTER_TO_ALL_SUM);
    CHECK_EQ_INT(C(0, "keys", "*").dest, KVE_CLUSTER_TO_ALL_CONCAT);
    CHECK_EQ_INT(C(0, "FLUSHDB").dest, KVE_CLUSTER_TO_ALL_OK);
    CHECK_EQ_INT(C(0, "FLUSHALL", "ASYNC").dest, KVE_CLUSTER_TO_ALL_OK);
    CHECK_EQ_INT(C(0, "SCRIPT", "LOAD", "return 1").dest, KVE_CLUSTER_TO_ALL_OK);
    CHECK_EQ_INT(C(0, "script", "exists", "abc").dest, KVE_CLUSTER_TO_ALL_AND);
    CHECK_EQ_INT(C(0, "SCAN", "0").dest, KVE_CLUSTER_SCAN);
    CHECK_EQ_INT(C(0, "RANDOMKEY").dest, KVE_CLUSTER_RANDOM);
    CHECK_EQ_INT(C(0, "NOSUCHCOMMAND", "x").dest, KVE_CLUSTER_TO_ANY); /* Redis answers it */
    /* fan-outs cannot be part of a transaction; any-node commands can */
    CHECK_EQ_INT(C(1, "DBSIZE").dest, KVE_CLUSTER_REFUSE);
    CHECK_EQ_INT(C(1, "SCAN", "0").dest, KVE_CLUSTER_REFUSE);
    CHECK(strstr(C(1, "FLUSHDB").why, "transaction") != NULL);
    CHECK_EQ_INT(C(1, "PING").dest, KVE_CLUSTER_TO_ANY);
    /* the KV API's SCAN WITHTYPE script is a SCAN (its cursor the 4th argument); another script with numkeys 0 is not */
    CHECK_EQ_INT(C(0, "EVAL", KVE_SCAN_WITHTYPE_SCRIPT, "0", "0", "COUNT", "10").dest, KVE_CLUSTER_SCAN);
    CHECK_EQ_INT(C(0, "eval", KVE_SCAN_WITHTYPE_SCRIPT, "0", "5461").dest, KVE_CLUSTER_SCAN);
    CHECK_EQ_INT(C(1, "EVAL", KVE_SCAN_WITHTYPE_SCRIPT, "0", "0").dest, KVE_CLUSTER_REFUSE);
    CHECK_EQ_INT(C(0, "EVAL", KVE_SCAN_WITHTYPE_SCRIPT, "0").dest, KVE_CLUSTER_TO_ANY); /* no cursor: Redis answers */
    CHECK_EQ_INT(C(0, "EVAL", "return 1", "0", "0").dest, KVE_CLUSTER_TO_ANY);
    CHECK_EQ_INT(C(0, "EVALSHA", KVE_SCAN_WITHTYPE_SCRIPT, "0", "0").dest, KVE_CLUSTER_TO_ANY);
    /* PUBLISH: always to one node (one path: the messages keep their order); in a transaction any node */
    kve_cluster_route_t pub = C(0, "PUBLISH", "chan", "msg");
    CHECK_EQ_INT(pub.dest, KVE_CLUSTER_TO_SLOT);
    CHECK_EQ_INT(pub.slot, KVE_CLUSTER_PUBLISH_SLOT);
    CHECK_EQ_INT(C(0, "publish", "news.sport", "msg").slot, KVE_CLUSTER_PUBLISH_SLOT);
    CHECK_EQ_INT(C(1, "PUBLISH", "chan", "msg").dest, KVE_CLUSTER_TO_ANY);
    CHECK_EQ_INT(C(0, "PUBLISH", "chan").dest, KVE_CLUSTER_TO_ANY); /* Redis answers the arity error */
}

TEST(refused)
{
    static const char *const names[] = {"SELECT",    "SWAPDB", "WAIT",  "CLUSTER", "READONLY",
                                        "READWRITE", "ASKING", "MULTI", "EXEC",    "DISCARD"};
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i) {
        kve_cluster_route_t r = C(0, names[i], "1", "2");
        CHECK_EQ_INT(r.dest, KVE_CLUSTER_REFUSE);
        CHECK(strstr(r.why, "Redis Cluster") != NULL);
    }
    CHECK_EQ_INT(C(0, "CLUSTER", "SLOTS").dest, KVE_CLUSTER_REFUSE);
    CHECK_EQ_INT(C(0, "MOVE", "k", "1").dest, KVE_CLUSTER_REFUSE);
}

TEST(scan_cursors)
{
    uint64_t c, node;
    unsigned slot;

    CHECK_EQ_INT(kve_cluster_scan_encode(0, 0, &c), 0);
    CHECK_EQ_UINT(c, 0); /* a scan starts at 0: the shard of slot 0, from its start */
    CHECK_EQ_INT(kve_cluster_scan_encode(0, 5461, &c), 0);
    CHECK_EQ_UINT(c, 5461);
    CHECK_EQ_INT(kve_cluster_scan_decode("5461", 4, &node, &slot), 0);
    CHECK_EQ_UINT(node, 0);
    CHECK_EQ_UINT(slot, 5461);
    CHECK_EQ_INT(kve_cluster_scan_encode(123456789, 10923, &c), 0);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)c);
    CHECK_EQ_INT(kve_cluster_scan_decode(buf, (size_t)n, &node, &slot), 0);
    CHECK_EQ_UINT(node, 123456789);
    CHECK_EQ_UINT(slot, 10923);
    /* the largest node cursor kept, below 2^53; one more refused */
    CHECK_EQ_INT(kve_cluster_scan_encode((UINT64_C(1) << 39) - 1, 16383, &c), 0);
    CHECK(c < (UINT64_C(1) << 53));
    CHECK_EQ_UINT(c, (UINT64_C(1) << 53) - 1);
    CHECK_EQ_INT(kve_cluster_scan_encode(UINT64_C(1) << 39, 0, &c), -1);
    CHECK_EQ_INT(kve_cluster_scan_encode(0, 16384, &c), -1);
    CHECK_EQ_INT(kve_cluster_scan_decode("9007199254740991", 16, &node, &slot), 0); /* 2^53 - 1 */
    CHECK_EQ_INT(kve_cluster_scan_decode("9007199254740992", 16, &node, &slot), -1);
    CHECK_EQ_INT(kve_cluster_scan_decode("99999999999999999", 17, &node, &slot), -1);
    CHECK_EQ_INT(kve_cluster_scan_decode("", 0, &node, &slot), -1);
    CHECK_EQ_INT(kve_cluster_scan_decode("-1", 2, &node, &slot), -1);
    CHECK_EQ_INT(kve_cluster_scan_decode("12a", 3, &node, &slot), -1);
    CHECK_EQ_INT(kve_cluster_scan_decode(" 1", 2, &node, &slot), -1);
}

void kve_suite_cluster_route(void)
{
    kve_cmd_init();
    RUN(by_slot);
    RUN(crossslot);
    RUN(keyless);
    RUN(refused);
    RUN(scan_cursors);
}
