/* SPDX-License-Identifier: MIT */
/*
 * The KV REST driver of the KV interface: a store reached over the Upstash / Vercel KV REST protocol
 * (../shared/docs/kv-rest-protocol.md; kvedge's own /kv API is one such server), on kvedge's HTTP client
 * (httpclient.h: keep-alive pool, cap, verifying TLS). One link per worker thread per store, like the Redis
 * driver, with the same state, circuit breaker and counters (kve_kv_stats_t), so /readyz and /metrics cover it.
 *
 * Automatic pipelining: every command sent in one event-loop turn goes out in one `POST <prefix>/pipeline`
 * (more requests past max_pipeline_commands or max_pipeline_bytes of JSON); an atomic batch is one
 * `POST <prefix>/multi-exec`. Order: a request that writes starts when no other is out, and none starts while it
 * is out; requests that only read run side by side (kv.h, "Order between batches"). JSON strings cannot carry bytes that are not
 * UTF-8, so a command with such an argument goes alone in the path form (`POST <prefix>/CMD/arg/...`, percent-encoded, the last
 * argument as the raw body); an atomic batch with one (the cache stores binary bodies so) goes as one EVAL of a script that runs
 * its commands in order, atomically, its small non-UTF-8 arguments hex-encoded, its large ones put aside first with a PSETEX in the
 * path form (kve_rest_encode_tx_script: limits there; a command MULTI would refuse at queue time, unknown or of a wrong arity,
 * refuses the batch at once, KVE_EINVAL). Every request asks for `Upstash-Encoding: base64`, so reply bytes round-trip exactly;
 * replies are decoded with jansson (strings, integers, nil, nested arrays, {"error"} entries as KVE_REPLY_ERROR).
 *
 * Errors: HTTP 401/403 -> KVE_EAUTH (the link stays down, one log line per episode, never the token), 413 ->
 * KVE_ETOO_LARGE, 429 -> KVE_ERATE_LIMITED, 5xx and anything unexpected -> KVE_EPROTO, a store that cannot be
 * reached (refused, unresolved, connect timeout, TLS) -> KVE_ECONN and the link goes down (reconnecting with backoff
 * through a PING), a connection lost mid-request -> KVE_ECONN for that request's commands, an I/O timeout ->
 * KVE_ETIMEDOUT.
 * A response body is read up to a bound derived from its commands' max_reply_size (and max_response_size): past
 * it the request is dropped and its commands get KVE_REPLY_TOO_BIG, without the bytes being kept.
 *
 * Retries: after a network error before any response came (connect refused or reset, a kept-alive connection the
 * store closed or reset as it was reused: the stale keep-alive race), the request's reads (commands the command table,
 * proxy/kv_commands.h, calls KVE_CMD_K_READ) are sent once more, on a new connection, in a request of their own that
 * takes the failed one's place; its writes are never sent twice: whether they ran is unknown, and they fail with
 * KVE_ECONN. A /multi-exec is retried only when every command of it reads. Timeouts, TLS errors and HTTP errors are
 * not retried. Counted in kve_kv_stats_t.retries (commands), with the per-request counters (pipelines, bytes, errors).
 *
 * Sync: the highest `upstash-sync-token` received is kept per store, shared by every thread's link
 * (kve_kv_rest_conf_t.sync, kv_rest_sync.h), and sent on every request, so a write answered on one thread is
 * followed by reads carrying its token on every thread; a KVE_KV_BATCH_SYNC batch learns it once the request
 * carrying its last command is answered (known when the token is a decimal number, as kvedge's are).
 *
 * Not yet: streams (SUBSCRIBE and MONITOR answer KVE_ENOTSUP: they need the SSE endpoints).
 */
#ifndef KVE_PROXY_KV_REST_DRIVER_H
#define KVE_PROXY_KV_REST_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/httpclient.h"
#include "proxy/kv.h"
#include "proxy/kv_rest_sync.h"

/** Defaults of the pipelining bounds (the SDK's auto-pipeline takes at most 1000 commands). */
#define KVE_KV_REST_MAX_COMMANDS 1000
#define KVE_KV_REST_MAX_BYTES (1024 * 1024)
#define KVE_KV_REST_MAX_RESPONSE (512 * 1024 * 1024)

/** How a link talks to its store; everything is copied by kve_kv_rest_create except the strings (borrowed, outliving the link). */
typedef struct st_kve_kv_rest_conf_t {
    /** the store's name, for logs */
    const char *store_name;
    /** the bearer token (never logged) */
    const char *token;
    /** the path the API lives under ("" for the root, "/kv" for a kvedge whose API is at /kv) */
    const char *prefix;
    uint64_t command_timeout_ms;
    uint64_t reconnect_max_delay_ms;
    uint64_t breaker_threshold;
    /** commands and JSON bytes per /pipeline request (0: the defaults above) */
    size_t max_commands, max_bytes;
    /** the most bytes of one response body the link reads (0: KVE_KV_REST_MAX_RESPONSE) */
    size_t max_response_size;
    /** the store's sync token, shared by every thread's link (borrowed, outliving the links; NULL: the link keeps its own) */
    kve_kv_rest_sync_t *sync;
} kve_kv_rest_conf_t;

/**
 * Splits a store URL "http(s)://host[:port][/prefix]" into the HTTP client's URL (the origin, written to
 * `origin`) and the path prefix (written to `prefix`, without a trailing '/'). Returns 0, or -1 with a message in
 * `err` when a buffer is too small or the URL has a query or fragment.
 */
int kve_kv_rest_split_url(const char *url, char *origin, size_t origin_size, char *prefix, size_t prefix_size, char *err,
                          size_t errlen);

/**
 * Creates a link on the thread running `ctx` to upstream `up` (borrowed; shared by every thread, outliving the
 * link) and starts probing it (a PING): the link is usable at once, commands queue while it connects. `stats`
 * (may be NULL) as kve_kv_redis_create's.
 */
kve_kv_t *kve_kv_rest_create(h2o_context_t *ctx, kve_httpclient_upstream_t *up, const kve_kv_rest_conf_t *conf,
                             kve_kv_stats_t *stats);

#endif
