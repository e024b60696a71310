/* SPDX-License-Identifier: MIT */
/*
 * The pure pieces of the cache's request rules: cache.bypass matching and its Cache-Status detail
 * (handlers/cache_bypass.h), the Cache-Status `key` sf-string (handlers/cache_status.h) and the variant count kept
 * in a URL's variant index for cache.max_variants (handlers/cache_record.h).
 */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_bypass.h"
#include "handlers/cache_record.h"
#include "handlers/cache_status.h"

/* the rule a request with the given fields matches (the comma operator orders filling `t` before reading it) */
#define MATCH(list, count, ...) (HDRS(t, __VA_ARGS__), kve_cache_bypass_match(list, count, t.h, t.n))

TEST(cache_rfc_bypass)
{
    kve_cache_bypass_t rules[] = {{.header = "authorization"}, {.cookie = "session"}, {.cookie = "a b"}};
    cache_hdrs_t t;
    char detail[64];

    CHECK_NULL(MATCH(rules, 3, "Accept", "*/*"));
    CHECK(MATCH(rules, 3, "AUTHORIZATION", "") == rules + 0); /* any value, any case */
    CHECK(MATCH(rules, 3, "Cookie", "x=1; session=2") == rules + 1);
    CHECK(MATCH(rules, 3, "Cookie", "x=1", "cookie", "session") == rules + 1);
    CHECK_NULL(MATCH(rules, 3, "Cookie", "xsession=1; sessionx=2; Session=3"));
    CHECK_NULL(MATCH(rules, 3, "X-Cookie", "session=1"));
    CHECK_NULL(MATCH(rules, 2, "Cookie", "a=session")); /* a value is not a name */
    CHECK_NULL(MATCH(NULL, 0, "Authorization", "x"));
    kve_cache_bypass_detail(rules + 0, detail, sizeof(detail));
    CHECK_EQ_STR(detail, "header:authorization");
    kve_cache_bypass_detail(rules + 1, detail, sizeof(detail));
    CHECK_EQ_STR(detail, "cookie:session");
    kve_cache_bypass_detail(rules + 2, detail, sizeof(detail)); /* not an sf-token: the kind only */
    CHECK_EQ_STR(detail, "cookie");
}

static const char *key(const char *enc, size_t len)
{
    static h2o_mem_pool_t pool;
    static int init;
    static char out[KVE_CACHE_STATUS_KEY_MAX + 16];
    h2o_iovec_t v;
    if (!init)
        h2o_mem_init_pool(&pool), init = 1;
    v = kve_cache_status_key(&pool, enc, len);
    CHECK(v.len <= KVE_CACHE_STATUS_KEY_MAX + 2);
    memcpy(out, v.base, v.len);
    out[v.len] = '\0';
    return out;
}

TEST(cache_rfc_status_key)
{
    char big[2000];
    const char *k;
    CHECK_EQ_STR(key("", 0), "\"\"");
    CHECK_EQ_STR(key("GET /a?b", 8), "\"GET /a?b\"");
    CHECK_EQ_STR(key("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    CHECK_EQ_STR(key("\r\n\0%\x7f\xff", 6), "\"%0D%0A%00%25%7F%FF\"");
    memset(big, '\n', sizeof(big));
    k = key(big, sizeof(big));
    CHECK(strlen(k) <= KVE_CACHE_STATUS_KEY_MAX + 2);
    CHECK(strcmp(k + strlen(k) - 4, "...\"") == 0);
    for (const char *p = k; *p != '\0'; ++p)
        CHECK(*p >= 0x20 && *p <= 0x7e);
}

TEST(cache_rfc_index_count)
{
    kve_buf_t a = KVE_BUF_INIT, b = KVE_BUF_INIT;
    const char *gen;
    h2o_iovec_t vary;
    char id[KVE_CACHE_ID_LEN];

    kve_cache_new_id(id);
    kve_cache_index_encode(id, h2o_iovec_init(H2O_STRLIT("accept-language")), &a); /* written before the count existed */
    CHECK_EQ_INT(kve_cache_index_decode(a.base, a.len, &gen, &vary), 0);
    CHECK_EQ_UINT(kve_cache_index_count(a.base, a.len), 1);
    kve_cache_index_encode_count(id, h2o_iovec_init(H2O_STRLIT("accept-language")), 42, &b);
    CHECK_EQ_INT(kve_cache_index_decode(b.base, b.len, &gen, &vary), 0);
    CHECK_EQ_MEM(gen, KVE_CACHE_ID_LEN, id, KVE_CACHE_ID_LEN);
    CHECK_EQ_MEM(vary.base, vary.len, "accept-language", 15);
    CHECK_EQ_UINT(kve_cache_index_count(b.base, b.len), 42);
    /* a record cut short, or with something after the count, is not an index */
    CHECK_EQ_INT(kve_cache_index_decode(b.base, b.len - 1, &gen, &vary), -1);
    kve_buf_append(&b, "x", 1);
    CHECK_EQ_INT(kve_cache_index_decode(b.base, b.len, &gen, &vary), -1);
    kve_buf_dispose(&a);
    kve_buf_dispose(&b);
}

void kve_suite_cache_rfc(void)
{
    RUN(cache_rfc_bypass);
    RUN(cache_rfc_status_key);
    RUN(cache_rfc_index_count);
}
