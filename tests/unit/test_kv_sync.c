/* SPDX-License-Identifier: MIT */
/* Tests for the sync-token counter's sanity rules (handlers/kv_sync.c, issue 11). */
#include "test.h"
#include "handlers/kv_sync.h"
#include "proxy/common.h"

static int value_of_integer(long long n, uint64_t *v)
{
    kve_kv_reply_t r = {KVE_REPLY_INTEGER, n};
    return kve_sync_value(&r, v);
}

static int value_of_string(const char *s, uint64_t *v)
{
    kve_kv_reply_t r = {KVE_REPLY_STRING, 0, strlen(s), (char *)s};
    return kve_sync_value(&r, v);
}

TEST(plausible_values)
{
    uint64_t v = 0;
    kve_kv_reply_t nil = {KVE_REPLY_NIL};

    CHECK_EQ_INT(value_of_integer(1, &v), 1);
    CHECK_EQ_UINT(v, 1);
    CHECK_EQ_INT(value_of_integer(9007199254740992LL, &v), 1); /* 2^53 */
    CHECK_EQ_INT(value_of_integer(9007199254740993LL, &v), 0);
    CHECK_EQ_INT(value_of_integer(INT64_MAX, &v), 0);
    CHECK_EQ_INT(value_of_integer(0, &v), 0);
    CHECK_EQ_INT(value_of_integer(-5, &v), 0);
    CHECK_EQ_INT(value_of_integer(INT64_MIN, &v), 0);
    CHECK_EQ_INT(value_of_string("1000001", &v), 1);
    CHECK_EQ_UINT(v, 1000001);
    CHECK_EQ_INT(value_of_string("9007199254740992", &v), 1);
    CHECK_EQ_INT(value_of_string("9007199254740993", &v), 0);
    CHECK_EQ_INT(value_of_string("9223372036854775807", &v), 0);
    CHECK_EQ_INT(value_of_string("99999999999999999999999", &v), 0); /* no overflow while parsing */
    CHECK_EQ_INT(value_of_string("", &v), 0);
    CHECK_EQ_INT(value_of_string("0", &v), 0);
    CHECK_EQ_INT(value_of_string("012", &v), 0);
    CHECK_EQ_INT(value_of_string("-3", &v), 0);
    CHECK_EQ_INT(value_of_string("12a", &v), 0);
    CHECK_EQ_INT(value_of_string("not-a-number", &v), 0);
    CHECK_EQ_INT(kve_sync_value(&nil, &v), 0);
}

TEST(seen_and_floor)
{
    kve_sync_state_t s = {0};

    kve_sync_note(&s, 10);
    kve_sync_note(&s, 7); /* never goes back */
    CHECK_EQ_UINT(kve_sync_seen(&s), 10);
    CHECK_EQ_UINT(kve_sync_floor(&s, 0), 10);
    CHECK_EQ_UINT(kve_sync_floor(&s, 9), 10);
    CHECK_EQ_UINT(kve_sync_floor(&s, 12), 12); /* the client's, a little ahead */
    CHECK_EQ_UINT(kve_sync_floor(&s, 10 + ((uint64_t)1 << 32)), 10 + ((uint64_t)1 << 32));
    CHECK_EQ_UINT(kve_sync_floor(&s, 11 + ((uint64_t)1 << 32)), 10); /* too far ahead to push the shared counter */
    CHECK_EQ_UINT(kve_sync_floor(&s, UINT64_MAX), 10);
    s.seen = KVE_SYNC_MAX - 1;
    CHECK_EQ_UINT(kve_sync_floor(&s, KVE_SYNC_MAX + 1), KVE_SYNC_MAX - 1); /* never above KVE_SYNC_MAX */
}

TEST(warn_once_per_condition)
{
    kve_sync_state_t s = {0};

    CHECK_EQ_INT(kve_sync_should_warn(&s, KVE_STRLIT("implausible")), 1);
    CHECK_EQ_INT(kve_sync_should_warn(&s, KVE_STRLIT("implausible")), 0);
    CHECK_EQ_INT(kve_sync_should_warn(&s, KVE_STRLIT("ERR increment or decrement would overflow")), 1);
    CHECK_EQ_INT(kve_sync_should_warn(&s, KVE_STRLIT("ERR increment or decrement would overflow")), 0);
    kve_sync_note(&s, 5); /* fine again: the next trouble is reported */
    CHECK_EQ_INT(kve_sync_should_warn(&s, KVE_STRLIT("ERR increment or decrement would overflow")), 1);
    /* a counter reset is logged once per floor, however many writes raise it */
    CHECK_EQ_INT(kve_sync_should_log_raise(&s, 100), 1);
    CHECK_EQ_INT(kve_sync_should_log_raise(&s, 100), 0);
    CHECK_EQ_INT(kve_sync_should_log_raise(&s, 90), 0);
    CHECK_EQ_INT(kve_sync_should_log_raise(&s, 200), 1);
}

void kve_suite_kv_sync(void)
{
    RUN(plausible_values);
    RUN(seen_and_floor);
    RUN(warn_once_per_condition);
}
