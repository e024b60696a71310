/* SPDX-License-Identifier: MIT */
/*
 * Conditional GET / HEAD answered from a stored response (RFC 9111 §4.3.2, RFC 9110 §13.1.2, §13.1.3,
 * §13.2.2). Pure. If-None-Match takes precedence: when the request has it (any line), If-Modified-Since is
 * not looked at; its entity-tags are compared weakly ("W/" ignored on both sides), "*" matches any stored
 * response. Otherwise a valid If-Modified-Since is compared with the stored Last-Modified, or its Date when
 * it has none; an invalid date is ignored (RFC 9110 §13.1.3).
 */
#ifndef KVE_HANDLERS_CACHE_CONDITIONAL_H
#define KVE_HANDLERS_CACHE_CONDITIONAL_H

#include <stdint.h>
#include "h2o.h"

/**
 * Whether a request with `headers` (`num`) is answered 304 Not Modified by a stored response with entity-tag
 * `etag` ({NULL, 0}: none), `last_modified` and `date` (KVE_CACHE_TIME_NONE when absent). `now` resolves
 * two-digit years. The handler asks this only for GET and HEAD, and sends the 304 with the stored
 * response's ETag, Last-Modified, Cache-Control, Expires, Vary, Date and a fresh Age.
 */
int kve_cache_not_modified(const h2o_header_t *headers, size_t num, h2o_iovec_t etag, int64_t last_modified, int64_t date,
                           int64_t now);

/** Whether the entity-tags `a` and `b` match under the weak comparison (RFC 9110 §8.8.3.2). */
int kve_cache_etag_weak_match(h2o_iovec_t a, h2o_iovec_t b);

#endif
