/* SPDX-License-Identifier: MIT */
/*
 * RESP2 request encoding: an argument vector as "*N\r\n$len\r\narg\r\n...". Written here rather than with
 * hiredis' redisFormatCommandArgv because that one builds every length prefix with sdscatfmt and a fresh
 * allocation per command, which was the largest single cost of a pipelined command (callgrind); this
 * appends into a buffer the caller reuses.
 */
#ifndef KVE_PROXY_RESP_H
#define KVE_PROXY_RESP_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/buf.h"

/** The most bytes kve_resp_write() may write for the command `argv` (an upper bound, not the exact size). */
size_t kve_resp_size(size_t argc, const size_t *argvlen);

/** Writes the RESP2 encoding of the command `argv` at `dst` (room for kve_resp_size() bytes); returns its length. */
size_t kve_resp_write(char *dst, size_t argc, const char *const *argv, const size_t *argvlen);

/** Appends the RESP2 encoding of the command `argv` to `out`. */
void kve_resp_format(kve_buf_t *out, size_t argc, const char *const *argv, const size_t *argvlen);

/** Writes `v` in decimal at `dst` (room for 20 digits) and returns the number of digits. */
size_t kve_u64toa(uint64_t v, char *dst);

#endif
