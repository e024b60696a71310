/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the cache unit tests (tests/unit/test_cache_*.c): header lists written as NULL-terminated
 * name/value pairs. A value "@N" (N a signed integer) becomes the IMF-fixdate of CACHE_T0 + N, as the
 * cache-tests suite writes `['Date', 0]` or `['Expires', -10000]` for "now" and offsets from it.
 */
#ifndef KVE_TESTS_UNIT_CACHE_TEST_H
#define KVE_TESTS_UNIT_CACHE_TEST_H

#include <stdlib.h>
#include <string.h>
#include "h2o.h"
#include "handlers/cache_date.h"

/** "Now" of the cache tests: 2023-11-14 22:13:20 UTC. */
#define CACHE_T0 ((int64_t)1700000000)
#define CACHE_MAX_HEADERS 24

typedef struct st_cache_hdrs_t {
    h2o_header_t h[CACHE_MAX_HEADERS];
    h2o_iovec_t names[CACHE_MAX_HEADERS];
    char dates[CACHE_MAX_HEADERS][KVE_HTTP_DATE_LEN + 1];
    size_t n;
} cache_hdrs_t;

/** Fills `t` from `pairs` (name, value, name, value, ..., NULL); names keep their case. */
static inline cache_hdrs_t *cache_hdrs(cache_hdrs_t *t, const char *const *pairs)
{
    memset(t, 0, sizeof(*t));
    for (; pairs != NULL && pairs[0] != NULL && t->n != CACHE_MAX_HEADERS; pairs += 2, ++t->n) {
        const char *v = pairs[1];
        if (v[0] == '@') {
            kve_http_date_format(CACHE_T0 + strtoll(v + 1, NULL, 10), t->dates[t->n]);
            v = t->dates[t->n];
        }
        t->names[t->n] = h2o_iovec_init(pairs[0], strlen(pairs[0]));
        t->h[t->n].name = &t->names[t->n];
        t->h[t->n].orig_name = pairs[0];
        t->h[t->n].value = h2o_iovec_init(v, strlen(v));
    }
    return t;
}

/** A header list in a statement: `HDRS(t, "Vary", "Foo")`. */
#define HDRS(t, ...) cache_hdrs(&(t), (const char *const[]){__VA_ARGS__, NULL})

#endif
