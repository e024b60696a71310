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
    /* a replication offset: the token is the offset (a replica at the token has the write) */
    CHECK_EQ_UINT(kve_sync_issue(&s, 1000, 0), 1000);
    CHECK_EQ_UINT(kve_sync_seen(&s), 1000);
    /* an offset behind another thread's (its ROLE came first): its own offset, not bumped above it, and the
     * highest handed out stays */
    CHECK_EQ_UINT(kve_sync_issue(&s, 900, 0), 900);
    CHECK_EQ_UINT(kve_sync_seen(&s), 1000);
    /* a client's token is not the write's token when there is an offset (the caller answers the max) and is
     * never stored: a token holder cannot raise the token every other client gets */
    CHECK_EQ_UINT(kve_sync_issue(&s, 1100, 5000), 1100);
    CHECK_EQ_UINT(kve_sync_seen(&s), 1100);
    /* no offset: strictly above the highest; a plausible client token (from another instance) is passed, an
     * absurd one is not, and neither is stored */
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 0), 1101);
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 5000), 5001);
    CHECK_EQ_UINT(kve_sync_seen(&s), 1102);
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, UINT64_MAX - 1), 1103);
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 1104 + KVE_SYNC_CLIENT_SLACK), 1104);
    CHECK_EQ_UINT(kve_sync_issue(&s, 0, 1104 + KVE_SYNC_CLIENT_SLACK), 1105 + KVE_SYNC_CLIENT_SLACK);
    CHECK_EQ_UINT(kve_sync_seen(&s), 1105);
}

#define THREADS 4
#define PER_THREAD 20000
#define OFFSET_EVERY 7

static kve_sync_state_t shared;
static uint64_t issued[THREADS][PER_THREAD];

/* every OFFSET_EVERYth write reads a replication offset (as on a store whose replicas come and go) */
static uint64_t offset_of(size_t i)
{
    return i % OFFSET_EVERY == 0 ? (uint64_t)i * 3 : 0;
}

static void *issue_many(void *arg)
{
    uint64_t *out = arg;
    for (size_t i = 0; i != PER_THREAD; ++i)
        out[i] = kve_sync_issue(&shared, offset_of(i), 0);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

TEST(concurrent_tokens)
{
    pthread_t t[THREADS];
    static uint64_t seq[THREADS * PER_THREAD];
    size_t i, j, nseq = 0, dups = 0, backwards = 0, not_offset = 0;
    uint64_t highest = 0;

    for (i = 0; i != THREADS; ++i)
        pthread_create(&t[i], NULL, issue_many, issued[i]);
    for (i = 0; i != THREADS; ++i)
        pthread_join(t[i], NULL);
    for (i = 0; i != THREADS; ++i) {
        uint64_t before = 0; /* the highest token this thread got so far */
        for (j = 0; j != PER_THREAD; ++j) {
            uint64_t v = issued[i][j];
            if (offset_of(j) != 0) {
                not_offset += v != offset_of(j); /* an offset's token is the offset */
            } else {
                backwards += v <= before; /* a sequence token is above every token handed out before */
                seq[nseq++] = v;
            }
            before = KVE_MAX(before, v);
            highest = KVE_MAX(highest, v);
        }
    }
    qsort(seq, nseq, sizeof(seq[0]), cmp_u64);
    for (i = 1; i != nseq; ++i)
        dups += seq[i] == seq[i - 1];
    CHECK_EQ_UINT(not_offset, 0);
    CHECK_EQ_UINT(backwards, 0);
    CHECK_EQ_UINT(dups, 0);
    CHECK_EQ_UINT(kve_sync_seen(&shared), highest);
}

void kve_suite_kv_sync(void)
{
    RUN(parse);
    RUN(issue_increases_and_follows_the_offset);
    RUN(concurrent_tokens);
}
