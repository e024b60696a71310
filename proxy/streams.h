/* SPDX-License-Identifier: MIT */
/*
 * kvedge_open_streams without a cost per request: the count of a connection's requests in flight lives on the
 * connection record every client socket already carries (kve_pending_conn_t, the socket's on_close.data).
 *
 * The limit check, the first handler of every path, opens the stream (kve_streams_open: +1 on the connection and on
 * the thread's gauge); the access logger, which h2o 2.2.5 runs from h2o_dispose_request() for every request bound to
 * a path (when its response is done, or its client went away, or its HTTP/2 stream was reset), closes it
 * (kve_streams_done) only if the connection has one open. That "only if" is what keeps the gauge exact: h2o answers
 * some requests itself before routing (HTTP/1: a body over globalconf.max_request_entity_size, a request line or
 * header it cannot take, an unknown Expect; HTTP/2: malformed headers), binding them to the host's fallback path
 * without calling any handler, so their logger runs for a stream nobody opened. An HTTP/1 connection carries one
 * request at a time (h2o disposes a request before it reads the next), so its count is 0 or 1 and such a request
 * finds 0: the gauge is exact. On an HTTP/2 connection with other streams open, a stream h2o refused itself closes
 * one of theirs early (the gauge is one low until the connection's streams are done); it cannot go negative (a
 * connection never closes more than it opened) and cannot drift (the connection's count is back to 0 when its last
 * stream is done). kve_streams_conn_closed() settles whatever a connection still counts when its socket closes (h2o
 * disposes every request before, so this is 0 unless h2o skipped a logger).
 *
 * The alternative, a pool allocation with a dispose callback per request, cost a malloc/free and ~250 instructions
 * per request (docs/benchmarks.md); this costs a load and a store on the record h2o hands back through
 * conn->callbacks->get_socket. A request whose connection has no socket (kvedge accepted no such connection; the
 * unit tests' loopback requests) is not counted at all, open and done alike.
 *
 * Threads: a connection and its record belong to one worker thread; so do these calls. No locks, no allocation.
 */
#ifndef KVE_PROXY_STREAMS_H
#define KVE_PROXY_STREAMS_H

#include "h2o.h"
#include "proxy/metrics.h"
#include "proxy/pending.h"

/** The record of the client connection `req` came on (pending.h), or NULL if it has no socket. */
static inline kve_pending_conn_t *kve_streams_conn_of(h2o_req_t *req)
{
    h2o_socket_t *sock;
    if (req->conn->callbacks->get_socket == NULL || (sock = req->conn->callbacks->get_socket(req->conn)) == NULL)
        return NULL;
    return kve_pending_conn_of(sock);
}

/** Counts a request of `conn` a handler took as open, in `conn` and in `metrics` (its worker's counters). */
static inline void kve_streams_open(kve_pending_conn_t *conn, kve_metrics_thread_t *metrics)
{
    ++conn->open_streams;
    conn->metrics = metrics;
    kve_metrics_open_add(metrics, 1);
}

/** A request of `conn` is done (its logger runs): closes one of its open streams, if it has any. */
static inline void kve_streams_done(kve_pending_conn_t *conn)
{
    if (conn->open_streams == 0)
        return; /* h2o answered it before routing: no handler opened it */
    --conn->open_streams;
    kve_metrics_open_add(conn->metrics, -1);
}

/** The socket of `conn` closes: closes whatever it still counts (see above). */
static inline void kve_streams_conn_closed(kve_pending_conn_t *conn)
{
    if (conn->open_streams != 0) {
        kve_metrics_open_add(conn->metrics, -(int64_t)conn->open_streams);
        conn->open_streams = 0;
    }
}

#endif
