/* SPDX-License-Identifier: MIT */
/*
 * JSON writing: strings (escaped, with invalid UTF-8 repaired), base64 strings, and kvedge replies
 * (kve_kv_reply_t) as JSON in RESP2 shapes, the response format of the Upstash / Vercel KV REST API
 * (kv-rest-protocol.md §3). Pure functions appending to a kve_buf_t; used by the REST API (handlers/) and
 * meant for the drivers and features in proxy/ that speak JSON.
 *
 * Reply rules: bulk and status strings are JSON strings; with `base64`, every string at every depth is
 * standard base64 (with padding) EXCEPT a top-level status reply "OK", which stays "OK" (the SDK decodes
 * "OK" inside arrays as base64, so there it must be encoded). Without base64 the output is always valid
 * UTF-8 JSON: invalid byte sequences become U+FFFD (one per maximal invalid subsequence, as the WHATWG
 * decoder does), control characters are escaped (\n, \t, \u0001, ...), '"' and '\\' are escaped, and '/'
 * is not. Integers are exact decimal numbers; nil bulk/array is null; arrays nest. An error reply inside an
 * array (EXEC results, Lua tables) is written as its error text as a string (never base64). A
 * KVE_REPLY_TOO_BIG reply is the error KVE_JSON_TOO_BIG_TEXT (in an envelope {"error":...}).
 */
#ifndef KVE_PROXY_JSON_H
#define KVE_PROXY_JSON_H

#include <stddef.h>
#include "proxy/buf.h"
#include "proxy/kv.h"

/** The error text a KVE_REPLY_TOO_BIG reply stands for. */
#define KVE_JSON_TOO_BIG_TEXT "ERR max response size exceeded"

/*
 * Bounded encoders: `limit` is the most bytes `out` may hold (what it held before included). They return
 * 0, or -1 as soon as the output passes the limit; the caller then drops what was appended after its own
 * mark (out->len = mark). A string that alone is longer than what is left is refused before anything is
 * reserved for it, so a reply over the limit costs little memory. SIZE_MAX means no limit.
 */

/** Appends the JSON value for `reply` (no envelope, no limit). `top` is non-zero for the outermost value. */
void kve_json_value(kve_buf_t *out, const kve_kv_reply_t *reply, int base64, int top);

/**
 * Appends the envelope for a single reply: {"error":"..."} for an error reply (text unchanged, never
 * encoded), {"result":...} otherwise (always with "result", also for null). Returns 0 or -1 (see above).
 */
int kve_json_envelope(kve_buf_t *out, const kve_kv_reply_t *reply, int base64, size_t limit);

/** Appends {"error":"<msg>"} with JSON escaping (msg is NUL-terminated). */
void kve_json_error(kve_buf_t *out, const char *msg);

/** Appends `len` bytes as a JSON string (with quotes), escaping and replacing invalid UTF-8 as above. */
void kve_json_string(kve_buf_t *out, const char *s, size_t len);

/**
 * Writes the inside of a JSON string (no quotes) for `len` bytes at `s` into `dst`, at most `cap` bytes, with the
 * escaping and U+FFFD rules of kve_json_string(), without allocating (for the error log). It stops before the first
 * character whose output would not fit, so `dst` always holds whole escapes and whole UTF-8 sequences. Returns the
 * bytes written; `*consumed` (may be NULL) gets the input bytes they stand for (`len` when all of it fitted).
 */
size_t kve_json_escape_into(char *dst, size_t cap, const char *s, size_t len, size_t *consumed);

/** Appends `len` bytes as a base64 JSON string (with quotes). */
void kve_json_base64(kve_buf_t *out, const char *s, size_t len);

/**
 * Length of the well-formed UTF-8 sequence at `s` (s[0] >= 0x80, `avail` bytes readable), or 0 with *bad
 * set to the length of the maximal subpart to replace by one U+FFFD: the lead byte plus the continuation
 * bytes that were valid before the first one that is not (Unicode §3.9, "U+FFFD substitution of maximal
 * subparts"). Overlong forms, surrogates and code points above U+10FFFF are not well-formed.
 */
size_t kve_json_utf8_sequence(const unsigned char *s, size_t avail, size_t *bad);

#endif
