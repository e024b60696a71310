/* SPDX-License-Identifier: MIT */
/*
 * Surrogate-Control device targeting (handlers/cache_surrogate.h), and its place among the response's directive
 * fields (kve_cc_parse_response): the cache-tests suite's surrogate-* tests fill the target in from the
 * Surrogate-Capability kvedge sends (`max-age=10000;kvedge`).
 */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_control.h"
#include "handlers/cache_surrogate.h"
#include "handlers/cache_upstream.h"

static const char *canon(const kve_cc_t *cc)
{
    static char buf[512];
    CHECK(kve_cc_serialize(cc, buf, sizeof(buf)) < sizeof(buf));
    return buf;
}

static kve_cc_t response(cache_hdrs_t *t)
{
    kve_cc_t cc;
    kve_cc_parse_response(&cc, t->h, t->n, h2o_iovec_init(NULL, 0));
    return cc;
}

TEST(cache_surrogate_targets)
{
    static const struct {
        const char *in, *out;
        size_t applied;
    } rows[] = {
        {"max-age=60", "max-age=60", 1},
        {"max-age=60;kvedge", "max-age=60", 1},            /* surrogate-max-age-me-target */
        {"max-age=60; KVEdge ", "max-age=60", 1},          /* the token in any case, OWS around it */
        {"max-age=60;not-for-you", "", 0},                 /* surrogate-max-age-other-target */
        {"max-age=5, max-age=60;kvedge", "max-age=60", 2}, /* targeted at kvedge beats untargeted */
        {"no-store;other, max-age=60", "max-age=60", 1},   /* another device's no-store is not ours */
        {"content=\"a;b, c\", max-age=9", "max-age=9", 2}, /* ';' and ',' inside quotes do not split */
        {"max-age=60;kvedge-2", "", 0},                    /* a longer token is another device */
        {"max-age=10000;CAPABILITY_TARGET", "", 0},        /* the suite's placeholder without our capability */
        {",, ,", "", 0},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        cache_hdrs_t t;
        kve_cc_t cc;
        kve_cc_init(&cc);
        HDRS(t, "Surrogate-Control", rows[i].in);
        CHECK_EQ_UINT(kve_cc_parse_surrogate(&cc, t.h, t.n), rows[i].applied);
        CHECK_EQ_STR(canon(&cc), rows[i].out);
    }
}

TEST(cache_surrogate_source)
{
    cache_hdrs_t t;
    kve_cc_t cc;
    /* surrogate-fresh-cc-nostore: Surrogate-Control for kvedge overrides Cache-Control's no-store */
    cc = response(HDRS(t, "Cache-Control", "no-store", "Surrogate-Control", "max-age=10000;kvedge"));
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_SURROGATE);
    CHECK_EQ_STR(canon(&cc), "max-age=10000");
    /* a field that speaks only to other devices leaves Cache-Control in charge */
    cc = response(HDRS(t, "Cache-Control", "max-age=5", "Surrogate-Control", "max-age=10000;other"));
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CACHE_CONTROL);
    CHECK_EQ_STR(canon(&cc), "max-age=5");
    /* several lines: the targeted element of the second line still beats the first line's untargeted one */
    cc = response(HDRS(t, "Surrogate-Control", "max-age=1", "Surrogate-Control", "max-age=99;kvedge"));
    CHECK_EQ_STR(canon(&cc), "max-age=99");
    /* CDN-Cache-Control (RFC 9213) still comes first */
    cc = response(HDRS(t, "Surrogate-Control", "max-age=99;kvedge", "CDN-Cache-Control", "max-age=7"));
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CDN);
    CHECK_EQ_STR(KVE_SURROGATE_CAPABILITY, "kvedge=\"Surrogate/1.0\"");
}

/* headers-omit-headers-listed-in-Connection: the fields the upstream's Connection named leave the response */
TEST(cache_upstream_connection_listed)
{
    h2o_mem_pool_t pool;
    h2o_headers_t headers = {NULL, 0, 0};
    static const char *const names[] = {"a", "B", "c", "keep-alive-ish"};
    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        h2o_add_header_by_str(&pool, &headers, names[i], strlen(names[i]), 1, NULL, H2O_STRLIT("v"));
    CHECK_EQ_UINT(kve_cache_drop_connection_listed(&headers, h2o_iovec_init(NULL, 0)), 0);
    CHECK_EQ_UINT(kve_cache_drop_connection_listed(&headers, h2o_iovec_init(H2O_STRLIT("a, b,close"))), 2);
    CHECK_EQ_UINT(headers.size, 2);
    CHECK_EQ_MEM(headers.entries[0].name->base, headers.entries[0].name->len, "c", 1);
    CHECK_EQ_MEM(headers.entries[1].name->base, headers.entries[1].name->len, "keep-alive-ish", 14);
    h2o_mem_clear_pool(&pool);
}

void kve_suite_cache_surrogate(void)
{
    RUN(cache_upstream_connection_listed);
    RUN(cache_surrogate_targets);
    RUN(cache_surrogate_source);
}
