/* SPDX-License-Identifier: MIT */
/*
 * Pieces of RFC 9211 Cache-Status that carry bytes from outside: the `key` parameter (only with `cache.debug`),
 * written as an sf-string. Pure.
 */
#ifndef KVE_HANDLERS_CACHE_STATUS_H
#define KVE_HANDLERS_CACHE_STATUS_H

#include <stddef.h>
#include "h2o.h"

/** The longest `key` parameter value written (longer encodings are cut and end in "..."). */
#define KVE_CACHE_STATUS_KEY_MAX 512

/**
 * `enc` (`len` bytes: a cache key's encoding, handlers/cache_key.h, any bytes) as an RFC 8941 sf-string, quotes
 * included, allocated from `pool`: printable ASCII but '%' as is, '"' and '\' escaped with '\', every other byte
 * (and '%') as %XX, cut at KVE_CACHE_STATUS_KEY_MAX characters.
 */
h2o_iovec_t kve_cache_status_key(h2o_mem_pool_t *pool, const char *enc, size_t len);

#endif
