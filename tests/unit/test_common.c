/* SPDX-License-Identifier: MIT */
/* Tests for proxy/common.c and proxy/err.c. */
#include "test.h"
#include "proxy/common.h"
#include "proxy/err.h"

TEST(secure_equal)
{
    CHECK(kve_secure_equal("abc", 3, "abc", 3));
    CHECK(!kve_secure_equal("abc", 3, "abd", 3));
    CHECK(!kve_secure_equal("abc", 3, "abcd", 4));
    CHECK(kve_secure_equal("", 0, "", 0));
}

TEST(strndup)
{
    char *s = kve_strndup("hello world", 5);
    CHECK_EQ_STR(s, "hello");
    free(s);
    CHECK_NULL(kve_strdup(NULL));
}

TEST(err_map)
{
    CHECK_EQ_INT(kve_err_http_status(KVE_ETIMEDOUT), 504);
    CHECK_EQ_INT(kve_err_http_status(KVE_ECONN), 503);
    CHECK_EQ_INT(kve_err_http_status(KVE_EPROTO), 503);
    CHECK_EQ_INT(kve_err_http_status(KVE_EINVAL), 400);
    CHECK_EQ_INT(kve_err_http_status(-1), 500);
    CHECK_EQ_STR(kve_strerror(KVE_ETIMEDOUT), "kv command timed out");
    CHECK_EQ_STR(kve_strerror(12345), "unknown error");
}

void kve_suite_common(void)
{
    RUN(secure_equal);
    RUN(strndup);
    RUN(err_map);
}
