/* SPDX-License-Identifier: MIT */
/*
 * Slots of the KV API's SSE streams (/subscribe, /psubscribe, /monitor), each of which holds a Redis
 * connection: at most kv.max_streams open in the whole process, and at most kv.max_streams_per_token
 * opened with any one token, so that one token (typically a read-only one handed to browsers) cannot take
 * every slot. The cap is per token rather than per client address because kvedge is meant to sit behind a
 * TLS terminator or load balancer (see docs/configuration.md, HTTP/2), where every client has the same
 * address; a token is also what the operator hands out and can revoke.
 *
 * Tokens are known here only by kve_stream_slots_token_id(): the first 8 bytes of their SHA-256, which
 * can be logged (style.md: a short hash, never the secret). Thread-safe (one mutex: streams open rarely);
 * the table holds one entry per token with open streams and is freed when the last stream closes.
 */
#ifndef KVE_HANDLERS_KV_STREAM_SLOTS_H
#define KVE_HANDLERS_KV_STREAM_SLOTS_H

#include <stddef.h>
#include <stdint.h>

enum { KVE_STREAM_SLOT_OK = 0, KVE_STREAM_SLOT_TOTAL = 1, KVE_STREAM_SLOT_TOKEN = 2 };

/** The id of a token for kve_stream_slots_acquire(): 8 bytes of its SHA-256 (0 is never returned). */
uint64_t kve_stream_slots_token_id(const char *token, size_t len);

/**
 * Takes a slot for a stream of token `id` if fewer than `max_total` streams are open and fewer than
 * `max_per_token` of them are that token's. Returns KVE_STREAM_SLOT_OK, or which cap refused it. When a cap
 * refuses, `*first_refusal` is set to 1 if it is the first refusal by that cap since it was last below it
 * (for logging once per episode), else 0.
 */
int kve_stream_slots_acquire(uint64_t id, size_t max_total, size_t max_per_token, int *first_refusal);

/** Gives back a slot taken by kve_stream_slots_acquire() for token `id`. */
void kve_stream_slots_release(uint64_t id);

/** Streams open in the process (for tests and metrics). */
size_t kve_stream_slots_open(void);

#endif
