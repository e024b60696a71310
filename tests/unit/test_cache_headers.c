/* SPDX-License-Identifier: MIT */
/* The fields the cache drops from requests and does not store from responses (handlers/cache_headers.c). */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_headers.h"

TEST(cache_headers_request)
{
    static const char *const untrusted[] = {"X-Forwarded-Host", "x-forwarded-for",        "X-FORWARDED-PROTO", "x-forwarded-scheme",
                                            "x-forwarded-port", "x-forwarded-prefix",     "Forwarded",         "X-Original-URL",
                                            "x-rewrite-url",    "X-HTTP-Method-Override", "x-http-method",     "x-method-override",
                                            "x-host",           "x-original-host"};
    static const char *const trusted[] = {"host",   "x-forwarded",   "forwarded-for",   "x-original",
                                          "accept", "authorization", "x-forwardedhost", "cookie"};
    cache_hdrs_t t;
    size_t i, n;

    for (i = 0; i != sizeof(untrusted) / sizeof(untrusted[0]); ++i)
        CHECK(kve_cache_request_header_untrusted(untrusted[i], strlen(untrusted[i])));
    for (i = 0; i != sizeof(trusted) / sizeof(trusted[0]); ++i)
        CHECK(!kve_cache_request_header_untrusted(trusted[i], strlen(trusted[i])));
    HDRS(t, "host", "a", "x-forwarded-host", "evil", "accept", "*/*", "forwarded", "host=evil", "x-http-method-override", "DELETE",
         "cookie", "c=1", "x-original-url", "/admin");
    n = kve_cache_request_headers_strip(t.h, t.n);
    CHECK_EQ_UINT(n, 3);
    CHECK_EQ_MEM(t.h[0].name->base, t.h[0].name->len, "host", 4);
    CHECK_EQ_MEM(t.h[1].name->base, t.h[1].name->len, "accept", 6);
    CHECK_EQ_MEM(t.h[2].name->base, t.h[2].name->len, "cookie", 6);
    CHECK_EQ_UINT(kve_cache_request_headers_strip(t.h, 0), 0);
}

static unsigned action(const char *name, cache_hdrs_t *t, const kve_cc_t *cc)
{
    return kve_cache_response_header(name, strlen(name), t->h, t->n, cc);
}

TEST(cache_headers_response)
{
    const unsigned all = KVE_CACHE_HDR_NO_STORE | KVE_CACHE_HDR_NO_FORWARD | KVE_CACHE_HDR_NO_UPDATE;
    const unsigned unstored = KVE_CACHE_HDR_NO_STORE | KVE_CACHE_HDR_NO_UPDATE;
    static const char *const stored[] = {"Test-Header",
                                         "X-Test-Header",
                                         "Content-Type",
                                         "X-Frame-Options",
                                         "Clear-Site-Data",
                                         "Public-Key-Pins",
                                         "Strict-Transport-Security",
                                         "WWW-Authenticate",
                                         "ETag",
                                         "Vary",
                                         "Cache-Control",
                                         "CDN-Cache-Control",
                                         "Expires",
                                         "Date",
                                         "Last-Modified"};
    static const char *const hop[] = {"Connection",
                                      "Keep-Alive",
                                      "Proxy-Connection",
                                      "TE",
                                      "Trailer",
                                      "Transfer-Encoding",
                                      "Upgrade",
                                      "Proxy-Authenticate",
                                      "Proxy-Authentication-Info",
                                      "Proxy-Authorization",
                                      "Surrogate-Control"};
    cache_hdrs_t t;
    kve_cc_t cc;
    size_t i;

    HDRS(t, "Connection", "a, B", "Cache-Control", "no-cache=\"c, D\", max-age=3600");
    kve_cc_parse_response(&cc, t.h, t.n, h2o_iovec_init(NULL, 0));
    for (i = 0; i != sizeof(stored) / sizeof(stored[0]); ++i)
        CHECK_EQ_UINT(action(stored[i], &t, &cc), 0);
    for (i = 0; i != sizeof(hop) / sizeof(hop[0]); ++i)
        CHECK_EQ_UINT(action(hop[i], &t, &cc), all);
    /* headers-omit-headers-listed-in-Connection */
    CHECK_EQ_UINT(action("a", &t, &cc), all);
    CHECK_EQ_UINT(action("b", &t, &cc), all);
    CHECK_EQ_UINT(action("ab", &t, &cc), 0);
    /* headers-omit-headers-listed-in-Cache-Control-no-cache */
    CHECK_EQ_UINT(action("c", &t, &cc), unstored);
    CHECK_EQ_UINT(action("d", &t, &cc), unstored);
    CHECK_EQ_UINT(action("c", &t, NULL), 0);
    /* cookies never stored, Age regenerated, Content-Length not taken from a 304 */
    CHECK_EQ_UINT(action("Set-Cookie", &t, &cc), unstored);
    CHECK_EQ_UINT(action("set-cookie2", &t, &cc), unstored);
    CHECK_EQ_UINT(action("Age", &t, &cc), unstored);
    CHECK_EQ_UINT(action("Content-Length", &t, &cc), KVE_CACHE_HDR_NO_UPDATE);
}

void kve_suite_cache_headers(void)
{
    RUN(cache_headers_request);
    RUN(cache_headers_response);
}
