/* SPDX-License-Identifier: MIT */
/*
 * Table tests for proxy/json.c: JSON string escaping and U+FFFD replacement (the WHATWG maximal subpart
 * cases), base64 strings (RFC 4648 vectors), every reply type as JSON with and without base64 including the
 * top-level "OK" rule, envelopes and reply sizes. String inputs sit right before a PROT_NONE
 * page so the 8-byte fast path cannot read past the end unnoticed; a randomised comparison against a
 * byte-at-a-time reference covers the fast path's boundaries.
 */
#include "test.h"
#include "proxy/json.h"
#include "proxy/common.h"

#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define FFFD "\xef\xbf\xbd"

typedef struct st_guarded_t {
    char *map;
    size_t map_len;
} guarded_t;

static const char *guard_copy(guarded_t *g, const char *s, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = (len + page - 1) / page + 1;
    char *data;

    g->map_len = pages * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    KVE_ASSERT(g->map != MAP_FAILED);
    KVE_ASSERT(mprotect(g->map + (pages - 1) * page, page, PROT_NONE) == 0);
    data = g->map + (pages - 1) * page - len;
    if (len != 0)
        memcpy(data, s, len);
    return data;
}

static void guard_free(guarded_t *g)
{
    munmap(g->map, g->map_len);
}

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

static const struct {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
} string_cases[] = {
    {"", 0, "\"\""},
    {"abc", 0, "\"abc\""},
    {"hello world, 8+ bytes", 0, "\"hello world, 8+ bytes\""},
    {"a\"b\\c/d", 0, "\"a\\\"b\\\\c/d\""},
    {"\b\f\n\r\t\x01\x1f", 0, "\"\\b\\f\\n\\r\\t\\u0001\\u001f\""},
    {"a\0b", 3, "\"a\\u0000b\""},
    {"\x7f~ ", 0, "\"\x7f~ \""},
    {"1234567\n12345678", 0, "\"1234567\\n12345678\""},
    {"12345678\"2345678", 0, "\"12345678\\\"2345678\""},
    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 0, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
    {"abcdefg\xc3\xa9xyz", 0, "\"abcdefg\xc3\xa9xyz\""},
    /* U+FFFD per maximal invalid subpart (WHATWG / Unicode §3.9) */
    {"\xff\xfe", 0, "\"" FFFD FFFD "\""},
    {"\xe2\x82", 0, "\"" FFFD "\""},
    {"\xf0\x9f\x98"
     "A",
     0, "\"" FFFD "A\""},
    {"\x80", 0, "\"" FFFD "\""},
    {"\xbf\x80", 0, "\"" FFFD FFFD "\""},
    {"\xc0\xaf", 0, "\"" FFFD FFFD "\""},
    {"\xc1\xbf", 0, "\"" FFFD FFFD "\""},
    {"\xe0\x80\xaf", 0, "\"" FFFD FFFD FFFD "\""},
    {"\xed\xa0\x80", 0, "\"" FFFD FFFD FFFD "\""},
    {"\xf4\x90\x80\x80", 0, "\"" FFFD FFFD FFFD FFFD "\""},
    {"\xf5\x80", 0, "\"" FFFD FFFD "\""},
    {"\xf1\x80\x80\xe1\x80\xc2", 0, "\"" FFFD FFFD FFFD "\""},
    {"\xe2\x82\n", 0, "\"" FFFD "\\n\""},
    {"a\xe2\x82\xac"
     "b\xe2\x82",
     0,
     "\"a\xe2\x82\xac"
     "b" FFFD "\""},
    {"\xf0\x9f\x98\x80\xf0\x9f", 0, "\"\xf0\x9f\x98\x80" FFFD "\""},
    {"\xef\xbf\xbf\xf4\x8f\xbf\xbf", 0, "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\""},
};

static const char *encode_string(kve_buf_t *buf, const char *s, size_t len, int base64)
{
    guarded_t g;
    const char *in = guard_copy(&g, s, len);

    buf->len = 0;
    if (base64)
        kve_json_base64(buf, in, len);
    else
        kve_json_string(buf, in, len);
    kve_buf_putc(buf, '\0');
    guard_free(&g);
    return buf->base;
}

TEST(json_string_table)
{
    kve_buf_t buf = KVE_BUF_INIT;

    for (size_t i = 0; i != KVE_ARRAY_SIZE(string_cases); ++i) {
        size_t len = string_cases[i].len != 0 ? string_cases[i].len : strlen(string_cases[i].in);
        const char *got = encode_string(&buf, string_cases[i].in, len, 0);
        if (strcmp(got, string_cases[i].want) != 0)
            fprintf(stderr, "    case %zu\n", i);
        CHECK_EQ_STR(got, string_cases[i].want);
    }
    kve_buf_dispose(&buf);
}

/* kve_json_escape_into with room to spare gives what kve_json_string gives, without the quotes */
TEST(json_escape_into_table)
{
    char out[256];

    for (size_t i = 0; i != KVE_ARRAY_SIZE(string_cases); ++i) {
        size_t len = string_cases[i].len != 0 ? string_cases[i].len : strlen(string_cases[i].in), consumed = 99, n;
        guarded_t g;
        const char *in = guard_copy(&g, string_cases[i].in, len);
        n = kve_json_escape_into(out, sizeof(out), in, len, &consumed);
        guard_free(&g);
        CHECK_EQ_UINT(consumed, len);
        CHECK_EQ_MEM(out, n, string_cases[i].want + 1, strlen(string_cases[i].want) - 2);
    }
}

/* with any smaller room: whole escapes and whole UTF-8 sequences only, a prefix of the full output, as much as fits */
TEST(json_escape_into_bounded)
{
    char full[256], out[256], again[256];

    for (size_t i = 0; i != KVE_ARRAY_SIZE(string_cases); ++i) {
        const char *in = string_cases[i].in;
        size_t len = string_cases[i].len != 0 ? string_cases[i].len : strlen(in), all, n, consumed, m;
        all = kve_json_escape_into(full, sizeof(full), in, len, NULL);
        for (size_t cap = 0; cap <= all; ++cap) {
            n = kve_json_escape_into(out, cap, in, len, &consumed);
            CHECK(n <= cap);
            CHECK(consumed <= len);
            CHECK_EQ_MEM(out, n, full, n);
            /* what was written is exactly the escaping of the input it consumed: nothing was split */
            m = kve_json_escape_into(again, sizeof(again), in, consumed, NULL);
            CHECK_EQ_MEM(out, n, again, m);
            /* and it stopped only for lack of room (no unit is longer than 6 bytes) */
            CHECK(consumed == len || cap - n < 6);
            if (cap == all)
                CHECK_EQ_UINT(consumed, len);
        }
    }
    CHECK_EQ_UINT(kve_json_escape_into(out, 5, "\x01", 1, NULL), 0);
    CHECK_EQ_UINT(kve_json_escape_into(out, 2, "\xc3\xa9", 2, NULL), 2);
    CHECK_EQ_UINT(kve_json_escape_into(out, 2, "\xff", 1, NULL), 0);
}

/* byte-at-a-time escaping of ASCII, to compare the 8-byte fast path against */
static void reference_escape(kve_buf_t *out, const unsigned char *s, size_t len)
{
    kve_buf_putc(out, '"');
    for (size_t i = 0; i != len; ++i) {
        if (s[i] == '"' || s[i] == '\\')
            kve_buf_printf(out, "\\%c", s[i]);
        else if (s[i] == '\n')
            kve_buf_append(out, "\\n", 2);
        else if (s[i] < 0x20)
            kve_buf_printf(out, "\\u%04x", s[i]);
        else if (s[i] >= 0x80)
            kve_buf_append(out, FFFD, 3);
        else
            kve_buf_putc(out, (char)s[i]);
    }
    kve_buf_putc(out, '"');
    kve_buf_putc(out, '\0');
}

TEST(json_string_random)
{
    static const unsigned char alphabet[] = {'a', 'Z', ' ', '~', 0x7f, '"', '\\', '\n', 0x01, 0x1f, 0x00, 0x80, 0xff, '/'};
    kve_buf_t want = KVE_BUF_INIT, got = KVE_BUF_INIT;
    unsigned char in[40];
    unsigned seed = 12345;

    for (int round = 0; round != 5000; ++round) {
        size_t len = (size_t)round % sizeof(in);
        for (size_t i = 0; i != len; ++i) {
            seed = seed * 1103515245 + 12345;
            /* mostly plain letters, so that whole 8-byte words occur */
            in[i] = (seed >> 16) % 4 != 0 ? (unsigned char)('a' + (seed >> 20) % 26) : alphabet[(seed >> 20) % sizeof(alphabet)];
        }
        want.len = 0;
        reference_escape(&want, in, len);
        encode_string(&got, (const char *)in, len, 0);
        if (strcmp(got.base, want.base) != 0) {
            CHECK_EQ_STR(got.base, want.base);
            break;
        }
    }
    kve_buf_dispose(&want);
    kve_buf_dispose(&got);
}

TEST(json_string_300_bytes)
{
    char in[300], want[400];
    kve_buf_t buf = KVE_BUF_INIT;
    size_t i, w = 0;

    want[w++] = '"';
    for (i = 0; i != sizeof(in); ++i) {
        in[i] = (char)('A' + i % 50);
        if (in[i] == '\\')
            want[w++] = '\\';
        want[w++] = in[i];
    }
    want[w++] = '"';
    want[w] = '\0';
    CHECK_EQ_STR(encode_string(&buf, in, sizeof(in), 0), want);
    CHECK_EQ_UINT(strlen(buf.base), w);
    kve_buf_dispose(&buf);
}

TEST(base64_table)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"f", 0, "\"Zg==\""},
        {"fo", 0, "\"Zm8=\""},
        {"foo", 0, "\"Zm9v\""},
        {"foob", 0, "\"Zm9vYg==\""},
        {"fooba", 0, "\"Zm9vYmE=\""},
        {"foobar", 0, "\"Zm9vYmFy\""},
        {"OK", 0, "\"T0s=\""},
        {"PONG", 0, "\"UE9ORw==\""},
        {"\xff\xfe\x00", 3, "\"//4A\""},
        {"\xfb\xff", 0, "\"+/8=\""},
        {"\x00", 1, "\"AA==\""},
    };
    kve_buf_t buf = KVE_BUF_INIT;

    for (size_t i = 0; i != KVE_ARRAY_SIZE(cases); ++i) {
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
        CHECK_EQ_STR(encode_string(&buf, cases[i].in, len, 1), cases[i].want);
    }
    kve_buf_dispose(&buf);
}

/* every byte value, through a decoder written here */
TEST(base64_round_trip)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char in[258], out[258];
    kve_buf_t buf = KVE_BUF_INIT;

    for (size_t i = 0; i != sizeof(in); ++i)
        in[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len != sizeof(in); ++len) {
        const char *enc = encode_string(&buf, (const char *)in, len, 1) + 1;
        size_t enc_len = strlen(enc) - 1, n = 0;
        uint32_t acc = 0;
        int bits = 0;
        CHECK_EQ_UINT(enc_len, (len + 2) / 3 * 4);
        for (size_t i = 0; i != enc_len && enc[i] != '='; ++i) {
            acc = acc << 6 | (uint32_t)(strchr(alphabet, enc[i]) - alphabet);
            if ((bits += 6) >= 8) {
                bits -= 8;
                out[n++] = (unsigned char)(acc >> bits);
            }
        }
        CHECK_EQ_MEM(out, n, in, len);
    }
    kve_buf_dispose(&buf);
}

static const char *json_value(kve_buf_t *buf, const kve_kv_reply_t *reply, int base64, int top)
{
    buf->len = 0;
    kve_json_value(buf, reply, base64, top);
    kve_buf_putc(buf, '\0');
    return buf->base;
}

TEST(json_value_types)
{
    kve_kv_reply_t bar = text(KVE_REPLY_STRING, "bar"), ok = text(KVE_REPLY_STATUS, "OK");
    kve_kv_reply_t ok_string = text(KVE_REPLY_STRING, "OK"), pong = text(KVE_REPLY_STATUS, "PONG");
    kve_kv_reply_t err = text(KVE_REPLY_ERROR, "ERR x \"y\"");
    kve_kv_reply_t zero = integer(0), neg = integer(-1), big = integer(LLONG_MAX), small = integer(LLONG_MIN);
    kve_kv_reply_t empty = array(NULL, 0);
    kve_buf_t buf = KVE_BUF_INIT;

    CHECK_EQ_STR(json_value(&buf, &bar, 0, 1), "\"bar\"");
    CHECK_EQ_STR(json_value(&buf, &bar, 1, 1), "\"YmFy\"");
    CHECK_EQ_STR(json_value(&buf, &bar, 1, 0), "\"YmFy\"");
    CHECK_EQ_STR(json_value(&buf, &ok, 0, 1), "\"OK\"");
    CHECK_EQ_STR(json_value(&buf, &ok, 1, 1), "\"OK\"");
    CHECK_EQ_STR(json_value(&buf, &ok, 1, 0), "\"T0s=\"");
    CHECK_EQ_STR(json_value(&buf, &ok, 0, 0), "\"OK\"");
    CHECK_EQ_STR(json_value(&buf, &ok_string, 1, 1), "\"T0s=\"");
    CHECK_EQ_STR(json_value(&buf, &pong, 0, 1), "\"PONG\"");
    CHECK_EQ_STR(json_value(&buf, &pong, 1, 1), "\"UE9ORw==\"");
    CHECK_EQ_STR(json_value(&buf, &err, 0, 1), "\"ERR x \\\"y\\\"\"");
    CHECK_EQ_STR(json_value(&buf, &err, 1, 1), "\"ERR x \\\"y\\\"\"");
    CHECK_EQ_STR(json_value(&buf, &zero, 1, 1), "0");
    CHECK_EQ_STR(json_value(&buf, &neg, 0, 1), "-1");
    CHECK_EQ_STR(json_value(&buf, &big, 1, 0), "9223372036854775807");
    CHECK_EQ_STR(json_value(&buf, &small, 0, 1), "-9223372036854775808");
    CHECK_EQ_STR(json_value(&buf, &nil, 1, 1), "null");
    CHECK_EQ_STR(json_value(&buf, &empty, 1, 1), "[]");
    kve_buf_dispose(&buf);
}

TEST(json_value_nested)
{
    kve_kv_reply_t a = text(KVE_REPLY_STRING, "a"), ok = text(KVE_REPLY_STATUS, "OK"), one = integer(1);
    kve_kv_reply_t err = text(KVE_REPLY_ERROR, "WRONGTYPE Operation against a key");
    kve_kv_reply_t bad = {.type = KVE_REPLY_STRING, .str = "\xff\n", .len = 2};
    kve_kv_reply_t *inner_elems[] = {&ok, &err, &bad}, inner = array(inner_elems, 3);
    kve_kv_reply_t empty = array(NULL, 0);
    kve_kv_reply_t *outer_elems[] = {&a, (kve_kv_reply_t *)&nil, &one, &inner, &empty}, outer = array(outer_elems, 5);
    kve_kv_reply_t *ok_elems[] = {&ok}, ok_array = array(ok_elems, 1);
    kve_buf_t buf = KVE_BUF_INIT;

    CHECK_EQ_STR(json_value(&buf, &outer, 0, 1),
                 "[\"a\",null,1,[\"OK\",\"WRONGTYPE Operation against a key\",\"" FFFD "\\n\"],[]]");
    CHECK_EQ_STR(json_value(&buf, &outer, 1, 1), "[\"YQ==\",null,1,[\"T0s=\",\"WRONGTYPE Operation against a key\",\"/wo=\"],[]]");
    /* "OK" inside a top-level array is not the top-level status */
    CHECK_EQ_STR(json_value(&buf, &ok_array, 1, 1), "[\"T0s=\"]");
    CHECK_EQ_STR(json_value(&buf, &ok_array, 0, 1), "[\"OK\"]");
    kve_buf_dispose(&buf);
}

static const char *envelope(kve_buf_t *buf, const kve_kv_reply_t *reply, int base64)
{
    buf->len = 0;
    kve_json_envelope(buf, reply, base64, SIZE_MAX);
    kve_buf_putc(buf, '\0');
    return buf->base;
}

TEST(json_envelope)
{
    kve_kv_reply_t v = text(KVE_REPLY_STRING, "v"), ok = text(KVE_REPLY_STATUS, "OK"), n = integer(7);
    kve_kv_reply_t err = text(KVE_REPLY_ERROR, "ERR value is not an integer or out of range");
    kve_kv_reply_t quote = text(KVE_REPLY_ERROR, "ERR \"x\"\n");
    kve_kv_reply_t *elems[] = {&ok, (kve_kv_reply_t *)&nil}, arr = array(elems, 2);
    kve_buf_t buf = KVE_BUF_INIT;

    CHECK_EQ_STR(envelope(&buf, &v, 0), "{\"result\":\"v\"}");
    CHECK_EQ_STR(envelope(&buf, &v, 1), "{\"result\":\"dg==\"}");
    CHECK_EQ_STR(envelope(&buf, &ok, 1), "{\"result\":\"OK\"}");
    CHECK_EQ_STR(envelope(&buf, &n, 1), "{\"result\":7}");
    CHECK_EQ_STR(envelope(&buf, &nil, 1), "{\"result\":null}");
    CHECK_EQ_STR(envelope(&buf, &arr, 1), "{\"result\":[\"T0s=\",null]}");
    CHECK_EQ_STR(envelope(&buf, &err, 1), "{\"error\":\"ERR value is not an integer or out of range\"}");
    CHECK_EQ_STR(envelope(&buf, &quote, 0), "{\"error\":\"ERR \\\"x\\\"\\n\"}");

    buf.len = 0;
    kve_json_error(&buf, "ERR \"bad\"\tbody\\");
    kve_json_error(&buf, "");
    kve_buf_putc(&buf, '\0');
    CHECK_EQ_STR(buf.base, "{\"error\":\"ERR \\\"bad\\\"\\tbody\\\\\"}{\"error\":\"\"}");
    kve_buf_dispose(&buf);
}

/* the bounded encoders: what fits is encoded exactly, anything else fails once past the limit */
TEST(limits)
{
    kve_kv_reply_t abc = text(KVE_REPLY_STRING, "abc"), ctl = text(KVE_REPLY_STRING, "\x01\x01"), n = integer(123456789);
    kve_kv_reply_t err = text(KVE_REPLY_ERROR, "ERR x");
    kve_kv_reply_t *elems[] = {&n, &abc}, arr = array(elems, 2);
    kve_kv_reply_t huge = {.type = KVE_REPLY_STRING, .len = 1 << 20};
    kve_buf_t buf = KVE_BUF_INIT;

    /* {"result":"abc"} is 16 bytes; what the buffer already held counts */
    CHECK_EQ_INT(kve_json_envelope(&buf, &abc, 0, 16), 0);
    CHECK_EQ_MEM(buf.base, buf.len, "{\"result\":\"abc\"}", 16);
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &abc, 0, 15), -1);
    buf.len = 1;
    CHECK_EQ_INT(kve_json_envelope(&buf, &abc, 0, 16), -1);
    buf.len = 1;
    CHECK_EQ_INT(kve_json_envelope(&buf, &abc, 0, 17), 0);
    /* the encoded size counts, not the reply's: escapes, base64, numbers, nested arrays */
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &ctl, 0, 25), 0); /* {"result":"\u0001\u0001"} */
    CHECK_EQ_UINT(buf.len, 25);
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &ctl, 0, 24), -1);
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &abc, 1, 16), -1); /* {"result":"YWJj"} is 17 */
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &arr, 0, 28), 0); /* {"result":[123456789,"abc"]} */
    CHECK_EQ_UINT(buf.len, 28);
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &arr, 0, 27), -1);
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &err, 0, 17), 0); /* {"error":"ERR x"} */
    buf.len = 0;
    CHECK_EQ_INT(kve_json_envelope(&buf, &err, 0, 16), -1);
    /* a string longer than the limit is refused before its bytes are read or room is made for them */
    kve_buf_dispose(&buf);
    CHECK_EQ_INT(kve_json_envelope(&buf, &huge, 1, 4096), -1);
    CHECK(buf.cap < 4096);
    kve_buf_dispose(&buf);
}

TEST(too_big_marker)
{
    static const kve_kv_reply_t too_big = {.type = KVE_REPLY_TOO_BIG};
    kve_kv_reply_t n = integer(1), *elems[] = {&n, (kve_kv_reply_t *)&too_big}, arr = array(elems, 2);
    kve_buf_t buf = KVE_BUF_INIT;

    CHECK_EQ_STR(envelope(&buf, &too_big, 0), "{\"error\":\"ERR max response size exceeded\"}");
    CHECK_EQ_STR(envelope(&buf, &too_big, 1), "{\"error\":\"ERR max response size exceeded\"}");
    CHECK_EQ_STR(envelope(&buf, &arr, 1), "{\"result\":[1,\"ERR max response size exceeded\"]}");
    kve_buf_dispose(&buf);
}

void kve_suite_json(void)
{
    RUN(json_string_table);
    RUN(json_string_random);
    RUN(json_string_300_bytes);
    RUN(json_escape_into_table);
    RUN(json_escape_into_bounded);
    RUN(base64_table);
    RUN(base64_round_trip);
    RUN(json_value_types);
    RUN(json_value_nested);
    RUN(json_envelope);
    RUN(limits);
    RUN(too_big_marker);
}
