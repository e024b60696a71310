/* SPDX-License-Identifier: MIT */
/*
 * The HTTP cache's optional in-process memory tier (`memory:` in a route's cache:): a bounded LRU of hot objects,
 * one per cached route (its own budget), shared by every worker thread. It sits in front of the store: a fresh
 * object found here is answered without reading the store; anything else (absent, stale, a request that wants
 * validation) takes the store path, which handles revalidation and stale serving. Never a source of truth: the
 * store is.
 *
 * Entries are keyed by the request's key (kve_cache_mem_key_t: bytes the cache handler derives from the request
 * that determine the primary key, see kve_cache__mem_key; found with a seeded fast hash and compared whole, so a
 * hit costs no SHA-256) and the variant's key (empty for a URL's own entries: the object of a URL whose responses do
 * not vary, or the variant index of one whose responses do: the bytes the store's variant hash is made of, so a
 * variant hit costs no SHA-256 either); each also carries the
 * primary key hash, by which invalidations find it (one primary key may have several entries: spellings of one URL
 * that normalise to one key). A URL whose responses vary has an index entry under (key, zeros) holding the
 * generation and the normalised Vary list, exactly like the store's "<P>:v" key; its variants hang off that index,
 * so evicting the index (LRU, invalidation) evicts its variants, and a variant is only taken when its index (same
 * generation) is there.
 *
 * Threads and lifetime. The tier is split into shards (by the encoding's hash), each with a mutex held only for a
 * hash probe and an LRU move; each shard holds 1/KVE_CACHE_MEM_SHARDS of the budget. Objects are immutable once built
 * and reference-counted: kve_cache_mem_lookup() returns a reference the caller gives back with
 * kve_cache_mem_release(), so an object being sent outlives its eviction. An object costs its block (headers, body,
 * strings) plus KVE_CACHE_MEM_OVERHEAD; one larger than a shard's budget is not kept.
 *
 * Races with invalidation. Every eviction by key, route or all bumps the tier's epoch; a caller reads the epoch
 * (kve_cache_mem_epoch) before it reads the store or sends a request upstream, and an insert with an older epoch
 * is refused, so an object read before an invalidation never enters the tier after it. Inserts are also refused
 * while the tier is not "live" (handlers/cache_memory_sync.h: while the process is not subscribed to the store's
 * invalidation channel, since a message it cannot hear would leave a purged object in memory).
 */
#ifndef KVE_HANDLERS_CACHE_MEMORY_H
#define KVE_HANDLERS_CACHE_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_freshness.h"
#include "handlers/cache_key.h"
#include "handlers/cache_record.h"

/** Shards of a tier (a power of two). */
#define KVE_CACHE_MEM_SHARDS 16
/** What an object costs on top of its block (the table slot, the allocator's own overhead). */
#define KVE_CACHE_MEM_OVERHEAD 64

typedef struct st_kve_cache_mem_t kve_cache_mem_t;

/** A lookup key: its bytes (borrowed) and their kve_cache_mem_hash(). */
typedef struct st_kve_cache_mem_key_t {
    h2o_iovec_t enc;
    uint64_t hash;
} kve_cache_mem_key_t;

/** An object (or a variant index) in the tier. Immutable once built; fields after `_` are private. */
typedef struct st_kve_cache_mem_obj_t {
    /** the key and the variant's key (empty: the URL's own object, or its variant index); both point into the object */
    kve_cache_mem_key_t key, variant;
    /** the primary key hash (invalidations find entries by it) */
    uint8_t primary[KVE_CACHE_HASH_LEN];
    /** an index: `gen` (KVE_CACHE_ID_LEN bytes) and the normalised Vary list, and the fields below are unset; a
     * variant: the generation of the index it belongs to */
    int is_index;
    char gen[KVE_CACHE_ID_LEN];
    h2o_iovec_t vary;
    /** an object: the stored response as the store holds it (handlers/cache_record.h) */
    int status;
    int64_t response_time, initial_age;
    kve_cache_fresh_t fresh;
    /** the validators and Date, for conditional requests (kve_cache_not_modified) */
    h2o_iovec_t etag;
    int64_t last_modified, date;
    /** the stored header fields: names are h2o tokens where one exists, so they can go to h2o as they are */
    h2o_header_t *headers;
    size_t num_headers;
    h2o_iovec_t body;
    /* private */
    _Atomic uint32_t _refs;
    size_t _charge;
    kve_cache_mem_t *_tier;
    struct st_kve_cache_mem_obj_t *_chain;  /* the shard's hash chain */
    struct st_kve_cache_mem_obj_t *_pchain; /* the shard's chain by primary key hash (the URL's own entries) */
    h2o_linklist_t _lru;                    /* the shard's LRU list (most recent first) */
    h2o_linklist_t _variants;               /* an index: its variants; a variant: its place in the index's list */
    struct st_kve_cache_mem_obj_t *_index;  /* a variant: its index */
    int _linked;                            /* in the shard's table */
} kve_cache_mem_obj_t;

/** What a tier holds (for metrics and tests). */
typedef struct st_kve_cache_mem_stats_t {
    uint64_t budget, bytes, objects;
    /** lookups that found an entry, or not; entries inserted; entries evicted (LRU, replacement, invalidation) */
    uint64_t hits, misses, inserts, evictions;
} kve_cache_mem_stats_t;

/** The fast hash of a key encoding, seeded per tier (not collision-resistant: keys are compared whole). */
uint64_t kve_cache_mem_hash(const kve_cache_mem_t *m, const void *p, size_t len);

/** Creates a tier of `budget` bytes (> 0). It starts not live (inserts refused): see kve_cache_mem_set_live. */
kve_cache_mem_t *kve_cache_mem_create(uint64_t budget);

/** Frees the tier and every object no caller holds (objects still held are freed by their last release). */
void kve_cache_mem_destroy(kve_cache_mem_t *m);

/** Whether inserts are accepted; turning it off empties the tier. Any thread. */
void kve_cache_mem_set_live(kve_cache_mem_t *m, int live);

/** The current epoch (see the file comment). Any thread. */
uint64_t kve_cache_mem_epoch(kve_cache_mem_t *m);

/**
 * Builds an object (not yet in a tier) from a stored response: the head's header fields, validators and body are
 * copied into one block. A variant (`variant` not NULL) names the generation `gen` of its index. `now` resolves
 * two-digit years in the validators. Returns NULL when it could never fit in `m`.
 */
kve_cache_mem_obj_t *kve_cache_mem_obj_new(const kve_cache_mem_t *m, const kve_cache_mem_key_t *key,
                                           const uint8_t primary[KVE_CACHE_HASH_LEN], const kve_cache_mem_key_t *variant,
                                           const char *gen, const kve_cache_head_t *head, h2o_iovec_t body, int64_t now);

/** Builds a variant index (generation `gen`, KVE_CACHE_ID_LEN bytes, and the normalised Vary list). */
kve_cache_mem_obj_t *kve_cache_mem_index_new(const kve_cache_mem_key_t *key, const uint8_t primary[KVE_CACHE_HASH_LEN],
                                             const char *gen, h2o_iovec_t vary);

/**
 * Inserts `obj` (taking the caller's reference) when the tier is live and its epoch is still `epoch`, replacing an
 * entry with the same key (an object at the URL's own key replaces an index and its variants; an index replaces an
 * index of another generation or Vary list, and its variants, but leaves one that is the same; a variant needs its
 * index, same generation, in the tier). Evicts least recently used entries of the shard past its budget.
 * Returns 0, or -1 when refused (the object is released).
 */
int kve_cache_mem_insert(kve_cache_mem_t *m, kve_cache_mem_obj_t *obj, uint64_t epoch);

/**
 * Finds the entry at (`key`, `variant`; NULL: the URL's own) and makes it the most recent; returns a reference
 * (kve_cache_mem_release() it), or NULL.
 */
kve_cache_mem_obj_t *kve_cache_mem_lookup(kve_cache_mem_t *m, const kve_cache_mem_key_t *key, const kve_cache_mem_key_t *variant);

/** Gives back a reference; the last one frees the object. Any thread. */
void kve_cache_mem_release(kve_cache_mem_obj_t *obj);

/** Evicts every entry of a primary key (objects, indexes and their variants); every shard is probed. */
void kve_cache_mem_evict_primary(kve_cache_mem_t *m, const uint8_t primary[KVE_CACHE_HASH_LEN]);

/** Evicts everything. */
void kve_cache_mem_evict_all(kve_cache_mem_t *m);

/** Copies the counters (relaxed reads; any thread). */
void kve_cache_mem_get_stats(kve_cache_mem_t *m, kve_cache_mem_stats_t *out);

#endif
