/* SPDX-License-Identifier: MIT */
/*
 * A strict RFC 8941 Dictionary parser (§4.2.2), reduced to what cache directives need: each member's key
 * and, for bare items, the type and an Integer's value. Inner lists and parameters are checked for syntax
 * and then ignored. The parser never reads past `end` and keeps no state outside its arguments.
 */
#include "handlers/cache_sf.h"
#include "proxy/common.h"

#include <string.h>

enum { SF_INTEGER, SF_DECIMAL, SF_STRING, SF_TOKEN, SF_BYTES, SF_BOOLEAN, SF_INNER_LIST };

struct st_item_t {
    int type;
    int64_t integer; /* SF_INTEGER; SF_BOOLEAN: 0 or 1 */
};

static int is_lcalpha(int c)
{
    return c >= 'a' && c <= 'z';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
    return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

static int is_tchar(int c)
{
    return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static int is_base64(int c)
{
    return is_alpha(c) || is_digit(c) || c == '+' || c == '/' || c == '=';
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static const char *parse_key(const char *p, const char *end)
{
    if (p == end || !(is_lcalpha(*p) || *p == '*'))
        return NULL;
    for (++p; p != end && (is_lcalpha(*p) || is_digit(*p) || *p == '_' || *p == '-' || *p == '.' || *p == '*'); ++p)
        ;
    return p;
}

static const char *parse_number(const char *p, const char *end, struct st_item_t *item)
{
    int neg = 0, digits = 0, frac = -1;
    int64_t v = 0;

    if (*p == '-')
        neg = 1, ++p;
    if (p == end || !is_digit(*p))
        return NULL;
    for (; p != end; ++p) {
        if (is_digit(*p)) {
            if (frac >= 0 ? ++frac > 3 : ++digits > 15)
                return NULL;
            if (frac < 0)
                v = v * 10 + (*p - '0');
        } else if (*p == '.' && frac < 0 && digits <= 12) {
            frac = 0;
        } else {
            break;
        }
    }
    if (frac == 0)
        return NULL; /* "1." (and a '.' after more than 12 digits ends the number, then fails the caller) */
    item->type = frac < 0 ? SF_INTEGER : SF_DECIMAL;
    item->integer = neg ? -v : v;
    return p;
}

static const char *parse_bare_item(const char *p, const char *end, struct st_item_t *item)
{
    if (p == end)
        return NULL;
    if (*p == '-' || is_digit(*p))
        return parse_number(p, end, item);
    if (*p == '"') {
        for (++p; p != end && *p != '"'; ++p) {
            if (*p == '\\') {
                if (++p == end || (*p != '"' && *p != '\\'))
                    return NULL;
            } else if (*p < 0x20 || *p > 0x7e) {
                return NULL;
            }
        }
        item->type = SF_STRING;
        return p != end ? p + 1 : NULL;
    }
    if (is_alpha(*p) || *p == '*') {
        for (++p; p != end && (is_tchar(*p) || *p == ':' || *p == '/'); ++p)
            ;
        item->type = SF_TOKEN;
        return p;
    }
    if (*p == ':') {
        for (++p; p != end && is_base64(*p); ++p)
            ;
        item->type = SF_BYTES;
        return p != end && *p == ':' ? p + 1 : NULL;
    }
    if (*p == '?') {
        if (end - p < 2 || (p[1] != '0' && p[1] != '1'))
            return NULL;
        item->type = SF_BOOLEAN;
        item->integer = p[1] == '1';
        return p + 2;
    }
    return NULL;
}

/* *( ";" *SP key [ "=" bare-item ] ) */
static const char *parse_parameters(const char *p, const char *end)
{
    struct st_item_t ignored;
    while (p != NULL && p != end && *p == ';') {
        for (++p; p != end && *p == ' '; ++p)
            ;
        if ((p = parse_key(p, end)) != NULL && p != end && *p == '=')
            p = parse_bare_item(p + 1, end, &ignored);
    }
    return p;
}

static const char *parse_inner_list(const char *p, const char *end)
{
    struct st_item_t ignored;
    for (++p;;) {
        while (p != end && *p == ' ')
            ++p;
        if (p == end)
            return NULL;
        if (*p == ')')
            return p + 1;
        if ((p = parse_parameters(parse_bare_item(p, end, &ignored), end)) == NULL)
            return NULL;
        if (p == end || (*p != ' ' && *p != ')'))
            return NULL;
    }
}

static void set_flag(kve_cc_t *cc, unsigned flag, const struct st_item_t *item, int restrictive)
{
    if (item->type == SF_BOOLEAN ? item->integer != 0 : restrictive)
        cc->flags |= flag;
    else
        cc->flags &= ~flag;
}

static void set_delta(int64_t *slot, const struct st_item_t *item)
{
    *slot = item->type == SF_INTEGER && item->integer >= 0 ? KVE_MIN(item->integer, KVE_CC_DELTA_MAX) : KVE_CC_ABSENT;
}

static void apply_member(kve_cc_t *cc, const char *key, size_t len, const struct st_item_t *item)
{
    static const struct {
        const char *name;
        unsigned flag;
        int restrictive;
    } flags[] = {{"no-store", KVE_CC_NO_STORE, 1},
                 {"no-cache", KVE_CC_NO_CACHE, 1},
                 {"private", KVE_CC_PRIVATE, 1},
                 {"public", KVE_CC_PUBLIC, 0},
                 {"must-revalidate", KVE_CC_MUST_REVALIDATE, 1},
                 {"proxy-revalidate", KVE_CC_PROXY_REVALIDATE, 1},
                 {"must-understand", KVE_CC_MUST_UNDERSTAND, 1},
                 {"no-transform", KVE_CC_NO_TRANSFORM, 1},
                 {"immutable", KVE_CC_IMMUTABLE, 0}};
    const struct {
        const char *name;
        int64_t *slot;
    } deltas[] = {{"max-age", &cc->max_age},
                  {"s-maxage", &cc->s_maxage},
                  {"stale-while-revalidate", &cc->stale_while_revalidate},
                  {"stale-if-error", &cc->stale_if_error}};
    size_t i;

    for (i = 0; i != KVE_ARRAY_SIZE(flags); ++i)
        if (strlen(flags[i].name) == len && memcmp(flags[i].name, key, len) == 0)
            set_flag(cc, flags[i].flag, item, flags[i].restrictive);
    for (i = 0; i != KVE_ARRAY_SIZE(deltas); ++i)
        if (strlen(deltas[i].name) == len && memcmp(deltas[i].name, key, len) == 0)
            set_delta(deltas[i].slot, item);
}

int kve_cc_parse_sf_line(kve_cc_t *cc, const char *value, size_t len)
{
    const char *p = value, *end = len != 0 ? value + len : value, *key, *q;
    struct st_item_t item;

    while (p != end && *p == ' ')
        ++p;
    if (p == end)
        return -1; /* empty: ignored (RFC 9213 §2.1) */
    for (;;) {
        key = p;
        if ((p = parse_key(p, end)) == NULL)
            return -1;
        q = p;
        item = (struct st_item_t){SF_BOOLEAN, 1};
        if (p != end && *p == '=') {
            ++p;
            if (p != end && *p == '(') {
                item.type = SF_INNER_LIST;
                p = parse_inner_list(p, end);
            } else {
                p = parse_bare_item(p, end, &item);
            }
        }
        if ((p = parse_parameters(p, end)) == NULL)
            return -1;
        apply_member(cc, key, (size_t)(q - key), &item);
        while (p != end && (*p == ' ' || *p == '\t'))
            ++p;
        if (p == end)
            return 0;
        if (*p++ != ',')
            return -1;
        while (p != end && (*p == ' ' || *p == '\t'))
            ++p;
        if (p == end)
            return -1; /* trailing comma */
    }
}

int kve_cc_parse_targeted(kve_cc_t *cc, const h2o_header_t *headers, size_t num, const char *lc_name, size_t len)
{
    size_t i;
    int seen = 0;

    for (i = 0; i != num; ++i) {
        if (!h2o_lcstris(headers[i].name->base, headers[i].name->len, lc_name, len))
            continue;
        if (kve_cc_parse_sf_line(cc, headers[i].value.base, headers[i].value.len) != 0)
            return -1;
        seen = 1;
    }
    return seen ? 0 : -1;
}
