/* SPDX-License-Identifier: MIT */
/* Shared by the KV REST request handler (kv_rest.c) and its streaming endpoints (kv_sse.c). */
#ifndef KVE_HANDLERS_KV_REST_INTERNAL_H
#define KVE_HANDLERS_KV_REST_INTERNAL_H

#include "handlers/kv_auth.h"
#include "handlers/kv_policy.h"
#include "handlers/kv_rest.h"
#include "handlers/kv_sync.h"
#include "proxy/buf.h"

typedef struct st_kve_rest_handler_t {
    h2o_handler_t super;
    const kve_rest_conf_t *conf;
    kve_rest_auth_t *auth;
    kve_rest_policy_t policy;
    size_t prefix_len;
    /** the store the API serves (conf->store_id, kept here with the other fields every request reads) */
    size_t store_id;
    /** keeps the fields above, read by every request, off the cache line every write updates below */
    char pad_[64];
    /** the sync-token counter as every thread has seen it (kv_sync.h) */
    kve_sync_state_t sync;
} kve_rest_handler_t;

/** Per worker thread. */
typedef struct st_kve_rest_thread_t {
    /** SSE heartbeats */
    h2o_timeout_t heartbeat;
} kve_rest_thread_t;

kve_rest_thread_t *kve_rest__thread(kve_rest_handler_t *self, h2o_req_t *req);

/** The thread's link to the API's store for a token of the given class (read-only tokens have a link of their own,
 * as a Redis user with read-only rights, when the store has one); NULL while the thread has none. */
static inline kve_kv_t *kve_rest__link(const kve_rest_handler_t *self, const kve_thread_t *thread, int read_only)
{
    return kve_thread_link(thread, self->store_id, read_only);
}

/** The highest sync token handed out by this process (no response carries less). */
static inline uint64_t kve_rest__sync_seen(kve_rest_handler_t *self)
{
    return kve_sync_seen(&self->sync);
}

/** Adds the CORS response headers when the request's Origin is allowed. */
void kve_rest__add_cors(kve_rest_handler_t *self, h2o_req_t *req);

/** Adds the `upstash-sync-token` response header. */
void kve_rest__add_sync_header(h2o_req_t *req, uint64_t sync);

/** Sends {"error":msg} with `status` (and the sync token and CORS headers). */
void kve_rest__send_error(kve_rest_handler_t *self, h2o_req_t *req, int status, const char *msg, uint64_t sync);

/** Sends the error of a failed KV operation: {"error":"ERR <kve_strerror(err)>"} with kve_err_http_status(err). */
void kve_rest__send_kv_error(kve_rest_handler_t *self, h2o_req_t *req, int err, uint64_t sync);

/**
 * SSE endpoints: `kind` is "subscribe", "psubscribe" or "monitor"; `args` the path after it ("/ch1/ch2");
 * `token` the token the request was authenticated with (for kv.max_streams_per_token; borrowed for the call);
 * `read_only` its class (read-only tokens' streams connect as the read-only Redis user).
 */
void kve_rest__serve_stream(kve_rest_handler_t *self, h2o_req_t *req, h2o_iovec_t token, const char *kind, const char *args,
                            size_t args_len, int read_only);

#endif
