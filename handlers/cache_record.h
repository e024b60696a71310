/* SPDX-License-Identifier: MIT */
/*
 * How one cached object lies in KV (pure encoding and decoding; no I/O).
 *
 * Keys, all under the URL's {hash tag} (handlers/cache_key.h), so one object's keys share a Redis Cluster slot:
 * - "<P>:v"  the variant index: a generation id and the normalised Vary list, present only when the URL's
 *            responses vary; a lookup that finds it reads the variant "<P>:<V>:h" / "<P>:<V>:b", where V hashes
 *            the generation and the request's secondary key (handlers/cache_vary.h). Deleting the index (an
 *            invalidation) makes every variant unreachable: the next index gets a new generation.
 * - "<P>:h"  the head record (or "<P>:<V>:h"): status, times, freshness, the stored header fields, the object id;
 * - "<P>:b"  the body (or "<P>:<V>:b"): the object id, then the body's bytes.
 * A hit needs the head and the body of the same object: both carry the object id, and a body whose id differs
 * from the head's (an object replaced between the two reads, a key evicted) is a miss, never a mixed reply. Every
 * key is written with a TTL, in one atomic batch.
 *
 * Records use the length-prefixed fields of handlers/cache_enc.h, so any byte may appear in a header value.
 */
#ifndef KVE_HANDLERS_CACHE_RECORD_H
#define KVE_HANDLERS_CACHE_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_freshness.h"
#include "proxy/buf.h"

/** Bytes of an object id (hex), at the start of the body value and in the head record. */
#define KVE_CACHE_ID_LEN 16
/** The most header fields a stored response may have. */
#define KVE_CACHE_MAX_HEADERS 100

/** A decoded head record. */
typedef struct st_kve_cache_head_t {
    char id[KVE_CACHE_ID_LEN];
    int status;
    int64_t request_time, response_time, initial_age; /* seconds since the epoch; seconds */
    kve_cache_fresh_t fresh;
    uint64_t body_len;
    /** the stored header fields (names are not tokens: compare them with h2o_lcstris) */
    h2o_header_t *headers;
    size_t num_headers;
} kve_cache_head_t;

/** Appends the head record of `h` to `out`. */
void kve_cache_head_encode(const kve_cache_head_t *h, kve_buf_t *out);

/**
 * Decodes the head record `p` (`len` bytes) into `h`; the header array and its names are allocated from `pool`, the
 * values point into `p` (which must outlive `h`). Returns 0, or -1 if it is not a head record of this version.
 */
int kve_cache_head_decode(h2o_mem_pool_t *pool, const char *p, size_t len, kve_cache_head_t *h);

/** Appends a variant index (generation `gen`, KVE_CACHE_ID_LEN bytes, and the normalised Vary list) to `out`. */
void kve_cache_index_encode(const char *gen, h2o_iovec_t vary, kve_buf_t *out);

/** Decodes a variant index: `*gen` (KVE_CACHE_ID_LEN bytes) and `*vary` point into `p`. Returns 0 or -1. */
int kve_cache_index_decode(const char *p, size_t len, const char **gen, h2o_iovec_t *vary);

/**
 * As kve_cache_index_encode(), with the number of variants stored under the generation (cache.max_variants); an
 * index without one counts as 1.
 */
void kve_cache_index_encode_count(const char *gen, h2o_iovec_t vary, uint64_t count, kve_buf_t *out);

/** The variant count of the index `p` (`len` bytes, decoded by kve_cache_index_decode()): 1 if it has none. */
uint64_t kve_cache_index_count(const char *p, size_t len);

/** Writes a fresh object id (KVE_CACHE_ID_LEN hex characters, no NUL) into `id`. */
void kve_cache_new_id(char *id);

#endif
