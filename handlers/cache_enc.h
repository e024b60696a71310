/* SPDX-License-Identifier: MIT */
/*
 * The unambiguous encoding used for cache keys (primary and secondary): a sequence of fields, each a tag
 * byte, its length as 4 bytes big-endian, then the bytes. A reader that knows the tags can split any
 * encoding back into its fields, so two different field sequences never encode alike (no "a;b"+"c" versus
 * "a"+"b;c" collisions, whatever bytes the values hold). kve_cache_enc_next() is that reader.
 */
#ifndef KVE_HANDLERS_CACHE_ENC_H
#define KVE_HANDLERS_CACHE_ENC_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/buf.h"

/** Appends one field (`tag`, then `len` as u32 big-endian, then `len` bytes of `p`) to `out`. `len` < 2^32. */
void kve_cache_enc_field(kve_buf_t *out, uint8_t tag, const void *p, size_t len);

/**
 * Reads the field at `*pos` of `enc` (`len` bytes): sets `*tag`, `*value`, `*value_len` (pointing into `enc`)
 * and advances `*pos`. Returns 0, or -1 at the end or if the field is truncated.
 */
int kve_cache_enc_next(const char *enc, size_t len, size_t *pos, uint8_t *tag, const char **value, size_t *value_len);

#endif
