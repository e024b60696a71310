/* SPDX-License-Identifier: MIT */
/*
 * Named stores at runtime (see stores.h): one read-write target per store and a read-only one for a store with a
 * read-only user, and one block of per-thread links, thread i's entries at [i * n, (i + 1) * n).
 */
#include "proxy/stores.h"
#include "proxy/common.h"
#include "proxy/kv_cluster.h"
#include "proxy/kv_commands.h"
#include "proxy/kv_redis.h"
#include "proxy/kv_replicas.h"
#include "proxy/kv_rest_driver.h"
#include "proxy/kv_sentinel.h"

#include <string.h>

typedef struct st_store_t {
    kve_store_spec_t spec;
    kve_redis_target_t target, target_ro;
    int has_ro;
    /** a KV REST store (spec.redis->url http:// or https://): the HTTP upstream every thread's link shares */
    kve_httpclient_upstream_t *up;
    kve_kv_rest_conf_t rest;
    /** the store's upstash-sync-token, shared by every thread's link (initialised with `up`) */
    kve_kv_rest_sync_t sync;
    char origin[1024], prefix[1024];
    /** the replicas topology: the replicas' targets (read-write, and read-only when has_ro), the nodes' names
     * ([0] the primary) and every thread's node counters (thread i's at i * (num_replicas + 1)) */
    size_t num_replicas;
    kve_redis_target_t *replicas, *replicas_ro;
    char **node_names;
    kve_kv_node_stats_t *node_stats;
    /** the sentinel topology: where the sentinels are (the targets above then name no host: the users of the nodes) */
    size_t num_sentinels;
    kve_redis_target_t *sentinels;
    /** the cluster topology: the seed nodes (host:port, resolved now; the targets above then name no host) */
    size_t num_seeds;
    kve_redis_target_t *seeds;
} store_t;

struct st_kve_stores_t {
    store_t *stores;
    size_t num_stores;
    size_t num_threads;
    /** num_threads * num_stores entries: thread i's links at i * num_stores */
    kve_thread_store_t *links;
};

/*
 * A store's target: for a sentinel or cluster store no address (the sentinel or the slot map gives them), only the data nodes'
 * users (`conf`'s), and ROLE checked on every connection of the primary; else kve_redis_target_init.
 */
static int init_target(kve_redis_target_t *t, const kve_redis_conf_t *conf, const char *sock, char *err, size_t errlen)
{
    if (conf->sentinel.master == NULL && conf->cluster.nodes.size == 0)
        return kve_redis_target_init(t, conf, sock, err, errlen);
    memset(t, 0, sizeof(*t));
    t->db = (int)conf->sentinel.db;
    t->username = conf->username != NULL && conf->username[0] != '\0' ? kve_strdup(conf->username) : NULL;
    t->password = conf->password != NULL && conf->password[0] != '\0' ? kve_strdup(conf->password) : NULL;
    if (conf->cluster.nodes.size != 0 && conf->cluster.tls) {
        /* the nodes' template context: as is with tls_server_name, else derived per node with its address */
        const int named = conf->tls_server_name != NULL && conf->tls_server_name[0] != '\0';
        t->tls = 1;
        if ((t->ssl_ctx = kve_redis_tls_ctx_create(conf, KVE_REDIS_TLS_TEMPLATE_NAME, err, errlen)) == NULL) {
            kve_redis_target_dispose(t);
            return -1;
        }
        t->tls_server_name = named ? kve_strdup(conf->tls_server_name) : NULL;
    }
    return 0;
}

/* the sentinel topology: each sentinel's target (host:port, resolved now; the sentinels' own users) */
static int init_sentinels(store_t *s, char *err, size_t errlen)
{
    const struct st_kve_redis_sentinel_conf_t *sc = &s->spec.redis->sentinel;
    kve_redis_conf_t conf = {0};
    char url[600];

    if (sc->master == NULL)
        return 0;
    s->sentinels = kve_zalloc(sizeof(*s->sentinels) * sc->addresses.size);
    conf.username = sc->username;
    conf.password = sc->password;
    for (size_t i = 0; i != sc->addresses.size; ++i) {
        snprintf(url, sizeof(url), "redis://%s", sc->addresses.entries[i]);
        conf.url = url;
        if (kve_redis_target_init(s->sentinels + i, &conf, NULL, err, errlen) != 0)
            return -1;
        ++s->num_sentinels; /* from here on, destroy disposes it */
        s->sentinels[i].role = "sentinel";
        s->sentinels[i].limit_checked = 1; /* a sentinel has no client output buffer limit to check */
    }
    return 0;
}

/* the cluster topology: each seed node's address (resolved now); the nodes' users are the store's targets' */
static int init_seeds(store_t *s, char *err, size_t errlen)
{
    const struct st_kve_redis_urls_t *nodes = &s->spec.redis->cluster.nodes;
    kve_redis_conf_t conf = {0};
    char url[600];

    if (nodes->size == 0)
        return 0;
    KVE_ASSERT(nodes->size <= KVE_KV_MAX_CLUSTER_SEEDS);
    kve_cmd_init(); /* the links route by the command table (main thread, before workers) */
    s->seeds = kve_zalloc(sizeof(*s->seeds) * nodes->size);
    for (size_t i = 0; i != nodes->size; ++i) {
        snprintf(url, sizeof(url), "redis://%s", nodes->entries[i]);
        conf.url = url;
        if (kve_redis_target_init(s->seeds + i, &conf, NULL, err, errlen) != 0)
            return -1;
        ++s->num_seeds; /* from here on, destroy disposes it */
    }
    return 0;
}

/* the read-write target: the spec's user and password in place of the configuration's when given */
static int init_rw(store_t *s, const char *sock, char *err, size_t errlen)
{
    kve_redis_conf_t conf = *s->spec.redis;

    if (s->spec.username != NULL)
        conf.username = (char *)s->spec.username, conf.password = (char *)s->spec.password;
    if (init_target(&s->target, &conf, sock, err, errlen) != 0)
        return -1;
    s->target.role = "read-write";
    s->target.acl_refused = s->spec.refused;
    return 0;
}

/* the read-only target, when the store has a read-only user */
static int init_ro(store_t *s, const char *sock, char *err, size_t errlen)
{
    kve_redis_conf_t conf = *s->spec.redis;

    if (s->spec.ro_username == NULL)
        return 0;
    conf.username = (char *)s->spec.ro_username, conf.password = (char *)s->spec.ro_password;
    if (init_target(&s->target_ro, &conf, sock, err, errlen) != 0)
        return -1;
    if (conf.password == NULL) /* never the read-write user's password (from the URL) with another user name */
        kve_redis_target_forget_password(&s->target_ro);
    s->target_ro.role = "read-only";
    s->target_ro.acl_refused = s->spec.ro_refused;
    s->target_ro.kill_via = &s->target; /* the read-only user may not SCRIPT KILL */
    s->has_ro = 1;
    return 0;
}

/* "host:port" or "unix:path" */
static char *node_name(const kve_redis_target_t *t)
{
    char buf[300];
    if (t->path != NULL)
        snprintf(buf, sizeof(buf), "unix:%s", t->path);
    else
        snprintf(buf, sizeof(buf), "%s:%d", t->host, t->port);
    return kve_strdup(buf);
}

/*
 * One replica's target for the links of `primary` (the read-write or read-only one): its URL, with the primary's
 * user and password unless the URL names its own and nothing overrides them (replicas normally share the primary's
 * users).
 */
static int init_replica(const store_t *s, const kve_redis_target_t *primary, const char *url, kve_redis_target_t *out, char *err,
                        size_t errlen)
{
    kve_redis_conf_t conf = *s->spec.redis;

    conf.url = (char *)url;
    conf.username = conf.password = NULL;
    if (kve_redis_target_init(out, &conf, NULL, err, errlen) != 0)
        return -1;
    /* the read-only user always, and the users the configuration sets over the URL's (they are the primary's too) */
    if (primary == &s->target_ro || s->spec.username != NULL || s->spec.redis->username != NULL ||
        s->spec.redis->password != NULL || (out->username == NULL && out->password == NULL)) {
        free(out->username);
        if (out->password != NULL)
            kve_redis_target_forget_password(out);
        out->username = primary->username != NULL ? kve_strdup(primary->username) : NULL;
        out->password = primary->password != NULL ? kve_strdup(primary->password) : NULL;
    }
    out->role = primary->role;
    out->acl_refused = primary->acl_refused;
    out->kill_via = primary->kill_via != NULL ? primary->kill_via : primary;
    return 0;
}

/* the replicas topology: targets for the read-write links (and the read-only ones), names, counters */
static int init_replicas(store_t *s, size_t num_threads, char *err, size_t errlen)
{
    const kve_redis_conf_t *redis = s->spec.redis;
    size_t i, n = redis->replicas.size;

    if (n == 0)
        return 0;
    KVE_ASSERT(n <= KVE_KV_MAX_REPLICAS); /* the configuration checks it */
    s->replicas = kve_zalloc(sizeof(*s->replicas) * n);
    s->replicas_ro = kve_zalloc(sizeof(*s->replicas_ro) * n);
    s->node_names = kve_zalloc(sizeof(*s->node_names) * (n + 1));
    s->node_stats = kve_zalloc(sizeof(*s->node_stats) * (n + 1) * num_threads);
    s->num_replicas = n; /* from here on, destroy disposes them */
    s->node_names[0] = node_name(&s->target);
    for (i = 0; i != n; ++i) {
        if (init_replica(s, &s->target, redis->replicas.entries[i], s->replicas + i, err, errlen) != 0 ||
            (s->has_ro && init_replica(s, &s->target_ro, redis->replicas.entries[i], s->replicas_ro + i, err, errlen) != 0))
            return -1;
        s->node_names[1 + i] = node_name(s->replicas + i);
    }
    return 0;
}

static void dispose_replicas(store_t *s)
{
    for (size_t i = 0; i != s->num_replicas; ++i) {
        kve_redis_target_dispose(s->replicas + i);
        kve_redis_target_dispose(s->replicas_ro + i);
    }
    for (size_t i = 0; s->node_names != NULL && i != s->num_replicas + 1; ++i)
        free(s->node_names[i]);
    free(s->replicas);
    free(s->replicas_ro);
    free(s->node_names);
    free(s->node_stats);
}

/* a KV REST store: its upstream (URL, TLS context) and the links' settings */
static int init_rest(store_t *s, char *err, size_t errlen)
{
    const kve_redis_conf_t *redis = s->spec.redis;
    kve_httpclient_conf_t hc;

    if (kve_kv_rest_split_url(redis->url, s->origin, sizeof(s->origin), s->prefix, sizeof(s->prefix), err, errlen) != 0)
        return -1;
    kve_cmd_init(); /* the links ask the command table which commands may be retried (main thread, before workers) */
    kve_httpclient_conf_defaults(&hc);
    hc.url = s->origin;
    hc.ca_file = redis->ca_file;
    hc.connect_timeout_ms = redis->connect_timeout_ms;
    /* a request that makes no progress for this long fails its commands (they have timed out long before) */
    hc.io_timeout_ms = redis->command_timeout_ms + redis->connect_timeout_ms;
    if ((s->up = kve_httpclient_upstream_create(&hc, err, errlen)) == NULL)
        return -1;
    kve_kv_rest_sync_init(&s->sync);
    s->rest = (kve_kv_rest_conf_t){.store_name = s->spec.name,
                                   .token = redis->token,
                                   .prefix = s->prefix,
                                   .command_timeout_ms = redis->command_timeout_ms,
                                   .reconnect_max_delay_ms = redis->reconnect_max_delay_ms,
                                   .breaker_threshold = (uint64_t)redis->breaker_threshold,
                                   .sync = &s->sync};
    return 0;
}

/* with several stores, says which one `err` is about: "store NAME: " in front */
static void name_in_error(const char *name, size_t n, char *err, size_t errlen)
{
    char why[256];

    if (n < 2 || errlen == 0)
        return;
    snprintf(why, sizeof(why), "%s", err);
    snprintf(err, errlen, "store %s: %s", name, why);
}

kve_stores_t *kve_stores_create(const kve_store_spec_t *specs, size_t n, const char *embedded_socket, size_t num_threads, char *err,
                                size_t errlen)
{
    kve_stores_t *set = kve_zalloc(sizeof(*set));
    size_t i;

    KVE_ASSERT(n <= KVE_STORES_MAX && num_threads != 0);
    set->stores = kve_zalloc(sizeof(*set->stores) * KVE_MAX(n, 1));
    set->num_threads = num_threads;
    for (i = 0; i != n; ++i) {
        store_t *s = set->stores + i;
        s->spec = specs[i];
        ++set->num_stores; /* from here on, destroy disposes its targets */
        if (kve_redis_url_is_rest(s->spec.redis->url)
                ? init_rest(s, err, errlen) != 0
                : init_rw(s, embedded_socket, err, errlen) != 0 || init_ro(s, embedded_socket, err, errlen) != 0 ||
                      init_replicas(s, num_threads, err, errlen) != 0 || init_sentinels(s, err, errlen) != 0 ||
                      init_seeds(s, err, errlen) != 0) {
            name_in_error(s->spec.name, n, err, errlen);
            kve_stores_destroy(set);
            return NULL;
        }
        s->target.store = s->target_ro.store = n > 1 ? s->spec.name : NULL;
        s->target.store_name = s->target_ro.store_name = s->spec.name;
        for (size_t j = 0; j != s->num_replicas; ++j) {
            s->replicas[j].store = s->replicas_ro[j].store = s->target.store;
            s->replicas[j].store_name = s->replicas_ro[j].store_name = s->spec.name;
        }
        for (size_t j = 0; j != s->num_sentinels; ++j) {
            s->sentinels[j].store = s->target.store;
            s->sentinels[j].store_name = s->spec.name;
        }
    }
    set->links = kve_zalloc(sizeof(*set->links) * num_threads * KVE_MAX(n, 1));
    return set;
}

void kve_stores_thread_start(kve_stores_t *set, kve_thread_t *thread)
{
    kve_thread_store_t *links;

    KVE_ASSERT(thread->index < set->num_threads);
    links = set->links + thread->index * set->num_stores;
    for (size_t i = 0; i != set->num_stores; ++i) {
        const store_t *s = set->stores + i;
        links[i].name = s->spec.name;
        links[i].has_ro = s->has_ro;
        links[i].rest = s->up != NULL;
        links[i].cluster = s->num_seeds != 0;
        if (s->up != NULL) {
            links[i].rw = kve_kv_rest_create(&thread->ctx, s->up, &s->rest, &links[i].rw_stats);
            continue;
        }
        if (s->num_seeds != 0) {
            links[i].rw =
                kve_kv_cluster_create(thread->ctx.loop, s->seeds, s->num_seeds, &s->target, s->spec.redis, &links[i].rw_stats);
            if (s->has_ro)
                links[i].ro = kve_kv_cluster_create(thread->ctx.loop, s->seeds, s->num_seeds, &s->target_ro, s->spec.redis,
                                                    &links[i].ro_stats);
            continue;
        }
        if (s->num_sentinels != 0) {
            links[i].rw = kve_kv_sentinel_create(thread->ctx.loop, s->sentinels, s->num_sentinels, &s->target, s->spec.redis,
                                                 &links[i].rw_stats);
            if (s->has_ro)
                links[i].ro = kve_kv_sentinel_create(thread->ctx.loop, s->sentinels, s->num_sentinels, &s->target_ro, s->spec.redis,
                                                     &links[i].ro_stats);
            continue;
        }
        if (s->num_replicas != 0) {
            kve_kv_node_stats_t *nodes = s->node_stats + thread->index * (s->num_replicas + 1);
            links[i].num_nodes = s->num_replicas + 1;
            links[i].node_names = (const char *const *)s->node_names;
            links[i].nodes = nodes;
            links[i].rw = kve_kv_replicas_create(thread->ctx.loop, &s->target, s->replicas, s->num_replicas, s->spec.redis,
                                                 &links[i].rw_stats, nodes);
            if (s->has_ro)
                links[i].ro = kve_kv_replicas_create(thread->ctx.loop, &s->target_ro, s->replicas_ro, s->num_replicas,
                                                     s->spec.redis, &links[i].ro_stats, nodes);
            continue;
        }
        links[i].rw = kve_kv_redis_create(thread->ctx.loop, &s->target, s->spec.redis, &links[i].rw_stats);
        if (s->has_ro)
            links[i].ro = kve_kv_redis_create(thread->ctx.loop, &s->target_ro, s->spec.redis, &links[i].ro_stats);
    }
    thread->stores = links;
    /* last, and released: another thread (the metrics) that reads num_stores with acquire sees every link above */
    __atomic_store_n(&thread->num_stores, set->num_stores, __ATOMIC_RELEASE);
}

void kve_stores_thread_stop(kve_stores_t *set, kve_thread_t *thread)
{
    for (size_t i = 0; i != thread->num_stores; ++i) {
        kve_thread_store_t *l = thread->stores + i;
        kve_kv_t *rw = l->rw, *ro = l->ro;
        /* other threads may load these pointers: clear them before the links go (the metrics read the stats
         * blocks instead, which stay until kve_stores_destroy) */
        __atomic_store_n(&l->ro, NULL, __ATOMIC_RELEASE);
        __atomic_store_n(&l->rw, NULL, __ATOMIC_RELEASE);
        if (ro != NULL)
            kve_kv_destroy(ro);
        if (rw != NULL)
            kve_kv_destroy(rw);
    }
}

size_t kve_stores_count(const kve_stores_t *set)
{
    return set->num_stores;
}

void kve_stores_destroy(kve_stores_t *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i != set->num_stores; ++i) {
        kve_redis_target_dispose(&set->stores[i].target);
        kve_redis_target_dispose(&set->stores[i].target_ro);
        dispose_replicas(set->stores + i);
        for (size_t j = 0; j != set->stores[i].num_sentinels; ++j)
            kve_redis_target_dispose(set->stores[i].sentinels + j);
        free(set->stores[i].sentinels);
        for (size_t j = 0; j != set->stores[i].num_seeds; ++j)
            kve_redis_target_dispose(set->stores[i].seeds + j);
        free(set->stores[i].seeds);
        if (set->stores[i].up != NULL)
            kve_kv_rest_sync_dispose(&set->stores[i].sync);
        kve_httpclient_upstream_destroy(set->stores[i].up);
    }
    free(set->stores);
    free(set->links);
    free(set);
}
