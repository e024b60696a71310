/* SPDX-License-Identifier: MIT */
/*
 * Tests for the directive engine (conf/conf.c and friends): small tables loaded from strings, with the
 * error stream captured by open_memstream and compared byte for byte (position, key path, message, quoted
 * line and caret). Every test frees what the engine stored, so the ASan build proves there are no leaks.
 */
#include "test.h"
#include "conf/conf.h"
#include "conf/conf_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include "proxy/common.h"

typedef struct {
    char *host;
    int64_t port;
    int tls;
} listener_t;

typedef struct {
    uint64_t ttl_ms;
    uint64_t max_size;
    char *name;
} cache_t;

typedef struct {
    char *url;
    char *password;
    uint64_t connect_timeout;
} redis_t;

typedef struct {
    int64_t threads;
    char *name;
    int http2;
    int fsync;
    char *upstream;
    struct {
        char **entries;
        size_t size;
    } tags;
    struct {
        listener_t *entries;
        size_t size;
    } listen;
    cache_t cache;
    redis_t redis;
    int custom;
} root_t;

static int check_calls, check_null_calls;

static int check_cache(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    cache_t *cache = obj;
    ++check_calls;
    if (node == NULL)
        ++check_null_calls;
    if (cache->name != NULL && strcmp(cache->name, "bad") == 0) {
        kve_conf_error(conf, node, "name \"bad\" is reserved");
        return -1;
    }
    return 0;
}

static int parse_custom(kve_conf_t *conf, const kve_node_t *node, void *field)
{
    if (node->type != KVE_NODE_SCALAR || strcmp(node->u.scalar.value, "ok") != 0) {
        kve_conf_error(conf, node, "expected \"ok\"");
        return -1;
    }
    *(int *)field = 1;
    return 0;
}

static const char *const fsync_choices[] = {"everysec", "always", "no", NULL};
static const char *const http_schemes[] = {"http", "https", NULL};

static const kve_directive_t listen_table[] = {
    {"host", KVE_T_STRING, KVE_FIELD(listener_t, host), .dflt = "127.0.0.1", .doc = "address"},
    {"port", KVE_T_INT, KVE_FIELD(listener_t, port), KVE_F_REQUIRED, 1, 65535},
    {"tls", KVE_T_BOOL, KVE_FIELD(listener_t, tls), .dflt = "false"},
    {NULL}};

static const kve_directive_t cache_table[] = {
    {"ttl", KVE_T_DURATION, KVE_FIELD(cache_t, ttl_ms), 0, 1, 3600 * 1000, .dflt = "30s"},
    {"max_size", KVE_T_SIZE, KVE_FIELD(cache_t, max_size), 0, 1024, 1 << 30, .dflt = "10MiB"},
    {"name", KVE_T_STRING, KVE_FIELD(cache_t, name), 0, 2, 8},
    {NULL}};

static const kve_directive_t redis_table[] = {
    {"url", KVE_T_STRING, KVE_FIELD(redis_t, url), KVE_F_HIDDEN, .dflt = "embedded"},
    {"password", KVE_T_STRING, KVE_FIELD(redis_t, password), KVE_F_SECRET, 0, 16},
    {"connect_timeout", KVE_T_DURATION, KVE_FIELD(redis_t, connect_timeout), .dflt = "1s"},
    {NULL}};

static const kve_directive_t root_table[] = {
    {"threads", KVE_T_INT, KVE_FIELD(root_t, threads), 0, 0, 1024, .dflt = "0", .doc = "worker threads"},
    {"name", KVE_T_STRING, KVE_FIELD(root_t, name)},
    {"http2", KVE_T_BOOL, KVE_FIELD(root_t, http2), .dflt = "off"},
    {"appendfsync", KVE_T_ENUM, KVE_FIELD(root_t, fsync), .dflt = "everysec", .choices = fsync_choices},
    {"upstream", KVE_T_URL, KVE_FIELD(root_t, upstream), .choices = http_schemes},
    {"tags", KVE_T_STRING_LIST, KVE_FIELD(root_t, tags), 0, 0, 3},
    {"listen", KVE_T_LIST, KVE_FIELD(root_t, listen), 0, 0, 4, .children = listen_table, .elem_size = sizeof(listener_t),
     .shorthand = "port"},
    {"cache", KVE_T_MAP, KVE_FIELD(root_t, cache), .children = cache_table, .check = check_cache},
    {"redis", KVE_T_MAP, KVE_FIELD(root_t, redis), .children = redis_table, .shorthand = "url"},
    {"custom", KVE_T_CUSTOM, KVE_FIELD(root_t, custom), .parse = parse_custom},
    {NULL}};

static const kve_directive_t required_table[] = {{"listen", KVE_T_LIST, KVE_FIELD(root_t, listen), KVE_F_REQUIRED, 1, 0,
                                                  .children = listen_table, .elem_size = sizeof(listener_t)},
                                                 {"redis", KVE_T_MAP, KVE_FIELD(root_t, redis), .children = redis_table},
                                                 {NULL}};

/* loads `yaml` into a zeroed `obj` with `table`; returns the captured error output (malloc'd) */
static char *load(const char *yaml, const kve_directive_t *table, void *obj, int *ret)
{
    char *out = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&out, &size);
    kve_conf_t *conf = kve_conf_new(fp);
    *ret = kve_conf_load_string(conf, "t.yaml", yaml, table, obj);
    kve_conf_free(conf);
    fclose(fp);
    return out;
}

/* loads with root_table and checks the whole error output ("" = success), then frees everything */
static void expect(const char *yaml, const char *errors)
{
    root_t conf = {0};
    int ret;
    char *out = load(yaml, root_table, &conf, &ret);
    CHECK_EQ_STR(out, errors);
    CHECK_EQ_INT(ret, errors[0] == '\0' ? 0 : -1);
    free(out);
    kve_conf_free_fields(root_table, &conf);
}

TEST(defaults)
{
    root_t conf = {0};
    int ret;
    char *out;
    check_calls = check_null_calls = 0;
    out = load("# nothing set\n", root_table, &conf, &ret);
    CHECK_EQ_INT(ret, 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(conf.threads, 0);
    CHECK_NULL(conf.name);
    CHECK_EQ_INT(conf.http2, 0);
    CHECK_EQ_INT(conf.fsync, 0);
    CHECK_EQ_UINT(conf.tags.size, 0);
    CHECK_EQ_UINT(conf.listen.size, 0);
    CHECK_EQ_UINT(conf.cache.ttl_ms, 30000);
    CHECK_EQ_UINT(conf.cache.max_size, 10 << 20);
    CHECK_EQ_STR(conf.redis.url, "embedded");
    CHECK_NULL(conf.redis.password);
    CHECK_EQ_UINT(conf.redis.connect_timeout, 1000);
    /* the absent map's check ran, with no node */
    CHECK_EQ_INT(check_calls, 1);
    CHECK_EQ_INT(check_null_calls, 1);
    free(out);
    kve_conf_free_fields(root_table, &conf);
    CHECK_NULL(conf.redis.url);
}

TEST(all_types)
{
    root_t conf = {0};
    int ret;
    char *out = load("threads: 4\n"
                     "name: edge\n"
                     "http2: yes\n"
                     "appendfsync: always\n"
                     "upstream: HTTPS://origin.example/\n"
                     "tags: [a, 'b c']\n"
                     "listen:\n"
                     "  - port: 8080\n"
                     "  - host: ::1\n"
                     "    port: 8443\n"
                     "    tls: true\n"
                     "  - 9090\n"
                     "cache: {ttl: 1.5s, max_size: 1.5KiB, name: main}\n"
                     "redis:\n"
                     "  url: redis://127.0.0.1:6379\n"
                     "  password: \"s3cret\"\n"
                     "custom: ok\n",
                     root_table, &conf, &ret);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(ret, 0);
    CHECK_EQ_INT(conf.threads, 4);
    CHECK_EQ_STR(conf.name, "edge");
    CHECK_EQ_INT(conf.http2, 1);
    CHECK_EQ_INT(conf.fsync, 1);
    CHECK_EQ_STR(conf.upstream, "HTTPS://origin.example/");
    CHECK_EQ_UINT(conf.tags.size, 2);
    CHECK_EQ_STR(conf.tags.entries[1], "b c");
    CHECK_EQ_UINT(conf.listen.size, 3);
    CHECK_EQ_STR(conf.listen.entries[0].host, "127.0.0.1");
    CHECK_EQ_INT(conf.listen.entries[0].port, 8080);
    CHECK_EQ_INT(conf.listen.entries[0].tls, 0);
    CHECK_EQ_STR(conf.listen.entries[1].host, "::1");
    CHECK_EQ_INT(conf.listen.entries[1].port, 8443);
    CHECK_EQ_INT(conf.listen.entries[1].tls, 1);
    CHECK_EQ_INT(conf.listen.entries[2].port, 9090); /* element shorthand */
    CHECK_EQ_UINT(conf.cache.ttl_ms, 1500);
    CHECK_EQ_UINT(conf.cache.max_size, 1536);
    CHECK_EQ_STR(conf.cache.name, "main");
    CHECK_EQ_STR(conf.redis.url, "redis://127.0.0.1:6379");
    CHECK_EQ_STR(conf.redis.password, "s3cret");
    CHECK_EQ_UINT(conf.redis.connect_timeout, 1000);
    CHECK_EQ_INT(conf.custom, 1);
    free(out);
    kve_conf_free_fields(root_table, &conf);
}

TEST(type_errors)
{
    expect("cache:\n  ttl: banana\n", "t.yaml:2:8: error: cache.ttl: expected a duration like \"30s\" or \"5m\", got \"banana\"\n"
                                      "    2 |   ttl: banana\n"
                                      "      |        ^\n");
    expect("cache:\n  ttl: 30\n", "t.yaml:2:8: error: cache.ttl: expected a duration like \"30s\" or \"5m\", got \"30\" (a unit is "
                                  "required)\n"
                                  "    2 |   ttl: 30\n"
                                  "      |        ^\n");
    expect("threads: abc\n", "t.yaml:1:10: error: threads: expected an integer, got \"abc\"\n"
                             "    1 | threads: abc\n"
                             "      |          ^\n");
    expect("threads: \"\"\n", "t.yaml:1:10: error: threads: expected an integer, got \"\"\n"
                              "    1 | threads: \"\"\n"
                              "      |          ^\n");
    expect("cache: {max_size: x}\n", "t.yaml:1:19: error: cache.max_size: expected a size like \"64KiB\" or \"10MiB\", got \"x\"\n"
                                     "    1 | cache: {max_size: x}\n"
                                     "      |                   ^\n");
    expect("http2: maybe\n", "t.yaml:1:8: error: http2: expected true or false, got \"maybe\"\n"
                             "    1 | http2: maybe\n"
                             "      |        ^\n");
    expect("http2: 'true'\n", "t.yaml:1:8: error: http2: expected true or false, got the string \"true\" (remove the quotes)\n"
                              "    1 | http2: 'true'\n"
                              "      |        ^\n");
    expect("appendfsync: sometimes\n", "t.yaml:1:14: error: appendfsync: expected one of everysec, always, no, got \"sometimes\"\n"
                                       "    1 | appendfsync: sometimes\n"
                                       "      |              ^\n");
    expect("upstream: ftp://x\n", "t.yaml:1:11: error: upstream: expected a URL with scheme http or https, got \"ftp://x\"\n"
                                  "    1 | upstream: ftp://x\n"
                                  "      |           ^\n");
    expect("upstream: http://\n", "t.yaml:1:11: error: upstream: expected a URL with scheme http or https, got \"http://\"\n"
                                  "    1 | upstream: http://\n"
                                  "      |           ^\n");
    expect("custom: nope\n", "t.yaml:1:9: error: custom: expected \"ok\"\n"
                             "    1 | custom: nope\n"
                             "      |         ^\n");
}

TEST(range_errors)
{
    expect("listen:\n  - port: 0\n", "t.yaml:2:11: error: listen[0].port: value 0 is out of range (1 to 65535)\n"
                                     "    2 |   - port: 0\n"
                                     "      |           ^\n");
    expect("threads: -1\n", "t.yaml:1:10: error: threads: value -1 is out of range (0 to 1024)\n"
                            "    1 | threads: -1\n"
                            "      |          ^\n");
    expect("cache:\n  ttl: 90m\n", "t.yaml:2:8: error: cache.ttl: value 90m is out of range (1ms to 1h)\n"
                                   "    2 |   ttl: 90m\n"
                                   "      |        ^\n");
    expect("cache:\n  ttl: 0.1ms\n", "t.yaml:2:8: error: cache.ttl: value 0.1ms is out of range (1ms to 1h)\n"
                                     "    2 |   ttl: 0.1ms\n"
                                     "      |        ^\n");
    expect("cache:\n  max_size: 2GiB\n", "t.yaml:2:13: error: cache.max_size: value 2GiB is out of range (1KiB to 1GiB)\n"
                                         "    2 |   max_size: 2GiB\n"
                                         "      |             ^\n");
    expect("cache:\n  name: x\n", "t.yaml:2:9: error: cache.name: too short: 1 bytes (at least 2)\n"
                                  "    2 |   name: x\n"
                                  "      |         ^\n");
    expect("cache:\n  name: abcdefghi\n", "t.yaml:2:9: error: cache.name: too long: 9 bytes (at most 8)\n"
                                          "    2 |   name: abcdefghi\n"
                                          "      |         ^\n");
    expect("tags: [a, b, c, d]\n", "t.yaml:1:7: error: tags: too many entries: 4 (at most 3)\n"
                                   "    1 | tags: [a, b, c, d]\n"
                                   "      |       ^\n");
    expect("listen: [1, 2, 3, 4, 5]\n", "t.yaml:1:9: error: listen: too many entries: 5 (at most 4)\n"
                                        "    1 | listen: [1, 2, 3, 4, 5]\n"
                                        "      |         ^\n");
}

TEST(unknown_keys)
{
    expect("cache:\n  tll: 5s\n", "t.yaml:2:3: error: cache: unknown key \"tll\" (did you mean \"ttl\"?)\n"
                                  "    2 |   tll: 5s\n"
                                  "      |   ^\n");
    expect("xyz: 1\n", "t.yaml:1:1: error: unknown key \"xyz\"\n"
                       "    1 | xyz: 1\n"
                       "      | ^\n");
    expect("thraeds: 1\n", "t.yaml:1:1: error: unknown key \"thraeds\" (did you mean \"threads\"?)\n"
                           "    1 | thraeds: 1\n"
                           "      | ^\n");
    expect("appendfsinc: no\n", "t.yaml:1:1: error: unknown key \"appendfsinc\" (did you mean \"appendfsync\"?)\n"
                                "    1 | appendfsinc: no\n"
                                "      | ^\n");
    expect("redis:\n  password_fil: x\n",
           "t.yaml:2:3: error: redis: unknown key \"password_fil\" (did you mean \"password_file\"?)\n"
           "    2 |   password_fil: x\n"
           "      |   ^\n");
    /* "_file" only exists for secrets */
    expect("redis:\n  url_file: x\n", "t.yaml:2:3: error: redis: unknown key \"url_file\"\n"
                                      "    2 |   url_file: x\n"
                                      "      |   ^\n");
}

TEST(duplicates)
{
    expect("threads: 1\nname: a\nthreads: 2\n", "t.yaml:3:1: error: duplicate key \"threads\" (first defined at line 1)\n"
                                                "    3 | threads: 2\n"
                                                "      | ^\n");
    expect("listen:\n  - port: 1\n    port: 2\n", "t.yaml:3:5: error: listen[0]: duplicate key \"port\" (first defined at line 2)\n"
                                                  "    3 |     port: 2\n"
                                                  "      |     ^\n");
}

TEST(required)
{
    root_t conf = {0};
    int ret;
    char *out = load("", required_table, &conf, &ret);
    CHECK_EQ_INT(ret, -1);
    CHECK_EQ_STR(out, "t.yaml: error: missing required key \"listen\"\n");
    free(out);
    kve_conf_free_fields(required_table, &conf);

    memset(&conf, 0, sizeof(conf));
    out = load("listen:\n  - port: 80\n  - host: x\n", required_table, &conf, &ret);
    CHECK_EQ_INT(ret, -1);
    CHECK_EQ_STR(out, "t.yaml:3:5: error: listen[1]: missing required key \"port\"\n"
                      "    3 |   - host: x\n"
                      "      |     ^\n");
    CHECK_EQ_UINT(conf.listen.size, 2);
    free(out);
    kve_conf_free_fields(required_table, &conf);

    /* a required secret is satisfied by either key */
    static const kve_directive_t secret_table[] = {
        {"password", KVE_T_STRING, KVE_FIELD(redis_t, password), KVE_F_REQUIRED | KVE_F_SECRET}, {NULL}};
    redis_t redis = {0};
    out = load("{}\n", secret_table, &redis, &ret);
    CHECK_EQ_STR(out, "t.yaml:1:1: error: missing required key \"password\" (or \"password_file\")\n"
                      "    1 | {}\n"
                      "      | ^\n");
    free(out);
    kve_conf_free_fields(secret_table, &redis);

    memset(&conf, 0, sizeof(conf));
    out = load("listen: []\n", required_table, &conf, &ret);
    CHECK_EQ_STR(out, "t.yaml:1:9: error: listen: too few entries: 0 (at least 1)\n"
                      "    1 | listen: []\n"
                      "      |         ^\n");
    free(out);
    kve_conf_free_fields(required_table, &conf);
}

TEST(shorthand_and_null)
{
    root_t conf = {0};
    int ret;
    char *out = load("redis: unix:///tmp/r.sock\ncache:\n", root_table, &conf, &ret);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_STR(conf.redis.url, "unix:///tmp/r.sock");
    CHECK_EQ_UINT(conf.redis.connect_timeout, 1000);
    /* "cache:" (null) is the same as no cache key */
    CHECK_EQ_UINT(conf.cache.ttl_ms, 30000);
    free(out);
    kve_conf_free_fields(root_table, &conf);

    expect("cache: 5s\n", "t.yaml:1:8: error: cache: expected a mapping\n"
                          "    1 | cache: 5s\n"
                          "      |        ^\n");
    expect("cache: [1]\n", "t.yaml:1:8: error: cache: expected a mapping\n"
                           "    1 | cache: [1]\n"
                           "      |        ^\n");
    expect("listen: {port: 1}\n", "t.yaml:1:9: error: listen: expected a list\n"
                                  "    1 | listen: {port: 1}\n"
                                  "      |         ^\n");
    expect("listen:\n  - [1]\n", "t.yaml:2:5: error: listen[0]: expected a mapping\n"
                                 "    2 |   - [1]\n"
                                 "      |     ^\n");
    expect("threads: [1]\n", "t.yaml:1:10: error: threads: expected a scalar value\n"
                             "    1 | threads: [1]\n"
                             "      |          ^\n");
    expect("tags: [a, [b]]\n", "t.yaml:1:11: error: tags[1]: expected a scalar value\n"
                               "    1 | tags: [a, [b]]\n"
                               "      |           ^\n");
    expect("- a\n", "t.yaml:1:1: error: expected a mapping\n"
                    "    1 | - a\n"
                    "      | ^\n");
}

TEST(checks)
{
    check_calls = check_null_calls = 0;
    expect("cache:\n  name: bad\n", "t.yaml:2:3: error: cache: name \"bad\" is reserved\n"
                                    "    2 |   name: bad\n"
                                    "      |   ^\n");
    CHECK_EQ_INT(check_calls, 1);
    CHECK_EQ_INT(check_null_calls, 0);
    /* no check when a child already failed */
    check_calls = 0;
    expect("cache:\n  name: bad\n  ttl: x\n",
           "t.yaml:3:8: error: cache.ttl: expected a duration like \"30s\" or \"5m\", got \"x\"\n"
           "    3 |   ttl: x\n"
           "      |        ^\n");
    CHECK_EQ_INT(check_calls, 0);
}

TEST(string_list)
{
    root_t conf = {0};
    int ret;
    char *out = load("tags: solo\n", root_table, &conf, &ret);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_UINT(conf.tags.size, 1);
    CHECK_EQ_STR(conf.tags.entries[0], "solo");
    free(out);
    kve_conf_free_fields(root_table, &conf);
    CHECK_EQ_UINT(conf.tags.size, 0);
    CHECK_NULL(conf.tags.entries);
}

/* snprintf into a malloc'd string */
__attribute__((format(printf, 1, 2))) static char *format(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    char *buf = kve_malloc(len + 1);
    va_start(args, fmt);
    vsnprintf(buf, len + 1, fmt, args);
    va_end(args);
    return buf;
}

/* writes `content` to a new temp file; returns its malloc'd path */
static char *temp_file(const char *content, size_t len)
{
    char *path = kve_strdup("/tmp/kve_test_secret_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

TEST(secrets)
{
    char *path = temp_file("hunter2\r\n", 9), *yaml, *big_path, *big;
    root_t conf = {0};
    int ret;
    char *out;

    yaml = format("redis:\n  password_file: %s\n", path);
    out = load(yaml, root_table, &conf, &ret);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_STR(conf.redis.password, "hunter2");
    free(out);
    free(yaml);
    kve_conf_free_fields(root_table, &conf);

    /* only one trailing newline is stripped */
    unlink(path);
    free(path);
    path = temp_file("two\n\n", 5);
    memset(&conf, 0, sizeof(conf));
    setenv("KVE_TEST_SECRET_PATH", path, 1);
    out = load("redis:\n  password_file: ${KVE_TEST_SECRET_PATH}\n", root_table, &conf, &ret);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_STR(conf.redis.password, "two\n");
    free(out);
    kve_conf_free_fields(root_table, &conf);
    unsetenv("KVE_TEST_SECRET_PATH");

    yaml = format("redis:\n  password: x\n  password_file: %s\n", path);
    char *expected = format("t.yaml:3:3: error: redis: \"password\" and \"password_file\" cannot both be set\n"
                            "    3 |   password_file: %s\n"
                            "      |   ^\n",
                            path);
    expect(yaml, expected);
    free(yaml);
    free(expected);

    expect("redis:\n  password_file: /nonexistent/kve\n",
           "t.yaml:2:18: error: redis.password_file: cannot read \"/nonexistent/kve\": No such file or directory\n"
           "    2 |   password_file: /nonexistent/kve\n"
           "      |                  ^\n");

    /* the secret is a string like any other: its bounds apply (max 16) */
    big = kve_malloc(70 * 1024);
    memset(big, 'x', 70 * 1024);
    big_path = temp_file(big, 70 * 1024);
    yaml = format("redis:\n  password_file: %s\n", big_path);
    memset(&conf, 0, sizeof(conf));
    out = load(yaml, root_table, &conf, &ret);
    CHECK(strstr(out, "error: redis.password_file: cannot read \"/tmp/kve_test_secret_") != NULL);
    CHECK(strstr(out, "\": larger than 64 KiB\n") != NULL);
    free(out);
    free(yaml);
    kve_conf_free_fields(root_table, &conf);
    unlink(big_path);
    free(big_path);
    free(big);

    unlink(path);
    free(path);
    path = temp_file("01234567890123456789", 20);
    yaml = format("redis:\n  password_file: %s\n", path);
    memset(&conf, 0, sizeof(conf));
    out = load(yaml, root_table, &conf, &ret);
    CHECK(strstr(out, "error: redis.password_file: too long: 20 bytes (at most 16)\n") != NULL);
    free(out);
    free(yaml);
    kve_conf_free_fields(root_table, &conf);
    unlink(path);
    free(path);
}

/* loads `yaml` with root_table, checks the whole output and that `secret` appears nowhere in it */
static void expect_hidden(const char *yaml, const char *secret, const char *errors)
{
    root_t conf = {0};
    int ret;
    char *out = load(yaml, root_table, &conf, &ret);
    CHECK_EQ_STR(out, errors);
    CHECK_EQ_INT(ret, -1);
    CHECK(strstr(yaml, secret) != NULL);
    CHECK_NULL(strstr(out, secret));
    free(out);
    kve_conf_free_fields(root_table, &conf);
}

TEST(hidden_values)
{
    expect_hidden("redis:\n  password: far-too-long-secret\n", "far-too-long",
                  "t.yaml:2:13: error: redis.password: too long: 19 bytes (at most 16)\n"
                  "    2 |   password: <hidden>\n"
                  "      |             ^\n");
    /* recorded before the duplicate-key and "both forms" checks */
    expect_hidden("redis:\n  password: first\n  password: second-secret\n", "second-secret",
                  "t.yaml:3:3: error: redis: duplicate key \"password\" (first defined at line 2)\n"
                  "    3 |   password: <hidden>\n"
                  "      |   ^\n");
    expect_hidden("redis:\n  password_file: /nonexistent/kve\n  password: inline-secret\n", "inline-secret",
                  "t.yaml:2:18: error: redis.password_file: cannot read \"/nonexistent/kve\": No such file or directory\n"
                  "    2 |   password_file: /nonexistent/kve\n"
                  "      |                  ^\n"
                  "t.yaml:3:3: error: redis: \"password\" and \"password_file\" cannot both be set\n"
                  "    3 |   password: <hidden>\n"
                  "      |   ^\n");
    /* a typo of a secret key: its value is most likely the secret */
    expect_hidden("redis:\n  pasword: typo-secret\n", "typo-secret",
                  "t.yaml:2:3: error: redis: unknown key \"pasword\" (did you mean \"password\"?)\n"
                  "    2 |   pasword: <hidden>\n"
                  "      |   ^\n");
    /* an error reported before the secret on the same line is reached, and one on a later line of the value */
    expect_hidden("redis: {connect_timeout: x, password: flow-secret}\n", "flow-secret",
                  "t.yaml:1:26: error: redis.connect_timeout: expected a duration like \"30s\" or \"5m\", got \"x\"\n"
                  "    1 | redis: {connect_timeout: x, password: <hidden>}\n"
                  "      |                          ^\n");
    expect_hidden("redis: {password: \"mu\n  line-sec\", connect_timeout: x}\n", "line-sec",
                  "t.yaml:2:31: error: redis.connect_timeout: expected a duration like \"30s\" or \"5m\", got \"x\"\n"
                  "    2 | (not shown: holds a secret)\n");
    expect_hidden("redis:\n  password: |\n    block-secret-too-long\n", "block-secret",
                  "t.yaml:2:13: error: redis.password: too long: 22 bytes (at most 16)\n"
                  "    2 | (not shown: holds a secret)\n");
    /* KVE_F_HIDDEN (no _file form), also set through the shorthand */
    expect_hidden("redis: redis://:pw-secret@h\nredis: x\n", "pw-secret",
                  "t.yaml:2:1: error: duplicate key \"redis\" (first defined at line 1)\n"
                  "    2 | redis: <hidden>\n"
                  "      | ^\n");
    expect_hidden("redis:\n  url: \"a\\0b-secret\"\n", "b-secret",
                  "t.yaml:2:8: error: redis.url: must not contain a NUL character\n"
                  "    2 |   url: <hidden>\n"
                  "      |        ^\n");
    /* issue 15.4: a one-line value is masked, the caret moves with the text after it (quotes, UTF-8, two values) */
    expect_hidden("redis: {password: \"é-long-secret\", connect_timeout: x}\n", "long-secret",
                  "t.yaml:1:53: error: redis.connect_timeout: expected a duration like \"30s\" or \"5m\", got \"x\"\n"
                  "    1 | redis: {password: <hidden>, connect_timeout: x}\n"
                  "      |                                              ^\n");
    expect_hidden("redis: {password: 'p1-secret', url: r://p2-secret@h, password: z}\n", "p2-secret",
                  "t.yaml:1:54: error: redis: duplicate key \"password\" (first defined at line 1)\n"
                  "    1 | redis: {password: <hidden>, url: <hidden>, password: <hidden>}\n"
                  "      |                                            ^\n");
    /* other lines are still quoted, and a path given for a secret is not a secret */
    expect("redis:\n  password: ok\n  connect_timeout: x\n",
           "t.yaml:3:20: error: redis.connect_timeout: expected a duration like \"30s\" or \"5m\", got \"x\"\n"
           "    3 |   connect_timeout: x\n"
           "      |                    ^\n");
}

TEST(env)
{
    root_t conf = {0};
    int ret;
    char *out;
    setenv("KVE_TEST_THREADS", "8", 1);
    setenv("KVE_TEST_NAME", "env-name", 1);
    setenv("KVE_TEST_OK", "ok", 1);
    unsetenv("KVE_TEST_UNSET");
    out = load("threads: ${KVE_TEST_THREADS}\nname: \"pre-${KVE_TEST_NAME}\"\ntags: ['$${X}', '${KVE_TEST_UNSET:-d}']\n"
               "${KVE_TEST_NAME}: 1\ncustom: ${KVE_TEST_OK}\n",
               root_table, &conf, &ret);
    /* keys are not expanded */
    CHECK_EQ_STR(out, "t.yaml:4:1: error: unknown key \"${KVE_TEST_NAME}\"\n"
                      "    4 | ${KVE_TEST_NAME}: 1\n"
                      "      | ^\n");
    CHECK_EQ_INT(conf.threads, 8);
    CHECK_EQ_STR(conf.name, "pre-env-name");
    CHECK_EQ_STR(conf.tags.entries[0], "${X}");
    CHECK_EQ_STR(conf.tags.entries[1], "d");
    CHECK_EQ_INT(conf.custom, 1); /* custom parsers see the substituted value */
    free(out);
    kve_conf_free_fields(root_table, &conf);

    /* the caret points at the "$" when the line shows the value verbatim, else at the value */
    expect("name: abc ${KVE_TEST_UNSET}\n", "t.yaml:1:11: error: name: environment variable \"KVE_TEST_UNSET\" is not set\n"
                                            "    1 | name: abc ${KVE_TEST_UNSET}\n"
                                            "      |           ^\n");
    expect("name: \"é ${KVE_TEST_UNSET}\"\n", "t.yaml:1:10: error: name: environment variable \"KVE_TEST_UNSET\" is not set\n"
                                              "    1 | name: \"é ${KVE_TEST_UNSET}\"\n"
                                              "      |          ^\n");
    expect("name: \"a\\tb ${KVE_TEST_UNSET}\"\n", "t.yaml:1:7: error: name: environment variable \"KVE_TEST_UNSET\" is not set\n"
                                                  "    1 | name: \"a\\tb ${KVE_TEST_UNSET}\"\n"
                                                  "      |       ^\n");
    expect("name: x ${OPEN\n", "t.yaml:1:9: error: name: unterminated \"${\" (expected \"${NAME}\" or \"${NAME:-default}\")\n"
                               "    1 | name: x ${OPEN\n"
                               "      |         ^\n");
    unsetenv("KVE_TEST_THREADS");
    unsetenv("KVE_TEST_NAME");
    unsetenv("KVE_TEST_OK");
}

TEST(tabs_in_caret_line)
{
    expect("cache: {\tttl: x}\n", "t.yaml:1:15: error: cache.ttl: expected a duration like \"30s\" or \"5m\", got \"x\"\n"
                                  "    1 | cache: {\tttl: x}\n"
                                  "      |         \t     ^\n");
}

/* which lines of `yaml` kve_conf__secret_lines() flags, as a string of 0/1 per line */
static void check_suspect(const char *yaml, const char *want)
{
    size_t n, i;
    char **lines = kve_yaml_split_lines(yaml, strlen(yaml), &n);
    unsigned char *flags = kve_conf__secret_lines(lines, n);
    char got[64];
    for (i = 0; i != n && i + 1 < sizeof(got); ++i)
        got[i] = flags[i] ? '1' : '0';
    got[i] = '\0';
    if (strcmp(got, want) != 0)
        fprintf(stderr, "    for: %s", yaml);
    CHECK_EQ_STR(got, want);
    free(flags);
    kve_yaml_free_lines(lines, n);
}

/* issue 9: lines that may hold a secret, judged without a tree (a syntax error) and erring on hiding too much */
TEST(syntax_secret_lines)
{
    /* a secret key's line, and the lines more indented than it (a block scalar) */
    check_suspect("a: 1\nkv:\n  jwt_key: |\n    line-one\n\n    line-two\n  path: /kv\nb: 2\n", "00111100");
    /* list items: one item's other keys, not the next item */
    check_suspect("tokens:\n  - token: x\n    name: a\n  - name: b\n", "1111");
    check_suspect("list:\n  - token: x\n    name: a\n  - name: b\n", "0110");
    /* a quote or flow collection opened on a suspect line continues it, whatever the indentation */
    check_suspect("kv: {tokens: [{token: \"abc\ndef\"}]}\nb: 1\n", "110");
    check_suspect("admin: {tokn: s3cret, path: /ops\nroutes: []\n", "11");
    check_suspect("x: {a: \"don't\", password: 'it''s'}\ny: 1\n", "10");
    /* a line that does not start an entry, or is indented with a tab, continues the value */
    check_suspect("token: abc\ndef\nnext: 1\n", "110");
    check_suspect("jwt_key: |\n\tsecret\nnext: 1\n", "110");
    /* credentials in a URL; a URL without them is no secret */
    check_suspect("redis: redis://u:pw@h:1/0\nupstream: http://h:1/\nweb: http://h/@x\n", "100");
    check_suspect("x: redis://:pw@h\n", "1");
    /* typos and other spellings of secret keys, and comments */
    check_suspect("pasword: x\nPASSWD: y\ntokn: z\napi_key: k\nauth: a\n# old token: t\n", "111111");
    /* ordinary keys */
    check_suspect("listen:\n  - port: 8080\nroutes:\n  - path: /api\n    upstream: http://h:1/\nthreads: 2\n", "000000");
}

TEST(syntax_and_files)
{
    root_t conf = {0};
    char *out;
    expect("a: 1\n  b: 2\n", "t.yaml:2:4: error: mapping values are not allowed in this context\n"
                             "    2 |   b: 2\n"
                             "      |    ^\n");
    expect("threads: [1\n", "t.yaml:2:1: error: did not find expected ',' or ']' (while parsing a flow sequence at line 1)\n");

    FILE *fp = open_memstream(&out, &(size_t){0});
    kve_conf_t *c = kve_conf_new(fp);
    CHECK_EQ_INT(kve_conf_load_file(c, "/nonexistent/kvedge.yaml", root_table, &conf), -1);
    kve_conf_error(c, NULL, "%s", "no position");
    CHECK_EQ_UINT(kve_conf_error_count(c), 2);
    kve_conf_free(c);
    fclose(fp);
    CHECK_EQ_STR(out, "/nonexistent/kvedge.yaml: error: cannot read: No such file or directory\n"
                      "error: no position\n");
    free(out);

    char *path = temp_file("threads: 2\nlisten: [80]\n", 24);
    fp = open_memstream(&out, &(size_t){0});
    c = kve_conf_new(fp);
    CHECK_EQ_INT(kve_conf_load_file(c, path, root_table, &conf), 0);
    kve_conf_free(c);
    fclose(fp);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(conf.threads, 2);
    CHECK_EQ_INT(conf.listen.entries[0].port, 80);
    free(out);
    kve_conf_free_fields(root_table, &conf);
    unlink(path);
    free(path);
}

TEST(error_cap)
{
    char yaml[2048], *out, *last;
    size_t off = 0;
    root_t conf = {0};
    int ret;
    for (int i = 0; i != 25; ++i)
        off += snprintf(yaml + off, sizeof(yaml) - off, "bad%d: 1\n", i);
    out = load(yaml, root_table, &conf, &ret);
    CHECK_EQ_INT(ret, -1);
    CHECK(strstr(out, "error: unknown key \"bad19\"") != NULL);
    CHECK(strstr(out, "bad20") == NULL);
    last = strstr(out, "      | ^\n... too many errors, stopping after 20\n");
    CHECK(last != NULL && strcmp(last, "      | ^\n... too many errors, stopping after 20\n") == 0);
    free(out);
    kve_conf_free_fields(root_table, &conf);
}

TEST(reference)
{
    char *out = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&out, &size);
    kve_conf_print_reference(fp, root_table);
    fclose(fp);
    CHECK_EQ_STR(out, "threads (integer, 0 to 1024, default 0): worker threads\n"
                      "name (string)\n"
                      "http2 (bool, default off)\n"
                      "appendfsync (one of everysec | always | no, default everysec)\n"
                      "upstream (URL: http | https)\n"
                      "tags (list of strings, at most 3)\n"
                      "listen (list of maps, at most 4, or a scalar for port)\n"
                      "  host (string, default \"127.0.0.1\"): address\n"
                      "  port (integer, 1 to 65535, required)\n"
                      "  tls (bool, default false)\n"
                      "cache (map)\n"
                      "  ttl (duration, 1ms to 1h, default 30s)\n"
                      "  max_size (size, 1KiB to 1GiB, default 10MiB)\n"
                      "  name (string, at least 2 bytes, at most 8 bytes)\n"
                      "redis (map, or a scalar for url)\n"
                      "  url (string, default \"embedded\")\n"
                      "  password (string, at most 16 bytes, secret: or password_file)\n"
                      "  connect_timeout (duration, default 1s)\n"
                      "custom (custom)\n");
    free(out);
}

/* kvedge.yaml(5)'s list: a tagged paragraph per key, by its whole path; roff's control characters stay text */
TEST(man)
{
    static const kve_directive_t item_table[] = {{"path", KVE_T_STRING, 0, .doc = ".starts with a dot, has a \\ and \xc2\xa7 9"},
                                                 {NULL}};
    static const kve_directive_t table[] = {
        {"threads", KVE_T_INT, KVE_FIELD(root_t, threads), 0, 0, 1024, .dflt = "0", .doc = "worker threads"},
        {"items", KVE_T_LIST, KVE_FIELD(root_t, listen), .children = item_table, .elem_size = sizeof(listener_t)},
        {"stores", KVE_T_DICT, KVE_FIELD(root_t, listen), .children = item_table, .elem_size = sizeof(listener_t)},
        {NULL}};
    char *out = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&out, &size);
    kve_conf_print_man(fp, table);
    fclose(fp);
    CHECK_EQ_STR(out, ".SS top level\n"
                      ".TP\n.B \\&threads\n\\&(integer, 0 to 1024, default 0)\n\\&worker threads\n"
                      ".SS \\&items\n"
                      ".TP\n.B \\&items\n\\&(list of maps)\n"
                      ".TP\n.B \\&items[].path\n\\&(string)\n\\&.starts with a dot, has a \\e and \\[u00A7] 9\n"
                      ".SS \\&stores\n"
                      ".TP\n.B \\&stores\n\\&(maps by name, names of a-z 0-9 _ - up to 32 bytes)\n"
                      ".TP\n.B \\&stores.<name>.path\n\\&(string)\n\\&.starts with a dot, has a \\e and \\[u00A7] 9\n");
    free(out);
}

void kve_suite_conf(void)
{
    RUN(man);
    RUN(defaults);
    RUN(all_types);
    RUN(type_errors);
    RUN(range_errors);
    RUN(unknown_keys);
    RUN(duplicates);
    RUN(required);
    RUN(shorthand_and_null);
    RUN(checks);
    RUN(string_list);
    RUN(secrets);
    RUN(hidden_values);
    RUN(env);
    RUN(tabs_in_caret_line);
    RUN(syntax_secret_lines);
    RUN(syntax_and_files);
    RUN(error_cap);
    RUN(reference);
}
