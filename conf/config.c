/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the kvedge configuration (docs/configuration.md is the prose form of these
 * tables; `kvedge --help-config` prints them). Each key is declared once with its type, default, range
 * and documentation; cross-field rules live in the .check functions below the tables.
 */
#include "conf/config.h"
#include "conf/conf.h"
#include "conf/config_internal.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const http_schemes[] = {"http", "https", NULL};

#define KIB 1024
#define MIB (1024 * 1024)
#define GIB (1024LL * 1024 * 1024)
#define SEC 1000
#define HOUR (3600 * 1000)

/* the value node of `key` in a mapping, for pointing at it (the mapping itself if absent or a _file form) */
static const kve_node_t *at_key(const kve_node_t *mapping, const char *key)
{
    const kve_node_t *n = kve_yaml_get(mapping, key);
    return n != NULL ? n : mapping;
}

static int check_tls(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_tls_conf_t *tls = obj;
    if ((tls->cert_file == NULL) != (tls->key_file == NULL)) {
        kve_conf_error(conf, node, "cert_file and key_file must be given together");
        return -1;
    }
    return 0;
}

static const kve_directive_t tls_directives[] = {
    {"cert_file", KVE_T_STRING, KVE_FIELD(kve_tls_conf_t, cert_file), .min = 1, .doc = "PEM certificate chain"},
    {"key_file", KVE_T_STRING, KVE_FIELD(kve_tls_conf_t, key_file), .min = 1, .doc = "PEM private key"},
    {NULL}};

static const kve_directive_t listen_directives[] = {
    {"host", KVE_T_STRING, KVE_FIELD(kve_listen_conf_t, host), .min = 1, .dflt = "127.0.0.1", .doc = "address to bind"},
    {"port", KVE_T_INT, KVE_FIELD(kve_listen_conf_t, port), KVE_F_REQUIRED, 1, 65535, .doc = "TCP port"},
    {"tls", KVE_T_MAP, KVE_FIELD(kve_listen_conf_t, tls), .children = tls_directives, .check = check_tls,
     .doc = "serve HTTPS with this certificate"},
    {NULL}};

static const kve_directive_t limits_directives[] = {
    {"max_body_size", KVE_T_SIZE, KVE_FIELD(kve_server_limits_t, max_body_size), 0, 1, GIB, "10MiB",
     .doc = "largest request body (413 beyond)"},
    {"max_header_size", KVE_T_SIZE, KVE_FIELD(kve_server_limits_t, max_header_size), 0, KIB, 256 * KIB, "16KiB",
     .doc = "total bytes of request header fields (431 beyond)"},
    {"max_headers", KVE_T_INT, KVE_FIELD(kve_server_limits_t, max_headers), 0, 1, 100, "64",
     .doc = "number of request header fields (431 beyond; h2o parses at most 100)"},
    {"max_connections", KVE_T_INT, KVE_FIELD(kve_server_limits_t, max_connections), 0, 1, 1048576, "4096",
     .doc = "open client connections; beyond it kvedge stops accepting"},
    {"request_timeout", KVE_T_DURATION, KVE_FIELD(kve_server_limits_t, request_timeout_ms), 0, 100, HOUR, "10s",
     .doc = "reading a request, and keep-alive idle time"},
    {"handshake_timeout", KVE_T_DURATION, KVE_FIELD(kve_server_limits_t, handshake_timeout_ms), 0, 100, HOUR, "10s",
     .doc = "TLS handshake"},
    {"drain_timeout", KVE_T_DURATION, KVE_FIELD(kve_server_limits_t, drain_timeout_ms), 0, 0, HOUR, "10s",
     .doc = "on SIGTERM, how long in-flight requests may take"},
    {"max_pending_size", KVE_T_SIZE, KVE_FIELD(kve_server_limits_t, max_pending_size), 0, 0, 64 * GIB, "64MiB",
     .doc = "memory of requests being received that no handler (no token check) has seen yet, all connections; beyond "
            "it the largest get 503 and are closed (0: no limit; at least twice the largest request accepted)"},
    {NULL}};

/* log: the access log format compiles (else kvedge -t passes a file that fails at startup) */
static int check_log(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_log_conf_t *log = obj;
    char err[512];
    if (kve_access_log_check_format(log->access_log_format, err, sizeof(err)) != 0) {
        kve_conf_error(conf, at_key(node, "access_log_format"), "%s", err);
        return -1;
    }
    return 0;
}

static const kve_directive_t log_directives[] = {
    {"level", KVE_T_ENUM, KVE_FIELD(kve_log_conf_t, level), .dflt = "info", .choices = log_levels, .doc = "error log verbosity"},
    {"error_log", KVE_T_STRING, KVE_FIELD(kve_log_conf_t, error_log), .min = 1, .dflt = "-",
     .doc = "\"-\" for stderr, or a file (reopened on SIGHUP)"},
    {"access_log", KVE_T_STRING, KVE_FIELD(kve_log_conf_t, access_log),
     .doc = "\"\" off, \"-\" stdout, or a file (reopened on SIGHUP)"},
    {"access_log_format", KVE_T_STRING, KVE_FIELD(kve_log_conf_t, access_log_format),
     .doc = "h2o log format, at most 4096 bytes (default: common log format plus duration)"},
    {NULL}};

/*
 * The `path` of an object whose mapping is `node`: a URL prefix, starting with "/", of printable ASCII
 * without space, '"', '\\', '?' or '#' (a query or fragment can never match). One trailing "/" is dropped:
 * "/ops/" and "/ops" are the same prefix.
 */
static int check_path(kve_conf_t *conf, const kve_node_t *node, char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = path[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"\\?#", c) != NULL) {
            kve_conf_error(conf, at_key(node, "path"),
                           "path must be printable ASCII without spaces, '\"', '\\', '?' or '#' (byte %zu is 0x%02x)", i, c);
            return -1;
        }
    }
    if (path[0] != '/') {
        kve_conf_error(conf, at_key(node, "path"), "path must start with \"/\", got \"%s\"", path);
        return -1;
    }
    if (len > 1 && path[len - 1] == '/')
        path[len - 1] = '\0';
    return 0;
}

static int check_admin(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_admin_conf_t *admin = obj;
    return check_path(conf, node, admin->path);
}

static const kve_directive_t admin_directives[] = {
    {"path", KVE_T_STRING, KVE_FIELD(kve_admin_conf_t, path), .min = 1, .max = 256, .dflt = "/",
     .doc = "prefix of /healthz, /readyz and /metrics"},
    {"token", KVE_T_STRING, KVE_FIELD(kve_admin_conf_t, token), KVE_F_SECRET, 16, 4096,
     .doc = "require Authorization: Bearer <token> (at least 16 bytes; or token_file)"},
    {"ready_timeout", KVE_T_DURATION, KVE_FIELD(kve_admin_conf_t, ready_timeout_ms), 0, 10, 60 * SEC, "1s",
     .doc = "how long /readyz waits for the KV store"},
    {NULL}};

static int check_redis(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_redis_conf_t *redis = obj;
    kve_redis_target_t target;
    char err[256];

    if (strcmp(redis->url, "embedded") == 0) {
        if (redis->read_only_username != NULL || redis->read_only_password != NULL) {
            kve_conf_error(conf, at_key(node, redis->read_only_username != NULL ? "read_only_username" : "read_only_password"),
                           "the embedded Redis gets its users from kvedge: read_only_username and read_only_password are for "
                           "an external Redis");
            return -1;
        }
        return 0;
    }
    if (kve_redis_parse_url(redis->url, &target, err, sizeof(err)) != 0) {
        kve_conf_error(conf, node, "url: %s", err);
        return -1;
    }
    kve_redis_target_dispose(&target);
    return 0;
}

static const kve_directive_t redis_directives[] = {
    {"url", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, url), KVE_F_HIDDEN, .min = 1, .dflt = "embedded",
     .doc = "\"embedded\", redis://[user:pass@]host:port/db or unix:///path?db=N"},
    {"username", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, username), .doc = "ACL user (overrides the URL's)"},
    {"password", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, password), KVE_F_SECRET,
     .doc = "overrides the URL's (or password_file)"},
    {"read_only_username", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, read_only_username), .min = 1, .max = 256,
     .doc = "ACL user for read-only tokens on the store the KV API serves (external Redis; `kvedge acl` prints its rules)"},
    {"read_only_password", KVE_T_STRING, KVE_FIELD(kve_redis_conf_t, read_only_password), KVE_F_SECRET,
     .doc = "its password (or read_only_password_file)"},
    {"connect_timeout", KVE_T_DURATION, KVE_FIELD(kve_redis_conf_t, connect_timeout_ms), 0, 10, 60 * SEC, "1s",
     .doc = "connect and handshake"},
    {"command_timeout", KVE_T_DURATION, KVE_FIELD(kve_redis_conf_t, command_timeout_ms), 0, 1, 600 * SEC, "1s",
     .doc = "a command without reply by then fails (504)"},
    {"reconnect_max_delay", KVE_T_DURATION, KVE_FIELD(kve_redis_conf_t, reconnect_max_delay_ms), 0, 50, 60 * SEC, "1s",
     .doc = "reconnect backoff cap (starts at 50ms)"},
    {"breaker_threshold", KVE_T_INT, KVE_FIELD(kve_redis_conf_t, breaker_threshold), 0, 1, 1000000, "5",
     .doc = "timeouts in a row before the connection is rebuilt (a request's commands count once; late replies do not reset it)"},
    {NULL}};

static const kve_directive_t embedded_directives[] = {
    {"binary", KVE_T_STRING, KVE_FIELD(kve_embedded_conf_t, binary), .min = 1, .dflt = "redis-server",
     .doc = "redis-server program (looked up in PATH)"},
    {"appendfsync", KVE_T_ENUM, KVE_FIELD(kve_embedded_conf_t, appendfsync), .dflt = "everysec",
     .choices = kve_embedded_fsync_modes, .doc = "AOF fsync policy"},
    {"maxmemory", KVE_T_SIZE, KVE_FIELD(kve_embedded_conf_t, maxmemory), .dflt = "0", .doc = "0 = no limit"},
    {"client_output_buffer_limit", KVE_T_SIZE, KVE_FIELD(kve_embedded_conf_t, client_output_buffer_limit), .dflt = "256MiB",
     .doc = "Redis closes a kvedge connection whose unread replies pass this (client-output-buffer-limit normal); 0 = no limit"},
    {"start_timeout", KVE_T_DURATION, KVE_FIELD(kve_embedded_conf_t, start_timeout_ms), 0, 100, HOUR, "10s",
     .doc = "how long to wait for the server at startup"},
    {NULL}};

/* a file kvedge will open: it exists, is readable and is not a directory */
static int check_readable(kve_conf_t *conf, const kve_node_t *node, const char *key, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), err = fd == -1              ? errno
                                                     : fstat(fd, &st) != 0 ? errno
                                                     : S_ISDIR(st.st_mode) ? EISDIR
                                                                           : 0;
    if (fd != -1)
        close(fd);
    if (err != 0) {
        kve_conf_error(conf, node, "%s: cannot read %s: %s", key, path, strerror(err));
        return -1;
    }
    return 0;
}

/* what would otherwise fail only at startup: the upstream as h2o parses it (e.g. a port beyond 65535), the CA file */
static int check_route(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_route_conf_t *route = obj;
    h2o_url_t url;
    if (check_path(conf, node, route->path) != 0)
        return -1;
    if (h2o_url_parse(route->upstream, SIZE_MAX, &url) != 0 || h2o_url_get_port(&url) == 0) {
        kve_conf_error(conf, at_key(node, "upstream"),
                       "upstream: expected http(s)://host[:port][/path] with a port from 1 to 65535");
        return -1;
    }
    if (url.scheme == &H2O_URL_SCHEME_HTTPS && route->ca_file != NULL && route->ca_file[0] != '\0')
        return check_readable(conf, at_key(node, "ca_file"), "ca_file", route->ca_file);
    return 0;
}

static const kve_directive_t route_directives[] = {
    {"path", KVE_T_STRING, KVE_FIELD(kve_route_conf_t, path), KVE_F_REQUIRED, 1, 1024, .doc = "URL prefix"},
    {"upstream", KVE_T_URL, KVE_FIELD(kve_route_conf_t, upstream), KVE_F_REQUIRED, .choices = http_schemes,
     .doc = "http(s)://host:port/ to forward to"},
    {"timeout", KVE_T_DURATION, KVE_FIELD(kve_route_conf_t, timeout_ms), 0, 10, HOUR, "30s", .doc = "upstream I/O timeout"},
    {"keepalive_timeout", KVE_T_DURATION, KVE_FIELD(kve_route_conf_t, keepalive_timeout_ms), 0, 0, HOUR, "2s",
     .doc = "idle upstream connections are kept this long (0s: no reuse)"},
    {"preserve_host", KVE_T_BOOL, KVE_FIELD(kve_route_conf_t, preserve_host), .dflt = "false",
     .doc = "send the client's Host header upstream"},
    {"ca_file", KVE_T_STRING, KVE_FIELD(kve_route_conf_t, ca_file), .doc = "https upstreams: CA bundle (default: system store)"},
    {NULL}};

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

static int check_kv(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_config_t *cfg = (void *)((char *)obj - offsetof(kve_config_t, kv));
    kve_rest_conf_t *kv = obj;

    cfg->kv_enabled = node != NULL;
    if (node == NULL)
        return 0;
    if (kv->tokens.size == 0 && (kv->jwt_key == NULL || kv->jwt_key[0] == '\0')) {
        kve_conf_error(conf, node, "the KV API needs at least one entry in tokens, or a jwt_key");
        return -1;
    }
    if (kv->jwt_key != NULL && kv->jwt_key[0] != '\0' && strlen(kv->jwt_key) < KVE_JWT_MIN_KEY) {
        kve_conf_error(conf, at_key(node, "jwt_key"), "jwt_key must be at least %d bytes (e.g. the output of openssl rand -hex 32)",
                       KVE_JWT_MIN_KEY);
        return -1;
    }
    if (check_unique_tokens(conf, node, kv) != 0)
        return -1;
    return check_path(conf, node, kv->path);
}

/* kv.sync_key named the Redis key the old sync tokens counted writes in; tokens no longer need a key, and old
 * files keep working: a warning, and the value is ignored */
static int parse_removed_sync_key(kve_conf_t *conf, const kve_node_t *node, void *field)
{
    kve_conf_warn(conf, node,
                  "no longer used, ignored: sync tokens come from Redis' replication offset, no key is "
                  "written (remove it; the old key can be deleted)");
    return 0;
}

static const kve_directive_t kv_directives[] = {
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
     .doc = "more commands to refuse (lowercase; \"config|get\" for a subcommand, \"config\" for all of them)"},
    {"allow_commands", KVE_T_STRING_LIST, KVE_FIELD(kve_rest_conf_t, allow_commands), 0, 0, 1024,
     .doc = "commands refused by default to allow anyway (read-write tokens): administrative ones (\"config|get\"), migrate, "
            "move, copy (COPY ... DB), script|flush, function|flush, monitor (the /monitor endpoint)"},
    {"cors_origins", KVE_T_STRING_LIST, KVE_FIELD(kve_rest_conf_t, cors_origins), 0, 0, 1024,
     .doc = "origins allowed by CORS (\"*\" for any); empty: no CORS"},
    {"command_timeout", KVE_T_DURATION, KVE_FIELD(kve_rest_conf_t, command_timeout_ms), 0, 0, 600 * SEC, "0s",
     .doc = "per command (0s: the command_timeout of its store)"},
    {"script_timeout", KVE_T_DURATION, KVE_FIELD(kve_rest_conf_t, script_timeout_ms), 0, 100, 600 * SEC, "5s",
     .doc = "requests running a script (EVAL, FCALL...) time out after this, and the script is stopped (SCRIPT KILL)"},
    {"heartbeat", KVE_T_DURATION, KVE_FIELD(kve_rest_conf_t, heartbeat_ms), 0, 100, HOUR, "15s",
     .doc = "SSE comment heartbeat interval"},
    {"max_streams", KVE_T_INT, KVE_FIELD(kve_rest_conf_t, max_streams), 0, 1, 100000, "1024",
     .doc = "open /subscribe, /psubscribe and /monitor streams (one Redis connection each), all threads; more get 503"},
    {"max_streams_per_token", KVE_T_INT, KVE_FIELD(kve_rest_conf_t, max_streams_per_token), 0, 1, 100000, "256",
     .doc = "open streams of any one token (static or JWT), so one token cannot hold every kv.max_streams slot; more get 503"},
    {"sync_key", KVE_T_CUSTOM, 0, .parse = parse_removed_sync_key,
     .doc = "removed (ignored with a warning): sync tokens come from Redis' replication offset, no key is written"},
    {"listen", KVE_T_LIST, KVE_FIELD(kve_rest_conf_t, listen), 0, 0, 64, .children = listen_directives,
     .elem_size = sizeof(kve_listen_conf_t), .doc = "listeners of its own (then the API is not on the main listeners)"},
    {NULL}};

static const kve_directive_t top_directives[] = {
    {"threads", KVE_T_INT, KVE_FIELD(kve_config_t, server.threads), 0, 0, 256, "0", .doc = "worker threads (0 = one per CPU)"},
    {"data_dir", KVE_T_STRING, KVE_FIELD(kve_config_t, embedded.data_dir), .min = 1, .dflt = "./kvedge-data",
     .doc = "embedded Redis data, socket and lock"},
    {"http2", KVE_T_BOOL, KVE_FIELD(kve_config_t, server.http2), .dflt = "false",
     .doc = "offer HTTP/2 (h2o 2.2.5 lacks rapid-reset protection: only behind a trusted front end)"},
    {"listen", KVE_T_LIST, KVE_FIELD(kve_config_t, server.listen), KVE_F_REQUIRED, 1, 64, .children = listen_directives,
     .elem_size = sizeof(kve_listen_conf_t), .doc = "listeners"},
    {"limits", KVE_T_MAP, KVE_FIELD(kve_config_t, server.limits), .children = limits_directives, .doc = "request limits"},
    {"log", KVE_T_MAP, KVE_FIELD(kve_config_t, log), .children = log_directives, .check = check_log,
     .doc = "error and access logs"},
    {"admin", KVE_T_MAP, KVE_FIELD(kve_config_t, admin), .children = admin_directives, .check = check_admin,
     .doc = "health, readiness and metrics endpoints"},
    {"redis", KVE_T_MAP, KVE_FIELD(kve_config_t, redis), .children = redis_directives, .shorthand = "url", .check = check_redis,
     .doc = "the store named default (a scalar sets url); the same as stores.default, write one of them"},
    {"stores", KVE_T_DICT, KVE_FIELD(kve_config_t, named_stores), 0, 0, KVE_STORES_MAX, .children = redis_directives,
     .elem_size = sizeof(kve_redis_conf_t), .shorthand = "url", .check = check_redis,
     .doc = "named stores, each like redis: (a scalar sets url); features pick one by name (kv.store); at most one is "
            "embedded; without redis: or stores.default there is no store named default unless no store is named at all"},
    {"embedded_redis", KVE_T_MAP, KVE_FIELD(kve_config_t, embedded), .children = embedded_directives,
     .doc = "the redis-server kvedge runs itself (the store whose url is embedded)"},
    {"routes", KVE_T_LIST, KVE_FIELD(kve_config_t, routes), 0, 0, 256, .children = route_directives,
     .elem_size = sizeof(kve_route_conf_t), .check = check_route, .doc = "reverse-proxy routes"},
    {"kv", KVE_T_MAP, KVE_FIELD(kve_config_t, kv), .children = kv_directives, .check = check_kv,
     .doc = "the KV REST API (Upstash / Vercel KV protocol); absent: not served"},
    {NULL}};

/* the server's listener list: the main ones (group 0), then the KV API's own (group 1) */
static void build_listeners(kve_config_t *cfg)
{
    size_t i, n = cfg->server.listen.size, m = cfg->kv_enabled ? cfg->kv.listen.size : 0;
    kve_listen_conf_t *all = kve_zalloc(sizeof(*all) * KVE_MAX(n + m, 1));

    for (i = 0; i != n; ++i)
        all[i] = cfg->server.listen.entries[i];
    for (i = 0; i != m; ++i) {
        all[n + i] = cfg->kv.listen.entries[i];
        all[n + i].group = 1;
    }
    cfg->all_listeners.entries = all;
    cfg->all_listeners.size = n + m;
}

/* where served path `p` is configured in the file (NULL: nowhere, e.g. the default admin.path) */
static const kve_node_t *served_node(const kve_node_t *root, const kve_served_path_t *p)
{
    const kve_node_t *routes;
    switch (p->kind) {
    case KVE_SERVED_ROUTE:
        routes = kve_yaml_get(root, "routes");
        if (routes == NULL || routes->type != KVE_NODE_SEQUENCE || p->index >= routes->u.sequence.size)
            return routes;
        return at_key(routes->u.sequence.items[p->index], "path");
    case KVE_SERVED_KV:
        return at_key(kve_yaml_get(root, "kv"), "path");
    default:
        return at_key(kve_yaml_get(root, "admin"), "path");
    }
}

/* "routes[2].path \"/api\"", "kv.path \"/kv\"" or "the admin endpoint \"/healthz\"" */
static void describe_served(char *buf, size_t size, const kve_served_path_t *p)
{
    if (p->kind == KVE_SERVED_ROUTE) {
        snprintf(buf, size, "routes[%zu].path \"%s\"", p->index, p->path);
    } else if (p->kind == KVE_SERVED_KV) {
        snprintf(buf, size, "kv.path \"%s\"", p->path);
    } else {
        snprintf(buf, size, "the admin endpoint \"%s\"", p->path);
    }
}

/*
 * A path served twice on the same listeners would leave one of its handlers unreachable: the admin
 * endpoints, the KV API (on the main listeners unless kv.listen is set) and every route need paths of
 * their own. Each later entry is reported once, against the first earlier one.
 */
static int check_served_paths(kve_conf_t *conf, const kve_config_t *cfg)
{
    size_t n, i, j;
    kve_served_path_t *paths = kve_config__served_paths(cfg, &n);
    char first[1100], second[1100];
    int ret = 0;

    for (j = 1; j != n; ++j) {
        for (i = 0; i != j; ++i) {
            if (paths[i].group != paths[j].group || !kve_config__same_path(paths[i].path, paths[j].path))
                continue;
            describe_served(first, sizeof(first), paths + i);
            describe_served(second, sizeof(second), paths + j);
            kve_conf_error(conf, served_node(kve_conf_root(conf), paths + j), "%s is also served by %s", second, first);
            ret = -1;
            break;
        }
    }
    kve_config__free_served(paths, n);
    return ret;
}

/*
 * limits.max_pending_size must hold one request of the largest size accepted, in a buffer grown by doubling
 * (twice its size): such a request would otherwise always be refused with 503 (proxy/pending.h).
 */
static int check_pending_size(kve_conf_t *conf, const kve_config_t *cfg)
{
    const kve_server_limits_t *l = &cfg->server.limits;
    const kve_node_t *root = kve_conf_root(conf), *node;
    int kv = cfg->kv_enabled && cfg->kv.max_request_size > l->max_body_size;
    uint64_t body = kv ? cfg->kv.max_request_size : l->max_body_size;

    if (l->max_pending_size == 0 || l->max_pending_size >= 2 * (body + l->max_header_size))
        return 0;
    if ((node = kve_yaml_get(kve_yaml_get(root, "limits"), "max_pending_size")) == NULL &&
        (node = kve_yaml_get(kve_yaml_get(root, kv ? "kv" : "limits"), kv ? "max_request_size" : "max_body_size")) == NULL)
        node = root;
    kve_conf_error(conf, node,
                   "limits.max_pending_size: %llu bytes cannot hold one request of the largest size accepted: it must be at "
                   "least twice %s (%llu bytes) plus limits.max_header_size (%llu bytes), as buffers grow by doubling",
                   (unsigned long long)l->max_pending_size, kv ? "kv.max_request_size" : "limits.max_body_size",
                   (unsigned long long)body, (unsigned long long)l->max_header_size);
    return -1;
}

int kve_config_load(kve_config_t *cfg, const char *path, FILE *errout)
{
    kve_conf_t *conf = kve_conf_new(errout);
    int ret = kve_conf_load_file(conf, path, top_directives, cfg);
    if (ret == 0)
        ret = kve_config__build_stores(conf, cfg);
    if (ret == 0)
        ret = check_served_paths(conf, cfg);
    if (ret == 0)
        ret = check_pending_size(conf, cfg);
    kve_conf_free(conf);
    if (ret == 0)
        build_listeners(cfg);
    return ret;
}

void kve_config_dispose(kve_config_t *cfg)
{
    kve_conf_free_fields(top_directives, cfg);
    free(cfg->all_listeners.entries); /* its strings belong to the lists above */
    cfg->all_listeners.entries = NULL;
    free(cfg->stores.entries); /* borrows from redis and named_stores */
    cfg->stores.entries = NULL;
    cfg->stores.size = 0;
}

void kve_config_print_reference(FILE *out)
{
    kve_conf_print_reference(out, top_directives);
}
