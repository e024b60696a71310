/* SPDX-License-Identifier: MIT */
/*
 * Vary lists, field value normalisation and secondary keys (see cache_vary.h). List members are walked with
 * one splitter that honours quoted strings, so a comma inside "a, b" never splits a member.
 */
#include "handlers/cache_vary.h"
#include "handlers/cache_enc.h"
#include "proxy/common.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* a walk over the members of one list-valued field line */
struct st_list_t {
    const char *p, *end;
    int done;
};

static struct st_list_t list_of(const char *value, size_t len)
{
    return (struct st_list_t){value, len != 0 ? value + len : value, 0}; /* NULL + 0 is undefined */
}

/* the next member (OWS trimmed; may be empty); 0 after the last one */
static int next_member(struct st_list_t *it, const char **m, size_t *mlen)
{
    const char *s = it->p, *e;
    int in_quotes = 0;

    if (it->done)
        return 0;
    for (e = s; e != it->end && (in_quotes || *e != ','); ++e) {
        if (in_quotes && *e == '\\' && e + 1 != it->end)
            ++e;
        else if (*e == '"')
            in_quotes = !in_quotes;
    }
    if (e == it->end)
        it->done = 1;
    else
        it->p = e + 1;
    while (s != e && (*s == ' ' || *s == '\t'))
        ++s;
    while (e != s && (e[-1] == ' ' || e[-1] == '\t'))
        --e;
    *m = s, *mlen = (size_t)(e - s);
    return 1;
}

static int is_tchar(int c)
{
    return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static int is_header(const h2o_header_t *h, const char *lc, size_t len)
{
    return h2o_lcstris(h->name->base, h->name->len, lc, len);
}

int kve_vary_has_star(const h2o_header_t *headers, size_t num)
{
    struct st_list_t it;
    const char *m;
    size_t i, mlen;

    for (i = 0; i != num; ++i) {
        if (!is_header(headers + i, KVE_STRLIT("vary")))
            continue;
        for (it = list_of(headers[i].value.base, headers[i].value.len); next_member(&it, &m, &mlen);)
            if (mlen == 1 && *m == '*')
                return 1;
    }
    return 0;
}

struct st_name_t {
    const char *p;
    size_t len;
};

static int cmp_name(const void *a, const void *b)
{
    const struct st_name_t *x = a, *y = b;
    int r = strncasecmp(x->p, y->p, KVE_MIN(x->len, y->len));
    return r != 0 ? r : (x->len > y->len) - (x->len < y->len);
}

/* collects the member names of every Vary line into names[]; -1 on "*", too many, or a non-token */
static int collect_names(const h2o_header_t *headers, size_t num, struct st_name_t *names, size_t *n)
{
    struct st_list_t it;
    const char *m;
    size_t i, j, mlen;

    for (i = 0; i != num; ++i) {
        if (!is_header(headers + i, KVE_STRLIT("vary")))
            continue;
        for (it = list_of(headers[i].value.base, headers[i].value.len); next_member(&it, &m, &mlen);) {
            if (mlen == 0)
                continue;
            for (j = 0; j != mlen; ++j)
                if (!is_tchar((unsigned char)m[j]) || m[j] == '*')
                    return -1; /* "*" (alone or not) and anything that is not a field name */
            if (*n == KVE_VARY_MAX_FIELDS)
                return -1;
            names[(*n)++] = (struct st_name_t){m, mlen};
        }
    }
    return 0;
}

int kve_vary_normalize(const h2o_header_t *headers, size_t num, kve_buf_t *out)
{
    struct st_name_t names[KVE_VARY_MAX_FIELDS];
    size_t n = 0, i, j, emitted = 0;

    if (collect_names(headers, num, names, &n) != 0)
        return -1;
    qsort(names, n, sizeof(names[0]), cmp_name);
    for (i = 0; i != n; ++i) {
        if (i != 0 && cmp_name(names + i - 1, names + i) == 0)
            continue;
        if (emitted++ != 0)
            kve_buf_putc(out, ',');
        for (j = 0; j != names[i].len; ++j)
            kve_buf_putc(out, (char)h2o_tolower(names[i].p[j]));
    }
    return 0;
}

/* whether every quoted string of a line ends within it (else splitting the joined lines would differ), and no LF */
static int quotes_balanced(const char *p, size_t len)
{
    size_t i;
    int in_quotes = 0;
    if (len != 0 && memchr(p, '\n', len) != NULL)
        return 0; /* only ever made by raw_value() (h2o keeps LF out of values): stays raw */
    for (i = 0; i != len; ++i) {
        if (in_quotes && p[i] == '\\' && i + 1 != len)
            ++i;
        else if (p[i] == '"')
            in_quotes = !in_quotes;
    }
    return !in_quotes;
}

/* a field with an unbalanced quote is not normalised: its lines joined with LF, which no field value holds */
static int raw_value(const char *name, size_t len, const h2o_header_t *headers, size_t num, kve_buf_t *out)
{
    size_t i, lines = 0;
    for (i = 0; i != num; ++i) {
        if (!is_header(headers + i, name, len))
            continue;
        if (lines++ != 0)
            kve_buf_putc(out, '\n');
        if (headers[i].value.len != 0)
            kve_buf_append(out, headers[i].value.base, headers[i].value.len);
    }
    return lines != 0;
}

int kve_vary_field_value(const char *name, size_t len, const h2o_header_t *headers, size_t num, kve_buf_t *out)
{
    struct st_list_t it;
    const char *m;
    size_t i, mlen, emitted = 0;
    int present = 0;

    if (h2o_lcstris(name, len, KVE_STRLIT("accept-encoding")))
        return kve_vary_accept_encoding(headers, num, out);
    for (i = 0; i != num; ++i)
        if (is_header(headers + i, name, len) && !quotes_balanced(headers[i].value.base, headers[i].value.len))
            return raw_value(name, len, headers, num, out);
    for (i = 0; i != num; ++i) {
        if (!is_header(headers + i, name, len))
            continue;
        present = 1;
        for (it = list_of(headers[i].value.base, headers[i].value.len); next_member(&it, &m, &mlen);) {
            if (mlen == 0)
                continue;
            if (emitted++ != 0)
                kve_buf_putc(out, ',');
            kve_buf_append(out, m, mlen);
        }
    }
    return present;
}

void kve_vary_secondary_key(h2o_iovec_t vary, const h2o_header_t *headers, size_t num, kve_buf_t *out)
{
    struct st_list_t it = list_of(vary.base, vary.len);
    kve_buf_t value = KVE_BUF_INIT;
    const char *m;
    size_t mlen;
    char present;

    if (vary.len == 0)
        return;
    while (next_member(&it, &m, &mlen)) {
        value.len = 0;
        present = (char)kve_vary_field_value(m, mlen, headers, num, &value);
        kve_cache_enc_field(out, 'n', m, mlen);
        kve_cache_enc_field(out, 'p', &present, 1);
        kve_cache_enc_field(out, 'v', value.base, value.len);
    }
    kve_buf_dispose(&value);
}

/* Accept-Encoding: the codings the cache knows, in the order they are emitted */
static const char *const codings[] = {"br", "deflate", "gzip", "zstd"};
#define NUM_CODINGS (sizeof(codings) / sizeof(codings[0]))

/* qvalue (RFC 9110 §12.4.2) of a member's parameters "; q=0.5"; 1000 without one; -1 if malformed */
static int qvalue_of(const char *p, const char *end)
{
    int q, i;
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    if (p == end)
        return 1000;
    if (*p++ != ';')
        return -1;
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    if (end - p < 3 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' || (p[2] != '0' && p[2] != '1'))
        return -1;
    q = (p[2] - '0') * 1000, p += 3;
    if (p != end && *p == '.') {
        for (++p, i = 100; p != end && *p >= '0' && *p <= '9' && i != 0; ++p, i /= 10)
            q += (*p - '0') * i;
    }
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    return p == end && q <= 1000 ? q : -1;
}

/* which known coding `name` is (x-gzip is gzip), NUM_CODINGS for "*", -1 for others */
static int coding_of(const char *name, size_t len)
{
    size_t i;
    if (len == 1 && *name == '*')
        return (int)NUM_CODINGS;
    if (h2o_lcstris(name, len, KVE_STRLIT("x-gzip")))
        return 2;
    for (i = 0; i != NUM_CODINGS; ++i)
        if (h2o_lcstris(name, len, codings[i], strlen(codings[i])))
            return (int)i;
    return -1;
}

int kve_vary_accept_encoding(const h2o_header_t *headers, size_t num, kve_buf_t *out)
{
    int q[NUM_CODINGS + 1], c, v, present = 0;
    size_t i, mlen, nlen, emitted = 0;
    struct st_list_t it;
    const char *m;

    for (i = 0; i != NUM_CODINGS + 1; ++i)
        q[i] = -1; /* not mentioned */
    for (i = 0; i != num; ++i) {
        if (!is_header(headers + i, KVE_STRLIT("accept-encoding")))
            continue;
        present = 1;
        for (it = list_of(headers[i].value.base, headers[i].value.len); next_member(&it, &m, &mlen);) {
            for (nlen = 0; nlen != mlen && m[nlen] != ';' && m[nlen] != ' ' && m[nlen] != '\t'; ++nlen)
                ;
            if (nlen == 0 || (c = coding_of(m, nlen)) < 0 || (v = qvalue_of(m + nlen, m + mlen)) < 0)
                continue; /* unknown codings, identity and malformed members are left out */
            if (q[c] < 0)
                q[c] = v; /* the first mention counts */
        }
    }
    for (i = 0; i != NUM_CODINGS; ++i) {
        if ((q[i] >= 0 ? q[i] : q[NUM_CODINGS]) <= 0)
            continue;
        if (emitted++ != 0)
            kve_buf_putc(out, ',');
        kve_buf_append(out, codings[i], strlen(codings[i]));
    }
    return present;
}
