/* SPDX-License-Identifier: MIT */
/*
 * Tests for the engine's merge step (conf.h, "Inheritance") and provenance: a top-level block of defaults
 * (KVE_F_DEFAULTS) whose keys flow into every entry of a list and into a map that name it in .inherits, unless the
 * entry gives its own (even one equal to the default); where each value came from (kve_conf_origin); errors in
 * the block reported once, at the block; warnings. Own small tables, loaded from strings.
 */
#include "test.h"
#include "conf/conf.h"

#include <stdlib.h>
#include <unistd.h>
#include "proxy/common.h"

typedef struct {
    uint64_t timeout_ms;
    int flag;
    char *name;
    char *secret;
    kve_conf_strings_t tags;
} defaults_t;

typedef struct {
    char *path;
    uint64_t timeout_ms;
    int flag;
    char *name;
    char *secret;
    kve_conf_strings_t tags;
} route_t;

typedef struct {
    int64_t threads;
    defaults_t defaults;
    struct {
        route_t *entries;
        size_t size;
    } routes;
    route_t single;
} root_t;

static const kve_directive_t defaults_table[] = {
    {"timeout", KVE_T_DURATION, KVE_FIELD(defaults_t, timeout_ms), 0, 10, 3600 * 1000, "30s"},
    {"flag", KVE_T_BOOL, KVE_FIELD(defaults_t, flag), .dflt = "false"},
    {"name", KVE_T_STRING, KVE_FIELD(defaults_t, name), 0, 1, 16},
    {"secret", KVE_T_STRING, KVE_FIELD(defaults_t, secret), KVE_F_SECRET, 0, 32},
    {"tags", KVE_T_STRING_LIST, KVE_FIELD(defaults_t, tags), 0, 0, 4},
    {NULL}};

static const kve_directive_t route_table[] = {
    {"path", KVE_T_STRING, KVE_FIELD(route_t, path), KVE_F_REQUIRED},
    {"timeout", KVE_T_DURATION, KVE_FIELD(route_t, timeout_ms), 0, 10, 3600 * 1000, "30s"},
    {"flag", KVE_T_BOOL, KVE_FIELD(route_t, flag), .dflt = "false"},
    {"name", KVE_T_STRING, KVE_FIELD(route_t, name), 0, 1, 16},
    {"secret", KVE_T_STRING, KVE_FIELD(route_t, secret), KVE_F_SECRET, 0, 32},
    {"tags", KVE_T_STRING_LIST, KVE_FIELD(route_t, tags), 0, 0, 4},
    {NULL}};

static const kve_directive_t single_table[] = {
    {"path", KVE_T_STRING, KVE_FIELD(route_t, path), .dflt = "/"},
    {"timeout", KVE_T_DURATION, KVE_FIELD(route_t, timeout_ms), 0, 10, 3600 * 1000, "30s"},
    {"flag", KVE_T_BOOL, KVE_FIELD(route_t, flag), .dflt = "false"},
    {"name", KVE_T_STRING, KVE_FIELD(route_t, name), 0, 1, 16},
    {"secret", KVE_T_STRING, KVE_FIELD(route_t, secret), KVE_F_SECRET, 0, 32},
    {"tags", KVE_T_STRING_LIST, KVE_FIELD(route_t, tags), 0, 0, 4},
    {NULL}};

static const kve_directive_t root_table[] = {
    {"threads", KVE_T_INT, KVE_FIELD(root_t, threads), 0, 0, 64, "0"},
    {"defaults", KVE_T_MAP, KVE_FIELD(root_t, defaults), KVE_F_DEFAULTS, .children = defaults_table},
    {"routes", KVE_T_LIST, KVE_FIELD(root_t, routes), 0, 0, 8, .children = route_table, .elem_size = sizeof(route_t),
     .inherits = "defaults"},
    {"single", KVE_T_MAP, KVE_FIELD(root_t, single), .children = single_table, .inherits = "defaults"},
    {NULL}};

/* a loading session whose origins stay queryable until done() */
typedef struct {
    kve_conf_t *conf;
    FILE *fp;
    char *out;
    size_t size;
    root_t root;
    int ret;
} session_t;

static void start(session_t *s, const char *yaml)
{
    memset(s, 0, sizeof(*s));
    s->fp = open_memstream(&s->out, &s->size);
    s->conf = kve_conf_new(s->fp);
    s->ret = kve_conf_load_string(s->conf, "t.yaml", yaml, root_table, &s->root);
    fflush(s->fp);
}

static void done(session_t *s)
{
    kve_conf_free(s->conf);
    fclose(s->fp);
    free(s->out);
    kve_conf_free_fields(root_table, &s->root);
}

static const char *origin(session_t *s, const void *field)
{
    static char buf[128];
    return kve_conf_describe_origin(s->conf, field, buf, sizeof(buf));
}

TEST(block_only)
{
    session_t s;
    start(&s, "defaults:\n"
              "  timeout: 5s\n"
              "  flag: true\n"
              "  name: global\n"
              "  tags: [a, b]\n"
              "routes:\n"
              "  - path: /a\n"
              "  - path: /b\n");
    CHECK_EQ_STR(s.out, "");
    CHECK_EQ_INT(s.ret, 0);
    CHECK_EQ_UINT(s.root.routes.size, 2);
    for (size_t i = 0; i != s.root.routes.size; ++i) {
        route_t *r = s.root.routes.entries + i;
        CHECK_EQ_UINT(r->timeout_ms, 5000);
        CHECK_EQ_INT(r->flag, 1);
        CHECK_EQ_STR(r->name, "global");
        CHECK_EQ_UINT(r->tags.size, 2);
        CHECK_EQ_STR(r->tags.entries[1], "b");
        CHECK_NULL(r->secret);
        CHECK_EQ_INT(kve_conf_origin(s.conf, &r->timeout_ms).kind, KVE_CONF_INHERITED);
        CHECK_EQ_STR(kve_conf_origin(s.conf, &r->timeout_ms).block, "defaults");
        CHECK_EQ_UINT(kve_conf_origin(s.conf, &r->timeout_ms).node->line, 2);
        CHECK_EQ_STR(origin(&s, &r->timeout_ms), "from defaults.timeout, line 2");
        CHECK_EQ_STR(origin(&s, &r->path), i == 0 ? "line 7" : "line 8");
        CHECK_EQ_INT(kve_conf_origin(s.conf, &r->secret).kind, KVE_CONF_DEFAULT);
    }
    /* the absent map inherits too */
    CHECK_EQ_UINT(s.root.single.timeout_ms, 5000);
    CHECK_EQ_STR(s.root.single.name, "global");
    CHECK_EQ_STR(s.root.single.path, "/");
    CHECK_EQ_STR(origin(&s, &s.root.single.flag), "from defaults.flag, line 3");
    CHECK_EQ_STR(origin(&s, &s.root.defaults.timeout_ms), "line 2");
    done(&s);
}

TEST(entry_only)
{
    session_t s;
    start(&s, "routes:\n"
              "  - path: /a\n"
              "    timeout: 7s\n"
              "  - path: /b\n");
    CHECK_EQ_STR(s.out, "");
    CHECK_EQ_UINT(s.root.routes.entries[0].timeout_ms, 7000);
    CHECK_EQ_STR(origin(&s, &s.root.routes.entries[0].timeout_ms), "line 3");
    CHECK_EQ_UINT(s.root.routes.entries[1].timeout_ms, 30000);
    CHECK_EQ_STR(origin(&s, &s.root.routes.entries[1].timeout_ms), "the default");
    CHECK_EQ_INT(s.root.routes.entries[1].flag, 0);
    CHECK_NULL(s.root.routes.entries[1].name);
    /* the block itself holds its defaults */
    CHECK_EQ_UINT(s.root.defaults.timeout_ms, 30000);
    done(&s);
}

TEST(entry_wins_even_with_the_default_value)
{
    session_t s;
    /* the block comes after the list: it is applied first all the same */
    start(&s, "routes:\n"
              "  - path: /both\n"
              "    timeout: 7s\n"
              "    flag: false\n"
              "  - path: /explicit-default\n"
              "    timeout: 30s\n"
              "    tags: []\n"
              "  - path: /inherits\n"
              "defaults:\n"
              "  timeout: 5s\n"
              "  flag: true\n"
              "  tags: [x]\n");
    CHECK_EQ_STR(s.out, "");
    CHECK_EQ_UINT(s.root.routes.size, 3);
    CHECK_EQ_UINT(s.root.routes.entries[0].timeout_ms, 7000);
    CHECK_EQ_INT(s.root.routes.entries[0].flag, 0);
    CHECK_EQ_INT(kve_conf_origin(s.conf, &s.root.routes.entries[0].flag).kind, KVE_CONF_SET);
    CHECK_EQ_UINT(s.root.routes.entries[0].tags.size, 1);
    /* 30s is the default, written out: it overrides the block's 5s; so does an empty list */
    CHECK_EQ_UINT(s.root.routes.entries[1].timeout_ms, 30000);
    CHECK_EQ_STR(origin(&s, &s.root.routes.entries[1].timeout_ms), "line 6");
    CHECK_EQ_UINT(s.root.routes.entries[1].tags.size, 0);
    CHECK_EQ_INT(s.root.routes.entries[1].flag, 1);
    CHECK_EQ_UINT(s.root.routes.entries[2].timeout_ms, 5000);
    CHECK_EQ_STR(origin(&s, &s.root.routes.entries[2].timeout_ms), "from defaults.timeout, line 10");
    done(&s);
}

TEST(secret_file_inherited)
{
    char path[] = "/tmp/kve_test_inherit_XXXXXX";
    int fd = mkstemp(path);
    char *yaml;
    session_t s;
    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, "hunter2\n", 8), 8);
    close(fd);
    yaml = kve_malloc(256);
    snprintf(yaml, 256, "defaults:\n  secret_file: %s\nroutes:\n  - path: /a\n  - path: /b\n    secret: own\n", path);
    start(&s, yaml);
    CHECK_EQ_STR(s.out, "");
    CHECK_EQ_STR(s.root.routes.entries[0].secret, "hunter2");
    CHECK_EQ_STR(s.root.routes.entries[1].secret, "own");
    CHECK_EQ_STR(s.root.single.secret, "hunter2");
    done(&s);
    unlink(path);
    free(yaml);
}

TEST(errors_in_the_block_once)
{
    session_t s;
    /* the bad value is reported once, at the block, with its line; the routes keep their defaults */
    start(&s, "threads: 1\n"
              "routes:\n"
              "  - path: /a\n"
              "  - path: /b\n"
              "defaults:\n"
              "  timeout: banana\n"
              "  timout: 5s\n");
    CHECK_EQ_INT(s.ret, -1);
    CHECK_EQ_STR(s.out, "t.yaml:6:12: error: defaults.timeout: expected a duration like \"30s\" or \"5m\", got \"banana\"\n"
                        "    6 |   timeout: banana\n"
                        "      |            ^\n"
                        "t.yaml:7:3: error: defaults: unknown key \"timout\" (did you mean \"timeout\"?)\n"
                        "    7 |   timout: 5s\n"
                        "      |   ^\n");
    CHECK_EQ_UINT(s.root.routes.entries[0].timeout_ms, 30000);
    done(&s);

    /* a route's own error is its own; a route without the required key does not get it from anywhere */
    start(&s, "defaults: {name: ok}\nroutes:\n  - path: /a\n    name: \"\"\n  - name: x\n");
    CHECK_EQ_STR(s.out, "t.yaml:4:11: error: routes[0].name: too short: 0 bytes (at least 1)\n"
                        "    4 |     name: \"\"\n"
                        "      |           ^\n"
                        "t.yaml:5:5: error: routes[1]: missing required key \"path\"\n"
                        "    5 |   - name: x\n"
                        "      |     ^\n");
    done(&s);
}

TEST(warnings)
{
    session_t s;
    start(&s, "threads: 3\n");
    CHECK_EQ_INT(s.ret, 0);
    kve_conf_warn(s.conf, kve_conf_origin_node(s.conf, &s.root.threads, NULL), "odd number of threads (%lld)",
                  (long long)s.root.threads);
    kve_conf_warn(s.conf, kve_conf_origin_node(s.conf, &s.root.defaults.timeout_ms, NULL), "no position");
    fflush(s.fp);
    CHECK_EQ_STR(s.out, "t.yaml:1:10: warning: odd number of threads (3)\n"
                        "    1 | threads: 3\n"
                        "      |          ^\n"
                        "warning: no position\n");
    CHECK_EQ_UINT(kve_conf_warning_count(s.conf), 2);
    CHECK_EQ_UINT(kve_conf_error_count(s.conf), 0);
    done(&s);
}

TEST(reference_names_the_block)
{
    char *out = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&out, &size);
    kve_conf_print_reference(fp, root_table);
    fclose(fp);
    CHECK(strstr(out, "\nroutes (list of maps, at most 8, keys not given come from defaults)\n") != NULL);
    CHECK(strstr(out, "\nsingle (map, keys not given come from defaults)\n") != NULL);
    free(out);
}

void kve_suite_conf_inherit(void)
{
    RUN(block_only);
    RUN(entry_only);
    RUN(entry_wins_even_with_the_default_value);
    RUN(secret_file_inherited);
    RUN(errors_in_the_block_once);
    RUN(warnings);
    RUN(reference_names_the_block);
}
