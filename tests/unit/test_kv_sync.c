/* SPDX-License-Identifier: MIT */
/* Tests for sync tokens made from the replication offset and a per-process sequence (handlers/kv_sync.c, issue 7). */
#include "test.h"
#include "handlers/kv_sync.h"
#include "proxy/common.h"

#include <pthread.h>

TEST(parse)
{
    uint64_t v = 0;
    CHECK_EQ_INT(kve_sync_parse(KVE_STRLIT("42"), &v), 1);
    CHECK_EQ_UINT(v, 42);
    CHECK_EQ_INT(kve_sync_parse(KVE_STRLIT("9999999999999999999"), &v), 1); /* 19 digits */
    CHECK_EQ_INT(kve_sync_parse(KVE_STRLIT("99999999999999999999"), &v), 0);
    CHECK_EQ_INT(kve_sync_parse(KVE_STRLIT(""), &v), 0);
    CHECK_EQ_INT(kve_sync_parse(KVE_STRLIT("-1"), &v), 0);
    CHECK_EQ_INT(kve_sync_parse(KVE_STRLIT("12ab"), &v), 0);
}

TEST(issue_increases_and_follows_the_offset)
{
    kve_sync_state_t s = {0};
    /* a primary without replicas: offset 0, the sequence orders the writes */
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 0), 1);
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 0), 2);
    /* the offset jumps ahead: the token is at least the offset (a replica at the token has the write) */
    CHECK_EQ_UINT(kve_sync_issue(&s, 1000, 0), 1000);
    /* an offset behind the sequence (another thread read an older one): still strictly above */
    CHECK_EQ_UINT(kve_sync_issue(&s, 900, 0), 1001);
    CHECK_EQ_UINT(kve_sync_seen(&s), 1001);
    /* a plausible client token (from another instance) is passed; an absurd one is not */
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 5000), 5001);
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, UINT64_MAX - 1), 5002);
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 5003 + KVE_SYNC_CLIENT_SLACK), 5003);
}

#define THREADS 4
#define PER_THREAD 20000

static kve_sync_state_t shared;
static uint64_t issued[THREADS][PER_THREAD];

static void *issue_many(void *arg)
{
    uint64_t *out = arg;
    for (size_t i = 0; i != PER_THREAD; ++i)
        out[i] = kve_sync_issue(&shared, i % 7 == 0 ? i : 0, 0);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

TEST(concurrent_tokens_are_distinct_and_increasing_per_thread)
{
    pthread_t t[THREADS];
    static uint64_t all[THREADS * PER_THREAD];
    size_t i, j, dups = 0, backwards = 0;

    for (i = 0; i != THREADS; ++i)
        pthread_create(&t[i], NULL, issue_many, issued[i]);
    for (i = 0; i != THREADS; ++i)
        pthread_join(t[i], NULL);
    for (i = 0; i != THREADS; ++i)
        for (j = 0; j != PER_THREAD; ++j) {
            backwards += j != 0 && issued[i][j] <= issued[i][j - 1];
            all[i * PER_THREAD + j] = issued[i][j];
        }
    qsort(all, THREADS * PER_THREAD, sizeof(all[0]), cmp_u64);
    for (i = 1; i != THREADS * PER_THREAD; ++i)
        dups += all[i] == all[i - 1];
    CHECK_EQ_UINT(backwards, 0);
    CHECK_EQ_UINT(dups, 0);
}

void kve_suite_kv_sync(void)
{
    RUN(parse);
    RUN(issue_increases_and_follows_the_offset);
    RUN(concurrent_tokens_are_distinct_and_increasing_per_thread);
}
