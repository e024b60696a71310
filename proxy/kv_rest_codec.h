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

/**
 * Transactions with bytes JSON cannot carry. /multi-exec takes JSON strings only, so an atomic batch with an argument
 * that is not UTF-8 goes as one EVAL of a fixed script that runs its commands in order (a script runs atomically):
 * every argument travels as "r" + the bytes (UTF-8), "x" + lower-case hex (decoded by the script: ~75 ms of the
 * store's time per MiB, so only for small ones), or "k" + a key under which the caller has put the bytes aside with
 * a TTL before (`stage`: the path form carries raw bytes); the script reads staged arguments first (a missing one:
 * the error "ERR kvedge: a staged argument of the transaction is gone" and nothing runs), deletes them, then runs
 * the commands. Each result
 * comes back as a pair {"e", error text} | {"s", status} | {"v", value}, since a JSON reply cannot tell an error or a
 * status from a string once nested. Commands the store refuses at run time get their error in place, as in EXEC;
 * the caller checks before that every command is known and has a valid arity (what MULTI refuses at queue time).
 * Limits: a command of at most KVE_REST_TX_MAX_ARGS arguments (Lua's stack), no command a script may not run, and
 * a store that requires a script to declare its keys (Redis Cluster) refuses it. Appends the EVAL as a JSON array.
 */
#define KVE_REST_TX_MAX_ARGS 7000
/** Puts `len` bytes aside in the store (or not): the key (ASCII, NUL-terminated, valid until the next call), or NULL. */
typedef const char *(*kve_rest_stage_fn)(void *ctx, const char *bytes, size_t len);
void kve_rest_encode_tx_script(kve_buf_t *out, const kve_kv_command_t *const *cmds, size_t n, kve_rest_stage_fn stage, void *ctx);

/**
 * Result `i` of such a script's reply `reply` (an array of pairs): 0 with *out set (an error or status made in
 * `out`'s own fields, pointing into `reply`, or a value: *out = the pair's element, borrowed), or -1 when the reply
 * is not such an array.
 */
int kve_rest_decode_tx_result(const kve_kv_reply_t *reply, size_t i, kve_kv_reply_t *scratch, const kve_kv_reply_t **out);

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
