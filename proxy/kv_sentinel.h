/* SPDX-License-Identifier: MIT */
/*
 * The sentinel topology of the Redis driver: one link of the KV interface (proxy/kv.h) whose primary and replicas
 * come from Sentinel, on one thread.
 *
 * The link keeps a connection to one sentinel at a time (the configured ones in turn: a sentinel that does not answer,
 * does not know the master or drops the subscription hands over to the next) and asks it
 * `SENTINEL get-master-addr-by-name <master>` and `SENTINEL replicas <master>` (replicas flagged s_down, o_down or
 * disconnected are left out). With the answer it builds a *generation*: a replicas link (kv_replicas.h) over the primary
 * and those replicas (a plain Redis link when there are none), whose primary's connection checks ROLE in its handshake
 * (kve_redis_target_t.require_master): it comes up only when the node says `master`. So a write goes to a node only
 * when both the sentinel's current view and the node itself say it is the primary.
 *
 * It rediscovers (asks again) when `+switch-master` for the master comes on its subscription (SUBSCRIBE on the
 * sentinel), when the primary's connection goes down for any reason (the node died, ROLE said it is not a master,
 * a command got -READONLY or -LOADING: kv_redis.c drops the connection then), and every few seconds; a
 * generation whose primary went down is destroyed, never reconnected on its own: the next connection is to the address
 * the sentinel gives then. While there is no primary that is up, every batch fails at once with KVE_EUNAVAIL (503),
 * never waiting. The replicas of a generation stay until the primary changes (or goes down).
 *
 * Subscriptions of callers (kve_kv_stream_open) are refused with KVE_ENOTSUP on this link (a generation may go at any
 * moment; not done yet).
 */
#ifndef KVE_PROXY_KV_SENTINEL_H
#define KVE_PROXY_KV_SENTINEL_H

#include <stddef.h>
#include "h2o.h"
#include "proxy/kv.h"
#include "proxy/redis_target.h"

/** Most sentinels one store may list. */
#define KVE_KV_MAX_SENTINELS 16

/**
 * Creates the link on `loop`. `sentinels[0..n-1]` (1 <= n <= KVE_KV_MAX_SENTINELS): where the sentinels are (their own
 * credentials; borrowed, outliving the link). `data` (borrowed, outliving the link): the data nodes' users, role,
 * store names and ACL lists (no host: the sentinel says where). `conf` (borrowed, outliving the link: each generation
 * is made with it) names the master (conf->sentinel.master) and the database. The store's counters go into `stats`,
 * as on a standalone link (the state is the current primary's connection).
 */
kve_kv_t *kve_kv_sentinel_create(h2o_loop_t *loop, const kve_redis_target_t *sentinels, size_t n, const kve_redis_target_t *data,
                                 const kve_redis_conf_t *conf, kve_kv_stats_t *stats);

#endif
