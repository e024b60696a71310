/* SPDX-License-Identifier: MIT */
/* Table tests for handlers/kv_reply.c: every reply type as RESP2, the size limit, the too-big marker. */
#include "test.h"
#include "handlers/kv_reply.h"
#include "proxy/common.h"

#include <limits.h>

static kve_kv_reply_t text(int type, const char *s)
{
    return (kve_kv_reply_t){.type = type, .str = (char *)s, .len = strlen(s)};
}

static kve_kv_reply_t integer(long long v)
{
    return (kve_kv_reply_t){.type = KVE_REPLY_INTEGER, .integer = v};
}

static kve_kv_reply_t array(kve_kv_reply_t **elements, size_t n)
{
    return (kve_kv_reply_t){.type = KVE_REPLY_ARRAY, .elements = n, .element = elements};
}

static const kve_kv_reply_t nil = {.type = KVE_REPLY_NIL};

static const char *resp2(kve_buf_t *buf, const kve_kv_reply_t *reply)
{
    buf->len = 0;
    kve_rest_resp2(buf, reply, SIZE_MAX);
    kve_buf_putc(buf, '\0');
    return buf->base;
}

TEST(resp2_types)
{
    kve_kv_reply_t ok = text(KVE_REPLY_STATUS, "OK"), bar = text(KVE_REPLY_STRING, "bar");
    kve_kv_reply_t empty_str = text(KVE_REPLY_STRING, ""), err = text(KVE_REPLY_ERROR, "ERR x");
    kve_kv_reply_t crlf = text(KVE_REPLY_STRING, "a\r\nb"), neg = integer(-5), min = integer(LLONG_MIN), big = integer(LLONG_MAX);
    kve_kv_reply_t empty = array(NULL, 0);
    kve_kv_reply_t *inner_elems[] = {&bar, (kve_kv_reply_t *)&nil}, inner = array(inner_elems, 2);
    kve_kv_reply_t *elems[] = {&ok, &neg, &inner, &err, &empty}, arr = array(elems, 5);
    kve_buf_t buf = KVE_BUF_INIT;

    CHECK_EQ_STR(resp2(&buf, &ok), "+OK\r\n");
    CHECK_EQ_STR(resp2(&buf, &bar), "$3\r\nbar\r\n");
    CHECK_EQ_STR(resp2(&buf, &empty_str), "$0\r\n\r\n");
    CHECK_EQ_STR(resp2(&buf, &crlf), "$4\r\na\r\nb\r\n");
    CHECK_EQ_STR(resp2(&buf, &nil), "$-1\r\n");
    CHECK_EQ_STR(resp2(&buf, &neg), ":-5\r\n");
    CHECK_EQ_STR(resp2(&buf, &min), ":-9223372036854775808\r\n");
    CHECK_EQ_STR(resp2(&buf, &big), ":9223372036854775807\r\n");
    CHECK_EQ_STR(resp2(&buf, &err), "-ERR x\r\n");
    CHECK_EQ_STR(resp2(&buf, &empty), "*0\r\n");
    CHECK_EQ_STR(resp2(&buf, &arr), "*5\r\n+OK\r\n:-5\r\n*2\r\n$3\r\nbar\r\n$-1\r\n-ERR x\r\n*0\r\n");

    /* binary bulk with a NUL */
    kve_kv_reply_t bin = {.type = KVE_REPLY_STRING, .str = "\0\xff", .len = 2};
    buf.len = 0;
    kve_rest_resp2(&buf, &bin, SIZE_MAX);
    CHECK_EQ_MEM(buf.base, buf.len, "$2\r\n\0\xff\r\n", 8);
    kve_buf_dispose(&buf);
}

/* the bounded encoder: what fits is encoded exactly, anything else fails once past the limit */
TEST(resp2_limits)
{
    kve_kv_reply_t abc = text(KVE_REPLY_STRING, "abc"), n = integer(123456789), err = text(KVE_REPLY_ERROR, "ERR x");
    kve_kv_reply_t *elems[] = {&n, &abc}, arr = array(elems, 2);
    kve_kv_reply_t huge = {.type = KVE_REPLY_STRING, .len = 1 << 20};
    kve_buf_t buf = KVE_BUF_INIT;

    /* "*2\r\n:123456789\r\n$3\r\nabc\r\n" is 25 bytes */
    CHECK_EQ_INT(kve_rest_resp2(&buf, &arr, 25), 0);
    CHECK_EQ_UINT(buf.len, 25);
    buf.len = 0;
    CHECK_EQ_INT(kve_rest_resp2(&buf, &arr, 24), -1);
    buf.len = 0;
    CHECK_EQ_INT(kve_rest_resp2(&buf, &err, 7), -1);
    /* a string longer than the limit is refused before its bytes are read or room is made for them */
    kve_buf_dispose(&buf);
    CHECK_EQ_INT(kve_rest_resp2(&buf, &huge, 4096), -1);
    CHECK(buf.cap < 4096);
    kve_buf_dispose(&buf);
}

TEST(resp2_too_big_marker)
{
    static const kve_kv_reply_t too_big = {.type = KVE_REPLY_TOO_BIG};
    kve_buf_t buf = KVE_BUF_INIT;

    CHECK_EQ_STR(resp2(&buf, &too_big), "-ERR max response size exceeded\r\n");
    kve_buf_dispose(&buf);
}

void kve_suite_kv_reply(void)
{
    RUN(resp2_types);
    RUN(resp2_limits);
    RUN(resp2_too_big_marker);
}
