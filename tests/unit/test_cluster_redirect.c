/* SPDX-License-Identifier: MIT */
/*
 * The Redis link's hand-over of cluster errors (kve_redis_target_t.redirect, for the Cluster topology's link) on a
 * real cluster-enabled redis-server that serves no slot: a keyed command's -CLUSTERDOWN goes to the callback (which
 * completes the op itself, as the cluster link will after a resend), a keyless command's reply completes as usual,
 * and a link without the callback completes the error as an ordinary error reply.
 */
#include "test.h"
#include "redis_server.h"
#include "proxy/common.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_redis.h"

#include <stdio.h>
#include <string.h>

static h2o_loop_t *loop;

typedef struct st_rec_t {
    int done, err;
    char str[80];
} rec_t;

static struct {
    int calls;
    char text[80];
} handed;

static void redirect(void *data, kve_kv_op_t *op, const kve_kv_reply_t *reply)
{
    CHECK(data == &handed);
    ++handed.calls;
    snprintf(handed.text, sizeof(handed.text), "%.*s", (int)KVE_MIN(reply->len, 79), reply->str);
    static const kve_kv_reply_t mine = {.type = KVE_REPLY_STATUS, .len = 7, .str = (char *)"HANDLED"};
    kve_kv__complete(op, 0, &mine);
}

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    rec_t *r = data;
    (void)i;
    r->err = err;
    if (reply != NULL && reply->str != NULL)
        snprintf(r->str, sizeof(r->str), "%.*s", (int)KVE_MIN(reply->len, 79), reply->str);
}

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    (void)result;
    ((rec_t *)data)->done = 1;
}

static void run(kve_kv_t *kv, rec_t *r, size_t argc, const char *const *argv)
{
    size_t len[4];
    int err = 0;

    for (size_t i = 0; i != argc; ++i)
        len[i] = strlen(argv[i]);
    memset(r, 0, sizeof(*r));
    kve_kv_command_t cmd = KVE_KV_COMMAND(argc, argv, len);
    kve_kv_batch_opts_t opts = {0};
    CHECK_NOT_NULL(kve_kv_batch(kv, &cmd, 1, &opts, on_reply, on_done, r, &err));
    CHECK_EQ_INT(err, 0);
    for (uint64_t end = h2o_now(loop) + 5000; !r->done && h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK(r->done);
}

TEST(handover)
{
    char err[256], port[16], bus[16];
    int p = kve_test_free_port(), b = kve_test_free_port();
    kve_test_redis_t *node;
    kve_redis_conf_t conf = {.url = "redis://node",
                             .connect_timeout_ms = 2000,
                             .command_timeout_ms = 2000,
                             .reconnect_max_delay_ms = 200,
                             .breaker_threshold = 1000};
    rec_t r;

    CHECK(p != 0 && b != 0 && p != b);
    snprintf(port, sizeof(port), "%d", p);
    snprintf(bus, sizeof(bus), "%d", b);
    node = kve_test_redis_start_args(
        (const char *[]){"--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-port", bus, NULL}, err,
        sizeof(err));
    if (node == NULL) {
        fprintf(stderr, "cluster_redirect: %s\n", err);
        CHECK(0); /* a missing redis-server is a failure, not a skip */
        return;
    }
    loop = h2o_evloop_create();
    kve_redis_target_t with = {
        .path = (char *)kve_test_redis_socket(node), .role = "read-write", .redirect = redirect, .redirect_data = &handed};
    kve_redis_target_t without = {.path = (char *)kve_test_redis_socket(node), .role = "read-write"};
    kve_kv_t *kv = kve_kv_redis_create(loop, &with, &conf, NULL), *plain = kve_kv_redis_create(loop, &without, &conf, NULL);

    /* no slot is served: a keyed command gets -CLUSTERDOWN, handed over; the callback's own completion is the result */
    run(kv, &r, 2, (const char *[]){"GET", "foo"});
    CHECK_EQ_INT(handed.calls, 1);
    CHECK(strncmp(handed.text, "CLUSTERDOWN", 11) == 0);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_STR(r.str, "HANDLED");
    /* a keyless command is answered as usual; so is another error */
    run(kv, &r, 1, (const char *[]){"PING"});
    CHECK_EQ_STR(r.str, "PONG");
    run(kv, &r, 2, (const char *[]){"NOSUCHCOMMAND", "x"});
    CHECK(strncmp(r.str, "ERR unknown command", 19) == 0);
    CHECK_EQ_INT(handed.calls, 1);
    /* without the callback: Redis' error is the result */
    run(plain, &r, 2, (const char *[]){"GET", "foo"});
    CHECK(strncmp(r.str, "CLUSTERDOWN", 11) == 0);
    CHECK_EQ_INT(handed.calls, 1);

    kve_kv_destroy(kv);
    kve_kv_destroy(plain);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    kve_test_redis_free(node);
}

void kve_suite_cluster_redirect(void)
{
    RUN(handover);
}
