/* SPDX-License-Identifier: MIT */
/*
 * The keys page's codec (issue 13; docs/console.md "Keys"): decoding what the client sends (an
 * application/x-www-form-urlencoded query string or body: any byte, NUL and non-UTF-8 included, travels as %XX) and
 * encoding the store's bytes as JSON. Pure functions: no allocation, no I/O (fuzzed by tests/fuzz/console_kv.c).
 *
 * A byte string in the API's answers (a key, a value, a field, a member) is
 *   - a JSON string when its bytes are valid UTF-8 and all of them are shown;
 *   - else an object: {"text":"..."} (valid UTF-8, cut) or {"base64":"..."} (not UTF-8: base64 keeps every byte, and
 *     is what the page decodes back to bytes), with "length" (the whole value's bytes) and "truncated" (true when
 *     fewer bytes than "length" are shown).
 */
#ifndef KVE_HANDLERS_CONSOLE_KV_CODEC_H
#define KVE_HANDLERS_CONSOLE_KV_CODEC_H

#include <stddef.h>
#include "proxy/buf.h"

/** The longest key name (and SCAN pattern) the API takes from the client. */
#define KVE_CONSOLE_KV_MAX_KEY 8192
/** The longest value (field, member, element, stream value) the API takes from the client. */
#define KVE_CONSOLE_KV_MAX_VALUE (512 * 1024)
/** The most bytes of one value the API returns (the rest is reported by length, "truncated": true). */
#define KVE_CONSOLE_KV_SHOW (64 * 1024)
/** The most items (SCAN/HSCAN/SSCAN COUNT, LRANGE/ZRANGE/XRANGE span) asked per page. */
#define KVE_CONSOLE_KV_MAX_COUNT 1000
/** The most field/value pairs of one XADD. */
#define KVE_CONSOLE_KV_MAX_PAIRS 32
/** The longest TTL the API sets (10 years, in ms). */
#define KVE_CONSOLE_KV_MAX_TTL_MS (10ULL * 366 * 24 * 3600 * 1000)

/**
 * Finds field `name` in the form `s` (`len` bytes, "a=1&b=2"; a field without '=' has an empty value): returns 1 with
 * `*raw`/`*raw_len` the still-encoded value (pointing into `s`), 0 when it is absent, -1 when it is there twice.
 */
int kve_console_kv_field(const char *s, size_t len, const char *name, const char **raw, size_t *raw_len);

/**
 * Decodes a form value (`raw`, `len` bytes: '+' for a space, %XX escapes) into `out`, which has room for `len` bytes
 * (a decoded value is never longer). Returns its length; -1 on a bad escape; -2 when it is longer than `max`.
 */
long kve_console_kv_decode(const char *raw, size_t len, char *out, size_t max);

/** A decimal integer in [min, max] ("-12"; no '+', no spaces, no leading zeros but "0"): 0 and *out, or -1. */
int kve_console_kv_int(const char *s, size_t len, long long min, long long max, long long *out);

/** A SCAN cursor: 1 to 20 decimal digits whose value fits in 64 bits (Redis' cursors are unsigned). */
int kve_console_kv_cursor_ok(const char *s, size_t len);

/** A sorted-set score as ZADD takes it: a finite decimal or "inf", "+inf", "-inf" (no NaN, no spaces). 1 or 0. */
int kve_console_kv_score_ok(const char *s, size_t len);

/** A full stream entry id "<ms>-<seq>" (each 1 to 20 digits, fitting 64 bits). 1 or 0. */
int kve_console_kv_stream_id_ok(const char *s, size_t len);

/**
 * The length of the longest prefix of `s` (at most `show` of its `len` bytes) that is valid UTF-8, when `s` is valid
 * UTF-8 up to `show`; -1 when it is not (see kve_json_utf8_sequence). A sequence cut by `show` is dropped from the
 * prefix, and so is one cut by the end of `s` when `s` is not `complete` (the first bytes of a longer value).
 */
long kve_console_kv_utf8_prefix(const char *s, size_t len, size_t show, int complete);

/**
 * Appends `s` (`len` bytes we have; the whole value is `full` bytes, full >= len) as a byte string (see above), showing
 * at most `show` bytes.
 */
void kve_console_kv_bytes(kve_buf_t *out, const char *s, size_t len, size_t full, size_t show);

#endif
