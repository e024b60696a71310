/* SPDX-License-Identifier: MIT */
/*
 * Tests of the sessions' CSRF gate (issue 10, S13; handlers/session_csrf.c): origin normalisation as a table (schemes,
 * case, default ports, IPv6, userinfo, paths, junk, lengths), and the gate's decision on requests built in a pool:
 * safe methods, Fetch Metadata before Origin before Referer, listed origins, headers sent twice, plain http behind TLS.
 */
#include "test.h"
#include <stdarg.h>
#include "handlers/session_csrf.h"
#include "proxy/common.h"

TEST(origin_table)
{
    static const struct {
        const char *in;
        int url;
        const char *out; /* NULL: refused */
    } rows[] = {
        {"https://app.example", 0, "https://app.example"},
        {"HTTPS://App.Example:443", 0, "https://app.example"},
        {"http://app.example:80", 0, "http://app.example"},
        {"http://app.example:443", 0, "http://app.example:443"},
        {"https://app.example:8443", 0, "https://app.example:8443"},
        {"http://127.0.0.1:8080", 0, "http://127.0.0.1:8080"},
        {"http://[::1]:8080", 0, "http://[::1]:8080"},
        {"http://[::1]", 0, "http://[::1]"},
        {"https://app.example/path", 1, "https://app.example"},
        {"https://app.example:444?x", 1, "https://app.example:444"},
        {"https://app.example#f", 1, "https://app.example"},
        {"https://app.example/path", 0, NULL},
        {"https://app.example/", 0, NULL},
        {"https://user@app.example", 0, NULL},
        {"https://user@app.example/", 1, NULL},
        {"https://app.example:", 0, NULL},
        {"https://app.example:0", 0, NULL},
        {"https://app.example:65536", 0, NULL},
        {"https://app.example:123456", 0, NULL},
        {"https://app.example:12a", 0, NULL},
        {"https://", 0, NULL},
        {"https://[]", 0, NULL},
        {"https://[::1", 0, NULL},
        {"ftp://app.example", 0, NULL},
        {"null", 0, NULL},
        {"*", 0, NULL},
        {"", 0, NULL},
        {"app.example", 0, NULL},
        {"https:/app.example", 0, NULL},
        {"https://app example", 0, NULL},
        {"https://app.example\r\nx", 0, NULL},
    };
    char out[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    for (size_t i = 0; i != KVE_ARRAY_SIZE(rows); ++i) {
        int n = kve_session_csrf_origin(h2o_iovec_init(rows[i].in, strlen(rows[i].in)), rows[i].url, out);
        if (rows[i].out == NULL) {
            if (n >= 0)
                fprintf(stderr, "    row %zu (%s): accepted as %s\n", i, rows[i].in, out);
            CHECK(n < 0);
        } else {
            CHECK(n >= 0);
            if (n >= 0)
                CHECK_EQ_STR(out, rows[i].out);
        }
    }
}

TEST(origin_length_bound)
{
    char in[KVE_SESSION_CSRF_ORIGIN_MAX + 64], out[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    memcpy(in, "https://", 8);
    memset(in + 8, 'a', sizeof(in) - 8);
    /* a host that fits */
    CHECK(kve_session_csrf_origin(h2o_iovec_init(in, 8 + KVE_SESSION_CSRF_ORIGIN_MAX - 16), 0, out) > 0);
    /* longer: never an origin (so never same-origin nor listed) */
    CHECK(kve_session_csrf_origin(h2o_iovec_init(in, 8 + KVE_SESSION_CSRF_ORIGIN_MAX - 15), 0, out) < 0);
    CHECK(kve_session_csrf_origin(h2o_iovec_init(in, sizeof(in)), 0, out) < 0);
}

static void init_req(h2o_req_t *req, const char *method, int https, const char *host)
{
    memset(req, 0, sizeof(*req));
    h2o_mem_init_pool(&req->pool);
    req->method = h2o_iovec_init(method, strlen(method));
    req->input.scheme = https ? &H2O_URL_SCHEME_HTTPS : &H2O_URL_SCHEME_HTTP;
    req->input.authority = h2o_iovec_init(host, strlen(host));
}

static void add(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->headers, name, strlen(name), 1, NULL, value, strlen(value));
}

/* the verdict on `method` to https://app.example with the headers name, value, ... (NULL-terminated) */
static kve_session_csrf_verdict_t judge(const kve_session_conf_t *conf, const char *method, int https, const char *host, ...)
{
    h2o_req_t req;
    va_list ap;
    const char *n;
    kve_session_csrf_verdict_t v;
    init_req(&req, method, https, host);
    va_start(ap, host);
    while ((n = va_arg(ap, const char *)) != NULL)
        add(&req, n, va_arg(ap, const char *));
    va_end(ap);
    v = kve_session_csrf_check(&req, conf);
    CHECK_EQ_INT(kve_session_csrf_allowed(&req, conf), v == KVE_SESSION_CSRF_OK);
    h2o_mem_clear_pool(&req.pool);
    return v;
}

#define H "app.example"

TEST(gate)
{
    static char *listed[] = {"https://partner.example"};
    kve_session_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    conf.csrf.enabled = 1;

    /* safe methods, and requests without any browser header */
    CHECK_EQ_INT(judge(&conf, "GET", 1, H, "origin", "https://evil.example", "sec-fetch-site", "cross-site", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "HEAD", 1, H, "sec-fetch-site", "cross-site", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "OPTIONS", 1, H, "origin", "https://evil.example", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, NULL), 0);
    /* a method is case-sensitive: "get" is not GET */
    CHECK_EQ_INT(judge(&conf, "get", 1, H, "origin", "https://evil.example", NULL), KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "PROPPATCH", 1, H, "origin", "https://evil.example", NULL), KVE_SESSION_CSRF_ORIGIN);

    /* Fetch Metadata first */
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "sec-fetch-site", "cross-site", NULL), KVE_SESSION_CSRF_FETCH_SITE);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "sec-fetch-site", "same-site", NULL), KVE_SESSION_CSRF_FETCH_SITE);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "sec-fetch-site", "", NULL), KVE_SESSION_CSRF_FETCH_SITE);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "sec-fetch-site", "same-origin", "sec-fetch-site", "cross-site", NULL),
                 KVE_SESSION_CSRF_FETCH_SITE);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "sec-fetch-site", "same-origin", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "DELETE", 1, H, "sec-fetch-site", "none", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "sec-fetch-site", "cross-site", "origin", "https://app.example", NULL),
                 KVE_SESSION_CSRF_FETCH_SITE);
    CHECK_EQ_INT(judge(&conf, "POST", 1, "other.example", "sec-fetch-site", "same-origin", "origin", "https://app.example", NULL),
                 0);

    /* then Origin */
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://app.example", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, "APP.example:443", "origin", "https://app.EXAMPLE", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "http://app.example", NULL), KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "POST", 0, H, "origin", "http://app.example", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 0, H, "origin", "https://app.example", NULL), 0); /* TLS ended in front */
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://app.example:8443", NULL), KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "POST", 1, "app.example:8443", "origin", "https://app.example:8443", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://sub.app.example", NULL), KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://app.example.evil", NULL), KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "null", NULL), KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://app.example", "origin", "https://app.example", NULL),
                 KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "POST", 1, "", "origin", "https://app.example", NULL), KVE_SESSION_CSRF_ORIGIN);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://app.example", "referer", "https://evil.example/", NULL), 0);

    /* then Referer */
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "referer", "https://app.example/a/b?c#d", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "referer", "https://evil.example/app.example", NULL), KVE_SESSION_CSRF_REFERER);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "referer", "https://app.example.evil.example/", NULL), KVE_SESSION_CSRF_REFERER);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "referer", "about:blank", NULL), KVE_SESSION_CSRF_REFERER);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "referer", "https://app.example/", "referer", "https://app.example/", NULL),
                 KVE_SESSION_CSRF_REFERER);

    /* listed origins, even from a sibling site */
    conf.csrf.origins.entries = listed;
    conf.csrf.origins.size = 1;
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://partner.example", "sec-fetch-site", "cross-site", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://Partner.example:443", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "referer", "https://partner.example/form", NULL), 0);
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "http://partner.example", "sec-fetch-site", "cross-site", NULL),
                 KVE_SESSION_CSRF_FETCH_SITE);

    /* off */
    conf.csrf.enabled = 0;
    CHECK_EQ_INT(judge(&conf, "POST", 1, H, "origin", "https://evil.example", "sec-fetch-site", "cross-site", NULL), 0);
    CHECK_EQ_STR(kve_session_csrf_reason(KVE_SESSION_CSRF_FETCH_SITE), "Sec-Fetch-Site");
}

void kve_suite_session_csrf(void)
{
    RUN(origin_table);
    RUN(origin_length_bound);
    RUN(gate);
}
