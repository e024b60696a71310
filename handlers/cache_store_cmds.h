/* SPDX-License-Identifier: MIT */
/*
 * The commands of the cache's own writes to its store (an object, a head updated by a 304, an invalidation, the
 * coalescer's lock), built without I/O so a test can check exactly what is sent (tests/unit/test_cache_slots.c: on
 * Redis Cluster every atomic batch, and every command with several keys, must stay in one slot). Every key of one
 * URL (head, body, variant index and variants, variant set, locks) carries the URL's hash tag "kvc1:{<P>}:..."
 * (cache_key.h), so each batch built here is in one slot. The tag and route sets (cache_tags.h) each have a slot of
 * their own: on a sharded store they are written apart, before the object (cache_store.c).
 */
#ifndef KVE_HANDLERS_CACHE_STORE_CMDS_H
#define KVE_HANDLERS_CACHE_STORE_CMDS_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_key.h"
#include "handlers/cache_record.h"
#include "proxy/kv.h"

/** The most commands of one batch built here, and the most arguments of one command. */
#define KVE_CACHE_CMDS_MAX 6
#define KVE_CACHE_CMD_ARGS 6
/** Bytes of a key name built here (a namespace of up to 64 bytes), NUL included. */
#define KVE_CACHE_CMD_KEY_MAX 128

/** One command: argv[0 .. argc - 1], every argument borrowed. */
typedef struct st_kve_cache_cmd_t {
    const char *argv[KVE_CACHE_CMD_ARGS];
    size_t argvlen[KVE_CACHE_CMD_ARGS];
    size_t argc;
} kve_cache_cmd_t;

/**
 * The commands of one batch. They point into this struct (key names, the TTL) and into the caller's buffers passed
 * to the builder (records, body, lock key, owner): both must live while the commands are used (kve_kv_batch() copies
 * everything it is given, so until it returns).
 */
typedef struct st_kve_cache_cmds_t {
    kve_cache_cmd_t cmd[KVE_CACHE_CMDS_MAX];
    size_t n;
    /* private: the names and numbers the commands point to */
    char _v[KVE_CACHE_CMD_KEY_MAX], _h[KVE_CACHE_CMD_KEY_MAX], _b[KVE_CACHE_CMD_KEY_MAX];
    char _ph[KVE_CACHE_CMD_KEY_MAX], _pb[KVE_CACHE_CMD_KEY_MAX], _s[KVE_CACHE_CMD_KEY_MAX];
    char _ttl[24];
} kve_cache_cmds_t;

/** Appends argument `p` (`len` bytes, borrowed) to `cmd` (at most KVE_CACHE_CMD_ARGS: asserted). */
void kve_cache_cmd_arg(kve_cache_cmd_t *cmd, const char *p, size_t len);

/**
 * Storing an object (one atomic batch; cache_fill.c): with a `variant`, the variant index `index` (SET KEEPTTL, then its
 * TTL set if it has none and extended if shorter) and the removal of the URL's own object; without, the removal of a
 * stale variant index. Then the body and the head (`body`, `head`: the encoded records), every key with TTL `ttl_ms`.
 */
void kve_cache_cmds_object(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant,
                           h2o_iovec_t index, h2o_iovec_t head, h2o_iovec_t body, uint64_t ttl_ms);

/** A head updated by a 304 (one atomic batch): the head written back, the body's and the variant index's TTLs extended. */
void kve_cache_cmds_head(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant,
                         h2o_iovec_t head, uint64_t ttl_ms);

/** An invalidation of the URL `primary` (RFC 9111 §4.4): one DEL of its index, head, body and variant set. */
void kve_cache_cmds_invalidate(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN]);

/** The end of a hard URL purge (cache_purge.c): one DEL of the URL's variant index and variant set. */
void kve_cache_cmds_purge_url(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN]);

/**
 * The coalescer's lock (one atomic batch; cache_coalesce.c): SET `lock_key` `owner` (KVE_CACHE_ID_LEN bytes) NX PX
 * `ttl_ms`, then GET `lock_key` (who holds it, or "pass").
 */
void kve_cache_cmds_lock(kve_cache_cmds_t *c, const char *lock_key, const char *owner, uint64_t ttl_ms);

/** Writes the commands of `c` as KV commands (default flags) into `out` (room for c->n); returns c->n. */
size_t kve_cache_cmds_to_kv(const kve_cache_cmds_t *c, kve_kv_command_t *out);

#endif
