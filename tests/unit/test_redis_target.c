/* SPDX-License-Identifier: MIT */
/* Table tests for the Redis URL parser (proxy/redis_target.c). */
#include "test.h"
#include "proxy/redis_target.h"

struct url_case {
    const char *url;
    const char *path, *host, *user, *pass;
    int port, db, tls;
};

TEST(parse_valid)
{
    static const struct url_case cases[] = {
        {"redis://127.0.0.1", NULL, "127.0.0.1", NULL, NULL, 6379, 0},
        {"redis://127.0.0.1:6380/2", NULL, "127.0.0.1", NULL, NULL, 6380, 2},
        {"redis://localhost/", NULL, "localhost", NULL, NULL, 6379, 0},
        {"redis://:secret@10.0.0.1:7000", NULL, "10.0.0.1", NULL, "secret", 7000, 0},
        {"redis://app:p%40ss%3Aword@h:1/15", NULL, "h", "app", "p@ss:word", 1, 15},
        {"redis://user@h", NULL, "h", "user", NULL, 6379, 0},
        {"redis://[::1]:6390/1", NULL, "::1", NULL, NULL, 6390, 1},
        {"redis://[::1]", NULL, "::1", NULL, NULL, 6379, 0},
        {"redis://a:b@c@host:2", NULL, "host", "a", "b@c", 2, 0},
        {"unix:///run/redis.sock", "/run/redis.sock", NULL, NULL, NULL, 0, 0},
        {"unix:///run/redis.sock?db=4", "/run/redis.sock", NULL, NULL, NULL, 0, 4},
        {"unix:///tmp/a%20b.sock", "/tmp/a b.sock", NULL, NULL, NULL, 0, 0},
        {"rediss://h:6380", NULL, "h", NULL, NULL, 6380, 0, 1},
        {"rediss://default:p%40ss@redis.example.com:25061/3", NULL, "redis.example.com", "default", "p@ss", 25061, 3, 1},
        {"rediss://[::1]", NULL, "::1", NULL, NULL, 6379, 0, 1},
    };
    size_t i;
    for (i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        kve_redis_target_t t;
        char err[256] = "";
        int ret = kve_redis_parse_url(cases[i].url, &t, err, sizeof(err));
        CHECK_EQ_INT(ret, 0);
        if (ret != 0) {
            fprintf(stderr, "    url %s: %s\n", cases[i].url, err);
            continue;
        }
        CHECK_EQ_STR(t.path, cases[i].path);
        CHECK_EQ_STR(t.host, cases[i].host);
        CHECK_EQ_STR(t.username, cases[i].user);
        CHECK_EQ_STR(t.password, cases[i].pass);
        CHECK_EQ_INT(t.port, cases[i].port);
        CHECK_EQ_INT(t.db, cases[i].db);
        CHECK_EQ_INT(t.tls, cases[i].tls);
        CHECK_NULL(t.ssl_ctx); /* the parser is pure: kve_redis_target_init builds the context */
        kve_redis_target_dispose(&t);
    }
}

TEST(parse_invalid)
{
    static const struct {
        const char *url, *message;
    } cases[] = {
        {"http://127.0.0.1",
         "expected \"embedded\", a redis://, rediss:// or unix:// URL, or an http(s):// URL of a KV REST store"},
        {"ftp://127.0.0.1", "expected \"embedded\", a redis://, rediss:// or unix:// URL, or an http(s):// URL of a KV REST store"},
        {"rediss://", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"rediss://h:0", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"rediss://h/x", "expected a database number after the host, like redis://host:6379/2"},
        {"REDISS://h", "expected \"embedded\", a redis://, rediss:// or unix:// URL, or an http(s):// URL of a KV REST store"},
        {"redis://", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"redis://h:", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"redis://h:0", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"redis://h:65536", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"redis://h:12x", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"redis://[::1", "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0"},
        {"redis://h/abc", "expected a database number after the host, like redis://host:6379/2"},
        {"redis://h/123456", "expected a database number after the host, like redis://host:6379/2"},
        {"redis://u:%zz@h", "bad percent-escape in the user or password of the Redis URL"},
        {"redis://u:%4@h", "bad percent-escape in the user or password of the Redis URL"},
        {"redis://u:%00secret@h", "bad percent-escape in the user or password of the Redis URL"},
        {"rediss://%00@h", "bad percent-escape in the user or password of the Redis URL"},
        {"unix:///tmp/a%00b.sock", "bad percent-escape in the socket path"},
        {"unix://relative.sock", "unix URL needs an absolute path, like unix:///run/redis/redis.sock"},
        {"unix:///s.sock?database=1", "unix URL query must be ?db=N, got \"?database=1\""},
    };
    size_t i;
    for (i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        kve_redis_target_t t;
        char err[256] = "";
        CHECK_EQ_INT(kve_redis_parse_url(cases[i].url, &t, err, sizeof(err)), -1);
        CHECK_EQ_STR(err, cases[i].message);
        CHECK_NULL(t.host);
        CHECK_NULL(t.password);
        CHECK_EQ_INT(t.tls, 0);
    }
}

TEST(unix_path_too_long)
{
    char url[300], err[256];
    kve_redis_target_t t;
    memcpy(url, "unix:///", 8);
    memset(url + 8, 'a', 200);
    url[208] = '\0';
    CHECK_EQ_INT(kve_redis_parse_url(url, &t, err, sizeof(err)), -1);
    CHECK(strstr(err, "unix socket path is too long") != NULL);
}

TEST(target_init_overrides_credentials)
{
    kve_redis_conf_t conf = {0};
    kve_redis_target_t t;
    char err[256];

    conf.url = "redis://u:p@127.0.0.1:7001/3";
    conf.password = "override";
    CHECK_EQ_INT(kve_redis_target_init(&t, &conf, NULL, err, sizeof(err)), 0);
    CHECK_EQ_STR(t.username, "u");
    CHECK_EQ_STR(t.password, "override");
    CHECK_EQ_STR(t.host, "127.0.0.1");
    CHECK_EQ_INT(t.db, 3);
    kve_redis_target_dispose(&t);

    conf.url = "embedded";
    conf.password = NULL;
    CHECK_EQ_INT(kve_redis_target_init(&t, &conf, "/data/redis.sock", err, sizeof(err)), 0);
    CHECK_EQ_STR(t.path, "/data/redis.sock");
    CHECK_NULL(t.host);
    kve_redis_target_dispose(&t);
}

/* a rediss:// target gets its verifying context and the name it checks: the URL's host as written, or the override */
TEST(target_init_tls)
{
    kve_redis_conf_t conf = {0};
    kve_redis_target_t t;
    char err[256];

    conf.url = "rediss://127.0.0.1:6390/1";
    CHECK_EQ_INT(kve_redis_target_init(&t, &conf, NULL, err, sizeof(err)), 0);
    CHECK(t.ssl_ctx != NULL);
    CHECK_EQ_INT(t.tls, 1);
    CHECK_EQ_STR(t.tls_server_name, "127.0.0.1");
    CHECK_EQ_INT(SSL_CTX_get_verify_mode(t.ssl_ctx), SSL_VERIFY_PEER);
    kve_redis_target_dispose(&t);
    CHECK_NULL(t.ssl_ctx);

    conf.tls_server_name = "redis.internal";
    CHECK_EQ_INT(kve_redis_target_init(&t, &conf, NULL, err, sizeof(err)), 0);
    CHECK_EQ_STR(t.tls_server_name, "redis.internal");
    CHECK_EQ_STR(t.host, "127.0.0.1");
    kve_redis_target_dispose(&t);

    /* a plain URL has no context even with the option set (the configuration refuses that combination) */
    conf.url = "redis://127.0.0.1:6390";
    CHECK_EQ_INT(kve_redis_target_init(&t, &conf, NULL, err, sizeof(err)), 0);
    CHECK_NULL(t.ssl_ctx);
    CHECK_NULL(t.tls_server_name);
    kve_redis_target_dispose(&t);
}

TEST(tls_ctx_errors)
{
    kve_redis_conf_t conf = {0};
    char err[512];

    conf.url = "rediss://127.0.0.1";
    conf.ca_file = "/nonexistent/ca.pem";
    CHECK_NULL(kve_redis_tls_ctx_create(&conf, "127.0.0.1", err, sizeof(err)));
    CHECK_EQ_STR(err, "cannot load CA certificates from /nonexistent/ca.pem");
    conf.ca_file = NULL;
    conf.tls_key_file = "/nonexistent/key.pem";
    CHECK_NULL(kve_redis_tls_ctx_create(&conf, "127.0.0.1", err, sizeof(err)));
    CHECK_EQ_STR(err, "a client certificate needs both tls_cert_file and tls_key_file");
    conf.tls_cert_file = "/nonexistent/cert.pem";
    CHECK_NULL(kve_redis_tls_ctx_create(&conf, "127.0.0.1", err, sizeof(err)));
    CHECK(strncmp(err, "cannot load the client certificate from /nonexistent/cert.pem", 61) == 0);
}

void kve_suite_redis_target(void)
{
    RUN(parse_valid);
    RUN(parse_invalid);
    RUN(unix_path_too_long);
    RUN(target_init_overrides_credentials);
    RUN(target_init_tls);
    RUN(tls_ctx_errors);
}
