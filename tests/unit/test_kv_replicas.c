/* SPDX-License-Identifier: MIT */
/*
 * The replicas topology's link (proxy/kv_replicas.h, issue 12) on a real primary and a real replica (redis-server
 * --replicaof over 127.0.0.1): where batches go (the node counters), a read behind its min_sync answered by the
 * primary, a batch of reads answered in order, and the ends of a batch a replica holds: cancelled from its first
 * reply, and the link destroyed while the replica still owes the answer (every callback runs; the sanitizer build
 * checks that nothing leaks).
 */
#include "test.h"
#include "redis_server.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_replicas.h"

#include <stdio.h>
#include <string.h>

#define MAX 4

typedef struct st_rec_t {
    kve_kv_batch_t *b;
    size_t got, cancel_at;
    int err[MAX], done, out_of_order;
    char str[MAX][32];
    kve_kv_batch_result_t result;
} rec_t;

static h2o_loop_t *loop;
static kve_kv_t *kv;
static kve_kv_stats_t store_stats;
static kve_kv_node_stats_t nodes[2];

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    rec_t *r = data;
    if (i != r->got || r->done)
        r->out_of_order = 1;
    r->err[i] = err;
    if (reply != NULL && reply->str != NULL)
        snprintf(r->str[i], sizeof(r->str[i]), "%.*s", (int)KVE_MIN(reply->len, 31), reply->str);
    ++r->got;
    if (i == r->cancel_at)
        kve_kv_batch_cancel(r->b);
}

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    rec_t *r = data;
    r->done = 1;
    r->result = *result;
}

/* sends `n` commands ("GET k" ...; reads flagged read-only with `min_sync`) */
static kve_kv_batch_t *send_batch(rec_t *r, const char *const *words, size_t n, unsigned flags, uint64_t min_sync)
{
    static const char *argv[MAX][3];
    static size_t argvlen[MAX][3];
    kve_kv_command_t cmds[MAX];
    kve_kv_batch_opts_t opts = {.flags = flags};
    int err = 0;

    memset(r, 0, sizeof(*r));
    r->cancel_at = SIZE_MAX;
    for (size_t i = 0; i != n; ++i) {
        char *w = (char *)words[i], *save, *p;
        size_t argc = 0;
        static char text[MAX][64];
        snprintf(text[i], sizeof(text[i]), "%s", w);
        for (p = strtok_r(text[i], " ", &save); p != NULL; p = strtok_r(NULL, " ", &save))
            argv[i][argc] = p, argvlen[i][argc++] = strlen(p);
        cmds[i] = KVE_KV_COMMAND(argc, argv[i], argvlen[i]);
        if (strncmp(words[i], "GET", 3) == 0) {
            cmds[i].flags = KVE_KV_CMD_READ_ONLY;
            cmds[i].min_sync = min_sync;
        }
    }
    r->b = kve_kv_batch(kv, cmds, n, &opts, on_reply, on_done, r, &err);
    CHECK_EQ_INT(err, 0);
    return r->b;
}

static void wait_done(rec_t *r)
{
    for (uint64_t end = h2o_now(loop) + 5000; !r->done && h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK(r->done);
}

static uint64_t reads(size_t node)
{
    return __atomic_load_n(&nodes[node].reads, __ATOMIC_RELAXED);
}

static uint64_t fallbacks(void)
{
    return __atomic_load_n(&nodes[1].fallbacks, __ATOMIC_RELAXED);
}

/* a write's sync position, then a read at it served by the replica once it has it (it may need a moment) */
static uint64_t write_and_wait(const char *set)
{
    const char *w[] = {set};
    rec_t r;
    uint64_t offset;

    send_batch(&r, w, 1, KVE_KV_BATCH_SYNC, 0);
    wait_done(&r);
    CHECK_EQ_INT(r.err[0], 0);
    CHECK(r.result.sync_known);
    offset = r.result.sync_offset;
    for (uint64_t end = h2o_now(loop) + 10000; h2o_now(loop) < end;) {
        const char *g[] = {"GET rk"};
        uint64_t before = reads(1);
        send_batch(&r, g, 1, 0, offset);
        wait_done(&r);
        if (reads(1) == before + 1)
            break;
        h2o_evloop_run(loop, 20);
    }
    return offset;
}

static void test_routes(void)
{
    uint64_t offset = write_and_wait("SET rk v1"), r0, r1, f;
    rec_t r;

    /* a read at the write's position: the replica (ROLE shows it has it) */
    r0 = reads(0), r1 = reads(1);
    send_batch(&r, (const char *[]){"GET rk"}, 1, 0, offset);
    wait_done(&r);
    CHECK_EQ_STR(r.str[0], "v1");
    CHECK_EQ_UINT(reads(1), r1 + 1);
    CHECK_EQ_UINT(reads(0), r0);

    /* a position the primary has not reached: the primary answers, after the replica's ROLE */
    f = fallbacks();
    send_batch(&r, (const char *[]){"GET rk"}, 1, 0, offset + ((uint64_t)1 << 40));
    wait_done(&r);
    CHECK_EQ_INT(r.err[0], 0);
    CHECK_EQ_STR(r.str[0], "v1");
    CHECK_EQ_UINT(reads(0), r0 + 1);
    CHECK_EQ_UINT(fallbacks(), f + 1);

    /* a batch of reads: one probe, the replies in order */
    r1 = reads(1);
    send_batch(&r, (const char *[]){"GET rk", "GET nope", "GET rk"}, 3, 0, offset);
    wait_done(&r);
    CHECK(!r.out_of_order);
    CHECK_EQ_UINT(r.got, 3);
    CHECK_EQ_STR(r.str[0], "v1");
    CHECK_EQ_STR(r.str[2], "v1");
    CHECK_EQ_UINT(reads(1), r1 + 3);

    /* the same batch behind its position: all three from the primary, in order */
    r0 = reads(0);
    send_batch(&r, (const char *[]){"GET rk", "GET nope", "GET rk"}, 3, 0, offset + ((uint64_t)1 << 40));
    wait_done(&r);
    CHECK(!r.out_of_order);
    CHECK_EQ_STR(r.str[2], "v1");
    CHECK_EQ_UINT(reads(0), r0 + 3);

    /* a batch that writes, and a transaction: the primary's, as on a standalone link */
    r1 = reads(1);
    send_batch(&r, (const char *[]){"SET rk v2", "GET rk"}, 2, 0, 0);
    wait_done(&r);
    CHECK_EQ_STR(r.str[1], "v2");
    send_batch(&r, (const char *[]){"SET rk v3", "GET rk"}, 2, KVE_KV_BATCH_ATOMIC, 0);
    wait_done(&r);
    CHECK_EQ_INT(r.result.err, 0);
    CHECK_EQ_STR(r.str[1], "v3");
    CHECK_EQ_UINT(reads(1), r1);
}

static void test_cancel_and_destroy(void)
{
    uint64_t offset = write_and_wait("SET rk v4");
    rec_t r, r2;

    /* cancelled from its first reply: nothing more comes, the rest of the replica's replies are dropped */
    send_batch(&r, (const char *[]){"GET rk", "GET rk", "GET rk"}, 3, 0, offset);
    r.cancel_at = 0;
    for (uint64_t end = h2o_now(loop) + 300; h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK_EQ_UINT(r.got, 1);
    CHECK(!r.done);

    /* the link destroyed while the replica holds a batch and the primary one sent after a stale ROLE could follow:
     * every callback runs, with ESHUTDOWN */
    send_batch(&r, (const char *[]){"GET rk", "GET rk"}, 2, 0, offset);
    send_batch(&r2, (const char *[]){"GET rk"}, 1, 0, offset + ((uint64_t)1 << 40));
    kve_kv_destroy(kv);
    kv = NULL;
    CHECK(r.done);
    CHECK(r2.done);
    CHECK_EQ_UINT(r.got, 2);
    CHECK_EQ_INT(r.err[0], KVE_ESHUTDOWN);
    CHECK_EQ_INT(r.err[1], KVE_ESHUTDOWN);
    CHECK_EQ_INT(r2.err[0], KVE_ESHUTDOWN);
}

void kve_suite_kv_replicas(void)
{
    char err[256], port[16];
    int p = kve_test_free_port();
    kve_test_redis_t *primary, *replica = NULL;
    kve_redis_target_t tp, tr;
    kve_redis_conf_t conf = {.url = "redis://primary",
                             .connect_timeout_ms = 2000,
                             .command_timeout_ms = 2000,
                             .reconnect_max_delay_ms = 200,
                             .breaker_threshold = 1000};

    CHECK(p != 0);
    snprintf(port, sizeof(port), "%d", p);
    primary = kve_test_redis_start_args((const char *[]){"--port", port, "--bind", "127.0.0.1", NULL}, err, sizeof(err));
    if (primary != NULL)
        replica = kve_test_redis_start_args(
            (const char *[]){"--replicaof", "127.0.0.1", port, "--repl-diskless-sync-delay", "0", NULL}, err, sizeof(err));
    if (primary == NULL || replica == NULL) {
        fprintf(stderr, "kv_replicas: %s\n", err);
        CHECK(0); /* a missing redis-server is a failure, not a skip */
        kve_test_redis_free(primary);
        return;
    }
    tp = (kve_redis_target_t){.path = (char *)kve_test_redis_socket(primary), .role = "read-write"};
    tr = (kve_redis_target_t){.path = (char *)kve_test_redis_socket(replica), .role = "read-write"};
    loop = h2o_evloop_create();
    kv = kve_kv_replicas_create(loop, &tp, &tr, 1, &conf, &store_stats, nodes);
    test_routes();
    test_cancel_and_destroy();
    if (kv != NULL)
        kve_kv_destroy(kv);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    kve_test_redis_free(replica);
    kve_test_redis_free(primary);
}
