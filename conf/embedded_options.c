/* SPDX-License-Identifier: MIT */
/*
 * `embedded_redis.options`: more redis-server options for the embedded Redis, `name: value`, passed on its command
 * line as `--name value` (proxy/embedded.c). Only tuning options are accepted (the allowlist below): nothing that
 * opens the server to anyone (port, bind, TLS, users and passwords, ACL files), moves its files (dir, logfile, AOF
 * names), turns on dangerous commands (enable-debug-command, rename-command, modules) or changes what kvedge sets
 * itself (which has its own embedded_redis key). A value is one argument: printable ASCII without spaces or quotes
 * that does not start with "--", so it can never be read by redis-server as a further option.
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "conf/conf_internal.h"
#include "proxy/common.h"

#include <string.h>

#define MAX_OPTIONS 32
#define MAX_VALUE 256

/* tuning only; each takes one word (Redis 7.0's names, and the older ziplist aliases) */
static const char *const allowed[] = {"activedefrag",
                                      "active-defrag-cycle-max",
                                      "active-defrag-cycle-min",
                                      "active-defrag-ignore-bytes",
                                      "active-defrag-max-scan-fields",
                                      "active-defrag-threshold-lower",
                                      "active-defrag-threshold-upper",
                                      "active-expire-effort",
                                      "activerehashing",
                                      "aof-rewrite-incremental-fsync",
                                      "aof-timestamp-enabled",
                                      "aof-use-rdb-preamble",
                                      "auto-aof-rewrite-min-size",
                                      "auto-aof-rewrite-percentage",
                                      "dynamic-hz",
                                      "hash-max-listpack-entries",
                                      "hash-max-listpack-value",
                                      "hash-max-ziplist-entries",
                                      "hash-max-ziplist-value",
                                      "hll-sparse-max-bytes",
                                      "hz",
                                      "jemalloc-bg-thread",
                                      "latency-monitor-threshold",
                                      "latency-tracking",
                                      "lazyfree-lazy-eviction",
                                      "lazyfree-lazy-expire",
                                      "lazyfree-lazy-server-del",
                                      "lazyfree-lazy-user-del",
                                      "lazyfree-lazy-user-flush",
                                      "lfu-decay-time",
                                      "lfu-log-factor",
                                      "list-compress-depth",
                                      "list-max-listpack-size",
                                      "list-max-ziplist-size",
                                      "maxclients",
                                      "maxmemory-eviction-tenacity",
                                      "maxmemory-samples",
                                      "no-appendfsync-on-rewrite",
                                      "notify-keyspace-events",
                                      "set-max-intset-entries",
                                      "slowlog-log-slower-than",
                                      "slowlog-max-len",
                                      "stream-node-max-bytes",
                                      "stream-node-max-entries",
                                      "zset-max-listpack-entries",
                                      "zset-max-listpack-value",
                                      "zset-max-ziplist-entries",
                                      "zset-max-ziplist-value",
                                      NULL};

/* what kvedge sets itself, and where the configuration sets it (NULL: kvedge's choice, not configurable) */
static const struct {
    const char *option, *key;
} owned[] = {{"port", NULL},
             {"bind", NULL},
             {"unixsocket", NULL},
             {"unixsocketperm", NULL},
             {"dir", "data_dir"},
             {"appendonly", NULL},
             {"appendfsync", "embedded_redis.appendfsync"},
             {"save", NULL},
             {"daemonize", NULL},
             {"protected-mode", NULL},
             {"loglevel", NULL},
             {"logfile", NULL},
             {"client-output-buffer-limit", "embedded_redis.client_output_buffer_limit"},
             {"maxmemory", "embedded_redis.maxmemory"},
             {"maxmemory-policy", "embedded_redis.maxmemory_policy"}};

static int is_allowed(const char *name)
{
    for (size_t i = 0; allowed[i] != NULL; ++i)
        if (strcmp(allowed[i], name) == 0)
            return 1;
    return 0;
}

static int check_name(kve_conf_t *conf, const kve_node_t *key)
{
    const char *name = key->u.scalar.value;

    if (strlen(name) == key->u.scalar.len && is_allowed(name))
        return 0;
    for (size_t i = 0; i != KVE_ARRAY_SIZE(owned); ++i) {
        if (strcmp(owned[i].option, name) != 0)
            continue;
        if (owned[i].key != NULL)
            kve_conf_error(conf, key, "kvedge sets %s itself; use %s", name, owned[i].key);
        else
            kve_conf_error(conf, key,
                           "kvedge sets %s itself (the embedded Redis listens on its unix socket only, with an AOF in "
                           "data_dir)",
                           name);
        return -1;
    }
    kve_conf_error(conf, key,
                   "\"%.64s\" is not an option kvedge passes to the embedded Redis (tuning options "
                   "only, such as hz or maxmemory-samples; the list is in docs/configuration.md)%s",
                   name, strchr(name, '_') != NULL ? "; Redis writes its option names with '-'" : "");
    return -1;
}

/* one word of printable ASCII, no quotes nor backslash, not an option name; booleans as Redis spells them */
static const char *check_value(kve_conf_t *conf, const kve_node_t *node, const char *name, char *text, size_t len)
{
    static const char *const yes[] = {"true", "on", NULL}, *const no[] = {"false", "off", NULL};
    if (len == 0 || len > MAX_VALUE || strlen(text) != len) {
        kve_conf_error(conf, node, "%s: the value must be 1 to %d bytes", name, MAX_VALUE);
        return NULL;
    }
    if (text[0] == '-' && text[1] == '-') {
        kve_conf_error(conf, node, "%s: a value cannot start with \"--\" (it would be read as an option)", name);
        return NULL;
    }
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\') {
            kve_conf_error(conf, node,
                           "%s: the value must be one word of printable ASCII without quotes or "
                           "backslashes",
                           name);
            return NULL;
        }
    }
    for (size_t i = 0; !node->u.scalar.quoted && yes[i] != NULL; ++i) {
        if (strcmp(text, yes[i]) == 0)
            return "yes";
        if (strcmp(text, no[i]) == 0)
            return "no";
    }
    return text;
}

static int parse_one(kve_conf_t *conf, const kve_node_t *key, const kve_node_t *value, kve_strv_t *out)
{
    char *text, opt[2 + 64 + 1];
    const char *word;
    size_t len;
    int ret = -1;

    if (check_name(conf, key) != 0)
        return -1;
    if (value->type != KVE_NODE_SCALAR) {
        kve_conf_error(conf, value, "%s: expected a scalar value", key->u.scalar.value);
        return -1;
    }
    if ((text = kve_conf_expand_scalar(conf, value, &len)) == NULL)
        return -1;
    if ((word = check_value(conf, value, key->u.scalar.value, text, len)) != NULL) {
        snprintf(opt, sizeof(opt), "--%s", key->u.scalar.value); /* allowed names are shorter than 64 bytes */
        kve_strv_push(out, opt);
        kve_strv_push(out, word);
        ret = 0;
    }
    free(text);
    return ret;
}

int kve_config__parse_embedded_options(kve_conf_t *conf, const kve_node_t *node, void *field)
{
    kve_strv_t *out = field;
    int ret = 0;

    kve_strv_dispose(out);
    if (kve_conf__is_null(node))
        return 0;
    if (node->type != KVE_NODE_MAPPING) {
        kve_conf_error(conf, node, "expected a mapping of redis-server option names to values");
        return -1;
    }
    if (node->u.mapping.size > MAX_OPTIONS) {
        kve_conf_error(conf, node, "%zu options (at most %d)", node->u.mapping.size, MAX_OPTIONS);
        return -1;
    }
    for (size_t i = 0; i != node->u.mapping.size; ++i)
        if (parse_one(conf, node->u.mapping.keys[i], node->u.mapping.values[i], out) != 0)
            ret = -1;
    if (ret != 0)
        kve_strv_dispose(out);
    return ret;
}
