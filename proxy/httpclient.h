/* SPDX-License-Identifier: MIT */
/*
 * kvedge's HTTP/1.1 client, on h2o's event loop, one instance per upstream per worker thread: for work
 * that has no client request to proxy (cache refreshes, coalesced fetches that outlive their first
 * client, the KV-over-REST driver).
 *
 * Why not h2o_http1client (h2o 2.2.5, lib/common/http1client.c)? It was read and measured (bench/httpclient.sh:
 * h2o's proxy handler is h2o_http1client plus h2o's socket pool). It cannot do what this client must:
 *  - request bodies: one iovec array handed over at connect, no streaming and no chunked encoding;
 *  - response bodies: no flow control (the socket is read until the peer stops; h2o's proxy buffers the
 *    rest, spilling to temporary files above 32 MiB), and a chunked body cut after a complete chunk is
 *    reported as a successful end ("browsers appear to ignore a missing 0\r\n chunk");
 *  - no limit on the size of a response head (it re-parses a growing buffer until the I/O timeout),
 *    Transfer-Encoding other than chunked taken as close-delimited, one timeout for connect and I/O;
 *  - its socket pool (h2o_socketpool_t) is shared by all threads behind a mutex, exports every returned
 *    socket out of its loop and re-imports it on reuse (epoll_ctl DEL + ADD per request), has no bound
 *    on connections ("capacity" is a FIXME) and no cap on requests in flight.
 * Fixing that from outside is not possible (the parser and timers are static), so this client is built
 * on h2o's socket layer (h2o_socket_connect/_write/_read_start, h2o_socket_ssl_handshake) with its own
 * wire format (http1_codec.h) and a per-thread pool whose idle sockets stay in their loop. Measured on
 * nginx `return 200` through a forwarding handler on each, same route, same process, same run
 * (bench/httpclient.sh, docs/benchmarks.md): 1.20x the requests/s of h2o's proxy handler at 0.83x the
 * server CPU per request, 16.2 k against 18.2 k instructions per request (callgrind).
 *
 * Objects and threads:
 *  - kve_httpclient_upstream_t: one upstream (scheme, host, port, TLS context, limits), created at
 *    startup from a kve_httpclient_conf_t and shared read-only by every thread;
 *  - kve_httpclient_t: that upstream on one worker thread (its h2o context): the keep-alive pool, the
 *    cap on requests in flight, the FIFO queue, the timers and counters. Use it only on its thread. The
 *    limits (max_inflight, max_queue, max_idle) are per thread;
 *  - kve_httpclient_req_t: one request, opaque, from kve_httpclient_request() until it ends.
 *
 * A request's life (every callback runs on the client's thread, from its event loop, never from inside
 * a call made by the caller, except as noted for kve_httpclient_proceed):
 *  1. kve_httpclient_request() accepts it (0) or refuses it at once with no callback: KVE_EUPSTREAM_BUSY
 *     when max_inflight requests hold connections and max_queue wait already, KVE_EINVAL for a bad
 *     request, KVE_ESHUTDOWN while the client is being destroyed. Accepted requests wait in FIFO order.
 *  2. A connection: an idle one from the pool (most recently used first; idle sockets are watched, one
 *     the upstream closed is dropped at once), else a new one (resolve, connect, TLS handshake, all
 *     within connect_timeout).
 *  3. The request head, then the body: inline (`body`), or streamed with kve_httpclient_write() pieces,
 *     framed with Content-Length (a known `body_size`) or chunked (KVE_HTTPCLIENT_CHUNKED).
 *  4. on_head once, then on_body with consecutive pieces of the decoded body; the last one has
 *     is_final set (possibly with no bytes). After each on_body the client reads nothing more from this
 *     connection until the caller calls kve_httpclient_proceed(): that is the flow control, so memory
 *     per request stays bounded (by what one read brings: the socket buffers) whatever the body size.
 *  5. It ends with on_error (after which `req` is freed) or with the kve_httpclient_proceed() (or
 *     kve_httpclient_cancel()) that follows the final on_body.
 * A body cut short (upstream closed, bad chunk framing, timeout) is on_error, never a final on_body:
 * only a close-delimited body (no Content-Length, not chunked) ends at the upstream's close.
 *
 * Errors (on_error's `err`, see err.h): KVE_EUPSTREAM_CONNECT (refused, reset, unreachable),
 * KVE_EUPSTREAM_RESOLVE, KVE_EUPSTREAM_CONNECT_TIMEOUT (connect and TLS handshake), KVE_EUPSTREAM_TLS
 * (handshake or certificate: chain, or name checked by OpenSSL, see tls_client.h),
 * KVE_EUPSTREAM_IO_TIMEOUT (no progress writing, waiting for the response, or between reads: only while
 * the client waits on the upstream, never while the caller holds a piece or owes a write),
 * KVE_EUPSTREAM_DEADLINE (deadline_ms from kve_httpclient_request, queue included), KVE_EUPSTREAM_PROTO
 * (malformed head or framing), KVE_EUPSTREAM_TOO_LARGE (head over max_head_size or max_headers),
 * KVE_EUPSTREAM_CLOSED (closed before the response was complete), KVE_EUPSTREAM_IO (read or write
 * error), KVE_ESHUTDOWN (kve_httpclient_destroy). `detail` says more (for logs; valid during the call).
 *
 * Retries: a request sent on a reused connection that fails before any response byte arrived (the
 * upstream closed the idle connection as it was being reused) is sent once more on a new connection,
 * when its method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) or `retry_safe` is set, and its
 * body is not streamed. Nothing else is retried.
 *
 * Cancellation: kve_httpclient_cancel() ends a request at any point (queued, connecting, sending,
 * receiving, or after the final on_body) and no callback of it runs afterwards; its connection is closed
 * (it is in an unknown state) unless the response was complete. Calling it from inside one of the
 * request's own callbacks is allowed (returning non-zero from on_head is the same).
 */
#ifndef KVE_PROXY_HTTPCLIENT_H
#define KVE_PROXY_HTTPCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/http1_codec.h"

/** Most response headers a client may be configured to accept. */
#define KVE_HTTPCLIENT_MAX_HEADERS 256
/** Most buffers in one kve_httpclient_write(). */
#define KVE_HTTPCLIENT_MAX_WRITE_BUFS 8
/** `body_size` values: no body, or a streamed body of unknown length (chunked). */
#define KVE_HTTPCLIENT_NO_BODY KVE_HTTP1_REQ_NO_BODY
#define KVE_HTTPCLIENT_CHUNKED KVE_HTTP1_REQ_CHUNKED

/** An upstream and its limits. kve_httpclient_conf_defaults() fills everything but `url`. */
typedef struct st_kve_httpclient_conf_t {
    /** "http://host[:port][/]" or "https://host[:port][/]"; host is a name, an IPv4/IPv6 literal or [unix:/path] */
    const char *url;
    /** https: CA bundle to verify the upstream's chain (NULL or "": the system store) */
    const char *ca_file;
    /** https: the name to verify and send as SNI (NULL: the URL's host) */
    const char *tls_server_name;
    /** resolve, connect and TLS handshake of a new connection (> 0) */
    uint64_t connect_timeout_ms;
    /** no progress writing the request, waiting for the response, or between reads (> 0) */
    uint64_t io_timeout_ms;
    /** whole request, from kve_httpclient_request to the final piece, queue included (0: none) */
    uint64_t deadline_ms;
    /** idle keep-alive connections are closed after this (0: no keep-alive, one connection per request) */
    uint64_t idle_timeout_ms;
    /** idle connections kept per thread (the oldest is closed beyond) */
    size_t max_idle;
    /** requests holding a connection per thread (>= 1) */
    size_t max_inflight;
    /** requests waiting for a connection per thread; beyond, KVE_EUPSTREAM_BUSY at once */
    size_t max_queue;
    /** response status line and headers, bytes (256 .. 1 MiB) */
    size_t max_head_size;
    /** response headers (1 .. KVE_HTTPCLIENT_MAX_HEADERS) */
    size_t max_headers;
} kve_httpclient_conf_t;

typedef struct st_kve_httpclient_upstream_t kve_httpclient_upstream_t;
typedef struct st_kve_httpclient_t kve_httpclient_t;
typedef struct st_kve_httpclient_req_t kve_httpclient_req_t;

/** A request. Everything is copied by kve_httpclient_request() except `body`. */
typedef struct st_kve_httpclient_request_t {
    h2o_iovec_t method;
    /** origin-form target: "/path?query" */
    h2o_iovec_t path;
    /** extra headers; "host" replaces the default (the URL's authority); framing and connection headers are refused */
    const kve_http1_field_t *headers;
    size_t num_headers;
    /** KVE_HTTPCLIENT_NO_BODY, a length (Content-Length), or KVE_HTTPCLIENT_CHUNKED */
    uint64_t body_size;
    /**
     * The whole body at once (then body_size == body.len), or {NULL, 0} to stream it with
     * kve_httpclient_write(). Borrowed: it must stay valid until the request ends (on_error, the final
     * on_body, or the cancellation): an upstream may answer before it has read the whole body.
     */
    h2o_iovec_t body;
    /** the request may be sent twice (see Retries above) even though its method is not idempotent */
    int retry_safe;
    /** send it on a new connection, never on an idle one from the pool (a caller's own retry after a lost connection) */
    int new_connection;
} kve_httpclient_request_t;

/** The response head given to on_head; everything in it is valid during the call only. */
typedef struct st_kve_httpclient_response_t {
    int status;
    int minor_version;
    h2o_iovec_t reason;
    /** names are lower-case; hop-by-hop headers are included (the caller filters what it forwards) */
    const kve_http1_header_t *headers;
    size_t num_headers;
    /**
     * the Content-Length (for HEAD, 204 and 304 what it announces, though no body follows), 0 for other bodiless
     * responses, else UINT64_MAX (chunked, close-delimited)
     */
    uint64_t content_length;
} kve_httpclient_response_t;

/** A request's callbacks (the table is borrowed for the request's life: make it static const). */
typedef struct st_kve_httpclient_callbacks_t {
    /** The response head. Return 0 to receive the body, non-zero to cancel the request (no further callback). */
    int (*on_head)(kve_httpclient_req_t *req, void *data, const kve_httpclient_response_t *res);
    /**
     * Body bytes (`len` may be 0 with is_final). They stay valid, and nothing more is read, until the caller
     * calls kve_httpclient_proceed() (from here or later) or cancels. With is_final the response is complete
     * and the connection already back in the pool; the proceed (or cancel) that follows frees the request.
     * While a piece is held no on_error comes (a deadline that passes meanwhile is reported after the
     * proceed), except from kve_httpclient_destroy(), after which the piece is gone.
     */
    void (*on_body)(kve_httpclient_req_t *req, void *data, const char *bytes, size_t len, int is_final);
    /** The request failed; `req` is freed when this returns (do not cancel it). */
    void (*on_error)(kve_httpclient_req_t *req, void *data, int err, const char *detail);
    /** Streamed bodies: the previous kve_httpclient_write() has been sent and its buffers are released. May be NULL otherwise. */
    void (*on_write_ready)(kve_httpclient_req_t *req, void *data);
} kve_httpclient_callbacks_t;

/** Counters of one client (one upstream on one thread). */
typedef struct st_kve_httpclient_stats_t {
    /** accepted by kve_httpclient_request */
    uint64_t requests;
    /** refused with KVE_EUPSTREAM_BUSY */
    uint64_t rejected;
    /** ended with a final on_body */
    uint64_t completed;
    /** ended with an error (reported or not: the caller may have cancelled first) */
    uint64_t failed;
    /** cancelled by the caller before the response was complete */
    uint64_t cancelled;
    /** new connections established (TCP, and TLS when https) */
    uint64_t connections;
    /** requests sent on a connection from the pool */
    uint64_t reused;
    /** requests sent again after a reused connection failed (see Retries) */
    uint64_t retries;
    /** right now: requests holding a connection, waiting in the queue; idle connections */
    size_t inflight;
    size_t queued;
    size_t idle;
} kve_httpclient_stats_t;

/** Defaults: connect 5s, I/O 30s, no deadline, idle 2s, 16 idle, 256 in flight, 1024 queued, 64 KiB head, 100 headers. */
void kve_httpclient_conf_defaults(kve_httpclient_conf_t *conf);

/**
 * Creates an upstream from `conf` (copied; strings too). Validates the URL and the limits and builds the
 * TLS context. Returns it, or NULL with a message in `err`. Thread-safe to share once created.
 */
kve_httpclient_upstream_t *kve_httpclient_upstream_create(const kve_httpclient_conf_t *conf, char *err, size_t errlen);
/** Frees an upstream after every client of it has been destroyed. NULL is a no-op. */
void kve_httpclient_upstream_destroy(kve_httpclient_upstream_t *up);
/** The upstream's configuration (strings owned by the upstream). */
const kve_httpclient_conf_t *kve_httpclient_upstream_conf(const kve_httpclient_upstream_t *up);

/** Creates the client of `up` on the thread that runs `ctx` (its loop and its resolver). `up` must outlive it. */
kve_httpclient_t *kve_httpclient_create(h2o_context_t *ctx, kve_httpclient_upstream_t *up);
/**
 * Destroys a client on its thread: every request not yet ended gets on_error(KVE_ESHUTDOWN) (requests
 * started from those callbacks are refused), connections are closed, and the loop is run until their
 * sockets are freed (a TLS close_notify needs a write). Call before the context is disposed.
 */
void kve_httpclient_destroy(kve_httpclient_t *client);
/** Copies the counters. */
void kve_httpclient_get_stats(const kve_httpclient_t *client, kve_httpclient_stats_t *out);

/**
 * Starts a request (see the life of a request above). `spec` and the headers are copied except
 * `spec->body`; `cb` and `data` are borrowed until the request ends. Returns 0 with the request in `*out`,
 * or KVE_EUPSTREAM_BUSY, KVE_EINVAL (bad method, path or header; body_size and body disagree) or
 * KVE_ESHUTDOWN, with no callback.
 */
int kve_httpclient_request(kve_httpclient_t *client, const kve_httpclient_request_t *spec, const kve_httpclient_callbacks_t *cb,
                           void *data, kve_httpclient_req_t **out);

/**
 * Gives the next piece of a streamed request body: up to KVE_HTTPCLIENT_MAX_WRITE_BUFS buffers (borrowed
 * until on_write_ready, or the request's end), `is_final` on the last one. One write may be outstanding:
 * the first may follow kve_httpclient_request() at once, the next come after on_write_ready. A non-final
 * piece must not be empty. Returns 0, or KVE_EINVAL for a misuse (nothing is sent: a write outstanding,
 * an empty non-final piece, more than the announced body_size or a final piece short of it, a body that
 * was given inline or not announced, a write after the final piece). Once the response head has arrived
 * (the upstream answered before reading the whole body) pieces are accepted and dropped, and
 * on_write_ready is not called again.
 */
int kve_httpclient_write(kve_httpclient_req_t *req, const h2o_iovec_t *bufs, size_t nbufs, int is_final);

/**
 * The caller is done with the bytes of the last on_body. The client consumes them and reads on; the next
 * on_body may be called from inside this call when more of the body is already buffered (unless called
 * from inside a callback of this request). After the final on_body, frees the request.
 */
void kve_httpclient_proceed(kve_httpclient_req_t *req);

/** Ends the request at once; no callback of it runs afterwards (see Cancellation above). */
void kve_httpclient_cancel(kve_httpclient_req_t *req);

#endif
