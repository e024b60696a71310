/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by config.c (validation at load time) and paths.c (registration with h2o): the list of
 * every path the configuration serves, so that both see the very same paths.
 */
#ifndef KVE_CONF_CONFIG_INTERNAL_H
#define KVE_CONF_CONFIG_INTERNAL_H

#include <stddef.h>
#include "conf/config.h"

typedef enum { KVE_SERVED_ADMIN, KVE_SERVED_KV, KVE_SERVED_ROUTE } kve_served_kind_t;

typedef struct st_kve_served_path_t {
    /** listener group: 0 for the main listeners, 1 for the KV API's own (kv.listen) */
    int group;
    /** the path as registered with h2o (malloc'd) */
    char *path;
    kve_served_kind_t kind;
    /** ADMIN: a kve_admin_endpoint_t; ROUTE: the index into cfg->routes; KV: 0 */
    size_t index;
} kve_served_path_t;

/**
 * Every path `cfg` serves, in configuration order: the admin endpoints, the KV API (if enabled), then the
 * routes. Returns a malloc'd array of `*count` entries; free it with kve_config__free_served().
 */
kve_served_path_t *kve_config__served_paths(const kve_config_t *cfg, size_t *count);
/** Frees what kve_config__served_paths() returned. */
void kve_config__free_served(kve_served_path_t *paths, size_t count);
/** Non-zero when `a` and `b` name the same prefix, ignoring one trailing "/" on either. */
int kve_config__same_path(const char *a, const char *b);

/**
 * After the tables were applied without errors (conf/stores.c): builds cfg->stores from `redis:` and `stores:`
 * (at most one embedded store, `redis:` and `stores.default` not both) and resolves every store reference to an
 * id. Returns 0, or -1 after reporting through `conf`.
 */
int kve_config__build_stores(kve_conf_t *conf, kve_config_t *cfg);

/**
 * Resolves a feature's store reference `name` (the value of directive `what`, e.g. "kv.store", found at `node`)
 * to its id in `*id`: 0, or -1 after reporting an unknown store at `node` with the names there are. A feature that
 * names a store calls this from resolve_references() in conf/stores.c, once cfg->stores is built.
 */
int kve_config__resolve_store(kve_conf_t *conf, const kve_config_t *cfg, const kve_node_t *node, const char *what, const char *name,
                              size_t *id);

#endif
