/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/resp.c: decimal conversion at its edges, and RESP2 request encoding checked byte for
 * byte against hiredis' own encoder (redisFormatCommandArgv) for ordinary, empty, binary and large
 * arguments, appended after what the buffer already holds.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/resp.h"

#include <stdint.h>
#include <hiredis/hiredis.h>

static void check_u64(uint64_t v, const char *expect)
{
    char out[24];
    size_t n = kve_u64toa(v, out);
    CHECK_EQ_MEM(out, n, expect, strlen(expect));
}

TEST(u64toa)
{
    check_u64(0, "0");
    check_u64(9, "9");
    check_u64(10, "10");
    check_u64(12345, "12345");
    check_u64(1000000, "1000000");
    check_u64(UINT64_MAX, "18446744073709551615"); /* 20 digits: the room the header promises */
}

/* formats `argv` after `prefix` and compares with hiredis' encoding */
static void check_format(const char *prefix, size_t argc, const char **argv, const size_t *argvlen)
{
    kve_buf_t b = KVE_BUF_INIT;
    char *expect;
    int n;

    kve_buf_append(&b, prefix, strlen(prefix));
    kve_resp_format(&b, argc, argv, argvlen);
    n = redisFormatCommandArgv(&expect, (int)argc, argv, argvlen);
    KVE_ASSERT(n > 0);
    CHECK_EQ_MEM(b.base, strlen(prefix), prefix, strlen(prefix));
    CHECK_EQ_UINT(b.len, strlen(prefix) + (size_t)n);
    CHECK(memcmp(b.base + strlen(prefix), expect, (size_t)n) == 0);
    redisFreeCommand(expect);
    kve_buf_dispose(&b);
}

TEST(format_matches_hiredis)
{
    const char *set[] = {"SET", "key", "value"};
    const size_t setlen[] = {3, 3, 5};
    const char *empty[] = {"SET", "", ""};
    const size_t emptylen[] = {3, 0, 0};
    const char *binary[] = {"SET", "k\r\n", "a\0b\r\n$3\r\n"};
    const size_t binarylen[] = {3, 3, 9};
    const char *ping[] = {"PING"};
    const size_t pinglen[] = {4};

    check_format("", 3, set, setlen);
    check_format("", 3, empty, emptylen);
    check_format("", 3, binary, binarylen);
    check_format("*1\r\n$4\r\nPING\r\n", 1, ping, pinglen); /* appended after a command already queued */
}

TEST(format_exact_bytes)
{
    kve_buf_t b = KVE_BUF_INIT;
    const char *argv[] = {"GET", "k"};
    const size_t argvlen[] = {3, 1};
    static const char expect[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";

    kve_resp_format(&b, 2, argv, argvlen);
    CHECK_EQ_MEM(b.base, b.len, expect, sizeof(expect) - 1);
    kve_buf_dispose(&b);
}

TEST(format_large_argument)
{
    size_t big = 3 * 1024 * 1024 + 7, i;
    char *value = kve_malloc(big);
    const char *argv[] = {"SET", "big", value};
    size_t argvlen[] = {3, 3, big};

    for (i = 0; i != big; ++i)
        value[i] = (char)(i * 31);
    check_format("", 3, argv, argvlen);
    free(value);
}

void kve_suite_resp(void)
{
    RUN(u64toa);
    RUN(format_matches_hiredis);
    RUN(format_exact_bytes);
    RUN(format_large_argument);
}
