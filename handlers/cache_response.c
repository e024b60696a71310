/* SPDX-License-Identifier: MIT */
/* Reads the cache-relevant facts of a response (see cache_response.h). */
#include "handlers/cache_response.h"
#include "handlers/cache_date.h"
#include "handlers/cache_vary.h"
#include "proxy/common.h"

#include <string.h>

static const h2o_header_t *first(const h2o_header_t *headers, size_t num, const char *lc, size_t len)
{
    size_t i;
    for (i = 0; i != num; ++i)
        if (h2o_lcstris(headers[i].name->base, headers[i].name->len, lc, len))
            return headers + i;
    return NULL;
}

static int64_t date_of(const h2o_header_t *h, int64_t now)
{
    int64_t t;
    if (h == NULL || kve_http_date_parse(h->value.base, h->value.len, now, &t) != 0)
        return KVE_CACHE_TIME_NONE;
    return t;
}

/* Age: the first member of the first line, if it is 1*DIGIT (§5.1); -1 otherwise */
static int64_t age_of(const h2o_header_t *h)
{
    const char *p, *end;
    int64_t v = 0;

    if (h == NULL || h->value.len == 0)
        return -1;
    p = h->value.base, end = p + h->value.len;
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    if (p == end || *p < '0' || *p > '9')
        return -1;
    for (; p != end && *p >= '0' && *p <= '9'; ++p)
        v = KVE_MIN(v * 10 + (*p - '0'), KVE_CC_DELTA_MAX);
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    return p == end || *p == ',' ? v : -1;
}

void kve_cache_resp_parse(kve_cache_resp_t *r, int status, const h2o_header_t *headers, size_t num, h2o_iovec_t targeted,
                          int64_t now)
{
    const h2o_header_t *h;
    int64_t age;

    memset(r, 0, sizeof(*r));
    r->status = status;
    kve_cc_parse_response(&r->cc, headers, num, targeted);
    if (r->cc.source == KVE_CC_SRC_CACHE_CONTROL) {
        r->cc_plain = r->cc.flags;
    } else if (r->cc.source != KVE_CC_SRC_NONE) {
        kve_cc_t plain;
        size_t i;
        kve_cc_init(&plain);
        for (i = 0; i != num; ++i)
            if (h2o_lcstris(headers[i].name->base, headers[i].name->len, KVE_STRLIT("cache-control")))
                kve_cc_parse(&plain, headers[i].value.base, headers[i].value.len);
        r->cc_plain = plain.flags | (plain.private_fields.base != NULL ? KVE_CC_PRIVATE : 0);
    }
    r->date = date_of(first(headers, num, KVE_STRLIT("date")), now);
    r->last_modified = date_of(first(headers, num, KVE_STRLIT("last-modified")), now);
    if ((h = first(headers, num, KVE_STRLIT("expires"))) != NULL &&
        (r->cc.source == KVE_CC_SRC_CACHE_CONTROL || r->cc.source == KVE_CC_SRC_NONE)) {
        r->flags |= KVE_CACHE_RESP_EXPIRES;
        if ((r->expires = date_of(h, now)) == KVE_CACHE_TIME_NONE)
            r->expires = 0; /* invalid: already expired (§5.3) */
    }
    if ((h = first(headers, num, KVE_STRLIT("age"))) != NULL) {
        /* Age is a singleton (§5.1): a second line, or a first member that is not 1*DIGIT, is an age we cannot read;
         * such a response is taken as already stale (the safe side: it is revalidated, never served too fresh),
         * as the cache-tests suite expects (age-parse-*), where §5.1 would ignore the field */
        if ((age = age_of(h)) < 0 || first(h + 1, num - (size_t)(h - headers) - 1, KVE_STRLIT("age")) != NULL)
            age = KVE_CC_DELTA_MAX;
        r->flags |= KVE_CACHE_RESP_AGE, r->age = age;
    }
    if ((h = first(headers, num, KVE_STRLIT("etag"))) != NULL && h->value.len != 0)
        r->etag = h->value;
    if (first(headers, num, KVE_STRLIT("set-cookie")) != NULL || first(headers, num, KVE_STRLIT("set-cookie2")) != NULL)
        r->flags |= KVE_CACHE_RESP_SET_COOKIE;
    if (kve_vary_has_star(headers, num))
        r->flags |= KVE_CACHE_RESP_VARY_STAR;
}

int kve_cache_resp_has_validator(const kve_cache_resp_t *r)
{
    return r->etag.base != NULL || r->last_modified != KVE_CACHE_TIME_NONE;
}
