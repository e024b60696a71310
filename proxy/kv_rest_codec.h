/* SPDX-License-Identifier: MIT */
/*
 * Wire format of the KV REST driver (kv_rest_driver.h), pure functions: commands into JSON request bodies or
 * path-form targets, and JSON response bodies into kve_kv_reply_t trees. Reply trees are malloc'd node by node
 * (strings owned by their node: KVE_KV_REPLY_OWNS_STR, so kve_kv_reply_take_str hands them over) and freed
 * with kve_rest_reply_free.
 */
#ifndef KVE_PROXY_KV_REST_CODEC_H
#define KVE_PROXY_KV_REST_CODEC_H

#include <stddef.h>
#include "h2o.h"
#include "proxy/buf.h"
#include "proxy/kv.h"

/** Whether every argument of `cmd` is valid UTF-8 (so that it can travel in a JSON string). */
int kve_rest_cmd_is_utf8(const kve_kv_command_t *cmd);

/** Appends `cmd` as a JSON array of strings (every argument valid UTF-8: kve_rest_cmd_is_utf8). */
void kve_rest_encode_json(kve_buf_t *out, const kve_kv_command_t *cmd);

/**
 * Appends the path-form target of `cmd` after `prefix`: "/CMD/arg1/..." percent-encoded, all arguments but the
 * last one; the last one is the request body (*body, borrowed from cmd). Returns 0, or -1 when the command cannot
 * be written so (its last argument is empty: an empty body is no argument).
 */
int kve_rest_encode_path(kve_buf_t *out, const char *prefix, const kve_kv_command_t *cmd, h2o_iovec_t *body);

/** A decoded response: `n` entries, each a reply (owned) or an error code (reply NULL). */
typedef struct st_kve_rest_entry_t {
    int err;
    kve_kv_reply_t *reply;
} kve_rest_entry_t;

/**
 * Decodes a /pipeline or /multi-exec response body: a JSON array of exactly `n` entries {"result": v} or
 * {"error": "text"} into out[0..n-1]. `limits[i]` is entry i's max_reply_size (0: none): an entry over it is
 * KVE_REPLY_TOO_BIG. Base64 strings are decoded (the top-level "OK" stays "OK", a KVE_REPLY_STATUS). Returns 0,
 * or -1 when the body is not such an array (nothing is set then): the caller fails every command (KVE_EPROTO).
 * An entry that is malformed on its own gets KVE_EPROTO in its place.
 */
int kve_rest_decode_entries(const char *body, size_t len, size_t n, const size_t *limits, kve_rest_entry_t *out);

/** Decodes one envelope {"result": v} or {"error": "text"} (a path-form reply) into *out; -1 when it is none. */
int kve_rest_decode_envelope(const char *body, size_t len, size_t limit, kve_rest_entry_t *out);

/** Frees a tree made by the decoders (NULL is fine). */
void kve_rest_reply_free(kve_kv_reply_t *reply);

#endif
