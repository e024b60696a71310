/* SPDX-License-Identifier: MIT */
/*
 * What the cluster link (kv_cluster.c) shares with its keyless fan-outs (kv_cluster_fanout.c): the shards of the
 * current slot map and their primaries' links. Not for handlers. All of it runs on the link's thread.
 */
#ifndef KVE_PROXY_KV_CLUSTER_INTERNAL_H
#define KVE_PROXY_KV_CLUSTER_INTERNAL_H

#include "proxy/cluster_reply.h"
#include "proxy/cluster_route.h"
#include "proxy/kv_internal.h"

typedef struct st_kve_cluster_link_t kve_cluster_link_t;

/** The most shards (primaries that serve slots) a map has: every one of them serves at least one slot. */
#define KVE_CLUSTER_MAX_SHARDS KVE_CLUSTER_MAX_NODES

/** One shard of the current map: the first slot its primary serves and that primary's link (made on first use). */
typedef struct st_kve_cluster_shard_t {
    unsigned first_slot;
    kve_kv_t *kv;
} kve_cluster_shard_t;

/**
 * The shards of the current map in order of their first slot, at most `max` of them into `out` (links created as
 * needed); returns how many. 0 before the first map came (the caller answers KVE_EUNAVAIL).
 */
size_t kve_cluster__shards(kve_cluster_link_t *link, kve_cluster_shard_t *out, size_t max);

/** The link of the primary that serves `slot` now (made on first use), or NULL when the map has no node for it. */
kve_kv_t *kve_cluster__slot_link(kve_cluster_link_t *link, unsigned slot);

/** Whether `slot` is the first slot of a shard in the current map (a SCAN cursor names one). */
int kve_cluster__is_first_slot(kve_cluster_link_t *link, unsigned slot);

/** The first slot of the shard after the one whose first slot is `slot`, or -1 when it is the last. */
int kve_cluster__next_shard(kve_cluster_link_t *link, unsigned slot);

/** The link's loop (for timers) and the batch timeout it uses for its own sub-batches. */
h2o_loop_t *kve_cluster__loop(kve_cluster_link_t *link);

/**
 * Runs `op`, a keyless command that `route` (kve_cluster_classify) sends to several primaries or to a shard chosen by
 * its cursor (dest KVE_CLUSTER_TO_ALL_*, KVE_CLUSTER_SCAN, KVE_CLUSTER_RANDOM), as sub-batches on the primaries' links
 * (kve_kv_batch, copying the command), and completes it once with the combined reply (kve_kv__complete), never from
 * inside this call. Returns 0, or a KVE_E* when nothing was sent (then nothing is called back and the caller
 * completes the op). The op's batch stays valid until the op is completed (kv.c's contract).
 */
int kve_cluster__fanout(kve_cluster_link_t *link, kve_kv_op_t *op, const kve_cluster_route_t *route);

/**
 * The link is being destroyed: every fan-out in flight completes its op with KVE_ESHUTDOWN now (their sub-batches are
 * cancelled), before the primaries' links go.
 */
void kve_cluster__fanout_shutdown(kve_cluster_link_t *link);

/** The fan-outs in flight of a link (kv_cluster_fanout.c's list head, kept in the link). */
struct st_kve_cluster_fanout_t;
struct st_kve_cluster_fanout_t **kve_cluster__fanouts(kve_cluster_link_t *link);

#endif
