/* SPDX-License-Identifier: MIT */
/* `cache.bypass` rules (see cache_bypass.h). */
#include "handlers/cache_bypass.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>

/* whether the Cookie value `v` (`a=1; b=2`) has a cookie named `name` */
static int cookie_in(h2o_iovec_t v, const char *name, size_t len)
{
    const char *p = v.base, *end = v.base + v.len, *start;
    while (p < end) {
        while (p != end && (*p == ' ' || *p == '\t' || *p == ';'))
            ++p;
        start = p;
        while (p != end && *p != '=' && *p != ';')
            ++p;
        if ((size_t)(p - start) == len && memcmp(start, name, len) == 0)
            return 1;
        while (p != end && *p != ';')
            ++p;
    }
    return 0;
}

int kve_cache_has_cookie(const h2o_header_t *headers, size_t num, const char *name, size_t len)
{
    for (size_t i = 0; i != num; ++i)
        if (h2o_lcstris(headers[i].name->base, headers[i].name->len, H2O_STRLIT("cookie")) &&
            cookie_in(headers[i].value, name, len))
            return 1;
    return 0;
}

static int has_field(const h2o_header_t *headers, size_t num, const char *lc)
{
    size_t len = strlen(lc);
    for (size_t i = 0; i != num; ++i)
        if (h2o_lcstris(headers[i].name->base, headers[i].name->len, lc, len))
            return 1;
    return 0;
}

const kve_cache_bypass_t *kve_cache_bypass_match(const kve_cache_bypass_t *rules, size_t n, const h2o_header_t *headers, size_t num)
{
    for (size_t i = 0; i != n; ++i) {
        if (rules[i].header != NULL && has_field(headers, num, rules[i].header))
            return rules + i;
        if (rules[i].cookie != NULL && kve_cache_has_cookie(headers, num, rules[i].cookie, strlen(rules[i].cookie)))
            return rules + i;
    }
    return NULL;
}

/* RFC 8941 sf-token characters after the first: tchar, ':' and '/' */
static int token_chars(const char *s)
{
    return s[0] != '\0' &&
           strspn(s, "!#$%&'*+-.^_`|~:/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(s);
}

void kve_cache_bypass_detail(const kve_cache_bypass_t *rule, char *buf, size_t cap)
{
    const char *kind = rule->header != NULL ? "header" : "cookie", *name = rule->header != NULL ? rule->header : rule->cookie;
    if (token_chars(name) && strlen(name) + 8 < cap)
        snprintf(buf, cap, "%s:%s", kind, name);
    else
        snprintf(buf, cap, "%s", kind);
}
