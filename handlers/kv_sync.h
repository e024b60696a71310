/* SPDX-License-Identifier: MIT */
/*
 * Sync tokens of the KV REST API (see kv_rest.h), made from the store's own state: no key in the user's
 * keyspace. A request that writes asks its batch for the store's sync position (KVE_KV_BATCH_SYNC: Redis'
 * master_repl_offset, read with ROLE after the writes, one ROLE per link per loop iteration), and gets the token:
 * - offset known and above 0 (the primary keeps a replication backlog: its offsets are the ones its replicas
 *   report): the offset. That is the least token a replica that has the writes satisfies, so the read after the
 *   write can go to a replica whichever thread wrote before it.
 * - else (no replication: the offset stays 0, or it could not be read): the last token this process handed out + 1,
 *   taken atomically (consecutive and concurrent writes on any thread get distinct, increasing tokens: the sequence
 *   alone orders them), or the client's plausible token + 1 when that is higher.
 * The highest token handed out is kept. Every response carries max(its token, the client's token), so a client never
 * sees its token go back; a response without writes of its own carries max(the highest, the client's), so a read
 * served by the primary keeps the client's next reads at least as new as every write acknowledged before it.
 *
 * (Before, a known offset only raised the sequence: with two threads, a write finishing together with another
 * thread's got the other's token + 1, above its own offset, and its read went to the primary: 81-98 % of token
 * reads from the replicas at 2 threads instead of 97-99.9 % at one.)
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
 * `client` (0: none), as the header says: `offset` when it is not 0; else strictly above every token handed out
 * before, and above the client's token when that is plausible (at most KVE_SYNC_CLIENT_SLACK above the highest
 * handed out). A client's token is never stored as the highest: a token holder cannot push other clients' reads to
 * the primary. The caller answers max(the token, the client's).
 */
uint64_t kve_sync_issue(kve_sync_state_t *state, uint64_t offset, uint64_t client);

#endif
