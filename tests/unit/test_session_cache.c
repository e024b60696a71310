/* SPDX-License-Identifier: MIT */
/*
 * Tests of what the shared cache asks the sessions on a route with both (issue 10, docs/sessions.md §13;
 * handlers/session_cache.c): which response fields belong to the sessions (x-session-*, the session's Set-Cookie), and
 * that the cache never stores an x-session-* field (handlers/cache_headers.c).
 */
#include "test.h"
#include "handlers/cache_headers.h"
#include "handlers/session_cache.h"
#include "proxy/common.h"

static int owned(const char *name, const char *value)
{
    h2o_iovec_t n = h2o_iovec_init(name, strlen(name));
    h2o_header_t h[2] = {{&H2O_TOKEN_CONTENT_TYPE->buf, NULL, h2o_iovec_init(H2O_STRLIT("text/plain"))},
                         {&n, NULL, h2o_iovec_init(value, strlen(value))}};
    return kve_session_response_owned(h, 2, "__Host-sid");
}

TEST(response_owned)
{
    CHECK(owned("x-session-login", "{\"sub\":\"u\"}"));
    CHECK(owned("X-Session-Set", "{}"));
    CHECK(owned("x_session_logout", "current"));
    CHECK(owned("x-session-", ""));
    CHECK(owned("set-cookie", "__Host-sid=abc; Path=/"));
    CHECK(owned("Set-Cookie", "  __Host-sid=; Max-Age=0"));
    CHECK(!owned("set-cookie", "__Host-sidx=abc"));
    CHECK(!owned("set-cookie", "other=__Host-sid"));
    CHECK(!owned("set-cookie", "__Host-si"));
    CHECK(!owned("x-sessions", "1"));
    CHECK(!owned("cache-control", "public"));
    CHECK(!kve_session_response_owned(NULL, 0, "__Host-sid"));
}

TEST(cache_never_stores_session_fields)
{
    static const char *const names[] = {"x-session-login", "X-Session-Set", "x_session_jwt"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(names); ++i)
        CHECK((kve_cache_response_header(names[i], strlen(names[i]), NULL, 0, NULL) & KVE_CACHE_HDR_NO_STORE) != 0);
    CHECK((kve_cache_response_header(H2O_STRLIT("x-sessions"), NULL, 0, NULL) & KVE_CACHE_HDR_NO_STORE) == 0);
}

void kve_suite_session_cache(void)
{
    RUN(response_owned);
    RUN(cache_never_stores_session_fields);
}
