/* SPDX-License-Identifier: MIT */
/*
 * The KV REST API's raw response format (`Upstash-Response-Format: resp2`, kv-rest-protocol.md §3): a reply
 * serialised as RESP2. The JSON format is the core's (proxy/json.h).
 */
#ifndef KVE_HANDLERS_KV_REPLY_H
#define KVE_HANDLERS_KV_REPLY_H

#include <stddef.h>
#include "proxy/buf.h"
#include "proxy/kv.h"

/**
 * Appends `reply` serialised as RESP2 ("+OK\r\n", "$3\r\nbar\r\n", "*2\r\n...", "$-1\r\n", ":1\r\n", "-ERR x\r\n";
 * KVE_REPLY_TOO_BIG is the error KVE_JSON_TOO_BIG_TEXT). Bounded like the JSON encoders (proxy/json.h):
 * `limit` is the most bytes `out` may hold; returns 0, or -1 as soon as the output passes it. SIZE_MAX means
 * no limit.
 */
int kve_rest_resp2(kve_buf_t *out, const kve_kv_reply_t *reply, size_t limit);

#endif
