/* SPDX-License-Identifier: MIT */
/*
 * The budget of request bytes held before any handler ran (limits.max_pending_size).
 *
 * h2o 2.2.5 reads a whole HTTP/1 request, head and body, into the socket's input buffer before it calls a
 * handler, so it holds the bytes of a request before kvedge could check its token: unauthenticated clients
 * could make it hold max_connections x max_body_size bytes. Each HTTP/1 connection is charged the allocation
 * of its input buffer while it reads a request (h1read.h calls kve_pending_update after every read; the first
 * 8 KiB buffer every reading connection gets is not charged: max_connections bounds those) and the
 * charge is released when the request reaches its first handler (the limit check, handlers/limits.c)
 * or the socket closes (kve_pending_release). When a read takes the total over the limit and its thread holds
 * more than its share (limit / threads), the connections of that thread whose clients sent the most (the
 * reader itself on a tie) are refused until the total is under the limit or the thread within its share:
 * h1read.c answers a best-effort raw "503 Service Unavailable" with "Connection: close" and has h2o close
 * them at once. The largest go first, and a thread within its share refuses nothing, so a small request (an
 * authenticated client's) survives an attack of large ones, whichever thread it lands on. Refusals are
 * logged once per episode: when the first happens, and when the total falls back under half the limit.
 *
 * Bound: after a read the total is at most the limit plus one read (what the kernel buffered for one socket)
 * per thread, except that a thread within its share does not refuse for the bytes other threads hold: those
 * threads refuse at their next read, or at their next sweep (server.c, every 100 ms) if their clients went
 * quiet, so the total can exceed the limit, by at most (1 - 1/threads) x the limit, for up to 100 ms. The charge is the buffer's
 * allocation, not its bytes: h2o grows buffers by doubling, so a request of N bytes may be charged up to 2N.
 * HTTP/2 connections (http2: true; off by default) are not charged: h2o buffers their request bodies per
 * stream, inside its HTTP/2 code.
 *
 * Threads: kve_pending_t is shared (its total is atomic); a kve_pending_thread_t and its connections are
 * touched only by their own worker thread.
 */
#ifndef KVE_PROXY_PENDING_H
#define KVE_PROXY_PENDING_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/common.h"
#include "proxy/metrics.h"

#define KVE_PENDING_CONN_MAGIC 0x50454e44 /* "PEND" */

/** The process-wide budget. */
typedef struct st_kve_pending_t {
    /** limits.max_pending_size in bytes; 0 = no accounting at all */
    size_t limit;
    /** a thread's share of it: limit / number of threads */
    size_t share;
    /** bytes charged now, all threads (atomic) */
    size_t total;
    /** 1 while an episode of refusals lasts (atomic) */
    int refusing;
    /** connections refused in the current episode (atomic) */
    uint64_t refused;
} kve_pending_t;

/** A worker thread's part: its charged connections. */
typedef struct st_kve_pending_thread_t {
    kve_pending_t *budget;
    /** bytes charged to this thread's connections */
    size_t total;
    /** kve_pending_conn_t whose charge is not 0 */
    h2o_linklist_t charged;
} kve_pending_thread_t;

/**
 * Per client connection. The server embeds it FIRST in its connection record and points the socket's
 * on_close.data at that record, so kve_pending_conn_of() finds it from the socket.
 */
typedef struct st_kve_pending_conn_t {
    uint32_t magic;
    /** refused: answered 503 and shut down; h2o closes it at its next read */
    int refused;
    /** bytes charged to the budget: the allocation of its input buffer */
    size_t charged;
    /** bytes its input buffer holds (what the client sent): the largest is refused first */
    size_t bytes;
    /** in thread->charged while charged != 0 */
    h2o_linklist_t link;
    kve_pending_thread_t *thread;
    h2o_socket_t *sock;
    /** its requests counted in kvedge_open_streams and not done yet (streams.h: HTTP/1 0 or 1) */
    uint32_t open_streams;
    /** the counters they are counted in (its worker's), set by kve_streams_open() */
    kve_metrics_thread_t *metrics;
} kve_pending_conn_t;

/** Initialises the budget (`limit` 0: disabled) for `num_threads` worker threads. */
void kve_pending_init(kve_pending_t *budget, size_t limit, size_t num_threads);
/** Initialises a thread's part of `budget`. */
void kve_pending_thread_init(kve_pending_thread_t *thread, kve_pending_t *budget);
/** Initialises the record of a connection accepted on `thread` (nothing charged). */
void kve_pending_conn_init(kve_pending_conn_t *conn, kve_pending_thread_t *thread, h2o_socket_t *sock);

/** The record of a client socket the server accepted (see kve_pending_conn_t). */
static inline kve_pending_conn_t *kve_pending_conn_of(h2o_socket_t *sock)
{
    kve_pending_conn_t *conn = sock->on_close.data;
    KVE_CHECK_OBJ(conn, KVE_PENDING_CONN_MAGIC);
    return conn;
}

/**
 * Sets the charge of `conn` to `allocated` (the capacity of its input buffer), which holds `bytes`. Returns 0;
 * 1 if kve_pending_over() (the caller refuses kve_pending_largest() until it is false); -1 if `conn` was
 * refused before (the caller must make h2o close it).
 */
int kve_pending_update(kve_pending_conn_t *conn, size_t allocated, size_t bytes);
/** Whether `thread` must refuse requests: the total is over the limit and the thread over its share. */
int kve_pending_over(const kve_pending_thread_t *thread);
/**
 * The connection of `thread` whose client sent the most (`reader`, which may be NULL, on a tie); NULL if
 * none is charged.
 */
kve_pending_conn_t *kve_pending_largest(kve_pending_thread_t *thread, kve_pending_conn_t *reader);
/**
 * Marks `conn` refused, releases its charge and counts the refusal (logging the start of an episode); the
 * caller answers and closes the connection.
 */
void kve_pending_refuse(kve_pending_conn_t *conn);
/** Releases the charge of `conn` (its request reached a handler, or it closes). */
void kve_pending_release(kve_pending_conn_t *conn);

#endif
