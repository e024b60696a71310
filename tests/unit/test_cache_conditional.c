/* SPDX-License-Identifier: MIT */
/* Conditional requests answered from the cache (handlers/cache_conditional.c): RFC 9110 §13, conditional-* ids. */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_conditional.h"
#include "handlers/cache_response.h"

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_TIME KVE_CACHE_TIME_NONE

static int not_modified(const char *const *req, const char *etag, int64_t lm, int64_t date)
{
    cache_hdrs_t t;
    cache_hdrs(&t, req);
    return kve_cache_not_modified(t.h, t.n, etag != NULL ? h2o_iovec_init(etag, strlen(etag)) : h2o_iovec_init(NULL, 0), lm, date,
                                  CACHE_T0);
}

TEST(cache_conditional_etag)
{
    CHECK(kve_cache_etag_weak_match(h2o_iovec_init(H2O_STRLIT("\"a\"")), h2o_iovec_init(H2O_STRLIT("W/\"a\""))));
    CHECK(!kve_cache_etag_weak_match(h2o_iovec_init(H2O_STRLIT("\"a\"")), h2o_iovec_init(H2O_STRLIT("\"b\""))));
    CHECK(!kve_cache_etag_weak_match(h2o_iovec_init(H2O_STRLIT("a")), h2o_iovec_init(H2O_STRLIT("a"))));
    CHECK(!kve_cache_etag_weak_match(h2o_iovec_init(H2O_STRLIT("\"a\"b\"")), h2o_iovec_init(H2O_STRLIT("\"a\"b\""))));
    CHECK(!kve_cache_etag_weak_match(h2o_iovec_init(NULL, 0), h2o_iovec_init(NULL, 0)));

    CHECK(not_modified(H("If-None-Match", "\"abcd\""), "\"abcd\"", NO_TIME, NO_TIME));        /* conditional-etag-strong-respond */
    CHECK(not_modified(H("If-None-Match", "W/\"abcd\""), "\"abcd\"", NO_TIME, NO_TIME));      /* weak comparison */
    CHECK(not_modified(H("If-None-Match", "\"abcd\""), "W/\"abcd\"", NO_TIME, NO_TIME));      /* */
    CHECK(not_modified(H("If-None-Match", "\"x\", \"abcd\""), "\"abcd\"", NO_TIME, NO_TIME)); /* a list */
    CHECK(not_modified(H("If-None-Match", "\"x\"", "If-None-Match", "\"abcd\""), "\"abcd\"", NO_TIME, NO_TIME)); /* two lines */
    CHECK(not_modified(H("If-None-Match", "\"a,b\""), "\"a,b\"", NO_TIME, NO_TIME)); /* comma inside a tag */
    CHECK(not_modified(H("If-None-Match", "*"), "\"abcd\"", NO_TIME, NO_TIME));      /* any */
    CHECK(not_modified(H("If-None-Match", "*"), NULL, NO_TIME, NO_TIME));            /* any stored response */
    CHECK(!not_modified(H("If-None-Match", "\"abc\""), "\"abcd\"", NO_TIME, NO_TIME));
    CHECK(!not_modified(H("If-None-Match", "\"abcd"), "\"abcd\"", NO_TIME, NO_TIME)); /* unterminated */
    CHECK(!not_modified(H("If-None-Match", "\"abcd\""), NULL, CACHE_T0, CACHE_T0));   /* no stored tag */
    CHECK(!not_modified(H("If-None-Match", ""), "\"abcd\"", NO_TIME, NO_TIME));
}

TEST(cache_conditional_modified_since)
{
    /* conditional-lm-fresh: Last-Modified at or before the date: 304 */
    CHECK(not_modified(H("If-Modified-Since", "@-100"), NULL, CACHE_T0 - 100, CACHE_T0));
    CHECK(not_modified(H("If-Modified-Since", "@0"), NULL, CACHE_T0 - 100, CACHE_T0));
    CHECK(!not_modified(H("If-Modified-Since", "@-101"), NULL, CACHE_T0 - 100, CACHE_T0));
    /* no Last-Modified: the stored Date */
    CHECK(not_modified(H("If-Modified-Since", "@0"), NULL, NO_TIME, CACHE_T0));
    CHECK(!not_modified(H("If-Modified-Since", "@-1"), NULL, NO_TIME, CACHE_T0));
    CHECK(!not_modified(H("If-Modified-Since", "@0"), NULL, NO_TIME, NO_TIME));
    /* invalid dates are ignored */
    CHECK(!not_modified(H("If-Modified-Since", "yesterday"), NULL, CACHE_T0 - 100, CACHE_T0));
    /* If-None-Match wins over If-Modified-Since, both ways (conditional-etag-precedence) */
    CHECK(!not_modified(H("If-None-Match", "\"x\"", "If-Modified-Since", "@0"), "\"abcd\"", CACHE_T0 - 100, CACHE_T0));
    CHECK(not_modified(H("If-Modified-Since", "@-1000", "If-None-Match", "\"abcd\""), "\"abcd\"", CACHE_T0 - 100, CACHE_T0));
    /* nothing conditional */
    CHECK(!not_modified(H("Accept", "*/*"), "\"abcd\"", CACHE_T0 - 100, CACHE_T0));
}

void kve_suite_cache_conditional(void)
{
    RUN(cache_conditional_etag);
    RUN(cache_conditional_modified_since);
}
