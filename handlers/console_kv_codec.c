/* SPDX-License-Identifier: MIT */
/* The keys page's codec (see console_kv_codec.h): form fields, numbers, ids, and byte strings as JSON. */
#include "handlers/console_kv_codec.h"
#include "proxy/common.h"
#include "proxy/json.h"

#include <limits.h>
#include <string.h>

int kve_console_kv_field(const char *s, size_t len, const char *name, const char **raw, size_t *raw_len)
{
    size_t name_len = strlen(name), pos = 0;
    int found = 0;

    while (pos < len) {
        const char *f = s + pos, *amp = memchr(f, '&', len - pos);
        size_t flen = amp != NULL ? (size_t)(amp - f) : len - pos;
        pos += flen + 1;
        if (flen < name_len || memcmp(f, name, name_len) != 0 || (flen > name_len && f[name_len] != '='))
            continue;
        if (found++)
            return -1;
        *raw = flen > name_len ? f + name_len + 1 : f + flen;
        *raw_len = flen > name_len ? flen - name_len - 1 : 0;
    }
    return found;
}

long kve_console_kv_decode(const char *raw, size_t len, char *out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i != len; ++i) {
        char c = raw[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = kve_hex_digit(raw[i + 1])) < 0 || (lo = kve_hex_digit(raw[i + 2])) < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (n == max)
            return -2;
        out[n++] = c;
    }
    return (long)n;
}

/* `len` digits (1..20) as an unsigned 64-bit value: 0, or -1 when one is not a digit or it overflows */
static int parse_u64(const char *s, size_t len, unsigned long long *out)
{
    unsigned long long v = 0;

    if (len == 0 || len > 20)
        return -1;
    for (size_t i = 0; i != len; ++i) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || v > (~0ULL - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int kve_console_kv_int(const char *s, size_t len, long long min, long long max, long long *out)
{
    unsigned long long mag;
    int neg = len != 0 && s[0] == '-';
    long long v;

    if (parse_u64(s + neg, len - neg, &mag) != 0 || (len - neg > 1 && s[neg] == '0') || mag > (unsigned long long)LLONG_MAX ||
        (neg && mag == 0)) /* one spelling per number: no "-0" */
        return -1;
    v = neg ? -(long long)mag : (long long)mag;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int kve_console_kv_cursor_ok(const char *s, size_t len)
{
    unsigned long long v;
    return parse_u64(s, len, &v) == 0;
}

static size_t digits(const char *s, size_t len)
{
    size_t n = 0;
    while (n != len && s[n] >= '0' && s[n] <= '9')
        ++n;
    return n;
}

int kve_console_kv_score_ok(const char *s, size_t len)
{
    size_t i = 0, n;

    if (len != 0 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (len - i == 3 && (memcmp(s + i, "inf", 3) == 0 || memcmp(s + i, "INF", 3) == 0))
        return 1;
    n = digits(s + i, len - i); /* [digits][.digits][e[+-]digits], at least one digit before the exponent */
    i += n;
    if (i != len && s[i] == '.') {
        size_t f = digits(s + i + 1, len - i - 1);
        n += f;
        i += 1 + f;
    }
    if (n == 0 || n > 64)
        return 0;
    if (i != len && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i != len && (s[i] == '-' || s[i] == '+'))
            ++i;
        n = digits(s + i, len - i);
        if (n == 0 || n > 3)
            return 0;
        i += n;
    }
    return i == len;
}

int kve_console_kv_stream_id_ok(const char *s, size_t len)
{
    const char *dash = memchr(s, '-', len);
    unsigned long long v;

    return dash != NULL && parse_u64(s, (size_t)(dash - s), &v) == 0 && parse_u64(dash + 1, len - (size_t)(dash - s) - 1, &v) == 0;
}

long kve_console_kv_utf8_prefix(const char *s, size_t len, size_t show, int complete)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = len < show ? len : show, i = 0;

    while (i != n) {
        size_t bad = 0, seq;
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        /* judged on every byte we have: a sequence cut by `show`, or by the end of a partial value, is no error */
        if ((seq = kve_json_utf8_sequence(p + i, len - i, &bad)) == 0) {
            if (!complete && i + bad == len)
                break;
            return -1;
        }
        if (i + seq > n)
            break;
        i += seq;
    }
    return (long)i;
}

void kve_console_kv_bytes(kve_buf_t *out, const char *s, size_t len, size_t full, size_t show)
{
    long text;
    size_t shown;

    if (full < len)
        full = len;
    text = kve_console_kv_utf8_prefix(s, len, show, len == full);
    if (text >= 0 && (size_t)text == full) {
        kve_json_string(out, s, len);
        return;
    }
    if (text >= 0) { /* valid UTF-8, cut: the text before the cut */
        kve_buf_printf(out, "{\"text\":");
        kve_json_string(out, s, shown = (size_t)text);
    } else {
        kve_buf_printf(out, "{\"base64\":");
        kve_json_base64(out, s, shown = len < show ? len : show);
    }
    kve_buf_printf(out, ",\"length\":%zu,\"truncated\":%s}", full, shown < full ? "true" : "false");
}
