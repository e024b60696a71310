/* SPDX-License-Identifier: MIT */
/* Tests for proxy/pending.c: the accounting and the choice of what to refuse (the sockets are h1read.c's). */
#include "test.h"
#include "proxy/log.h"
#include "proxy/pending.h"

#define KIB 1024

/* two threads, 1 MiB in all: 512 KiB each */
struct fixture {
    kve_pending_t budget;
    kve_pending_thread_t t[2];
    kve_pending_conn_t c[4];
};

static void setup(struct fixture *f, size_t limit)
{
    kve_pending_init(&f->budget, limit, 2);
    kve_pending_thread_init(f->t, &f->budget);
    kve_pending_thread_init(f->t + 1, &f->budget);
    for (size_t i = 0; i != 4; ++i)
        kve_pending_conn_init(f->c + i, f->t + i % 2, NULL); /* c0, c2 on thread 0; c1, c3 on thread 1 */
}

TEST(charge_and_release)
{
    struct fixture f;
    setup(&f, 1024 * KIB);
    CHECK_EQ_INT(kve_pending_update(f.c, 8 * KIB, 100), 0);
    CHECK_EQ_INT(kve_pending_update(f.c + 1, 64 * KIB, 60000), 0);
    CHECK_EQ_UINT(f.budget.total, 72 * KIB);
    CHECK_EQ_UINT(f.t[0].total, 8 * KIB);
    CHECK_EQ_INT(kve_pending_update(f.c, 16 * KIB, 9000), 0); /* grows */
    CHECK_EQ_UINT(f.budget.total, 80 * KIB);
    kve_pending_release(f.c); /* its request reached a handler */
    kve_pending_release(f.c); /* and the socket closed: nothing twice */
    CHECK_EQ_UINT(f.budget.total, 64 * KIB);
    CHECK_EQ_UINT(f.t[0].total, 0);
    CHECK(h2o_linklist_is_empty(&f.t[0].charged));
    kve_pending_release(f.c + 1);
    CHECK_EQ_UINT(f.budget.total, 0);
}

TEST(over_needs_total_and_share)
{
    struct fixture f;
    setup(&f, 1024 * KIB);
    /* thread 1 holds 900 KiB: over its share, under the limit */
    CHECK_EQ_INT(kve_pending_update(f.c + 1, 900 * KIB, 800 * KIB), 0);
    CHECK(!kve_pending_over(f.t + 1));
    /* a small request on thread 0 takes the total over; thread 0 is within its share: it refuses nothing */
    CHECK_EQ_INT(kve_pending_update(f.c, 200 * KIB, 150 * KIB), 0);
    CHECK(!kve_pending_over(f.t));
    /* thread 1 must refuse (at its next read, or its sweep) */
    CHECK(kve_pending_over(f.t + 1));
    CHECK_EQ_INT(kve_pending_update(f.c + 3, 16 * KIB, 10 * KIB), 1);
}

TEST(largest_by_bytes_reader_on_tie)
{
    struct fixture f;
    setup(&f, 1024 * KIB);
    kve_pending_update(f.c, 512 * KIB, 450 * KIB);
    kve_pending_update(f.c + 2, 512 * KIB, 260 * KIB); /* same allocation, fewer bytes sent */
    CHECK(kve_pending_largest(f.t, f.c + 2) == f.c);
    kve_pending_update(f.c + 2, 512 * KIB, 450 * KIB);
    CHECK(kve_pending_largest(f.t, f.c + 2) == f.c + 2); /* a tie goes to the reader */
    CHECK(kve_pending_largest(f.t, NULL) != NULL);
    CHECK(kve_pending_largest(f.t + 1, NULL) == NULL); /* nothing charged there */
}

TEST(refuse)
{
    struct fixture f;
    setup(&f, 1024 * KIB);
    kve_log_set_level(KVE_LOG_ERROR); /* the episode's lines are the integration tests' business */
    CHECK_EQ_INT(kve_pending_update(f.c, 600 * KIB, 590 * KIB), 0);
    CHECK_EQ_INT(kve_pending_update(f.c + 2, 512 * KIB, 300 * KIB), 1);
    kve_pending_refuse(kve_pending_largest(f.t, f.c + 2));
    CHECK_EQ_INT(f.c[0].refused, 1);
    CHECK_EQ_UINT(f.budget.total, 512 * KIB);
    CHECK(!kve_pending_over(f.t));
    CHECK_EQ_INT(f.budget.refusing, 1);
    CHECK_EQ_UINT(f.budget.refused, 1);
    CHECK_EQ_INT(kve_pending_update(f.c, 700 * KIB, 690 * KIB), -1); /* refused: never charged again */
    CHECK_EQ_UINT(f.budget.total, 512 * KIB);
    kve_pending_release(f.c + 2); /* under half the limit: the episode ends */
    CHECK_EQ_INT(f.budget.refusing, 0);
    CHECK_EQ_UINT(f.budget.refused, 0);
    kve_log_set_level(KVE_LOG_INFO);
}

TEST(disabled)
{
    struct fixture f;
    setup(&f, 0);
    CHECK_EQ_INT(kve_pending_update(f.c, (size_t)1 << 40, 1), 0);
    CHECK_EQ_UINT(f.budget.total, 0);
    CHECK(!kve_pending_over(f.t));
}

void kve_suite_pending(void)
{
    RUN(charge_and_release);
    RUN(over_needs_total_and_share);
    RUN(largest_by_bytes_reader_on_tie);
    RUN(refuse);
    RUN(disabled);
}
