/* SPDX-License-Identifier: MIT */
/*
 * Turns the loaded configuration into h2o paths. Every path gets, in order: the header-limit check,
 * its feature handler, and the logger that feeds metrics and the access log; the host's fallback path
 * gets the logger too, so 404s and h2o's own 413s are counted and logged.
 */
#include "conf/config.h"
#include "handlers/limits.h"
#include "proxy/common.h"
#include "proxy/metrics.h"

#include <stdio.h>

static h2o_pathconf_t *register_path(const kve_config_t *cfg, kve_server_t *server, int group, const char *path, const char *route,
                                     kve_access_log_t *log)
{
    kve_limits_conf_t limits = {cfg->server.limits.max_header_size, (size_t)cfg->server.limits.max_headers,
                                strcmp(route, "kv") == 0 ? 0 : cfg->server.limits.max_body_size};
    h2o_pathconf_t *pathconf = h2o_config_register_path(kve_server_hostconf(server, group), path, 0);

    kve_limits_register(pathconf, &limits);
    kve_access_register(pathconf, kve_metrics_route_id(route), log);
    return pathconf;
}

static void register_admin(const kve_config_t *cfg, kve_server_t *server, const kve_admin_sources_t *sources, kve_access_log_t *log)
{
    static const struct {
        const char *name;
        kve_admin_endpoint_t endpoint;
    } endpoints[] = {{"healthz", KVE_ADMIN_HEALTHZ}, {"readyz", KVE_ADMIN_READYZ}, {"metrics", KVE_ADMIN_METRICS}};
    const char *prefix = strcmp(cfg->admin.path, "/") == 0 ? "" : cfg->admin.path;
    char path[512];
    size_t i;

    for (i = 0; i != KVE_ARRAY_SIZE(endpoints); ++i) {
        snprintf(path, sizeof(path), "%s/%s", prefix, endpoints[i].name);
        kve_admin_register(register_path(cfg, server, 0, path, "admin", log), endpoints[i].endpoint, &cfg->admin, sources);
    }
}

static void register_fallback(const kve_config_t *cfg, h2o_hostconf_t *host, kve_access_log_t *log)
{
    kve_limits_conf_t limits = {cfg->server.limits.max_header_size, (size_t)cfg->server.limits.max_headers,
                                cfg->server.limits.max_body_size};
    kve_limits_register(&host->fallback_path, &limits); /* unknown paths answer 404 after the check */
    kve_access_register(&host->fallback_path, kve_metrics_route_id("other"), log);
}

int kve_config_register_paths(const kve_config_t *cfg, kve_server_t *server, const kve_admin_sources_t *sources,
                              kve_access_log_t *log, char *err, size_t errlen)
{
    char route[64];
    size_t i;
    int kv_group = cfg->kv.listen.size != 0 ? 1 : 0;

    register_admin(cfg, server, sources, log);
    if (cfg->kv_enabled)
        kve_rest_register(register_path(cfg, server, kv_group, cfg->kv.path, "kv", log), &cfg->kv);
    for (i = 0; i != cfg->routes.size; ++i) {
        const kve_route_conf_t *r = cfg->routes.entries + i;
        snprintf(route, sizeof(route), "proxy:%s", r->path);
        if (kve_route_register(register_path(cfg, server, 0, r->path, route, log), r, err, errlen) != 0)
            return -1;
    }
    register_fallback(cfg, kve_server_hostconf(server, 0), log);
    if (cfg->kv_enabled && kv_group != 0)
        register_fallback(cfg, kve_server_hostconf(server, kv_group), log);
    return 0;
}
