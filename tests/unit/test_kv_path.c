/* SPDX-License-Identifier: MIT */
/* Tests for the KV API's raw path check (handlers/kv_path.c), issue 14. */
#include "test.h"
#include "handlers/kv_path.h"

static const char *check(const char *path, const char *prefix)
{
    static h2o_mem_pool_t pool;
    static int inited;
    if (!inited) {
        h2o_mem_init_pool(&pool);
        inited = 1;
    }
    return kve_rest_check_path(path, strlen(path), prefix, strlen(prefix), &pool);
}

#define PREFIX_ERROR "ERR the request path must start with /kv exactly (no percent-encoding or '.' segments in it)"
#define DOT_ERROR "ERR the request path has a '.' or '..' segment (also when percent-encoded); send such arguments in a JSON body"

TEST(served)
{
    static const char *const ok[] = {"/kv",        "/kv/",        "/kv/get/x",    "/kv/set/a%2Fb/v",   "/kv/get/...",
                                     "/kv/get/.x", "/kv/get/x.",  "/kv/get/a..b", "/kv/get/%2e%2e%2e", "/kv/pipeline",
                                     "/kv/get/%2", "/kv/get/%zz", "/kv//get"};
    size_t i;
    for (i = 0; i != sizeof(ok) / sizeof(ok[0]); ++i) {
        const char *err = check(ok[i], "/kv");
        if (err != NULL)
            fprintf(stderr, "    %s: %s\n", ok[i], err);
        CHECK_NULL(err);
    }
    CHECK_NULL(check("/get/x", ""));
    CHECK_NULL(check("/", ""));
}

TEST(other_prefix)
{
    static const char *const bad[] = {"/api/../kv/get/x",
                                      "/%6bv/get/x",
                                      "/%6Bv/get/x",
                                      "/k%76/get/x",
                                      "/kv%2Fget/x",
                                      "/kvx/get",
                                      "/./kv/get/x",
                                      "/KV/get/x",
                                      "kv/get/x",
                                      "",
                                      "/k",
                                      "*"};
    size_t i;
    for (i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        CHECK_EQ_STR(check(bad[i], "/kv"), PREFIX_ERROR);
    CHECK_EQ_STR(check("get/x", ""), "ERR the request path must start with / exactly (no percent-encoding or '.' segments in it)");
    CHECK_EQ_STR(check("", ""), "ERR the request path must start with / exactly (no percent-encoding or '.' segments in it)");
    CHECK_EQ_STR(check("/ops/kv/get", "/ops/kv"), NULL);
    CHECK_EQ_STR(check("/ops/%6bv/get", "/ops/kv"),
                 "ERR the request path must start with /ops/kv exactly (no percent-encoding or '.' segments in it)");
}

TEST(dot_segments)
{
    static const char *const bad[] = {"/kv/./get/x",    "/kv/get/../set/x/1",
                                      "/kv/set/x/1/..", "/kv/%2e%2e/kv/get/x",
                                      "/kv/%2E/get/x",  "/kv/.%2e/kv/get/x",
                                      "/kv/get/x/.",    "/kv/get/x%2F..%2Fy",
                                      "/kv/get/x%2f.",  "/kv/.",
                                      "/kv/..",         "/kv/get/x/%2e",
                                      "/kv/get/x/./"};
    size_t i;
    for (i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        const char *err = check(bad[i], "/kv");
        if (err == NULL || strcmp(err, DOT_ERROR) != 0)
            fprintf(stderr, "    %s\n", bad[i]);
        CHECK_EQ_STR(err, DOT_ERROR);
    }
    CHECK_EQ_STR(check("/./get/x", ""), DOT_ERROR);
    CHECK_EQ_STR(check("/get/%2e%2E", ""), DOT_ERROR);
}

void kve_suite_kv_path(void)
{
    RUN(served);
    RUN(other_prefix);
    RUN(dot_segments);
}
