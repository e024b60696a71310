/* SPDX-License-Identifier: MIT */
/* The purge request's query string (see cache_purge.h): pure, values percent-decoded into the caller's pool. */
#include "handlers/cache_purge.h"
#include "handlers/cache_tags.h"

#include <string.h>

/* percent-decodes [p, end) into the pool; -1 on a bad escape ('+' stays '+': a URL's query may hold one) */
static int decode(h2o_mem_pool_t *pool, const char *p, const char *end, h2o_iovec_t *out)
{
    char *d = h2o_mem_alloc_pool(pool, (size_t)(end - p) + 1);
    size_t n = 0;

    while (p != end) {
        if (*p == '%') {
            unsigned char c;
            if (end - p < 3 || h2o_hex_decode(&c, p + 1, 2) != 0)
                return -1;
            d[n++] = (char)c;
            p += 3;
        } else {
            d[n++] = *p++;
        }
    }
    d[n] = '\0';
    *out = h2o_iovec_init(d, n);
    return 0;
}

static int is_true(h2o_iovec_t v, int *out)
{
    if (v.len == 0 || h2o_memis(v.base, v.len, H2O_STRLIT("1")) || h2o_memis(v.base, v.len, H2O_STRLIT("true")))
        return *out = 1, 0;
    if (h2o_memis(v.base, v.len, H2O_STRLIT("0")) || h2o_memis(v.base, v.len, H2O_STRLIT("false")))
        return *out = 0, 0;
    return -1;
}

/* sets the kind, refusing a second one */
static const char *set_kind(kve_cache_purge_query_t *q, kve_cache_purge_kind_t kind)
{
    if (q->kind != KVE_CACHE_PURGE_NONE && q->kind != kind)
        return "give one of url, tag or route";
    q->kind = kind;
    return NULL;
}

/* one name=value pair */
static const char *param(h2o_mem_pool_t *pool, h2o_iovec_t name, h2o_iovec_t value, kve_cache_purge_query_t *q, int *status)
{
    const char *err;
    h2o_iovec_t v;

    if (decode(pool, value.base, value.base + value.len, &v) != 0)
        return "a parameter has a bad %-escape";
    if (h2o_memis(name.base, name.len, H2O_STRLIT("url"))) {
        if ((err = set_kind(q, KVE_CACHE_PURGE_URL)) != NULL || q->url.base != NULL)
            return err != NULL ? err : "url: given twice";
        if (v.len > KVE_CACHE_PURGE_MAX_URL)
            return *status = 414, "url: too long";
        if (v.len == 0)
            return "url: empty";
        q->url = v;
    } else if (h2o_memis(name.base, name.len, H2O_STRLIT("tag"))) {
        if ((err = set_kind(q, KVE_CACHE_PURGE_TAG)) != NULL)
            return err;
        if (v.len == 0 || v.len > KVE_CACHE_TAG_MAX_LEN)
            return "tag: empty or longer than 256 bytes";
        if (q->num_tags == KVE_CACHE_PURGE_MAX_TAGS)
            return "tag: more than 32 tags";
        q->tags[q->num_tags++] = v;
    } else if (h2o_memis(name.base, name.len, H2O_STRLIT("route"))) {
        if ((err = set_kind(q, KVE_CACHE_PURGE_ROUTE)) != NULL || q->route.base != NULL)
            return err != NULL ? err : "route: given twice";
        if (v.len == 0 || v.len > 1024)
            return "route: empty or longer than 1024 bytes";
        q->route = v;
    } else if (h2o_memis(name.base, name.len, H2O_STRLIT("soft"))) {
        if (is_true(v, &q->soft) != 0)
            return "soft: expected 1, true, 0 or false";
    } else {
        return "unknown parameter (expected url, tag, route or soft)";
    }
    return NULL;
}

const char *kve_cache_purge_parse(h2o_mem_pool_t *pool, h2o_iovec_t query, kve_cache_purge_query_t *q, int *status)
{
    const char *p = query.base, *end, *err;

    memset(q, 0, sizeof(*q));
    if (query.len == 0)
        p = "";
    end = p + query.len;
    *status = 400;
    if (query.len > KVE_CACHE_PURGE_MAX_QUERY)
        return *status = 414, "the query is too long";
    while (p != end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        h2o_iovec_t name = h2o_iovec_init(p, (size_t)((eq != NULL ? eq : pair_end) - p));
        h2o_iovec_t value = eq != NULL ? h2o_iovec_init(eq + 1, (size_t)(pair_end - eq - 1)) : h2o_iovec_init("", 0);
        if (name.len != 0 && (err = param(pool, name, value, q, status)) != NULL)
            return err;
        p = amp != NULL ? amp + 1 : end;
    }
    if (q->kind == KVE_CACHE_PURGE_NONE)
        return "one of url, tag or route is required";
    return NULL;
}
