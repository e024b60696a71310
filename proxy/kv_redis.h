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
 * once (redis_limits.h). A link to a Redis Cluster node (target->redirect set) sends no SELECT and hands the
 * node's redirections and cluster errors to the cluster link (redis_target.h: redirect, redirect_atomic), which
 * answers ASK with kve_kv_redis_send_asking()/_atomic_asking() below. Only the driver's files (kv_redis*.c,
 * redis_*.c) and their unit tests include hiredis headers.
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

/**
 * Whether the link `kv` (made by kve_kv_redis_create) holds nothing: no command waiting for its reply (its own batches'
 * or ops another link handed to its driver), no stream open, no script kill under way, no ROLE owed. A link that is
 * idle can be destroyed without failing anyone's command (the cluster link closes the links of nodes that left the map).
 */
int kve_kv_redis_idle(kve_kv_t *kv);

struct st_kve_kv_op_t; /* kv_internal.h */

/**
 * For the cluster link (an ASK redirection: the op's slot is being imported by the node of `kv`, a link
 * kve_kv_redis_create made for a cluster node): queues ASKING immediately followed by `op`, as the driver's send()
 * would queue it (a script command counted for the watchdog). ASKING's +OK is consumed and dropped; an error reply to
 * it is logged at debug level and ignored (the op's own reply tells, e.g. MOVED). Returns 0 (the op is then the
 * link's until it completes it, or hands it to target->redirect), or, with nothing queued and the op still the
 * caller's, KVE_EUNAVAIL (no connection) or KVE_EAUTH (the store refused the credentials) or KVE_ECONN, as send().
 */
int kve_kv_redis_send_asking(kve_kv_t *kv, struct st_kve_kv_op_t *op);
/**
 * The same for a transaction (ops[0..n-1] of one atomic batch): ASKING, then MULTI, the commands, EXEC as the driver's
 * send_atomic() queues them (ASKING before MULTI holds through EXEC: measured on Redis 7.0). Return values and
 * ownership as send_atomic(): 0 (the ops are the link's until completed or handed to target->redirect_atomic), or a
 * KVE_E* with nothing queued.
 */
int kve_kv_redis_send_atomic_asking(kve_kv_t *kv, struct st_kve_kv_op_t *ops, size_t n);

#endif
