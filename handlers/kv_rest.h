/* SPDX-License-Identifier: MIT */
/*
 * The KV REST API: the Upstash / Vercel KV REST protocol (../shared/docs/kv-rest-protocol.md) over the
 * thread's link to the store kv.store names. One request becomes one command, a pipeline or a MULTI/EXEC block, issued
 * synchronously on the shared connection so other requests' commands never interleave with a
 * transaction; many requests share each thread's connection by pipelining.
 *
 * Read-your-writes across instances: after every request that may write, the handler also sends
 * INCR <sync_key> on the same connection. Redis runs it after the writes, so its value orders the writes
 * globally (all kvedge instances share the key) and a replica that has applied value N has applied every
 * write acknowledged with a token <= N. `upstash-sync-token` carries max(the highest value this process
 * has seen, the token the client sent), so the tokens kvedge hands out never go backwards. The key is an
 * ordinary key a client can overwrite or Redis can lose: kv_sync.h says how its value is kept sane.
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
    char *sync_key;
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
