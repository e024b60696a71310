/* SPDX-License-Identifier: MIT */
/*
 * Freshness arithmetic (handlers/cache_freshness.c, cache_response.c): lifetime precedence, RFC 9111 §4.2.3
 * age with its own numbers, the reuse decision with request directives (§5.2.1), stale-while-revalidate,
 * stale-if-error (RFC 5861) and the directives that forbid stale (§4.2.4, the suite's stale-close-* ids).
 */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_freshness.h"

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})

static const kve_cache_rules_t rfc_only;

static kve_cache_resp_t resp(const char *const *pairs, int status)
{
    cache_hdrs_t t;
    kve_cache_resp_t r;
    cache_hdrs(&t, pairs);
    kve_cache_resp_parse(&r, status, t.h, t.n, h2o_iovec_init(NULL, 0), CACHE_T0);
    return r;
}

static kve_cache_fresh_t fresh(const char *const *pairs, const kve_cache_rules_t *rules)
{
    kve_cache_resp_t r = resp(pairs, 200);
    kve_cache_fresh_t f;
    kve_cache_fresh_compute(&f, &r, rules != NULL ? rules : &rfc_only, CACHE_T0);
    return f;
}

static kve_cc_t req(const char *value)
{
    kve_cc_t cc;
    kve_cc_init(&cc);
    kve_cc_parse(&cc, value, strlen(value));
    return cc;
}

TEST(cache_freshness_response_facts)
{
    kve_cache_resp_t r;

    r = resp(
        H("Date", "@0", "Expires", "@60", "Last-Modified", "@-100", "Age", "7", "ETag", "\"e\"", "Set-Cookie", "a=b", "Vary", "*"),
        200);
    CHECK_EQ_INT(r.date, CACHE_T0);
    CHECK_EQ_INT(r.expires, CACHE_T0 + 60);
    CHECK_EQ_INT(r.last_modified, CACHE_T0 - 100);
    CHECK_EQ_INT(r.age, 7);
    CHECK_EQ_MEM(r.etag.base, r.etag.len, "\"e\"", 3);
    CHECK_EQ_UINT(r.flags, KVE_CACHE_RESP_EXPIRES | KVE_CACHE_RESP_AGE | KVE_CACHE_RESP_SET_COOKIE | KVE_CACHE_RESP_VARY_STAR);
    CHECK(kve_cache_resp_has_validator(&r));
    /* invalid Date and Last-Modified are absent, an invalid Expires is the epoch (already expired), an invalid Age is
     * the largest (already stale) */
    r = resp(H("Date", "yesterday", "Expires", "never", "Last-Modified", "0", "Age", "x"), 200);
    CHECK_EQ_INT(r.date, KVE_CACHE_TIME_NONE);
    CHECK_EQ_INT(r.last_modified, KVE_CACHE_TIME_NONE);
    CHECK_EQ_INT(r.expires, 0);
    CHECK_EQ_UINT(r.flags, KVE_CACHE_RESP_EXPIRES | KVE_CACHE_RESP_AGE);
    CHECK_EQ_INT(r.age, KVE_CC_DELTA_MAX);
    CHECK(!kve_cache_resp_has_validator(&r));
    /* first line counts; Expires ignored under a targeted field (RFC 9213) */
    r = resp(H("Date", "@0", "Date", "@100", "Expires", "@5", "Expires", "@500"), 200);
    CHECK_EQ_INT(r.date, CACHE_T0);
    CHECK_EQ_INT(r.expires, CACHE_T0 + 5);
    r = resp(H("CDN-Cache-Control", "max-age=5", "Expires", "@500"), 200);
    CHECK_EQ_UINT(r.flags & KVE_CACHE_RESP_EXPIRES, 0);
    r = resp(H("Surrogate-Control", "max-age=5", "Expires", "@500"), 200);
    CHECK_EQ_UINT(r.flags & KVE_CACHE_RESP_EXPIRES, 0);
    /* Age: first member of the first line, 1*DIGIT, capped */
    CHECK_EQ_INT(resp(H("Age", " 12 "), 200).age, 12);
    CHECK_EQ_INT(resp(H("Age", "12, 0"), 200).age, 12);
    CHECK_EQ_INT(resp(H("Age", "99999999999999999999"), 200).age, KVE_CC_DELTA_MAX);
    CHECK_EQ_INT(resp(H("Age", "1 2"), 200).age, KVE_CC_DELTA_MAX);
    CHECK_EQ_INT(resp(H("Age", ""), 200).age, KVE_CC_DELTA_MAX);
    CHECK_EQ_INT(resp(H("Age", "0", "Age", "0"), 200).age, KVE_CC_DELTA_MAX); /* a singleton given twice */
}

TEST(cache_freshness_lifetime)
{
    static const kve_cache_rules_t heuristic = {.heuristic = 1}, capped = {.heuristic = 1, .heuristic_max = 50};
    static const kve_cache_rules_t grace = {.stale_while_revalidate = 10, .stale_if_error = 100};
    kve_cache_fresh_t f;

    f = fresh(H("Cache-Control", "max-age=60, s-maxage=30", "Expires", "@500", "Date", "@0"), NULL);
    CHECK_EQ_INT(f.lifetime, 30);
    CHECK_EQ_UINT(f.flags, KVE_CACHE_FRESH_EXPLICIT | KVE_CACHE_FRESH_NO_STALE); /* s-maxage forbids stale (§4.2.4) */
    f = fresh(H("Cache-Control", "max-age=60", "Expires", "@500", "Date", "@0"), NULL);
    CHECK_EQ_INT(f.lifetime, 60);
    f = fresh(H("Expires", "@500", "Date", "@100"), NULL); /* Expires - Date */
    CHECK_EQ_INT(f.lifetime, 400);
    f = fresh(H("Expires", "@500"), NULL); /* no Date: the response time */
    CHECK_EQ_INT(f.lifetime, 500);
    f = fresh(H("Expires", "@-500", "Date", "@0"), NULL);
    CHECK_EQ_INT(f.lifetime, 0);
    CHECK_EQ_UINT(f.flags, KVE_CACHE_FRESH_EXPLICIT);
    /* heuristic: 10 % of Date - Last-Modified, capped at a day or the rules' cap */
    f = fresh(H("Last-Modified", "@-1000", "Date", "@0"), &heuristic);
    CHECK_EQ_INT(f.lifetime, 100);
    CHECK_EQ_UINT(f.flags, KVE_CACHE_FRESH_HEURISTIC);
    f = fresh(H("Last-Modified", "@-100000000", "Date", "@0"), &heuristic);
    CHECK_EQ_INT(f.lifetime, KVE_CACHE_HEURISTIC_MAX);
    f = fresh(H("Last-Modified", "@-1000", "Date", "@0"), &capped);
    CHECK_EQ_INT(f.lifetime, 50);
    f = fresh(H("Last-Modified", "@1000", "Date", "@0"), &heuristic); /* modified in the future */
    CHECK_EQ_INT(f.lifetime, 0);
    f = fresh(H("Last-Modified", "@-1000", "Date", "@0", "Expires", "@1"), &heuristic); /* explicit wins */
    CHECK_EQ_INT(f.lifetime, 1);
    /* none */
    f = fresh(H("Last-Modified", "@-1000"), NULL);
    CHECK_EQ_INT(f.lifetime, 0);
    CHECK_EQ_UINT(f.flags, 0);
    /* windows: the larger of directive and grace; no-cache and must-revalidate flags */
    f = fresh(H("Cache-Control", "max-age=1, stale-while-revalidate=30, stale-if-error=5"), &grace);
    CHECK_EQ_INT(f.swr, 30);
    CHECK_EQ_INT(f.sie, 100);
    f = fresh(H("Cache-Control", "max-age=1, no-cache, proxy-revalidate"), NULL);
    CHECK_EQ_UINT(f.flags, KVE_CACHE_FRESH_EXPLICIT | KVE_CACHE_FRESH_NO_STALE | KVE_CACHE_FRESH_NO_CACHE);
    CHECK_EQ_INT(f.swr, 0);
    CHECK_EQ_INT(f.sie, 0);
}

TEST(cache_freshness_age)
{
    kve_cache_resp_t r;

    /* no Date, no Age, no delay: 0, then the resident time */
    r = resp(H("X", "1"), 200);
    CHECK_EQ_INT(kve_cache_initial_age(&r, CACHE_T0, CACHE_T0), 0);
    CHECK_EQ_INT(kve_cache_current_age(0, CACHE_T0, CACHE_T0 + 42), 42);
    CHECK_EQ_INT(kve_cache_current_age(5, CACHE_T0, CACHE_T0 - 10), 5); /* a clock step back never lowers the age */
    /* apparent age: the response's Date was 30 s before it arrived */
    r = resp(H("Date", "@-30"), 200);
    CHECK_EQ_INT(kve_cache_initial_age(&r, CACHE_T0, CACHE_T0), 30);
    /* corrected age: Age plus the request's round trip, when larger */
    r = resp(H("Date", "@-30", "Age", "40"), 200);
    CHECK_EQ_INT(kve_cache_initial_age(&r, CACHE_T0 - 2, CACHE_T0), 42);
    /* a Date in the future: apparent age 0 */
    r = resp(H("Date", "@300"), 200);
    CHECK_EQ_INT(kve_cache_initial_age(&r, CACHE_T0, CACHE_T0), 0);
    /* freshness-expires-age-fast-date: Date +10, Expires +20, Age 15: stale at once */
    r = resp(H("Date", "@10", "Expires", "@20", "Age", "15"), 200);
    {
        kve_cache_fresh_t f;
        kve_cache_fresh_compute(&f, &r, &rfc_only, CACHE_T0);
        CHECK_EQ_INT(f.lifetime, 10);
        CHECK_EQ_INT(kve_cache_ttl(&f, kve_cache_initial_age(&r, CACHE_T0, CACHE_T0)), -5);
    }
}

TEST(cache_freshness_use)
{
    static const kve_cache_rules_t swr_grace = {.stale_while_revalidate = 20};
    kve_cache_fresh_t f = fresh(H("Cache-Control", "max-age=100"), NULL);
    kve_cc_t r;

    CHECK_EQ_INT(kve_cache_use(&f, 0, NULL), KVE_CACHE_USE_FRESH);
    CHECK_EQ_INT(kve_cache_use(&f, 99, NULL), KVE_CACHE_USE_FRESH);
    CHECK_EQ_INT(kve_cache_use(&f, 100, NULL), KVE_CACHE_USE_VALIDATE); /* fresh means lifetime > age */
    CHECK_EQ_INT(kve_cache_ttl(&f, 130), -30);
    /* request directives */
    r = req("no-cache");
    CHECK_EQ_INT(kve_cache_use(&f, 0, &r), KVE_CACHE_USE_VALIDATE);
    r = req("max-age=0");
    CHECK_EQ_INT(kve_cache_use(&f, 0, &r), KVE_CACHE_USE_VALIDATE);
    r = req("max-age=10");
    CHECK_EQ_INT(kve_cache_use(&f, 10, &r), KVE_CACHE_USE_FRESH);
    CHECK_EQ_INT(kve_cache_use(&f, 11, &r), KVE_CACHE_USE_VALIDATE);
    r = req("min-fresh=20");
    CHECK_EQ_INT(kve_cache_use(&f, 80, &r), KVE_CACHE_USE_FRESH);
    CHECK_EQ_INT(kve_cache_use(&f, 81, &r), KVE_CACHE_USE_VALIDATE);
    r = req("max-stale=10"); /* ccreq-max-stale */
    CHECK_EQ_INT(kve_cache_use(&f, 110, &r), KVE_CACHE_USE_STALE);
    CHECK_EQ_INT(kve_cache_use(&f, 111, &r), KVE_CACHE_USE_VALIDATE);
    r = req("max-stale");
    CHECK_EQ_INT(kve_cache_use(&f, 1000000, &r), KVE_CACHE_USE_STALE);
    r = req("max-stale, min-fresh=1"); /* min-fresh wants fresh */
    CHECK_EQ_INT(kve_cache_use(&f, 101, &r), KVE_CACHE_USE_VALIDATE);
    r = req("nothing-to-see-here");
    CHECK_EQ_INT(kve_cache_use(&f, 5, &r), KVE_CACHE_USE_FRESH);
    /* stale-while-revalidate from the response and from the rules */
    f = fresh(H("Cache-Control", "max-age=1, stale-while-revalidate=30"), NULL);
    CHECK_EQ_INT(kve_cache_use(&f, 2, NULL), KVE_CACHE_USE_STALE_REVALIDATE);
    CHECK_EQ_INT(kve_cache_use(&f, 31, NULL), KVE_CACHE_USE_STALE_REVALIDATE);
    CHECK_EQ_INT(kve_cache_use(&f, 32, NULL), KVE_CACHE_USE_VALIDATE);
    r = req("no-cache");
    CHECK_EQ_INT(kve_cache_use(&f, 2, &r), KVE_CACHE_USE_VALIDATE);
    f = fresh(H("Cache-Control", "max-age=1"), &swr_grace);
    CHECK_EQ_INT(kve_cache_use(&f, 21, NULL), KVE_CACHE_USE_STALE_REVALIDATE);
    /* never stale with must-revalidate, proxy-revalidate, s-maxage (stale-close-*), even with grace or max-stale */
    r = req("max-stale");
    f = fresh(H("Cache-Control", "max-age=1, must-revalidate, stale-while-revalidate=30"), &swr_grace);
    CHECK_EQ_INT(kve_cache_use(&f, 2, NULL), KVE_CACHE_USE_VALIDATE);
    CHECK_EQ_INT(kve_cache_use(&f, 2, &r), KVE_CACHE_USE_VALIDATE);
    f = fresh(H("Cache-Control", "max-age=1, proxy-revalidate"), &swr_grace);
    CHECK_EQ_INT(kve_cache_use(&f, 2, &r), KVE_CACHE_USE_VALIDATE);
    f = fresh(H("Cache-Control", "s-maxage=1"), &swr_grace);
    CHECK_EQ_INT(kve_cache_use(&f, 2, &r), KVE_CACHE_USE_VALIDATE);
    /* no-cache: validated even when fresh (cc-resp-no-cache) */
    f = fresh(H("Cache-Control", "max-age=1000, no-cache"), NULL);
    CHECK_EQ_INT(kve_cache_use(&f, 0, NULL), KVE_CACHE_USE_VALIDATE);
    /* qualified no-cache does not force validation */
    f = fresh(H("Cache-Control", "max-age=1000, no-cache=\"a\""), NULL);
    CHECK_EQ_INT(kve_cache_use(&f, 0, NULL), KVE_CACHE_USE_FRESH);
}

TEST(cache_freshness_on_error)
{
    static const kve_cache_rules_t grace = {.stale_if_error = 50};
    kve_cache_fresh_t f = fresh(H("Cache-Control", "max-age=2, stale-if-error=60"), NULL); /* stale-sie-503 */
    kve_cc_t r;

    CHECK(kve_cache_use_on_error(&f, 1, NULL));  /* fresh */
    CHECK(kve_cache_use_on_error(&f, 62, NULL)); /* 60 s stale */
    CHECK(!kve_cache_use_on_error(&f, 63, NULL));
    f = fresh(H("Cache-Control", "max-age=2"), NULL); /* stale-close without a directive: no */
    CHECK(!kve_cache_use_on_error(&f, 3, NULL));
    r = req("stale-if-error=10"); /* the request may allow it (RFC 5861 §4) */
    CHECK(kve_cache_use_on_error(&f, 12, &r));
    CHECK(!kve_cache_use_on_error(&f, 13, &r));
    r = req("max-stale=5");
    CHECK(kve_cache_use_on_error(&f, 7, &r));
    f = fresh(H("Cache-Control", "max-age=2"), &grace); /* operator grace */
    CHECK(kve_cache_use_on_error(&f, 52, NULL));
    CHECK(!kve_cache_use_on_error(&f, 53, NULL));
    /* stale-close-must-revalidate / -proxy-revalidate / -no-cache / -s-maxage=2: never */
    f = fresh(H("Cache-Control", "max-age=2, must-revalidate, stale-if-error=60"), &grace);
    CHECK(!kve_cache_use_on_error(&f, 3, NULL));
    f = fresh(H("Cache-Control", "max-age=2, proxy-revalidate, stale-if-error=60"), &grace);
    CHECK(!kve_cache_use_on_error(&f, 3, NULL));
    f = fresh(H("Cache-Control", "max-age=2, no-cache, stale-if-error=60"), &grace);
    CHECK(!kve_cache_use_on_error(&f, 1, NULL));
    f = fresh(H("Cache-Control", "max-age=2, s-maxage=2, stale-if-error=60"), &grace);
    CHECK(!kve_cache_use_on_error(&f, 3, NULL));
}

void kve_suite_cache_freshness(void)
{
    RUN(cache_freshness_response_facts);
    RUN(cache_freshness_lifetime);
    RUN(cache_freshness_age);
    RUN(cache_freshness_use);
    RUN(cache_freshness_on_error);
}
