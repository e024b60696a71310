/* SPDX-License-Identifier: MIT */
/*
 * Internals of the configuration: the directive tables of each feature (one file each: server_conf.c,
 * admin_conf.c, redis_conf.c, routes_conf.c, kv_conf.c) that config.c assembles into the top-level table, the
 * checks they share (config_checks.c), and the list of every path the configuration serves, shared by
 * config.c (validation at load time) and paths.c (registration with h2o) so that both see the very same paths.
 */
#ifndef KVE_CONF_CONFIG_INTERNAL_H
#define KVE_CONF_CONFIG_INTERNAL_H

#include <stddef.h>
#include "conf/config.h"

/* units for the directive tables' ranges */
#define KIB 1024
#define MIB (1024 * 1024)
#define GIB (1024LL * 1024 * 1024)
#define SEC 1000
#define HOUR (3600 * 1000)

/* The feature tables (each terminated by {NULL}) and the checks of the objects they describe (see kve_directive_t) */
/** server_conf.c: one entry of `listen:` (also kv.listen) */
extern const kve_directive_t kve_config__listen_directives[];
/** server_conf.c: `limits:` */
extern const kve_directive_t kve_config__limits_directives[];
/** server_conf.c: `log:` */
extern const kve_directive_t kve_config__log_directives[];
int kve_config__check_log(kve_conf_t *conf, const kve_node_t *node, void *obj);
/** admin_conf.c: `admin:` */
extern const kve_directive_t kve_config__admin_directives[];
int kve_config__check_admin(kve_conf_t *conf, const kve_node_t *node, void *obj);
/** redis_conf.c: `redis:` and each entry of `stores:` */
extern const kve_directive_t kve_config__redis_directives[];
int kve_config__check_redis(kve_conf_t *conf, const kve_node_t *node, void *obj);
/** redis_conf.c: `embedded_redis:` */
extern const kve_directive_t kve_config__embedded_directives[];
/** CUSTOM parser of embedded_redis.options (conf/embedded_options.c): validated "--name", "value" pairs into a kve_strv_t. */
int kve_config__parse_embedded_options(kve_conf_t *conf, const kve_node_t *node, void *field);
/** routes_conf.c: one entry of `routes:` */
extern const kve_directive_t kve_config__route_directives[];
int kve_config__check_route(kve_conf_t *conf, const kve_node_t *node, void *obj);
/** routes_conf.c: `proxy:`, the defaults every route inherits (the same keys as a route's upstream settings) */
extern const kve_directive_t kve_config__proxy_directives[];
/** cache_conf.c: a route's `cache:` (its check records that the route gave it), and the top-level `cache:`, the
 * defaults every route's cache: inherits (the same keys less `key`) */
extern const kve_directive_t kve_config__cache_directives[];
int kve_config__check_cache(kve_conf_t *conf, const kve_node_t *node, void *obj);
extern const kve_directive_t kve_config__cache_defaults_directives[];
/** cache_conf.c: resolves the store of every cached route (after the stores are built); 0, or -1 after reporting */
int kve_config__resolve_cache_stores(kve_conf_t *conf, kve_config_t *cfg);
/** session_conf.c: a route's `session:` (its check records that the route gave it) and the top-level `session:`, the
 * defaults every route's session: inherits (the same keys) */
extern const kve_directive_t kve_config__session_directives[];
int kve_config__check_session(kve_conf_t *conf, const kve_node_t *node, void *obj);
extern const kve_directive_t kve_config__session_defaults_directives[];
/** session_conf.c: resolves the store of every route with sessions (after the stores are built) and, on a route that also
 * has cache:, gives the cache the session cookie's name (docs/sessions.md §13); 0, or -1 after reporting */
int kve_config__resolve_session_stores(kve_conf_t *conf, kve_config_t *cfg);
/** session_users_conf.c: a route's session.endpoint ("" or a path, trailing "/" dropped; not "/"). 0, or -1 reported. */
int kve_config__check_session_endpoint(kve_conf_t *conf, const kve_node_t *node, kve_session_conf_t *s);
/** session.login_carry (session_carry_conf.c): data keys of 1..128 bytes, or the one entry "*"; 0 or -1 after reporting */
int kve_config__check_session_carry(kve_conf_t *conf, const kve_node_t *node, kve_session_conf_t *s);
/** session_users_conf.c: routes that share an endpoint share cookie_name, jwt_key and store. 0, or -1 reported. */
int kve_config__check_session_endpoints(kve_conf_t *conf, const kve_config_t *cfg);
/** session_users_conf.c: whether route `i` serves a session endpoint (it has one, and no earlier route has the same). */
int kve_config__session_endpoint_owner(const kve_config_t *cfg, size_t i);
/** kv_conf.c: `kv:` */
extern const kve_directive_t kve_config__kv_directives[];
int kve_config__check_kv(kve_conf_t *conf, const kve_node_t *node, void *obj);

/** The value node of `key` in `mapping`, for pointing at it (the mapping itself if absent or a _file form). */
const kve_node_t *kve_config__at_key(const kve_node_t *mapping, const char *key);
/**
 * The `path` of an object whose mapping is `node`: a URL prefix, starting with "/", of printable ASCII without space,
 * '"', '\\', '?' or '#'. Drops one trailing "/" in place. Returns 0, or -1 after reporting.
 */
int kve_config__check_path(kve_conf_t *conf, const kve_node_t *node, char *path);
/** A file kvedge will open (the value of `key`, found at `node`): it exists, is readable and is not a directory. */
int kve_config__check_readable(kve_conf_t *conf, const kve_node_t *node, const char *key, const char *path);

/**
 * Why `token` is easy to guess (conf/token_strength.c): shorter than 16 bytes, one character repeated, fewer than 6
 * different characters, all digits, or made only of common words and numbers of at most 4 digits; NULL when none of
 * these. The reason never quotes the token.
 */
const char *kve_config__weak_token(const char *token);
/**
 * Reports the warnings about risky settings of a loaded `cfg` (conf/config_warnings.c): a cleartext listener serving
 * the KV API on a non-loopback address, kv.cors_origins "*" with read-write tokens, kv.allow_commands naming CONFIG,
 * DEBUG or MODULE, easily guessed tokens. Sections with errors are skipped.
 */
void kve_config__warn_risky(kve_conf_t *conf, const kve_config_t *cfg);

typedef enum {
    KVE_SERVED_ADMIN,
    KVE_SERVED_KV,
    KVE_SERVED_ROUTE,
    KVE_SERVED_SESSION,
    KVE_SERVED_JWKS,
    KVE_SERVED_CONSOLE
} kve_served_kind_t;

typedef struct st_kve_served_path_t {
    /** listener group: 0 for the main listeners, 1 for the KV API's own (kv.listen) */
    int group;
    /** the path as registered with h2o (malloc'd) */
    char *path;
    kve_served_kind_t kind;
    /** ADMIN: a kve_admin_endpoint_t; ROUTE, SESSION (a route's session.endpoint), JWKS: the index into cfg->routes
     * (JWKS: the first ES256 route with that session.jwks_path); KV: 0 */
    size_t index;
} kve_served_path_t;

/**
 * Every path `cfg` serves, in configuration order: the admin endpoints, the KV API (if enabled), then the
 * routes. Returns a malloc'd array of `*count` entries; free it with kve_config__free_served().
 */
kve_served_path_t *kve_config__served_paths(const kve_config_t *cfg, size_t *count);
/** Frees what kve_config__served_paths() returned. */
void kve_config__free_served(kve_served_path_t *paths, size_t count);
/** config.c: the top-level table (the console renders the running configuration from it). */
const kve_directive_t *kve_config__top_directives(void);
/**
 * conf/console_conf.c: registers the web console (handlers/console.h) on `pathconf` with what it needs from the
 * configuration: the tokens, the redacted configuration as JSON, and the `-t` check of a pasted configuration.
 */
void kve_config__console_register(const kve_config_t *cfg, h2o_pathconf_t *pathconf, const kve_admin_sources_t *sources);
/** Non-zero when `a` and `b` name the same prefix, ignoring one trailing "/" on either. */
int kve_config__same_path(const char *a, const char *b);

/**
 * After the tables were applied without errors (conf/stores.c): builds cfg->stores from `redis:` and `stores:`
 * (at most one embedded store, `redis:` and `stores.default` not both), resolves every store reference to an
 * id, and refuses a read-only user on a store other than the KV API's. Returns 0, or -1 after reporting through `conf`.
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
