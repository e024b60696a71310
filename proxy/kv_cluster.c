/* SPDX-License-Identifier: MIT */
/*
 * The Redis Cluster topology (see kv_cluster.h). The link is a kv.c link whose driver routes each op as it is sent:
 * kve_cluster_classify() says where, the map says which primary, and the op is handed to that primary's Redis link
 * (its driver's send, as kv_replicas.c does with the primary), where it completes as on a standalone link; kv.c puts
 * the results back in index order. Each op's command is copied first (op->driver_copy, freed by kv.c with the batch):
 * a redirection sends it again after the caller's memory may be gone. Refusals (CROSSSLOT, commands with no meaning
 * on a cluster) are completed from a 0 ms timer, never inside send(). Node links are made on the first op for a node
 * and kept until the link goes (at most KVE_CLUSTER_MAX_NODES + seeds of them: an address a redirection names past
 * that fails its op).
 */
#include "proxy/kv_cluster.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_ack.h"
#include "proxy/kv_cluster_internal.h"
#include "proxy/kv_redis.h"
#include "proxy/log.h"
#include "proxy/tls_client.h"

#include <stdio.h>
#include <string.h>

#define REFRESH_MIN_MS 100
#define REFRESH_EVERY_MS 10000
#define DISTRUST_MS 5000        /* a node that answered CLUSTERDOWN is not asked for the map this long (others are) */
#define REFRESH_DEGRADED_MS 250 /* while a primary's link is down or a slot has no node: until the map is whole again */
#define TICK_MS 100
#define RETRY_TICK_MS 10
#define MAX_REDIRECTS 5
#define MAX_TRYAGAIN 8
#define MAX_MAP_REPLY (1 << 20)
#define MAX_LINK_NODES (KVE_CLUSTER_MAX_NODES + KVE_KV_MAX_CLUSTER_SEEDS)

typedef struct st_node_t {
    kve_cluster_link_t *link;
    /* a copy of the users' template with this node's address (`host` points into the node) */
    kve_redis_target_t target;
    char host[KVE_CLUSTER_HOST_MAX];
    int port;
    kve_kv_t *kv; /* made on first use */
    /* min_replicas_ack: the waiter (made on the first batch that asks; its wait link's target has no redirect hook:
     * a MOVED on the marker fails the round), and the marker's slot and key (a tag of the node's first slot) */
    kve_redis_target_t ack_target;
    kve_kv_ack_t *ack;
    int marker_slot;
    char marker[32];
    /* answered CLUSTERDOWN: its view is a minority's (cut off, or alone in a failover); not asked for the map until then */
    uint64_t distrust_until;
    /* a TLS store without tls_server_name: this node's context, verifying its address (owned; else the template's) */
    SSL_CTX *own_ctx;
} node_t;

/* ops completed later from a timer: a refusal (`why`: an error reply's text), or a TRYAGAIN sent again at `at` */
typedef struct st_later_t {
    kve_kv_op_t *ops;
    size_t n;
    int atomic;
    const char *why;
    uint64_t at;
} later_t;

typedef struct st_later_list_t {
    later_t *entries;
    size_t size, capacity;
} later_list_t;

struct st_kve_cluster_link_t {
    kve_kv_t super;
    const kve_redis_target_t *users;
    const kve_redis_conf_t *conf;
    node_t *seeds[KVE_KV_MAX_CLUSTER_SEEDS];
    size_t num_seeds;
    node_t *nodes[MAX_LINK_NODES];
    size_t num_nodes;
    /* per slot: 1 + the index in nodes[] of the primary that serves it, or 0 */
    uint16_t slot[KVE_SLOT_COUNT];
    int have_map;
    size_t unserved; /* slots the map names no node for */
    /* the shards of the map in order of their first slot, rebuilt when the map changed */
    int shards_dirty;
    size_t num_shards;
    struct {
        unsigned first_slot;
        uint16_t node;
    } shards[KVE_CLUSTER_MAX_SHARDS];
    size_t next_any; /* round robin over the shards for keyless commands */
    /* the map's refresh */
    kve_cluster_map_t *scratch;
    kve_kv_batch_t *refresh;
    node_t *refresh_node;
    size_t refresh_next;
    int refresh_wanted, use_slots, logged_map_error;
    uint64_t last_attempt_at, last_map_at, logged_down_at;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    /* refusals (0 ms) and TRYAGAINs (10 ms ticks) */
    h2o_timeout_t zero, retry;
    h2o_timeout_entry_t zero_entry, retry_entry;
    later_list_t refusals, retries;
    struct st_kve_cluster_fanout_t *fanouts;
};

static const char *const cmd_shards[] = {"CLUSTER", "SHARDS"}, *const cmd_slots[] = {"CLUSTER", "SLOTS"};
static const size_t cmd_shards_len[] = {7, 6}, cmd_slots_len[] = {7, 5};

/* --- nodes --- */

static void on_redirect(void *data, kve_kv_op_t *op, const kve_kv_reply_t *reply);
static void on_redirect_atomic(void *data, kve_kv_op_t *ops, size_t n, const kve_kv_reply_t *reply);

static node_t *find_node(kve_cluster_link_t *link, const char *host, int port)
{
    for (size_t i = 0; i != link->num_nodes; ++i)
        if (link->nodes[i]->port == port && strcmp(link->nodes[i]->host, host) == 0)
            return link->nodes[i];
    return NULL;
}

static void node_free(node_t *node)
{
    if (node->own_ctx != NULL)
        SSL_CTX_free(node->own_ctx);
    free(node);
}

/* a TLS store without tls_server_name: a context of the node's own that verifies its address (with a name, the node's
 * target keeps the template's context and name, borrowed: the store's, they outlive its links) */
static int node_tls(kve_cluster_link_t *link, node_t *node)
{
    char err[256];

    if (!link->users->tls || link->users->tls_server_name != NULL)
        return 0;
    if ((node->own_ctx = kve_tls_client_ctx_derive(link->users->ssl_ctx, node->host, err, sizeof(err))) == NULL) {
        kve_log(KVE_LOG_WARN, "redis", "%s: node %s:%d left out: %s", link->super.peer, node->host, node->port, err);
        return -1;
    }
    node->target.ssl_ctx = node->own_ctx;
    node->target.tls_server_name = node->host;
    return 0;
}

/* the node at host:port (numeric), added when new; NULL when the table is full */
static node_t *add_node(kve_cluster_link_t *link, const char *host, int port)
{
    node_t *node = find_node(link, host, port);

    if (node != NULL)
        return node;
    if (link->num_nodes == MAX_LINK_NODES) {
        kve_log(KVE_LOG_WARN, "redis", "cluster: more than %d nodes named; %s:%d left out", MAX_LINK_NODES, host, port);
        return NULL;
    }
    node = kve_zalloc(sizeof(*node));
    node->link = link;
    snprintf(node->host, sizeof(node->host), "%s", host);
    node->port = port;
    node->target = *link->users;
    node->target.path = NULL;
    node->target.host = node->host;
    node->target.port = port;
    node->target.db = 0; /* Cluster has db 0 only */
    node->target.limit_checked = 0;
    node->target.kill_via = NULL; /* the template's names no address: the node's own user stops its scripts */
    node->target.redirect = on_redirect;
    node->target.redirect_atomic = on_redirect_atomic;
    node->target.redirect_data = node;
    if (node_tls(link, node) != 0) {
        node_free(node);
        return NULL;
    }
    node->ack_target = node->target;
    node->ack_target.redirect = NULL;
    node->ack_target.redirect_atomic = NULL;
    node->ack_target.redirect_data = NULL;
    node->marker_slot = -1;
    link->nodes[link->num_nodes++] = node;
    return node;
}

static kve_kv_t *node_kv(node_t *node)
{
    if (node->kv == NULL)
        node->kv = kve_kv_redis_create(node->link->super.loop, &node->target, node->link->conf, NULL);
    return node->kv;
}

static int node_up(const node_t *node)
{
    return node->kv != NULL && KVE_STAT_GET(node->kv->stats->state) == KVE_KV_UP;
}

static node_t *slot_node(kve_cluster_link_t *link, unsigned slot)
{
    return link->slot[slot] != 0 ? link->nodes[link->slot[slot] - 1] : NULL;
}

static void build_shards(kve_cluster_link_t *link)
{
    uint8_t seen[MAX_LINK_NODES] = {0};

    link->num_shards = 0;
    for (unsigned s = 0; s != KVE_SLOT_COUNT; ++s) {
        uint16_t n = link->slot[s];
        if (n == 0 || seen[n - 1] || link->num_shards == KVE_CLUSTER_MAX_SHARDS)
            continue;
        seen[n - 1] = 1;
        link->shards[link->num_shards].first_slot = s;
        link->shards[link->num_shards].node = n - 1;
        ++link->num_shards;
    }
    link->shards_dirty = 0;
}

static void shards_fresh(kve_cluster_link_t *link)
{
    if (link->shards_dirty)
        build_shards(link);
}

/* a primary for a keyless command: the shards in turn */
static node_t *any_node(kve_cluster_link_t *link)
{
    shards_fresh(link);
    if (link->num_shards == 0)
        return NULL;
    link->next_any = (link->next_any + 1) % link->num_shards;
    return link->nodes[link->shards[link->next_any].node];
}

/* --- the map --- */

static void want_refresh(kve_cluster_link_t *link)
{
    link->refresh_wanted = 1;
}

static int is_seed(const kve_cluster_link_t *link, const node_t *node)
{
    for (size_t i = 0; i != link->num_seeds; ++i)
        if (link->seeds[i] == node)
            return 1;
    return 0;
}

/* whether the map names host:port as a primary that serves slots */
static int serves_slots(const kve_cluster_map_t *map, const node_t *node)
{
    int i = kve_cluster_find_node(map, node->host, node->port);
    return i >= 0 && map->nodes[i].primary < 0;
}

/*
 * Nodes that are no primary serving slots in the new map (gone, emptied, or a replica now: Redis 7 turns a primary whose
 * last slot moved away into a replica), not seeds and not the node being asked, whose links hold nothing, are closed
 * and forgotten: the table stays bounded however often the cluster's addresses change (nodes replaced, rescheduled).
 * One still busy (a command, a subscription, a wait for replicas) is closed at a later map. Indices into `nodes` change:
 * the caller rebuilds the slot table after.
 */
static void prune_nodes(kve_cluster_link_t *link, const kve_cluster_map_t *map)
{
    size_t kept = 0;

    for (size_t i = 0; i != link->num_nodes; ++i) {
        node_t *node = link->nodes[i];
        if (is_seed(link, node) || node == link->refresh_node || serves_slots(map, node) ||
            (node->kv != NULL && !kve_kv_redis_idle(node->kv)) || (node->ack != NULL && !kve_kv_ack_idle(node->ack))) {
            link->nodes[kept++] = node;
            continue;
        }
        if (node->kv != NULL)
            kve_log(KVE_LOG_INFO, "redis", "%s: node %s:%d serves no slot any more; its link is closed", link->super.peer,
                    node->host, node->port);
        if (node->ack != NULL)
            kve_kv_ack_destroy(node->ack);
        if (node->kv != NULL)
            kve_kv_destroy(node->kv);
        node_free(node);
    }
    link->num_nodes = kept;
}

static void apply_map(kve_cluster_link_t *link, const kve_cluster_map_t *map)
{
    int16_t index[KVE_CLUSTER_MAX_NODES];

    prune_nodes(link, map);
    for (size_t i = 0; i != map->num_nodes; ++i) {
        node_t *node = map->nodes[i].primary < 0 ? add_node(link, map->nodes[i].host, map->nodes[i].port) : NULL;
        index[i] = -1;
        for (size_t j = 0; node != NULL && j != link->num_nodes; ++j)
            if (link->nodes[j] == node)
                index[i] = (int16_t)j;
    }
    link->unserved = 0;
    for (unsigned s = 0; s != KVE_SLOT_COUNT; ++s) {
        link->slot[s] = map->slot[s] != 0 && index[map->slot[s] - 1] >= 0 ? (uint16_t)(index[map->slot[s] - 1] + 1) : 0;
        link->unserved += link->slot[s] == 0;
    }
    link->shards_dirty = 1;
    if (!link->have_map)
        kve_log(KVE_LOG_INFO, "redis", "%s: slot map of %zu nodes read from %s:%d", link->super.peer, map->num_nodes,
                link->refresh_node->host, link->refresh_node->port);
    link->have_map = 1;
    KVE_STAT_ADD(link->super.stats->slot_map_refreshes, 1);
    link->last_map_at = h2o_now(link->super.loop);
    link->logged_map_error = 0;
    kve_kv__set_state(&link->super, KVE_KV_UP);
}

static int map_empty(const kve_cluster_map_t *map)
{
    for (unsigned s = 0; s != KVE_SLOT_COUNT; ++s)
        if (map->slot[s] != 0)
            return 0;
    return 1;
}

static int is_unknown_subcommand(const kve_kv_reply_t *r)
{
    return r->type == KVE_REPLY_ERROR && r->len >= 11 && strncasecmp(r->str, "ERR unknown", 11) == 0;
}

static void refresh_failed(kve_cluster_link_t *link, const char *why)
{
    if (!link->logged_map_error)
        kve_log(link->have_map ? KVE_LOG_WARN : KVE_LOG_ERROR, "redis", "%s: cannot read the slot map from %s:%d: %s",
                link->super.peer, link->refresh_node->host, link->refresh_node->port, why);
    link->logged_map_error = 1;
    want_refresh(link);
}

static void on_refresh_reply(void *data, size_t index, int err, const kve_kv_reply_t *reply)
{
    kve_cluster_link_t *link = data;
    char why[160];
    int ret;

    if (err != 0) {
        refresh_failed(link, kve_strerror(err));
        return;
    }
    if (!link->use_slots && is_unknown_subcommand(reply)) { /* Redis 6: CLUSTER SLOTS */
        link->use_slots = 1;
        want_refresh(link);
        return;
    }
    if (link->use_slots)
        ret = kve_cluster_parse_slots(reply, link->refresh_node->host, link->scratch, why, sizeof(why));
    else
        ret = kve_cluster_parse_shards(reply, link->refresh_node->host, link->users->tls, link->scratch, why, sizeof(why));
    if (ret != 0) {
        refresh_failed(link, why);
        return;
    }
    if (map_empty(link->scratch)) { /* a node that knows no cluster (reset, or not joined yet): keep what we have */
        refresh_failed(link, "the answer names no node serving a slot");
        return;
    }
    apply_map(link, link->scratch);
}

static void on_refresh_done(void *data, const kve_kv_batch_result_t *result)
{
    ((kve_cluster_link_t *)data)->refresh = NULL;
}

/* who is asked: a primary of the map whose link is up (else any of them), then the seeds; in turn */
static node_t *refresh_candidate(kve_cluster_link_t *link)
{
    node_t *candidates[KVE_CLUSTER_MAX_SHARDS + KVE_KV_MAX_CLUSTER_SEEDS];
    size_t n = 0;

    shards_fresh(link);
    for (size_t i = 0; i != link->num_shards; ++i)
        candidates[n++] = link->nodes[link->shards[i].node];
    for (size_t i = 0; i != link->num_seeds; ++i)
        candidates[n++] = link->seeds[i];
    uint64_t now = h2o_now(link->super.loop);
    /* a trusted node whose link is up; else a trusted one this thread has no link to yet (made now); else any that is up */
    for (int pass = 0; pass != 3; ++pass) {
        for (size_t i = 0; i != n; ++i) {
            node_t *node = candidates[(link->refresh_next + i) % n];
            int trusted = node->distrust_until <= now;
            if (pass == 0 ? trusted && node_up(node) : pass == 1 ? trusted && node->kv == NULL : node_up(node)) {
                link->refresh_next += i + 1; /* the next refresh asks another node: views differ during a failover */
                return node;
            }
        }
    }
    return candidates[link->refresh_next++ % n];
}

static void start_refresh(kve_cluster_link_t *link)
{
    kve_kv_command_t cmd =
        link->use_slots ? KVE_KV_COMMAND(2, cmd_slots, cmd_slots_len) : KVE_KV_COMMAND(2, cmd_shards, cmd_shards_len);
    kve_kv_batch_opts_t opts = {.timeout_ms = link->conf->connect_timeout_ms + link->conf->command_timeout_ms,
                                .max_reply_size = MAX_MAP_REPLY};
    int err;

    link->refresh_wanted = 0;
    link->last_attempt_at = h2o_now(link->super.loop);
    link->refresh_node = refresh_candidate(link);
    if ((link->refresh =
             kve_kv_batch(node_kv(link->refresh_node), &cmd, 1, &opts, on_refresh_reply, on_refresh_done, link, &err)) == NULL)
        refresh_failed(link, kve_strerror(err));
}

/* a shard whose primary's link is down, or a slot no node serves: a failover is under way (or a node is gone), and the
 * map that ends it must come without waiting for a request of this thread to fail */
static int map_degraded(kve_cluster_link_t *link)
{
    shards_fresh(link);
    for (size_t i = 0; i != link->num_shards; ++i) {
        const node_t *node = link->nodes[link->shards[i].node];
        if (node->kv != NULL && KVE_STAT_GET(node->kv->stats->state) == KVE_KV_DOWN)
            return 1;
    }
    return link->unserved != 0;
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    kve_cluster_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_cluster_link_t, tick_entry, entry);
    uint64_t now = h2o_now(link->super.loop);

    if (link->refresh == NULL && now - link->last_attempt_at >= REFRESH_MIN_MS &&
        (link->refresh_wanted || now - link->last_map_at >= REFRESH_EVERY_MS ||
         (link->have_map && now - link->last_attempt_at >= REFRESH_DEGRADED_MS && map_degraded(link))))
        start_refresh(link);
    h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
}

/* --- later: refusals and TRYAGAINs --- */

static void later_push(later_list_t *list, later_t entry)
{
    if (list->size == list->capacity) {
        list->capacity = KVE_MAX(list->capacity * 2, 8);
        list->entries = kve_realloc(list->entries, sizeof(*list->entries) * list->capacity);
    }
    list->entries[list->size++] = entry;
}

static void complete_all(kve_kv_op_t *ops, size_t n, int err)
{
    for (size_t i = 0; i != n; ++i)
        kve_kv__complete(ops + i, err, NULL);
}

/* a refusal: an error reply for a command, or every op of a transaction KVE_EABORTED with it as the reason */
static void refuse_now(const later_t *e)
{
    kve_kv_reply_t reply = {.type = KVE_REPLY_ERROR, .str = (char *)e->why, .len = strlen(e->why)};

    if (!e->atomic) {
        kve_kv__complete(e->ops, 0, &reply);
        return;
    }
    kve_kv__set_abort_reply(e->ops[0].batch, &reply);
    complete_all(e->ops, e->n, KVE_EABORTED);
}

static void on_zero(h2o_timeout_entry_t *entry)
{
    kve_cluster_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_cluster_link_t, zero_entry, entry);
    later_list_t list = link->refusals;

    link->refusals = (later_list_t){NULL};
    for (size_t i = 0; i != list.size; ++i)
        refuse_now(list.entries + i);
    free(list.entries);
}

static void refuse_later(kve_cluster_link_t *link, kve_kv_op_t *ops, size_t n, int atomic, const char *why)
{
    later_push(&link->refusals, (later_t){.ops = ops, .n = n, .atomic = atomic, .why = why});
    if (!h2o_timeout_is_linked(&link->zero_entry))
        h2o_timeout_link(link->super.loop, &link->zero, &link->zero_entry);
}

static int send_ops(kve_cluster_link_t *link, node_t *node, kve_kv_op_t *ops, size_t n, int atomic, int asking);

static int route_ops(kve_cluster_link_t *link, kve_kv_op_t *ops, size_t n, int atomic);

static void on_retry(h2o_timeout_entry_t *entry)
{
    kve_cluster_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_cluster_link_t, retry_entry, entry);
    uint64_t now = h2o_now(link->super.loop);
    later_list_t due = {NULL};
    size_t kept = 0;

    for (size_t i = 0; i != link->retries.size; ++i) {
        if (link->retries.entries[i].at <= now)
            later_push(&due, link->retries.entries[i]);
        else
            link->retries.entries[kept++] = link->retries.entries[i];
    }
    link->retries.size = kept;
    if (kept != 0)
        h2o_timeout_link(link->super.loop, &link->retry, &link->retry_entry);
    for (size_t i = 0; i != due.size; ++i) {
        later_t *e = due.entries + i;
        int err = route_ops(link, e->ops, e->n, e->atomic);
        if (err != 0)
            complete_all(e->ops, e->n, err);
    }
    free(due.entries);
}

static void retry_later(kve_cluster_link_t *link, kve_kv_op_t *ops, size_t n, int atomic)
{
    uint64_t delay = (uint64_t)RETRY_TICK_MS << KVE_MIN(ops[0].redirects, 10);
    later_push(&link->retries, (later_t){.ops = ops, .n = n, .atomic = atomic, .at = h2o_now(link->super.loop) + delay});
    if (!h2o_timeout_is_linked(&link->retry_entry))
        h2o_timeout_link(link->super.loop, &link->retry, &link->retry_entry);
}

/* --- sending --- */

static int send_ops(kve_cluster_link_t *link, node_t *node, kve_kv_op_t *ops, size_t n, int atomic, int asking)
{
    kve_kv_t *kv;
    int err;

    if (node == NULL) { /* no node serves the slot (yet): CLUSTERDOWN's case */
        want_refresh(link);
        return KVE_EUNAVAIL;
    }
    kv = node_kv(node);
    if (asking)
        err = atomic ? kve_kv_redis_send_atomic_asking(kv, ops, n) : kve_kv_redis_send_asking(kv, ops);
    else
        err = atomic ? kv->driver->send_atomic(kv, ops, n) : kv->driver->send(kv, ops);
    if (err != 0) /* the node is down: a failover may have promoted another */
        want_refresh(link);
    return err;
}

/* where a transaction goes: the slot all its keyed commands share; 0, -1 when keyless, or a refusal in *why */
static int atomic_slot(kve_kv_op_t *ops, size_t n, int *slot, const char **why)
{
    *slot = -1;
    for (size_t i = 0; i != n; ++i) {
        kve_cluster_route_t r;
        kve_cluster_classify(ops[i].cmd, 1, &r);
        if (r.dest == KVE_CLUSTER_REFUSE) {
            *why = r.why;
            return -1;
        }
        if (r.dest != KVE_CLUSTER_TO_SLOT)
            continue;
        if (*slot >= 0 && *slot != r.slot) {
            *why = KVE_CLUSTER_CROSSSLOT;
            return -1;
        }
        *slot = r.slot;
    }
    return 0;
}

/* sends ops (one op, or a transaction's) where the map says now; 0, a KVE_E*, or a refusal completed later */
static int route_ops(kve_cluster_link_t *link, kve_kv_op_t *ops, size_t n, int atomic)
{
    kve_cluster_route_t r;
    const char *why;
    int slot;

    if (!link->have_map)
        return KVE_EUNAVAIL;
    if (atomic) {
        if (atomic_slot(ops, n, &slot, &why) != 0) {
            refuse_later(link, ops, n, 1, why);
            return 0;
        }
        return send_ops(link, slot >= 0 ? slot_node(link, (unsigned)slot) : any_node(link), ops, n, 1, 0);
    }
    kve_cluster_classify(ops->cmd, 0, &r);
    switch (r.dest) {
    case KVE_CLUSTER_TO_SLOT:
        return send_ops(link, slot_node(link, (unsigned)r.slot), ops, 1, 0, 0);
    case KVE_CLUSTER_TO_ANY:
        return send_ops(link, any_node(link), ops, 1, 0, 0);
    case KVE_CLUSTER_REFUSE:
        refuse_later(link, ops, 1, 0, r.why);
        return 0;
    default:
        return kve_cluster__fanout(link, ops, &r);
    }
}

static int cluster_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    kve_cluster_link_t *link = (void *)kv;

    if (!link->have_map)
        return KVE_EUNAVAIL;
    kve_kv__own_command(op); /* a redirection sends it again later */
    return route_ops(link, op, 1, 0);
}

static int cluster_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    kve_cluster_link_t *link = (void *)kv;

    if (!link->have_map)
        return KVE_EUNAVAIL;
    for (size_t i = 0; i != n; ++i)
        kve_kv__own_command(ops + i);
    return route_ops(link, ops, n, 1);
}

/* --- redirections (from a node's link, inside its reply callback) --- */

static void redirect_failed(kve_cluster_link_t *link, kve_kv_op_t *ops, size_t n, const kve_kv_reply_t *reply, const char *why)
{
    uint64_t now = h2o_now(link->super.loop);

    if (now - link->logged_down_at >= 1000) { /* one line a second at most: a failover sends many */
        kve_log(KVE_LOG_WARN, "redis", "%s: %s (%.*s); answered 503", link->super.peer, why, (int)KVE_MIN(reply->len, 80),
                reply->str);
        link->logged_down_at = now;
    }
    want_refresh(link);
    complete_all(ops, n, KVE_EUNAVAIL);
}

/* the slot of an op (or of a transaction's keyed ops): -1 when keyless or refused */
static int ops_slot(kve_kv_op_t *ops, size_t n)
{
    kve_cluster_route_t r;
    const char *why;
    int slot;

    if (n == 1) {
        kve_cluster_classify(ops->cmd, 0, &r);
        return r.dest == KVE_CLUSTER_TO_SLOT ? r.slot : -1;
    }
    return atomic_slot(ops, n, &slot, &why) == 0 ? slot : -1;
}

/* an error reply that is not Redis Cluster's: the op's answer (a transaction's abort reason) */
static void answer_as_is(kve_kv_op_t *ops, size_t n, int atomic, const kve_kv_reply_t *reply)
{
    if (!atomic) {
        kve_kv__complete(ops, 0, reply);
        return;
    }
    kve_kv__set_abort_reply(ops[0].batch, reply);
    complete_all(ops, n, KVE_EABORTED);
}

static void redirect_ops(node_t *from, kve_kv_op_t *ops, size_t n, int atomic, const kve_kv_reply_t *reply)
{
    kve_cluster_link_t *link = from->link;
    kve_cluster_redirect_t to;
    node_t *node;
    int kind, err;

    if (link->super.closing) {
        complete_all(ops, n, KVE_ESHUTDOWN);
        return;
    }
    /* TRYAGAIN: a migration's multi-key moment, soon over; READONLY: a write reached a node that is a replica now (a
     * failover): the map names the new primary soon */
    if ((reply->len >= 8 && memcmp(reply->str, "TRYAGAIN", 8) == 0) ||
        (reply->len >= 8 && memcmp(reply->str, "READONLY", 8) == 0)) {
        if (reply->str[0] == 'R')
            want_refresh(link);
        if (++ops[0].redirects > MAX_TRYAGAIN) {
            redirect_failed(link, ops, n, reply, reply->str[0] == 'R' ? "no primary for the slot" : "a slot stays in migration");
        } else {
            KVE_STAT_ADD(link->super.stats->redirects, n);
            retry_later(link, ops, n, atomic);
        }
        return;
    }
    kind = kve_cluster_parse_redirect(reply->str, reply->len, &to);
    if (kind != KVE_CLUSTER_NOT_REDIRECT && ops_slot(ops, n) != (int)to.slot) {
        /* Redis redirects a command for its keys' slot only: this one is a script's own error text (redis.error_reply),
         * the caller's answer, never a reason to touch the map or connect anywhere */
        answer_as_is(ops, n, atomic, reply);
        return;
    }
    if (kind == KVE_CLUSTER_NOT_REDIRECT) { /* CLUSTERDOWN: a shard without a primary, no failover yet */
        /* or this node is cut off from the majority, which may have promoted another primary: ask the others */
        from->distrust_until = h2o_now(link->super.loop) + DISTRUST_MS;
        redirect_failed(link, ops, n, reply, "the cluster is down or failing over");
        return;
    }
    if (++ops[0].redirects > MAX_REDIRECTS) {
        redirect_failed(link, ops, n, reply, "too many redirections");
        return;
    }
    KVE_STAT_ADD(link->super.stats->redirects, n);
    if ((node = find_node(link, to.host[0] != '\0' ? to.host : from->host, to.port)) == NULL) {
        /* a node this link never heard of: only a map (asked now) adds nodes, so a node cannot make kvedge connect (and
         * authenticate) anywhere it likes; the op goes where the new map says */
        want_refresh(link);
        retry_later(link, ops, n, atomic);
        return;
    }
    if (kind == KVE_CLUSTER_MOVED) {
        for (size_t i = 0; i != link->num_nodes; ++i)
            if (link->nodes[i] == node)
                link->slot[to.slot] = (uint16_t)(i + 1);
        link->shards_dirty = 1;
        want_refresh(link);
    }
    if ((err = send_ops(link, node, ops, n, atomic, kind == KVE_CLUSTER_ASK)) != 0)
        complete_all(ops, n, err);
}

static void on_redirect(void *data, kve_kv_op_t *op, const kve_kv_reply_t *reply)
{
    redirect_ops(data, op, 1, 0, reply);
}

static void on_redirect_atomic(void *data, kve_kv_op_t *ops, size_t n, const kve_kv_reply_t *reply)
{
    redirect_ops(data, ops, n, 1, reply);
}

/* --- min_replicas_ack: every primary the batch wrote on waits for its replicas (kv_ack.h) --- */

typedef struct st_ack_wait_t {
    kve_kv_batch_t *batch;
    size_t remaining;
    int err;
} ack_wait_t;

static void on_node_acked(void *data, int err)
{
    ack_wait_t *w = data;

    if (err != 0)
        w->err = err;
    if (--w->remaining != 0)
        return;
    kve_kv__ack_done(w->batch, w->err);
    free(w);
}

/* the primaries the batch's writes went to (as the map says now: a slot that moved since asks its new owner, which
 * has the write or answers MOVED to the marker) */
static size_t written_nodes(kve_cluster_link_t *link, kve_kv_batch_t *b, node_t **out)
{
    size_t n = 0;

    shards_fresh(link);
    for (size_t i = 0; i != b->n; ++i) {
        kve_cluster_route_t r;
        node_t *one = NULL;
        int all = 0;
        if ((b->ops[i].cmd->flags & KVE_KV_CMD_READ_ONLY) != 0)
            continue;
        kve_cluster_classify(b->ops[i].cmd, 0, &r);
        if (r.dest == KVE_CLUSTER_TO_SLOT)
            one = slot_node(link, (unsigned)r.slot);
        else if (r.dest == KVE_CLUSTER_TO_ALL_OK)
            all = 1; /* FLUSHDB, SCRIPT LOAD: every primary */
        for (size_t s = 0; s != link->num_shards; ++s) {
            node_t *node = link->nodes[link->shards[s].node];
            size_t j;
            if (!all && node != one)
                continue;
            for (j = 0; j != n && out[j] != node; ++j)
                ;
            if (j == n)
                out[n++] = node;
        }
    }
    return n;
}

/* the node's marker key is in the first slot it serves now */
static void node_marker(kve_cluster_link_t *link, node_t *node)
{
    char tag[KVE_SLOT_TAG_MAX];
    int first = -1;

    for (size_t s = 0; s != link->num_shards && first < 0; ++s)
        if (link->nodes[link->shards[s].node] == node)
            first = (int)link->shards[s].first_slot;
    if (first < 0 || first == node->marker_slot)
        return;
    kve_slot_tag((unsigned)first, tag);
    snprintf(node->marker, sizeof(node->marker), "__kvedge:ack:{%s}", tag);
    node->marker_slot = first;
    kve_kv_ack_set_marker(node->ack, node->marker, strlen(node->marker));
}

static int cluster_ack(kve_kv_t *kv, kve_kv_batch_t *b)
{
    kve_cluster_link_t *link = (void *)kv;
    node_t *nodes[KVE_CLUSTER_MAX_SHARDS];
    size_t n;
    ack_wait_t *w;

    if (link->conf->min_replicas_ack == 0 || (n = written_nodes(link, b, nodes)) == 0)
        return -1;
    w = kve_malloc(sizeof(*w));
    *w = (ack_wait_t){.batch = b, .remaining = n};
    for (size_t i = 0; i != n; ++i) {
        if (nodes[i]->ack == NULL)
            nodes[i]->ack = kve_kv_ack_create(kv->loop, &nodes[i]->ack_target, link->conf);
        node_marker(link, nodes[i]);
        kve_kv_ack_wait_cb(nodes[i]->ack, b, on_node_acked, w);
    }
    return 0;
}

/* --- the rest of the driver --- */

/* a batch timed out: a node may hang (stopped, partitioned) and the cluster may have failed it over; the next map says
 * (each node's link breaks on its own connection failures; a batch here spans nodes) */
static void cluster_on_timeout(kve_kv_t *kv)
{
    want_refresh((kve_cluster_link_t *)kv);
}

static void cluster_on_reply(kve_kv_t *kv)
{
}

static kve_kv_stream_t *cluster_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                            kve_kv_stream_cb cb, void *data, int *err)
{
    kve_cluster_link_t *link = (void *)kv;
    node_t *node = link->have_map ? slot_node(link, KVE_CLUSTER_PUBLISH_SLOT) : NULL;
    kve_kv_t *nkv;

    if (node == NULL && link->have_map)
        node = any_node(link);

    if (node == NULL) {
        *err = KVE_EUNAVAIL;
        return NULL;
    }
    /* PUBLISH reaches every node of a cluster, so any primary serves a subscription; the one every PUBLISH of kvedge goes
     * to (cluster_route.h) delivers its messages without the bus, and PUBLISH's count includes its subscribers */
    nkv = node_kv(node);
    return nkv->driver->stream_open(nkv, argc, argv, argvlen, cb, data, err);
}

static void cluster_kill_script(kve_kv_t *kv, int kind)
{
    kve_cluster_link_t *link = (void *)kv;
    for (size_t i = 0; i != link->num_nodes; ++i)
        if (link->nodes[i]->kv != NULL && link->nodes[i]->kv->driver->kill_script != NULL)
            link->nodes[i]->kv->driver->kill_script(link->nodes[i]->kv, kind);
}

static void later_shutdown(later_list_t *list)
{
    later_list_t l = *list;
    *list = (later_list_t){NULL};
    for (size_t i = 0; i != l.size; ++i)
        complete_all(l.entries[i].ops, l.entries[i].n, KVE_ESHUTDOWN);
    free(l.entries);
}

static void cluster_destroy(kve_kv_t *kv)
{
    kve_cluster_link_t *link = (void *)kv;

    kve_cluster__fanout_shutdown(link);
    if (link->refresh != NULL)
        kve_kv_batch_cancel(link->refresh);
    link->refresh = NULL;
    later_shutdown(&link->refusals);
    later_shutdown(&link->retries);
    for (size_t i = 0; i != link->num_nodes; ++i) /* the batches waiting for acknowledgements: KVE_ENOACK */
        if (link->nodes[i]->ack != NULL)
            kve_kv_ack_destroy(link->nodes[i]->ack);
    for (size_t i = 0; i != link->num_nodes; ++i) /* each fails what it holds, this link's ops included */
        if (link->nodes[i]->kv != NULL)
            kve_kv_destroy(link->nodes[i]->kv);
    for (size_t i = 0; i != link->num_nodes; ++i)
        node_free(link->nodes[i]);
    h2o_timeout_entry_t *entries[] = {&link->tick_entry, &link->zero_entry, &link->retry_entry};
    for (size_t i = 0; i != sizeof(entries) / sizeof(entries[0]); ++i)
        if (h2o_timeout_is_linked(entries[i]))
            h2o_timeout_unlink(entries[i]);
    h2o_timeout_dispose(kv->loop, &link->tick);
    h2o_timeout_dispose(kv->loop, &link->zero);
    h2o_timeout_dispose(kv->loop, &link->retry);
    free(link->scratch);
    kve_kv__dispose(kv);
    free(link);
}

static const kve_kv_driver_t cluster_driver = {.name = "redis-cluster",
                                               .send = cluster_send,
                                               .send_atomic = cluster_send_atomic,
                                               .on_timeout = cluster_on_timeout,
                                               .on_reply = cluster_on_reply,
                                               .destroy = cluster_destroy,
                                               .stream_open = cluster_stream_open,
                                               .kill_script = cluster_kill_script,
                                               .ack = cluster_ack};

/* --- for the fan-outs (kv_cluster_internal.h) --- */

size_t kve_cluster__shards(kve_cluster_link_t *link, kve_cluster_shard_t *out, size_t max)
{
    size_t n = 0;

    if (!link->have_map)
        return 0;
    shards_fresh(link);
    for (; n != link->num_shards && n != max; ++n)
        out[n] = (kve_cluster_shard_t){link->shards[n].first_slot, node_kv(link->nodes[link->shards[n].node])};
    return n;
}

kve_kv_t *kve_cluster__slot_link(kve_cluster_link_t *link, unsigned slot)
{
    node_t *node = slot < KVE_SLOT_COUNT ? slot_node(link, slot) : NULL;
    return node != NULL ? node_kv(node) : NULL;
}

int kve_cluster__is_first_slot(kve_cluster_link_t *link, unsigned slot)
{
    shards_fresh(link);
    for (size_t i = 0; i != link->num_shards; ++i)
        if (link->shards[i].first_slot == slot)
            return 1;
    return 0;
}

int kve_cluster__next_shard(kve_cluster_link_t *link, unsigned slot)
{
    shards_fresh(link);
    for (size_t i = 0; i + 1 < link->num_shards; ++i)
        if (link->shards[i].first_slot == slot)
            return (int)link->shards[i + 1].first_slot;
    return -1;
}

h2o_loop_t *kve_cluster__loop(kve_cluster_link_t *link)
{
    return link->super.loop;
}

struct st_kve_cluster_fanout_t **kve_cluster__fanouts(kve_cluster_link_t *link)
{
    return &link->fanouts;
}

kve_kv_t *kve_kv_cluster_create(h2o_loop_t *loop, const kve_redis_target_t *seeds, size_t n, const kve_redis_target_t *users,
                                const kve_redis_conf_t *conf, kve_kv_stats_t *stats)
{
    kve_cluster_link_t *link;

    KVE_ASSERT(n != 0 && n <= KVE_KV_MAX_CLUSTER_SEEDS);
    link = kve_zalloc(sizeof(*link));
    kve_kv__init(&link->super, &cluster_driver, loop, conf->command_timeout_ms);
    kve_kv__set_sharded(&link->super); /* handlers keep each transaction in one slot (the cache's store batches) */
    if (stats != NULL)
        kve_kv__use_stats(&link->super, stats);
    link->users = users;
    link->conf = conf;
    link->scratch = kve_malloc(sizeof(*link->scratch));
    for (size_t i = 0; i != n; ++i)
        if ((link->seeds[link->num_seeds] = add_node(link, seeds[i].host, seeds[i].port)) != NULL)
            ++link->num_seeds;
    snprintf(link->super.peer, sizeof(link->super.peer), "cluster at %s:%d%s%s%s%s%s", seeds[0].host, seeds[0].port,
             users->username != NULL ? " as " : "", users->username != NULL ? users->username : "",
             users->store != NULL ? " (store " : "", users->store != NULL ? users->store : "", users->store != NULL ? ")" : "");
    h2o_timeout_init(loop, &link->tick, TICK_MS);
    link->tick_entry.cb = on_tick;
    h2o_timeout_init(loop, &link->zero, 0);
    link->zero_entry.cb = on_zero;
    h2o_timeout_init(loop, &link->retry, RETRY_TICK_MS);
    link->retry_entry.cb = on_retry;
    kve_kv__set_state(&link->super, KVE_KV_CONNECTING);
    start_refresh(link);
    h2o_timeout_link(loop, &link->tick, &link->tick_entry);
    return &link->super;
}
