/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the stores: `redis:` and each entry of `stores:` (one table, kve_redis_conf_t), and
 * `embedded_redis:` (the redis-server kvedge runs itself). conf/stores.c builds the store list from them.
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "proxy/httpclient.h"
#include "proxy/kv_rest_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* the key node of `key` in the store's mapping, else the store's node (for pointing at the offending key) */
static const kve_node_t *at_key(const kve_node_t *node, const char *key)
{
    return node->type == KVE_NODE_MAPPING ? kve_config__at_key(node, key) : node;
}

/*
 * A KV REST store (http:// or https:// URL): a token is required (the store refuses requests without one), Redis'
 * users are meaningless, ca_file only makes sense with https (and rediss://). The URL and the CA file are checked by building the
 * HTTP client's upstream once (the runtime builds it again in the stores set).
 */
static int check_rest(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis)
{
    static const char *const redis_only[] = {"username", "password", "read_only_username", "read_only_password"};
    const char *const given[] = {redis->username, redis->password, redis->read_only_username, redis->read_only_password};
    kve_httpclient_conf_t hc;
    kve_httpclient_upstream_t *up;
    char err[256], origin[1024], prefix[1024];

    for (size_t i = 0; i != sizeof(given) / sizeof(given[0]); ++i) {
        if (given[i] != NULL) {
            kve_conf_error(conf, at_key(node, redis_only[i]),
                           "%s: a KV REST store (http:// or https:// url) authenticates with a token, not Redis users",
                           redis_only[i]);
            return -1;
        }
    }
    if (redis->tls_cert_file != NULL || redis->tls_key_file != NULL || redis->tls_server_name != NULL) {
        kve_conf_error(conf, node, "tls_cert_file, tls_key_file and tls_server_name are for a rediss:// store");
        return -1;
    }
    if (redis->token == NULL || redis->token[0] == '\0') {
        kve_conf_error(conf, node, "a KV REST store (http:// or https:// url) needs its token: token, token_file or token: ${ENV}");
        return -1;
    }
    if (redis->ca_file != NULL && strncasecmp(redis->url, "https://", 8) != 0) {
        kve_conf_error(conf, at_key(node, "ca_file"), "ca_file: only an https:// store verifies a certificate");
        return -1;
    }
    if (kve_kv_rest_split_url(redis->url, origin, sizeof(origin), prefix, sizeof(prefix), err, sizeof(err)) != 0) {
        kve_conf_error(conf, at_key(node, "url"), "url: %s", err);
        return -1;
    }
    kve_httpclient_conf_defaults(&hc);
    hc.url = origin;
    hc.ca_file = redis->ca_file;
    if ((up = kve_httpclient_upstream_create(&hc, err, sizeof(err))) == NULL) {
        kve_conf_error(conf, at_key(node, "url"), "url: %s", err);
        return -1;
    }
    kve_httpclient_upstream_destroy(up);
    return 0;
}

/* the TLS options of a store that has no TLS (redis://, unix://, embedded) */
static int check_no_tls(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis)
{
    static const char *const tls_only[] = {"ca_file", "tls_cert_file", "tls_key_file", "tls_server_name"};
    const char *const given[] = {redis->ca_file, redis->tls_cert_file, redis->tls_key_file, redis->tls_server_name};

    for (size_t i = 0; i != sizeof(given) / sizeof(given[0]); ++i) {
        if (given[i] != NULL) {
            kve_conf_error(conf, at_key(node, tls_only[i]),
                           "%s: only a store reached over TLS (a rediss:// or https:// url) takes TLS options", tls_only[i]);
            return -1;
        }
    }
    return 0;
}

/* the CA file, client certificate and key of a store reached over TLS, loaded as the links will load them */
static int check_tls_files(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis, const char *host)
{
    SSL_CTX *ctx;
    char err[512];

    if ((ctx = kve_redis_tls_ctx_create(redis, host, err, sizeof(err))) == NULL) {
        /* point at the file at fault */
        const char *key = strstr(err, "CA certificates") != NULL ? "ca_file"
                          : strstr(err, "private key") != NULL   ? "tls_key_file"
                                                                 : "tls_cert_file";
        kve_conf_error(conf, at_key(node, key), "%s: %s", key, err);
        return -1;
    }
    SSL_CTX_free(ctx);
    return 0;
}

/* a rediss:// store: the URL, and the CA file, client certificate and key, loaded as the links will load them */
static int check_tls(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis)
{
    kve_redis_target_t target;
    char err[512];
    int ret;

    if (kve_redis_parse_url(redis->url, &target, err, sizeof(err)) != 0) {
        kve_conf_error(conf, node, "url: %s", err);
        return -1;
    }
    ret = check_tls_files(conf, node, redis, target.host);
    kve_redis_target_dispose(&target);
    return ret;
}

_Static_assert(sizeof(((kve_redis_conf_t *)0)->replicas) == sizeof(kve_conf_strings_t) &&
                   offsetof(struct st_kve_redis_urls_t, entries) == offsetof(kve_conf_strings_t, entries) &&
                   offsetof(struct st_kve_redis_urls_t, size) == offsetof(kve_conf_strings_t, size),
               "kve_redis_conf_t.replicas is filled as a kve_conf_strings_t");

/* two targets are the same server (the same socket, or the same host text and port) */
static int same_server(const kve_redis_target_t *a, const kve_redis_target_t *b)
{
    if ((a->path != NULL) != (b->path != NULL))
        return 0;
    return a->path != NULL ? strcmp(a->path, b->path) == 0 : strcasecmp(a->host, b->host) == 0 && a->port == b->port;
}

/*
 * The replicas topology: an external primary (redis://, rediss:// or unix://, not embedded, not a KV REST store), each
 * replica a URL of the same kind (TLS if the primary's is) and database, none twice, none the primary itself.
 */
static int check_replicas(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis,
                          const kve_redis_target_t *primary)
{
    const kve_node_t *at;
    kve_redis_target_t *t;
    char err[256];
    size_t i, j;
    int ret = -1;

    if (redis->replicas.size == 0 || node == NULL) /* no node: the implicit embedded store, which has none */
        return 0;
    at = at_key(node, "replicas");
    if (primary == NULL) {
        kve_conf_error(conf, at, "replicas: only a store on an external Redis (a redis://, rediss:// or unix:// url) has replicas");
        return -1;
    }
    t = kve_zalloc(sizeof(*t) * redis->replicas.size);
    for (i = 0; i != redis->replicas.size; ++i) {
        if (kve_redis_url_is_rest(redis->replicas.entries[i]) || strcmp(redis->replicas.entries[i], "embedded") == 0 ||
            kve_redis_parse_url(redis->replicas.entries[i], t + i, err, sizeof(err)) != 0) {
            kve_conf_error(conf, at, "replicas[%zu]: %s", i,
                           kve_redis_url_is_rest(redis->replicas.entries[i]) || strcmp(redis->replicas.entries[i], "embedded") == 0
                               ? "a replica is a redis://, rediss:// or unix:// url"
                               : err);
            goto Exit;
        }
        if (t[i].tls != primary->tls) {
            kve_conf_error(conf, at, "replicas[%zu]: %s, and the primary's url is %s (every node speaks TLS, or none)", i,
                           t[i].tls ? "rediss://" : "not rediss://", primary->tls ? "rediss://" : "not rediss://");
            goto Exit;
        }
        if (t[i].db != primary->db) {
            kve_conf_error(conf, at,
                           "replicas[%zu]: database %d, but the primary's url names database %d (a replica has every "
                           "database of its primary: name the same one)",
                           i, t[i].db, primary->db);
            goto Exit;
        }
        if (same_server(t + i, primary)) {
            kve_conf_error(conf, at, "replicas[%zu]: %s is the primary itself", i, redis->replicas.entries[i]);
            goto Exit;
        }
        for (j = 0; j != i; ++j) {
            if (same_server(t + i, t + j)) {
                kve_conf_error(conf, at, "replicas[%zu]: the same server as replicas[%zu]", i, j);
                goto Exit;
            }
        }
    }
    ret = 0;
Exit:
    for (j = 0; j != redis->replicas.size; ++j)
        kve_redis_target_dispose(t + j);
    free(t);
    return ret;
}

/* min_replicas_ack: an external Redis, a sentinel or a cluster store (its replicas are the primary's business, not kvedge's), and a
 * wait shorter than the command timeout (the writes' batch would time out first) */
static int check_min_replicas_ack(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis)
{
    if (redis->min_replicas_ack == 0 || node == NULL)
        return 0;
    if (redis->sentinel.master == NULL && redis->cluster.nodes.size == 0 &&
        (kve_redis_url_is_rest(redis->url) || strcmp(redis->url, "embedded") == 0)) {
        kve_conf_error(conf, at_key(node, "min_replicas_ack"),
                       "min_replicas_ack: only a store on an external Redis (a redis://, rediss:// or unix:// url) has replicas "
                       "to wait for");
        return -1;
    }
    if (redis->min_replicas_ack_timeout_ms >= redis->command_timeout_ms) {
        kve_conf_error(conf, at_key(node, "min_replicas_ack_timeout"),
                       "min_replicas_ack_timeout: %llums, but it must be below command_timeout (%llums)",
                       (unsigned long long)redis->min_replicas_ack_timeout_ms, (unsigned long long)redis->command_timeout_ms);
        return -1;
    }
    return 0;
}

/* "host:port" of a sentinel or a cluster node (`what`, e.g. "a sentinel's address, e.g. 10.0.0.5:26379"): a host (name
 * or IPv4 address) and a port 1..65535 */
static int host_port(const char *s, const char *what, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    kve_redis_target_t t;
    char url[600];

    if (colon == NULL || colon == s || colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strlen(colon + 1) > 5 || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535 || strpbrk(s, "/@?#[] ") != NULL ||
        strlen(s) > 300) {
        snprintf(err, errlen, "\"%s\" is not host:port (%s)", s, what);
        return -1;
    }
    snprintf(url, sizeof(url), "redis://%s", s);
    if (kve_redis_parse_url(url, &t, err, errlen) != 0)
        return -1;
    kve_redis_target_dispose(&t);
    return 0;
}

/*
 * The sentinel topology: a master name, 1..16 sentinel addresses (none twice), and nothing that names the nodes
 * otherwise (no url, no replicas: the sentinels say where they are); no TLS yet.
 */
static int check_sentinel(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis)
{
    const struct st_kve_redis_sentinel_conf_t *sc = &redis->sentinel;
    const kve_node_t *at;
    char err[400];

    if (sc->master == NULL && sc->addresses.size == 0 && sc->username == NULL && sc->password == NULL && sc->db == 0)
        return 0;
    if (node == NULL) /* the implicit embedded store: it never has these */
        return -1;
    at = at_key(node, "sentinel");
    if (sc->master == NULL) {
        kve_conf_error(conf, at, "sentinel: master is required (the name the sentinels monitor the primary under)");
        return -1;
    }
    if (sc->master[0] == '\0' || strpbrk(sc->master, " \r\n\t") != NULL) {
        kve_conf_error(conf, at, "sentinel.master: a name without spaces, as in `sentinel monitor <name> ...`");
        return -1;
    }
    if (sc->addresses.size == 0) {
        kve_conf_error(conf, at, "sentinel.addresses: list at least one sentinel (host:port; three or more in production)");
        return -1;
    }
    for (size_t i = 0; i != sc->addresses.size; ++i) {
        if (host_port(sc->addresses.entries[i], "a sentinel's address, e.g. 10.0.0.5:26379", err, sizeof(err)) != 0) {
            kve_conf_error(conf, at, "sentinel.addresses[%zu]: %s", i, err);
            return -1;
        }
        for (size_t j = 0; j != i; ++j) {
            if (strcasecmp(sc->addresses.entries[i], sc->addresses.entries[j]) == 0) {
                kve_conf_error(conf, at, "sentinel.addresses[%zu]: the same sentinel as sentinel.addresses[%zu]", i, j);
                return -1;
            }
        }
    }
    if (node != NULL && node->type == KVE_NODE_MAPPING && kve_yaml_get(node, "url") != NULL) {
        kve_conf_error(conf, at_key(node, "url"),
                       "url: a sentinel store gets its primary and replicas from the sentinels: leave url out (the data "
                       "nodes' users are username/password, the database sentinel.db)");
        return -1;
    }
    if (redis->replicas.size != 0) {
        kve_conf_error(conf, at_key(node, "replicas"), "replicas: a sentinel store gets its replicas from the sentinels");
        return -1;
    }
    if (redis->token != NULL) {
        kve_conf_error(conf, at_key(node, "token"), "token: only a KV REST store (an http:// or https:// url) takes a token");
        return -1;
    }
    return check_no_tls(conf, node, redis); /* TLS to sentinel stores: not yet */
}

/*
 * The Redis Cluster topology: 1..16 seed nodes (host:port, none twice) and nothing that names the nodes otherwise (no
 * url, replicas, sentinel), no token, no TLS yet, min_replicas_ack as on other stores (docs/scale-out.md, "Cluster"). A cluster
 * store never falls back to the embedded Redis that `url`'s default names: proxy/stores.c tests cluster.nodes first.
 */
static int check_cluster(kve_conf_t *conf, const kve_node_t *node, const kve_redis_conf_t *redis)
{
    const struct st_kve_redis_urls_t *nodes = &redis->cluster.nodes;
    const kve_node_t *at = at_key(node, "cluster");
    char err[400];

    if (nodes->size == 0) {
        kve_conf_error(conf, at, "cluster.nodes: list at least one node of the cluster (host:port; a few, in case one is down)");
        return -1;
    }
    for (size_t i = 0; i != nodes->size; ++i) {
        if (host_port(nodes->entries[i], "a cluster node's address, e.g. 10.0.0.5:6379", err, sizeof(err)) != 0) {
            kve_conf_error(conf, at, "cluster.nodes[%zu]: %s", i, err);
            return -1;
        }
        for (size_t j = 0; j != i; ++j) {
            if (strcasecmp(nodes->entries[i], nodes->entries[j]) == 0) {
                kve_conf_error(conf, at, "cluster.nodes[%zu]: the same node as cluster.nodes[%zu]", i, j);
                return -1;
            }
        }
    }
    static const char *const others[] = {"url", "replicas", "sentinel"};
    for (size_t i = 0; i != sizeof(others) / sizeof(others[0]); ++i) {
        if (kve_yaml_get(node, others[i]) != NULL) {
            kve_conf_error(conf, at_key(node, others[i]),
                           "%s: a cluster store finds its primaries and replicas from cluster.nodes: leave %s out", others[i],
                           others[i]);
            return -1;
        }
    }
    if (redis->token != NULL) {
        kve_conf_error(conf, at_key(node, "token"), "token: only a KV REST store (an http:// or https:// url) takes a token");
        return -1;
    }
    if (check_min_replicas_ack(conf, node, redis) != 0)
        return -1;
    if (!redis->cluster.tls)
        return check_no_tls(conf, node, redis);
    /* (the name a node is verified against does not change what is loaded) */
    return check_tls_files(conf, node, redis, KVE_REDIS_TLS_TEMPLATE_NAME);
}

int kve_config__check_redis(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_redis_conf_t *redis = obj;
    kve_redis_target_t target;
    char err[256];

    if (node != NULL && node->type == KVE_NODE_MAPPING && kve_yaml_get(node, "cluster") != NULL)
        return check_cluster(conf, node, redis);
    if (check_min_replicas_ack(conf, node, redis) != 0)
        return -1;
    if (redis->sentinel.master != NULL)
        return check_sentinel(conf, node, redis);
    if (check_sentinel(conf, node, redis) != 0) /* sentinel keys without a master */
        return -1;

    if (kve_redis_url_is_rest(redis->url))
        return check_rest(conf, node, redis) != 0 || check_replicas(conf, node, redis, NULL) != 0 ? -1 : 0;
    if (redis->token != NULL) {
        kve_conf_error(conf, at_key(node, "token"), "token: only a KV REST store (an http:// or https:// url) takes a token");
        return -1;
    }
    if (strncmp(redis->url, "rediss://", 9) == 0 ? check_tls(conf, node, redis) != 0 : check_no_tls(conf, node, redis) != 0)
        return -1;
    if (strcmp(redis->url, "embedded") == 0) {
        if (redis->read_only_username != NULL || redis->read_only_password != NULL) {
            kve_conf_error(
                conf, kve_config__at_key(node, redis->read_only_username != NULL ? "read_only_username" : "read_only_password"),
                "the embedded Redis gets its users from kvedge: read_only_username and read_only_password are for "
                "an external Redis");
            return -1;
        }
        return check_replicas(conf, node, redis, NULL);
    }
    if (kve_redis_parse_url(redis->url, &target, err, sizeof(err)) != 0) {
        kve_conf_error(conf, node, "url: %s", err);
        return -1;
    }
    int ret = check_replicas(conf, node, redis, &target);
    kve_redis_target_dispose(&target);
    return ret;
}

static const kve_directive_t sentinel_directives[] = {
    {"master", KVE_T_STRING, KVE_FIELD(struct st_kve_redis_sentinel_conf_t, master), .min = 1, .max = 256,
     .doc = "the name the sentinels monitor the primary under (sentinel monitor NAME ...)"},
    {"addresses", KVE_T_STRING_LIST, KVE_FIELD(struct st_kve_redis_sentinel_conf_t, addresses), 0, 0, 16,
     .doc = "the sentinels, host:port each (asked in turn; three or more in production)"},
    {"username", KVE_T_STRING, KVE_FIELD(struct st_kve_redis_sentinel_conf_t, username), .min = 1, .max = 256,
     .doc = "the sentinels' ACL user, when they require one (the data nodes' users are the store's username/password)"},
    {"password", KVE_T_STRING, KVE_FIELD(struct st_kve_redis_sentinel_conf_t, password), KVE_F_SECRET,
     .doc = "the sentinels' password (sentinel requirepass; or password_file)"},
    {"db", KVE_T_INT, KVE_FIELD(struct st_kve_redis_sentinel_conf_t, db), 0, 0, 99999, "0",
     .doc = "the data nodes' database (as a url's /db)"},
    {NULL}};

static const kve_directive_t cluster_directives[] = {
    {"nodes", KVE_T_STRING_LIST, KVE_FIELD(struct st_kve_redis_cluster_conf_t, nodes), 0, 0, 16,
     .doc = "seed nodes of the cluster, host:port each (any nodes: the slot map is asked of the first that answers)"},
    {"tls", KVE_T_BOOL, KVE_FIELD(struct st_kve_redis_cluster_conf_t, tls), .dflt = "false",
     .doc = "reach every node over TLS (seeds at their tls-port; the slot map's tls-port for the others), verified with "
            "ca_file against tls_server_name, or each node's address without it; tls_cert_file/tls_key_file for mutual TLS"},
    {NULL}};

const kve_directive_t kve_config__redis_directives[] = {
    {"url", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, url), KVE_F_HIDDEN, .min = 1, .dflt = "embedded",
     .doc = "\"embedded\", redis://[user:pass@]host:port/db, rediss://... (TLS), unix:///path?db=N, or a KV REST store: "
            "https://host[:port] "
            "(Upstash, Vercel KV, another kvedge's /kv; http:// on loopback)"},
    {"token", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, token), KVE_F_SECRET, 1, 4096,
     .doc = "KV REST store: the bearer token (or token_file, or ${ENV}); required there"},
    {"ca_file", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, ca_file), KVE_F_PATH, .min = 1,
     .doc = "rediss:// or https:// store: the CA bundle that verifies its certificate (default: the system's)"},
    {"tls_cert_file", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, tls_cert_file), KVE_F_PATH, .min = 1,
     .doc = "rediss://: client certificate chain (PEM) for mutual TLS (Redis' tls-auth-clients yes); with tls_key_file"},
    {"tls_key_file", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, tls_key_file), KVE_F_PATH, .min = 1,
     .doc = "rediss://: the client certificate's private key (PEM, unencrypted)"},
    {"tls_server_name", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, tls_server_name), .min = 1, .max = 255,
     .doc = "rediss://: the name (or IP address) the server's certificate must carry, sent as SNI (default: the url's host)"},
    {"username", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, username), .doc = "ACL user (overrides the URL's)"},
    {"password", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, password), KVE_F_SECRET,
     .doc = "overrides the URL's (or password_file)"},
    {"read_only_username", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, read_only_username), .min = 1, .max = 256,
     .doc = "ACL user for read-only tokens, only on the store the KV API serves (external Redis; `kvedge acl` prints its rules)"},
    {"read_only_password", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, read_only_password), KVE_F_SECRET,
     .doc = "its password (or read_only_password_file)"},
    {"connect_timeout", KVE_T_DURATION, KVE_FIELD(kve_redis_conf_t, connect_timeout_ms), 0, 10, 60 * SEC, "1s",
     .doc = "connect and handshake"},
    {"command_timeout", KVE_T_DURATION, KVE_FIELD(kve_redis_conf_t, command_timeout_ms), 0, 1, 600 * SEC, "1s",
     .doc = "a command without reply by then fails (504)"},
    {"reconnect_max_delay", KVE_T_DURATION, KVE_FIELD(kve_redis_conf_t, reconnect_max_delay_ms), 0, 50, 60 * SEC, "1s",
     .doc = "reconnect backoff cap (starts at 50ms)"},
    {"breaker_threshold", KVE_T_INT, KVE_FIELD(kve_redis_conf_t, breaker_threshold), 0, 1, 1000000, "5",
     .doc = "timeouts in a row before the connection is rebuilt (a request's commands count once; late replies do not reset it; "
            "commands queued behind a running script do not count until the script watchdog is done)"},
    {"replicas", KVE_T_STRING_LIST, KVE_FIELD(kve_redis_conf_t, replicas), 0, 0, 16,
     .doc = "replicas of the primary `url` (redis://, rediss:// with a rediss:// primary, or unix:// URLs, same database; "
            "credentials and TLS options are the primary's): "
            "reads that carry an upstash-sync-token go to them, round robin, when ROLE shows they are linked and have it, "
            "else to the primary (docs/scale-out.md)"},
    {"min_replicas_ack", KVE_T_INT, KVE_FIELD(kve_redis_conf_t, min_replicas_ack), 0, 0, 64, "0",
     .doc = "a KV request that wrote is answered only once this many replicas acknowledged its writes (WAIT on a link of its "
            "own, after a PUBLISH there), else 503 \"write not acknowledged\" (the write may still be on the primary: it is not "
            "rolled back); 0 = off (docs/scale-out.md)"},
    {"min_replicas_ack_timeout", KVE_T_DURATION, KVE_FIELD(kve_redis_conf_t, min_replicas_ack_timeout_ms), 0, 1, 60 * SEC, "100ms",
     .doc = "how long a write waits for min_replicas_ack replicas before it answers 503; below command_timeout"},
    {"sentinel", KVE_T_MAP, KVE_FIELD(kve_redis_conf_t, sentinel), .children = sentinel_directives,
     .doc = "find the primary and its replicas with Redis Sentinel instead of url: {master: NAME, addresses: [host:port, ...]} "
            "(docs/scale-out.md)"},
    {"cluster", KVE_T_MAP, KVE_FIELD(kve_redis_conf_t, cluster), .children = cluster_directives,
     .doc = "a Redis Cluster instead of url: {nodes: [host:port, ...]} (in progress: checked by kvedge -t, then refused until "
            "the driver is built; docs/scale-out.md)"},
    {NULL}};

const kve_directive_t kve_config__embedded_directives[] = {
    {"binary", KVE_T_STRING, KVE_FIELD(kve_embedded_conf_t, binary), KVE_F_PROGRAM, .min = 1, .dflt = "redis-server",
     .doc = "redis-server program (looked up in PATH; a path with a '/' is relative to the config file's folder)"},
    {"appendfsync", KVE_T_ENUM, KVE_FIELD(kve_embedded_conf_t, appendfsync), .dflt = "everysec",
     .choices = kve_embedded_fsync_modes, .doc = "AOF fsync policy"},
    {"maxmemory", KVE_T_SIZE, KVE_FIELD(kve_embedded_conf_t, maxmemory), .dflt = "0", .doc = "0 = no limit"},
    {"maxmemory_policy", KVE_T_ENUM, KVE_FIELD(kve_embedded_conf_t, maxmemory_policy), .dflt = "noeviction",
     .choices = kve_embedded_policies,
     .doc = "what Redis does at maxmemory: noeviction refuses writes (KV data is never dropped silently); allkeys-lru and the "
            "others evict keys (for a cache-only store)"},
    {"options", KVE_T_CUSTOM, KVE_FIELD(kve_embedded_conf_t, options), .parse = kve_config__parse_embedded_options,
     .doc = "more redis-server tuning options, name: value (hz, maxmemory-samples, lazyfree-lazy-eviction, ...; only those "
            "docs/configuration.md lists)"},
    {"client_output_buffer_limit", KVE_T_SIZE, KVE_FIELD(kve_embedded_conf_t, client_output_buffer_limit), .dflt = "256MiB",
     .doc = "Redis closes a kvedge connection whose unread replies pass this (client-output-buffer-limit normal); 0 = no limit"},
    {"start_timeout", KVE_T_DURATION, KVE_FIELD(kve_embedded_conf_t, start_timeout_ms), 0, 100, HOUR, "10s",
     .doc = "how long to wait for the server at startup"},
    {NULL}};
