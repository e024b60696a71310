/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the configuration of a start without a config file (conf/env_config.c) from hostile environment
 * values. The input is up to 8 values separated by NUL bytes (an environment value cannot hold one), given in this
 * order to KV_REST_API_TOKEN, KV_REST_API_READ_ONLY_TOKEN, KVEDGE_REDIS_URL, REDIS_URL, KVEDGE_PORT, PORT,
 * KVEDGE_HOST and KVEDGE_DATA_DIR (an empty value is unset). The oracle is the module's documented rules:
 *   - nothing is built without a token (1), an error names its problem in printable ASCII only, and never holds a
 *     long token or URL (which could only be there by being echoed);
 *   - a text that was built is one YAML mapping with exactly the keys written (no value added YAML of its own), whose
 *     host and data_dir give back, after the loader's ${ENV} expansion, exactly the values from the environment, whose
 *     port is the winning variable's, whose tokens and Redis URL are ${NAME} references to the winning variables;
 *   - that text loads with kve_config_load() (through kve_config_set_source) whenever the loader has nothing to refuse
 *     in it (no Redis URL, no token given twice), with the same listener.
 */
#include "fuzz.h"
#include "conf/config.h"
#include "conf/env_config.h"
#include "conf/value.h"
#include "conf/yaml.h"

#include <ctype.h>
#include <limits.h>
#include <unistd.h>

enum { TOKEN, RO_TOKEN, KVEDGE_REDIS_URL, REDIS_URL, KVEDGE_PORT, PORT, KVEDGE_HOST, KVEDGE_DATA_DIR, NUM_VARS };
static const char *const names[NUM_VARS] = {
    "KV_REST_API_TOKEN", "KV_REST_API_READ_ONLY_TOKEN", "KVEDGE_REDIS_URL", "REDIS_URL", "KVEDGE_PORT", "PORT", "KVEDGE_HOST",
    "KVEDGE_DATA_DIR"};
static char *values[NUM_VARS]; /* NULL: unset */
static FILE *errout;

static char *lookup(const char *name)
{
    for (size_t i = 0; i != NUM_VARS; ++i) {
        if (strcmp(names[i], name) == 0)
            return values[i];
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FUZZ_CHECK((errout = fopen("/dev/null", "w")) != NULL, "/dev/null");
    return 0;
}

/* splits the input at NUL bytes into values[] (empty: unset) */
static void split(const uint8_t *data, size_t size)
{
    size_t i = 0, start = 0;
    for (size_t v = 0; v != NUM_VARS; ++v) {
        values[v] = NULL;
        if (start > size)
            continue;
        for (i = start; i != size && data[i] != 0; ++i)
            ;
        if (i != start) {
            FUZZ_CHECK((values[v] = malloc(i - start + 1)) != NULL, "malloc");
            memcpy(values[v], data + start, i - start);
            values[v][i - start] = '\0';
        }
        start = i + 1;
    }
}

static const char *winner(int preferred, int other)
{
    return values[preferred] != NULL ? values[preferred] : values[other];
}

/* the value of scalar `node` after the loader's ${ENV} expansion equals `expected` */
static void check_expands_to(const kve_node_t *node, const char *expected, const char *what)
{
    char err[256];
    size_t len, off;
    char *out;

    FUZZ_CHECK(node != NULL && node->type == KVE_NODE_SCALAR && node->u.scalar.quoted, "%s is a quoted scalar", what);
    out = kve_value_expand_env(node->u.scalar.value, node->u.scalar.len, &len, err, sizeof(err), &off);
    FUZZ_CHECK(out != NULL && len == strlen(expected) && memcmp(out, expected, len) == 0, "%s gives back the value", what);
    free(out);
}

static void check_scalar(const kve_node_t *node, const char *expected, const char *what)
{
    FUZZ_CHECK(node != NULL && node->type == KVE_NODE_SCALAR && strcmp(node->u.scalar.value, expected) == 0, "%s is %s", what,
               expected);
}

static void check_listen(const kve_node_t *root, unsigned *port)
{
    const kve_node_t *listen = kve_yaml_get(root, "listen"), *l;
    const char *p = winner(KVEDGE_PORT, PORT);

    FUZZ_CHECK(listen != NULL && listen->type == KVE_NODE_SEQUENCE && listen->u.sequence.size == 1, "one listener");
    l = listen->u.sequence.items[0];
    FUZZ_CHECK(l->type == KVE_NODE_MAPPING && l->u.mapping.size == 2, "host and port only");
    check_expands_to(kve_yaml_get(l, "host"), values[KVEDGE_HOST] != NULL ? values[KVEDGE_HOST] : "127.0.0.1", "host");
    char text[16];

    *port = (unsigned)atoi(p != NULL ? p : "8080"); /* the builder accepted it: 1 to 5 digits */
    FUZZ_CHECK(*port >= 1 && *port <= 65535, "port %u in range", *port);
    snprintf(text, sizeof(text), "%u", *port);
    check_scalar(kve_yaml_get(l, "port"), text, "port");
}

static void check_data_dir(const kve_node_t *root)
{
    const char *d = values[KVEDGE_DATA_DIR];
    char cwd[PATH_MAX], expected[2 * PATH_MAX + 8192];

    if (d != NULL && d[0] == '/') {
        check_expands_to(kve_yaml_get(root, "data_dir"), d, "data_dir");
        return;
    }
    FUZZ_CHECK(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
    snprintf(expected, sizeof(expected), "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, d != NULL ? d : "kvedge-data");
    check_expands_to(kve_yaml_get(root, "data_dir"), expected, "data_dir");
}

static void check_kv(const kve_node_t *root)
{
    const kve_node_t *kv = kve_yaml_get(root, "kv"), *tokens = kve_yaml_get(kv, "tokens");
    size_t n = values[RO_TOKEN] != NULL ? 2 : 1;

    FUZZ_CHECK(tokens != NULL && tokens->type == KVE_NODE_SEQUENCE && tokens->u.sequence.size == n, "%zu tokens", n);
    check_scalar(kve_yaml_get(tokens->u.sequence.items[0], "token"), "${KV_REST_API_TOKEN}", "tokens[0]");
    if (n == 2)
        check_scalar(kve_yaml_get(tokens->u.sequence.items[1], "token"), "${KV_REST_API_READ_ONLY_TOKEN}", "tokens[1]");
    check_scalar(kve_yaml_get(kv, "path"), "/kv", "kv.path");
}

/* the text: exactly the keys written, each value what the environment says */
static void check_text(const kve_env_config_t *env, unsigned *port)
{
    static const char *const keys[] = {"listen", "data_dir", "redis", "admin", "kv"};
    unsigned line = 0, col = 0;
    char err[256];
    kve_yaml_doc_t *doc = kve_yaml_parse(KVE_ENV_CONFIG_NAME, env->yaml, strlen(env->yaml), &line, &col, err, sizeof(err));

    FUZZ_CHECK(doc != NULL && doc->root != NULL && doc->root->type == KVE_NODE_MAPPING, "YAML error %u:%u: %s", line, col,
               doc == NULL ? err : "not a mapping");
    FUZZ_CHECK(doc->root->u.mapping.size == sizeof(keys) / sizeof(keys[0]), "%zu top-level keys", doc->root->u.mapping.size);
    for (size_t i = 0; i != sizeof(keys) / sizeof(keys[0]); ++i)
        check_scalar(doc->root->u.mapping.keys[i], keys[i], "a top-level key");
    check_listen(doc->root, port);
    check_data_dir(doc->root);
    check_scalar(kve_yaml_get(doc->root, "redis"),
                 values[KVEDGE_REDIS_URL] != NULL ? "${KVEDGE_REDIS_URL}"
                 : values[REDIS_URL] != NULL      ? "${REDIS_URL}"
                                                  : "embedded",
                 "redis");
    check_kv(doc->root);
    kve_yaml_free(doc);
}

/* loads the text as kvedge would, the loader reading the same variables */
static void check_load(unsigned port)
{
    kve_config_t cfg = {0};
    int ret, refusable = winner(KVEDGE_REDIS_URL, REDIS_URL) != NULL ||
                         (values[RO_TOKEN] != NULL && strcmp(values[RO_TOKEN], values[TOKEN]) == 0);

    for (size_t i = 0; i != NUM_VARS; ++i) {
        if (values[i] != NULL)
            setenv(names[i], values[i], 1);
        else
            unsetenv(names[i]);
    }
    ret = kve_config_load(&cfg, KVE_ENV_CONFIG_NAME, errout);
    FUZZ_CHECK(ret == 0 || refusable, "the configuration built from the environment did not load");
    if (ret == 0)
        FUZZ_CHECK(cfg.server.listen.size == 1 && cfg.server.listen.entries[0].port == port, "listener on port %u", port);
    kve_config_dispose(&cfg);
}

/* an error is one printable line, and never echoes a long secret */
static void check_error(const char *err)
{
    static const int secrets[] = {TOKEN, RO_TOKEN, KVEDGE_REDIS_URL, REDIS_URL};
    FUZZ_CHECK(err[0] != '\0', "an error without a message");
    for (const char *p = err; *p != '\0'; ++p)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f, "a byte that is not printable ASCII in the error");
    /* longer than any message: only there if echoed */
    for (size_t i = 0; i != sizeof(secrets) / sizeof(secrets[0]); ++i)
        FUZZ_CHECK(values[secrets[i]] == NULL || strlen(values[secrets[i]]) < 200 || strstr(err, values[secrets[i]]) == NULL,
                   "%s echoed", names[secrets[i]]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kve_env_config_t env;
    char err[512];
    unsigned port = 0;
    int ret;

    split(data, size);
    err[0] = '\0';
    ret = kve_env_config_build(&env, lookup, err, sizeof(err));
    FUZZ_CHECK((ret == 1) == (values[TOKEN] == NULL), "built %d with%s a token", ret, values[TOKEN] == NULL ? "out" : "");
    if (ret == -1) {
        check_error(err);
        FUZZ_CHECK(env.yaml == NULL, "a text after an error");
    } else if (ret == 0) {
        check_text(&env, &port);
        kve_config_set_source(KVE_ENV_CONFIG_NAME, env.yaml);
        check_load(port);
        kve_config_set_source(NULL, NULL);
        FUZZ_CHECK(strncmp(env.kv_url, "http://", 7) == 0, "KV_REST_API_URL %s", env.kv_url);
        kve_env_config_dispose(&env);
    }
    for (size_t i = 0; i != NUM_VARS; ++i)
        free(values[i]);
    return 0;
}
