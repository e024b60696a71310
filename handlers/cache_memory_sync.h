/* SPDX-License-Identifier: MIT */
/*
 * Keeping the memory tiers (handlers/cache_memory.h) coherent across instances that share a store.
 *
 * Every eviction an instance makes because of an invalidation or a purge is also published on the store's channel
 * KVE_CACHE_MEM_CHANNEL (PUBLISH through proxy/kv.h), and every instance with a memory tier on that store keeps one
 * subscription to it (one stream per process and store, opened by the first request of a memory route, on that
 * request's thread; reopened a second after it fails) and evicts what each message names:
 *   "k <32 hex>"  one primary key (the URL's object, or its variant index and every variant), in every route of
 *                 the store;
 *   "r <path>"    everything of the route registered at <path> (instances are expected to share the configuration);
 *   "a"           everything of every route of the store.
 * A tier takes objects only while its process is subscribed: before the subscription is confirmed, and from the
 * moment the stream fails until it is confirmed again, its tier is empty and refuses inserts (lookups go to the
 * store), so a message can only be missed while it is up (a PUBLISH that fails, the store's pub/sub dropping a
 * message): a missed message leaves an object in another instance's memory for at most its remaining freshness
 * (the memory tier never serves an object past it, and the store already lost it).
 *
 * Functions for the purge endpoints (run on a worker thread, with the link to the store of that thread): each
 * evicts locally at once and publishes. Call them once the store's deletion has completed (from its batch's
 * on_done), so that no instance refills its memory from keys about to be deleted; or, for one key, put the message
 * of kve_cache_mem_evict_key_local() in the deleting batch after the DEL, as the unsafe-method invalidation does. A
 * tag purge cannot name the keys it drops in memory: it evicts the route's (or the store's) whole memory, simple
 * and correct (memory refills from the store).
 */
#ifndef KVE_HANDLERS_CACHE_MEMORY_SYNC_H
#define KVE_HANDLERS_CACHE_MEMORY_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache.h"
#include "handlers/cache_key.h"
#include "handlers/cache_memory.h"
#include "proxy/server.h"

/** The channel of a store that carries memory evictions. */
#define KVE_CACHE_MEM_CHANNEL "kvc1:mem"

/** A route's place in the registry (opaque). */
typedef struct st_kve_cache_mem_route_t kve_cache_mem_route_t;

/**
 * The configuration generation the next registrations belong to (main thread, before registering a configuration's
 * paths): each generation's routes get their own subscription per store, owned by one of its threads, so a reload's
 * new routes do not lean on the old generation's, which ends with its threads.
 */
void kve_cache_mem_set_generation(unsigned generation);
/**
 * Creates the memory tier of the route at `path` (conf->memory bytes, > 0) and registers it with the store's
 * subscription. Configuration time, one thread. `conf` and `path` are borrowed and outlive the route.
 */
kve_cache_mem_route_t *kve_cache_mem_route_register(const kve_cache_conf_t *conf, h2o_iovec_t path);

/** Unregisters and frees the route's tier (the server's configuration is being disposed; no worker runs). */
void kve_cache_mem_route_dispose(kve_cache_mem_route_t *route);

/** The route's tier. */
kve_cache_mem_t *kve_cache_mem_route_tier(kve_cache_mem_route_t *route);

/** Opens the store's subscription on `thread` if no thread has yet (cheap once it has: one atomic load). */
void kve_cache_mem_route_start(kve_cache_mem_route_t *route, kve_thread_t *thread);

/* --- evictions (any worker thread; each evicts here and publishes on the store) --- */

/** Bytes of a "k <hex>" message. */
#define KVE_CACHE_MEM_KEY_MSG_LEN (2 + KVE_CACHE_HASH_HEX)

/**
 * Evicts one primary key in this process's memory tiers on store `store_id`, and writes the message to publish into
 * `msg`; returns 0 (nothing to do, nothing to publish) when the process has no memory tier on that store, else 1.
 * For a caller that publishes `msg` itself, in the batch that deletes the keys (after the DEL: every instance then
 * evicts once the store no longer has the object, this one too).
 */
int kve_cache_mem_evict_key_local(size_t store_id, const uint8_t primary[KVE_CACHE_HASH_LEN], char msg[KVE_CACHE_MEM_KEY_MSG_LEN]);

/** One primary key in every memory tier on store `store_id` (a URL purge). */
void kve_cache_mem_evict_key(kve_thread_t *thread, size_t store_id, const uint8_t primary[KVE_CACHE_HASH_LEN]);

/** Everything in the memory tier of the route with cache configuration `conf` (a route purge, a tag purge). */
void kve_cache_mem_evict_route(kve_thread_t *thread, const kve_cache_conf_t *conf);

/** Everything in every memory tier on store `store_id` (purge everything; a tag purge across routes). */
void kve_cache_mem_evict_store(kve_thread_t *thread, size_t store_id);

/** Copies the counters of the memory tier of the route with cache configuration `conf` (for metrics). Returns 0, or
 * -1 when the route has no memory tier. Any thread. */
int kve_cache_mem_route_stats(const kve_cache_conf_t *conf, kve_cache_mem_stats_t *out);

/** Applies a message received on the channel of store `store_id` (exposed for the unit tests). Returns 0 or -1. */
int kve_cache_mem_apply_message(size_t store_id, const char *msg, size_t len);

#endif
