/* SPDX-License-Identifier: MIT */
/*
 * min_replicas_ack (proxy/kv_ack.h, issue 12): the WAIT reply parser, and a Redis link with the option on a real
 * primary and replica: a batch with KVE_KV_BATCH_ACK finishes once the replica has its writes, with KVE_ENOACK after
 * the timeout once the replica is gone (its writes stay on the primary), a batch without the flag never waits; the
 * ends of a batch waiting for its acknowledgement: cancelled, and the link destroyed (every callback runs; the
 * sanitizer build checks that nothing leaks).
 */
#include "test.h"
#include "redis_server.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_ack.h"
#include "proxy/kv_redis.h"

#include <stdio.h>
#include <string.h>

typedef struct st_rec_t {
    kve_kv_batch_t *b;
    size_t got;
    int err, done;
    kve_kv_batch_result_t result;
    uint64_t done_at;
} rec_t;

static h2o_loop_t *loop;

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    rec_t *r = data;
    ++r->got;
    if (err != 0)
        r->err = err;
}

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    rec_t *r = data;
    r->done = 1;
    r->result = *result;
    r->done_at = h2o_now(loop);
}

static void send_set(kve_kv_t *kv, rec_t *r, const char *key, unsigned flags)
{
    const char *argv[] = {"SET", key, "v"};
    size_t argvlen[] = {3, strlen(key), 1};
    kve_kv_command_t cmd = KVE_KV_COMMAND(3, argv, argvlen);
    kve_kv_batch_opts_t opts = {.flags = flags};
    int err = 0;

    memset(r, 0, sizeof(*r));
    r->b = kve_kv_batch(kv, &cmd, 1, &opts, on_reply, on_done, r, &err);
    CHECK_EQ_INT(err, 0);
}

static void run_until(int *flag, uint64_t ms)
{
    for (uint64_t end = h2o_now(loop) + ms; !*flag && h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
}

static void test_parse(void)
{
    long long n;
    kve_kv_reply_t two = {.type = KVE_REPLY_INTEGER, .integer = 2}, zero = {.type = KVE_REPLY_INTEGER, .integer = 0},
                   neg = {.type = KVE_REPLY_INTEGER, .integer = -1},
                   err = {.type = KVE_REPLY_ERROR, .len = 6, .str = (char *)"NOPERM"},
                   str = {.type = KVE_REPLY_STRING, .len = 1, .str = (char *)"2"};

    CHECK_EQ_INT(kve_kv_ack_parse(&two, 1, &n), 1);
    CHECK_EQ_INT((int)n, 2);
    CHECK_EQ_INT(kve_kv_ack_parse(&two, 2, &n), 1);
    CHECK_EQ_INT(kve_kv_ack_parse(&two, 3, &n), 0);
    CHECK_EQ_INT((int)n, 2);
    CHECK_EQ_INT(kve_kv_ack_parse(&zero, 1, &n), 0);
    CHECK_EQ_INT(kve_kv_ack_parse(&neg, 1, &n), -1);
    CHECK_EQ_INT((int)n, 0);
    CHECK_EQ_INT(kve_kv_ack_parse(&err, 1, &n), -1);
    CHECK_EQ_INT(kve_kv_ack_parse(&str, 1, &n), -1);
    CHECK_EQ_INT(kve_kv_ack_parse(NULL, 1, &n), -1);
}

static void test_link(kve_test_redis_t *primary, kve_test_redis_t *replica)
{
    kve_redis_target_t tp = {.path = (char *)kve_test_redis_socket(primary), .role = "read-write"};
    kve_redis_conf_t conf = {.url = "redis://primary",
                             .connect_timeout_ms = 2000,
                             .command_timeout_ms = 2000,
                             .reconnect_max_delay_ms = 200,
                             .breaker_threshold = 1000,
                             .min_replicas_ack = 1,
                             .min_replicas_ack_timeout_ms = 200};
    kve_kv_t *kv = kve_kv_redis_create(loop, &tp, &conf, NULL), *plain;
    rec_t r, r2;
    uint64_t start;
    int acked = 0;

    /* the replica links up: then a write is acknowledged */
    for (uint64_t end = h2o_now(loop) + 15000; !acked && h2o_now(loop) < end;) {
        send_set(kv, &r, "ack:k", KVE_KV_BATCH_ACK | KVE_KV_BATCH_SYNC);
        run_until(&r.done, 3000);
        CHECK(r.done);
        acked = r.result.err == 0;
        if (!acked)
            CHECK_EQ_INT(r.result.err, KVE_ENOACK);
    }
    CHECK(acked);
    CHECK(r.result.sync_known);

    /* the replica gone: KVE_ENOACK after the timeout; without the flag, no waiting */
    kve_test_redis_stop(replica);
    start = h2o_now(loop);
    send_set(kv, &r, "ack:gone", KVE_KV_BATCH_ACK);
    send_set(kv, &r2, "ack:noflag", 0);
    run_until(&r.done, 3000);
    run_until(&r2.done, 3000);
    CHECK(r.done && r2.done);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_UINT(r.got, 1);
    CHECK_EQ_INT(r.result.err, KVE_ENOACK);
    CHECK(r.done_at - start >= 190);
    CHECK(r.done_at - start < 1500);
    CHECK_EQ_INT(r2.result.err, 0);
    CHECK(r2.done_at <= r.done_at);

    /* cancelled while its acknowledgement is awaited: nothing more runs, the batch is freed once the waiter answers */
    send_set(kv, &r, "ack:cancel", KVE_KV_BATCH_ACK);
    for (uint64_t end = h2o_now(loop) + 2000; r.got == 0 && h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK_EQ_UINT(r.got, 1);
    CHECK(!r.done);
    kve_kv_batch_cancel(r.b);
    for (uint64_t end = h2o_now(loop) + 400; h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK(!r.done);

    /* the link destroyed while a batch waits (shutdown, or a sentinel store's failover): on_done runs with KVE_ENOACK */
    send_set(kv, &r, "ack:destroy", KVE_KV_BATCH_ACK);
    for (uint64_t end = h2o_now(loop) + 2000; r.got == 0 && h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK_EQ_UINT(r.got, 1);
    CHECK(!r.done);
    kve_kv_destroy(kv);
    CHECK(r.done);
    CHECK_EQ_INT(r.result.err, KVE_ENOACK);

    /* a store without the option ignores the flag */
    conf.min_replicas_ack = 0;
    plain = kve_kv_redis_create(loop, &tp, &conf, NULL);
    send_set(plain, &r, "ack:plain", KVE_KV_BATCH_ACK);
    run_until(&r.done, 3000);
    CHECK(r.done);
    CHECK_EQ_INT(r.result.err, 0);
    kve_kv_destroy(plain);
}

void kve_suite_kv_ack(void)
{
    char err[256], port[16];
    int p = kve_test_free_port();
    kve_test_redis_t *primary, *replica = NULL;

    test_parse();
    CHECK(p != 0);
    snprintf(port, sizeof(port), "%d", p);
    primary = kve_test_redis_start_args(
        (const char *[]){"--port", port, "--bind", "127.0.0.1", "--repl-diskless-sync-delay", "0", NULL}, err, sizeof(err));
    if (primary != NULL)
        replica = kve_test_redis_start_args((const char *[]){"--replicaof", "127.0.0.1", port, NULL}, err, sizeof(err));
    if (primary == NULL || replica == NULL) {
        fprintf(stderr, "kv_ack: %s\n", err);
        CHECK(0); /* a missing redis-server is a failure, not a skip */
        kve_test_redis_free(primary);
        return;
    }
    loop = h2o_evloop_create();
    test_link(primary, replica);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    kve_test_redis_free(replica);
    kve_test_redis_free(primary);
}
