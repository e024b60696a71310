/* SPDX-License-Identifier: MIT */
/*
 * min_replicas_ack: a store's writes are confirmed by its replicas before the caller hears they succeeded
 * (KVE_KV_BATCH_ACK, kv.h). One waiter per Redis link that needs it (the read-write link of a store with the option),
 * made on the first batch that asks, with a connection of its own to the same primary (the "wait link").
 *
 * Why not WAIT on the writes' own connection, and why not WAIT alone on another one. Redis' WAIT counts the replicas
 * whose acknowledged offset reached the offset of the last write *of the connection WAIT runs on* (the client's
 * woff). On the pipelined connection that carries every request of a thread, WAIT would block that connection (and
 * every read queued behind it) for a replica round trip on every write, and for the whole timeout whenever a replica
 * is missing. On a connection that never wrote, WAIT answers at once with every linked replica, whatever they have:
 * measured on Redis 7.0.15 with the replica stopped (SIGSTOP), SET on one connection then WAIT 1 200 on another
 * answered 1 in 50 us. So the wait link first writes something of its own that reaches the replication stream
 * without touching the keyspace: PUBLISH on a channel of kvedge's (KVE_KV_ACK_CHANNEL; Redis replicates PUBLISH to
 * replicas outside cluster mode). Sent only once the batch's replies came back (its writes ran), the PUBLISH runs
 * after them, so the wait link's woff is at least their offset, and `WAIT N timeout` right behind it counts exactly
 * the replicas that have them (measured: 0 with the replica stopped, 1 in 100-200 us once it runs).
 *
 * Batches are grouped: one PUBLISH + WAIT (a "round") is in flight at a time; the batches whose writes finish while
 * it is out wait for the next one, which starts as soon as it answers. So a thread sends at most one WAIT per
 * replica round trip however many writes it serves, and a blocked WAIT (a replica down) never queues another behind
 * it. Each batch has its own deadline, min_replicas_ack_timeout after its writes were answered: at the deadline it is
 * answered KVE_ENOACK whatever its round does (Redis times WAIT out only at its `hz` tick, up to 100 ms late).
 *
 * What it does not do: roll back. A write that got KVE_ENOACK was applied on the primary and may still reach the
 * replicas, or be lost in a failover.
 */
#ifndef KVE_PROXY_KV_ACK_H
#define KVE_PROXY_KV_ACK_H

#include "h2o.h"
#include "proxy/kv_internal.h"
#include "proxy/redis_target.h"

/** The channel the wait link publishes on (subscribers of it, or of a pattern that matches it, see its messages). */
#define KVE_KV_ACK_CHANNEL "__kvedge:ack"

typedef struct st_kve_kv_ack_t kve_kv_ack_t;

/**
 * A waiter on `loop` for writes to the primary `target` (borrowed: must outlive the waiter): it opens its wait link
 * with `conf` (read during the call; conf->min_replicas_ack >= 1 replicas, within conf->min_replicas_ack_timeout_ms).
 */
kve_kv_ack_t *kve_kv_ack_create(h2o_loop_t *loop, const kve_redis_target_t *target, const kve_redis_conf_t *conf);

/**
 * Every command of `batch` was answered: confirms its writes; answers with kve_kv__ack_done(batch, 0 or KVE_ENOACK)
 * from the event loop, never from here, at the latest min_replicas_ack_timeout from now.
 */
void kve_kv_ack_wait(kve_kv_ack_t *ack, kve_kv_batch_t *batch);

/**
 * The same, for a caller that waits on several waiters for one batch (a cluster store: one per primary it wrote on):
 * `cb(data, 0 or KVE_ENOACK)` runs once instead of kve_kv__ack_done (from the event loop, never from here, or from
 * kve_kv_ack_destroy).
 */
void kve_kv_ack_wait_cb(kve_kv_ack_t *ack, kve_kv_batch_t *batch, void (*cb)(void *data, int err), void *data);

/**
 * A cluster node's marker (see above: PUBLISH does not move a cluster primary's replication offset, measured): from
 * the next round on, the wait link writes `SET <key> 1 PX 1000` instead of PUBLISH, `key` (copied, at most 64 bytes)
 * a key of kvedge's in a slot the node serves. A MOVED answer (the slot moved) fails that round (KVE_ENOACK).
 */
void kve_kv_ack_set_marker(kve_kv_ack_t *ack, const char *key, size_t len);

/** Whether no batch waits on `ack` (nothing would be answered KVE_ENOACK by destroying it). */
int kve_kv_ack_idle(const kve_kv_ack_t *ack);

/** Answers every batch still waiting (KVE_ENOACK: their writes were applied, unconfirmed), closes the wait link, frees `ack`. */
void kve_kv_ack_destroy(kve_kv_ack_t *ack);

/**
 * Reads a WAIT reply: 1 when it is an integer at least `wanted` (*acked set to it), 0 when it is a smaller integer
 * (*acked set), -1 when it is not an integer at all (an error reply: *acked 0). Pure; unit-tested.
 */
int kve_kv_ack_parse(const kve_kv_reply_t *reply, unsigned wanted, long long *acked);

#endif
