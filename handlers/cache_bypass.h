/* SPDX-License-Identifier: MIT */
/*
 * A route's `cache.bypass` rules (handlers/cache.h kve_cache_bypass_t): a GET or HEAD that has one of the listed
 * header fields (any value, even empty) or cookies (by exact name) goes upstream without a lookup, and its response
 * is not stored (Cache-Status `fwd=bypass; detail=header:<name>` or `detail=cookie:<name>`). Pure.
 */
#ifndef KVE_HANDLERS_CACHE_BYPASS_H
#define KVE_HANDLERS_CACHE_BYPASS_H

#include <stddef.h>
#include "h2o.h"
#include "handlers/cache.h"

/** Whether the Cookie lines of `headers` (`num`) name the cookie `name` (`len` bytes, case-sensitive). */
int kve_cache_has_cookie(const h2o_header_t *headers, size_t num, const char *name, size_t len);

/** The first of `rules` (`n`) that a request with header fields `headers` (`num`) matches, or NULL. */
const kve_cache_bypass_t *kve_cache_bypass_match(const kve_cache_bypass_t *rules, size_t n, const h2o_header_t *headers,
                                                 size_t num);

/**
 * Writes the Cache-Status `detail` of `rule` into `buf` (`cap` bytes, NUL-terminated): "header:<name>" or
 * "cookie:<name>" when the name is made of characters an sf-token allows, else "header" / "cookie".
 */
void kve_cache_bypass_detail(const kve_cache_bypass_t *rule, char *buf, size_t cap);

#endif
