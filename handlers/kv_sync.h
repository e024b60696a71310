/* SPDX-License-Identifier: MIT */
/*
 * Sync tokens of the KV REST API (see kv_rest.h), made from the store's own state: no key in the user's
 * keyspace. A request that writes asks its batch for the store's sync position (KVE_KV_BATCH_SYNC: Redis'
 * master_repl_offset, read with ROLE after the writes, one ROLE per link per loop iteration), and gets the token
 *     max(the last token this process handed out + 1, the offset, the client's plausible token + 1)
 * taken atomically, so consecutive and concurrent writes on any thread always get distinct, increasing tokens
 * (a primary without replicas keeps its offset at 0: the sequence alone orders them), and a token is never
 * below the offset of the writes it acknowledges: a replica whose own offset is at least the token has them.
 * Every response carries max(the highest token handed out, the client's token), so a client never sees its
 * token go back.
 */
#ifndef KVE_HANDLERS_KV_SYNC_H
#define KVE_HANDLERS_KV_SYNC_H

#include <stddef.h>
#include <stdint.h>

/** How far above the process' last token a client's token is still believed (a client cannot push tokens far). */
#define KVE_SYNC_CLIENT_SLACK ((uint64_t)1 << 32)

/** Shared by all threads of one KV API; zero-initialised. Accessed atomically. */
typedef struct st_kve_sync_state_t {
    /** the highest token handed out */
    uint64_t last;
} kve_sync_state_t;

/**
 * The token a client sent in `upstash-sync-token` (`len` bytes): 1 and *v when it is a decimal number of at most
 * 19 digits, else 0 (an empty, foreign or garbage token is ignored).
 */
int kve_sync_parse(const char *s, size_t len, uint64_t *v);

/** The highest token handed out so far. */
uint64_t kve_sync_seen(kve_sync_state_t *state);

/**
 * Hands out the token of a write whose batch read sync position `offset` (0 when unknown) for a client that sent
 * `client` (0: none): strictly above every token handed out before, and at least `offset`.
 */
uint64_t kve_sync_issue(kve_sync_state_t *state, uint64_t offset, uint64_t client);

#endif
