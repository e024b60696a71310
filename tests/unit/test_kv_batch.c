/* SPDX-License-Identifier: MIT */
/*
 * Conformance suite of the KV interface (proxy/kv.h, issue 7), run against every driver: the fake one of
 * kv_fake.c (answers out of order, delays, fails) as suite kv_batch_fake, and the hiredis driver against a real
 * redis-server (redis_server.h) as suite kv_batch_redis. The same tests: exactly-once callbacks in index order,
 * windows, stop and cancel from on_reply, timeouts (any number of distinct ones, groups counting once), atomic
 * batches applied whole or not at all, the sync position, destroy with batches pending, take_str. The ASan build
 * runs them too: nothing may leak.
 */
#include "test.h"
#include "kv_fake.h"
#include "redis_server.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_commands.h"
#include "proxy/kv_redis.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_rest_driver.h"
#include "kvedge_server.h"

#include <stdarg.h>
#include <stdlib.h>

#define MAX_CMDS 256

typedef struct st_backend_t {
    const char *name;
    kve_kv_t *(*create)(h2o_loop_t *loop);
    int fake;
    /**
     * the KV REST driver: a command's reply comes with the others of its /pipeline (where the Redis driver answers a
     * command before a slow one behind it, the REST driver answers them all when the slowest is done), and no
     * blocking command exists (a script that runs for a while stands in for BLPOP)
     */
    int rest;
    /** called before the loop is destroyed (may be NULL) */
    void (*cleanup)(void);
} backend_t;

static h2o_loop_t *loop;
static const backend_t *backend;
static kve_kv_t *kv;

/* --- commands from text --- */

typedef struct st_cmds_t {
    kve_kv_command_t cmd[MAX_CMDS];
    const char *argv[MAX_CMDS][4];
    size_t argvlen[MAX_CMDS][4];
    char text[MAX_CMDS][64];
    size_t n;
} cmds_t;

/* appends "NAME a b" (space-separated, at most 4 words) */
static void add(cmds_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(cmds_t *c, const char *fmt, ...)
{
    va_list args;
    size_t i = c->n++, argc = 0;
    char *p, *save;

    KVE_ASSERT(i < MAX_CMDS);
    va_start(args, fmt);
    vsnprintf(c->text[i], sizeof(c->text[i]), fmt, args);
    va_end(args);
    for (p = strtok_r(c->text[i], " ", &save); p != NULL; p = strtok_r(NULL, " ", &save)) {
        c->argv[i][argc] = p;
        c->argvlen[i][argc++] = strlen(p);
    }
    c->cmd[i] = KVE_KV_COMMAND(argc, c->argv[i], c->argvlen[i]);
}

/* a command that takes `ms` to answer (and blocks nothing else of the store but its connection): BLPOP on a key
 * nobody pushes to; over REST, where blocking commands are refused, a script that waits as long */
static void add_slow(cmds_t *c, const char *key, unsigned ms)
{
    static const char script[] = "local t=redis.call('TIME') local e=t[1]*1000000+t[2]+tonumber(ARGV[1])*1000 "
                                 "repeat t=redis.call('TIME') until t[1]*1000000+t[2]>=e return 1";
    size_t i;

    if (!backend->rest) {
        add(c, "BLPOP %s %u.%03u", key, ms / 1000, ms % 1000);
        return;
    }
    add(c, "EVAL - 0 %u", ms);
    i = c->n - 1;
    c->argv[i][1] = script;
    c->argvlen[i][1] = sizeof(script) - 1;
}

/* --- a recorder of one batch's callbacks --- */

typedef struct st_rec_t {
    kve_kv_batch_t *b;
    size_t n;
    size_t got;
    int out_of_order;
    int err[MAX_CMDS];
    int type[MAX_CMDS];
    char str[MAX_CMDS][40];
    long long integer[MAX_CMDS];
    size_t cancel_at, stop_at; /* SIZE_MAX: never */
    uint64_t max_inflight;
    int done;
    int done_before_all;
    kve_kv_batch_result_t result;
    char abort_text[128];
    uint64_t done_at;
} rec_t;

static void rec_init(rec_t *r, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    r->cancel_at = r->stop_at = SIZE_MAX;
}

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    rec_t *r = data;
    kve_kv_stats_t st;

    if (i != r->got || r->done)
        r->out_of_order = 1;
    r->err[i] = err;
    if (reply != NULL) {
        r->type[i] = reply->type;
        r->integer[i] = reply->integer;
        if (reply->str != NULL)
            snprintf(r->str[i], sizeof(r->str[i]), "%.*s", (int)KVE_MIN(reply->len, 39), reply->str);
    }
    ++r->got;
    kve_kv_get_stats(kv, &st);
    r->max_inflight = KVE_MAX(r->max_inflight, st.inflight);
    if (i == r->cancel_at)
        kve_kv_batch_cancel(r->b);
    if (i == r->stop_at)
        kve_kv_batch_stop(r->b);
}

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    rec_t *r = data;
    ++r->done;
    r->done_before_all = r->got != r->n;
    r->result = *result;
    r->result.abort_reply = NULL;
    if (result->abort_reply != NULL)
        snprintf(r->abort_text, sizeof(r->abort_text), "%.*s", (int)KVE_MIN(result->abort_reply->len, 127),
                 result->abort_reply->str);
    r->done_at = h2o_now(loop);
}

static kve_kv_batch_t *send_batch(rec_t *r, const cmds_t *c, const kve_kv_batch_opts_t *opts)
{
    int err = 0;
    rec_init(r, c->n);
    r->b = kve_kv_batch(kv, c->cmd, c->n, opts, on_reply, on_done, r, &err);
    CHECK_EQ_INT(err, 0);
    return r->b;
}

/* runs the loop until *flag is non-zero or `ms` passed; returns the flag */
static int pump_until(const int *flag, uint64_t ms)
{
    uint64_t end = h2o_now(loop) + ms;
    while ((flag == NULL || *flag == 0) && h2o_now(loop) < end)
        h2o_evloop_run(loop, 10);
    return flag != NULL ? *flag : 0;
}

/* --- the tests --- */

TEST(index_order_exactly_once)
{
    cmds_t c = {0};
    rec_t r;
    size_t i;
    int ok = 1;

    for (i = 0; i != 50; ++i)
        add(&c, "ECHO v%zu", i);
    send_batch(&r, &c, NULL);
    CHECK_EQ_INT(r.got, 0); /* never from inside kve_kv_batch() */
    CHECK(pump_until(&r.done, 3000));
    pump_until(NULL, 20); /* nothing more comes */
    CHECK_EQ_UINT(r.got, 50);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.out_of_order, 0);
    CHECK_EQ_INT(r.done_before_all, 0);
    CHECK_EQ_INT(r.result.err, 0);
    for (i = 0; i != 50; ++i) {
        char want[16];
        snprintf(want, sizeof(want), "v%zu", i);
        ok &= r.err[i] == 0 && r.type[i] == KVE_REPLY_STRING && strcmp(r.str[i], want) == 0;
    }
    CHECK(ok);
}

TEST(window_bounds_inflight)
{
    cmds_t c = {0};
    rec_t r;
    kve_kv_batch_opts_t opts = {.window = 7};

    for (size_t i = 0; i != 60; ++i)
        add(&c, "ECHO w%zu", i);
    send_batch(&r, &c, &opts);
    CHECK(pump_until(&r.done, 3000));
    CHECK_EQ_UINT(r.got, 60);
    CHECK_EQ_INT(r.out_of_order, 0);
    CHECK(r.max_inflight <= 7);
    CHECK_EQ_STR(r.str[59], "w59");
}

TEST(stop_from_on_reply)
{
    cmds_t c = {0};
    rec_t r;
    kve_kv_batch_opts_t opts = {.window = 3};
    size_t i, first_unsent = SIZE_MAX;
    int ok = 1;

    for (i = 0; i != 20; ++i)
        add(&c, "ECHO s%zu", i);
    send_batch(&r, &c, &opts);
    r.stop_at = 4;
    CHECK(pump_until(&r.done, 3000));
    CHECK_EQ_UINT(r.got, 20);
    CHECK_EQ_INT(r.out_of_order, 0);
    CHECK_EQ_INT(r.result.err, 0); /* commands not sent do not count */
    for (i = 0; i != 20; ++i) {
        if (r.err[i] == KVE_ENOTSENT && first_unsent == SIZE_MAX)
            first_unsent = i;
        ok &= i < first_unsent ? r.err[i] == 0 : r.err[i] == KVE_ENOTSENT; /* sent ones first, then the rest */
    }
    CHECK(ok);
    CHECK(first_unsent >= 5 && first_unsent <= 4 + 3); /* at most a window past the stop */
}

TEST(cancel_from_on_reply)
{
    cmds_t c = {0};
    rec_t r;
    for (size_t i = 0; i != 10; ++i)
        add(&c, "ECHO c%zu", i);
    send_batch(&r, &c, NULL);
    r.cancel_at = 3;
    pump_until(NULL, 300);
    CHECK_EQ_UINT(r.got, 4);
    CHECK_EQ_INT(r.done, 0);
}

TEST(cancel_with_replies_pending)
{
    cmds_t c = {0};
    rec_t r;
    kve_kv_stats_t st;
    add_slow(&c, "kvb:none", 200);
    add(&c, "ECHO after");
    send_batch(&r, &c, NULL);
    kve_kv_batch_cancel(r.b);
    pump_until(NULL, 400); /* the replies come and are dropped; the batch is freed then (ASan: no leak) */
    CHECK_EQ_UINT(r.got, 0);
    CHECK_EQ_INT(r.done, 0);
    kve_kv_get_stats(kv, &st);
    CHECK_EQ_UINT(st.inflight, 0);
}

TEST(timeout_then_late_reply)
{
    cmds_t c = {0};
    rec_t r;
    kve_kv_batch_opts_t opts = {.timeout_ms = 50};
    kve_kv_stats_t before, after;
    uint64_t t0;

    kve_kv_get_stats(kv, &before);
    add(&c, "ECHO first");
    add_slow(&c, "kvb:none", 300);
    add(&c, "ECHO last");
    t0 = h2o_now(loop);
    send_batch(&r, &c, &opts);
    CHECK(pump_until(&r.done, 1000));
    CHECK(r.done_at - t0 >= 45 && r.done_at - t0 < 250);
    CHECK_EQ_UINT(r.got, 3);
    CHECK_EQ_INT(r.out_of_order, 0);
    if (backend->rest)
        CHECK_EQ_INT(r.err[0], KVE_ETIMEDOUT); /* its reply comes with the slow one's, in the same /pipeline */
    else
        CHECK_EQ_INT(r.err[0], 0);
    CHECK_EQ_INT(r.err[1], KVE_ETIMEDOUT);
    CHECK(r.err[2] == KVE_ETIMEDOUT || r.err[2] == 0); /* answered before the timeout by a driver that reorders */
    CHECK_EQ_INT(r.result.err, KVE_ETIMEDOUT);
    pump_until(NULL, 500); /* the late reply comes: dropped, counted */
    CHECK_EQ_UINT(r.got, 3);
    CHECK_EQ_INT(r.done, 1);
    kve_kv_get_stats(kv, &after);
    CHECK(after.late_replies > before.late_replies);
    CHECK_EQ_UINT(after.inflight, 0);
}

TEST(group_times_out_together_and_counts_once)
{
    cmds_t a = {0}, b = {0};
    rec_t ra, rb;
    kve_kv_group_t group = KVE_KV_GROUP_INIT;
    kve_kv_batch_opts_t oa = {.timeout_ms = 40, .group = &group}, ob = {.timeout_ms = 5000, .group = &group};
    kve_kv_fake_stats_t fs0, fs1;
    uint64_t t0 = h2o_now(loop);

    if (backend->fake)
        kve_kv_fake_get_stats(kv, &fs0);
    add_slow(&a, "kvb:none", 300);
    add_slow(&b, "kvb:none2", 300);
    send_batch(&ra, &a, &oa);
    send_batch(&rb, &b, &ob);
    CHECK(pump_until(&rb.done, 1000));
    CHECK(h2o_now(loop) - t0 < 250); /* with the first, not at its own 5 s */
    CHECK_EQ_INT(ra.done, 1);
    CHECK_EQ_INT(ra.result.err, KVE_ETIMEDOUT);
    CHECK_EQ_INT(rb.result.err, KVE_ETIMEDOUT);
    if (backend->fake) {
        kve_kv_fake_get_stats(kv, &fs1);
        CHECK_EQ_UINT(fs1.timeouts_counted - fs0.timeouts_counted, 1); /* one count towards the breaker */
    }
    pump_until(NULL, 700); /* late replies */
}

TEST(any_number_of_distinct_timeouts)
{
    enum { N = 12 };
    cmds_t c[N];
    rec_t r[N];
    int all = 0, in_order = 1;
    size_t i;

    for (i = 0; i != N; ++i) {
        kve_kv_batch_opts_t opts = {.timeout_ms = 20 + 7 * i};
        memset(&c[i], 0, sizeof(c[i]));
        char key[32];
        snprintf(key, sizeof(key), "kvb:t%zu", i);
        add_slow(&c[i], key, 300);
        send_batch(&r[i], &c[i], &opts);
    }
    for (uint64_t end = h2o_now(loop) + 2000; !all && h2o_now(loop) < end;) {
        h2o_evloop_run(loop, 10);
        all = 1;
        for (i = 0; i != N; ++i)
            all &= r[i].done;
    }
    for (i = 0; i != N; ++i) {
        CHECK_EQ_INT(r[i].done, 1);
        CHECK_EQ_INT(r[i].result.err, KVE_ETIMEDOUT);
        if (i != 0)
            in_order &= r[i].done_at >= r[i - 1].done_at;
    }
    CHECK(in_order);
    pump_until(NULL, 300 * (backend->fake ? 1 : N) + 200); /* late replies (Redis runs the BLPOPs one after another) */
}

TEST(atomic_applied_whole_or_not_at_all)
{
    cmds_t ok = {0}, bad = {0}, check = {0};
    rec_t r;
    kve_kv_batch_opts_t atomic = {.flags = KVE_KV_BATCH_ATOMIC};

    add(&ok, "SET kvb:a 1");
    add(&ok, "INCR kvb:n");
    add(&ok, "GET kvb:a");
    send_batch(&r, &ok, &atomic);
    CHECK(pump_until(&r.done, 2000));
    CHECK_EQ_INT(r.result.err, 0);
    CHECK_EQ_INT(r.out_of_order, 0);
    CHECK_EQ_STR(r.str[0], "OK");
    CHECK_EQ_INT(r.type[1], KVE_REPLY_INTEGER);
    long long n = r.integer[1];
    CHECK_EQ_STR(r.str[2], "1");

    /* a command refused at queue time: nothing applied, every index KVE_EABORTED, the reason in the result */
    add(&bad, "INCR kvb:n");
    add(&bad, "NOSUCHCMD x");
    add(&bad, "SET kvb:a 2");
    send_batch(&r, &bad, &atomic);
    CHECK(pump_until(&r.done, 2000));
    CHECK_EQ_UINT(r.got, 3);
    CHECK_EQ_INT(r.err[0], KVE_EABORTED);
    CHECK_EQ_INT(r.err[1], KVE_EABORTED);
    CHECK_EQ_INT(r.err[2], KVE_EABORTED);
    CHECK_EQ_INT(r.result.err, KVE_EABORTED);
    CHECK(strstr(r.abort_text, "unknown command") != NULL);

    add(&check, "GET kvb:n");
    add(&check, "GET kvb:a");
    send_batch(&r, &check, NULL);
    CHECK(pump_until(&r.done, 2000));
    CHECK_EQ_INT(strtoll(r.str[0], NULL, 10), n);
    CHECK_EQ_STR(r.str[1], "1");
}

TEST(sync_position_after_the_batch)
{
    cmds_t c = {0};
    rec_t r, r2;
    kve_kv_batch_opts_t opts = {.flags = KVE_KV_BATCH_SYNC};
    kve_kv_stats_t st0, st1;

    kve_kv_get_stats(kv, &st0);
    add(&c, "SET kvb:s 1");
    send_batch(&r, &c, &opts);
    send_batch(&r2, &c, &opts); /* same loop iteration: one read of the position serves both */
    CHECK(pump_until(&r.done, 2000));
    CHECK(pump_until(&r2.done, 2000));
    CHECK_EQ_INT(r.result.err, 0);
    CHECK_EQ_INT(r.result.sync_known, 1);
    CHECK_EQ_INT(r2.result.sync_known, 1);
    kve_kv_get_stats(kv, &st1);
    if (!backend->fake)
        CHECK_EQ_UINT(st1.syncs - st0.syncs, 1); /* one ROLE for the two batches */
}

static char *taken;
static size_t taken_len;

static void on_reply_take(void *data, size_t i, int e, const kve_kv_reply_t *reply)
{
    rec_t *rr = data;
    const char *before = reply->str;
    taken = kve_kv_reply_take_str(reply, &taken_len);
    rr->integer[0] = taken == before; /* handed over, not copied */
    rr->done = 1;
}

TEST(take_str_without_copy)
{
    static char value[2000];
    cmds_t c = {0};
    rec_t r;
    kve_kv_batch_t *b;
    int err;

    memset(value, 'x', sizeof(value) - 1);
    c.n = 1;
    c.argv[0][0] = "ECHO", c.argvlen[0][0] = 4;
    c.argv[0][1] = value, c.argvlen[0][1] = sizeof(value) - 1;
    c.cmd[0] = KVE_KV_COMMAND(2, c.argv[0], c.argvlen[0]);
    rec_init(&r, 1);
    b = kve_kv_batch(kv, c.cmd, 1, NULL, on_reply_take, NULL, &r, &err);
    CHECK_NOT_NULL(b);
    CHECK(pump_until(&r.done, 2000));
    CHECK_EQ_UINT(taken_len, sizeof(value) - 1);
    CHECK_EQ_INT(r.integer[0], 1);
    CHECK(memcmp(taken, value, taken_len) == 0 && taken[taken_len] == '\0');
    free(taken);
}

static uint64_t script_fallbacks(void)
{
    kve_kv_stats_t st;
    kve_kv_get_stats(kv, &st);
    return st.script_fallbacks;
}

/* runs: ECHO before, the script with `arg` (EVALSHA, or EVALSHA_RO), ECHO after; checks the replies in order */
static void run_script_batch(const kve_kv_script_t *script, int read_only, const char *arg, const kve_kv_batch_opts_t *opts)
{
    cmds_t c = {0};
    rec_t r;

    add(&c, "ECHO before");
    add(&c, "%s %s 0 %s", read_only ? "EVALSHA_RO" : "EVALSHA", script->sha, arg);
    c.cmd[1].script = script;
    add(&c, "ECHO after");
    send_batch(&r, &c, opts);
    CHECK(pump_until(&r.done, 3000));
    CHECK_EQ_INT(r.out_of_order, 0);
    CHECK_EQ_INT(r.result.err, 0);
    CHECK_EQ_STR(r.str[0], "before");
    CHECK_EQ_INT(r.type[1], KVE_REPLY_STRING);
    CHECK_EQ_STR(r.str[1], arg);
    CHECK_EQ_STR(r.str[2], "after");
}

/* issue 9.2: a script registered once runs as EVALSHA; a store that does not have it (never seen, or after SCRIPT
 * FLUSH) answers NOSCRIPT and the command goes again as EVAL, its reply at the same index; in a transaction it goes
 * as EVAL at once */
TEST(script_evalsha_with_eval_fallback)
{
    static int round;
    static char body[80];
    static kve_kv_script_t script;
    kve_kv_batch_opts_t atomic = {.flags = KVE_KV_BATCH_ATOMIC};
    cmds_t flush = {0};
    rec_t r;
    uint64_t before;

    /* a body no test ran before: the store has never seen it */
    snprintf(body, sizeof(body), "return ARGV[1] -- %s %d %d", backend->name, (int)getpid(), ++round);
    kve_kv_script_init(&script, body, strlen(body));
    CHECK_EQ_UINT(strlen(script.sha), 40);
    before = script_fallbacks();
    run_script_batch(&script, 0, "one", NULL); /* NOSCRIPT, then EVAL */
    CHECK_EQ_UINT(script_fallbacks() - before, 1);
    run_script_batch(&script, 0, "two", NULL); /* the EVAL cached it: EVALSHA answers */
    CHECK_EQ_UINT(script_fallbacks() - before, 1);
    add(&flush, "SCRIPT FLUSH");
    send_batch(&r, &flush, NULL);
    CHECK(pump_until(&r.done, 3000));
    CHECK_EQ_STR(r.str[0], "OK");
    run_script_batch(&script, 0, "three", NULL); /* the cache was emptied: NOSCRIPT again, EVAL again */
    CHECK_EQ_UINT(script_fallbacks() - before, 2);
    send_batch(&r, &flush, NULL);
    CHECK(pump_until(&r.done, 3000));
    run_script_batch(&script, 1, "four", NULL); /* EVALSHA_RO falls back to EVAL_RO */
    CHECK_EQ_UINT(script_fallbacks() - before, 3);
    send_batch(&r, &flush, NULL);
    CHECK(pump_until(&r.done, 3000));
    run_script_batch(&script, 0, "five", &atomic); /* a transaction: EVAL at once, no NOSCRIPT to replay */
    CHECK_EQ_UINT(script_fallbacks() - before, 3);
    run_script_batch(&script, 0, "six", &(kve_kv_batch_opts_t){.window = 1}); /* one at a time */
    CHECK_EQ_UINT(script_fallbacks() - before, 3);
}

/* issue 9.5: a batch sent after a write is applied after it, on every driver (the KV REST driver sends the batches of
 * different loop turns on different connections: a read there must not overtake a write sent before it, or the cache
 * would miss what it just stored, or serve what it just invalidated); reads sent meanwhile still run side by side */
TEST(a_batch_after_a_write_sees_it)
{
    int wrong = 0;

    for (int i = 0; i != 40; ++i) {
        cmds_t set = {0}, get = {0};
        rec_t rs, rg;
        add(&set, "SET kvb:order %d", i);
        add(&get, "GET kvb:order");
        send_batch(&rs, &set, NULL);
        h2o_evloop_run(loop, 0); /* the next loop turn: the write is on its way */
        send_batch(&rg, &get, NULL);
        CHECK(pump_until(&rg.done, 3000));
        CHECK(pump_until(&rs.done, 3000));
        if (backend->fake) /* the fake store runs commands when they are sent */
            continue;
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        wrong += strcmp(rg.str[0], want) != 0;
    }
    CHECK_EQ_INT(wrong, 0);
}

TEST(destroy_with_batches_pending)
{
    kve_kv_t *own = backend->create(loop), *saved = kv;
    cmds_t c = {0};
    rec_t r;
    kve_kv_stats_t st;

    kv = own;
    add_slow(&c, "kvb:none", 300);
    add(&c, "ECHO after");
    send_batch(&r, &c, NULL);
    pump_until(NULL, 30); /* on its way */
    kve_kv_destroy(own);
    kv = saved;
    CHECK_EQ_UINT(r.got, 2);
    CHECK_EQ_INT(r.err[0], KVE_ESHUTDOWN);
    CHECK(r.err[1] == KVE_ESHUTDOWN || r.err[1] == 0); /* 0: a driver that reorders had answered it already */
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.result.err, KVE_ESHUTDOWN);
    (void)st;
}

static kve_redis_target_t target;

/* the Redis driver only (issue 7 review): the counters block a link was created with is written by the link and
 * outlives it, so another thread (the metrics) reading it while the link is destroyed reads live memory */
TEST(redis_stats_block_outlives_the_link)
{
    kve_redis_conf_t conf = {.url = "embedded",
                             .connect_timeout_ms = 2000,
                             .command_timeout_ms = 2000,
                             .reconnect_max_delay_ms = 1000,
                             .breaker_threshold = 1000};
    kve_kv_stats_t *block = kve_zalloc(sizeof(*block)), st;
    kve_kv_t *own = kve_kv_redis_create(loop, &target, &conf, block), *saved = kv;
    cmds_t c = {0};
    rec_t r;

    for (uint64_t end = h2o_now(loop) + 5000; h2o_now(loop) < end; h2o_evloop_run(loop, 10)) {
        kve_kv_stats_read(block, &st);
        if (st.state == KVE_KV_UP)
            break;
    }
    CHECK_EQ_INT(st.state, KVE_KV_UP);
    kv = own;
    add(&c, "ECHO a");
    add(&c, "ECHO b");
    send_batch(&r, &c, NULL);
    CHECK(pump_until(&r.done, 3000));
    kv = saved;
    kve_kv_destroy(own);
    kve_kv_stats_read(block, &st);
    CHECK_EQ_INT(st.state, KVE_KV_DOWN);
    CHECK_EQ_UINT(st.commands, 2);
    CHECK_EQ_UINT(st.replies, 2);
    CHECK_EQ_UINT(st.inflight, 0);
    free(block);
}

/* the fake driver only: a failure mid-batch, and a link that refuses to send */
TEST(fake_failures)
{
    cmds_t c = {0};
    rec_t r;
    int err = 0;

    add(&c, "ECHO a");
    add(&c, "FAIL");
    add(&c, "ECHO b");
    send_batch(&r, &c, NULL);
    CHECK(pump_until(&r.done, 1000));
    CHECK_EQ_INT(r.err[0], 0);
    CHECK_EQ_INT(r.err[1], KVE_ECONN);
    CHECK_EQ_INT(r.err[2], 0);
    CHECK_EQ_INT(r.result.err, KVE_ECONN);
    kve_kv_fake_refuse_sends(kv, 1);
    rec_init(&r, 3);
    CHECK_NULL(kve_kv_batch(kv, c.cmd, 3, NULL, on_reply, on_done, &r, &err));
    CHECK_EQ_INT(err, KVE_EUNAVAIL);
    pump_until(NULL, 20);
    CHECK_EQ_UINT(r.got, 0);
    CHECK_EQ_INT(r.done, 0);
    kve_kv_fake_refuse_sends(kv, 0);
}

/* --- the KV REST driver only (issue 9) --- */

static kve_test_kvedge_t *kvedge;
static kve_httpclient_upstream_t *rest_up, *rest_dead_up;
static h2o_globalconf_t rest_globalconf;
static h2o_context_t rest_ctx;
static int rest_ctx_ready;
static char rest_origin[128], rest_prefix[64];

static h2o_context_t *rest_context(h2o_loop_t *l)
{
    if (!rest_ctx_ready) {
        h2o_config_init(&rest_globalconf);
        h2o_config_register_host(&rest_globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
        h2o_context_init(&rest_ctx, l, &rest_globalconf);
        rest_ctx_ready = 1;
    }
    return &rest_ctx;
}

static void rest_cleanup(void)
{
    if (!rest_ctx_ready)
        return;
    h2o_context_dispose(&rest_ctx);
    h2o_config_dispose(&rest_globalconf);
    rest_ctx_ready = 0;
}

static kve_kv_t *rest_link(h2o_loop_t *l, kve_httpclient_upstream_t *up, const char *token, kve_kv_stats_t *stats)
{
    kve_kv_rest_conf_t conf = {.store_name = "central",
                               .token = token,
                               .prefix = rest_prefix,
                               .command_timeout_ms = 2000,
                               .reconnect_max_delay_ms = 200,
                               .breaker_threshold = 1000};
    return kve_kv_rest_create(rest_context(l), up, &conf, stats);
}

static kve_kv_t *create_rest(h2o_loop_t *l)
{
    return rest_link(l, rest_up, KVE_TEST_KVEDGE_TOKEN, NULL);
}

/* a batch of commands given as (argc, argv, argvlen) triples, its replies kept whole */
typedef struct st_whole_t {
    int done, err[8], type[8];
    size_t len[8], elements[8];
    char str[8][256];
    long long integer[8];
    kve_kv_batch_result_t result;
    kve_kv_reply_t *copy[8];
} whole_t;

static void on_whole_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    whole_t *w = data;
    w->err[i] = err;
    if (reply == NULL)
        return;
    w->type[i] = reply->type;
    w->integer[i] = reply->integer;
    w->elements[i] = reply->elements;
    w->len[i] = reply->len;
    if (reply->str != NULL)
        memcpy(w->str[i], reply->str, KVE_MIN(reply->len, sizeof(w->str[i])));
    w->copy[i] = kve_kv__reply_copy(reply);
}

static void on_whole_done(void *data, const kve_kv_batch_result_t *result)
{
    whole_t *w = data;
    w->result = *result;
    w->result.abort_reply = NULL;
    w->done = 1;
}

static int run_whole(whole_t *w, const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts)
{
    int err = 0;
    memset(w, 0, sizeof(*w));
    if (kve_kv_batch(kv, cmds, n, opts, on_whole_reply, on_whole_done, w, &err) == NULL)
        return err;
    CHECK(pump_until(&w->done, 3000));
    return 0;
}

static void whole_dispose(whole_t *w)
{
    for (size_t i = 0; i != 8; ++i)
        kve_kv__reply_free(w->copy[i]);
}

/* NUL bytes and bytes that are not UTF-8 round-trip exactly (the path form and base64) */
TEST(rest_binary_round_trip)
{
    static const char bin[] = "a\0b\xff\xfe\xc0\x80z", nul[] = "x\0y";
    const char *set1[] = {"SET", "kvb:bin", bin}, *set2[] = {"SET", "kvb:nul", nul}, *get1[] = {"GET", "kvb:bin"},
               *get2[] = {"GET", "kvb:nul"}, *bkey[] = {"SET", "kvb:\xff", "v"}, *gkey[] = {"GET", "kvb:\xff"};
    size_t set1l[] = {3, 7, sizeof(bin) - 1}, set2l[] = {3, 7, sizeof(nul) - 1}, getl[] = {3, 7}, bkeyl[] = {3, 5, 1},
           gkeyl[] = {3, 5};
    kve_kv_command_t cmds[] = {KVE_KV_COMMAND(3, set1, set1l), KVE_KV_COMMAND(3, set2, set2l), KVE_KV_COMMAND(2, get1, getl),
                               KVE_KV_COMMAND(2, get2, getl),  KVE_KV_COMMAND(3, bkey, bkeyl), KVE_KV_COMMAND(2, gkey, gkeyl)};
    whole_t w;

    CHECK_EQ_INT(run_whole(&w, cmds, 6, NULL), 0);
    CHECK_EQ_INT(w.result.err, 0);
    CHECK_EQ_STR(w.str[0], "OK");
    CHECK_EQ_STR(w.str[1], "OK");
    CHECK_EQ_INT(w.type[2], KVE_REPLY_STRING);
    CHECK_EQ_UINT(w.len[2], sizeof(bin) - 1);
    CHECK(memcmp(w.str[2], bin, sizeof(bin) - 1) == 0);
    CHECK_EQ_UINT(w.len[3], sizeof(nul) - 1);
    CHECK(memcmp(w.str[3], nul, sizeof(nul) - 1) == 0);
    CHECK_EQ_STR(w.str[5], "v"); /* a key that is not UTF-8 */
    whole_dispose(&w);
}

/* issue 9.5: a transaction with bytes JSON cannot carry (the cache stores binary bodies in one atomic batch) goes as
 * one script: applied whole, results in place (a status stays a status, an error an error, nil nil), bytes exact; a
 * command MULTI would refuse at queue time refuses the whole batch, nothing applied */
TEST(rest_binary_transaction)
{
    static const char bin[] = "t\0x\xff\xfe\xc0\x80z";
    const char *set[] = {"SET", "kvb:tx\xff", bin}, *get[] = {"GET", "kvb:tx\xff"}, *incr[] = {"INCR", "kvb:tx\xff"},
               *nil[] = {"GET", "kvb:txnone"}, *px[] = {"PEXPIRE", "kvb:tx\xff", "60000"}, *bad[] = {"NOSUCHCMD", "kvb:tx\xff"},
               *arity[] = {"GET", "kvb:tx\xff", "extra"}, *set2[] = {"SET", "kvb:tx2", "\xff"};
    size_t setl[] = {3, 7, sizeof(bin) - 1}, getl[] = {3, 7}, incrl[] = {4, 7}, nill[] = {3, 10}, pxl[] = {7, 7, 5},
           badl[] = {9, 7}, arityl[] = {3, 7, 5}, set2l[] = {3, 7, 1};
    kve_kv_command_t cmds[] = {KVE_KV_COMMAND(3, set, setl), KVE_KV_COMMAND(2, get, getl), KVE_KV_COMMAND(2, incr, incrl),
                               KVE_KV_COMMAND(2, nil, nill), KVE_KV_COMMAND(3, px, pxl)};
    kve_kv_command_t refused[] = {KVE_KV_COMMAND(3, set2, set2l), KVE_KV_COMMAND(2, bad, badl)};
    kve_kv_command_t wrong[] = {KVE_KV_COMMAND(3, set2, set2l), KVE_KV_COMMAND(3, arity, arityl)};
    const char *get2[] = {"GET", "kvb:tx2"};
    size_t get2l[] = {3, 7};
    kve_kv_command_t check = KVE_KV_COMMAND(2, get2, get2l);
    kve_kv_batch_opts_t atomic = {.flags = KVE_KV_BATCH_ATOMIC};
    whole_t w;

    CHECK_EQ_INT(run_whole(&w, cmds, 5, &atomic), 0);
    CHECK_EQ_INT(w.result.err, 0);
    CHECK_EQ_INT(w.type[0], KVE_REPLY_STATUS);
    CHECK_EQ_STR(w.str[0], "OK");
    CHECK_EQ_INT(w.type[1], KVE_REPLY_STRING);
    CHECK_EQ_UINT(w.len[1], sizeof(bin) - 1);
    CHECK(memcmp(w.str[1], bin, sizeof(bin) - 1) == 0);
    CHECK_EQ_INT(w.type[2], KVE_REPLY_ERROR); /* a run-time error in place, as in EXEC */
    CHECK(strncmp(w.str[2], "ERR value is not an integer", 27) == 0);
    CHECK_EQ_INT(w.type[3], KVE_REPLY_NIL);
    CHECK_EQ_INT(w.type[4], KVE_REPLY_INTEGER);
    CHECK_EQ_INT(w.integer[4], 1);
    whole_dispose(&w);
    /* a large argument is put aside first (PSETEX in the path form) and read by the script, which deletes it */
    {
        static char big[64 * 1024];
        const char *setbig[] = {"SET", "kvb:{t}big", big}, *getbig[] = {"GET", "kvb:{t}big"},
                   *keys[] = {"EVAL", "return #redis.call('KEYS', 'kvedge:tx:*')", "0"};
        size_t setbigl[] = {3, 10, sizeof(big)}, getbigl[] = {3, 10}, keysl[] = {4, 41, 1};
        kve_kv_command_t both[] = {KVE_KV_COMMAND(3, setbig, setbigl), KVE_KV_COMMAND(2, getbig, getbigl)};
        kve_kv_command_t k = KVE_KV_COMMAND(3, keys, keysl);
        for (size_t i = 0; i != sizeof(big); ++i)
            big[i] = (char)(0x80 + i % 0x7f);
        CHECK_EQ_INT(run_whole(&w, both, 2, &atomic), 0);
        CHECK_EQ_INT(w.result.err, 0);
        CHECK_EQ_STR(w.str[0], "OK");
        CHECK_EQ_UINT(w.len[1], sizeof(big));
        CHECK(w.copy[1] != NULL && memcmp(w.copy[1]->str, big, sizeof(big)) == 0);
        whole_dispose(&w);
        CHECK_EQ_INT(run_whole(&w, &k, 1, NULL), 0);
        CHECK_EQ_INT(w.type[0], KVE_REPLY_INTEGER);
        CHECK_EQ_INT(w.integer[0], 0); /* nothing left aside */
        whole_dispose(&w);
    }
    CHECK_EQ_INT(run_whole(&w, refused, 2, &atomic), KVE_EINVAL); /* an unknown command */
    CHECK_EQ_INT(run_whole(&w, wrong, 2, &atomic), KVE_EINVAL);   /* a wrong arity */
    CHECK_EQ_INT(run_whole(&w, &check, 1, NULL), 0);
    CHECK_EQ_INT(w.type[0], KVE_REPLY_NIL); /* nothing was applied */
    whole_dispose(&w);
}

/* integers, nil, nested arrays, error entries */
TEST(rest_reply_shapes)
{
    const char *ev[] = {"EVAL", "return {1,{2,'x'},'y'}", "0"}, *incr[] = {"INCR", "kvb:bin"}, *get[] = {"GET", "kvb:nokey"},
               *del[] = {"DEL", "kvb:nokey"};
    size_t evl[] = {4, 22, 1}, incrl[] = {4, 7}, getl[] = {3, 9}, dell[] = {3, 9};
    kve_kv_command_t cmds[] = {KVE_KV_COMMAND(3, ev, evl), KVE_KV_COMMAND(2, incr, incrl), KVE_KV_COMMAND(2, get, getl),
                               KVE_KV_COMMAND(2, del, dell)};
    whole_t w;
    const kve_kv_reply_t *a;

    CHECK_EQ_INT(run_whole(&w, cmds, 4, NULL), 0);
    CHECK_EQ_INT(w.type[0], KVE_REPLY_ARRAY);
    a = w.copy[0];
    CHECK_NOT_NULL(a);
    CHECK_EQ_UINT(a->elements, 3);
    CHECK_EQ_INT(a->element[0]->type, KVE_REPLY_INTEGER);
    CHECK_EQ_INT(a->element[0]->integer, 1);
    CHECK_EQ_INT(a->element[1]->type, KVE_REPLY_ARRAY);
    CHECK_EQ_UINT(a->element[1]->elements, 2);
    CHECK_EQ_STR(a->element[1]->element[1]->str, "x");
    CHECK_EQ_STR(a->element[2]->str, "y");
    CHECK_EQ_INT(w.type[1], KVE_REPLY_ERROR);
    CHECK(strncmp(w.str[1], "ERR value is not an integer", 27) == 0);
    CHECK_EQ_INT(w.type[2], KVE_REPLY_NIL);
    CHECK_EQ_INT(w.type[3], KVE_REPLY_INTEGER);
    CHECK_EQ_INT(w.integer[3], 0);
    whole_dispose(&w);
}

/* a reply over max_reply_size is KVE_REPLY_TOO_BIG, the others of its /pipeline too (the body is not read further) */
TEST(rest_reply_over_the_limit)
{
    static char big[8000];
    const char *set[] = {"SET", "kvb:big", big}, *get[] = {"GET", "kvb:big"};
    size_t setl[] = {3, 7, sizeof(big)}, getl[] = {3, 7};
    kve_kv_command_t s1 = KVE_KV_COMMAND(3, set, setl), g1 = KVE_KV_COMMAND(2, get, getl);
    kve_kv_batch_opts_t small = {.max_reply_size = 1024}, roomy = {.max_reply_size = 64 * 1024};
    whole_t w;

    memset(big, 'b', sizeof(big));
    CHECK_EQ_INT(run_whole(&w, &s1, 1, NULL), 0);
    CHECK_EQ_STR(w.str[0], "OK");
    whole_dispose(&w);
    CHECK_EQ_INT(run_whole(&w, &g1, 1, &small), 0);
    CHECK_EQ_INT(w.err[0], 0);
    CHECK_EQ_INT(w.type[0], KVE_REPLY_TOO_BIG);
    whole_dispose(&w);
    CHECK_EQ_INT(run_whole(&w, &g1, 1, &roomy), 0);
    CHECK_EQ_INT(w.type[0], KVE_REPLY_STRING);
    CHECK_EQ_UINT(w.len[0], sizeof(big));
    whole_dispose(&w);
}

/* wait until a link's state is `state` (or 3 s passed) */
static int wait_state(kve_kv_t *k, int state)
{
    kve_kv_stats_t st;
    for (uint64_t end = h2o_now(loop) + 3000; h2o_now(loop) < end; h2o_evloop_run(loop, 10)) {
        kve_kv_get_stats(k, &st);
        if (st.state == state)
            return 1;
    }
    return 0;
}

/* a wrong token: commands fail with KVE_EAUTH, the link stays down (and retries) */
TEST(rest_wrong_token)
{
    kve_kv_t *own = rest_link(loop, rest_up, "wrong-token-0123456789", NULL), *saved = kv;
    const char *ping[] = {"PING"};
    size_t pingl[] = {4};
    kve_kv_command_t p = KVE_KV_COMMAND(1, ping, pingl);
    whole_t w;
    int err;

    kv = own;
    err = run_whole(&w, &p, 1, NULL); /* while the probe is out: sent, refused */
    CHECK(err == KVE_EAUTH || (err == 0 && w.err[0] == KVE_EAUTH));
    CHECK(wait_state(own, KVE_KV_DOWN));
    CHECK_EQ_INT(run_whole(&w, &p, 1, NULL), KVE_EAUTH); /* down: refused at once */
    kv = saved;
    kve_kv_destroy(own);
}

/* nothing listens: the link goes down, commands fail fast, nothing hangs */
TEST(rest_store_down)
{
    kve_kv_t *own = rest_link(loop, rest_dead_up, KVE_TEST_KVEDGE_TOKEN, NULL), *saved = kv;
    const char *ping[] = {"PING"};
    size_t pingl[] = {4};
    kve_kv_command_t p = KVE_KV_COMMAND(1, ping, pingl);
    whole_t w;
    int err;

    kv = own;
    err = run_whole(&w, &p, 1, NULL);
    CHECK(err == KVE_EUNAVAIL || (err == 0 && (w.err[0] == KVE_ECONN || w.err[0] == KVE_EUNAVAIL)));
    CHECK(wait_state(own, KVE_KV_DOWN));
    CHECK_EQ_INT(run_whole(&w, &p, 1, NULL), KVE_EUNAVAIL);
    kv = saved;
    kve_kv_destroy(own);
}

static void run_all(const backend_t *be)
{
    backend = be;
    loop = h2o_evloop_create();
    kv = be->create(loop);
    for (uint64_t end = h2o_now(loop) + 10000; h2o_now(loop) < end;) { /* wait until the link is up */
        kve_kv_stats_t st;
        kve_kv_get_stats(kv, &st);
        if (st.state == KVE_KV_UP)
            break;
        h2o_evloop_run(loop, 10);
    }
    RUN(index_order_exactly_once);
    RUN(window_bounds_inflight);
    RUN(stop_from_on_reply);
    RUN(cancel_from_on_reply);
    RUN(cancel_with_replies_pending);
    RUN(timeout_then_late_reply);
    RUN(group_times_out_together_and_counts_once);
    RUN(any_number_of_distinct_timeouts);
    RUN(atomic_applied_whole_or_not_at_all);
    RUN(sync_position_after_the_batch);
    RUN(take_str_without_copy);
    RUN(script_evalsha_with_eval_fallback);
    RUN(a_batch_after_a_write_sees_it);
    RUN(destroy_with_batches_pending);
    if (be->fake) {
        RUN(fake_failures);
    } else if (be->rest) {
        RUN(rest_binary_round_trip);
        RUN(rest_binary_transaction);
        RUN(rest_reply_shapes);
        RUN(rest_reply_over_the_limit);
        RUN(rest_wrong_token);
        RUN(rest_store_down);
    } else {
        RUN(redis_stats_block_outlives_the_link);
    }
    kve_kv_destroy(kv);
    kv = NULL;
    h2o_evloop_run(loop, 0);
    if (be->cleanup != NULL)
        be->cleanup();
    h2o_evloop_destroy(loop);
}

/* --- the drivers --- */

static kve_kv_t *create_fake(h2o_loop_t *l)
{
    return kve_kv_fake_create(l, 2000);
}

void kve_suite_kv_batch_fake(void)
{
    static const backend_t fake = {"fake", create_fake, 1};
    run_all(&fake);
}

static kve_kv_t *create_redis(h2o_loop_t *l)
{
    kve_redis_conf_t conf = {.url = "embedded",
                             .connect_timeout_ms = 2000,
                             .command_timeout_ms = 2000,
                             .reconnect_max_delay_ms = 1000,
                             .breaker_threshold = 1000};
    kve_kv_t *k = kve_kv_redis_create(l, &target, &conf, NULL);
    for (uint64_t end = h2o_now(l) + 5000; h2o_now(l) < end;) {
        kve_kv_stats_t st;
        kve_kv_get_stats(k, &st);
        if (st.state == KVE_KV_UP)
            break;
        h2o_evloop_run(l, 10);
    }
    return k;
}

void kve_suite_kv_batch_redis(void)
{
    static const backend_t redis = {"redis", create_redis, 0};
    char err[256];
    kve_test_redis_t *server = kve_test_redis_start(err, sizeof(err));

    if (server == NULL) {
        fprintf(stderr, "kv_batch_redis: %s\n", err);
        CHECK_NOT_NULL(server); /* a missing redis-server is a failure, not a skip */
        return;
    }
    target = (kve_redis_target_t){.path = (char *)kve_test_redis_socket(server), .role = "read-write"};
    run_all(&redis);
    kve_test_redis_free(server);
}

/* the KV REST driver against a real second kvedge's /kv API, itself on a real redis-server */
void kve_suite_kv_batch_rest(void)
{
    static const backend_t rest = {"rest", create_rest, 0, 1, rest_cleanup};
    char err[256], dead[64];
    kve_test_redis_t *server = kve_test_redis_start(err, sizeof(err));
    kve_httpclient_conf_t hc;

    kve_cmd_init(); /* as kve_stores_create does: the driver asks the table which commands may be retried */
    if (server == NULL) {
        fprintf(stderr, "kv_batch_rest: %s\n", err);
        CHECK_NOT_NULL(server);
        return;
    }
    kvedge = kve_test_kvedge_start(kve_test_redis_socket(server), "  script_timeout: 10s\n  allow_commands: [\"script|flush\"]\n",
                                   err, sizeof(err));
    if (kvedge == NULL) {
        fprintf(stderr, "kv_batch_rest: %s\n", err);
        CHECK_NOT_NULL(kvedge); /* a missing kvedge is a failure, not a skip */
        kve_test_redis_free(server);
        return;
    }
    CHECK_EQ_INT(kve_kv_rest_split_url(kve_test_kvedge_url(kvedge), rest_origin, sizeof(rest_origin), rest_prefix,
                                       sizeof(rest_prefix), err, sizeof(err)),
                 0);
    kve_httpclient_conf_defaults(&hc);
    hc.url = rest_origin;
    hc.connect_timeout_ms = 1000;
    hc.io_timeout_ms = 5000;
    rest_up = kve_httpclient_upstream_create(&hc, err, sizeof(err));
    CHECK_NOT_NULL(rest_up);
    snprintf(dead, sizeof(dead), "http://127.0.0.1:1"); /* nothing listens on port 1 */
    hc.url = dead;
    rest_dead_up = kve_httpclient_upstream_create(&hc, err, sizeof(err));
    CHECK_NOT_NULL(rest_dead_up);
    run_all(&rest);
    kve_httpclient_upstream_destroy(rest_up);
    kve_httpclient_upstream_destroy(rest_dead_up);
    CHECK_EQ_INT(kve_test_kvedge_free(kvedge), 0); /* a clean exit: no sanitizer report */
    kve_test_redis_free(server);
}
