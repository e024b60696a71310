/* SPDX-License-Identifier: MIT */
/*
 * Pure parsers for config values. Every parser takes the whole string: no surrounding whitespace, no
 * sign on durations and sizes, no trailing garbage, and nothing that does not fit. Durations and sizes
 * are capped at INT64_MAX so callers can compare them with the signed min/max of a directive.
 * Fractions are parsed exactly (integer arithmetic, never floating point): durations round to the
 * nearest millisecond, sizes round down to a whole byte.
 */
#include "conf/value.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "proxy/buf.h"
#include "proxy/common.h"

/* digits kept after the decimal point; further digits are checked but cannot change a result in ms or bytes */
#define MAX_FRACTION_DIGITS 18

/* "123" or "1.25": integer part, fraction numerator and its power of ten; returns the end or NULL */
struct st_decimal_t {
    uint64_t whole;
    uint64_t frac, frac_scale;
};

static const char *parse_decimal(const char *s, struct st_decimal_t *d)
{
    const char *p = s;
    d->whole = 0;
    d->frac = 0;
    d->frac_scale = 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    for (; isdigit((unsigned char)*p); ++p) {
        unsigned digit = *p - '0';
        if (d->whole > (UINT64_MAX - digit) / 10)
            return NULL;
        d->whole = d->whole * 10 + digit;
    }
    if (*p != '.')
        return p;
    if (!isdigit((unsigned char)*++p))
        return NULL;
    for (unsigned n = 0; isdigit((unsigned char)*p); ++p, ++n) {
        if (n < MAX_FRACTION_DIGITS) {
            d->frac = d->frac * 10 + (*p - '0');
            d->frac_scale *= 10;
        }
    }
    return p;
}

/* whole * unit + frac * unit / frac_scale, rounded (half up) or truncated; -1 above INT64_MAX */
static int scale_decimal(const struct st_decimal_t *d, uint64_t unit, int round_nearest, uint64_t *out)
{
    unsigned __int128 frac = (unsigned __int128)d->frac * unit;
    if (round_nearest)
        frac += d->frac_scale / 2;
    unsigned __int128 total = (unsigned __int128)d->whole * unit + frac / d->frac_scale;
    if (total > INT64_MAX)
        return -1;
    *out = (uint64_t)total;
    return 0;
}

int kve_value_int(const char *s, int64_t *out)
{
    int negative = 0;
    uint64_t v = 0, limit;
    if (*s == '+' || *s == '-')
        negative = *s++ == '-';
    if (!isdigit((unsigned char)*s))
        return -1;
    limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; isdigit((unsigned char)*s); ++s) {
        unsigned digit = *s - '0';
        if (v > (limit - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    if (*s != '\0')
        return -1;
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int kve_value_bool(const char *s, int *out)
{
    static const struct {
        const char *word;
        int value;
    } words[] = {{"true", 1}, {"yes", 1}, {"on", 1}, {"false", 0}, {"no", 0}, {"off", 0}};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(words); ++i) {
        if (strcasecmp(s, words[i].word) == 0) {
            *out = words[i].value;
            return 0;
        }
    }
    return -1;
}

int kve_value_duration(const char *s, uint64_t *out_ms)
{
    /* longest suffix first so "ms" is not taken for "m" */
    static const struct {
        const char *suffix;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000}};
    struct st_decimal_t d;
    const char *end = parse_decimal(s, &d);
    if (end == NULL)
        return -1;
    for (size_t i = 0; i != KVE_ARRAY_SIZE(units); ++i) {
        if (strcmp(end, units[i].suffix) == 0)
            return scale_decimal(&d, units[i].ms, 1, out_ms);
    }
    return -1;
}

/* returns the multiplier of a size suffix ("" and "b" are bytes), or 0 if unknown */
static uint64_t size_unit(const char *suffix)
{
    static const char prefixes[] = "kmgt";
    const char *p;
    uint64_t binary = 1, decimal = 1;
    if (*suffix == '\0' || strcasecmp(suffix, "b") == 0)
        return 1;
    if ((p = strchr(prefixes, tolower((unsigned char)*suffix))) == NULL)
        return 0;
    for (const char *q = prefixes; q <= p; ++q) {
        binary *= 1024;
        decimal *= 1000;
    }
    if (suffix[1] == '\0' || strcasecmp(suffix + 1, "ib") == 0)
        return binary;
    if (strcasecmp(suffix + 1, "b") == 0)
        return decimal;
    return 0;
}

int kve_value_size(const char *s, uint64_t *out_bytes)
{
    struct st_decimal_t d;
    const char *end = parse_decimal(s, &d);
    uint64_t unit;
    if (end == NULL || (unit = size_unit(end)) == 0)
        return -1;
    /* a fraction of a byte is a typo, not a request to round */
    if (unit == 1 && d.frac_scale != 1)
        return -1;
    return scale_decimal(&d, unit, 0, out_bytes);
}

unsigned kve_value_edit_distance(const char *a, const char *b)
{
    size_t alen = strlen(a), blen = strlen(b);
    size_t *row = kve_malloc((blen + 1) * sizeof(*row));
    size_t i, j, result;
    for (j = 0; j <= blen; ++j)
        row[j] = j;
    for (i = 1; i <= alen; ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (j = 1; j <= blen; ++j) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            best = KVE_MIN(best, up + 1);
            best = KVE_MIN(best, row[j - 1] + 1);
            diag = up;
            row[j] = best;
        }
    }
    result = row[blen];
    free(row);
    return (unsigned)KVE_MIN(result, 255);
}

static int is_env_name(const char *s, size_t len)
{
    if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i != len; ++i) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    }
    return 1;
}

static __thread int no_env;

void kve_value_set_no_env(int on)
{
    no_env = on;
}

/* expands the "${...}" starting at `in` (which ends at `end`); returns the bytes consumed or 0 on error */
static size_t expand_one(const char *in, const char *end, kve_buf_t *buf, char *err, size_t errlen)
{
    const char *body = in + 2, *close = memchr(body, '}', end - body), *dflt;
    size_t name_len;
    char name[256];
    const char *value;
    if (close == NULL) {
        snprintf(err, errlen, "unterminated \"${\" (expected \"${NAME}\" or \"${NAME:-default}\")");
        return 0;
    }
    for (dflt = body; dflt + 1 < close && !(dflt[0] == ':' && dflt[1] == '-'); ++dflt)
        ;
    if (dflt + 1 >= close)
        dflt = NULL;
    name_len = (dflt != NULL ? dflt : close) - body;
    if (!is_env_name(body, name_len) || name_len >= sizeof(name)) {
        snprintf(err, errlen, "invalid environment variable name \"%.*s\" (expected letters, digits and _)",
                 (int)KVE_MIN(name_len, 64), body);
        return 0;
    }
    memcpy(name, body, name_len);
    name[name_len] = '\0';
    value = !no_env ? getenv(name) : dflt != NULL ? NULL : KVE_VALUE_ENV_PLACEHOLDER;
    if (dflt != NULL && (value == NULL || *value == '\0')) {
        kve_buf_append(buf, dflt + 2, close - (dflt + 2));
    } else if (value != NULL) {
        kve_buf_append(buf, value, strlen(value));
    } else {
        snprintf(err, errlen, "environment variable \"%s\" is not set", name);
        return 0;
    }
    return close + 1 - in;
}

char *kve_value_expand_env(const char *in, size_t len, size_t *out_len, char *err, size_t errlen, size_t *err_offset)
{
    kve_buf_t buf = KVE_BUF_INIT;
    const char *p = in, *end = in + len;
    while (p != end) {
        const char *dollar = memchr(p, '$', end - p);
        size_t consumed;
        if (dollar == NULL)
            dollar = end;
        kve_buf_append(&buf, p, dollar - p);
        if ((p = dollar) == end)
            break;
        if (p + 1 != end && p[1] == '$') {
            kve_buf_putc(&buf, '$');
            consumed = 2;
        } else if (p + 1 != end && p[1] == '{') {
            if ((consumed = expand_one(p, end, &buf, err, errlen)) == 0)
                goto Error;
        } else {
            /* a lone "$" (e.g. "price: $5") is kept as is */
            kve_buf_putc(&buf, '$');
            consumed = 1;
        }
        p += consumed;
    }
    kve_buf_reserve(&buf, 1)[0] = '\0';
    *out_len = buf.len;
    return buf.base;
Error:
    *err_offset = p - in;
    kve_buf_dispose(&buf);
    return NULL;
}
