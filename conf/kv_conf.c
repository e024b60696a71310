/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the KV REST API (`kv:`): its tokens, limits, policy, timeouts and listeners.
 */
#include "conf/config.h"
#include "conf/conf_internal.h"
#include "conf/config_internal.h"
#include "conf/value.h"
#include "proxy/kv_commands.h"

#include <string.h>

static const char *const access_modes[] = {"read-write", "read-only", NULL};

static const kve_directive_t token_directives[] = {
    {"token", KVE_T_STRING, KVE_FIELD(kve_rest_token_conf_t, token), KVE_F_REQUIRED | KVE_F_SECRET, 16, 4096,
     .doc = "the bearer token (at least 16 bytes; or token_file)"},
    {"access", KVE_T_ENUM, KVE_FIELD(kve_rest_token_conf_t, read_only), .dflt = "read-write", .choices = access_modes,
     .doc = "read-only allows Redis @read commands except KEYS and SCAN"},
    {"name", KVE_T_STRING, KVE_FIELD(kve_rest_token_conf_t, name), .max = 64, .doc = "shown in logs instead of the token"},
    {NULL}};

/* where entry `i` of kv.tokens gives its token (the token or token_file value), for pointing at it */
static const kve_node_t *token_node(const kve_node_t *kv, size_t i)
{
    const kve_node_t *tokens = kve_yaml_get(kv, "tokens"), *n;
    if (tokens == NULL || tokens->type != KVE_NODE_SEQUENCE || i >= tokens->u.sequence.size)
        return kv;
    if ((n = kve_yaml_get(tokens->u.sequence.items[i], "token")) != NULL ||
        (n = kve_yaml_get(tokens->u.sequence.items[i], "token_file")) != NULL)
        return n;
    return tokens->u.sequence.items[i];
}

/* a token listed twice would be ambiguous (with two access levels, the first listed wins); reported at the second,
 * never quoting it */
static int check_unique_tokens(kve_conf_t *conf, const kve_node_t *node, const kve_rest_conf_t *kv)
{
    size_t i, j;
    int ret = 0;
    for (j = 1; j < kv->tokens.size; ++j) {
        for (i = 0; i != j; ++i) {
            const kve_rest_token_conf_t *a = kv->tokens.entries + i, *b = kv->tokens.entries + j;
            if (strcmp(a->token, b->token) != 0)
                continue;
            kve_conf_error(
                conf, token_node(node, j), "tokens[%zu] is the same token as tokens[%zu] (line %u): list each token once%s", j, i,
                token_node(node, i)->line, a->read_only != b->read_only ? " (it cannot be both read-write and read-only)" : "");
            ret = -1;
            break;
        }
    }
    return ret;
}

/* entry `i` of the list `key` of kv: (a sequence, or one scalar), for pointing at it */
static const kve_node_t *list_entry_node(const kve_node_t *kv, const char *key, size_t i)
{
    const kve_node_t *list = kve_config__at_key(kv, key);
    return list->type == KVE_NODE_SEQUENCE && i < list->u.sequence.size ? list->u.sequence.items[i] : list;
}

/* the command (or "container|sub") of the table closest to `name`, in `best`, when one is at most 2 edits away */
static void suggest_command(const char *name, char *best, size_t size)
{
    size_t n, i;
    const kve_cmd_info_t *table = kve_cmd_table(&n);
    unsigned dist, best_dist = 3;

    best[0] = '\0';
    for (i = 0; i != n; ++i) {
        if ((dist = kve_value_edit_distance(name, table[i].name)) < best_dist && dist < strlen(table[i].name)) {
            best_dist = dist;
            snprintf(best, size, "%s", table[i].name);
        }
    }
}

/*
 * Every name in kv.deny_commands or kv.allow_commands (`key`) is a command or subcommand ("config|get") of the core's
 * table (proxy/kv_commands.h), case-insensitive: a misspelt name would otherwise deny (or allow) nothing. A name with a
 * '.' is a module command, which the table cannot know: taken as given.
 */
static int check_command_names(kve_conf_t *conf, const kve_node_t *node, const char *key, char *const *names, size_t count)
{
    char quoted[256], best[64];
    int ret = 0;

    kve_cmd_init();
    for (size_t i = 0; i != count; ++i) {
        const char *name = names[i];
        if (strchr(name, '.') != NULL || kve_cmd_lookup(name, strlen(name)) != NULL)
            continue;
        suggest_command(name, best, sizeof(best));
        kve_conf__quote(quoted, sizeof(quoted), name, strlen(name));
        if (best[0] != '\0') {
            kve_conf_error(conf, list_entry_node(node, key, i), "%s[%zu]: unknown command %s (did you mean \"%s\"?)", key, i,
                           quoted, best);
        } else {
            kve_conf_error(conf, list_entry_node(node, key, i),
                           "%s[%zu]: unknown command %s (not in Redis' command table; a subcommand is written \"container|sub\")",
                           key, i, quoted);
        }
        ret = -1;
    }
    return ret;
}

int kve_config__check_kv(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_config_t *cfg = (void *)((char *)obj - offsetof(kve_config_t, kv));
    kve_rest_conf_t *kv = obj;
    int ret;

    cfg->kv_enabled = node != NULL;
    if (node == NULL)
        return 0;
    /* independent checks: each reports its own errors */
    ret = check_command_names(conf, node, "deny_commands", kv->deny_commands.entries, kv->deny_commands.size);
    if (check_command_names(conf, node, "allow_commands", kv->allow_commands.entries, kv->allow_commands.size) != 0)
        ret = -1;
    if (kv->tokens.size == 0 && (kv->jwt_key == NULL || kv->jwt_key[0] == '\0')) {
        kve_conf_error(conf, node, "the KV API needs at least one entry in tokens, or a jwt_key");
        ret = -1;
    } else if (kv->jwt_key != NULL && kv->jwt_key[0] != '\0' && strlen(kv->jwt_key) < KVE_JWT_MIN_KEY) {
        kve_conf_error(conf, kve_config__at_key(node, "jwt_key"),
                       "jwt_key must be at least %d bytes (e.g. the output of openssl rand -hex 32)", KVE_JWT_MIN_KEY);
        ret = -1;
    }
    if (check_unique_tokens(conf, node, kv) != 0)
        ret = -1;
    if (kve_config__check_path(conf, node, kv->path) != 0)
        ret = -1;
    return ret;
}

/* kv.sync_key named the Redis key the old sync tokens counted writes in; tokens no longer need a key, and old
 * files keep working: a warning, and the value is ignored */
static int parse_removed_sync_key(kve_conf_t *conf, const kve_node_t *node, void *field)
{
    kve_conf_warn(conf, node,
                  "no longer used, ignored: sync tokens come from Redis' replication offset, no key is written (remove it; "
                  "the old key can be deleted)");
    return 0;
}

const kve_directive_t kve_config__kv_directives[] = {
    {"path", KVE_T_STRING, KVE_FIELD(kve_rest_conf_t, path), .min = 1, .max = 256, .dflt = "/kv",
     .doc = "URL prefix of the API (KV_REST_API_URL is http://host:port<path>)"},
    {"store", KVE_T_STRING, KVE_FIELD(kve_rest_conf_t, store), .min = 1, .max = KVE_CONF_MAX_NAME, .dflt = KVE_STORE_DEFAULT,
     .doc = "the store the API serves (a name from stores:; its Redis users follow the KV policy, see `kvedge acl`)"},
    {"tokens", KVE_T_LIST, KVE_FIELD(kve_rest_conf_t, tokens), 0, 0, 1024, .children = token_directives,
     .elem_size = sizeof(kve_rest_token_conf_t), .doc = "accepted bearer tokens"},
    {"jwt_key", KVE_T_STRING, KVE_FIELD(kve_rest_conf_t, jwt_key), KVE_F_SECRET,
     .doc = "HS256 key (>= 32 bytes) for short-lived tokens minted by `kvedge token` (or jwt_key_file)"},
    {"jwt_max_ttl", KVE_T_DURATION, KVE_FIELD(kve_rest_conf_t, jwt_max_ttl_ms), 0, SEC, KVE_JWT_TTL_LIMIT * 1000LL, "24h",
     .doc = "longest lifetime of a JWT: `kvedge token --ttl` above it is an error, and JWTs whose exp (or exp - iat) is "
            "further ahead are refused"},
    {"max_request_size", KVE_T_SIZE, KVE_FIELD(kve_rest_conf_t, max_request_size), 0, KIB, GIB, "10MiB",
     .doc = "larger bodies get 400 \"ERR max request size exceeded\" (Upstash: 10MiB, Vercel: 1MiB)"},
    {"max_key_size", KVE_T_SIZE, KVE_FIELD(kve_rest_conf_t, max_key_size), 0, 1, 512 * MIB, "32KiB", .doc = "longest key argument"},
    {"max_reply_size", KVE_T_SIZE, KVE_FIELD(kve_rest_conf_t, max_reply_size), 0, KIB, 4 * GIB, "64MiB",
     .doc = "bytes of results in one response, also held while a reply is read (strings + ~176 bytes per element): a reply or "
            "pipeline entry that would pass it becomes \"ERR max response size exceeded\"; a /pipeline stops sending once it is "
            "spent"},
    {"max_commands", KVE_T_INT, KVE_FIELD(kve_rest_conf_t, max_commands), 0, 1, 1000000, "10000",
     .doc = "commands in one /pipeline or /multi-exec"},
    {"allow_keys", KVE_T_BOOL, KVE_FIELD(kve_rest_conf_t, allow_keys), .dflt = "false", .doc = "allow KEYS (read-write tokens)"},
    {"allow_flush", KVE_T_BOOL, KVE_FIELD(kve_rest_conf_t, allow_flush), .dflt = "false", .doc = "allow FLUSHALL and FLUSHDB"},
    {"scan_max_count", KVE_T_INT, KVE_FIELD(kve_rest_conf_t, scan_max_count), 0, 1, 1000000, "1000",
     .doc = "SCAN/HSCAN/SSCAN/ZSCAN COUNT above this is lowered to it"},
    {"deny_commands", KVE_T_STRING_LIST, KVE_FIELD(kve_rest_conf_t, deny_commands), 0, 0, 1024,
     .doc = "more commands to refuse (\"config|get\" for a subcommand, \"config\" for all of them; a name Redis does not "
            "have is an error, but module commands, with a '.')"},
    {"allow_commands", KVE_T_STRING_LIST, KVE_FIELD(kve_rest_conf_t, allow_commands), 0, 0, 1024,
     .doc =
         "commands refused by default to allow anyway (read-write tokens): administrative ones (\"config|get\"), migrate, "
         "move, copy (COPY ... DB), script|flush, function|flush, monitor (the /monitor endpoint); unknown names are errors, and "
         "config, debug and module warnings"},
    {"cors_origins", KVE_T_STRING_LIST, KVE_FIELD(kve_rest_conf_t, cors_origins), 0, 0, 1024,
     .doc = "origins allowed by CORS (\"*\" for any); empty: no CORS"},
    {"command_timeout", KVE_T_DURATION, KVE_FIELD(kve_rest_conf_t, command_timeout_ms), 0, 0, 600 * SEC, "0s",
     .doc = "per command (0s: the command_timeout of its store)"},
    {"script_timeout", KVE_T_DURATION, KVE_FIELD(kve_rest_conf_t, script_timeout_ms), 0, 100, 600 * SEC, "5s",
     .doc = "requests running a script (EVAL, FCALL...) time out after this, and the script is stopped (SCRIPT KILL); "
            "meanwhile the commands queued behind it time out without tripping redis.breaker_threshold"},
    {"heartbeat", KVE_T_DURATION, KVE_FIELD(kve_rest_conf_t, heartbeat_ms), 0, 100, HOUR, "15s",
     .doc = "SSE comment heartbeat interval"},
    {"max_streams", KVE_T_INT, KVE_FIELD(kve_rest_conf_t, max_streams), 0, 1, 100000, "1024",
     .doc = "open /subscribe, /psubscribe and /monitor streams (one Redis connection each), all threads; more get 503"},
    {"max_streams_per_token", KVE_T_INT, KVE_FIELD(kve_rest_conf_t, max_streams_per_token), 0, 1, 100000, "256",
     .doc = "open streams of any one token (static or JWT), so one token cannot hold every kv.max_streams slot; more get 503"},
    {"sync_key", KVE_T_CUSTOM, 0, .parse = parse_removed_sync_key,
     .doc = "removed (ignored with a warning): sync tokens come from Redis' replication offset, no key is written"},
    {"listen", KVE_T_LIST, KVE_FIELD(kve_rest_conf_t, listen), 0, 0, 64, .children = kve_config__listen_directives,
     .elem_size = sizeof(kve_listen_conf_t), .doc = "listeners of its own (then the API is not on the main listeners)"},
    {NULL}};
