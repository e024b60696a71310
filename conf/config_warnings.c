/* SPDX-License-Identifier: MIT */
/*
 * Warnings about settings that load and run but are risky in production (docs/configuration.md, "Warnings"):
 * printed like errors with "warning:" by `kvedge -t` (which still exits 0) and at startup, and logged once the error
 * log is open (kve_config_log_warnings). Each looks only at sections that loaded without errors. A message says where
 * a token is, never what it is.
 */
#include "conf/config.h"
#include "conf/config_internal.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* item `i` of the sequence `key` of `parent` (or the scalar given for a one-entry list), else `parent`, to point at */
static const kve_node_t *list_item(const kve_node_t *parent, const char *key, size_t i)
{
    const kve_node_t *list = kve_config__at_key(parent, key);
    if (list != NULL && list->type == KVE_NODE_SEQUENCE)
        return i < list->u.sequence.size ? list->u.sequence.items[i] : list;
    return list;
}

/* 127.0.0.0/8, ::1, ::ffff:127.x.y.z or localhost: only this machine can connect */
static int is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    return 0;
}

/* a cleartext listener reachable from other machines that serves the KV API sends its bearer tokens in the clear */
static void warn_cleartext(kve_conf_t *conf, const kve_config_t *cfg, const kve_node_t *root)
{
    int own = cfg->kv.listen.size != 0;
    const char *where = own ? "kv.listen" : "listen";
    const kve_node_t *parent = own ? kve_yaml_get(root, "kv") : root;
    const kve_listen_conf_t *entries = own ? cfg->kv.listen.entries : cfg->server.listen.entries;
    size_t n = own ? cfg->kv.listen.size : cfg->server.listen.size;

    for (size_t i = 0; i != n; ++i) {
        if (entries[i].tls.cert_file != NULL || is_loopback(entries[i].host))
            continue;
        kve_conf_warn(conf, kve_config__at_key(list_item(parent, "listen", i), "host"),
                      "%s[%zu]: the KV API is served over cleartext HTTP on %s, which is not a loopback address: its bearer "
                      "tokens and data cross the network unencrypted (add tls: with cert_file and key_file, or listen on "
                      "127.0.0.1 behind a TLS proxy)",
                      where, i, entries[i].host);
    }
}

static int has_read_write_token(const kve_rest_conf_t *kv)
{
    for (size_t i = 0; i != kv->tokens.size; ++i)
        if (!kv->tokens.entries[i].read_only)
            return 1;
    return kv->jwt_key != NULL && kv->jwt_key[0] != '\0'; /* kvedge token mints read-write JWTs */
}

/* cors_origins "*" lets any web page a user visits send requests with the tokens it holds */
static void warn_cors(kve_conf_t *conf, const kve_config_t *cfg, const kve_node_t *kv)
{
    for (size_t i = 0; i != cfg->kv.cors_origins.size; ++i) {
        if (strcmp(cfg->kv.cors_origins.entries[i], "*") != 0 || !has_read_write_token(&cfg->kv))
            continue;
        kve_conf_warn(conf, list_item(kv, "cors_origins", i),
                      "kv.cors_origins[%zu]: \"*\" lets a page from any web site use the KV API, and there are read-write "
                      "tokens: list the origins of your own sites instead",
                      i);
        return;
    }
}

/* CONFIG, DEBUG and MODULE (or one of their subcommands) in kv.allow_commands hand the Redis server itself to a token */
static void warn_allowed_commands(kve_conf_t *conf, const kve_config_t *cfg, const kve_node_t *kv)
{
    static const struct {
        const char *name, *why;
    } risky[] = {{"config", "read and change Redis' settings, passwords and files included"},
                 {"debug", "inspect Redis' memory, or crash or freeze it"},
                 {"module", "load code into the Redis server"}};

    for (size_t i = 0; i != cfg->kv.allow_commands.size; ++i) {
        const char *name = cfg->kv.allow_commands.entries[i];
        for (size_t j = 0; j != sizeof(risky) / sizeof(risky[0]); ++j) {
            size_t len = strlen(risky[j].name);
            if (strncasecmp(name, risky[j].name, len) != 0 || (name[len] != '\0' && name[len] != '|'))
                continue;
            kve_conf_warn(conf, list_item(kv, "allow_commands", i),
                          "kv.allow_commands[%zu]: \"%s\" lets every read-write token %s; an operator can run it with "
                          "redis-cli instead",
                          i, name, risky[j].why);
        }
    }
}

/* `what` is where the token is (a key path), `node` where it is written; the token itself is never shown */
static void warn_weak_token(kve_conf_t *conf, const kve_node_t *node, const char *what, const char *token)
{
    const char *why = token != NULL ? kve_config__weak_token(token) : NULL;
    if (why != NULL)
        kve_conf_warn(conf, node,
                      "%s: this token is easy to guess (%s); use a long random one, e.g. the output of openssl "
                      "rand -hex 32",
                      what, why);
}

/* the node of a secret `key` of mapping `map`: its value, or that of `key`_file */
static const kve_node_t *secret_node(const kve_node_t *map, const char *key)
{
    char file_key[64];
    const kve_node_t *n = kve_yaml_get(map, key);
    snprintf(file_key, sizeof(file_key), "%s_file", key);
    return n != NULL ? n : kve_config__at_key(map, file_key);
}

static void warn_tokens(kve_conf_t *conf, const kve_config_t *cfg, const kve_node_t *root)
{
    char what[64];

    if (cfg->kv_enabled && !kve_conf_section_failed(conf, "kv")) {
        for (size_t i = 0; i != cfg->kv.tokens.size; ++i) {
            snprintf(what, sizeof(what), "kv.tokens[%zu].token", i);
            warn_weak_token(conf, secret_node(list_item(kve_yaml_get(root, "kv"), "tokens", i), "token"), what,
                            cfg->kv.tokens.entries[i].token);
        }
    }
    if (!kve_conf_section_failed(conf, "admin") && cfg->admin.token != NULL && cfg->admin.token[0] != '\0')
        warn_weak_token(conf, secret_node(kve_yaml_get(root, "admin"), "token"), "admin.token", cfg->admin.token);
    if (!kve_conf_section_failed(conf, "admin") && cfg->admin.read_only_token != NULL && cfg->admin.read_only_token[0] != '\0')
        warn_weak_token(conf, secret_node(kve_yaml_get(root, "admin"), "read_only_token"), "admin.read_only_token",
                        cfg->admin.read_only_token);
}

void kve_config__warn_risky(kve_conf_t *conf, const kve_config_t *cfg)
{
    const kve_node_t *root = kve_conf_root(conf), *kv = kve_yaml_get(root, "kv");
    int kv_ok = cfg->kv_enabled && !kve_conf_section_failed(conf, "kv");

    if (kv_ok && !kve_conf_section_failed(conf, "listen"))
        warn_cleartext(conf, cfg, root);
    if (kv_ok) {
        warn_cors(conf, cfg, kv);
        warn_allowed_commands(conf, cfg, kv);
    }
    warn_tokens(conf, cfg, root);
}
