/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/buf.c: growth from empty (256 bytes, then doubling), exact fits that must not grow,
 * appends and putc across the capacity edge, printf (NUL-terminated, length without the NUL, longer than
 * the first allocation) and dispose. The ASan build checks every write stays inside the allocation.
 */
#include "test.h"
#include "proxy/buf.h"
#include "proxy/common.h"

TEST(reserve_grows_from_empty_and_doubles)
{
    kve_buf_t b = KVE_BUF_INIT;
    char *p = kve_buf_reserve(&b, 1);
    CHECK_NOT_NULL(p);
    CHECK(p == b.base);
    CHECK_EQ_UINT(b.len, 0);
    CHECK_EQ_UINT(b.cap, 256);
    kve_buf_dispose(&b);

    p = kve_buf_reserve(&b, 1000); /* 256 -> 512 -> 1024 */
    CHECK_EQ_UINT(b.cap, 1024);
    memset(p, 'x', 1000); /* all of it is writable */
    kve_buf_dispose(&b);
}

TEST(exact_fit_does_not_grow)
{
    kve_buf_t b = KVE_BUF_INIT;
    char chunk[200];
    memset(chunk, 'a', sizeof(chunk));
    kve_buf_append(&b, chunk, sizeof(chunk));
    CHECK_EQ_UINT(b.cap, 256);
    kve_buf_reserve(&b, 56);
    CHECK_EQ_UINT(b.cap, 256);
    kve_buf_append(&b, chunk, 56);
    CHECK_EQ_UINT(b.len, 256);
    CHECK_EQ_UINT(b.cap, 256);
    kve_buf_reserve(&b, 1);
    CHECK_EQ_UINT(b.cap, 512);
    CHECK_EQ_UINT(b.len, 256);
    kve_buf_dispose(&b);
}

TEST(append_and_putc_across_the_edge)
{
    kve_buf_t b = KVE_BUF_INIT;
    char expect[600];
    size_t i;

    kve_buf_append(&b, "", 0);
    CHECK_NULL(b.base); /* nothing to append: nothing allocated */
    for (i = 0; i != sizeof(expect); ++i) {
        expect[i] = (char)('a' + i % 26);
        if (i % 3 == 0)
            kve_buf_putc(&b, expect[i]);
        else
            kve_buf_append(&b, expect + i, 1);
    }
    CHECK_EQ_MEM(b.base, b.len, expect, sizeof(expect));
    CHECK_EQ_UINT(b.cap, 1024);
    kve_buf_dispose(&b);
    CHECK_NULL(b.base);
    CHECK_EQ_UINT(b.len, 0);
    CHECK_EQ_UINT(b.cap, 0);
}

TEST(printf_appends_and_terminates)
{
    kve_buf_t b = KVE_BUF_INIT;
    char big[400];

    kve_buf_append(&b, "x=", 2);
    kve_buf_printf(&b, "%d,%s", 42, "y");
    CHECK_EQ_UINT(b.len, 6);
    CHECK_EQ_STR(b.base, "x=42,y"); /* NUL-terminated right after the text */
    kve_buf_printf(&b, "%s", "");
    CHECK_EQ_UINT(b.len, 6);
    CHECK_EQ_STR(b.base, "x=42,y");

    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kve_buf_printf(&b, "[%s]", big); /* longer than the first allocation */
    CHECK_EQ_UINT(b.len, 6 + 2 + 399);
    CHECK(b.cap >= b.len + 1);
    CHECK_EQ_INT(b.base[b.len], '\0');
    CHECK_EQ_INT(b.base[6], '[');
    CHECK_EQ_INT(b.base[b.len - 1], ']');
    kve_buf_dispose(&b);
}

void kve_suite_buf(void)
{
    RUN(reserve_grows_from_empty_and_doubles);
    RUN(exact_fit_does_not_grow);
    RUN(append_and_putc_across_the_edge);
    RUN(printf_appends_and_terminates);
}
