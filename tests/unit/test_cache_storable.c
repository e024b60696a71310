/* SPDX-License-Identifier: MIT */
/*
 * Storability and reuse, end to end over the pure functions (cache_response, cache_freshness,
 * cache_storable): each scenario is a cache-tests case (its id first) reduced to "a response arrives at T0
 * for a request, a second request comes `pause` seconds later: is it answered from the cache without going
 * upstream?". The suite's expectation is the expected value; "check" tests that the RFC lets us answer either
 * way say which way we chose. Dates are offsets from T0 ("@-10" is T0 - 10 s), as the suite writes them.
 */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_storable.h"

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE NULL

struct scenario {
    const char *id;
    int status;
    const char *const *resp, *const *req, *const *req2;
    int64_t pause;
    const kve_cache_rules_t *rules;
    int cached;
};

static const kve_cache_rules_t rfc_only;
static const kve_cache_rules_t heuristic = {.heuristic = 1};
static const kve_cache_rules_t default_ttl = {.default_ttl = 60};
static const kve_cache_rules_t cookies = {.store_set_cookie = 1};

static int has_field(const cache_hdrs_t *t, const char *lc)
{
    size_t i;
    for (i = 0; i != t->n; ++i)
        if (h2o_lcstris(t->h[i].name->base, t->h[i].name->len, lc, strlen(lc)))
            return 1;
    return 0;
}

/* 1 if the second request is served from the cache without validation, 0 if it goes upstream */
static int reused(const struct scenario *s, kve_cache_store_t *verdict)
{
    cache_hdrs_t rh, qh, q2h;
    kve_cache_resp_t r;
    kve_cache_fresh_t f;
    kve_cc_t req, req2;
    const kve_cache_rules_t *rules = s->rules != NULL ? s->rules : &rfc_only;
    int64_t age;

    cache_hdrs(&rh, s->resp);
    cache_hdrs(&qh, s->req);
    cache_hdrs(&q2h, s->req2);
    kve_cache_resp_parse(&r, s->status != 0 ? s->status : 200, rh.h, rh.n, h2o_iovec_init(NULL, 0), CACHE_T0);
    kve_cache_fresh_compute(&f, &r, rules, CACHE_T0);
    kve_cc_parse_request(&req, qh.h, qh.n);
    kve_cc_parse_request(&req2, q2h.h, q2h.n);
    if ((*verdict = kve_cache_storable(h2o_iovec_init(H2O_STRLIT("GET")), &req, has_field(&qh, "authorization"), &r, &f, rules)) !=
        KVE_CACHE_STORE_OK)
        return 0;
    age = kve_cache_current_age(kve_cache_initial_age(&r, CACHE_T0, CACHE_T0), CACHE_T0, CACHE_T0 + s->pause);
    return kve_cache_use(&f, age, &req2) == KVE_CACHE_USE_FRESH;
}

static const struct scenario scenarios[] = {
    /* cc-freshness */
    {"freshness-none", 200, H("X-A", "1"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age", 200, H("Cache-Control", "max-age=3600"), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-quoted", 200, H("Cache-Control", "max-age=\"3600\""), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-single-quoted", 200, H("Cache-Control", "max-age='3600'"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-ignore-quoted", 200, H("Cache-Control", "extension=\"max-age=100\", max-age=1"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-ignore-quoted-rev", 200, H("Cache-Control", "max-age=1, extension=\"max-age=100\""), NONE, NONE, 3, NULL,
     0},
    {"freshness-max-age-ignore-quoted-all", 200, H("Cache-Control", "extension=\"max-age=100\", max-age=\"1\""), NONE, NONE, 3,
     NULL, 0},
    {"freshness-max-age-space-before-equals", 200, H("Cache-Control", "max-age =100"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-space-after-equals", 200, H("Cache-Control", "max-age= 100"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-0", 200, H("Cache-Control", "max-age=0"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-a100", 200, H("Cache-Control", "max-age=a100"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-100a", 200, H("Cache-Control", "max-age=100a"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-negative", 200, H("Cache-Control", "max-age=-100"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-max", 200, H("Cache-Control", "max-age=2147483648"), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-max-plus", 200, H("Cache-Control", "max-age=99999999999"), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-age", 200, H("Date", "@0", "Cache-Control", "max-age=10", "Age", "15"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-expires", 200, H("Cache-Control", "max-age=3600", "Expires", "@-10000", "Date", "@0"), NONE, NONE, 3, NULL,
     1},
    {"freshness-max-age-expires-invalid", 200, H("Cache-Control", "max-age=3600", "Expires", "0", "Date", "@0"), NONE, NONE, 3,
     NULL, 1},
    {"freshness-max-age-0-expires", 200, H("Expires", "@10000", "Cache-Control", "max-age=0", "Date", "@0"), NONE, NONE, 3, NULL,
     0},
    {"freshness-max-age-extension", 200, H("Cache-Control", "foobar, max-age=3600"), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-case-insenstive", 200, H("Cache-Control", "MaX-aGe=3600"), NONE, NONE, 3, NULL, 1},
    {"freshness-s-maxage-shared", 200, H("Cache-Control", "s-maxage=3600"), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-s-maxage-shared-longer", 200, H("Cache-Control", "max-age=3600, s-maxage=1"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-s-maxage-shared-longer-reversed", 200, H("Cache-Control", "s-maxage=1, max-age=3600"), NONE, NONE, 3, NULL,
     0},
    {"freshness-max-age-s-maxage-shared-longer-multiple", 200, H("Cache-Control", "max-age=3600", "Cache-Control", "s-maxage=1"),
     NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-s-maxage-shared-shorter", 200, H("Cache-Control", "max-age=1, s-maxage=3600"), NONE, NONE, 3, NULL, 1},
    /* cc-parse (check tests: first occurrence wins) */
    {"freshness-max-age-two-fresh-stale-sameline", 200, H("Cache-Control", "max-age=1800, max-age=1"), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-two-stale-fresh-sameline", 200, H("Cache-Control", "max-age=1, max-age=1800"), NONE, NONE, 3, NULL, 0},
    {"freshness-max-age-leading-zero", 200, H("Cache-Control", "max-age=003600"), NONE, NONE, 3, NULL, 1},
    {"freshness-max-age-decimal-five", 200, H("Cache-Control", "max-age=3600.5"), NONE, NONE, 3, NULL, 0},
    /* expires */
    {"freshness-expires-future", 200, H("Expires", "@2592000", "Date", "@0"), NONE, NONE, 3, NULL, 1},
    {"freshness-expires-past", 200, H("Expires", "@-2592000", "Date", "@0"), NONE, NONE, 3, NULL, 0},
    {"freshness-expires-present", 200, H("Expires", "@0", "Date", "@0"), NONE, NONE, 0, NULL, 0},
    {"freshness-expires-old-date", 200, H("Expires", "@300", "Date", "@400"), NONE, NONE, 3, NULL, 0},
    {"freshness-expires-wrong-case-weekday", 200, H("Expires", "THU, 18 Aug 2050 02:01:18 GMT", "Date", "@0"), NONE, NONE, 3, NULL,
     1},
    {"freshness-expires-invalid", 200, H("Expires", "0", "Date", "@0"), NONE, NONE, 3, NULL, 0},
    {"freshness-expires-invalid-utc", 200, H("Expires", "Thu, 18 Aug 2050 02:01:18 UTC", "Date", "@0"), NONE, NONE, 3, NULL, 0},
    {"freshness-expires-invalid-2-digit-year", 200, H("Expires", "Thu, 18 Aug 50 02:01:18 GMT", "Date", "@0"), NONE, NONE, 3, NULL,
     0},
    {"freshness-expires-invalid-date", 200, H("Date", "foo", "Expires", "@10"), NONE, NONE, 0, NULL, 1},
    {"freshness-expires-age-slow-date", 200, H("Date", "@-10", "Expires", "@10", "Age", "25"), NONE, NONE, 0, NULL, 0},
    {"freshness-expires-age-fast-date", 200, H("Date", "@10", "Expires", "@20", "Age", "15"), NONE, NONE, 0, NULL, 0},
    /* age-parse (required tests of the suite): an Age we cannot read, or a second Age line, makes the response stale */
    {"age-parse-nonnumeric", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "abc"), NONE, NONE, 3, NULL, 0},
    {"age-parse-negative", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "-7200"), NONE, NONE, 3, NULL, 0},
    {"age-parse-float", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "7200.0"), NONE, NONE, 3, NULL, 0},
    {"age-parse-suffix", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "7200,0"), NONE, NONE, 3, NULL, 0},
    {"age-parse-prefix", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "0,7200"), NONE, NONE, 3, NULL, 1},
    {"age-parse-prefix-twoline", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "0", "Age", "7200"), NONE, NONE, 3,
     NULL, 0},
    {"age-parse-dup-0-twoline", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "0", "Age", "0"), NONE, NONE, 3, NULL,
     0},
    {"age-parse-parameter", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "7200;foo=bar"), NONE, NONE, 3, NULL, 0},
    {"age-parse-dup-old", 200, H("Date", "@0", "Cache-Control", "max-age=3600", "Age", "7200, 7200"), NONE, NONE, 3, NULL, 0},
    /* cc-response */
    {"cc-resp-private-shared", 200, H("Cache-Control", "private, max-age=3600"), NONE, NONE, 0, NULL, 0},
    {"cc-resp-no-store", 200, H("Cache-Control", "no-store"), NONE, NONE, 0, NULL, 0},
    {"cc-resp-no-store-case-insensitive", 200, H("Cache-Control", "No-StOrE"), NONE, NONE, 0, NULL, 0},
    {"cc-resp-no-store-fresh", 200, H("Cache-Control", "max-age=10000, no-store", "Expires", "@10000", "Date", "@0"), NONE, NONE, 0,
     NULL, 0},
    {"cc-resp-no-cache", 200, H("Cache-Control", "max-age=10000, no-cache", "Expires", "@10000", "Date", "@0"), NONE, NONE, 0, NULL,
     0},
    {"cc-resp-must-revalidate-fresh", 200, H("Cache-Control", "max-age=10000, must-revalidate", "ETag", "\"abcd\""), NONE, NONE, 0,
     NULL, 1},
    {"cc-resp-must-revalidate-stale", 200, H("Cache-Control", "max-age=2, must-revalidate", "ETag", "\"abcd\""), NONE, NONE, 3,
     NULL, 0},
    {"headers-omit-headers-listed-in-Cache-Control-no-cache", 200,
     H("Cache-Control", "no-cache=\"a, b\"", "Cache-Control", "max-age=3600"), NONE, NONE, 3, NULL, 1},
    /* must-understand (RFC 9111 §5.2.2.3): no-store is overridden for an understood status */
    {"must-understand", 200, H("Cache-Control", "must-understand, no-store, max-age=60"), NONE, NONE, 3, NULL, 1},
    {"must-understand-unknown-status", 299, H("Cache-Control", "must-understand, no-store, max-age=60"), NONE, NONE, 3, NULL, 0},
    /* surrogate-control */
    {"surrogate-max-age", 200, H("Surrogate-Control", "max-age=3600"), NONE, NONE, 3, NULL, 1},
    {"surrogate-max-age-space-before-equals", 200, H("Cache-Control", "max-age=1", "Surrogate-Control", "max-age =100"), NONE, NONE,
     3, NULL, 0},
    {"surrogate-max-age-space-after-equals", 200, H("Cache-Control", "max-age=1", "Surrogate-Control", "max-age= 100"), NONE, NONE,
     3, NULL, 0},
    {"surrogate-max-age-0", 200, H("Surrogate-Control", "max-age=0"), NONE, NONE, 3, NULL, 0},
    {"surrogate-max-age-extension", 200, H("Surrogate-Control", "foobar, max-age=3600"), NONE, NONE, 3, NULL, 1},
    {"surrogate-max-age-case-insensitive", 200, H("Surrogate-Control", "MaX-aGe=3600"), NONE, NONE, 3, NULL, 1},
    {"surrogate-max-age-expires", 200, H("Surrogate-Control", "max-age=3600", "Expires", "@-10000", "Date", "@0"), NONE, NONE, 3,
     NULL, 1},
    {"surrogate-max-age-cc-max-age-invalid-expires", 200, H("Surrogate-Control", "max-age=3600", "Expires", "0", "Date", "@0"),
     NONE, NONE, 3, NULL, 1},
    {"surrogate-max-age-0-expires", 200, H("Surrogate-Control", "max-age=0", "Expires", "@10000", "Date", "@0"), NONE, NONE, 3,
     NULL, 0},
    {"surrogate-max-age-short-cc-max-age", 200, H("Cache-Control", "max-age=1", "Surrogate-Control", "max-age=3600"), NONE, NONE, 3,
     NULL, 1},
    {"surrogate-max-age-long-cc-max-age", 200, H("Cache-Control", "max-age=3600", "Surrogate-Control", "max-age=1"), NONE, NONE, 3,
     NULL, 0},
    {"surrogate-max-age-age", 200, H("Surrogate-Control", "max-age=3600", "Age", "12000"), NONE, NONE, 3, NULL, 0},
    {"surrogate-no-store", 200, H("Surrogate-Control", "no-store"), NONE, NONE, 3, NULL, 0},
    {"surrogate-no-store-cc-fresh", 200,
     H("Cache-Control", "max-age=10000", "Surrogate-Control", "no-store", "Expires", "@10000", "Date", "@0"), NONE, NONE, 3, NULL,
     0},
    {"surrogate-fresh-cc-nostore", 200, H("Cache-Control", "no-store", "Surrogate-Control", "max-age=10000;kvedge"), NONE, NONE, 3,
     NULL, 1},
    {"surrogate-max-age-other-target", 200, H("Date", "@0", "Surrogate-Control", "max-age=3600;not-for-you", "Age", "7200"), NONE,
     NONE, 3, NULL, 0},
    /* cdn-cache-control (git suite) */
    {"cdn-max-age", 200, H("CDN-Cache-Control", "max-age=3600"), NONE, NONE, 3, NULL, 1},
    {"cdn-max-age-max-plus", 200, H("CDN-Cache-Control", "max-age=99999999999"), NONE, NONE, 3, NULL, 1},
    {"cdn-max-age-age", 200, H("Date", "@0", "CDN-Cache-Control", "max-age=3600", "Age", "7200"), NONE, NONE, 3, NULL, 0},
    {"cdn-max-age-space-before-equals", 200, H("Cache-Control", "max-age=1", "CDN-Cache-Control", "max-age =100"), NONE, NONE, 3,
     NULL, 0},
    {"cdn-max-age-0", 200, H("CDN-Cache-Control", "max-age=0"), NONE, NONE, 3, NULL, 0},
    {"cdn-max-age-expires", 200, H("CDN-Cache-Control", "max-age=3600", "Expires", "@-10000", "Date", "@0"), NONE, NONE, 3, NULL,
     1},
    {"cdn-max-age-0-expires", 200, H("CDN-Cache-Control", "max-age=0", "Expires", "@10000", "Date", "@0"), NONE, NONE, 3, NULL, 0},
    {"cdn-max-age-short-cc-max-age", 200, H("Cache-Control", "max-age=1", "CDN-Cache-Control", "max-age=3600"), NONE, NONE, 3, NULL,
     1},
    {"cdn-max-age-long-cc-max-age", 200, H("Cache-Control", "max-age=3600", "CDN-Cache-Control", "max-age=1"), NONE, NONE, 3, NULL,
     0},
    {"cdn-private", 200, H("CDN-Cache-Control", "private", "Cache-Control", "max-age=10000", "Expires", "@10000", "Date", "@0"),
     NONE, NONE, 0, NULL, 0},
    {"cdn-no-cache", 200, H("CDN-Cache-Control", "no-cache", "Cache-Control", "max-age=10000", "Expires", "@10000", "Date", "@0"),
     NONE, NONE, 0, NULL, 0},
    {"cdn-no-store-cc-fresh", 200,
     H("Cache-Control", "max-age=10000", "CDN-Cache-Control", "no-store", "Expires", "@10000", "Date", "@0"), NONE, NONE, 3, NULL,
     0},
    {"cdn-fresh-cc-nostore", 200, H("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10000"), NONE, NONE, 3, NULL, 1},
    {"cdn-cc-invalid-sh-type-unknown", 200, H("CDN-Cache-Control", "max-age=10000, &&&&&", "Cache-Control", "no-store"), NONE, NONE,
     3, NULL, 0},
    {"cdn-cc-invalid-sh-type-wrong", 200, H("CDN-Cache-Control", "max-age=\"10000\"", "Cache-Control", "no-store"), NONE, NONE, 3,
     NULL, 0},
    /* heuristic: 10 % of one day, only for heuristically cacheable statuses or public */
    {"heuristic-200-cached", 200, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-201-not_cached", 201, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 0},
    {"heuristic-202-not_cached", 202, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 0},
    {"heuristic-203-cached", 203, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-204-cached", 204, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-403-not_cached", 403, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 0},
    {"heuristic-404-cached", 404, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-405-cached", 405, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-410-cached", 410, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-414-cached", 414, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-501-cached", 501, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 1},
    {"heuristic-502-not_cached", 502, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 0},
    {"heuristic-503-not_cached", 503, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 0},
    {"heuristic-504-not_cached", 504, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 0},
    {"heuristic-599-not_cached", 599, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, &heuristic, 0},
    {"heuristic-599-cached (public)", 599, H("Last-Modified", "@-86400", "Date", "@0", "Cache-Control", "public"), NONE, NONE, 0,
     &heuristic, 1},
    {"heuristic off by default", 200, H("Last-Modified", "@-86400", "Date", "@0"), NONE, NONE, 0, NULL, 0},
    {"heuristic-delta-60: 6 s of freshness", 200, H("Last-Modified", "@-60", "Date", "@0"), NONE, NONE, 5, &heuristic, 1},
    {"heuristic-delta-60: stale after 6 s", 200, H("Last-Modified", "@-60", "Date", "@0"), NONE, NONE, 6, &heuristic, 0},
    {"pragma-response-no-cache-heuristic", 200, H("Last-Modified", "@-10000", "Pragma", "no-cache"), NONE, NONE, 0, &heuristic, 1},
    /* status: any final status with explicit freshness (templates.fresh / templates.stale) */
    {"status-200-fresh", 200, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 1},
    {"status-299-fresh", 299, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 1},
    {"status-302-fresh", 302, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 1},
    {"status-400-fresh", 400, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 1},
    {"status-500-fresh", 500, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 1},
    {"status-599-fresh", 599, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 1},
    {"status-500-stale", 500, H("Cache-Control", "max-age=2"), NONE, NONE, 3, NULL, 0},
    {"status-206 (partial content is not stored)", 206, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 0},
    {"status-304 (never stored)", 304, H("Cache-Control", "max-age=100000"), NONE, NONE, 0, NULL, 0},
    /* default TTL: only without freshness information, never for errors (CPDoS) */
    {"default-ttl 200", 200, H("X-A", "1"), NONE, NONE, 30, &default_ttl, 1},
    {"default-ttl 200 expired", 200, H("X-A", "1"), NONE, NONE, 60, &default_ttl, 0},
    {"default-ttl 404", 404, H("X-A", "1"), NONE, NONE, 0, &default_ttl, 0},
    {"default-ttl 500", 500, H("X-A", "1"), NONE, NONE, 0, &default_ttl, 0},
    {"default-ttl max-age=0 wins", 200, H("Cache-Control", "max-age=0"), NONE, NONE, 0, &default_ttl, 0},
    /* a targeted field overrides Cache-Control's freshness, not its no-store / private for added freshness */
    {"default-ttl, Surrogate-Control without freshness, CC private", 200, H("Surrogate-Control", "x", "Cache-Control", "private"),
     NONE, NONE, 0, &default_ttl, 0},
    {"default-ttl, CDN-Cache-Control without freshness, CC no-store", 200,
     H("CDN-Cache-Control", "foo", "Cache-Control", "no-store"), NONE, NONE, 0, &default_ttl, 0},
    {"heuristic, CDN-Cache-Control without freshness, CC private=x", 200,
     H("CDN-Cache-Control", "foo", "Cache-Control", "private=\"x\"", "Last-Modified", "@-1000"), NONE, NONE, 0, &heuristic, 0},
    {"default-ttl, CDN-Cache-Control without freshness, CC public", 200, H("CDN-Cache-Control", "foo", "Cache-Control", "public"),
     NONE, NONE, 0, &default_ttl, 1},
    /* auth (§3.5) */
    {"other-authorization", 200, H("Expires", "@2592000", "Date", "@0"), H("Authorization", "FOO"), NONE, 3, NULL, 0},
    {"other-authorization-public", 200, H("Cache-Control", "max-age=3600, public", "Date", "@0"), H("Authorization", "FOO"), NONE,
     3, NULL, 1},
    {"other-authorization-must-revalidate", 200, H("Cache-Control", "max-age=3600, must-revalidate", "Date", "@0"),
     H("Authorization", "FOO"), NONE, 3, NULL, 1},
    {"other-authorization-smaxage", 200, H("Cache-Control", "s-maxage=3600", "Date", "@0"), H("Authorization", "FOO"), NONE, 3,
     NULL, 1},
    /* Set-Cookie: not stored unless the rules say so (http-cache.md §6) */
    {"other-set-cookie", 200, H("Cache-Control", "max-age=3600", "Set-Cookie", "a=b"), NONE, NONE, 0, NULL, 0},
    {"store_set_cookie", 200, H("Cache-Control", "max-age=3600", "Set-Cookie", "a=b"), NONE, NONE, 0, &cookies, 1},
    /* vary-parse */
    {"vary-syntax-star", 200, H("Cache-Control", "max-age=5000", "Vary", "*"), NONE, NONE, 0, NULL, 0},
    {"vary-syntax-star-star-lines", 200, H("Cache-Control", "max-age=5000", "Vary", "*", "Vary", "*"), NONE, NONE, 0, NULL, 0},
    {"vary-syntax-empty-star", 200, H("Cache-Control", "max-age=5000", "Vary", ", *"), NONE, NONE, 0, NULL, 0},
    {"vary-syntax-empty-star-lines", 200, H("Cache-Control", "max-age=5000", "Vary", "", "Vary", "*"), NONE, NONE, 0, NULL, 0},
    {"vary-syntax-foo-star", 200, H("Cache-Control", "max-age=5000", "Vary", "Foo, *"), NONE, NONE, 0, NULL, 0},
    /* cc-request (checks: all honoured) */
    {"ccreq-ma0", 200, H("Cache-Control", "max-age=100000"), NONE, H("Cache-Control", "max-age=0"), 3, NULL, 0},
    {"ccreq-ma1", 200, H("Cache-Control", "max-age=100000"), NONE, H("Cache-Control", "max-age=1"), 3, NULL, 0},
    {"ccreq-magreaterage", 200, H("Cache-Control", "max-age=3600", "Age", "1800"), NONE, H("Cache-Control", "max-age=600"), 0, NULL,
     0},
    {"ccreq-min-fresh", 200, H("Cache-Control", "max-age=1500"), NONE, H("Cache-Control", "min-fresh=2000"), 0, NULL, 0},
    {"ccreq-min-fresh-age", 200, H("Cache-Control", "max-age=1500", "Age", "1000"), NONE, H("Cache-Control", "min-fresh=1000"), 0,
     NULL, 0},
    {"ccreq-no-cache", 200, H("Cache-Control", "max-age=3600"), NONE, H("Cache-Control", "no-cache"), 0, NULL, 0},
    {"ccreq-no-store", 200, H("Cache-Control", "max-age=3600"), H("Cache-Control", "no-store"), NONE, 0, NULL, 0},
    {"pragma-request-no-cache", 200, H("Cache-Control", "max-age=3600"), NONE, H("Cache-Control", "x", "Pragma", "no-cache"), 0,
     NULL, 1},
    {"pragma without Cache-Control", 200, H("Cache-Control", "max-age=3600"), NONE, H("Pragma", "no-cache"), 0, NULL, 0},
};

TEST(cache_storable_scenarios)
{
    size_t i;
    kve_cache_store_t verdict;
    for (i = 0; i != sizeof(scenarios) / sizeof(scenarios[0]); ++i) {
        int got = reused(scenarios + i, &verdict);
        if (got != scenarios[i].cached)
            fprintf(stderr, "    %s: expected %s, got %s (store: %s)\n", scenarios[i].id,
                    scenarios[i].cached ? "cached" : "not_cached", got ? "cached" : "not_cached", kve_cache_store_reason(verdict));
        CHECK_EQ_INT(got, scenarios[i].cached);
    }
}

static kve_cache_store_t verdict_of(const char *method, int status, const char *const *resp, const char *const *req,
                                    int authorization)
{
    cache_hdrs_t rh, qh;
    kve_cache_resp_t r;
    kve_cache_fresh_t f;
    kve_cc_t cc;

    cache_hdrs(&rh, resp);
    cache_hdrs(&qh, req);
    kve_cache_resp_parse(&r, status, rh.h, rh.n, h2o_iovec_init(NULL, 0), CACHE_T0);
    kve_cache_fresh_compute(&f, &r, &rfc_only, CACHE_T0);
    kve_cc_parse_request(&cc, qh.h, qh.n);
    return kve_cache_storable(h2o_iovec_init(method, strlen(method)), &cc, authorization, &r, &f, &rfc_only);
}

TEST(cache_storable_verdicts)
{
    const char *const *fresh = H("Cache-Control", "max-age=60");

    CHECK_EQ_INT(verdict_of("GET", 200, fresh, NONE, 0), KVE_CACHE_STORE_OK);
    CHECK_EQ_INT(verdict_of("HEAD", 200, fresh, NONE, 0), KVE_CACHE_STORE_METHOD);
    CHECK_EQ_INT(verdict_of("POST", 200, fresh, NONE, 0), KVE_CACHE_STORE_METHOD);
    CHECK_EQ_INT(verdict_of("get", 200, fresh, NONE, 0), KVE_CACHE_STORE_METHOD); /* methods are case-sensitive */
    CHECK_EQ_INT(verdict_of("GET", 200, fresh, H("Cache-Control", "no-store"), 0), KVE_CACHE_STORE_REQUEST_NO_STORE);
    CHECK_EQ_INT(verdict_of("GET", 101, fresh, NONE, 0), KVE_CACHE_STORE_STATUS);
    CHECK_EQ_INT(verdict_of("GET", 199, fresh, NONE, 0), KVE_CACHE_STORE_STATUS);
    CHECK_EQ_INT(verdict_of("GET", 600, fresh, NONE, 0), KVE_CACHE_STORE_STATUS);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "no-store, max-age=60"), NONE, 0), KVE_CACHE_STORE_NO_STORE);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "private=\"x\", max-age=60"), NONE, 0), KVE_CACHE_STORE_PRIVATE);
    CHECK_EQ_INT(verdict_of("GET", 200, fresh, NONE, 1), KVE_CACHE_STORE_AUTHORIZATION);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "max-age=60", "Set-Cookie2", "a"), NONE, 0), KVE_CACHE_STORE_SET_COOKIE);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "max-age=60", "Vary", "a, *"), NONE, 0), KVE_CACHE_STORE_VARY_STAR);
    CHECK_EQ_INT(verdict_of("GET", 200, H("ETag", "\"x\""), NONE, 0), KVE_CACHE_STORE_NO_FRESHNESS);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "max-age=0"), NONE, 0), KVE_CACHE_STORE_USELESS);
    /* stored to be revalidated: a validator with max-age=0 or no-cache (cc-resp-no-cache-revalidate) */
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "max-age=0", "ETag", "\"x\""), NONE, 0), KVE_CACHE_STORE_OK);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "no-cache", "ETag", "\"x\""), NONE, 0), KVE_CACHE_STORE_OK);
    CHECK_EQ_INT(verdict_of("GET", 500, H("Cache-Control", "no-cache", "ETag", "\"x\""), NONE, 0), KVE_CACHE_STORE_NO_FRESHNESS);
    /* kept for stale-if-error although stale on arrival */
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "max-age=0, stale-if-error=60"), NONE, 0), KVE_CACHE_STORE_OK);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "public"), NONE, 0), KVE_CACHE_STORE_USELESS);
    CHECK_EQ_INT(verdict_of("GET", 200, H("Cache-Control", "public", "Last-Modified", "@-100"), NONE, 0), KVE_CACHE_STORE_OK);
    CHECK_EQ_STR(kve_cache_store_reason(KVE_CACHE_STORE_OK), "ok");
    CHECK_EQ_STR(kve_cache_store_reason(KVE_CACHE_STORE_USELESS), "useless");
    CHECK_EQ_STR(kve_cache_store_reason((kve_cache_store_t)99), "unknown");
    CHECK(kve_cache_status_understood(200) && kve_cache_status_understood(404) && !kve_cache_status_understood(299));
}

void kve_suite_cache_storable(void)
{
    RUN(cache_storable_scenarios);
    RUN(cache_storable_verdicts);
}
