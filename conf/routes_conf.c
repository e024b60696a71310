/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the reverse-proxy routes (`routes:`).
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
        return kve_config__check_readable(conf, kve_config__at_key(node, "ca_file"), "ca_file", route->ca_file);
    return 0;
}

const kve_directive_t kve_config__route_directives[] = {
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
