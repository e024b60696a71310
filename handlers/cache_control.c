/* SPDX-License-Identifier: MIT */
/*
 * Cache-Control / Surrogate-Control / Pragma parsing (see cache_control.h for the rules). One element
 * (`name[=token|quoted-string]`) is read at a time; anything else before the next comma that is outside a
 * quoted string makes the element malformed, so "max-age =5" and "max-age= 5" never read as max-age=5 and
 * a comma inside `ext="a, max-age=9"` never starts an element.
 */
#include "handlers/cache_control.h"
#include "handlers/cache_sf.h"
#include "handlers/cache_surrogate.h"
#include "proxy/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* one element of the list */
struct st_element_t {
    const char *name, *value; /* value: token, or the content of the quoted string (escapes left as they are) */
    size_t name_len, value_len;
    int has_value, quoted, escaped, malformed;
};

static int is_tchar(int c)
{
    return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    return p;
}

const char *kve_cc_element_end(const char *p, const char *end, const char **semi)
{
    int in_quotes = 0;
    if (semi != NULL)
        *semi = NULL;
    for (; p != end; ++p) {
        if (in_quotes && *p == '\\' && p + 1 != end)
            ++p;
        else if (*p == '"')
            in_quotes = !in_quotes;
        else if (!in_quotes && *p == ',')
            break;
        else if (!in_quotes && *p == ';' && semi != NULL && *semi == NULL)
            *semi = p;
    }
    return p;
}

/* reads the value after '=': a quoted-string or a token; returns where it ends, or NULL if malformed */
static const char *read_value(const char *p, const char *end, struct st_element_t *e)
{
    e->has_value = 1;
    if (p != end && *p == '"') {
        e->quoted = 1;
        e->value = ++p;
        for (; p != end && *p != '"'; ++p) {
            if (*p == '\\') {
                e->escaped = 1;
                if (++p == end)
                    return NULL;
            }
        }
        if (p == end)
            return NULL;
        e->value_len = (size_t)(p - e->value);
        return p + 1;
    }
    e->value = p;
    while (p != end && is_tchar((unsigned char)*p))
        ++p;
    e->value_len = (size_t)(p - e->value);
    return e->value_len != 0 ? p : NULL;
}

/* reads one element starting at `p` (after separators); returns where the next one may start */
static const char *read_element(const char *p, const char *end, struct st_element_t *e)
{
    const char *q;

    memset(e, 0, sizeof(*e));
    e->name = p;
    while (p != end && is_tchar((unsigned char)*p))
        ++p;
    e->name_len = (size_t)(p - e->name);
    if (e->name_len == 0)
        goto Malformed;
    if (p != end && *p == '=') {
        if ((q = read_value(p + 1, end, e)) == NULL)
            goto Malformed;
        p = q;
    }
    p = skip_ows(p, end);
    if (p != end && *p != ',')
        goto Malformed;
    return p;
Malformed:
    e->malformed = 1;
    e->has_value = 0;
    return kve_cc_element_end(p, end, NULL);
}

static int name_is(const struct st_element_t *e, const char *lc, size_t len)
{
    return h2o_lcstris(e->name, e->name_len, lc, len);
}

/* delta-seconds (RFC 9111 §1.2.2): 1*DIGIT, capped at 2^31; -1 if not one */
static int64_t parse_delta(const struct st_element_t *e)
{
    int64_t v = 0;
    size_t i;

    if (e->malformed || !e->has_value || e->escaped || e->value_len == 0)
        return -1;
    for (i = 0; i != e->value_len; ++i) {
        if (e->value[i] < '0' || e->value[i] > '9')
            return -1;
        v = v * 10 + (e->value[i] - '0');
        if (v > KVE_CC_DELTA_MAX)
            v = KVE_CC_DELTA_MAX; /* stays capped: further digits only make it larger */
    }
    return v;
}

/* whether a quoted value is a field-name list: tokens, commas and OWS only */
static int is_name_list(const char *p, size_t len)
{
    size_t i;
    for (i = 0; i != len; ++i)
        if (!is_tchar((unsigned char)p[i]) && p[i] != ',' && p[i] != ' ' && p[i] != '\t')
            return 0;
    return 1;
}

/* no-cache / private: unqualified (flag) beats qualified (field list); two lists, or a list that is not one, count as
 * unqualified */
static void apply_field_list(kve_cc_t *cc, const struct st_element_t *e, unsigned flag, h2o_iovec_t *fields)
{
    int qualified = e->has_value && e->quoted && !e->escaped && e->value_len != 0 && is_name_list(e->value, e->value_len);

    if ((cc->flags & flag) != 0)
        return;
    if (qualified && fields->base == NULL) {
        *fields = h2o_iovec_init(e->value, e->value_len);
        return;
    }
    cc->flags |= flag;
    *fields = h2o_iovec_init(NULL, 0);
}

/* the directives whose value is delta-seconds; `invalid_is_zero`: an invalid value means "stale" */
static void apply_delta(int64_t *slot, const struct st_element_t *e, int invalid_is_zero)
{
    int64_t v;
    if (*slot != KVE_CC_ABSENT)
        return; /* first occurrence wins */
    if ((v = parse_delta(e)) >= 0)
        *slot = v;
    else if (invalid_is_zero)
        *slot = 0;
}

#define IS(lit) name_is(e, KVE_STRLIT(lit))

static void apply_element(kve_cc_t *cc, const struct st_element_t *e)
{
    static const struct {
        const char *name;
        size_t len;
        unsigned flag;
    } restrictive[] = {{KVE_STRLIT("no-store"), KVE_CC_NO_STORE},
                       {KVE_STRLIT("must-revalidate"), KVE_CC_MUST_REVALIDATE},
                       {KVE_STRLIT("proxy-revalidate"), KVE_CC_PROXY_REVALIDATE},
                       {KVE_STRLIT("must-understand"), KVE_CC_MUST_UNDERSTAND},
                       {KVE_STRLIT("no-transform"), KVE_CC_NO_TRANSFORM},
                       {KVE_STRLIT("only-if-cached"), KVE_CC_ONLY_IF_CACHED}};
    size_t i;

    if (e->name_len == 0)
        return;
    for (i = 0; i != sizeof(restrictive) / sizeof(restrictive[0]); ++i) {
        if (name_is(e, restrictive[i].name, restrictive[i].len)) {
            cc->flags |= restrictive[i].flag;
            return;
        }
    }
    if (IS("max-age")) {
        apply_delta(&cc->max_age, e, 1);
    } else if (IS("s-maxage")) {
        apply_delta(&cc->s_maxage, e, 1);
    } else if (IS("no-cache")) {
        apply_field_list(cc, e, KVE_CC_NO_CACHE, &cc->no_cache_fields);
    } else if (IS("private")) {
        apply_field_list(cc, e, KVE_CC_PRIVATE, &cc->private_fields);
    } else if (IS("public") || IS("immutable")) {
        if (!e->has_value && !e->malformed)
            cc->flags |= IS("public") ? KVE_CC_PUBLIC : KVE_CC_IMMUTABLE;
    } else if (IS("max-stale")) {
        if (!e->has_value && !e->malformed && cc->max_stale == KVE_CC_ABSENT)
            cc->flags |= KVE_CC_MAX_STALE_ANY;
        else if ((cc->flags & KVE_CC_MAX_STALE_ANY) == 0)
            apply_delta(&cc->max_stale, e, 0);
    } else if (IS("min-fresh")) {
        apply_delta(&cc->min_fresh, e, 0);
    } else if (IS("stale-while-revalidate")) {
        apply_delta(&cc->stale_while_revalidate, e, 0);
    } else if (IS("stale-if-error")) {
        apply_delta(&cc->stale_if_error, e, 0);
    }
}

#undef IS

void kve_cc_init(kve_cc_t *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = cc->max_stale = cc->min_fresh = KVE_CC_ABSENT;
    cc->stale_while_revalidate = cc->stale_if_error = KVE_CC_ABSENT;
}

void kve_cc_parse(kve_cc_t *cc, const char *value, size_t len)
{
    const char *p = value, *end = len != 0 ? value + len : value;
    struct st_element_t e;

    for (;;) {
        while (p != end && (*p == ' ' || *p == '\t' || *p == ','))
            ++p;
        if (p == end)
            break;
        p = read_element(p, end, &e);
        apply_element(cc, &e);
    }
}

static int header_is(const h2o_header_t *h, const char *lc, size_t len)
{
    return h2o_lcstris(h->name->base, h->name->len, lc, len);
}

static int has_nonempty(const h2o_header_t *headers, size_t num, const char *lc, size_t len)
{
    size_t i, j;
    for (i = 0; i != num; ++i) {
        if (!header_is(headers + i, lc, len))
            continue;
        for (j = 0; j != headers[i].value.len; ++j)
            if (headers[i].value.base[j] != ' ' && headers[i].value.base[j] != '\t')
                return 1;
    }
    return 0;
}

static void parse_all(kve_cc_t *cc, const h2o_header_t *headers, size_t num, const char *lc, size_t len)
{
    size_t i;
    for (i = 0; i != num; ++i)
        if (header_is(headers + i, lc, len))
            kve_cc_parse(cc, headers[i].value.base, headers[i].value.len);
}

void kve_cc_parse_response(kve_cc_t *cc, const h2o_header_t *headers, size_t num, h2o_iovec_t targeted)
{
    kve_cc_init(cc);
    if (targeted.len != 0 && kve_cc_parse_targeted(cc, headers, num, targeted.base, targeted.len) == 0) {
        cc->source = KVE_CC_SRC_TARGETED;
        return;
    }
    kve_cc_init(cc);
    if (kve_cc_parse_targeted(cc, headers, num, KVE_STRLIT("cdn-cache-control")) == 0) {
        cc->source = KVE_CC_SRC_CDN;
        return;
    }
    kve_cc_init(cc);
    if (kve_cc_parse_surrogate(cc, headers, num) != 0) {
        cc->source = KVE_CC_SRC_SURROGATE;
        return;
    }
    kve_cc_init(cc);
    parse_all(cc, headers, num, KVE_STRLIT("cache-control"));
    cc->source = has_nonempty(headers, num, KVE_STRLIT("cache-control")) ? KVE_CC_SRC_CACHE_CONTROL : KVE_CC_SRC_NONE;
}

void kve_cc_parse_request(kve_cc_t *cc, const h2o_header_t *headers, size_t num)
{
    size_t i;
    kve_cc_t pragma;

    kve_cc_init(cc);
    if (has_nonempty(headers, num, KVE_STRLIT("cache-control"))) {
        parse_all(cc, headers, num, KVE_STRLIT("cache-control"));
        cc->source = KVE_CC_SRC_CACHE_CONTROL;
        return;
    }
    /* Pragma has the same list syntax; only its no-cache means anything */
    kve_cc_init(&pragma);
    for (i = 0; i != num; ++i)
        if (header_is(headers + i, KVE_STRLIT("pragma")))
            kve_cc_parse(&pragma, headers[i].value.base, headers[i].value.len);
    if ((pragma.flags & KVE_CC_NO_CACHE) != 0 || pragma.no_cache_fields.base != NULL)
        cc->flags |= KVE_CC_NO_CACHE;
}

int kve_cc_field_listed(h2o_iovec_t list, const char *name, size_t len)
{
    const char *p = list.base, *end = list.len != 0 ? list.base + list.len : list.base, *start;

    while (p != end) {
        while (p != end && (*p == ' ' || *p == '\t' || *p == ','))
            ++p;
        start = p;
        while (p != end && *p != ',' && *p != ' ' && *p != '\t')
            ++p;
        if (p != start && (size_t)(p - start) == len && strncasecmp(start, name, len) == 0)
            return 1;
    }
    return 0;
}

/* appends to buf like snprintf, tracking the length needed */
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    va_list args;
    int n;
    va_start(args, fmt);
    n = vsnprintf(*off < cap ? buf + *off : NULL, *off < cap ? cap - *off : 0, fmt, args);
    va_end(args);
    if (n > 0)
        *off += (size_t)n;
}

size_t kve_cc_serialize(const kve_cc_t *cc, char *buf, size_t cap)
{
    static const struct {
        unsigned flag;
        const char *name;
    } flags[] = {{KVE_CC_NO_STORE, "no-store"},
                 {KVE_CC_NO_CACHE, "no-cache"},
                 {KVE_CC_PRIVATE, "private"},
                 {KVE_CC_PUBLIC, "public"},
                 {KVE_CC_MUST_REVALIDATE, "must-revalidate"},
                 {KVE_CC_PROXY_REVALIDATE, "proxy-revalidate"},
                 {KVE_CC_MUST_UNDERSTAND, "must-understand"},
                 {KVE_CC_NO_TRANSFORM, "no-transform"},
                 {KVE_CC_ONLY_IF_CACHED, "only-if-cached"},
                 {KVE_CC_IMMUTABLE, "immutable"},
                 {KVE_CC_MAX_STALE_ANY, "max-stale"}};
    const struct {
        int64_t v;
        const char *name;
    } deltas[] = {{cc->max_age, "max-age"},
                  {cc->s_maxage, "s-maxage"},
                  {cc->max_stale, "max-stale"},
                  {cc->min_fresh, "min-fresh"},
                  {cc->stale_while_revalidate, "stale-while-revalidate"},
                  {cc->stale_if_error, "stale-if-error"}};
    size_t i, off = 0;

    if (cap != 0)
        buf[0] = '\0';
    for (i = 0; i != sizeof(flags) / sizeof(flags[0]); ++i)
        if ((cc->flags & flags[i].flag) != 0)
            put(buf, cap, &off, "%s%s", off != 0 ? ", " : "", flags[i].name);
    for (i = 0; i != sizeof(deltas) / sizeof(deltas[0]); ++i)
        if (deltas[i].v != KVE_CC_ABSENT)
            put(buf, cap, &off, "%s%s=%lld", off != 0 ? ", " : "", deltas[i].name, (long long)deltas[i].v);
    if (cc->no_cache_fields.base != NULL)
        put(buf, cap, &off, "%sno-cache=\"%.*s\"", off != 0 ? ", " : "", (int)cc->no_cache_fields.len, cc->no_cache_fields.base);
    if (cc->private_fields.base != NULL)
        put(buf, cap, &off, "%sprivate=\"%.*s\"", off != 0 ? ", " : "", (int)cc->private_fields.len, cc->private_fields.base);
    return off;
}
