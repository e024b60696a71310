/* SPDX-License-Identifier: MIT */
/* Invalidation after unsafe requests (handlers/cache_invalidate.c): RFC 9111 §4.4, the invalidation suite. */
#include "test.h"
#include "handlers/cache_invalidate.h"

static int inv(const char *method, int status)
{
    return kve_cache_invalidates(h2o_iovec_init(method, strlen(method)), status);
}

TEST(cache_invalidate_methods)
{
    CHECK(inv("POST", 200));     /* invalidate-POST */
    CHECK(inv("PUT", 201));      /* invalidate-PUT */
    CHECK(inv("DELETE", 204));   /* invalidate-DELETE */
    CHECK(inv("M-SEARCH", 200)); /* invalidate-M-SEARCH: unknown methods are unsafe */
    CHECK(inv("PATCH", 302));
    CHECK(!inv("POST", 404)); /* invalidate-POST-failed (an error does not) */
    CHECK(!inv("POST", 500));
    CHECK(!inv("POST", 100));
    CHECK(!inv("GET", 200));
    CHECK(!inv("HEAD", 200));
    CHECK(!inv("OPTIONS", 200));
    CHECK(!inv("TRACE", 200));
    CHECK(inv("get", 200)); /* methods are case-sensitive: "get" is not GET */
}

static const char *origin_path(const char *uri, const char *scheme, const char *authority)
{
    static char out[256];
    h2o_iovec_t path;
    if (kve_cache_same_origin_path(h2o_iovec_init(uri, strlen(uri)), h2o_iovec_init(scheme, strlen(scheme)),
                                   h2o_iovec_init(authority, strlen(authority)), &path) != 0)
        return "(other)";
    snprintf(out, sizeof(out), "%.*s", (int)path.len, path.base);
    return out;
}

TEST(cache_invalidate_locations)
{
    CHECK_EQ_STR(origin_path("/test/a?b=1", "http", "example.com"), "/test/a?b=1"); /* invalidate-*-location */
    CHECK_EQ_STR(origin_path("/a#frag", "http", "example.com"), "/a");
    CHECK_EQ_STR(origin_path("http://example.com/a", "http", "example.com"), "/a");
    CHECK_EQ_STR(origin_path("HTTP://Example.COM:80/a", "http", "example.com"), "/a");
    CHECK_EQ_STR(origin_path("//example.com/a", "http", "example.com:80"), "/a");
    CHECK_EQ_STR(origin_path("http://other.example/a", "http", "example.com"), "(other)"); /* invalidate-*-cl other origin */
    CHECK_EQ_STR(origin_path("https://example.com/a", "http", "example.com"), "(other)");
    CHECK_EQ_STR(origin_path("http://example.com:8080/a", "http", "example.com"), "(other)");
    CHECK_EQ_STR(origin_path("//other.example/a", "http", "example.com"), "(other)");
    CHECK_EQ_STR(origin_path("http://example.com", "http", "example.com"), "(other)"); /* no path */
    CHECK_EQ_STR(origin_path("mailto:a@example.com", "http", "example.com"), "(other)");
    CHECK_EQ_STR(origin_path("a/b", "http", "example.com"), "(other)"); /* relative: not resolved */
    CHECK_EQ_STR(origin_path("", "http", "example.com"), "(other)");
}

void kve_suite_cache_invalidate(void)
{
    RUN(cache_invalidate_methods);
    RUN(cache_invalidate_locations);
}
