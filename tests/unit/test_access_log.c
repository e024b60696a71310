/* SPDX-License-Identifier: MIT */
/*
 * Tests for the JSON access log line (handlers/access_json.c) and the token redaction both access log formats use
 * (kve_access_redact_tokens in handlers/access.c), issue 11: every field in order with its escaping, absent fields
 * as null, the protocol names, the duration in milliseconds, a field longer than the cap cut there; `_token`
 * values replaced whatever the name's encoding, other parameters and names left alone.
 */
#include "test.h"
#include "handlers/access.h"
#include "handlers/access_json.h"
#include "proxy/common.h"

#include <stdlib.h>

#define IOV(s) h2o_iovec_init(s, sizeof(s) - 1)
#define NONE h2o_iovec_init(NULL, 0)

static char *format(const kve_access_fields_t *f)
{
    kve_buf_t buf = KVE_BUF_INIT;
    kve_access_json_format(&buf, f);
    kve_buf_putc(&buf, '\0');
    return buf.base;
}

TEST(json_fields)
{
    kve_access_fields_t f = {.time = {1795756496, 7000},
                             .remote_addr = IOV("::1"),
                             .method = IOV("GET"),
                             .host = IOV("h"),
                             .path = IOV("/kv/get/a\"b\\c\xff?_token=REDACTED"),
                             .version = 0x101,
                             .status = 200,
                             .bytes_sent = 12,
                             .duration_us = 1234567,
                             .route = IOV("kv"),
                             .cache = IOV("HIT"),
                             .user_agent = IOV("ua\t\x01"),
                             .referer = NONE,
                             .request_id = IOV("")};
    char *line = format(&f);
    CHECK_EQ_STR(line, "{\"time\":\"2026-11-27T05:14:56.007Z\",\"remote_addr\":\"::1\",\"method\":\"GET\",\"host\":\"h\","
                       "\"path\":\"/kv/get/a\\\"b\\\\c\xef\xbf\xbd?_token=REDACTED\",\"protocol\":\"HTTP/1.1\",\"status\":200,"
                       "\"bytes_sent\":12,\"duration_ms\":1234.567,\"route\":\"kv\",\"cache\":\"HIT\",\"user_agent\":"
                       "\"ua\\t\\u0001\",\"referer\":null,\"request_id\":\"\"}\n");
    free(line);
}

TEST(json_protocols_and_nulls)
{
    static const struct {
        int version;
        const char *want;
    } cases[] = {{0x100, "\"HTTP/1.0\""}, {0x101, "\"HTTP/1.1\""}, {0x200, "\"HTTP/2\""}, {0x9, "\"HTTP/0.9\""}};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(cases); ++i) {
        kve_access_fields_t f = {.version = cases[i].version, .duration_us = 5};
        char *line = format(&f), want[600];
        snprintf(want, sizeof(want),
                 "{\"time\":\"1970-01-01T00:00:00.000Z\",\"remote_addr\":null,\"method\":null,\"host\":null,\"path\":null,"
                 "\"protocol\":%s,\"status\":0,\"bytes_sent\":0,\"duration_ms\":0.005,\"route\":null,\"cache\":null,"
                 "\"user_agent\":null,\"referer\":null,\"request_id\":null}\n",
                 cases[i].want);
        CHECK_EQ_STR(line, want);
        free(line);
    }
}

TEST(json_field_cap)
{
    size_t len = KVE_ACCESS_JSON_MAX_FIELD + 100;
    char *path = kve_malloc(len), *line, *p;
    kve_access_fields_t f = {0};

    memset(path, 'p', len);
    f.path = h2o_iovec_init(path, len);
    line = format(&f);
    p = strstr(line, "\"path\":\"");
    CHECK_NOT_NULL(p);
    if (p != NULL)
        CHECK_EQ_UINT(strspn(p + 8, "p"), KVE_ACCESS_JSON_MAX_FIELD);
    free(line);
    free(path);
}

TEST(redact_tokens)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"/kv/get/a", "/kv/get/a"},
        {"/kv/get/a?_token=s3cret", "/kv/get/a?_token=REDACTED"},
        {"/kv/get/a?_token=", "/kv/get/a?_token=REDACTED"},
        {"/a?x=1&_token=s&y=2", "/a?x=1&_token=REDACTED&y=2"},
        {"/a?%5Ftoken=s&%5f%74oken=t", "/a?%5Ftoken=REDACTED&%5f%74oken=REDACTED"},
        {"/a?_token=s&_token=t", "/a?_token=REDACTED&_token=REDACTED"},
        {"/a?_tokens=s&x_token=s&_token", "/a?_tokens=s&x_token=s&_token"},
        {"/a?+_token=s&_token%=s&%zz=s", "/a?+_token=s&_token%=s&%zz=s"},
        {"http://h/p?a=1&_token=abc#f", "http://h/p?a=1&_token=REDACTED"},
        {"/a?", "/a?"},
        {"/a?&&", "/a?&&"},
    };
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != KVE_ARRAY_SIZE(cases); ++i) {
        h2o_iovec_t got = kve_access_redact_tokens(&pool, h2o_iovec_init(cases[i].in, strlen(cases[i].in)));
        CHECK_EQ_MEM(got.base, got.len, cases[i].want, strlen(cases[i].want));
    }
    CHECK_NULL(kve_access_redact_tokens(&pool, h2o_iovec_init(NULL, 0)).base);
    h2o_mem_clear_pool(&pool);
}

void kve_suite_access_log(void)
{
    RUN(json_fields);
    RUN(json_protocols_and_nulls);
    RUN(json_field_cap);
    RUN(redact_tokens);
}
