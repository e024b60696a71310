/* SPDX-License-Identifier: MIT */
/*
 * Turns the loaded configuration into h2o paths. Every path gets, in order: the limit check (headers, and
 * the body against limits.max_body_size except for the KV API, which has its own limit), its feature
 * handler, and the logger that feeds metrics and the access log; the host's fallback path gets the limit
 * check and the logger too, so 404s and h2o's own 413s are counted and logged. h2o's own body limit, the
 * same for all paths, comes from kve_config_h2o_body_limit().
 *
 * h2o 2.2.5 gives a request to the FIRST registered path that is a prefix of it (at a "/" boundary), not
 * the longest, so each listener group's paths are registered longest first: a route "/" never swallows
 * "/api", whatever the order in the file. A path served twice is rejected when the file is loaded
 * (config.c), so no two registered paths are equal.
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "handlers/cache_purge.h"
#include "handlers/limits.h"
#include "handlers/session_endpoint.h"
#include "handlers/session_jwks.h"
#include "proxy/common.h"
#include "proxy/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    kve_admin_endpoint_t endpoint;
} admin_endpoints[] = {{"healthz", KVE_ADMIN_HEALTHZ}, {"readyz", KVE_ADMIN_READYZ}, {"metrics", KVE_ADMIN_METRICS}};

/* snprintf into a malloc'd string */
__attribute__((format(printf, 1, 2))) static char *format(const char *fmt, ...)
{
    va_list args;
    int len;
    char *s;
    va_start(args, fmt);
    len = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    KVE_ASSERT(len >= 0);
    s = kve_malloc((size_t)len + 1);
    va_start(args, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, args);
    va_end(args);
    return s;
}

int kve_config__same_path(const char *a, const char *b)
{
    size_t alen = strlen(a), blen = strlen(b);
    if (alen > 1 && a[alen - 1] == '/')
        --alen;
    if (blen > 1 && b[blen - 1] == '/')
        --blen;
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* the admin endpoint <admin.path>/purge (handlers/cache_purge.h) has this index; it is served when a route caches */
#define PURGE_INDEX KVE_ARRAY_SIZE(admin_endpoints)

static int any_route_cached(const kve_config_t *cfg)
{
    for (size_t i = 0; i != cfg->routes.size; ++i)
        if (cfg->routes.entries[i].cache.present && cfg->routes.entries[i].cache.enabled)
            return 1;
    return 0;
}

/* the route signs its session JWTs with ES256 (so its public key is published at its session.jwks_path) */
static int es256_route(const kve_route_conf_t *r)
{
    return r->session.present && r->session.mode != KVE_SESSION_OFF && r->session.jwt_alg == KVE_SESSION_JWT_ES256 &&
           r->session.jwks_path != NULL;
}

/* the first ES256 route whose jwks_path is that of route `i` */
static size_t first_jwks_route(const kve_config_t *cfg, size_t i)
{
    for (size_t j = 0; j != i; ++j)
        if (es256_route(cfg->routes.entries + j) &&
            strcmp(cfg->routes.entries[j].session.jwks_path, cfg->routes.entries[i].session.jwks_path) == 0)
            return j;
    return i;
}

kve_served_path_t *kve_config__served_paths(const kve_config_t *cfg, size_t *count)
{
    const char *prefix = strcmp(cfg->admin.path, "/") == 0 ? "" : cfg->admin.path;
    kve_served_path_t *paths = kve_malloc((KVE_ARRAY_SIZE(admin_endpoints) + 3 + 2 * cfg->routes.size) * sizeof(*paths));
    size_t n = 0, i;

    for (i = 0; i != KVE_ARRAY_SIZE(admin_endpoints); ++i)
        paths[n++] = (kve_served_path_t){0, format("%s/%s", prefix, admin_endpoints[i].name), KVE_SERVED_ADMIN, i};
    if (any_route_cached(cfg))
        paths[n++] = (kve_served_path_t){0, format("%s/purge", prefix), KVE_SERVED_ADMIN, PURGE_INDEX};
    if (cfg->admin.console.enabled && cfg->admin.console.path != NULL)
        paths[n++] = (kve_served_path_t){0, kve_strdup(cfg->admin.console.path), KVE_SERVED_CONSOLE, 0};
    if (cfg->kv_enabled)
        paths[n++] = (kve_served_path_t){cfg->kv.listen.size != 0 ? 1 : 0, kve_strdup(cfg->kv.path), KVE_SERVED_KV, 0};
    for (i = 0; i != cfg->routes.size; ++i)
        if (cfg->routes.entries[i].path != NULL) /* (only when the route's path had an error: kvedge -t goes on) */
            paths[n++] = (kve_served_path_t){0, kve_strdup(cfg->routes.entries[i].path), KVE_SERVED_ROUTE, i};
    for (i = 0; i != cfg->routes.size; ++i) /* session endpoints, each once */
        if (kve_config__session_endpoint_owner(cfg, i))
            paths[n++] = (kve_served_path_t){0, kve_strdup(cfg->routes.entries[i].session.endpoint), KVE_SERVED_SESSION, i};
    paths = kve_realloc(paths, (n + cfg->routes.size) * sizeof(*paths)); /* room of its own for the JWKS paths */
    for (i = 0; i != cfg->routes.size; ++i) /* one JWKS per distinct session.jwks_path of the ES256 routes */
        if (es256_route(cfg->routes.entries + i) && first_jwks_route(cfg, i) == i)
            paths[n++] = (kve_served_path_t){0, kve_strdup(cfg->routes.entries[i].session.jwks_path), KVE_SERVED_JWKS, i};
    *count = n;
    return paths;
}

void kve_config__free_served(kve_served_path_t *paths, size_t count)
{
    for (size_t i = 0; i != count; ++i)
        free(paths[i].path);
    free(paths);
}

/* by listener group, then longest path first (ties by name, for a stable order) */
static int compare_served(const void *_a, const void *_b)
{
    const kve_served_path_t *a = _a, *b = _b;
    size_t alen = strlen(a->path), blen = strlen(b->path);
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    if (alen != blen)
        return alen > blen ? -1 : 1;
    return strcmp(a->path, b->path);
}

uint64_t kve_config_h2o_body_limit(const kve_config_t *cfg)
{
    uint64_t limit = cfg->server.limits.max_body_size;
    /* the KV API answers bodies over its own limit itself (Upstash's 400), so h2o must let one more byte through */
    if (cfg->kv_enabled && cfg->kv.max_request_size >= limit)
        limit = cfg->kv.max_request_size + 1;
    return limit;
}

/* the limit check and the logger: first and last of every path, the fallback included; `max_body` 0 = no body check */
static void register_limits_and_logger(const kve_config_t *cfg, h2o_pathconf_t *pathconf, uint64_t max_body, const char *route,
                                       kve_access_log_t *log)
{
    kve_limits_conf_t limits = {cfg->server.limits.max_header_size, (size_t)cfg->server.limits.max_headers, max_body};
    kve_limits_register(pathconf, &limits);
    kve_access_register(pathconf, kve_metrics_route_id(route), log);
}

static h2o_pathconf_t *register_path(const kve_config_t *cfg, kve_server_t *server, int group, const char *path, uint64_t max_body,
                                     const char *route, kve_access_log_t *log)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(kve_server_hostconf(server, group), path, 0);
    register_limits_and_logger(cfg, pathconf, max_body, route, log);
    return pathconf;
}

/* the metrics route of a served path (malloc'd): "admin", "kv" or "proxy:<path>" */
static char *route_name(const kve_served_path_t *p)
{
    return p->kind == KVE_SERVED_ADMIN || p->kind == KVE_SERVED_CONSOLE ? kve_strdup("admin")
           : p->kind == KVE_SERVED_KV                                   ? kve_strdup("kv")
           : p->kind == KVE_SERVED_SESSION                              ? format("session:%s", p->path)
           : p->kind == KVE_SERVED_JWKS                                 ? kve_strdup("jwks")
                                                                        : format("proxy:%s", p->path);
}

/* the JWKS of every ES256 route sharing the jwks_path of route `first` */
static void register_jwks(const kve_config_t *cfg, h2o_pathconf_t *pathconf, size_t first)
{
    const char *path = cfg->routes.entries[first].session.jwks_path;
    kve_es256_key_t **keys = kve_malloc(cfg->routes.size * sizeof(*keys));
    size_t n = 0;
    char err[256], *doc;

    for (size_t i = first; i != cfg->routes.size; ++i) {
        const kve_session_conf_t *s = &cfg->routes.entries[i].session;
        if (es256_route(cfg->routes.entries + i) && strcmp(s->jwks_path, path) == 0) {
            keys[n] = kve_es256_key_load(s->jwt_private_key, strlen(s->jwt_private_key), err, sizeof(err));
            KVE_ASSERT(keys[n] != NULL); /* the configuration's check loaded it already */
            ++n;
        }
    }
    doc = kve_session_jwks_document((const kve_es256_key_t *const *)keys, n);
    kve_session_jwks_register(pathconf, doc);
    free(doc);
    while (n != 0)
        kve_es256_key_free(keys[--n]);
    free(keys);
}

static int register_served(const kve_config_t *cfg, kve_server_t *server, const kve_admin_sources_t *sources, kve_access_log_t *log,
                           const kve_served_path_t *p, char *err, size_t errlen)
{
    char *route = route_name(p);
    /* the KV API checks kv.max_request_size itself; every other path is held to limits.max_body_size */
    uint64_t max_body = p->kind == KVE_SERVED_KV ? 0 : cfg->server.limits.max_body_size;
    h2o_pathconf_t *pathconf = register_path(cfg, server, p->group, p->path, max_body, route, log);
    int ret = 0;

    switch (p->kind) {
    case KVE_SERVED_ADMIN:
        if (p->index == PURGE_INDEX)
            kve_cache_purge_register(pathconf, cfg->admin.token, cfg->routes.entries, cfg->routes.size,
                                     kve_metrics_route_id("admin"));
        else
            kve_admin_register(pathconf, admin_endpoints[p->index].endpoint, &cfg->admin, sources);
        break;
    case KVE_SERVED_KV:
        kve_rest_register(pathconf, &cfg->kv);
        break;
    case KVE_SERVED_ROUTE:
        kve_metrics_mark_proxied(kve_metrics_route_id(route));
        ret = kve_route_register(pathconf, cfg->routes.entries + p->index, err, errlen);
        break;
    case KVE_SERVED_SESSION:
        kve_session_endpoint_register(pathconf, &cfg->routes.entries[p->index].session);
        break;
    case KVE_SERVED_JWKS:
        register_jwks(cfg, pathconf, p->index);
        break;
    case KVE_SERVED_CONSOLE:
        kve_config__console_register(cfg, pathconf, sources);
        break;
    }
    free(route);
    return ret;
}

/* unknown paths answer 404 after the check */
static void register_fallback(const kve_config_t *cfg, h2o_hostconf_t *host, kve_access_log_t *log)
{
    register_limits_and_logger(cfg, &host->fallback_path, cfg->server.limits.max_body_size, "other", log);
}

int kve_config_register_paths(const kve_config_t *cfg, kve_server_t *server, const kve_admin_sources_t *sources,
                              kve_access_log_t *log, char *err, size_t errlen)
{
    size_t n, i;
    kve_served_path_t *paths = kve_config__served_paths(cfg, &n);
    int ret = 0;

    /* metrics series in configuration order (and, past KVE_METRICS_MAX_ROUTES, the same ones share "other") */
    for (i = 0; i != n; ++i) {
        char *route = route_name(paths + i);
        kve_metrics_route_id(route);
        free(route);
    }
    qsort(paths, n, sizeof(*paths), compare_served);
    for (i = 0; i != n && ret == 0; ++i)
        ret = register_served(cfg, server, sources, log, paths + i, err, errlen);
    kve_config__free_served(paths, n);
    if (ret != 0)
        return -1;
    register_fallback(cfg, kve_server_hostconf(server, 0), log);
    if (cfg->kv_enabled && cfg->kv.listen.size != 0)
        register_fallback(cfg, kve_server_hostconf(server, 1), log);
    return 0;
}
