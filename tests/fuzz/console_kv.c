/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the keys page's decoding of client bytes and its encoding of store bytes (issue 13;
 * handlers/console_kv_codec.c): a form field looked up and decoded under a limit, then read as an integer, a SCAN
 * cursor, a ZADD score and a stream id; and any bytes written as the API's byte string.
 *
 * Input: a limit byte (the decode limit, 0..255), a show byte (the bytes shown, 0..255), a name up to a 0xff byte,
 * then the form (copied into a block of exactly its size, so ASan sees a read past it).
 *
 * Oracles: a field found lies inside the form and holds no '&'; its decoded length is at most its raw length and the
 * limit; an integer accepted is in range and prints back as the same text; a cursor or an id accepted is digits (and
 * one '-'); the byte string of any input is a JSON value of printable ASCII or valid UTF-8 with no control byte.
 */
#include "fuzz.h"
#include "handlers/console_kv_codec.h"
#include "proxy/common.h"
#include "proxy/json.h"

#include <limits.h>

static void check_json(const kve_buf_t *out)
{
    const unsigned char *p = (const unsigned char *)out->base;
    for (size_t i = 0; i != out->len;) {
        size_t bad = 0, seq;
        FUZZ_CHECK(p[i] >= 0x20, "a control byte 0x%02x in the JSON", p[i]);
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        seq = kve_json_utf8_sequence(p + i, out->len - i, &bad);
        FUZZ_CHECK(seq != 0, "invalid UTF-8 in the JSON at %zu", i);
        i += seq;
    }
    FUZZ_CHECK(out->len >= 2 && (p[0] == '"' || p[0] == '{'), "not a JSON string or object");
}

static void fuzz_value(const char *v, size_t len)
{
    long long n;
    char back[32];
    const char *dash;

    if (kve_console_kv_int(v, len, -1000000, LLONG_MAX, &n) == 0) {
        FUZZ_CHECK(n >= -1000000, "below the range");
        snprintf(back, sizeof(back), "%lld", n);
        FUZZ_CHECK(strlen(back) == len && memcmp(back, v, len) == 0, "the integer does not print back");
    }
    if (kve_console_kv_cursor_ok(v, len))
        for (size_t i = 0; i != len; ++i)
            FUZZ_CHECK(v[i] >= '0' && v[i] <= '9', "a cursor with a non-digit");
    if (kve_console_kv_stream_id_ok(v, len)) {
        dash = memchr(v, '-', len);
        FUZZ_CHECK(dash != NULL && memchr(dash + 1, '-', len - (size_t)(dash - v) - 1) == NULL, "an id without one '-'");
    }
    if (kve_console_kv_score_ok(v, len))
        FUZZ_CHECK(memchr(v, ' ', len) == NULL && memchr(v, 'a', len) == NULL && memchr(v, 'A', len) == NULL,
                   "a score with a space or a NaN");
}

static void fuzz_form(const char *name, const char *form, size_t len, size_t limit)
{
    const char *raw = NULL;
    size_t raw_len = 0;
    int r = kve_console_kv_field(form, len, name, &raw, &raw_len);
    long n;
    char *out;

    FUZZ_CHECK(r >= -1 && r <= 1, "result %d", r);
    if (r != 1)
        return;
    FUZZ_CHECK(raw >= form && raw + raw_len <= form + len, "the value lies outside the form");
    FUZZ_CHECK(memchr(raw, '&', raw_len) == NULL, "a '&' in the value");
    out = kve_malloc(raw_len + 1);
    n = kve_console_kv_decode(raw, raw_len, out, limit);
    FUZZ_CHECK(n >= -2, "decode result %ld", n);
    if (n >= 0) {
        FUZZ_CHECK((size_t)n <= raw_len && (size_t)n <= limit, "decoded %ld bytes from %zu (limit %zu)", n, raw_len, limit);
        fuzz_value(out, (size_t)n);
    }
    free(out);
}

static void fuzz_byte_string(const char *s, size_t len, size_t show)
{
    kve_buf_t out = KVE_BUF_INIT;
    kve_console_kv_bytes(&out, s, len, len + (show & 1) * 7, show);
    check_json(&out);
    kve_buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    size_t limit = fuzz_u8(&in), show = fuzz_u8(&in), name_len, form_len;
    const uint8_t *start = in.p;
    char *name, *form;

    while (in.p != in.end && *in.p != 0xff)
        ++in.p;
    name_len = (size_t)(in.p - start);
    name = kve_strndup((const char *)start, name_len); /* a name is kvedge's own: a C string */
    if (in.p != in.end)
        ++in.p;
    form_len = fuzz_left(&in);
    form = fuzz_exact_copy(in.p, form_len);
    if (form == NULL)
        form = kve_strndup("", 0); /* the handlers never pass NULL */
    if (strlen(name) != 0)
        fuzz_form(name, form, form_len, limit);
    fuzz_byte_string(form, form_len, show);
    fuzz_value(form, form_len);
    free(form);
    free(name);
    return 0;
}
