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

#include <string.h>

static const kve_directive_t top_directives[] = {
    {"threads", KVE_T_INT, KVE_FIELD(kve_config_t, server.threads), 0, 0, 256, "0", .doc = "worker threads (0 = one per CPU)"},
    {"data_dir", KVE_T_STRING, KVE_FIELD(kve_config_t, embedded.data_dir), KVE_F_PATH, .min = 1, .dflt = "./kvedge-data",
     .doc = "embedded Redis data, socket and lock"},
    {"pid_file", KVE_T_STRING, KVE_FIELD(kve_config_t, pid_file), KVE_F_PATH,
     .doc = "file kvedge writes its process id to while it runs (for `kvedge reload` and init scripts); unset: none"},
    {"http2", KVE_T_BOOL, KVE_FIELD(kve_config_t, server.http2), .dflt = "false",
     .doc = "offer HTTP/2 (h2o 2.2.5 lacks rapid-reset protection: only behind a trusted front end)"},
    {"listen", KVE_T_LIST, KVE_FIELD(kve_config_t, server.listen), KVE_F_REQUIRED, 1, 64, .children = kve_config__listen_directives,
     .elem_size = sizeof(kve_listen_conf_t), .doc = "listeners"},
    {"limits", KVE_T_MAP, KVE_FIELD(kve_config_t, server.limits), .children = kve_config__limits_directives,
     .doc = "request limits"},
    {"log", KVE_T_MAP, KVE_FIELD(kve_config_t, log), .children = kve_config__log_directives, .check = kve_config__check_log,
     .doc = "error and access logs"},
    {"admin", KVE_T_MAP, KVE_FIELD(kve_config_t, admin), .children = kve_config__admin_directives, .check = kve_config__check_admin,
     .doc = "health, readiness and metrics endpoints"},
    {"redis", KVE_T_MAP, KVE_FIELD(kve_config_t, redis), .children = kve_config__redis_directives, .shorthand = "url",
     .check = kve_config__check_redis,
     .doc = "the store named default (a scalar sets url); the same as stores.default, write one of them"},
    {"stores", KVE_T_DICT, KVE_FIELD(kve_config_t, named_stores), 0, 0, KVE_STORES_MAX, .children = kve_config__redis_directives,
     .elem_size = sizeof(kve_redis_conf_t), .shorthand = "url", .check = kve_config__check_redis,
     .doc = "more stores by name, each like redis: (a scalar sets url); features pick one by name (kv.store); at most 16 "
            "with redis:, one of them embedded; a file with neither redis: nor stores: gets default: embedded"},
    {"embedded_redis", KVE_T_MAP, KVE_FIELD(kve_config_t, embedded), .children = kve_config__embedded_directives,
     .doc = "the redis-server kvedge runs itself (the store whose url is embedded)"},
    {"proxy", KVE_T_MAP, KVE_FIELD(kve_config_t, proxy), KVE_F_DEFAULTS, .children = kve_config__proxy_directives,
     .doc = "defaults of every route: a route that does not give one of these keys takes it from here"},
    {"cache", KVE_T_MAP, KVE_FIELD(kve_config_t, cache), KVE_F_DEFAULTS, .children = kve_config__cache_defaults_directives,
     .doc = "defaults of every route's cache: (a route is cached only when it has a cache: section)"},
    {"session", KVE_T_MAP, KVE_FIELD(kve_config_t, session), KVE_F_DEFAULTS, .children = kve_config__session_defaults_directives,
     .doc = "defaults of every route's session: (a route has sessions only when it has a session: section)"},
    {"routes", KVE_T_LIST, KVE_FIELD(kve_config_t, routes), 0, 0, 256, .children = kve_config__route_directives,
     .elem_size = sizeof(kve_route_conf_t), .check = kve_config__check_route, .doc = "reverse-proxy routes", .inherits = "proxy"},
    {"kv", KVE_T_MAP, KVE_FIELD(kve_config_t, kv), .children = kve_config__kv_directives, .check = kve_config__check_kv,
     .doc = "the KV REST API (Upstash / Vercel KV protocol); absent: not served"},
    {NULL}};

const kve_directive_t *kve_config__top_directives(void)
{
    return top_directives;
}

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
        return kve_config__at_key(routes->u.sequence.items[p->index], "path");
    case KVE_SERVED_SESSION:
        routes = kve_yaml_get(root, "routes");
        if (routes == NULL || routes->type != KVE_NODE_SEQUENCE || p->index >= routes->u.sequence.size)
            return routes;
        return kve_config__at_key(kve_config__at_key(routes->u.sequence.items[p->index], "session"), "endpoint");
    case KVE_SERVED_KV:
        return kve_config__at_key(kve_yaml_get(root, "kv"), "path");
    case KVE_SERVED_JWKS:
        routes = kve_yaml_get(root, "routes");
        if (routes == NULL || routes->type != KVE_NODE_SEQUENCE || p->index >= routes->u.sequence.size)
            return routes;
        return kve_config__at_key(routes->u.sequence.items[p->index], "session");
    case KVE_SERVED_CONSOLE:
        return kve_config__at_key(kve_config__at_key(kve_yaml_get(root, "admin"), "console"), "path");
    default:
        return kve_config__at_key(kve_yaml_get(root, "admin"), "path");
    }
}

/* "routes[2].path \"/api\"", "kv.path \"/kv\"" or "the admin endpoint \"/healthz\"" */
static void describe_served(char *buf, size_t size, const kve_served_path_t *p)
{
    if (p->kind == KVE_SERVED_ROUTE) {
        snprintf(buf, size, "routes[%zu].path \"%s\"", p->index, p->path);
    } else if (p->kind == KVE_SERVED_SESSION) {
        snprintf(buf, size, "routes[%zu].session.endpoint \"%s\"", p->index, p->path);
    } else if (p->kind == KVE_SERVED_KV) {
        snprintf(buf, size, "kv.path \"%s\"", p->path);
    } else if (p->kind == KVE_SERVED_JWKS) {
        snprintf(buf, size, "routes[%zu].session.jwks_path \"%s\"", p->index, p->path);
    } else if (p->kind == KVE_SERVED_CONSOLE) {
        snprintf(buf, size, "admin.console.path \"%s\"", p->path);
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

/* the sections each check across sections reads: it runs only when none of them had an error (their values may be
 * missing), so that one run reports every error it can find */
static int sections_ok(const kve_conf_t *conf, const char *const *keys)
{
    for (; *keys != NULL; ++keys)
        if (kve_conf_section_failed(conf, *keys))
            return 0;
    return 1;
}

/* keeps the warnings' lines in `cfg` (kve_config_log_warnings) */
static void keep_warnings(kve_config_t *cfg, const kve_conf_t *conf)
{
    size_t n;
    char *const *lines = kve_conf_warning_lines(conf, &n);
    cfg->warnings.count = kve_conf_warning_count(conf);
    cfg->warnings.num_lines = n;
    cfg->warnings.lines = n != 0 ? kve_malloc(n * sizeof(*cfg->warnings.lines)) : NULL;
    for (size_t i = 0; i != n; ++i)
        cfg->warnings.lines[i] = kve_strdup(lines[i]);
}

/* loads the file `path`, or `text` (not NULL) under that name */
static int load_config(kve_config_t *cfg, const char *path, const char *text, FILE *errout)
{
    /* (a section whose check did not run is left out by the checks: kv_enabled, a route's cache.present, ...; a route
     * whose path did not load is not among the served paths) */
    static const char *const store_sections[] = {"redis", "stores", NULL};
    static const char *const path_sections[] = {"admin", NULL};
    static const char *const size_sections[] = {"limits", NULL};
    kve_conf_t *conf = kve_conf_new(errout);
    const kve_node_t *root;
    int ret;

    cfg->file = kve_strdup(path);
    ret = text != NULL ? kve_conf_load_string(conf, path, text, top_directives, cfg)
                       : kve_conf_load_file(conf, path, top_directives, cfg);

    /* the tables were applied (the file was read and parsed): the checks across sections run on the clean ones */
    if ((root = kve_conf_root(conf)) != NULL && root->type == KVE_NODE_MAPPING) {
        if (sections_ok(conf, store_sections) && kve_config__build_stores(conf, cfg) != 0)
            ret = -1;
        if (sections_ok(conf, path_sections) && check_served_paths(conf, cfg) != 0)
            ret = -1;
        if (sections_ok(conf, size_sections) && check_pending_size(conf, cfg) != 0)
            ret = -1;
        kve_config__warn_risky(conf, cfg);
    }
    keep_warnings(cfg, conf);
    kve_conf_free(conf);
    if (ret == 0)
        build_listeners(cfg);
    return ret;
}

/* the configuration kve_config_load() takes from memory instead of a file (kve_config_set_source) */
static struct {
    const char *name, *text;
} memory_source;

void kve_config_set_source(const char *name, const char *text)
{
    memory_source.name = name;
    memory_source.text = text;
}

int kve_config_load(kve_config_t *cfg, const char *path, FILE *errout)
{
    if (memory_source.name != NULL && strcmp(path, memory_source.name) == 0)
        return load_config(cfg, path, memory_source.text, errout);
    return load_config(cfg, path, NULL, errout);
}

int kve_config_load_string(kve_config_t *cfg, const char *name, const char *text, FILE *errout)
{
    return load_config(cfg, name, text, errout);
}

int kve_config_print_source(const char *path, FILE *out)
{
    char buf[4096];
    size_t n;
    FILE *fp;

    if (memory_source.name != NULL && strcmp(path, memory_source.name) == 0)
        return fputs(memory_source.text, out) >= 0 ? 0 : -1;
    if ((fp = fopen(path, "rb")) == NULL)
        return -1;
    while ((n = fread(buf, 1, sizeof(buf), fp)) != 0 && fwrite(buf, 1, n, out) == n)
        ;
    n = ferror(fp) || ferror(out);
    fclose(fp);
    return n ? -1 : 0;
}

void kve_config_dispose(kve_config_t *cfg)
{
    free(cfg->file);
    cfg->file = NULL;
    kve_conf_free_fields(top_directives, cfg);
    kve_strv_dispose(&cfg->embedded.options); /* a CUSTOM field */
    free(cfg->all_listeners.entries);         /* its strings belong to the lists above */
    cfg->all_listeners.entries = NULL;
    free(cfg->stores.entries); /* borrows from redis and named_stores */
    cfg->stores.entries = NULL;
    cfg->stores.size = 0;
    for (size_t i = 0; i != cfg->warnings.num_lines; ++i)
        free(cfg->warnings.lines[i]);
    free(cfg->warnings.lines);
    cfg->warnings.lines = NULL;
    cfg->warnings.num_lines = cfg->warnings.count = 0;
}

void kve_config_log_warnings(const kve_config_t *cfg)
{
    if (cfg->log.error_log != NULL && strcmp(cfg->log.error_log, "-") == 0)
        return;
    for (size_t i = 0; i != cfg->warnings.num_lines; ++i)
        kve_log(KVE_LOG_WARN, "config", "warning: %s", cfg->warnings.lines[i]);
    if (cfg->warnings.count > cfg->warnings.num_lines)
        kve_log(KVE_LOG_WARN, "config", "... and %zu more warnings", cfg->warnings.count - cfg->warnings.num_lines);
}

void kve_config_print_reference(FILE *out)
{
    kve_conf_print_reference(out, top_directives);
}

void kve_config_print_man(FILE *out)
{
    kve_conf_print_man(out, top_directives);
}
