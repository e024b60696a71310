/* SPDX-License-Identifier: MIT */
/*
 * The keyless commands of a Redis Cluster store (proxy/kv_cluster_fanout.c) over three real redis-servers (plain
 * standalone ones: a fan-out only needs "the primaries' links"), through a stand-in of the cluster link written here:
 * a kv.c link whose send() classifies the command (kve_cluster_classify) and hands it to kve_cluster__fanout(), with
 * three shards whose first slots are 0, 5461 and 10923. tests/CMakeLists.txt compiles this file and the fan-out
 * module with the kve_cluster__* names renamed, so the real link (kv_cluster.c) links beside them.
 */
#include "test.h"
#include "redis_server.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_cluster_internal.h"
#include "proxy/kv_commands.h"
#include "proxy/kv_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_SHARDS 3
static const unsigned first_slots[NUM_SHARDS] = {0, 5461, 10923};

static h2o_loop_t *loop;
static kve_test_redis_t *servers[NUM_SHARDS];
static kve_redis_target_t targets[NUM_SHARDS];

/* --- the stand-in cluster link --- */

struct st_kve_cluster_link_t {
    kve_kv_t super;
    kve_cluster_shard_t shards[NUM_SHARDS];
    struct st_kve_cluster_fanout_t *fanouts;
    int fanout_calls;
};

size_t kve_cluster__shards(kve_cluster_link_t *link, kve_cluster_shard_t *out, size_t max)
{
    size_t n = KVE_MIN(max, NUM_SHARDS);
    memcpy(out, link->shards, sizeof(*out) * n);
    return n;
}

kve_kv_t *kve_cluster__slot_link(kve_cluster_link_t *link, unsigned slot)
{
    size_t i = NUM_SHARDS;
    while (i != 0 && link->shards[i - 1].first_slot > slot)
        --i;
    return i == 0 ? NULL : link->shards[i - 1].kv;
}

int kve_cluster__is_first_slot(kve_cluster_link_t *link, unsigned slot)
{
    for (size_t i = 0; i != NUM_SHARDS; ++i)
        if (link->shards[i].first_slot == slot)
            return 1;
    return 0;
}

int kve_cluster__next_shard(kve_cluster_link_t *link, unsigned slot)
{
    for (size_t i = 0; i + 1 < NUM_SHARDS; ++i)
        if (link->shards[i].first_slot == slot)
            return (int)link->shards[i + 1].first_slot;
    return -1;
}

h2o_loop_t *kve_cluster__loop(kve_cluster_link_t *link)
{
    return link->super.loop;
}

struct st_kve_cluster_fanout_t **kve_cluster__fanouts(kve_cluster_link_t *link)
{
    return &link->fanouts;
}

static int stand_in_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    kve_cluster_link_t *link = (kve_cluster_link_t *)kv;
    kve_cluster_route_t route;

    kve_cluster_classify(op->cmd, 0, &route);
    ++link->fanout_calls;
    return kve_cluster__fanout(link, op, &route); /* anything else: KVE_EINVAL, which the tests never send */
}

static int stand_in_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    (void)kv;
    (void)ops;
    (void)n;
    return KVE_EINVAL;
}

static void stand_in_nothing(kve_kv_t *kv)
{
    (void)kv;
}

/* as the real link: the fan-outs first, then the primaries' links */
static void stand_in_destroy(kve_kv_t *kv)
{
    kve_cluster_link_t *link = (kve_cluster_link_t *)kv;

    kve_cluster__fanout_shutdown(link);
    CHECK(link->fanouts == NULL);
    for (size_t i = 0; i != NUM_SHARDS; ++i)
        kve_kv_destroy(link->shards[i].kv);
    kve_kv__dispose(kv);
    free(link);
}

static const kve_kv_driver_t stand_in_driver = {.name = "cluster-stand-in",
                                                .send = stand_in_send,
                                                .send_atomic = stand_in_send_atomic,
                                                .on_timeout = stand_in_nothing,
                                                .on_reply = stand_in_nothing,
                                                .destroy = stand_in_destroy};

static kve_cluster_link_t *cluster_create(uint64_t default_timeout_ms)
{
    kve_redis_conf_t conf = {.url = "redis://node",
                             .connect_timeout_ms = 1000,
                             .command_timeout_ms = default_timeout_ms, /* as the real link's template */
                             .reconnect_max_delay_ms = 200,
                             .breaker_threshold = 1000};
    kve_cluster_link_t *link = kve_malloc(sizeof(*link));

    memset(link, 0, sizeof(*link));
    kve_kv__init(&link->super, &stand_in_driver, loop, default_timeout_ms);
    for (size_t i = 0; i != NUM_SHARDS; ++i) {
        link->shards[i].first_slot = first_slots[i];
        link->shards[i].kv = kve_kv_redis_create(loop, targets + i, &conf, NULL);
    }
    return link;
}

/* --- running commands --- */

typedef struct st_result_t {
    int replied, done, err;
    kve_kv_reply_t *reply; /* a copy */
} result_t;

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    result_t *r = data;
    (void)i;
    r->replied = 1;
    r->err = err;
    r->reply = reply != NULL ? kve_kv__reply_copy(reply) : NULL;
}

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    (void)result;
    ((result_t *)data)->done = 1;
}

static void result_clear(result_t *r)
{
    kve_kv__reply_free(r->reply);
    memset(r, 0, sizeof(*r));
}

/* sends `argv` (NULL-terminated) on `kv` with `timeout_ms` and `max` (0: defaults); nothing waited for */
static void start(kve_kv_t *kv, result_t *r, const char *const *argv, uint64_t timeout_ms, size_t max)
{
    size_t argc = 0, len[64];
    int err = 0;

    result_clear(r);
    for (; argv[argc] != NULL; ++argc) {
        KVE_ASSERT(argc < KVE_ARRAY_SIZE(len));
        len[argc] = strlen(argv[argc]);
    }
    kve_kv_command_t cmd = KVE_KV_COMMAND(argc, argv, len);
    kve_kv_batch_opts_t opts = {.timeout_ms = timeout_ms, .max_reply_size = max};
    if (kve_kv_batch(kv, &cmd, 1, &opts, on_reply, on_done, r, &err) == NULL) {
        r->replied = r->done = 1;
        r->err = err;
    }
}

static void wait_for(result_t *r)
{
    for (uint64_t end = h2o_now(loop) + 5000; !r->done && h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK(r->done && r->replied);
}

static void run(kve_kv_t *kv, result_t *r, const char *const *argv)
{
    start(kv, r, argv, 0, 0);
    wait_for(r);
}

#define CMD(...) ((const char *const[]){__VA_ARGS__, NULL})

/* an ordinary command on shard i's own link (filling, checking) */
static void on_node(kve_cluster_link_t *c, size_t i, const char *const *argv)
{
    result_t r = {0};
    run(c->shards[i].kv, &r, argv);
    CHECK_EQ_INT(r.err, 0);
    CHECK(r.reply != NULL && r.reply->type != KVE_REPLY_ERROR);
    result_clear(&r);
}

static void check_error(const result_t *r, const char *text)
{
    CHECK_EQ_INT(r->err, 0);
    CHECK(r->reply != NULL && r->reply->type == KVE_REPLY_ERROR);
    if (r->reply != NULL && r->reply->str != NULL)
        CHECK_EQ_STR(r->reply->str, text);
}

/* 30 keys a:N on the first shard, 20 b:N on the second, 10 c:N on the third (plain servers: no hashing) */
static const size_t counts[NUM_SHARDS] = {30, 20, 10};

static void fill(kve_cluster_link_t *c)
{
    char names[30][8];
    const char *argv[2 + 60 + 1];

    for (size_t i = 0; i != NUM_SHARDS; ++i) {
        on_node(c, i, CMD("FLUSHALL"));
        argv[0] = "MSET";
        for (size_t k = 0; k != counts[i]; ++k) {
            snprintf(names[k], sizeof(names[k]), "%c:%zu", (char)('a' + i), k);
            argv[1 + 2 * k] = names[k];
            argv[2 + 2 * k] = "v";
        }
        argv[1 + 2 * counts[i]] = NULL;
        on_node(c, i, argv);
    }
}

/* which of the 60 keys `name` is (shard * 30 + N), or -1 */
static int key_index(const kve_kv_reply_t *e)
{
    unsigned n;
    char c, extra;
    if (e->type != KVE_REPLY_STRING || sscanf(e->str, "%c:%u%c", &c, &n, &extra) != 2 || c < 'a' || c > 'c' || n >= counts[c - 'a'])
        return -1;
    return (c - 'a') * 30 + (int)n;
}

/* --- the tests --- */

TEST(dbsize_keys)
{
    kve_cluster_link_t *c = cluster_create(2000);
    result_t r = {0};
    int seen[90] = {0};

    fill(c);
    run(&c->super, &r, CMD("DBSIZE"));
    CHECK_EQ_INT(r.err, 0);
    CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_INTEGER);
    if (r.reply != NULL)
        CHECK_EQ_INT(r.reply->integer, 60);

    run(&c->super, &r, CMD("KEYS", "*"));
    CHECK_EQ_INT(r.err, 0);
    CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_ARRAY);
    if (r.reply != NULL && r.reply->type == KVE_REPLY_ARRAY) {
        CHECK_EQ_UINT(r.reply->elements, 60);
        for (size_t i = 0; i != r.reply->elements; ++i) {
            int k = key_index(r.reply->element[i]);
            CHECK(k >= 0);
            if (k >= 0)
                ++seen[k];
        }
        for (size_t i = 0; i != NUM_SHARDS; ++i)
            for (size_t k = 0; k != counts[i]; ++k)
                CHECK_EQ_INT(seen[i * 30 + k], 1);
    }
    /* a pattern goes as it is */
    run(&c->super, &r, CMD("KEYS", "b:1*"));
    CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_ARRAY && r.reply->elements == 11); /* b:1, b:10..b:19 */
    result_clear(&r);
    kve_kv_destroy(&c->super);
}

/* walks SCAN to its end with `count` per call from `cursor`: how often each key came; the number of calls */
static size_t scan_walk(kve_cluster_link_t *c, const char *cursor0, const char *match, int withtype, int *seen)
{
    char cursor[32], count[] = "3";
    result_t r = {0};
    size_t calls = 0;

    snprintf(cursor, sizeof(cursor), "%s", cursor0);
    do {
        if (withtype) /* the KV API's SCAN ... WITHTYPE: [cursor, [key, type, ...]] */
            run(&c->super, &r, CMD("EVAL", KVE_SCAN_WITHTYPE_SCRIPT, "0", cursor, "COUNT", count));
        else if (match != NULL)
            run(&c->super, &r, CMD("SCAN", cursor, "MATCH", match, "COUNT", count));
        else
            run(&c->super, &r, CMD("SCAN", cursor, "COUNT", count));
        ++calls;
        CHECK_EQ_INT(r.err, 0);
        if (r.reply == NULL || r.reply->type != KVE_REPLY_ARRAY || r.reply->elements != 2 ||
            r.reply->element[0]->type != KVE_REPLY_STRING || r.reply->element[1]->type != KVE_REPLY_ARRAY) {
            CHECK(!"a SCAN reply is [cursor, keys]");
            break;
        }
        for (size_t i = 0; i != r.reply->element[1]->elements; i += withtype ? 2 : 1) {
            int k = key_index(r.reply->element[1]->element[i]);
            if (withtype)
                CHECK(i + 1 < r.reply->element[1]->elements && r.reply->element[1]->element[i + 1]->type == KVE_REPLY_STRING);
            CHECK(k >= 0);
            if (k >= 0)
                ++seen[k];
        }
        snprintf(cursor, sizeof(cursor), "%s", r.reply->element[0]->str);
        /* every cursor names a shard by its first slot */
        unsigned long long v = strtoull(cursor, NULL, 10);
        CHECK(v == 0 || v % 16384 == 0 || v % 16384 == 5461 || v % 16384 == 10923);
    } while (strcmp(cursor, "0") != 0 && calls < 500);
    CHECK(calls < 500);
    result_clear(&r);
    return calls;
}

TEST(scan)
{
    kve_cluster_link_t *c = cluster_create(2000);
    int seen[90] = {0};
    size_t calls;

    fill(c);
    calls = scan_walk(c, "0", NULL, 0, seen);
    for (size_t i = 0; i != NUM_SHARDS; ++i)
        for (size_t k = 0; k != counts[i]; ++k)
            CHECK(seen[i * 30 + k] >= 1 && seen[i * 30 + k] <= 2); /* Redis' guarantee: at least once */
    CHECK(calls >= 60 / 3 / 2);                                    /* COUNT 3 on 60 keys: several calls, over the three shards */

    /* MATCH goes to the node as it is */
    memset(seen, 0, sizeof(seen));
    scan_walk(c, "0", "b:*", 0, seen);
    for (size_t i = 0; i != 90; ++i)
        CHECK(i >= 30 && i < 50 ? seen[i] >= 1 : seen[i] == 0);

    /* a cursor may start at a later shard (the cursor of a shard's start is its first slot) */
    memset(seen, 0, sizeof(seen));
    scan_walk(c, "10923", NULL, 0, seen);
    for (size_t i = 0; i != 90; ++i)
        CHECK(i >= 60 && i < 70 ? seen[i] >= 1 : seen[i] == 0);

    /* the KV API's SCAN WITHTYPE script walks every shard as SCAN does (it ran on one node with kvedge's cursor) */
    memset(seen, 0, sizeof(seen));
    calls = scan_walk(c, "0", NULL, 1, seen);
    for (size_t i = 0; i != NUM_SHARDS; ++i)
        for (size_t k = 0; k != counts[i]; ++k)
            CHECK(seen[i * 30 + k] >= 1 && seen[i * 30 + k] <= 2);
    CHECK(calls >= 60 / 3 / 2);
    kve_kv_destroy(&c->super);
}

TEST(scan_bad_cursors)
{
    kve_cluster_link_t *c = cluster_create(2000);
    static const char *const bad[] = {"abc", "1", "5462", "16385", "-1", "", "12345678901234567", "9007199254740992", "1.5", " 0"};
    result_t r = {0};

    for (size_t i = 0; i != KVE_ARRAY_SIZE(bad); ++i) {
        run(&c->super, &r, CMD("SCAN", bad[i]));
        check_error(&r, "ERR invalid cursor");
    }
    run(&c->super, &r, CMD("SCAN"));
    check_error(&r, "ERR wrong number of arguments for 'scan' command");
    /* a valid cursor whose node cursor the node refuses: Redis' own error comes back */
    run(&c->super, &r, CMD("SCAN", "0", "COUNT", "nope"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_ERROR);
    result_clear(&r);
    kve_kv_destroy(&c->super);
}

TEST(scripts)
{
    kve_cluster_link_t *c = cluster_create(2000);
    result_t r = {0};
    char sha[41] = "", other[41] = "";

    run(&c->super, &r, CMD("SCRIPT", "FLUSH"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_STATUS);
    run(&c->super, &r, CMD("SCRIPT", "LOAD", "return 7"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_STRING && r.reply->len == 40);
    if (r.reply != NULL && r.reply->len == 40)
        memcpy(sha, r.reply->str, 40);
    /* loaded on one shard only: not there "on the store" */
    run(c->shards[1].kv, &r, CMD("SCRIPT", "LOAD", "return 8"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->len == 40);
    if (r.reply != NULL && r.reply->len == 40)
        memcpy(other, r.reply->str, 40);
    run(&c->super, &r, CMD("SCRIPT", "EXISTS", sha, other, "0000000000000000000000000000000000000000"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_ARRAY && r.reply->elements == 3);
    if (r.reply != NULL && r.reply->elements == 3) {
        CHECK_EQ_INT(r.reply->element[0]->integer, 1);
        CHECK_EQ_INT(r.reply->element[1]->integer, 0);
        CHECK_EQ_INT(r.reply->element[2]->integer, 0);
    }
    /* every primary has it: EVALSHA works on each */
    for (size_t i = 0; i != NUM_SHARDS; ++i) {
        run(c->shards[i].kv, &r, CMD("EVALSHA", sha, "0"));
        CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_INTEGER && r.reply->integer == 7);
    }
    /* an error of one primary is the answer (every one refuses this one) */
    run(&c->super, &r, CMD("SCRIPT", "EXISTS"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_ERROR);
    run(&c->super, &r, CMD("SCRIPT", "FLUSH"));
    run(&c->super, &r, CMD("SCRIPT", "EXISTS", sha));
    CHECK(r.reply != NULL && r.reply->elements == 1 && r.reply->element[0]->integer == 0);
    result_clear(&r);
    kve_kv_destroy(&c->super);
}

TEST(flush_randomkey)
{
    kve_cluster_link_t *c = cluster_create(2000);
    result_t r = {0};

    fill(c);
    run(&c->super, &r, CMD("FLUSHDB"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_STATUS && strcmp(r.reply->str, "OK") == 0);
    for (size_t i = 0; i != NUM_SHARDS; ++i) {
        run(c->shards[i].kv, &r, CMD("DBSIZE"));
        CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_INTEGER && r.reply->integer == 0);
    }
    run(&c->super, &r, CMD("RANDOMKEY"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_NIL);
    /* one key, on the last shard: every RANDOMKEY finds it, whichever shard it asks first */
    on_node(c, 2, CMD("SET", "only", "1"));
    for (int i = 0; i != 12; ++i) {
        run(&c->super, &r, CMD("RANDOMKEY"));
        CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_STRING);
        if (r.reply != NULL && r.reply->str != NULL)
            CHECK_EQ_STR(r.reply->str, "only");
    }
    run(&c->super, &r, CMD("FLUSHALL"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_STATUS);
    run(&c->super, &r, CMD("DBSIZE"));
    CHECK(r.reply != NULL && r.reply->integer == 0);
    result_clear(&r);
    kve_kv_destroy(&c->super);
}

TEST(keys_too_big)
{
    kve_cluster_link_t *c = cluster_create(2000);
    result_t r = {0};
    char name[220];

    for (size_t i = 0; i != NUM_SHARDS; ++i) {
        on_node(c, i, CMD("FLUSHALL"));
        for (int k = 0; k != 8; ++k) {
            snprintf(name, sizeof(name), "%d:%0199d", (int)i, k);
            on_node(c, i, CMD("SET", name, "v"));
        }
    }
    /* each shard's 8 keys fit 4 KiB, the 24 together do not */
    for (size_t i = 0; i != NUM_SHARDS; ++i) {
        start(c->shards[i].kv, &r, CMD("KEYS", "*"), 0, 4096);
        wait_for(&r);
        CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_ARRAY && r.reply->elements == 8);
    }
    start(&c->super, &r, CMD("KEYS", "*"), 0, 4096);
    wait_for(&r);
    CHECK_EQ_INT(r.err, 0);
    CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_TOO_BIG);
    /* a limit they fit */
    start(&c->super, &r, CMD("KEYS", "*"), 0, 64 * 1024);
    wait_for(&r);
    CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_ARRAY && r.reply->elements == 24);
    /* one shard's own reply too big is too big */
    on_node(c, 1, CMD("SET", "a-long-value-key", "v"));
    start(&c->super, &r, CMD("KEYS", "*"), 0, 1);
    wait_for(&r);
    CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_TOO_BIG);
    on_node(c, 0, CMD("FLUSHALL"));
    on_node(c, 1, CMD("FLUSHALL"));
    on_node(c, 2, CMD("FLUSHALL"));
    result_clear(&r);
    kve_kv_destroy(&c->super);
}

/* the sub-batches run with the op's timeout, not the link's default */
TEST(timeouts)
{
    kve_cluster_link_t *c = cluster_create(300);
    result_t blocker = {0}, r = {0};
    uint64_t t0;

    fill(c);
    /* shard 1's connection is busy for 0.8 s */
    start(c->shards[1].kv, &blocker, CMD("BLPOP", "nothing", "0.8"), 3000, 0);
    h2o_evloop_run(loop, 10);
    t0 = h2o_now(loop);
    start(&c->super, &r, CMD("DBSIZE"), 2000, 0);
    wait_for(&r);
    CHECK_EQ_INT(r.err, 0);
    CHECK(r.reply != NULL && r.reply->type == KVE_REPLY_INTEGER && r.reply->integer == 60);
    CHECK(h2o_now(loop) - t0 >= 500);
    wait_for(&blocker);

    start(c->shards[1].kv, &blocker, CMD("BLPOP", "nothing", "0.8"), 3000, 0);
    h2o_evloop_run(loop, 10);
    start(&c->super, &r, CMD("DBSIZE"), 150, 0);
    wait_for(&r);
    CHECK_EQ_INT(r.err, KVE_ETIMEDOUT);
    wait_for(&blocker);
    /* the link stays in step: the late DBSIZE reply is dropped, the next one is right */
    run(&c->super, &r, CMD("DBSIZE"));
    CHECK(r.reply != NULL && r.reply->integer == 60);
    result_clear(&r);
    result_clear(&blocker);
    kve_kv_destroy(&c->super);
}

/* destroying the link with fan-outs in flight: each op gets KVE_ESHUTDOWN, nothing leaks (ASan) */
TEST(shutdown_in_flight)
{
    kve_cluster_link_t *c = cluster_create(2000);
    result_t blocker = {0}, r[6] = {{0}};

    fill(c);
    start(c->shards[1].kv, &blocker, CMD("BLPOP", "nothing", "0.5"), 3000, 0);
    h2o_evloop_run(loop, 10);
    start(&c->super, r + 0, CMD("DBSIZE"), 0, 0);
    start(&c->super, r + 1, CMD("KEYS", "*"), 0, 0);
    start(&c->super, r + 2, CMD("SCAN", "5461"), 0, 0);
    start(&c->super, r + 3, CMD("SCRIPT", "EXISTS", "x"), 0, 0);
    for (uint64_t end = h2o_now(loop) + 100; h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK(!r[0].done && !r[1].done && !r[2].done && !r[3].done);
    start(&c->super, r + 4, CMD("SCAN", "abc"), 0, 0); /* its answer waits for the next loop iteration */
    start(&c->super, r + 5, CMD("DBSIZE"), 0, 0);      /* not even its first replies came */
    kve_kv_destroy(&c->super);
    for (size_t i = 0; i != 6; ++i) {
        CHECK(r[i].done);
        CHECK_EQ_INT(r[i].err, KVE_ESHUTDOWN);
        result_clear(r + i);
    }
    CHECK(blocker.done); /* the primaries' links went too */
    result_clear(&blocker);
    h2o_evloop_run(loop, 0);
}

/* a primary down: the fan-outs that need it fail, with an error */
TEST(server_down)
{
    kve_cluster_link_t *c = cluster_create(1000);
    result_t r = {0};

    fill(c);
    on_node(c, 0, CMD("FLUSHALL"));
    on_node(c, 1, CMD("FLUSHALL")); /* RANDOMKEY will have to ask the dead shard */
    kve_test_redis_stop(servers[2]);
    for (int round = 0; round != 2; ++round) { /* first while the link learns it, then with it known down */
        run(&c->super, &r, CMD("DBSIZE"));
        CHECK(r.err != 0 && r.reply == NULL);
        run(&c->super, &r, CMD("KEYS", "*"));
        CHECK(r.err != 0);
        run(&c->super, &r, CMD("FLUSHDB"));
        CHECK(r.err != 0);
        run(&c->super, &r, CMD("SCAN", "10923"));
        CHECK(r.err != 0);
        run(&c->super, &r, CMD("RANDOMKEY"));
        CHECK(r.err != 0);
    }
    /* the other shards still scan */
    run(&c->super, &r, CMD("SCAN", "0"));
    CHECK(r.err == 0 && r.reply != NULL && r.reply->type == KVE_REPLY_ARRAY);
    result_clear(&r);
    kve_kv_destroy(&c->super);
}

void kve_suite_cluster_fanout(void)
{
    char err[256];

    kve_cmd_init();
    for (size_t i = 0; i != NUM_SHARDS; ++i) {
        if ((servers[i] = kve_test_redis_start(err, sizeof(err))) == NULL) {
            fprintf(stderr, "cluster_fanout: %s\n", err);
            CHECK(0); /* a missing redis-server is a failure, not a skip */
            goto Exit;
        }
        targets[i] = (kve_redis_target_t){.path = (char *)kve_test_redis_socket(servers[i]), .role = "read-write"};
    }
    loop = h2o_evloop_create();
    RUN(dbsize_keys);
    RUN(scan);
    RUN(scan_bad_cursors);
    RUN(scripts);
    RUN(flush_randomkey);
    RUN(keys_too_big);
    RUN(timeouts);
    RUN(shutdown_in_flight);
    RUN(server_down);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
Exit:
    for (size_t i = 0; i != NUM_SHARDS; ++i)
        kve_test_redis_free(servers[i]);
}
