/* SPDX-License-Identifier: MIT */
/*
 * Tests for named stores in the configuration: the engine's KVE_T_DICT (conf/conf.c: names in file order, a scalar
 * for the shorthand, null as empty, bad and duplicate names, the count limit) and conf/stores.c (the store list and
 * its ids, kv.store, what each store connects as). The integration tests (platform_stores.test.mjs) cover the
 * error messages kvedge prints and the stores at runtime; these pin the data the runtime is built from.
 */
#include "test.h"
#include "conf/conf.h"
#include "conf/config.h"

#include <stdlib.h>
#include <unistd.h>
#include "proxy/common.h"

typedef struct {
    char *url;
    uint64_t timeout_ms;
} entry_t;

typedef struct {
    kve_conf_dict_t dict;
} root_t;

static const kve_directive_t entry_table[] = {{"url", KVE_T_STRING, KVE_FIELD(entry_t, url), .dflt = "embedded"},
                                              {"timeout", KVE_T_DURATION, KVE_FIELD(entry_t, timeout_ms), .dflt = "1s"},
                                              {NULL}};

static const kve_directive_t root_table[] = {{"stores", KVE_T_DICT, KVE_FIELD(root_t, dict), 0, 0, 3, .children = entry_table,
                                              .elem_size = sizeof(entry_t), .shorthand = "url"},
                                             {NULL}};

/* loads `yaml` with root_table into `root`; returns the error output (malloc'd, "" when none) */
static char *load(const char *yaml, root_t *root)
{
    char *out = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&out, &size);
    kve_conf_t *conf = kve_conf_new(fp);
    int ret = kve_conf_load_string(conf, "t.yaml", yaml, root_table, root);
    kve_conf_free(conf);
    fclose(fp);
    CHECK_EQ_INT(ret, out[0] == '\0' ? 0 : -1);
    return out;
}

static void expect_error(const char *yaml, const char *errors)
{
    root_t root = {0};
    char *out = load(yaml, &root);
    CHECK_EQ_STR(out, errors);
    free(out);
    kve_conf_free_fields(root_table, &root);
}

static const entry_t *entry(const root_t *root, size_t i)
{
    return (const entry_t *)root->dict.entries + i;
}

TEST(dict_in_file_order)
{
    root_t root = {0};
    char *out = load("stores:\n  zeta: redis://z\n  alpha:\n    url: redis://a\n    timeout: 5s\n  m-1_x: {}\n", &root);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_UINT(root.dict.size, 3);
    CHECK_EQ_STR(root.dict.names[0], "zeta");
    CHECK_EQ_STR(entry(&root, 0)->url, "redis://z"); /* the shorthand */
    CHECK_EQ_UINT(entry(&root, 0)->timeout_ms, 1000);
    CHECK_EQ_STR(root.dict.names[1], "alpha");
    CHECK_EQ_STR(entry(&root, 1)->url, "redis://a");
    CHECK_EQ_UINT(entry(&root, 1)->timeout_ms, 5000);
    CHECK_EQ_STR(root.dict.names[2], "m-1_x");
    CHECK_EQ_STR(entry(&root, 2)->url, "embedded"); /* the defaults */
    free(out);
    kve_conf_free_fields(root_table, &root);
    CHECK_EQ_UINT(root.dict.size, 0);
    CHECK_NULL(root.dict.names);
}

TEST(dict_null_and_absent)
{
    root_t root = {0};
    char *out = load("stores:\n", &root);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_UINT(root.dict.size, 0);
    free(out);
    out = load("{}\n", &root);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_UINT(root.dict.size, 0);
    free(out);
    kve_conf_free_fields(root_table, &root);
}

TEST(dict_errors)
{
    expect_error("stores: [a]\n", "t.yaml:1:9: error: stores: expected a mapping of names to settings\n"
                                  "    1 | stores: [a]\n"
                                  "      |         ^\n");
    expect_error("stores:\n  A: x\n", "t.yaml:2:3: error: stores: invalid name \"A\": use 1 to 32 of a-z, 0-9, '_' and '-'\n"
                                      "    2 |   A: x\n"
                                      "      |   ^\n");
    expect_error("stores:\n  \"\": x\n", "t.yaml:2:3: error: stores: invalid name \"\": use 1 to 32 of a-z, 0-9, '_' and '-'\n"
                                         "    2 |   \"\": x\n"
                                         "      |   ^\n");
    expect_error("stores:\n  a.b: x\n", "t.yaml:2:3: error: stores: invalid name \"a.b\": use 1 to 32 of a-z, 0-9, '_' and '-'\n"
                                        "    2 |   a.b: x\n"
                                        "      |   ^\n");
    expect_error("stores:\n  a: x\n  a: y\n", "t.yaml:3:3: error: stores: duplicate name \"a\" (first defined at line 2)\n"
                                              "    3 |   a: y\n"
                                              "      |   ^\n");
    expect_error("stores:\n  a: x\n  b: x\n  c: x\n  d: x\n", "t.yaml:2:3: error: stores: too many entries: 4 (at most 3)\n"
                                                              "    2 |   a: x\n"
                                                              "      |   ^\n");
    /* an entry's own errors carry its name in the key path */
    expect_error("stores:\n  a:\n    timeout: soon\n",
                 "t.yaml:3:14: error: stores.a.timeout: expected a duration like \"30s\" or \"5m\", got \"soon\"\n"
                 "    3 |     timeout: soon\n"
                 "      |              ^\n");
}

/* writes `yaml` (after a listen: section) to a temp file and loads it as kvedge's configuration */
static int load_config(const char *yaml, kve_config_t *cfg, char **errors)
{
    char path[] = "/tmp/kve_test_stores_XXXXXX";
    size_t size = 0;
    int fd = mkstemp(path), ret;
    FILE *fp = open_memstream(errors, &size);
    static const char listen[] = "listen:\n  - port: 8080\n";

    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, listen, sizeof(listen) - 1), (ssize_t)sizeof(listen) - 1);
    CHECK_EQ_INT(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    ret = kve_config_load(cfg, path, fp);
    fclose(fp);
    unlink(path);
    return ret;
}

#define TOKENS "  tokens:\n    - token: abcdefghijklmnopqrstuvwxyz\n"

TEST(store_ids)
{
    kve_config_t cfg = {0};
    char *errors;
    size_t id = 99;

    /* "default" first wherever it is written, then the others in file order */
    CHECK_EQ_INT(load_config("stores:\n  b: redis://127.0.0.1:7002\n  default: redis://127.0.0.1:7000\n"
                             "  a: embedded\nkv:\n  store: a\n" TOKENS,
                             &cfg, &errors),
                 0);
    CHECK_EQ_STR(errors, "");
    CHECK_EQ_UINT(cfg.stores.size, 3);
    CHECK_EQ_STR(cfg.stores.entries[0].name, "default");
    CHECK_EQ_STR(cfg.stores.entries[0].redis->url, "redis://127.0.0.1:7000");
    CHECK_EQ_STR(cfg.stores.entries[1].name, "b");
    CHECK_EQ_STR(cfg.stores.entries[2].name, "a");
    CHECK_EQ_INT(kve_config_store_id(&cfg, "b", &id), 0);
    CHECK_EQ_UINT(id, 1);
    CHECK_EQ_INT(kve_config_store_id(&cfg, "nope", &id), -1);
    CHECK_EQ_UINT(cfg.kv.store_id, 2);
    CHECK_EQ_STR(kve_config_kv_store(&cfg)->name, "a");
    CHECK(kve_config_uses_embedded_redis(&cfg));
    free(errors);
    kve_config_dispose(&cfg);

    /* redis: is the default store; no stores at all: an embedded default */
    memset(&cfg, 0, sizeof(cfg));
    CHECK_EQ_INT(load_config("redis: redis://127.0.0.1:7000\nstores:\n  c: redis://127.0.0.1:7001\n", &cfg, &errors), 0);
    CHECK_EQ_UINT(cfg.stores.size, 2);
    CHECK(cfg.stores.entries[0].redis == &cfg.redis);
    CHECK_EQ_STR(cfg.stores.entries[1].name, "c");
    CHECK(!kve_config_uses_embedded_redis(&cfg));
    free(errors);
    kve_config_dispose(&cfg);
    memset(&cfg, 0, sizeof(cfg));
    CHECK_EQ_INT(load_config("kv:\n" TOKENS, &cfg, &errors), 0);
    CHECK_EQ_UINT(cfg.stores.size, 1);
    CHECK_EQ_STR(cfg.stores.entries[0].name, "default");
    CHECK_EQ_STR(cfg.stores.entries[0].redis->url, "embedded");
    CHECK_EQ_UINT(cfg.kv.store_id, 0);
    free(errors);
    kve_config_dispose(&cfg);

    /* named stores only: there is no default store */
    memset(&cfg, 0, sizeof(cfg));
    CHECK_EQ_INT(load_config("stores:\n  c: redis://127.0.0.1:7001\n", &cfg, &errors), 0);
    CHECK_EQ_UINT(cfg.stores.size, 1);
    CHECK_EQ_INT(kve_config_store_id(&cfg, "default", &id), -1);
    free(errors);
    kve_config_dispose(&cfg);
}

/* issue 11: the implicit `default: embedded` exists only when a feature uses a store; a written store is always kept */
TEST(implicit_store_only_when_used)
{
    static const char *const uses[] = {"kv:\n" TOKENS,
                                       "routes:\n  - path: /a\n    upstream: http://127.0.0.1:9/\n    cache: true\n",
                                       "routes:\n  - path: /a\n    upstream: http://127.0.0.1:9/\n    session:\n      jwt_key: "
                                       "0123456789abcdef0123456789abcdef\n"};
    kve_config_t cfg = {0};
    char *errors = NULL;

    CHECK_EQ_INT(load_config("routes:\n  - path: /a\n    upstream: http://127.0.0.1:9/\n", &cfg, &errors), 0);
    CHECK_EQ_UINT(cfg.stores.size, 0);
    CHECK(!kve_config_uses_embedded_redis(&cfg));
    free(errors);
    kve_config_dispose(&cfg);
    for (size_t i = 0; i != sizeof(uses) / sizeof(uses[0]); ++i) {
        memset(&cfg, 0, sizeof(cfg));
        CHECK_EQ_INT(load_config(uses[i], &cfg, &errors), 0);
        CHECK_EQ_UINT(cfg.stores.size, 1);
        CHECK(kve_config_uses_embedded_redis(&cfg));
        free(errors);
        kve_config_dispose(&cfg);
    }
    memset(&cfg, 0, sizeof(cfg)); /* written, unused: kept */
    CHECK_EQ_INT(load_config("redis: embedded\nroutes:\n  - path: /a\n    upstream: http://127.0.0.1:9/\n", &cfg, &errors), 0);
    CHECK_EQ_UINT(cfg.stores.size, 1);
    CHECK(kve_config_uses_embedded_redis(&cfg));
    free(errors);
    kve_config_dispose(&cfg);
}

TEST(store_specs)
{
    kve_config_t cfg = {0};
    kve_redis_users_t users = {0};
    kve_store_spec_t specs[KVE_STORES_MAX];
    char *errors;

    /* the KV API on a named embedded store: it connects as kvedge's users, the default store as its own */
    CHECK_EQ_INT(load_config("redis:\n  url: redis://127.0.0.1:7000\n  username: app\nstores:\n  local: embedded\n"
                             "kv:\n  store: local\n" TOKENS,
                             &cfg, &errors),
                 0);
    CHECK_EQ_STR(errors, "");
    kve_config_users_build(&cfg, &users);
    kve_config_store_specs(&cfg, &users, specs);
    CHECK_EQ_STR(specs[0].name, "default");
    CHECK_NULL(specs[0].username); /* redis.username, through specs[0].redis */
    CHECK_EQ_STR(specs[0].redis->username, "app");
    CHECK_NULL(specs[0].ro_username);
    CHECK_NULL(specs[0].refused);
    CHECK_EQ_STR(specs[1].name, "local");
    CHECK_EQ_STR(specs[1].username, users.rw_name);
    CHECK_EQ_STR(specs[1].ro_username, users.ro_name);
    CHECK_NOT_NULL(specs[1].refused);
    CHECK_NOT_NULL(specs[1].ro_refused);
    CHECK(users.embedded_args.n != 0);
    kve_config_users_dispose(&users);
    free(errors);
    kve_config_dispose(&cfg);

    /* the KV API on a named external store with a read-only user */
    memset(&cfg, 0, sizeof(cfg));
    memset(&users, 0, sizeof(users));
    CHECK_EQ_INT(load_config("redis: embedded\nstores:\n  central:\n    url: redis://127.0.0.1:7001\n    read_only_username: ro\n"
                             "kv:\n  store: central\n" TOKENS,
                             &cfg, &errors),
                 0);
    CHECK_EQ_STR(errors, "");
    kve_config_users_build(&cfg, &users);
    kve_config_store_specs(&cfg, &users, specs);
    CHECK_NULL(specs[0].ro_username); /* the embedded default store, not the KV API's: no read-only link */
    CHECK_NULL(specs[0].refused);
    CHECK_EQ_UINT(users.embedded_args.n, 0); /* kvedge creates no users on a Redis the KV API does not use */
    CHECK_NULL(specs[1].username);
    CHECK_EQ_STR(specs[1].ro_username, "ro");
    CHECK_NOT_NULL(specs[1].refused);
    kve_config_users_dispose(&users);
    free(errors);
    kve_config_dispose(&cfg);
}

/* issue 9: a store whose url is http:// or https:// is a KV REST store, with a token (a secret: token_file and
 * ${ENV} work as for the others) and, for https, a CA file; every Redis form keeps working */
static int load_error(const char *yaml, const char *want)
{
    kve_config_t cfg = {0};
    char *errors;
    int ret = load_config(yaml, &cfg, &errors), found = strstr(errors, want) != NULL;

    if (!found || ret == 0)
        fprintf(stderr, "want an error with \"%s\", got: %s", want, errors);
    if (strstr(errors, "s3cr3t-token") != NULL) {
        fprintf(stderr, "the token is shown: %s", errors);
        found = 0;
    }
    free(errors);
    kve_config_dispose(&cfg);
    return ret != 0 && found;
}

TEST(rest_stores)
{
    kve_config_t cfg = {0};
    char *errors, path[] = "/tmp/kve_test_token_XXXXXX";
    int fd = mkstemp(path);

    CHECK_EQ_INT(load_config("stores:\n  central: { url: https://eu1.example.upstash.io, token: s3cr3t-token }\n"
                             "  local: embedded\n  tcp: redis://127.0.0.1:7001\nkv:\n  store: central\n" TOKENS,
                             &cfg, &errors),
                 0);
    CHECK_EQ_STR(errors, "");
    CHECK_EQ_STR(cfg.stores.entries[0].redis->token, "s3cr3t-token");
    CHECK(kve_redis_url_is_rest(cfg.stores.entries[0].redis->url));
    CHECK(!kve_redis_url_is_rest(cfg.stores.entries[1].redis->url));
    free(errors);
    kve_config_dispose(&cfg);

    /* redis: with a path prefix (another kvedge's /kv), the token from the environment */
    setenv("KVE_TEST_REST_TOKEN", "s3cr3t-token", 1);
    memset(&cfg, 0, sizeof(cfg));
    CHECK_EQ_INT(load_config("redis: { url: 'http://127.0.0.1:9/kv', token: '${KVE_TEST_REST_TOKEN}' }\n", &cfg, &errors), 0);
    CHECK_EQ_STR(errors, "");
    CHECK_EQ_STR(cfg.redis.token, "s3cr3t-token");
    free(errors);
    kve_config_dispose(&cfg);

    /* token_file */
    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, "s3cr3t-token\n", 13), 13);
    close(fd);
    {
        char yaml[256];
        snprintf(yaml, sizeof(yaml), "redis: { url: 'https://127.0.0.1:9', token_file: '%s' }\n", path);
        memset(&cfg, 0, sizeof(cfg));
        CHECK_EQ_INT(load_config(yaml, &cfg, &errors), 0);
        CHECK_EQ_STR(errors, "");
        CHECK_EQ_STR(cfg.redis.token, "s3cr3t-token");
        free(errors);
        kve_config_dispose(&cfg);
    }
    unlink(path);

    CHECK(load_error("redis: https://eu1.example.upstash.io\n", "needs its token"));
    CHECK(load_error("redis: { url: 'https://127.0.0.1:9', token: '${KVE_TEST_SURELY_UNSET:-}' }\n", "token"));
    CHECK(load_error("redis: { url: 'redis://127.0.0.1:7000', token: s3cr3t-token }\n",
                     "only a KV REST store (an http:// or https:// url) takes a token"));
    CHECK(load_error("redis: { url: 'http://127.0.0.1:9', token: s3cr3t-token, ca_file: /etc/ssl/certs/ca-certificates.crt }\n",
                     "ca_file: only an https:// store"));
    CHECK(load_error("redis: { url: 'https://127.0.0.1:9', token: s3cr3t-token, password: x }\n",
                     "password: a KV REST store (http:// or https:// url) authenticates with a token"));
    CHECK(load_error("redis: { url: 'https://127.0.0.1:9', token: s3cr3t-token, ca_file: /nonexistent/ca.pem }\n", "url:"));
    CHECK(load_error("redis: { url: 'https://127.0.0.1:9/kv?x=1', token: s3cr3t-token }\n", "no query"));
    /* rediss:// (issue 12): its TLS options, and TLS options where there is no TLS */
    CHECK(load_error("redis: { url: 'rediss://127.0.0.1:6390', ca_file: /nonexistent/ca.pem }\n",
                     "ca_file: cannot load CA certificates from /nonexistent/ca.pem"));
    CHECK(load_error("redis: { url: 'rediss://127.0.0.1:6390', tls_key_file: /nonexistent/k.pem }\n",
                     "both tls_cert_file and tls_key_file"));
    CHECK(load_error("redis: { url: 'redis://127.0.0.1:6390', tls_server_name: redis.internal }\n",
                     "tls_server_name: only a store reached over TLS (a rediss:// or https:// url) takes TLS options"));
    CHECK(load_error("redis: { url: 'redis://127.0.0.1:6390', ca_file: /etc/ssl/certs/ca-certificates.crt }\n",
                     "ca_file: only a store reached over TLS"));
    CHECK(load_error("redis: { url: embedded, tls_cert_file: /etc/ssl/certs/ca-certificates.crt }\n",
                     "tls_cert_file: only a store reached over TLS"));
    CHECK(load_error("redis: { url: 'https://127.0.0.1:9', token: s3cr3t-token, tls_server_name: x }\n",
                     "are for a rediss:// store"));
}

/* min_replicas_ack (issue 12): off by default with a 100 ms timeout; set per store; refused where it cannot work */
TEST(min_replicas_ack)
{
    kve_config_t cfg = {0};
    char *errors;

    CHECK_EQ_INT(load_config("redis:\n  url: redis://127.0.0.1:7000\nstores:\n  acked:\n    url: redis://127.0.0.1:7001\n"
                             "    min_replicas_ack: 2\n    min_replicas_ack_timeout: 250ms\nkv:\n" TOKENS,
                             &cfg, &errors),
                 0);
    CHECK_EQ_STR(errors, "");
    CHECK_EQ_STR(cfg.stores.entries[0].name, "default");
    CHECK_EQ_INT((int)cfg.stores.entries[0].redis->min_replicas_ack, 0);
    CHECK_EQ_UINT(cfg.stores.entries[0].redis->min_replicas_ack_timeout_ms, 100);
    CHECK_EQ_STR(cfg.stores.entries[1].name, "acked");
    CHECK_EQ_INT((int)cfg.stores.entries[1].redis->min_replicas_ack, 2);
    CHECK_EQ_UINT(cfg.stores.entries[1].redis->min_replicas_ack_timeout_ms, 250);
    free(errors);
    kve_config_dispose(&cfg);

    static const char *const bad[][2] = {
        {"redis:\n  url: embedded\n  min_replicas_ack: 1\nkv:\n" TOKENS, "only a store on an external Redis"},
        {"redis:\n  url: redis://127.0.0.1:7000\n  min_replicas_ack: 1\n  command_timeout: 100ms\nkv:\n" TOKENS,
         "min_replicas_ack_timeout: 100ms, but it must be below command_timeout (100ms)"},
        {"redis:\n  url: redis://127.0.0.1:7000\n  min_replicas_ack: 65\nkv:\n" TOKENS, "min_replicas_ack"},
        {"redis:\n  url: redis://127.0.0.1:7000\n  min_replicas_ack: 1\n  min_replicas_ack_timeout: 0s\nkv:\n" TOKENS,
         "min_replicas_ack_timeout"},
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        memset(&cfg, 0, sizeof(cfg));
        CHECK(load_config(bad[i][0], &cfg, &errors) != 0);
        CHECK_NOT_NULL(strstr(errors, bad[i][1]));
        free(errors);
        kve_config_dispose(&cfg);
    }
}

void kve_suite_conf_stores(void)
{
    RUN(dict_in_file_order);
    RUN(dict_null_and_absent);
    RUN(dict_errors);
    RUN(store_ids);
    RUN(implicit_store_only_when_used);
    RUN(store_specs);
    RUN(rest_stores);
    RUN(min_replicas_ack);
}
