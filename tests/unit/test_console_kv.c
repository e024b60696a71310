/* SPDX-License-Identifier: MIT */
/*
 * Tests of the keys page's codec (issue 13; handlers/console_kv_codec.c): form fields and their decoding with a limit,
 * integers, SCAN cursors, ZADD scores, stream ids, the UTF-8 prefix, and byte strings as JSON (text, base64,
 * truncation with the full length).
 */
#include "test.h"
#include "handlers/console_kv_codec.h"

#include <limits.h>
#include <string.h>

static int field(const char *form, const char *name, char *out)
{
    const char *raw = NULL;
    size_t len = 0;
    int r = kve_console_kv_field(form, strlen(form), name, &raw, &len);
    if (r == 1) {
        memcpy(out, raw, len);
        out[len] = '\0';
    }
    return r;
}

TEST(fields)
{
    char v[64];
    CHECK_EQ_INT(field("key=a%00b&value=x", "key", v), 1);
    CHECK_EQ_STR(v, "a%00b");
    CHECK_EQ_INT(field("key=a&value=x", "value", v), 1);
    CHECK_EQ_STR(v, "x");
    CHECK_EQ_INT(field("keys=a&xkey=b", "key", v), 0); /* a name is matched whole */
    CHECK_EQ_INT(field("key&b=1", "key", v), 1);       /* no '=': empty */
    CHECK_EQ_STR(v, "");
    CHECK_EQ_INT(field("key=&b=1", "key", v), 1);
    CHECK_EQ_STR(v, "");
    CHECK_EQ_INT(field("key=1&key=2", "key", v), -1); /* twice */
    CHECK_EQ_INT(field("", "key", v), 0);
    CHECK_EQ_INT(field("&&&", "key", v), 0);
    CHECK_EQ_INT(field("a=1&", "key", v), 0);
}

TEST(decode)
{
    char out[16];
    CHECK_EQ_INT(kve_console_kv_decode("a%00%FF+b", 9, out, 16), 5);
    CHECK_EQ_MEM(out, 5, "a\0\xff b", 5);
    CHECK_EQ_INT(kve_console_kv_decode("%4", 2, out, 16), -1);
    CHECK_EQ_INT(kve_console_kv_decode("%zz", 3, out, 16), -1);
    CHECK_EQ_INT(kve_console_kv_decode("abcd", 4, out, 3), -2); /* over the limit */
    CHECK_EQ_INT(kve_console_kv_decode("abc", 3, out, 3), 3);
    CHECK_EQ_INT(kve_console_kv_decode("%41%42%43", 9, out, 3), 3);
    CHECK_EQ_INT(kve_console_kv_decode("", 0, out, 0), 0);
}

static int int_of(const char *s, long long min, long long max, long long *v)
{
    return kve_console_kv_int(s, strlen(s), min, max, v);
}

TEST(numbers)
{
    long long v = 0;
    CHECK_EQ_INT(int_of("0", 0, 10, &v), 0);
    CHECK_EQ_INT(int_of("-12", -100, 100, &v), 0);
    CHECK_EQ_INT((int)v, -12);
    CHECK_EQ_INT(int_of("9223372036854775807", 0, LLONG_MAX, &v), 0);
    CHECK_EQ_INT(int_of("9223372036854775808", 0, LLONG_MAX, &v), -1);
    CHECK_EQ_INT(int_of("11", 0, 10, &v), -1);
    const char *bad[] = {"", "-", "-0", "+1", " 1", "1 ", "01", "-01", "1e3", "1.0", "--1", "18446744073709551616"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        CHECK_EQ_INT(int_of(bad[i], LLONG_MIN, LLONG_MAX, &v), -1);
    CHECK(kve_console_kv_cursor_ok("0", 1));
    CHECK(kve_console_kv_cursor_ok("18446744073709551615", 20));
    CHECK(!kve_console_kv_cursor_ok("18446744073709551616", 20));
    CHECK(!kve_console_kv_cursor_ok("", 0));
    CHECK(!kve_console_kv_cursor_ok("-1", 2));
    CHECK(!kve_console_kv_cursor_ok("12a", 3));
}

static int score(const char *s)
{
    return kve_console_kv_score_ok(s, strlen(s));
}

TEST(scores_and_ids)
{
    const char *good[] = {"0", "-1.5", "+2", "1e10", "1.5E-3", ".5", "5.", "inf", "-inf", "+inf", "INF"};
    const char *bad[] = {"", "nan", "NaN", "1x", " 1", "1 ", "0x10", "1e", "1e1000", ".", "-", "e5", "1..2", "in"};
    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i)
        CHECK(score(good[i]));
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        CHECK(!score(bad[i]));
    CHECK(kve_console_kv_stream_id_ok("1-0", 3));
    CHECK(kve_console_kv_stream_id_ok("1700000000000-18446744073709551615", 34));
    CHECK(!kve_console_kv_stream_id_ok("1", 1));
    CHECK(!kve_console_kv_stream_id_ok("1-", 2));
    CHECK(!kve_console_kv_stream_id_ok("-1", 2));
    CHECK(!kve_console_kv_stream_id_ok("1-2-3", 5));
    CHECK(!kve_console_kv_stream_id_ok("a-1", 3));
    CHECK(!kve_console_kv_stream_id_ok("*", 1));
}

TEST(utf8_prefix)
{
    const char euro[] = "\xe2\x82\xac\xe2\x82\xac"; /* two 3-byte characters */
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix(euro, 6, 100, 1), 6);
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix(euro, 6, 4, 1), 3);    /* cut by show: dropped */
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix(euro, 5, 100, 0), 3);  /* cut by the end of a partial value */
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix(euro, 5, 100, 1), -1); /* the whole value ends inside one: invalid */
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix("a\xff", 2, 100, 1), -1);
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix("a\xff", 2, 1, 1), 1);       /* only what is shown is judged */
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix("\xc0\x80", 2, 100, 1), -1); /* overlong */
    CHECK_EQ_INT((int)kve_console_kv_utf8_prefix("", 0, 100, 1), 0);
}

static void bytes(const char *s, size_t len, size_t full, size_t show, const char *want)
{
    kve_buf_t out = KVE_BUF_INIT;
    kve_console_kv_bytes(&out, s, len, full, show);
    CHECK_EQ_MEM(out.base, out.len, want, strlen(want));
    kve_buf_dispose(&out);
}

TEST(byte_strings)
{
    bytes("hello", 5, 5, 100, "\"hello\"");
    bytes("a\0\"<", 4, 4, 100, "\"a\\u0000\\\"<\"");
    bytes("", 0, 0, 100, "\"\"");
    bytes("\x00\xff", 2, 2, 100, "{\"base64\":\"AP8=\",\"length\":2,\"truncated\":false}");
    bytes("abcdef", 6, 6, 4, "{\"text\":\"abcd\",\"length\":6,\"truncated\":true}");
    bytes("abcd", 4, 10, 4, "{\"text\":\"abcd\",\"length\":10,\"truncated\":true}"); /* a partial value (GETRANGE) */
    bytes("\xe2\x82\xac\xe2\x82", 5, 9, 100, "{\"text\":\"\xe2\x82\xac\",\"length\":9,\"truncated\":true}");
    bytes("\xff\xfe\xfd\xfc", 4, 4, 2, "{\"base64\":\"//4=\",\"length\":4,\"truncated\":true}");
    bytes("ab", 2, 1, 100, "\"ab\""); /* a full below what we have is taken as what we have */
}

void kve_suite_console_kv(void)
{
    RUN(fields);
    RUN(decode);
    RUN(numbers);
    RUN(scores_and_ids);
    RUN(utf8_prefix);
    RUN(byte_strings);
}
