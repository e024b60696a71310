/* SPDX-License-Identifier: MIT */
/*
 * JSON writing (see json.h). This runs once per request on the hot path, so it never allocates beyond
 * appending to the output buffer: each string reserves its worst case once (6x escaped plus quotes, or 4/3
 * for base64) and is then written through a raw pointer. Plain ASCII, the common case, is checked and copied
 * 8 bytes at a time; anything else goes through the escaper and the UTF-8 decoder, which replaces each
 * maximal invalid subsequence with one U+FFFD like the WHATWG decoder (so an invalid reply byte can never
 * make the JSON invalid).
 */
#include "proxy/json.h"
#include "proxy/base64.h"
#include "proxy/common.h"
#include "proxy/resp.h"

#include <limits.h>
#include <stdint.h>

#define ONES (~(uint64_t)0 / 255)
#define HIGHS (ONES * 0x80)

static const char hex_digits[] = "0123456789abcdef";

/* 0: copied as is; 1: escaped; 2: a byte >= 0x80, checked as UTF-8 */
static const unsigned char json_class[256] = {[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 2};

/* non-zero if any of the 8 bytes is a control character, '"', '\\' or >= 0x80 (the "has less than" and
 * "has zero byte" tricks: exact as to whether any byte matches, which is all that is asked) */
static inline uint64_t needs_care(uint64_t x)
{
    uint64_t quote = x ^ (ONES * '"'), backslash = x ^ (ONES * '\\');
    return (((x - ONES * 0x20) & ~x) | ((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash) | x) & HIGHS;
}

static char *write_escape(char *d, unsigned char c)
{
    static const char short_form[0x20] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};

    *d++ = '\\';
    if (c == '"' || c == '\\') {
        *d++ = (char)c;
    } else if (short_form[c] != 0) {
        *d++ = short_form[c];
    } else {
        memcpy(d, "u00", 3);
        d[3] = hex_digits[c >> 4];
        d[4] = hex_digits[c & 0xf];
        d += 5;
    }
    return d;
}

size_t kve_json_utf8_sequence(const unsigned char *s, size_t avail, size_t *bad)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    *bad = 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80; /* overlong */
        hi = s[0] == 0xed ? 0x9f : 0xbf; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80; /* overlong */
        hi = s[0] == 0xf4 ? 0x8f : 0xbf; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < 2 || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i != n; ++i) {
        if (i == avail || (s[i] & 0xc0) != 0x80) {
            *bad = i;
            return 0;
        }
    }
    return n;
}

void kve_json_string(kve_buf_t *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    char *d, *d0;
    size_t n, bad;

    if (len == 0) {
        kve_buf_append(out, "\"\"", 2);
        return;
    }
    KVE_ASSERT(len <= (SIZE_MAX - 2) / 6);
    d = d0 = kve_buf_reserve(out, len * 6 + 2);
    *d++ = '"';
    while (p != end) {
        uint64_t x;
        if (end - p >= 8 && (memcpy(&x, p, 8), needs_care(x) == 0)) {
            memcpy(d, p, 8);
            d += 8;
            p += 8;
        } else if (json_class[*p] == 0) {
            *d++ = (char)*p++;
        } else if (json_class[*p] == 1) {
            d = write_escape(d, *p++);
        } else if ((n = kve_json_utf8_sequence(p, (size_t)(end - p), &bad)) != 0) {
            memcpy(d, p, n);
            d += n;
            p += n;
        } else {
            memcpy(d, "\xef\xbf\xbd", 3);
            d += 3;
            p += bad;
        }
    }
    *d++ = '"';
    out->len += (size_t)(d - d0);
}

size_t kve_json_escape_into(char *dst, size_t cap, const char *s, size_t len, size_t *consumed)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    char *d = dst, esc[6];
    const char *src;
    size_t in, out, bad;

    while (p != end) {
        if (json_class[*p] == 0) {
            src = (const char *)p, in = out = 1;
        } else if (json_class[*p] == 1) {
            src = esc, in = 1, out = (size_t)(write_escape(esc, *p) - esc);
        } else if ((in = kve_json_utf8_sequence(p, (size_t)(end - p), &bad)) != 0) {
            src = (const char *)p, out = in;
        } else {
            src = "\xef\xbf\xbd", in = bad, out = 3;
        }
        if (out > cap - (size_t)(d - dst))
            break;
        memcpy(d, src, out);
        d += out;
        p += in;
    }
    if (consumed != NULL)
        *consumed = (size_t)(p - (const unsigned char *)s);
    return (size_t)(d - dst);
}

void kve_json_base64(kve_buf_t *out, const char *s, size_t len)
{
    char *d;

    KVE_ASSERT(len / 3 <= (SIZE_MAX - 6) / 4);
    d = kve_buf_reserve(out, KVE_BASE64_ENCODED_LEN(len) + 2);
    d[0] = '"';
    len = kve_base64_encode(d + 1, s, len);
    d[len + 1] = '"';
    out->len += len + 2;
}

/* the decimal digits of v */
static void put_integer(kve_buf_t *out, long long v)
{
    char *d = kve_buf_reserve(out, 21), *p = d;

    if (v < 0)
        *p++ = '-';
    p += kve_u64toa(v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, p);
    out->len += (size_t)(p - d);
}

/* whether appending `more` bytes would take `out` past `limit` */
static int past(const kve_buf_t *out, size_t more, size_t limit)
{
    return more > limit || out->len > limit - more;
}

static const char too_big_text[] = KVE_JSON_TOO_BIG_TEXT;

static int is_top_ok(const kve_kv_reply_t *reply, int top)
{
    return top && reply->type == KVE_REPLY_STATUS && reply->len == 2 && memcmp(reply->str, "OK", 2) == 0;
}

/* the encoders below stop with -1 as soon as `out` holds more than `limit` bytes: a string longer than what
 * is left is refused before anything is reserved for it (its encoding is never shorter), anything else is
 * measured after it was written */
static int json_value(kve_buf_t *out, const kve_kv_reply_t *reply, int base64, int top, size_t limit)
{
    size_t i;

    switch (reply->type) {
    case KVE_REPLY_STRING:
    case KVE_REPLY_STATUS:
    case KVE_REPLY_ERROR:
        if (past(out, reply->len, limit))
            return -1;
        if (base64 && reply->type != KVE_REPLY_ERROR && !is_top_ok(reply, top))
            kve_json_base64(out, reply->str, reply->len);
        else
            kve_json_string(out, reply->str, reply->len);
        break;
    case KVE_REPLY_INTEGER:
        put_integer(out, reply->integer);
        break;
    case KVE_REPLY_TOO_BIG:
        kve_json_string(out, too_big_text, sizeof(too_big_text) - 1);
        break;
    case KVE_REPLY_NIL:
        kve_buf_append(out, KVE_STRLIT("null"));
        break;
    case KVE_REPLY_ARRAY:
        kve_buf_putc(out, '[');
        for (i = 0; i != reply->elements; ++i) {
            if (i != 0)
                kve_buf_putc(out, ',');
            if (json_value(out, reply->element[i], base64, 0, limit) != 0)
                return -1;
        }
        kve_buf_putc(out, ']');
        break;
    default:
        KVE_ASSERT(!"unknown reply type");
    }
    return out->len > limit ? -1 : 0;
}

void kve_json_value(kve_buf_t *out, const kve_kv_reply_t *reply, int base64, int top)
{
    json_value(out, reply, base64, top, SIZE_MAX);
}

int kve_json_envelope(kve_buf_t *out, const kve_kv_reply_t *reply, int base64, size_t limit)
{
    if (reply->type == KVE_REPLY_ERROR || reply->type == KVE_REPLY_TOO_BIG) {
        kve_buf_append(out, KVE_STRLIT("{\"error\":"));
        if (json_value(out, reply, 0, 1, limit) != 0)
            return -1;
    } else {
        kve_buf_append(out, KVE_STRLIT("{\"result\":"));
        if (json_value(out, reply, base64, 1, limit) != 0)
            return -1;
    }
    kve_buf_putc(out, '}');
    return out->len > limit ? -1 : 0;
}

void kve_json_error(kve_buf_t *out, const char *msg)
{
    kve_buf_append(out, KVE_STRLIT("{\"error\":"));
    kve_json_string(out, msg, strlen(msg));
    kve_buf_putc(out, '}');
}
