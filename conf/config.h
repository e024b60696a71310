/* SPDX-License-Identifier: MIT */
/*
 * The whole kvedge configuration: the runtime structs of every module gathered in one object, the
 * directive tables that fill it from YAML, and the step that turns it into h2o paths and handlers.
 * Ownership: kve_config_load() fills a zeroed kve_config_t; kve_config_dispose() frees what it stored.
 */
#ifndef KVE_CONF_CONFIG_H
#define KVE_CONF_CONFIG_H

#include <stdio.h>
#include "conf/conf.h"
#include "handlers/access.h"
#include "handlers/admin.h"
#include "handlers/kv_acl.h"
#include "handlers/kv_rest.h"
#include "handlers/route.h"
#include "proxy/embedded.h"
#include "proxy/redis_target.h"
#include "proxy/server.h"
#include "proxy/stores.h"

typedef struct st_kve_log_conf_t {
    int level;
    /** KVE_LOG_FORMAT_TEXT or _JSON (proxy/log.h) */
    int format;
    char *error_log;
    char *access_log;
    char *access_log_format;
} kve_log_conf_t;

/**
 * `proxy:`, the defaults of every route (kve_route_conf_t): a route that does not give one of these keys takes the
 * value given here, else the default. Read at load time only (the routes hold the merged values).
 */
typedef struct st_kve_proxy_conf_t {
    uint64_t timeout_ms;
    uint64_t keepalive_timeout_ms;
    int preserve_host;
    char *ca_file;
} kve_proxy_conf_t;

/** One store of the configuration (both fields borrowed from kve_config_t's `redis` and `named_stores`). */
typedef struct st_kve_store_conf_t {
    const char *name;
    const kve_redis_conf_t *redis;
} kve_store_conf_t;

typedef struct st_kve_config_t {
    /** the name it was loaded from (malloc'd): relative paths in it are resolved against its folder */
    char *file;
    kve_server_conf_t server;
    /** `pid_file`: where the running daemon's process id is written (NULL: nowhere) */
    char *pid_file;
    kve_log_conf_t log;
    kve_admin_conf_t admin;
    /** `redis:`, the store named "default" (see `stores`) */
    kve_redis_conf_t redis;
    /** `stores:` as written: kve_redis_conf_t entries by name */
    kve_conf_dict_t named_stores;
    /**
     * Every store, built by kve_config_load(); a store id is an index into it. The store "default" comes first when
     * there is one (from `redis:`, or `stores.default`, or, when the file names no store at all and a feature uses
     * one, the embedded Redis), then the other entries of `stores:` in file order. Empty for a file that names no
     * store and uses none (a proxy-only file).
     */
    struct {
        kve_store_conf_t *entries;
        size_t size;
    } stores;
    /** also holds data_dir, used whether or not Redis is embedded */
    kve_embedded_conf_t embedded;
    /** `proxy:` as given (the routes below already hold its values where they did not give their own) */
    kve_proxy_conf_t proxy;
    /** `cache:` as given: the defaults of every route's cache: (the routes already hold its values) */
    kve_cache_conf_t cache;
    /** `session:` as given: the defaults of every route's session: (the routes already hold its values) */
    kve_session_conf_t session;
    struct {
        kve_route_conf_t *entries;
        size_t size;
    } routes;
    /** the KV REST API; served only when the `kv` section is present */
    kve_rest_conf_t kv;
    int kv_enabled;
    /** main listeners followed by the KV API's own ones (built by kve_config_load; the server's view) */
    struct {
        kve_listen_conf_t *entries;
        size_t size;
    } all_listeners;
    /**
     * The warnings kve_config_load() printed: how many, and the first KVE_CONF_MAX_ERRORS as one line each (malloc'd,
     * without the quoted source line, so without any value), for kve_config_log_warnings()
     */
    struct {
        char **lines;
        size_t num_lines, count;
    } warnings;
} kve_config_t;

/** Loads and validates `path` into `cfg` (zeroed by the caller); errors go to `errout`. Returns 0 or -1. */
int kve_config_load(kve_config_t *cfg, const char *path, FILE *errout);
/** Same as kve_config_load() for the YAML `text` in memory, called `name` in messages (and in `file` of its nodes). */
int kve_config_load_string(kve_config_t *cfg, const char *name, const char *text, FILE *errout);
/**
 * From now on kve_config_load(`name`) loads `text` instead of a file of that name (the configuration of a start
 * without a config file, conf/env_config.h, so that every later load, a reload included, reads the same text).
 * Both are borrowed and must stay valid until kve_config_set_source(NULL, NULL) undoes it. Not thread-safe: call
 * it before any load.
 */
void kve_config_set_source(const char *name, const char *text);
/**
 * `kvedge --print-config`: writes the text kve_config_load(`path`) reads, as it is: the file's bytes, or the text
 * kve_config_set_source() gave for that name. Returns 0, or -1 with errno set.
 */
int kve_config_print_source(const char *path, FILE *out);
/** Frees what kve_config_load() stored. */
void kve_config_dispose(kve_config_t *cfg);
/**
 * Writes the warnings kve_config_load() printed to the error log (proxy/log.h), one line each, once the log is open,
 * unless the log is stderr ("-"), where the loader printed them already.
 */
void kve_config_log_warnings(const kve_config_t *cfg);
/** Prints the reference of every key (kvedge --help-config). */
void kve_config_print_reference(FILE *out);
/** The same as the directive list of the man page kvedge.yaml(5), in roff (man/gen_config_man.c runs it at build time). */
void kve_config_print_man(FILE *out);

/** Whether the configuration asks for the embedded Redis (one of its stores is `embedded`). */
int kve_config_uses_embedded_redis(const kve_config_t *cfg);

/** The id of the store named `name` in a loaded configuration: 0 and `*id`, or -1 when it has no such store. */
int kve_config_store_id(const kve_config_t *cfg, const char *name, size_t *id);

/** The store the KV API serves (kv.store; the KV API must be enabled). */
const kve_store_conf_t *kve_config_kv_store(const kve_config_t *cfg);

/**
 * The request body limit for h2o itself (kve_server_conf_t limits.max_body_size), which h2o enforces for
 * every path before routing: limits.max_body_size, raised to kv.max_request_size + 1 when the KV API is
 * served, as the KV API answers bodies over its own limit itself (Upstash's 400). The other paths are then
 * held to limits.max_body_size by their limit check (kve_config_register_paths).
 */
uint64_t kve_config_h2o_body_limit(const kve_config_t *cfg);

/**
 * Registers every path (admin endpoints, routes, fallback) with its limit check and logger on `server`.
 * `log` may be NULL (no access log). Returns 0 or -1 with a message in `err`.
 */
int kve_config_register_paths(const kve_config_t *cfg, kve_server_t *server, const kve_admin_sources_t *sources,
                              kve_access_log_t *log, char *err, size_t errlen);

/** The Redis users kvedge's KV links authenticate as, one per token access class (docs/security.md). */
typedef struct st_kve_redis_users_t {
    /** ACL rules mirroring the KV policy, and the names it refuses (for the check at connect) */
    kve_acl_user_t rw, ro;
    /** embedded Redis: the users' names and fresh random passwords (hex; secrets, never logged) */
    char rw_name[32], ro_name[32];
    char rw_password[65], ro_password[65];
    /**
     * embedded Redis: the redis-server options that follow from the KV configuration: both users ("--user", name,
     * "on", "#<sha256>", rules...) and busy-reply-threshold (kv.script_timeout, when the script watchdog acts)
     */
    kve_strv_t embedded_args;
} kve_redis_users_t;

/**
 * Computes the users for `cfg` (the KV API must be enabled): their rules, and when the Redis is embedded,
 * passwords and the options that create them. `out` is zeroed by the caller; free with kve_config_users_dispose().
 */
void kve_config_users_build(const kve_config_t *cfg, kve_redis_users_t *out);
/** The same, with the embedded Redis' passwords of `running` (the users a running embedded Redis was started with). */
void kve_config_users_build_keeping(const kve_config_t *cfg, kve_redis_users_t *out, const kve_redis_users_t *running);
void kve_config_users_dispose(kve_redis_users_t *users);

/** `kvedge acl`: prints the ACL SETUSER commands an operator of an external Redis runs for `cfg` (on the KV API's store). */
void kve_config_print_acl(const kve_config_t *cfg, FILE *out);

/**
 * Fills `out` (cfg->stores.size entries, at most KVE_STORES_MAX) with how each store connects (proxy/stores.h): the
 * KV API's store as the users of `users` (kve_config_users_build; zeroed when the KV API is not served), every other
 * store as its own user. Everything is borrowed from `cfg` and `users`, which must outlive the stores.
 */
void kve_config_store_specs(const kve_config_t *cfg, const kve_redis_users_t *users, kve_store_spec_t *out);

#endif
