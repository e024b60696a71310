/* SPDX-License-Identifier: MIT */
/*
 * Request decoding for the KV REST API: JSON bodies and URL paths into command argument vectors.
 *
 * Hand-written instead of using jansson for two reasons: a number argument must reach Redis as the exact
 * literal text the client sent ("1e+21", "100.50"), which jansson cannot give back after converting it to
 * a double or integer; and strings are decoded in place into the request body, so a value is copied once
 * (into hiredis's output buffer) rather than three times (DOM, argv, output). The grammar accepted is
 * exactly RFC 8259 for the shapes the protocol uses: an array of scalars, or an array of such arrays.
 *
 * Ownership: argv pointers point into the buffer passed in (which is modified: strings are unescaped in
 * place) or into `pool`; the arrays themselves are allocated from `pool`. Nothing needs freeing.
 */
#ifndef KVE_HANDLERS_KV_JSON_H
#define KVE_HANDLERS_KV_JSON_H

#include <stddef.h>
#include "h2o.h"

/** One command: argv[0] is the command name. */
typedef struct st_kve_rest_cmd_t {
    size_t argc;
    const char **argv;
    size_t *argvlen;
} kve_rest_cmd_t;

/**
 * Parses `body` (len bytes, modified in place) as one command: a JSON array of strings, numbers
 * (literal text kept) or booleans ("true"/"false"). Whitespace around tokens is allowed. Returns 0, or -1
 * with a static-or-pool error message in *err (always starting with "ERR "), e.g.
 *   "ERR invalid JSON at byte 7: expected ',' or ']'"
 *   "ERR empty command"
 *   "ERR the request body must be a JSON array, like [\"SET\",\"key\",\"value\"]"
 *   "ERR argument 3 is null"   (1-based, counting the command name as argument 1)
 *   "ERR argument 2 is an array; arguments must be strings, numbers or booleans"   (or "an object")
 *   "ERR invalid UTF-8 in a JSON string at byte 12"
 *   "ERR invalid escape in a JSON string at byte 9"   (including lone surrogates \ud800)
 *   "ERR unexpected data after the JSON value at byte 20"
 */
int kve_rest_parse_command(char *body, size_t len, h2o_mem_pool_t *pool, kve_rest_cmd_t *out, const char **err);

/**
 * Parses `body` as a list of commands: a JSON array of arrays as above. More than `max_commands`
 * commands is an error ("ERR too many commands in one request: more than N"); so is an empty list
 * ("ERR empty pipeline") or an empty inner array ("ERR command 3 is empty", 1-based). Errors inside a
 * command name it: "ERR command 2: argument 3 is null".
 */
int kve_rest_parse_commands(char *body, size_t len, h2o_mem_pool_t *pool, size_t max_commands, kve_rest_cmd_t **cmds, size_t *ncmds,
                            const char **err);

/**
 * Builds a command from a URL path after the API prefix (e.g. "/set/foo/bar", already stripped of the
 * query): segments split on '/', each percent-decoded ("%2F" is a '/' inside an argument, '+' stays '+');
 * one trailing '/' is ignored, inner empty segments are empty arguments. If `body_len` is non-zero the raw
 * body bytes are appended as one more argument (not parsed). Then every query parameter except `_token`
 * is appended as two arguments (name, value), or one if it has no '=' ("?NX"); in the query '+' means a
 * space and percent-escapes are decoded. `path` and `query` (may be NULL) are not modified (decoding
 * writes into pool copies). Errors: "ERR empty command", "ERR invalid percent-encoding in the URL".
 */
int kve_rest_parse_path(const char *path, size_t path_len, const char *query, size_t query_len, const char *body, size_t body_len,
                        h2o_mem_pool_t *pool, kve_rest_cmd_t *out, const char **err);

/**
 * Finds query parameter `name` (exact, case-sensitive) in `query` (without the '?') and returns its
 * percent-decoded value in `pool` through *value; returns 0 if found, -1 if absent or malformed.
 * The first occurrence wins; a name without '=' has an empty value; the value is NUL-terminated. Unlike
 * kve_rest_parse_path(), a '+' in the value stays a '+' (only "%2B"/"%20" are decoded): tokens are base64
 * and are often pasted into URLs unencoded. Names are compared after decoding ('+' as a space there).
 */
int kve_rest_query_param(const char *query, size_t query_len, const char *name, h2o_mem_pool_t *pool, h2o_iovec_t *value);

#endif
