/* SPDX-License-Identifier: MIT */
/*
 * Reply encoding for the KV REST API (kv-rest-protocol.md §3): Redis replies as JSON in RESP2 shapes, or as
 * raw RESP2. Pure functions over kve_kv_reply_t, appending to a kve_buf_t.
 *
 * JSON rules: bulk and status strings are JSON strings; with `base64`, every string at every depth is
 * standard base64 (with padding) EXCEPT a top-level status reply "OK", which stays "OK" (the SDK decodes
 * "OK" inside arrays as base64, so there it must be encoded). Without base64 the output is always valid
 * UTF-8 JSON: invalid byte sequences become U+FFFD (one per maximal invalid subsequence, as the WHATWG
 * decoder does), control characters are escaped (\n, \t, \u0001, ...), '"' and '\\' are escaped, and '/'
 * is not. Integers are exact decimal numbers; nil bulk/array is null; arrays nest. An error reply inside an
 * array (EXEC results, Lua tables) is written as its error text as a string (never base64).
 */
#ifndef KVE_HANDLERS_KV_REPLY_H
#define KVE_HANDLERS_KV_REPLY_H

#include <stddef.h>
#include "proxy/buf.h"
#include "proxy/kv.h"

/** Appends the JSON value for `reply` (no envelope). `top` is non-zero for the outermost value. */
void kve_rest_json_value(kve_buf_t *out, const kve_kv_reply_t *reply, int base64, int top);

/**
 * Appends the envelope for a single reply: {"error":"..."} for an error reply (text unchanged, never
 * encoded), {"result":...} otherwise (always with "result", also for null).
 */
void kve_rest_json_envelope(kve_buf_t *out, const kve_kv_reply_t *reply, int base64);

/** Appends {"error":"<msg>"} with JSON escaping (msg is NUL-terminated). */
void kve_rest_json_error(kve_buf_t *out, const char *msg);

/** Appends `len` bytes as a JSON string (with quotes), escaping and replacing invalid UTF-8 as above. */
void kve_rest_json_string(kve_buf_t *out, const char *s, size_t len);

/** Appends `len` bytes as a base64 JSON string (with quotes). */
void kve_rest_json_base64(kve_buf_t *out, const char *s, size_t len);

/** Appends `reply` serialised as RESP2 ("+OK\r\n", "$3\r\nbar\r\n", "*2\r\n...", "$-1\r\n", ":1\r\n", "-ERR x\r\n"). */
void kve_rest_resp2(kve_buf_t *out, const kve_kv_reply_t *reply);

/**
 * The size of `reply` as data: the bytes of every string plus 16 per element, used to refuse replies over
 * the configured cap before encoding them (the encoded form is at most ~6x larger).
 */
size_t kve_rest_reply_size(const kve_kv_reply_t *reply);

#endif
