/* SPDX-License-Identifier: MIT */
/* Conditional requests against a stored response (see cache_conditional.h). */
#include "handlers/cache_conditional.h"
#include "handlers/cache_date.h"
#include "handlers/cache_response.h"
#include "proxy/common.h"

#include <string.h>

/* the opaque-tag of an entity-tag (without "W/"), or {NULL, 0} if it is not one */
static h2o_iovec_t opaque_tag(h2o_iovec_t t)
{
    if (t.len >= 2 && t.base[0] == 'W' && t.base[1] == '/')
        t.base += 2, t.len -= 2;
    if (t.len < 2 || t.base[0] != '"' || t.base[t.len - 1] != '"' || memchr(t.base + 1, '"', t.len - 2) != NULL)
        return h2o_iovec_init(NULL, 0);
    return t;
}

int kve_cache_etag_weak_match(h2o_iovec_t a, h2o_iovec_t b)
{
    a = opaque_tag(a), b = opaque_tag(b);
    return a.base != NULL && b.base != NULL && a.len == b.len && memcmp(a.base, b.base, a.len) == 0;
}

/* whether one If-None-Match line lists a tag matching `etag` ("*" matches any) */
static int line_matches(h2o_iovec_t line, h2o_iovec_t etag)
{
    const char *p = line.base, *end = line.len != 0 ? line.base + line.len : line.base, *start;

    while (p != end) {
        while (p != end && (*p == ' ' || *p == '\t' || *p == ','))
            ++p;
        start = p;
        /* an entity-tag: [W/] DQUOTE *etagc DQUOTE; etagc excludes '"', so the tag ends at the second quote */
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if (p != end && *p == '"') {
            const char *close = end - p > 1 ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
            p = close != NULL ? close + 1 : end;
        } else {
            while (p != end && *p != ',' && *p != ' ' && *p != '\t')
                ++p;
        }
        if (p - start == 1 && *start == '*')
            return 1;
        if (p != start && kve_cache_etag_weak_match(h2o_iovec_init(start, (size_t)(p - start)), etag))
            return 1;
    }
    return 0;
}

int kve_cache_not_modified(const h2o_header_t *headers, size_t num, h2o_iovec_t etag, int64_t last_modified, int64_t date,
                           int64_t now)
{
    const h2o_header_t *ims = NULL;
    int64_t since, ref = last_modified != KVE_CACHE_TIME_NONE ? last_modified : date;
    size_t i;
    int has_inm = 0;

    for (i = 0; i != num; ++i) {
        if (h2o_lcstris(headers[i].name->base, headers[i].name->len, H2O_STRLIT("if-none-match"))) {
            has_inm = 1;
            if (line_matches(headers[i].value, etag))
                return 1;
        } else if (ims == NULL && h2o_lcstris(headers[i].name->base, headers[i].name->len, H2O_STRLIT("if-modified-since"))) {
            ims = headers + i;
        }
    }
    if (has_inm || ims == NULL || ref == KVE_CACHE_TIME_NONE)
        return 0;
    if (kve_http_date_parse(ims->value.base, ims->value.len, now, &since) != 0)
        return 0;
    return ref <= since;
}
