/* SPDX-License-Identifier: MIT */
/*
 * Tests for the configuration of a start without a config file (conf/env_config.c), issue 11: what each variable
 * becomes in the YAML, which of two names wins, that hostile values are refused by name without being echoed, and
 * that the text loads through kve_config_load (kve_config_set_source) with the values the environment gives.
 */
#include "test.h"
#include "conf/config.h"
#include "conf/env_config.h"

#include <stdlib.h>
#include <string.h>

/* the fake environment: NULL-terminated name/value pairs */
static const char *const *fake_env;

static char *lookup(const char *name)
{
    for (const char *const *p = fake_env; p[0] != NULL; p += 2) {
        if (strcmp(p[0], name) == 0)
            return (char *)p[1];
    }
    return NULL;
}

static int build(kve_env_config_t *out, const char *const *env, char *err, size_t errlen)
{
    fake_env = env;
    err[0] = '\0';
    return kve_env_config_build(out, lookup, err, errlen);
}

#define TOKEN "tok-0123456789abcdef"

TEST(defaults)
{
    const char *env[] = {"KV_REST_API_TOKEN", TOKEN, NULL};
    kve_env_config_t c;
    char err[256];

    CHECK_EQ_INT(build(&c, env, err, sizeof(err)), 0);
    CHECK_EQ_STR(c.kv_url, "http://127.0.0.1:8080/kv");
    CHECK_EQ_STR(c.token, TOKEN);
    CHECK_NULL(c.read_only_token);
    CHECK_NOT_NULL(strstr(c.yaml, "  - host: \"127.0.0.1\"\n    port: 8080\n"));
    CHECK_NOT_NULL(strstr(c.yaml, "\nredis: embedded "));
    CHECK_NOT_NULL(strstr(c.yaml, "/kvedge-data\"\n"));
    CHECK_NOT_NULL(strstr(c.yaml, "    - token: ${KV_REST_API_TOKEN}\n"));
    CHECK_NULL(strstr(c.yaml, TOKEN)); /* the token stays in the environment */
    CHECK_NULL(strstr(c.yaml, "read-only"));
    kve_env_config_dispose(&c);
}

TEST(no_token_is_not_built)
{
    const char *none[] = {"PORT", "9000", NULL}, *empty[] = {"KV_REST_API_TOKEN", "", NULL};
    kve_env_config_t c;
    char err[256];

    CHECK_EQ_INT(build(&c, none, err, sizeof(err)), 1);
    CHECK_NULL(c.yaml);
    CHECK_EQ_INT(build(&c, empty, err, sizeof(err)), 1);
}

TEST(kvedge_names_win)
{
    const char *env[] = {"KV_REST_API_TOKEN",
                         TOKEN,
                         "PORT",
                         "9000",
                         "KVEDGE_PORT",
                         "9001",
                         "REDIS_URL",
                         "redis://127.0.0.1:1/0",
                         "KVEDGE_REDIS_URL",
                         "redis://127.0.0.1:2/0",
                         "KV_REST_API_READ_ONLY_TOKEN",
                         "ro-0123456789abcdef==",
                         "KVEDGE_HOST",
                         "::",
                         "KVEDGE_DATA_DIR",
                         "/var/lib/k$v",
                         NULL};
    kve_env_config_t c;
    char err[256];

    CHECK_EQ_INT(build(&c, env, err, sizeof(err)), 0);
    CHECK_EQ_STR(c.kv_url, "http://[::1]:9001/kv");
    CHECK_NOT_NULL(strstr(c.yaml, "\nredis: ${KVEDGE_REDIS_URL}\n"));
    CHECK_NOT_NULL(strstr(c.yaml, "\ndata_dir: \"/var/lib/k$$v\"\n"));
    CHECK_NOT_NULL(strstr(c.yaml, "    - token: ${KV_REST_API_READ_ONLY_TOKEN}\n      access: read-only\n"));
    CHECK_EQ_STR(c.read_only_token, "ro-0123456789abcdef==");
    kve_env_config_dispose(&c);
}

TEST(quoting)
{
    const char *env[] = {"KV_REST_API_TOKEN", TOKEN, "KVEDGE_DATA_DIR", "/d/a\"b\\c: #x \xc3\xa9", NULL};
    kve_env_config_t c;
    char err[256];

    CHECK_EQ_INT(build(&c, env, err, sizeof(err)), 0);
    CHECK_NOT_NULL(strstr(c.yaml, "\ndata_dir: \"/d/a\\\"b\\\\c: #x \xc3\xa9\"\n"));
    kve_env_config_dispose(&c);
}

TEST(hostile_values)
{
    static const struct {
        const char *name, *value, *err;
    } cases[] = {
        {"KV_REST_API_TOKEN", "abc\"defghijklmnopq",
         "KV_REST_API_TOKEN: a bearer token holds only letters, digits and - . _ ~ + "
         "/ (then = padding) (RFC 6750); byte 4 is 0x22"},
        {"KV_REST_API_TOKEN", "abcdefghijklmnopq\nx: 1",
         "KV_REST_API_TOKEN: a bearer token holds only letters, digits and - . _ "
         "~ + / (then = padding) (RFC 6750); byte 18 is 0x0a"},
        {"KV_REST_API_TOKEN", "abcdefghij=klmnopq",
         "KV_REST_API_TOKEN: a bearer token holds only letters, digits and - . _ ~ + "
         "/ (then = padding) (RFC 6750); byte 12 is 0x6b"},
        {"KV_REST_API_TOKEN", "short",
         "KV_REST_API_TOKEN: a token is 16 to 4096 bytes long (e.g. the output of openssl rand "
         "-hex 32), this one 5"},
        {"KV_REST_API_READ_ONLY_TOKEN", "ro ro ro ro ro ro",
         "KV_REST_API_READ_ONLY_TOKEN: a bearer token holds only letters, "
         "digits and - . _ ~ + / (then = padding) (RFC 6750); byte 3 is 0x20"},
        {"PORT", "0", "PORT: expected a port number from 1 to 65535, got \"0\""},
        {"PORT", "65536", "PORT: expected a port number from 1 to 65535, got \"65536\""},
        {"KVEDGE_PORT", "80a", "KVEDGE_PORT: expected a port number from 1 to 65535, got \"80a\""},
        {"KVEDGE_PORT", "+80", "KVEDGE_PORT: expected a port number from 1 to 65535, got \"+80\""},
        {"KVEDGE_PORT", "000080", "KVEDGE_PORT: expected a port number from 1 to 65535, got \"000080\""},
        {"KVEDGE_PORT", "8\n0", "KVEDGE_PORT: expected a port number from 1 to 65535, got \"8?0\""},
        {"KVEDGE_PORT", "8\x9b\xc3\xa9", "KVEDGE_PORT: expected a port number from 1 to 65535, got \"8???\""},
        {"KVEDGE_HOST", "127.0.0.1\"\nkv: x",
         "KVEDGE_HOST: expected an IP address or a host name to listen on (like 127.0.0.1 "
         "or ::1)"},
        {"REDIS_URL", "redis://h:1/0\nkv: {}", "REDIS_URL: byte 14 is a control character or a space (0x0a)"},
        {"KVEDGE_DATA_DIR", "/tmp/x\ry", "KVEDGE_DATA_DIR: byte 7 is a control character (0x0d)"},
        /* libyaml would refuse the text: the variable is named instead */
        {"KVEDGE_DATA_DIR", "/tmp/\xa3x", "KVEDGE_DATA_DIR: byte 6 is not UTF-8 of a printable character"},
        {"KVEDGE_DATA_DIR", "/tmp/\xc2\x85\xc2\x9f", "KVEDGE_DATA_DIR: byte 8 is not UTF-8 of a printable character"},
        {"KVEDGE_DATA_DIR", "/tmp/\xef\xbb\xbf", "KVEDGE_DATA_DIR: byte 6 is not UTF-8 of a printable character"},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        /* the pair under test comes first: for KV_REST_API_TOKEN it is the one found, not the valid token after it */
        const char *env[] = {cases[i].name, cases[i].value, "KV_REST_API_TOKEN", TOKEN, NULL};
        kve_env_config_t c;
        char err[256];
        CHECK_EQ_INT(build(&c, env, err, sizeof(err)), -1);
        CHECK_EQ_STR(err, cases[i].err);
        CHECK_NULL(c.yaml);
    }
}

/* the text loads as a file would, with the environment's values */
TEST(loads_through_kve_config_load)
{
    const char *env[] = {"KV_REST_API_TOKEN", TOKEN, "KV_REST_API_READ_ONLY_TOKEN", "ro-0123456789abcdef", "PORT", "8123", NULL};
    kve_env_config_t c;
    kve_config_t cfg = {0};
    char err[256];

    CHECK_EQ_INT(build(&c, env, err, sizeof(err)), 0);
    setenv("KV_REST_API_TOKEN", TOKEN, 1);
    setenv("KV_REST_API_READ_ONLY_TOKEN", "ro-0123456789abcdef", 1);
    kve_config_set_source(KVE_ENV_CONFIG_NAME, c.yaml);
    CHECK_EQ_INT(kve_config_load(&cfg, KVE_ENV_CONFIG_NAME, stderr), 0);
    kve_config_set_source(NULL, NULL);
    unsetenv("KV_REST_API_TOKEN");
    unsetenv("KV_REST_API_READ_ONLY_TOKEN");
    CHECK_EQ_INT(cfg.kv_enabled, 1);
    CHECK_EQ_UINT(cfg.server.listen.size, 1);
    CHECK_EQ_INT(cfg.server.listen.entries[0].port, 8123);
    CHECK_EQ_STR(cfg.server.listen.entries[0].host, "127.0.0.1");
    CHECK_EQ_STR(cfg.kv.path, "/kv");
    CHECK_EQ_UINT(cfg.kv.tokens.size, 2);
    CHECK_EQ_STR(cfg.kv.tokens.entries[0].token, TOKEN);
    CHECK_EQ_INT(cfg.kv.tokens.entries[0].read_only, 0);
    CHECK_EQ_STR(cfg.kv.tokens.entries[1].token, "ro-0123456789abcdef");
    CHECK_EQ_INT(cfg.kv.tokens.entries[1].read_only, 1);
    CHECK_EQ_INT(kve_config_uses_embedded_redis(&cfg), 1);
    kve_config_dispose(&cfg);
    kve_env_config_dispose(&c);
}

void kve_suite_env_config(void)
{
    RUN(defaults);
    RUN(no_token_is_not_built);
    RUN(kvedge_names_win);
    RUN(quoting);
    RUN(hostile_values);
    RUN(loads_through_kve_config_load);
}
