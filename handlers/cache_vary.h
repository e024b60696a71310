/* SPDX-License-Identifier: MIT */
/*
 * Vary (RFC 9111 §4.1): the normalised list of field names a stored response varies on, and the secondary
 * key of a request for it. Pure: outputs are appended to a kve_buf_t the caller owns and disposes.
 *
 * - The Vary list: every Vary line, split on commas, OWS trimmed, empty members skipped, names lower-cased,
 *   sorted and de-duplicated, joined with ","; "*" anywhere (also "*, *", ", *", on its own line) means the
 *   response never matches and is not stored.
 * - A request's value of a field: every line of it, split on commas outside quoted strings, OWS trimmed,
 *   empty members skipped, joined with "," (so " 1, 2 " and "1" + "2" match "1,2"); an absent field differs
 *   from an empty one; a field with an unbalanced quote is kept as sent (lines joined with LF). Accept-Encoding is reduced to the
 * set of content codings the cache knows (br, deflate, gzip, zstd; x-gzip is gzip) that the request accepts (q > 0, "*" covers the
 * unlisted ones), sorted: the handler must forward that reduced value upstream instead of the client's, so the origin can only pick
 * a coding every request with the same key accepts.
 * - The secondary key: for each listed name, the name, whether the request has the field, and its value
 *   (cache_enc.h fields), so it is unambiguous; hash it into the variant's key with kve_cache_key_variant().
 */
#ifndef KVE_HANDLERS_CACHE_VARY_H
#define KVE_HANDLERS_CACHE_VARY_H

#include <stddef.h>
#include "h2o.h"
#include "proxy/buf.h"

/** The most field names a stored response may vary on (more: not stored, like `Vary: *`). */
#define KVE_VARY_MAX_FIELDS 16

/** Whether any Vary line of `headers` lists "*". */
int kve_vary_has_star(const h2o_header_t *headers, size_t num);

/**
 * Appends the normalised Vary list of response `headers` to `out` (nothing when there is no Vary or it is
 * empty). Returns 0, or -1 for "*", more than KVE_VARY_MAX_FIELDS names, or a name that is not a token.
 */
int kve_vary_normalize(const h2o_header_t *headers, size_t num, kve_buf_t *out);

/**
 * Appends the normalised value of request field `name` (`len` bytes, lower case) among `headers` to `out`.
 * Returns 1 if the request has the field, 0 if not (then nothing is appended).
 */
int kve_vary_field_value(const char *name, size_t len, const h2o_header_t *headers, size_t num, kve_buf_t *out);

/** Appends the reduced Accept-Encoding of `headers` to `out`. Returns 1 if the request has the field, else 0. */
int kve_vary_accept_encoding(const h2o_header_t *headers, size_t num, kve_buf_t *out);

/**
 * Appends the secondary key of the request with `headers` for the normalised Vary list `vary` (as made by
 * kve_vary_normalize()) to `out`. An empty list appends nothing.
 */
void kve_vary_secondary_key(h2o_iovec_t vary, const h2o_header_t *headers, size_t num, kve_buf_t *out);

#endif
