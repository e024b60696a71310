/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (RFC 4648 §4: A-Z a-z 0-9 + /, padded with '='), the encoding of Upstash's
 * `Upstash-Encoding: base64` replies. The encoder writes into memory the caller provides (no allocation);
 * the decoder is strict, as a driver reading another server's replies should be: only canonical input
 * decodes (length a multiple of 4, padding only at the end, no bits set after the last byte, no whitespace).
 */
#ifndef KVE_PROXY_BASE64_H
#define KVE_PROXY_BASE64_H

#include <stddef.h>

/** The encoded length of `n` bytes (a multiple of 4); the caller checks that it fits (n / 3 <= SIZE_MAX / 4 - 1). */
#define KVE_BASE64_ENCODED_LEN(n) ((n) / 3 * 4 + ((n) % 3 != 0 ? 4 : 0))

/**
 * Writes the encoding of `len` bytes at `src` to `dst` (KVE_BASE64_ENCODED_LEN(len) bytes, no NUL) and
 * returns that length.
 */
size_t kve_base64_encode(char *dst, const void *src, size_t len);

/**
 * Decodes `len` characters at `src` into `dst`, which has room for len / 4 * 3 bytes, and sets *decoded to
 * the number of bytes written. Returns 0, or -1 if `src` is not canonical base64 (then `dst` may hold
 * anything, *decoded is not set).
 */
int kve_base64_decode(void *dst, const char *src, size_t len, size_t *decoded);

#endif
