/* SPDX-License-Identifier: MIT */
/*
 * The parts of a cache lookup's answer (handlers/console_cache.h, docs/console.md "Cache") made from the store's bytes:
 * pure functions appending JSON to a kve_buf_t the caller owns. Any bytes are taken: a record that does not decode is
 * left out, every string is escaped (proxy/json.h), so the output is always valid JSON.
 */
#ifndef KVE_HANDLERS_CONSOLE_CACHE_RENDER_H
#define KVE_HANDLERS_CONSOLE_CACHE_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_key.h"
#include "proxy/buf.h"

/**
 * Appends `"key":{"name":"kvc1:{<hex of primary>}","fields":[[name, value]...]}`: the primary key's encoding `enc`
 * (`len` bytes) split back into its fields (handlers/cache_enc.h; it stops at the first field that does not decode).
 */
void kve_console_cache_render_key(kve_buf_t *out, const uint8_t primary[KVE_CACHE_HASH_LEN], const char *enc, size_t len);

/** Appends `"vary":"<list>","variants_counted":N` for the variant index `index` (`len` bytes), or `"vary":null` (NULL, or not
 * an index). */
void kve_console_cache_render_vary(kve_buf_t *out, const char *index, size_t len);

/**
 * Appends one stored object's JSON (preceded by ',' unless `first`): `variant` (KVE_CACHE_HASH_LEN bytes, or NULL for the
 * URL's own object), its head record `head` (`head_len` bytes; decoded with handlers/cache_record.h, header arrays from
 * `pool`), or only {"variant","too_large":true,"store_ttl_ms"} when `too_large`; `body_len` (-1: no body stored), `pttl` (ms)
 * and `now` (Unix time: the age is computed for it). Returns 1, or 0 with nothing appended when `head` is NULL or not a head
 * record of this version.
 */
int kve_console_cache_render_object(kve_buf_t *out, h2o_mem_pool_t *pool, const uint8_t *variant, const char *head, size_t head_len,
                                    int too_large, int64_t body_len, int64_t pttl, int64_t now, int first);

#endif
