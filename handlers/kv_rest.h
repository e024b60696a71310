/* SPDX-License-Identifier: MIT */
/*
 * The KV REST API: the Upstash / Vercel KV REST protocol (../shared/docs/kv-rest-protocol.md) over the
 * thread's link to the store kv.store names. One request becomes one batch of the KV interface (proxy/kv.h): one
 * command, a pipeline (windowed), or an atomic batch for /multi-exec (MULTI/EXEC on Redis, sent whole so other
 * requests' commands never interleave with it); many requests share each thread's connection by pipelining.
 *
 * Read-your-writes: every response carries `upstash-sync-token`. A request that may write asks its batch for the
 * store's sync position (Redis: master_repl_offset, from one ROLE per link per loop iteration after the writes),
 * and its token is above every token this process handed out and at least that offset (kv_sync.h): a replica
 * whose offset reaches the token has the writes. No key in the user's keyspace is involved. The client's own
 * token (SDKs send the last one they got) is never answered with less, and is carried to the batch's reads as
 * their min_sync.
 */
#ifndef KVE_HANDLERS_KV_REST_H
#define KVE_HANDLERS_KV_REST_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/kv_auth.h"
#include "handlers/kv_policy.h"
#include "proxy/server.h"

typedef struct st_kve_rest_conf_t {
    /** URL prefix ("/kv"); "" when the API owns its listeners */
    char *path;
    /** the name of the store the API serves, and its id (set when the configuration is loaded) */
    char *store;
    size_t store_id;
    struct {
        kve_rest_token_conf_t *entries;
        size_t size;
    } tokens;
    /** HS256 key for tokens minted by `kvedge token` (secret; NULL: JWTs refused) */
    char *jwt_key;
    /** longest JWT lifetime minted or accepted (kv_auth.h) */
    uint64_t jwt_max_ttl_ms;
    uint64_t max_request_size;
    uint64_t max_key_size;
    uint64_t max_reply_size;
    int64_t max_commands;
    int allow_keys;
    int allow_flush;
    int64_t scan_max_count;
    struct {
        char **entries;
        size_t size;
    } deny_commands, allow_commands, cors_origins;
    /** 0: the link's command timeout */
    uint64_t command_timeout_ms;
    /** requests that run a script (EVAL*, FCALL*): their timeout, after which the script is stopped */
    uint64_t script_timeout_ms;
    uint64_t heartbeat_ms;
    /** open SSE streams (one Redis connection each) allowed across all threads */
    int64_t max_streams;
    /** ... of which one token may hold */
    int64_t max_streams_per_token;
    /** listeners that serve only this API (empty: it is served on the main listeners at `path`) */
    struct {
        kve_listen_conf_t *entries;
        size_t size;
    } listen;
} kve_rest_conf_t;

/** The command policy `conf` configures (its lists are borrowed from `conf`). */
void kve_rest_policy_of(const kve_rest_conf_t *conf, kve_rest_policy_t *out);

/** Registers the API as the next handler of `pathconf`. `conf` is borrowed and must outlive the server. */
void kve_rest_register(h2o_pathconf_t *pathconf, const kve_rest_conf_t *conf);

#endif
