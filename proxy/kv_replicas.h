/* SPDX-License-Identifier: MIT */
/*
 * The replicas topology of the Redis driver: one link of the KV interface (proxy/kv.h) over a primary and a static
 * list of its replicas, each reached by an ordinary Redis link (kv_redis.h) on the same thread.
 *
 * Routing is decided per batch, once, before anything is sent (the batch's commands stay together on one
 * connection, so a batch keeps its order and pays for one ROLE):
 * - a batch with a command that is not flagged KVE_KV_CMD_READ_ONLY or whose min_sync is 0 (a caller that names no
 *   position keeps kv.h's order: the cache's lookup after a store or a purge, a session read after a logout), a
 *   transaction (KVE_KV_BATCH_ATOMIC), a batch
 *   that asks for the sync position (KVE_KV_BATCH_SYNC) or is KVE_KV_BATCH_ORDERED, one that runs a script, or one
 *   with more commands than its window runs on the primary's link, exactly as on a standalone store;
 * - any other batch (reads only) goes to the next replica, round robin, skipping a replica whose link is not up or
 *   which answered recently that it is not linked to its primary or still loading: ROLE is written in front of the
 *   batch's commands on that replica's connection (one write). When ROLE says the replica is linked
 *   (`connected`) and its replication offset is at least the highest min_sync of the batch, the replies that
 *   follow are the batch's (the replica ran ROLE first, so they see every write up to that offset). Otherwise the
 *   batch's commands go to the primary at once, the replica's replies are dropped (no polling, no waiting); a
 *   replica that fails a command (connection lost, -LOADING, no answer within half the batch's timeout) hands the
 *   rest of the batch to the primary the same way (they only read: sending them again is safe), and is skipped for
 *   a while.
 * With no healthy replica everything goes to the primary. kv.h's order holds: a read goes to a replica only when
 * it names the position of the writes it must see.
 */
#ifndef KVE_PROXY_KV_REPLICAS_H
#define KVE_PROXY_KV_REPLICAS_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/kv.h"
#include "proxy/redis_target.h"

/** Most replicas one store may list. */
#define KVE_KV_MAX_REPLICAS 16

/**
 * The counters of one node (the primary or a replica) as seen by the links of one thread, written by the owning
 * thread with relaxed atomics and read by others (the metrics) with kve_kv_stats_read and relaxed loads.
 */
typedef struct st_kve_kv_node_stats_t {
    /** a replica: its link's counters (ROLE probes included); the primary: unused (it writes the store's block) */
    kve_kv_stats_t link;
    /** read-only commands this node answered for callers */
    uint64_t reads;
    /** a replica: batches sent to it that went to the primary (behind the sync position, not linked, loading, down) */
    uint64_t fallbacks;
} kve_kv_node_stats_t;

/**
 * Creates the link on `loop`: the primary's link (target `primary`, counters into `stats`, which the whole link
 * writes, as a standalone link does) and one per replica (`replicas[0..n-1]`, 1 <= n <= KVE_KV_MAX_REPLICAS,
 * counters into nodes[1 + i].link). `nodes` has n + 1 entries ([0] the primary) and, like the targets, is borrowed
 * and must outlive the link; `conf` is read during the call only.
 */
kve_kv_t *kve_kv_replicas_create(h2o_loop_t *loop, const kve_redis_target_t *primary, const kve_redis_target_t *replicas, size_t n,
                                 const kve_redis_conf_t *conf, kve_kv_stats_t *stats, kve_kv_node_stats_t *nodes);

#endif
