/* SPDX-License-Identifier: MIT */
/*
 * The Redis driver of the KV interface: one hiredis async connection per worker thread, bound to h2o's
 * evloop by our own adapter (h2o-notes §5: Debian's libuv adapter never notices a dead peer), pipelining
 * every command of the thread on that connection. It connects with a timeout, authenticates (password
 * or ACL user), selects the database and PINGs before it calls itself up; it reconnects with exponential
 * backoff and rebuilds the connection after `breaker_threshold` timeouts in a row (a stopped or hung
 * server; a group of commands counts once, and only a reply to a caller still waiting resets the count),
 * or at once when a reply comes that no command waits for (the connection is out of step), failing
 * commands fast while it is down. Replies are held to each command's max_reply_size while they are read
 * (redis_reply.h). Against an external Redis, the first link up checks the server's output buffer limit
 * once (redis_limits.h). Only the driver's files (kv_redis*.c, redis_*.c) and their unit tests include
 * hiredis headers.
 */
#ifndef KVE_PROXY_KV_REDIS_H
#define KVE_PROXY_KV_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/kv.h"
#include "proxy/redis_target.h"

/**
 * Creates a link on `loop` and starts connecting. `target` is borrowed and must outlive the link (and its
 * streams); `conf` is only read during the call. The link is usable at once: commands sent while
 * connecting are queued behind the handshake. `stats` (may be NULL: the link keeps its own): where the link writes
 * its counters, borrowed and outliving the link, so other threads can read them with kve_kv_stats_read() even
 * while the link is destroyed.
 */
kve_kv_t *kve_kv_redis_create(h2o_loop_t *loop, const kve_redis_target_t *target, const kve_redis_conf_t *conf,
                              kve_kv_stats_t *stats);

/**
 * From now on, each batch on `kv` (a link kve_kv_redis_create made) that asks for the sync position
 * (KVE_KV_BATCH_SYNC) gets a ROLE of its own, written right after its commands, instead of sharing the one ROLE
 * of the loop iteration: its position is then that of its own writes (and of what was sent before them), so
 * consecutive writes get distinct positions. For the primary of a replicas topology (kv_replicas.h), whose
 * replicas can then serve a read as soon as they have the writes its token names.
 */
void kve_kv_redis_role_per_batch(kve_kv_t *kv);

#endif
