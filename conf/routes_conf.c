/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the reverse-proxy routes: `routes:` and `proxy:`, the block of defaults every route inherits
 * (a key a route does not give takes proxy's value, then the default). Both tables declare the upstream settings
 * with the same macro, so they cannot drift apart; only settings h2o's proxy handler honours per route are here
 * (it has one I/O timeout that also bounds the connect, and no cap on requests in flight).
 */
#include "conf/config.h"
#include "conf/config_internal.h"

static const char *const http_schemes[] = {"http", "https", NULL};

/* what would otherwise fail only at startup: the upstream as h2o parses it (e.g. a port beyond 65535), the CA file */
int kve_config__check_route(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_route_conf_t *route = obj;
    h2o_url_t url;
    if (kve_config__check_path(conf, node, route->path) != 0)
        return -1;
    if (h2o_url_parse(route->upstream, SIZE_MAX, &url) != 0 || h2o_url_get_port(&url) == 0) {
        kve_conf_error(conf, kve_config__at_key(node, "upstream"),
                       "upstream: expected http(s)://host[:port][/path] with a port from 1 to 65535");
        return -1;
    }
    if (url.scheme == &H2O_URL_SCHEME_HTTPS && route->ca_file != NULL && route->ca_file[0] != '\0')
        return kve_config__check_readable(
            conf, kve_conf_origin_node(conf, &route->ca_file, node),
            kve_conf_origin(conf, &route->ca_file).kind == KVE_CONF_INHERITED ? "ca_file (from proxy.ca_file)" : "ca_file",
            route->ca_file);
    return 0;
}

/* the settings a route may inherit from proxy:, for a struct `type` with the same field names */
/* clang-format off */
#define UPSTREAM_SETTINGS(type)                                                                                      \
    {"timeout", KVE_T_DURATION, KVE_FIELD(type, timeout_ms), 0, 10, HOUR, "30s", .doc = "upstream I/O timeout"},     \
    {"keepalive_timeout", KVE_T_DURATION, KVE_FIELD(type, keepalive_timeout_ms), 0, 0, HOUR, "2s",                    \
     .doc = "idle upstream connections are kept this long (0s: no reuse)"},                                          \
    {"preserve_host", KVE_T_BOOL, KVE_FIELD(type, preserve_host), .dflt = "false",                                   \
     .doc = "send the client's Host header upstream"},                                                               \
    {"ca_file", KVE_T_STRING, KVE_FIELD(type, ca_file), KVE_F_PATH, .doc = "https upstreams: CA bundle (default: system store)"}
/* clang-format on */

const kve_directive_t kve_config__route_directives[] = {
    {"path", KVE_T_STRING, KVE_FIELD(kve_route_conf_t, path), KVE_F_REQUIRED, 1, 1024, .doc = "URL prefix"},
    {"upstream", KVE_T_URL, KVE_FIELD(kve_route_conf_t, upstream), KVE_F_REQUIRED, .choices = http_schemes,
     .doc = "http(s)://host:port/ to forward to"},
    UPSTREAM_SETTINGS(kve_route_conf_t),
    {"cache", KVE_T_MAP, KVE_FIELD(kve_route_conf_t, cache), .children = kve_config__cache_directives, .shorthand = "enabled",
     .check = kve_config__check_cache, .inherits = "cache",
     .doc = "cache this route's GET/HEAD responses (HTTP cache, RFC 9111); keys not given come from the top-level cache:"},
    {"session", KVE_T_MAP, KVE_FIELD(kve_route_conf_t, session), .children = kve_config__session_directives, .shorthand = "mode",
     .check = kve_config__check_session, .inherits = "session",
     .doc = "user sessions in a store for this route's upstream (docs/sessions.md); keys not given come from the top-level "
            "session:"},
    {NULL}};

const kve_directive_t kve_config__proxy_directives[] = {UPSTREAM_SETTINGS(kve_proxy_conf_t), {NULL}};
