/* SPDX-License-Identifier: MIT */
/*
 * The Redis link's side of Redis Cluster (kve_redis_target_t.redirect and .redirect_atomic, ASKING, no SELECT) on real
 * cluster-enabled redis-servers:
 * - `handover`: one node that serves no slot: a keyed command's -CLUSTERDOWN goes to redirect() (which completes the op
 *   itself), a transaction's to redirect_atomic() whole; a keyless command's reply completes as usual; a link without
 *   the callbacks completes the error as an ordinary error reply (a transaction: its abort reply, as with redirect
 *   but no redirect_atomic); a cluster node's link whose target names db 3 still comes up (no SELECT: Cluster refuses
 *   it); an error reply to ASKING (a node without cluster support) is dropped and the connection stays in step.
 * - `migration`: two primaries A (slots 0-8191) and B (8192-16383) and C, a replica of A: MOVED (a command and a
 *   transaction, resent to the right node by the callbacks), the FIRST cluster error of a transaction, a non-cluster
 *   error that keeps today's behaviour, ASK with kve_kv_redis_send_asking/_atomic_asking (and without: MOVED back),
 *   TRYAGAIN, -READONLY from a replica, and ASKING on a link with no connection (KVE_EUNAVAIL).
 */
#include "test.h"
#include "redis_server.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_redis.h"

#include <stdio.h>
#include <string.h>

static h2o_loop_t *loop;

#define MAX_OPS 4

typedef struct st_rec_t {
    int done, result_err;
    int err[MAX_OPS];
    char str[MAX_OPS][80];
    char abort[80];
} rec_t;

/* what the callbacks do with what they are handed the first time: complete it themselves, or resend it (with ASKING or
 * not); they complete what they are handed again (a redirection loop in a test is a failed CHECK, not a hang) */
enum { COMPLETE, RESEND, RESEND_ASKING };

static struct {
    int calls, atomic_calls, mode, send_err;
    size_t n;
    char text[80];
    kve_kv_t *to; /* where RESEND* sends */
} handed;

static const kve_kv_reply_t handled = {.type = KVE_REPLY_STATUS, .len = 7, .str = (char *)"HANDLED"};

static void copy_text(char *dst, size_t size, const kve_kv_reply_t *reply)
{
    snprintf(dst, size, "%.*s", (int)KVE_MIN(reply->len, size - 1), reply->str);
}

static void redirect(void *data, kve_kv_op_t *op, const kve_kv_reply_t *reply)
{
    CHECK(data == &handed);
    ++handed.calls;
    copy_text(handed.text, sizeof(handed.text), reply);
    if (handed.mode == COMPLETE || handed.calls + handed.atomic_calls > 1) {
        kve_kv__complete(op, 0, &handled);
        return;
    }
    handed.send_err =
        handed.mode == RESEND_ASKING ? kve_kv_redis_send_asking(handed.to, op) : handed.to->driver->send(handed.to, op);
    if (handed.send_err != 0) /* nothing was queued: the op is still ours */
        kve_kv__complete(op, handed.send_err, NULL);
}

static void redirect_atomic(void *data, kve_kv_op_t *ops, size_t n, const kve_kv_reply_t *reply)
{
    CHECK(data == &handed);
    ++handed.atomic_calls;
    handed.n = n;
    copy_text(handed.text, sizeof(handed.text), reply);
    CHECK(ops[0].batch->abort_reply == NULL);    /* the cluster error is never the abort reason */
    CHECK(ops[0].batch->redirect_reply == NULL); /* taken out for the call: a resend starts clean */
    if (handed.mode == COMPLETE || handed.calls + handed.atomic_calls > 1) {
        for (size_t i = 0; i != n; ++i)
            kve_kv__complete(ops + i, 0, &handled);
        return;
    }
    handed.send_err = handed.mode == RESEND_ASKING ? kve_kv_redis_send_atomic_asking(handed.to, ops, n)
                                                   : handed.to->driver->send_atomic(handed.to, ops, n);
    for (size_t i = 0; handed.send_err != 0 && i != n; ++i)
        kve_kv__complete(ops + i, handed.send_err, NULL);
}

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    rec_t *r = data;
    if (i >= MAX_OPS)
        return;
    r->err[i] = err;
    if (reply == NULL)
        snprintf(r->str[i], sizeof(r->str[i]), "(none)");
    else if (reply->type == KVE_REPLY_NIL)
        snprintf(r->str[i], sizeof(r->str[i]), "(nil)");
    else if (reply->type == KVE_REPLY_INTEGER)
        snprintf(r->str[i], sizeof(r->str[i]), "%lld", (long long)reply->integer);
    else if (reply->str != NULL)
        copy_text(r->str[i], sizeof(r->str[i]), reply);
}

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    rec_t *r = data;
    r->result_err = result->err;
    if (result->abort_reply != NULL)
        copy_text(r->abort, sizeof(r->abort), result->abort_reply);
    r->done = 1;
}

/* runs `n` commands (each a NULL-terminated argv) as one batch, atomic or not, and waits for on_done */
static void run_batch(kve_kv_t *kv, rec_t *r, int atomic, size_t n, const char *const *const *cmds)
{
    const char *const *argv[MAX_OPS];
    size_t len[MAX_OPS][6];
    kve_kv_command_t cmd[MAX_OPS];
    int err = 0;

    KVE_ASSERT(n <= MAX_OPS);
    memset(r, 0, sizeof(*r));
    for (size_t c = 0; c != n; ++c) {
        size_t argc = 0;
        for (argv[c] = cmds[c]; argv[c][argc] != NULL; ++argc) {
            KVE_ASSERT(argc < 6);
            len[c][argc] = strlen(argv[c][argc]);
        }
        cmd[c] = (kve_kv_command_t)KVE_KV_COMMAND(argc, argv[c], len[c]);
    }
    kve_kv_batch_opts_t opts = {.flags = atomic ? KVE_KV_BATCH_ATOMIC : 0};
    CHECK_NOT_NULL(kve_kv_batch(kv, cmd, n, &opts, on_reply, on_done, r, &err));
    CHECK_EQ_INT(err, 0);
    for (uint64_t end = h2o_now(loop) + 5000; !r->done && h2o_now(loop) < end;)
        h2o_evloop_run(loop, 10);
    CHECK(r->done);
}

#define CMDS(...) ((const char *const *const[]){__VA_ARGS__})
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define RUN1(kv, r, ...) run_batch(kv, r, 0, 1, CMDS(ARGS(__VA_ARGS__)))

static kve_test_redis_t *start_node(char *port, char *bus)
{
    char err[256];
    int p = kve_test_free_port(), b = kve_test_free_port();
    kve_test_redis_t *node;

    CHECK(p != 0 && b != 0 && p != b);
    snprintf(port, 16, "%d", p);
    snprintf(bus, 16, "%d", b);
    node = kve_test_redis_start_args(
        (const char *[]){"--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-port", bus, NULL}, err,
        sizeof(err));
    if (node == NULL)
        fprintf(stderr, "cluster_redirect: %s\n", err); /* a missing redis-server is a failure, not a skip */
    return node;
}

static const kve_redis_conf_t conf = {.url = "redis://node",
                                      .connect_timeout_ms = 2000,
                                      .command_timeout_ms = 2000,
                                      .reconnect_max_delay_ms = 200,
                                      .breaker_threshold = 1000};

static void reset_handed(int mode, kve_kv_t *to)
{
    memset(&handed, 0, sizeof(handed));
    handed.mode = mode;
    handed.to = to;
}

TEST(handover)
{
    char port[16], bus[16];
    kve_test_redis_t *node = start_node(port, bus);
    rec_t r;

    if (node == NULL) {
        CHECK(0);
        return;
    }
    loop = h2o_evloop_create();
    /* db 3: a cluster node's link never sends SELECT (the node would refuse it and the link would never come up) */
    kve_redis_target_t with = {.path = (char *)kve_test_redis_socket(node),
                               .db = 3,
                               .role = "read-write",
                               .redirect = redirect,
                               .redirect_atomic = redirect_atomic,
                               .redirect_data = &handed};
    kve_redis_target_t without = {.path = (char *)kve_test_redis_socket(node), .role = "read-write"};
    kve_redis_target_t half = with; /* redirect without redirect_atomic: a transaction's cluster error is its abort reply */
    half.redirect_atomic = NULL;
    kve_kv_t *kv = kve_kv_redis_create(loop, &with, &conf, NULL), *plain = kve_kv_redis_create(loop, &without, &conf, NULL);
    kve_kv_t *halfway = kve_kv_redis_create(loop, &half, &conf, NULL);

    reset_handed(COMPLETE, NULL);
    RUN1(kv, &r, "PING"); /* up, without SELECT 3 */
    CHECK_EQ_INT(r.err[0], 0);
    CHECK_EQ_STR(r.str[0], "PONG");
    CHECK_EQ_INT(KVE_STAT_GET(kv->stats->state), KVE_KV_UP);
    /* no slot is served: a keyed command gets -CLUSTERDOWN, handed over; the callback's own completion is the result */
    RUN1(kv, &r, "GET", "foo");
    CHECK_EQ_INT(handed.calls, 1);
    CHECK(strncmp(handed.text, "CLUSTERDOWN", 11) == 0);
    CHECK_EQ_INT(r.err[0], 0);
    CHECK_EQ_STR(r.str[0], "HANDLED");
    /* a transaction: the queued command's CLUSTERDOWN, then EXECABORT: handed over whole */
    run_batch(kv, &r, 1, 2, CMDS(ARGS("SET", "foo", "1"), ARGS("GET", "foo")));
    CHECK_EQ_INT(handed.atomic_calls, 1);
    CHECK_EQ_UINT(handed.n, 2);
    CHECK(strncmp(handed.text, "CLUSTERDOWN", 11) == 0);
    CHECK_EQ_INT(r.result_err, 0);
    CHECK_EQ_STR(r.str[0], "HANDLED");
    CHECK_EQ_STR(r.str[1], "HANDLED");
    /* a keyless command is answered as usual; so is another error, and a keyless transaction */
    RUN1(kv, &r, "PING");
    CHECK_EQ_STR(r.str[0], "PONG");
    RUN1(kv, &r, "NOSUCHCOMMAND", "x");
    CHECK(strncmp(r.str[0], "ERR unknown command", 19) == 0);
    run_batch(kv, &r, 1, 2, CMDS(ARGS("PING"), ARGS("ECHO", "e")));
    CHECK_EQ_INT(r.result_err, 0);
    CHECK_EQ_STR(r.str[1], "e");
    CHECK_EQ_INT(handed.calls, 1);
    CHECK_EQ_INT(handed.atomic_calls, 1);
    /* without the callbacks: Redis' error is the result, a transaction's the abort reply */
    RUN1(plain, &r, "GET", "foo");
    CHECK(strncmp(r.str[0], "CLUSTERDOWN", 11) == 0);
    run_batch(plain, &r, 1, 1, CMDS(ARGS("GET", "foo")));
    CHECK_EQ_INT(r.result_err, KVE_EABORTED);
    CHECK(strncmp(r.abort, "CLUSTERDOWN", 11) == 0);
    run_batch(halfway, &r, 1, 2, CMDS(ARGS("SET", "foo", "1"), ARGS("GET", "foo")));
    CHECK_EQ_INT(r.result_err, KVE_EABORTED);
    CHECK(strncmp(r.abort, "CLUSTERDOWN", 11) == 0);
    CHECK_EQ_INT(handed.calls, 1);
    CHECK_EQ_INT(handed.atomic_calls, 1);
    RUN1(halfway, &r, "GET", "foo"); /* a command alone still goes to redirect() */
    CHECK_EQ_INT(handed.calls, 2);
    CHECK_EQ_STR(r.str[0], "HANDLED");

    /* an error reply to ASKING (a node without cluster support refuses it) is dropped: the command's own reply counts,
     * and the connection stays in step (the next command gets its own reply) */
    char err[256];
    kve_test_redis_t *standalone = kve_test_redis_start(err, sizeof(err));
    CHECK_NOT_NULL(standalone);
    if (standalone != NULL) {
        kve_redis_target_t st = {.path = (char *)kve_test_redis_socket(standalone), .role = "read-write"};
        kve_kv_t *other = kve_kv_redis_create(loop, &st, &conf, NULL);
        RUN1(other, &r, "SET", "foo", "standalone");
        reset_handed(RESEND_ASKING, other);
        RUN1(kv, &r, "GET", "foo");
        CHECK_EQ_INT(handed.send_err, 0);
        CHECK_EQ_STR(r.str[0], "standalone");
        reset_handed(RESEND_ASKING, other);
        run_batch(kv, &r, 1, 2, CMDS(ARGS("SET", "foo", "tx"), ARGS("GET", "foo")));
        CHECK_EQ_INT(handed.atomic_calls, 1);
        CHECK_EQ_INT(r.result_err, 0);
        CHECK_EQ_STR(r.str[0], "OK");
        CHECK_EQ_STR(r.str[1], "tx");
        RUN1(other, &r, "ECHO", "in step");
        CHECK_EQ_STR(r.str[0], "in step");
        CHECK_EQ_INT(KVE_STAT_GET(other->stats->state), KVE_KV_UP);
        kve_kv_destroy(other);
    }

    kve_kv_destroy(kv);
    kve_kv_destroy(plain);
    kve_kv_destroy(halfway);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    kve_test_redis_free(standalone);
    kve_test_redis_free(node);
}

/* sends `cmd` on `kv` until its first reply starts with `want` (up to 10 s); 1 when it did */
static int wait_for(kve_kv_t *kv, const char *const *cmd, const char *want)
{
    rec_t r;
    for (uint64_t end = h2o_now(loop) + 10000; h2o_now(loop) < end;) {
        run_batch(kv, &r, 0, 1, (const char *const *const[]){cmd});
        if (strncmp(r.str[0], want, strlen(want)) == 0)
            return 1;
        h2o_evloop_run(loop, 50);
    }
    fprintf(stderr, "cluster_redirect: %s answered %s, not %s\n", cmd[0], r.str[0], want);
    return 0;
}

TEST(migration)
{
    char port[3][16], bus[3][16], id_a[80], id_b[80], slot[8];
    kve_test_redis_t *a = start_node(port[0], bus[0]), *b = start_node(port[1], bus[1]), *c = start_node(port[2], bus[2]);
    rec_t r;

    if (a == NULL || b == NULL || c == NULL) {
        CHECK(0);
        kve_test_redis_free(a);
        kve_test_redis_free(b);
        kve_test_redis_free(c);
        return;
    }
    loop = h2o_evloop_create();
    kve_redis_target_t admin_t[3] = {{.path = (char *)kve_test_redis_socket(a), .role = "read-write"},
                                     {.path = (char *)kve_test_redis_socket(b), .role = "read-write"},
                                     {.path = (char *)kve_test_redis_socket(c), .role = "read-write"}};
    kve_redis_target_t node_t[3];
    kve_kv_t *admin[3], *node[3];
    for (size_t i = 0; i != 3; ++i) {
        node_t[i] = admin_t[i];
        node_t[i].redirect = redirect;
        node_t[i].redirect_atomic = redirect_atomic;
        node_t[i].redirect_data = &handed;
        admin[i] = kve_kv_redis_create(loop, admin_t + i, &conf, NULL);
        node[i] = kve_kv_redis_create(loop, node_t + i, &conf, NULL);
    }

    /* the cluster: A serves 0-8191 ("bar" hashes to 5061), B 8192-16383 ("foo": 12182), C replicates A */
    RUN1(admin[0], &r, "CLUSTER", "MYID");
    snprintf(id_a, sizeof(id_a), "%s", r.str[0]);
    RUN1(admin[1], &r, "CLUSTER", "MYID");
    snprintf(id_b, sizeof(id_b), "%s", r.str[0]);
    CHECK_EQ_UINT(strlen(id_a), 40);
    RUN1(admin[0], &r, "CLUSTER", "ADDSLOTSRANGE", "0", "8191");
    CHECK_EQ_STR(r.str[0], "OK");
    RUN1(admin[1], &r, "CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
    CHECK_EQ_STR(r.str[0], "OK");
    for (int i = 1; i != 3; ++i) {
        RUN1(admin[0], &r, "CLUSTER", "MEET", "127.0.0.1", port[i], bus[i]);
        CHECK_EQ_STR(r.str[0], "OK");
    }
    CHECK(wait_for(admin[0], ARGS("CLUSTER", "INFO"), "cluster_state:ok"));
    CHECK(wait_for(admin[1], ARGS("CLUSTER", "INFO"), "cluster_state:ok"));
    CHECK(wait_for(admin[2], ARGS("CLUSTER", "REPLICATE", id_a), "OK"));
    RUN1(admin[0], &r, "SET", "{bar}here", "1");
    CHECK_EQ_STR(r.str[0], "OK");

    /* MOVED, a command: resent to B by the callback, answered there */
    reset_handed(RESEND, node[1]);
    RUN1(node[0], &r, "SET", "{foo}k", "v1");
    CHECK_EQ_INT(handed.calls, 1);
    CHECK(strncmp(handed.text, "MOVED 12182 127.0.0.1:", 22) == 0);
    CHECK_EQ_INT(r.err[0], 0);
    CHECK_EQ_STR(r.str[0], "OK");
    /* MOVED, a transaction: handed over whole (nothing ran on A), resent to B, applied there */
    reset_handed(RESEND, node[1]);
    run_batch(node[0], &r, 1, 2, CMDS(ARGS("SET", "{foo}k", "v2"), ARGS("GET", "{foo}k")));
    CHECK_EQ_INT(handed.atomic_calls, 1);
    CHECK_EQ_UINT(handed.n, 2);
    CHECK(strncmp(handed.text, "MOVED 12182 ", 12) == 0);
    CHECK_EQ_INT(r.result_err, 0);
    CHECK_EQ_STR(r.abort, "");
    CHECK_EQ_STR(r.str[0], "OK");
    CHECK_EQ_STR(r.str[1], "v2");
    RUN1(admin[1], &r, "GET", "{foo}k");
    CHECK_EQ_STR(r.str[0], "v2");
    /* a non-cluster error among the queued replies keeps today's behaviour: aborted with it, not handed over */
    reset_handed(COMPLETE, NULL);
    run_batch(node[0], &r, 1, 2, CMDS(ARGS("SET", "{foo}k", "v3"), ARGS("NOSUCHCOMMAND")));
    CHECK_EQ_INT(handed.atomic_calls, 0);
    CHECK_EQ_INT(r.result_err, KVE_EABORTED);
    CHECK(strncmp(r.abort, "ERR unknown command", 19) == 0);
    run_batch(node[0], &r, 1, 2, CMDS(ARGS("NOSUCHCOMMAND"), ARGS("SET", "{foo}k", "v3")));
    CHECK_EQ_INT(handed.atomic_calls, 0);
    CHECK(strncmp(r.abort, "ERR unknown command", 19) == 0);

    /* slot 5061 migrates from A to B */
    snprintf(slot, sizeof(slot), "5061");
    RUN1(admin[1], &r, "CLUSTER", "SETSLOT", slot, "IMPORTING", id_a);
    CHECK_EQ_STR(r.str[0], "OK");
    RUN1(admin[0], &r, "CLUSTER", "SETSLOT", slot, "MIGRATING", id_b);
    CHECK_EQ_STR(r.str[0], "OK");
    /* ASK (a key not on A): with ASKING, B answers; without, B sends it back with MOVED */
    reset_handed(RESEND_ASKING, node[1]);
    RUN1(node[0], &r, "SET", "{bar}new", "n1");
    CHECK_EQ_INT(handed.calls, 1);
    CHECK(strncmp(handed.text, "ASK 5061 127.0.0.1:", 19) == 0);
    CHECK_EQ_INT(handed.send_err, 0);
    CHECK_EQ_STR(r.str[0], "OK");
    reset_handed(RESEND, node[1]);
    RUN1(node[0], &r, "GET", "{bar}new");
    CHECK_EQ_INT(handed.calls, 2); /* A's ASK, then B's MOVED (the callback sent it to B again: completed then) */
    CHECK(strncmp(handed.text, "MOVED 5061 ", 11) == 0);
    CHECK_EQ_STR(r.str[0], "HANDLED");
    /* a transaction's ASK: ASKING before MULTI on B holds through EXEC */
    reset_handed(RESEND_ASKING, node[1]);
    run_batch(node[0], &r, 1, 2, CMDS(ARGS("SET", "{bar}tx", "t1"), ARGS("GET", "{bar}tx")));
    CHECK_EQ_INT(handed.atomic_calls, 1);
    CHECK(strncmp(handed.text, "ASK 5061 ", 9) == 0);
    CHECK_EQ_INT(r.result_err, 0);
    CHECK_EQ_STR(r.str[0], "OK");
    CHECK_EQ_STR(r.str[1], "t1");
    /* EXEC's own cluster error: on B, the transaction's keys are split (one missing, one imported): EXEC answers
     * TRYAGAIN (nothing ran), handed over too */
    reset_handed(RESEND_ASKING, node[1]);
    run_batch(node[0], &r, 1, 2, CMDS(ARGS("SET", "{bar}tx2", "t2"), ARGS("GET", "{bar}new")));
    CHECK_EQ_INT(handed.atomic_calls, 2); /* A's ASK on a queued command, then B's TRYAGAIN on EXEC */
    CHECK(strncmp(handed.text, "TRYAGAIN", 8) == 0);
    CHECK_EQ_STR(r.str[0], "HANDLED");
    run_batch(admin[1], &r, 0, 2, CMDS(ARGS("ASKING"), ARGS("GET", "{bar}tx2")));
    CHECK_EQ_STR(r.str[1], "(nil)"); /* nothing ran on B */
    /* the FIRST cluster error of a transaction is the one handed over: MOVED (a B key), then ASK */
    reset_handed(COMPLETE, NULL);
    run_batch(node[0], &r, 1, 2, CMDS(ARGS("GET", "{foo}k"), ARGS("GET", "{bar}missing")));
    CHECK_EQ_INT(handed.atomic_calls, 1);
    CHECK(strncmp(handed.text, "MOVED 12182 ", 12) == 0);
    CHECK_EQ_STR(r.str[1], "HANDLED");
    /* TRYAGAIN: keys of the moving slot split between A and B (a command and a transaction) */
    RUN1(node[0], &r, "MGET", "{bar}here", "{bar}new");
    CHECK_EQ_INT(handed.calls, 1);
    CHECK(strncmp(handed.text, "TRYAGAIN", 8) == 0);
    run_batch(node[0], &r, 1, 1, CMDS(ARGS("MGET", "{bar}here", "{bar}new")));
    CHECK_EQ_INT(handed.atomic_calls, 2);
    CHECK(strncmp(handed.text, "TRYAGAIN", 8) == 0);
    CHECK_EQ_STR(r.str[0], "HANDLED");
    /* -READONLY: a write reached a replica (a keyless one: a keyed one gets MOVED to its primary) */
    RUN1(node[2], &r, "FLUSHDB");
    CHECK_EQ_INT(handed.calls, 2);
    CHECK(strncmp(handed.text, "READONLY", 8) == 0);
    CHECK_EQ_STR(r.str[0], "HANDLED");
    run_batch(node[2], &r, 1, 1, CMDS(ARGS("FLUSHDB")));
    CHECK_EQ_INT(handed.atomic_calls, 3);
    CHECK(strncmp(handed.text, "READONLY", 8) == 0);
    CHECK_EQ_INT(KVE_STAT_GET(node[2]->stats->state), KVE_KV_UP); /* not the sentinel path: the link stays */

    /* ASKING on a link with no connection: KVE_EUNAVAIL, nothing queued (the callback completes the op) */
    kve_redis_target_t dead_t = node_t[0];
    dead_t.path = (char *)"/nonexistent/redis.sock";
    kve_kv_t *dead = kve_kv_redis_create(loop, &dead_t, &conf, NULL);
    reset_handed(RESEND_ASKING, dead);
    RUN1(node[0], &r, "GET", "{bar}missing");
    CHECK_EQ_INT(handed.send_err, KVE_EUNAVAIL);
    CHECK_EQ_INT(r.err[0], KVE_EUNAVAIL);
    reset_handed(RESEND_ASKING, dead);
    run_batch(node[0], &r, 1, 1, CMDS(ARGS("GET", "{bar}missing")));
    CHECK_EQ_INT(handed.atomic_calls, 1);
    CHECK_EQ_INT(handed.send_err, KVE_EUNAVAIL);
    CHECK_EQ_INT(r.result_err, KVE_EUNAVAIL);
    kve_kv_destroy(dead);

    for (size_t i = 0; i != 3; ++i) {
        kve_kv_destroy(admin[i]);
        kve_kv_destroy(node[i]);
    }
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    kve_test_redis_free(c);
    kve_test_redis_free(b);
    kve_test_redis_free(a);
}

void kve_suite_cluster_redirect(void)
{
    RUN(handover);
    RUN(migration);
}
