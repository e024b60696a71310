/* SPDX-License-Identifier: MIT */
/*
 * The configuration's stores (docs/configuration.md, "Stores"). After the tables are applied, the store list is
 * built from `redis:` and `stores:`: `redis:` is the store named "default" (as in configurations written before
 * named stores existed), `stores.default` is the same store written the other way (giving both is an error), and
 * a file that names no store at all gets `default: embedded` when a feature uses a store (the KV API, a cache or
 * sessions), and no store otherwise (a proxy-only file: no redis-server, no data_dir). Store ids are indexes into the list:
 * "default" first when there is one, then the named stores in file order. Then every store reference (kv.store; later the routes'
 * cache and session stores) is resolved to an id, with a compiler-style error for a name that is not in the list,
 * and a read-only user on any store but the KV API's (only that one has read-only links) is refused.
 * Finally the specs the runtime connects with (proxy/stores.h): the KV API's store gets the KV-policy users.
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "conf/conf_internal.h"
#include "proxy/common.h"

#include <string.h>

/* the key node `name` of mapping `map` (for pointing at a name rather than at its value), or NULL */
static const kve_node_t *key_node(const kve_node_t *map, const char *name)
{
    size_t len = strlen(name);
    if (map == NULL || map->type != KVE_NODE_MAPPING)
        return NULL;
    for (size_t i = 0; i != map->u.mapping.size; ++i) {
        const kve_node_t *k = map->u.mapping.keys[i];
        if (k->u.scalar.len == len && memcmp(k->u.scalar.value, name, len) == 0)
            return k;
    }
    return NULL;
}

/* whether `redis:` is written in the file with a value (a null value is the same as leaving it out) */
static const kve_node_t *given_redis(const kve_node_t *root)
{
    const kve_node_t *n = kve_yaml_get(root, "redis");
    return n != NULL && !kve_conf__is_null(n) ? key_node(root, "redis") : NULL;
}

static int is_embedded(const kve_redis_conf_t *redis)
{
    return strcmp(redis->url, "embedded") == 0 && redis->sentinel.master == NULL && redis->cluster.nodes.size == 0;
}

/* "redis:" or "stores.NAME": where store `i` is written, for messages */
static void describe(char *buf, size_t size, const kve_config_t *cfg, size_t i, int from_redis)
{
    if (i == 0 && from_redis)
        snprintf(buf, size, "redis:");
    else
        snprintf(buf, size, "stores.%s", cfg->stores.entries[i].name);
}

/* the list: "default" first (from redis:, stores.default, or the implicit embedded one), then stores: in order */
static int list_stores(kve_conf_t *conf, kve_config_t *cfg, int from_redis)
{
    const kve_node_t *root = kve_conf_root(conf), *stores = kve_yaml_get(root, "stores");
    const kve_conf_dict_t *named = &cfg->named_stores;
    const kve_redis_conf_t *confs = named->entries;
    size_t i, n = 0, total = named->size + (from_redis || named->size == 0);

    if (total > KVE_STORES_MAX) {
        kve_conf_error(conf, key_node(root, "stores"), "stores: %zu stores with the one redis: sets (at most %d)", total,
                       KVE_STORES_MAX);
        return -1;
    }
    cfg->stores.entries = kve_zalloc(sizeof(*cfg->stores.entries) * total);
    if (from_redis || named->size == 0)
        cfg->stores.entries[n++] = (kve_store_conf_t){KVE_STORE_DEFAULT, &cfg->redis};
    for (i = 0; i != named->size; ++i) {
        if (strcmp(named->names[i], KVE_STORE_DEFAULT) != 0)
            continue;
        if (from_redis) {
            kve_conf_error(conf, key_node(stores, KVE_STORE_DEFAULT),
                           "stores.default: the store \"default\" is already given by redis: (line %u); write it in one "
                           "place",
                           given_redis(root)->line);
            return -1;
        }
        cfg->stores.entries[n++] = (kve_store_conf_t){named->names[i], confs + i};
    }
    for (i = 0; i != named->size; ++i)
        if (strcmp(named->names[i], KVE_STORE_DEFAULT) != 0)
            cfg->stores.entries[n++] = (kve_store_conf_t){named->names[i], confs + i};
    cfg->stores.size = n;
    return 0;
}

/* one embedded Redis at most: it has one data_dir, one socket and one embedded_redis section */
static int check_one_embedded(kve_conf_t *conf, const kve_config_t *cfg, int from_redis)
{
    const kve_node_t *root = kve_conf_root(conf);
    char first[64], second[64];
    size_t i, j;

    for (j = 0; j != cfg->stores.size; ++j) {
        if (!is_embedded(cfg->stores.entries[j].redis))
            continue;
        for (i = 0; i != j && !is_embedded(cfg->stores.entries[i].redis); ++i)
            ;
        if (i == j)
            continue;
        describe(first, sizeof(first), cfg, i, from_redis);
        describe(second, sizeof(second), cfg, j, from_redis);
        kve_conf_error(conf, key_node(kve_yaml_get(root, "stores"), cfg->stores.entries[j].name),
                       "%s: only one store can be embedded, and %s already is (give this one a redis:// or unix:// URL)", second,
                       first);
        return -1;
    }
    return 0;
}

int kve_config_store_id(const kve_config_t *cfg, const char *name, size_t *id)
{
    for (size_t i = 0; i != cfg->stores.size; ++i) {
        if (strcmp(cfg->stores.entries[i].name, name) == 0) {
            *id = i;
            return 0;
        }
    }
    return -1;
}

/* the stores' names, ", "-separated, for messages */
static void list_names(const kve_config_t *cfg, char *buf, size_t size)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i != cfg->stores.size && off < size; ++i)
        off += snprintf(buf + off, size - off, "%s%s", i == 0 ? "" : ", ", cfg->stores.entries[i].name);
}

int kve_config__resolve_store(kve_conf_t *conf, const kve_config_t *cfg, const kve_node_t *node, const char *what, const char *name,
                              size_t *id)
{
    char names[KVE_STORES_MAX * (KVE_CONF_MAX_NAME + 2) + 1];

    if (kve_config_store_id(cfg, name, id) == 0)
        return 0;
    list_names(cfg, names, sizeof(names));
    kve_conf_error(conf, node, "%s: unknown store \"%s\" (the stores are: %s)", what, name, names);
    return -1;
}

/* kv.store; when it is not written, the default store must exist (an error at `kv:` says why it is looked for) */
static int resolve_kv_store(kve_conf_t *conf, kve_config_t *cfg)
{
    const kve_node_t *root = kve_conf_root(conf), *store = kve_yaml_get(kve_yaml_get(root, "kv"), "store");
    char names[KVE_STORES_MAX * (KVE_CONF_MAX_NAME + 2) + 1];

    if (store != NULL)
        return kve_config__resolve_store(conf, cfg, store, "kv.store", cfg->kv.store, &cfg->kv.store_id);
    if (kve_config_store_id(cfg, cfg->kv.store, &cfg->kv.store_id) == 0)
        return 0;
    list_names(cfg, names, sizeof(names));
    kve_conf_error(conf, key_node(root, "kv"),
                   "kv.store: unknown store \"%s\" (the stores are: %s); kv.store defaults to \"default\": name one of them, "
                   "or call one default",
                   cfg->kv.store, names);
    return -1;
}

/* every store reference in the configuration; a feature that names a store adds its reference here */
static int resolve_references(kve_conf_t *conf, kve_config_t *cfg)
{
    int ret = cfg->kv_enabled ? resolve_kv_store(conf, cfg) : 0;
    if (kve_config__resolve_cache_stores(conf, cfg) != 0)
        ret = -1;
    if (kve_config__resolve_session_stores(conf, cfg) != 0)
        ret = -1;
    return ret;
}

/*
 * Only the KV API's store has read-only links: a read-only user given on another store would be ignored, so it is an
 * error (with no KV API served, `redis:` keeps accepting it, as it did before named stores).
 */
static int check_read_only_users(kve_conf_t *conf, const kve_config_t *cfg, int from_redis)
{
    const kve_node_t *root = kve_conf_root(conf);
    char where[64 + KVE_CONF_MAX_NAME];

    for (size_t i = 0; cfg->kv_enabled && i != cfg->stores.size; ++i) {
        const kve_redis_conf_t *redis = cfg->stores.entries[i].redis;
        const char *key = redis->read_only_username != NULL ? "read_only_username" : "read_only_password";
        const kve_node_t *map;
        if (i == cfg->kv.store_id || (redis->read_only_username == NULL && redis->read_only_password == NULL))
            continue;
        if (i == 0 && from_redis) {
            map = kve_yaml_get(root, "redis");
            snprintf(where, sizeof(where), "redis.%s", key);
        } else {
            map = kve_yaml_get(kve_yaml_get(root, "stores"), cfg->stores.entries[i].name);
            snprintf(where, sizeof(where), "stores.%s.%s", cfg->stores.entries[i].name, key);
        }
        kve_conf_error(conf, key_node(map, key) != NULL ? key_node(map, key) : map,
                       "%s: only the store the KV API serves (kv.store: %s) has read-only links; set it there", where,
                       cfg->stores.entries[cfg->kv.store_id].name);
        return -1;
    }
    return 0;
}

/* whether a feature reads or writes a store: the KV API, a cached route or a route with sessions */
static int uses_a_store(const kve_config_t *cfg)
{
    if (cfg->kv_enabled)
        return 1;
    for (size_t i = 0; i != cfg->routes.size; ++i) {
        const kve_route_conf_t *route = cfg->routes.entries + i;
        if ((route->cache.present && route->cache.enabled) || (route->session.present && route->session.mode != KVE_SESSION_OFF))
            return 1;
    }
    return 0;
}

int kve_config__build_stores(kve_conf_t *conf, kve_config_t *cfg)
{
    int from_redis = given_redis(kve_conf_root(conf)) != NULL;

    if (list_stores(conf, cfg, from_redis) != 0 || check_one_embedded(conf, cfg, from_redis) != 0 ||
        resolve_references(conf, cfg) != 0)
        return -1;
    /* the implicit `default: embedded` only when a feature needs it: a proxy-only file starts no redis-server,
     * creates no data_dir and reports no store (a store written in the file is kept, used or not) */
    if (!from_redis && cfg->named_stores.size == 0 && !uses_a_store(cfg))
        cfg->stores.size = 0;
    return check_read_only_users(conf, cfg, from_redis);
}

const kve_store_conf_t *kve_config_kv_store(const kve_config_t *cfg)
{
    KVE_ASSERT(cfg->kv_enabled && cfg->kv.store_id < cfg->stores.size);
    return cfg->stores.entries + cfg->kv.store_id;
}

int kve_config_uses_embedded_redis(const kve_config_t *cfg)
{
    for (size_t i = 0; i != cfg->stores.size; ++i)
        if (is_embedded(cfg->stores.entries[i].redis))
            return 1;
    return 0;
}

/*
 * The KV API's store connects as the KV-policy users: on the embedded Redis the ones kvedge creates, on an
 * external one redis.username (or the URL's) and redis.read_only_username. Any other store connects as its own
 * username (or the URL's, or Redis' default user), without a read-only link and without the check at connect.
 */
void kve_config_store_specs(const kve_config_t *cfg, const kve_redis_users_t *users, kve_store_spec_t *out)
{
    for (size_t i = 0; i != cfg->stores.size; ++i) {
        const kve_redis_conf_t *redis = cfg->stores.entries[i].redis;
        kve_store_spec_t *spec = out + i;

        *spec = (kve_store_spec_t){cfg->stores.entries[i].name, redis};
        if (!cfg->kv_enabled || cfg->kv.store_id != i)
            continue;
        if (is_embedded(redis)) {
            spec->username = users->rw_name, spec->password = users->rw_password;
            spec->ro_username = users->ro_name, spec->ro_password = users->ro_password;
        } else {
            spec->ro_username = redis->read_only_username, spec->ro_password = redis->read_only_password;
        }
        spec->refused = users->rw.refused.v;
        spec->ro_refused = users->ro.refused.v;
    }
}
