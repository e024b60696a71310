/* SPDX-License-Identifier: MIT */
/*
 * A loopback harness for handlers: requests run through a path's real handlers, filters and loggers on a real h2o
 * context and event loop, with no socket (h2o's t/00unit h2o_loopback_create has the same idea; libh2o 2.2.5 does
 * not export it, so this is kvedge's own). The context is a kve_thread_t's, so handlers find "their thread" with
 * kve_server_thread() as in the server; the thread's KV link, if the test gives it one, is real.
 *
 * A test:
 *
 *     kve_loopback_t *lb = kve_loopback_create();
 *     h2o_pathconf_t *pc = kve_loopback_register_path(lb, "/healthz");
 *     kve_limits_register(pc, &limits);                       (kvedge's registration functions, in server order)
 *     kve_admin_register(pc, KVE_ADMIN_HEALTHZ, &admin, &sources);
 *     kve_loopback_start(lb);                                  (h2o_context_init: handlers' on_context_init)
 *     kve_loopback_req_t *r = kve_loopback_req(lb, "GET", "/healthz");
 *     kve_loopback_req_header(r, "authorization", "Bearer ...");
 *     CHECK_EQ_INT(kve_loopback_req_run(r, 5000), 0);         (until the response ended, or the timeout)
 *     CHECK_EQ_INT(r->status, 200);
 *     CHECK_EQ_STR(kve_loopback_res_header(r, "content-type"), "text/plain; charset=utf-8");
 *     CHECK_EQ_MEM(r->body.base, r->body.len, "ok\n", 3);
 *     kve_loopback_req_free(r);                                (disposes the request; checks nothing is left)
 *     kve_loopback_destroy(lb);
 *
 * Nothing left behind: kve_loopback_req_free() disposes the request the way a connection does (the generator is
 * stopped if the response had not ended, the loggers run, the pool is cleared) and CHECKs that the pool was
 * cleared (the handlers' request state, allocated with h2o_mem_alloc_shared, had its dispose callback run) and that
 * no KV command is left in flight on the thread's links (it runs the loop, up to 5 s, until cancelled commands
 * drained). Freeing a request before its response ended is how a test makes the client go away. ASan and LSan
 * (build-asan) catch the rest: a late callback into freed request state, a reference to the pool's memory kept, memory
 * a handler never freed.
 *
 * What a request looks like: HTTP/1.1 from 127.0.0.1:50000 to 127.0.0.1:80 over plain http, persistent, with the
 * headers and body the test set (no Content-Length header is added: h2o does not put one in req->headers either).
 * There is no socket (conn->callbacks->get_socket is NULL), so socket-level code is skipped: parking (park.h), the
 * pending-bytes charge (pending.h) and the raw-head framing check (framing.h). kve_loopback_req_wire() gives a
 * request a socket whose input buffer holds the raw head the test wrote, followed by the body, laid out as h2o's
 * HTTP/1 reader leaves it (proxy/h2o_private.h, kve_h2o_http1_raw_head), so the framing check reads that head;
 * nothing is ever sent or read on that socket (it is not reading, and the response is collected as above).
 * Streaming responses are pulled as a client would read them: each in-progress send is acknowledged on the next
 * loop iteration (the context's zero timeout), so a test can run the loop until the body holds what it waits for.
 *
 * Reuse for a new handler: register it with its kvedge registration function on a path (between the limit
 * check and the access logger, as conf/paths.c does), start, send requests. A handler that needs the KV store
 * gets a real Redis link from kve_loopback_connect_kv() (e.g. to the redis-server of redis_server.h); one that needs
 * an upstream starts one on a loopback port. One kve_loopback_t per test keeps tests independent.
 */
#ifndef KVE_TESTS_UNIT_LOOPBACK_H
#define KVE_TESTS_UNIT_LOOPBACK_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/buf.h"
#include "proxy/http1_codec.h"
#include "proxy/metrics.h"
#include "proxy/pending.h"
#include "proxy/redis_target.h"
#include "proxy/server.h"

/** One server-less worker thread: a globalconf with one host, a loop and a context. Fields are read-only for tests. */
typedef struct st_kve_loopback_t {
    /** ctx first: kve_server_thread(req->conn->ctx) converts back to it (proxy/server.h) */
    kve_thread_t thread;
    kve_metrics_thread_t metrics;
    /** the thread's one store, "default" (id 0): its links are kve_loopback_connect_kv()'s */
    kve_thread_store_t store;
    h2o_globalconf_t globalconf;
    /** NULL-terminated, for the connections */
    h2o_hostconf_t *hosts[2];
    h2o_loop_t *loop;
    int started;
    /** the thread's part of a disabled pending-bytes budget, for the sockets of kve_loopback_req_wire() */
    kve_pending_t pending;
    kve_pending_thread_t pending_thread;
    /** the targets of the links kve_loopback_connect_kv() made (they must outlive the links) */
    kve_redis_target_t targets[2];
    size_t num_targets;
} kve_loopback_t;

/** One request on its own loopback connection, and what came back. */
typedef struct st_kve_loopback_req_t {
    kve_loopback_t *lb;
    h2o_conn_t conn;
    /** the request; a test may set more of its input fields (e.g. `version`) before kve_loopback_req_run() */
    h2o_req_t req;
    /** the final output stream (kve_h2o_req_set_final_ostream): it collects the response */
    h2o_ostream_t final;
    h2o_timeout_entry_t proceed;
    /** the response began: status, reason, content_length and the headers (kve_loopback_res_header) are set */
    int started;
    /** the response ended: the final send (or an error send) came */
    int done;
    /** the response ended with H2O_SEND_STATE_ERROR (a stream cut short) */
    int send_error;
    int status;
    const char *reason;
    /** SIZE_MAX when the handler did not set one (the response would be chunked) */
    size_t content_length;
    /** the response body as the output filters produced it (what a socket would carry: chunked framing included) */
    kve_buf_t raw;
    /** the payload, NUL-terminated: `raw` without its chunked framing (h2o's chunked filter frames an HTTP/1.1
     * response without a Content-Length; the response then has "transfer-encoding: chunked") */
    kve_buf_t body;
    /** the chunked decoder's state and how much of `raw` it consumed (a broken framing fails the test) */
    int chunked;
    kve_http1_chunked_t dechunk;
    size_t raw_decoded;
    /** set when the request's pool was cleared (kve_loopback_req_free checks it) */
    int pool_cleared;
    /** kve_loopback_req_wire(): the request's socket (NULL: none), its peer's descriptor and its pending record */
    h2o_socket_t *sock;
    int peer_fd;
    kve_pending_conn_t pending;
} kve_loopback_req_t;

/** Creates the thread: globalconf (h2o defaults) with one host, "default", and a loop. */
kve_loopback_t *kve_loopback_create(void);
/** Registers `path` on the host (before kve_loopback_start); register handlers on the pathconf returned. */
h2o_pathconf_t *kve_loopback_register_path(kve_loopback_t *lb, const char *path);
/** The host's fallback path (unknown paths), for handlers registered there. */
h2o_pathconf_t *kve_loopback_fallback_path(kve_loopback_t *lb);
/** Initialises the context: the handlers' on_context_init run. Register everything before. */
void kve_loopback_start(kve_loopback_t *lb);

/**
 * Gives the thread's store 0 ("default") a real KV link to Redis at unix socket `socket_path` (kve_kv_redis_create,
 * as proxy/stores.c does on a worker) and waits up to 5 s until it is up. `read_only` 1 makes it the store's link
 * for read-only clients (store.ro; without one they use store.rw, as in the server), 0 the read-write one
 * (store.rw). Features reach it with kve_thread_link(thread, 0, read_only). Returns 0, or -1 if it did not come
 * up. After kve_loopback_start. The harness destroys the links (kve_loopback_destroy).
 */
int kve_loopback_connect_kv(kve_loopback_t *lb, const char *socket_path, int read_only);

/**
 * Runs the loop until `done(data)` returns non-zero or `timeout_ms` passed; returns 0, or -1 on the timeout.
 * `done` NULL runs it for `timeout_ms`.
 */
int kve_loopback_run_until(kve_loopback_t *lb, int (*done)(void *data), void *data, uint64_t timeout_ms);

/**
 * Disposes the context (the handlers' on_context_dispose), after destroying the KV links, then the globalconf (the
 * handlers' dispose) and the loop. Every request must have been freed.
 */
void kve_loopback_destroy(kve_loopback_t *lb);

/** A new request: `method` and `path` (the raw path, query included, as a client sends it) are copied. */
kve_loopback_req_t *kve_loopback_req(kve_loopback_t *lb, const char *method, const char *path);
/** Adds a request header (`name` is lower-cased; both are copied). */
void kve_loopback_req_header(kve_loopback_req_t *r, const char *name, const char *value);
/** Sets the request body (copied; `len` 0 is an empty body, which is not the same as none). */
void kve_loopback_req_body(kve_loopback_req_t *r, const void *body, size_t len);
/** kve_loopback_req_body with a NUL-terminated string. */
void kve_loopback_req_body_str(kve_loopback_req_t *r, const char *body);

/**
 * Makes the request one that came over an HTTP/1 socket: the socket's input buffer holds `head` (NUL-terminated:
 * the request line and header lines as a client sent them, up to and including the empty line; not parsed, so it
 * may disagree with the method, path and headers set on the request, which are what h2o would have parsed) followed
 * by the body, and req->entity points at the body in that buffer. Call after kve_loopback_req_body(), if any, and
 * once. The socket is closed by kve_loopback_req_free().
 */
void kve_loopback_req_wire(kve_loopback_req_t *r, const char *head);

/**
 * Hands the request to h2o (h2o_process_request: routing, then the path's handlers) and runs the loop until the
 * response ended or `timeout_ms` passed. Returns 0, or -1 on the timeout (the request stays in flight: free it).
 * Call once per request.
 */
int kve_loopback_req_run(kve_loopback_req_t *r, uint64_t timeout_ms);
/** Hands the request to h2o without running the loop (to act while it is in flight). */
void kve_loopback_req_start(kve_loopback_req_t *r);

/** The value of response header `name` (lower case), NUL-terminated, or NULL; valid until the request is freed. */
const char *kve_loopback_res_header(kve_loopback_req_t *r, const char *name);

/**
 * Disposes the request as its connection would, whether its response ended or not, and CHECKs that nothing is
 * left behind (see the top of this file). Frees `r`.
 */
void kve_loopback_req_free(kve_loopback_req_t *r);

#endif
