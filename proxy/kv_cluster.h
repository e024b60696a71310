/* SPDX-License-Identifier: MIT */
/*
 * The Redis Cluster topology of the Redis driver (docs/scale-out.md, "Cluster"): one link of the KV interface
 * (proxy/kv.h) over every primary of a cluster, on one thread.
 *
 * The link keeps a slot map (CLUSTER SHARDS, or CLUSTER SLOTS on a Redis without it: proxy/cluster_reply.h), asked of
 * a seed at start and then of a node of the map: after a redirection or a failure to reach a node (at most once per
 * 100 ms) and every 10 s. Each primary is an ordinary Redis link (kv_redis.h), made on the first command for it, whose
 * connection hands -MOVED, -ASK, -TRYAGAIN, -CLUSTERDOWN and -READONLY back to this link (kve_redis_target_t.redirect).
 * Every command goes to the primary of its keys' slot (proxy/cluster_route.h: kve_cluster_classify): a batch is split
 * per node as it is sent and kv.c merges the replies back in order. A command whose keys are in several slots is
 * answered with Redis' CROSSSLOT error without being sent, and so is a transaction (every op KVE_EABORTED, nothing
 * sent). Keyless commands go to any primary, or to all of them (kv_cluster_fanout.c). Reads from replicas: not yet
 * (every read goes to a primary, which has every write it acknowledged: read-your-writes without sync positions; the
 * link reports none, so the KV API's sync tokens are kvedge's own sequence).
 * Redirections: MOVED fixes the slot in the map and sends the command there (at most 5 redirections per command;
 * a MOVED or ASK to a node no map named yet waits for a new map instead: only a map adds nodes);
 * ASK sends ASKING and the command to the importing node; TRYAGAIN sends it again after 10, 20, 40... ms (8 times at
 * most); CLUSTERDOWN and READONLY fail the command with KVE_EUNAVAIL (503) and ask for a new map.
 * Until the first map came, every batch fails at once with KVE_EUNAVAIL (the link's state is CONNECTING).
 */
#ifndef KVE_PROXY_KV_CLUSTER_H
#define KVE_PROXY_KV_CLUSTER_H

#include <stddef.h>
#include "h2o.h"
#include "proxy/kv.h"
#include "proxy/redis_target.h"

/** Most seed nodes one store may list. */
#define KVE_KV_MAX_CLUSTER_SEEDS 16

/**
 * Creates the link on `loop`. `seeds[0..n-1]` (1 <= n <= KVE_KV_MAX_CLUSTER_SEEDS): the seed nodes' resolved addresses
 * (host and port only are read; borrowed, outliving the link). `users` (borrowed, outliving the link): every node's
 * user and password, role, store names and ACL lists (its address is not used: the map gives them). `conf` (borrowed,
 * outliving the link): timeouts, breaker. The link's counters go into `stats` (the store's block); the state is
 * CONNECTING until the first map, then UP.
 */
kve_kv_t *kve_kv_cluster_create(h2o_loop_t *loop, const kve_redis_target_t *seeds, size_t n, const kve_redis_target_t *users,
                                const kve_redis_conf_t *conf, kve_kv_stats_t *stats);

#endif
