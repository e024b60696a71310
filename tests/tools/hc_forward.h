/* SPDX-License-Identifier: MIT */
/*
 * Test-only HTTP handlers that drive the HTTP client (proxy/httpclient.h) from HTTP requests, for the
 * integration tests and the benchmark (never linked into kvedge):
 *
 *   <prefix>/<rest>          forwards the request to the upstream as "/<rest>" through the thread's client
 *                            and streams the response back (flow control end to end);
 *   stats path               the thread's client counters as JSON.
 *
 * Request headers that steer the forwarder (removed before forwarding):
 *   x-hc-gen-body: N         send a generated body of N bytes (byte i = i % 251) instead of the request's,
 *                            streamed with kve_httpclient_write in pieces of x-hc-gen-piece bytes (64 KiB);
 *   x-hc-gen-chunked: 1      ... with unknown length (chunked) instead of Content-Length;
 *   x-hc-sink: 1             read the whole response body and answer 200 with JSON {status, bytes, sha256};
 *   x-hc-cancel-after-ms: N  cancel the client request after N ms (answer 499, or abort a started response);
 *   x-hc-cancel-in: head|body  cancel from inside on_head (returning 1) or the first on_body;
 *   x-hc-retry-safe: 1       set retry_safe.
 * Errors answer kve_err_http_status(err) with "x-hc-error: <name>" and the message and detail as the body;
 * once the response has started, an error aborts it (the client sees the connection close early).
 */
#ifndef KVE_TESTS_TOOLS_HC_FORWARD_H
#define KVE_TESTS_TOOLS_HC_FORWARD_H

#include "h2o.h"
#include "proxy/httpclient.h"

/** Where a handler finds the client of its upstream on the request's thread. */
typedef kve_httpclient_t *(*kve_hc_lookup_cb)(h2o_req_t *req, size_t upstream_index);

/** Registers the forwarder for upstream `index` on `pathconf`. */
void kve_hc_register_forward(h2o_pathconf_t *pathconf, size_t index, kve_hc_lookup_cb lookup);
/** Registers the stats endpoint for upstream `index` on `pathconf`. */
void kve_hc_register_stats(h2o_pathconf_t *pathconf, size_t index, kve_hc_lookup_cb lookup);

/** Frees what the handlers keep per thread (call on the thread, before its loop is destroyed). */
void kve_hc_thread_dispose(h2o_loop_t *loop);

#endif
