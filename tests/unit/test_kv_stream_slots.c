/* SPDX-License-Identifier: MIT */
/* Tests for the SSE stream slots (handlers/kv_stream_slots.c): the process cap and the per-token cap (issue 15). */
#include "test.h"
#include "handlers/kv_stream_slots.h"
#include "proxy/common.h"

TEST(token_ids)
{
    uint64_t a = kve_stream_slots_token_id(KVE_STRLIT("token-a-0123456789")), b = kve_stream_slots_token_id(KVE_STRLIT("token-b"));
    CHECK(a != b);
    CHECK(a != 0);
    CHECK_EQ_UINT(a, kve_stream_slots_token_id(KVE_STRLIT("token-a-0123456789")));
    /* the first 8 bytes of SHA-256("") = e3b0c44298fc1c14... */
    CHECK_EQ_UINT(kve_stream_slots_token_id("", 0), 0xe3b0c44298fc1c14ULL);
}

TEST(per_token_cap)
{
    int first = -1;
    CHECK_EQ_INT(kve_stream_slots_acquire(1, 10, 2, &first), KVE_STREAM_SLOT_OK);
    CHECK_EQ_INT(kve_stream_slots_acquire(1, 10, 2, &first), KVE_STREAM_SLOT_OK);
    CHECK_EQ_INT(kve_stream_slots_acquire(1, 10, 2, &first), KVE_STREAM_SLOT_TOKEN);
    CHECK_EQ_INT(first, 1);
    CHECK_EQ_INT(kve_stream_slots_acquire(1, 10, 2, &first), KVE_STREAM_SLOT_TOKEN);
    CHECK_EQ_INT(first, 0); /* reported once per episode */
    CHECK_EQ_INT(kve_stream_slots_acquire(2, 10, 2, &first), KVE_STREAM_SLOT_OK);
    CHECK_EQ_UINT(kve_stream_slots_open(), 3);
    kve_stream_slots_release(1);
    CHECK_EQ_INT(kve_stream_slots_acquire(1, 10, 2, &first), KVE_STREAM_SLOT_OK);
    CHECK_EQ_INT(kve_stream_slots_acquire(1, 10, 2, &first), KVE_STREAM_SLOT_TOKEN);
    CHECK_EQ_INT(first, 1); /* a new episode after a release */
    kve_stream_slots_release(1);
    kve_stream_slots_release(1);
    kve_stream_slots_release(2);
    CHECK_EQ_UINT(kve_stream_slots_open(), 0);
}

TEST(total_cap)
{
    int first = -1;
    uint64_t id;
    for (id = 1; id <= 40; ++id) /* more tokens than the table's first allocation */
        CHECK_EQ_INT(kve_stream_slots_acquire(id, 40, 1, &first), KVE_STREAM_SLOT_OK);
    CHECK_EQ_INT(kve_stream_slots_acquire(41, 40, 1, &first), KVE_STREAM_SLOT_TOTAL);
    CHECK_EQ_INT(first, 1);
    CHECK_EQ_INT(kve_stream_slots_acquire(42, 40, 1, &first), KVE_STREAM_SLOT_TOTAL);
    CHECK_EQ_INT(first, 0);
    for (id = 40; id >= 1; --id)
        kve_stream_slots_release(id);
    CHECK_EQ_UINT(kve_stream_slots_open(), 0); /* (and the table was freed: the ASan build checks for leaks) */
}

void kve_suite_kv_stream_slots(void)
{
    RUN(token_ids);
    RUN(per_token_cap);
    RUN(total_cap);
}
