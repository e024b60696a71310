/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/httpclient_upstream.c: the upstream's URL (scheme, port, Host header, literal addresses,
 * unix sockets), the limits refused, the TLS context (CA file). The request machinery needs sockets and is
 * covered by tests/integration/httpclient_*.test.mjs through kve_hc_driver.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/httpclient_internal.h"

#include <netinet/in.h>

static kve_httpclient_upstream_t *create(const char *url, void (*tweak)(kve_httpclient_conf_t *), char *err, size_t errlen)
{
    kve_httpclient_conf_t c;
    kve_httpclient_conf_defaults(&c);
    c.url = url;
    if (tweak != NULL)
        tweak(&c);
    err[0] = '\0';
    return kve_httpclient_upstream_create(&c, err, errlen);
}

TEST(urls)
{
    char err[256];
    kve_httpclient_upstream_t *up;

    up = create("http://127.0.0.1:8080", NULL, err, sizeof(err));
    CHECK_NOT_NULL(up);
    CHECK_EQ_STR(up->host, "127.0.0.1");
    CHECK_EQ_INT(up->port, 8080);
    CHECK_EQ_STR(up->authority, "127.0.0.1:8080");
    CHECK_EQ_INT(up->addr.ss_family, AF_INET);
    CHECK_EQ_INT(up->is_tls, 0);
    kve_httpclient_upstream_destroy(up);

    up = create("http://[::1]/", NULL, err, sizeof(err));
    CHECK_NOT_NULL(up);
    CHECK_EQ_STR(up->host, "::1");
    CHECK_EQ_INT(up->port, 80);
    CHECK_EQ_STR(up->authority, "[::1]");
    CHECK_EQ_INT(up->addr.ss_family, AF_INET6);
    kve_httpclient_upstream_destroy(up);

    up = create("http://example.test", NULL, err, sizeof(err));
    CHECK_NOT_NULL(up);
    CHECK_EQ_UINT(up->addrlen, 0); /* a name: resolved per connection */
    kve_httpclient_upstream_destroy(up);

    up = create("http://[unix:/tmp/x.sock]", NULL, err, sizeof(err));
    CHECK_NOT_NULL(up);
    CHECK_EQ_INT(up->addr.ss_family, AF_UNIX);
    CHECK_EQ_STR(up->authority, "localhost");
    kve_httpclient_upstream_destroy(up);

    up = create("https://example.test", NULL, err, sizeof(err));
    CHECK_NOT_NULL(up);
    CHECK_EQ_INT(up->port, 443);
    CHECK_NOT_NULL(up->ssl_ctx);
    CHECK_EQ_STR(up->server_name, "example.test");
    kve_httpclient_upstream_destroy(up);
}

static void tls_name(kve_httpclient_conf_t *c)
{
    c->tls_server_name = "api.example.test";
}
static void bad_ca(kve_httpclient_conf_t *c)
{
    c->ca_file = "/nonexistent/ca.pem";
}

TEST(tls)
{
    char err[256];
    kve_httpclient_upstream_t *up = create("https://127.0.0.1:8443", tls_name, err, sizeof(err));
    CHECK_NOT_NULL(up);
    CHECK_EQ_STR(up->server_name, "api.example.test");
    kve_httpclient_upstream_destroy(up);
    CHECK_NULL(create("https://127.0.0.1:8443", bad_ca, err, sizeof(err)));
    CHECK_EQ_STR(err, "cannot load CA certificates from /nonexistent/ca.pem");
}

static void zero_connect(kve_httpclient_conf_t *c)
{
    c->connect_timeout_ms = 0;
}
static void zero_io(kve_httpclient_conf_t *c)
{
    c->io_timeout_ms = 0;
}
static void zero_inflight(kve_httpclient_conf_t *c)
{
    c->max_inflight = 0;
}
static void tiny_head(kve_httpclient_conf_t *c)
{
    c->max_head_size = 100;
}
static void huge_head(kve_httpclient_conf_t *c)
{
    c->max_head_size = 2 * 1024 * 1024;
}
static void many_headers(kve_httpclient_conf_t *c)
{
    c->max_headers = KVE_HTTPCLIENT_MAX_HEADERS + 1;
}
static void no_headers(kve_httpclient_conf_t *c)
{
    c->max_headers = 0;
}

TEST(refused)
{
    static const struct {
        const char *url;
        void (*tweak)(kve_httpclient_conf_t *);
        const char *err_prefix;
    } cases[] = {
        {NULL, NULL, "upstream URL missing"},           {"ftp://x", NULL, "cannot parse upstream URL"},
        {"http://", NULL, "cannot parse upstream URL"}, {"http://x/api", NULL, "upstream URL http://x/api: a path is not allowed"},
        {"http://x", zero_connect, "connect_timeout"},  {"http://x", zero_io, "io_timeout"},
        {"http://x", zero_inflight, "max_inflight"},    {"http://x", tiny_head, "max_head_size"},
        {"http://x", huge_head, "max_head_size"},       {"http://x", many_headers, "max_headers"},
        {"http://x", no_headers, "max_headers"},
    };
    char err[256];
    for (size_t i = 0; i != KVE_ARRAY_SIZE(cases); ++i) {
        kve_httpclient_upstream_t *up = create(cases[i].url, cases[i].tweak, err, sizeof(err));
        if (up != NULL) {
            CHECK_FAIL_("case %zu accepted", i);
            kve_httpclient_upstream_destroy(up);
        } else if (strncmp(err, cases[i].err_prefix, strlen(cases[i].err_prefix)) != 0) {
            CHECK_FAIL_("case %zu: \"%s\" does not start with \"%s\"", i, err, cases[i].err_prefix);
        }
    }
}

void kve_suite_httpclient(void)
{
    RUN(urls);
    RUN(tls);
    RUN(refused);
}
