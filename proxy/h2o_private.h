/* SPDX-License-Identifier: MIT */
/*
 * Every use kvedge makes of libh2o's private fields (names starting with '_') and of behaviour h2o does not
 * document, in one place. Each entry is a small function (inline where a request pays for it) that names the
 * field or the behaviour, the h2o source it was read from and what breaks if it changes.
 *
 * Read from h2o 2.2.5 as Debian 12 ships it: source package h2o 2.2.5+dfsg2-7, library libh2o-evloop 0.13.5
 * (H2O_LIBRARY_VERSION 0.13.5). "file: function" references below are to that source tree; the installed
 * headers (/usr/include/h2o.h, /usr/include/h2o/...) are the truth for the layouts.
 *
 * Rules:
 * - No other file touches a private field of an h2o type; tests/check_h2o_private.sh (ctest lint.h2o_private)
 *   fails the build's tests if one does.
 * - Another h2o version stops the build at the #error below: re-read each entry against the new source, mend
 *   or drop it, then move the guard. Running on unread internals would fail at run time, silently.
 *
 * Callers: park.c and h1read.c (socket readers), server.c (timers, contexts, thread buffers), handlers/
 * framing.c (the raw HTTP/1 head), tests/unit/loopback.c (a request's final ostream).
 */
#ifndef KVE_PROXY_H2O_PRIVATE_H
#define KVE_PROXY_H2O_PRIVATE_H

#include <stddef.h>
#include "h2o.h"
#include "h2o/version.h"

#if H2O_LIBRARY_VERSION_MAJOR != 0 || H2O_LIBRARY_VERSION_MINOR != 13 || H2O_LIBRARY_VERSION_PATCH != 5
#error "proxy/h2o_private.h was read against libh2o 0.13.5 (h2o 2.2.5); this h2o is " H2O_VERSION ": re-read every entry"
#endif
#if H2O_USE_LIBUV
#error "proxy/h2o_private.h covers h2o's own event loop (libh2o-evloop, H2O_USE_LIBUV=0) only"
#endif

/* --- sockets (include/h2o/socket.h, lib/common/socket.c) --- */

/**
 * The read callback installed on `sock` (h2o_socket_t `_cb.read`): what h2o_socket_read_start() stored,
 * NULL after h2o_socket_read_stop() (h2o_socket_is_reading() is `_cb.read != NULL`). kvedge compares it with its
 * own callbacks to tell which reader a socket has (park.c: parked; h1read.c: hooked).
 */
static inline h2o_socket_cb kve_h2o_socket_reader(h2o_socket_t *sock)
{
    return sock->_cb.read;
}

/**
 * Calls the read callback installed on `sock` with `err`, as h2o does when a read fails: the reader closes its
 * connection through its own error path (HTTP/1: lib/http1.c reqread_on_read -> close_connection). `sock` must
 * be reading, and the caller must not be inside a callback of `sock`.
 */
static inline void kve_h2o_socket_fail_read(h2o_socket_t *sock, const char *err)
{
    sock->_cb.read(sock, err);
}

/**
 * The capacity of a socket's input buffer after its first read: lib/common/socket.c initialises the (private)
 * `_initial_buf.capacity` of h2o_socket_buffer_prototype to H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE * 2, and a read
 * reserves 4096 bytes (lib/common/socket/evloop.c.h on_read_core), which fits. Larger capacities mean a request grew its buffer
 * (h1read.c charges only those). The h2o_private unit suite checks it against a real read.
 */
#define KVE_H2O_SOCKET_FIRST_INPUT_CAPACITY (H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE * 2)

/* --- HTTP/1 connections (lib/http1.c) --- */

/**
 * h2o's HTTP/1 request reader, the static function lib/http1.c reqread_on_read. NULL until
 * kve_h2o_http1_hook_reader() captured it. Call it through kve_h2o_http1_reqread().
 */
extern h2o_socket_cb kve_h2o__http1_reqread;

/**
 * Installs `hook` in place of h2o's HTTP/1 request reader on every socket, from now on. The hook receives each read
 * of a request (or its error) and must end by passing it on with kve_h2o_http1_reqread().
 *
 * What it relies on: lib/http1.c reads requests with the static callback reqread_on_read, which it installs with
 * h2o_socket_read_start() at accept (h2o_http1_accept -> reqread_start), after each response (on_send_complete ->
 * reqread_start) and after "100 Continue" (on_continue_sent); TLS connections get it after their handshake
 * (lib/core/util.c on_ssl_handshake_complete -> h2o_http1_accept). There is no hook between reading and dispatch.
 * kvedge defines h2o_socket_read_start() itself (h2o_private.c): libh2o-evloop.so calls it through its PLT, so
 * this definition sees every call, swaps reqread_on_read (recognised by its address) for `hook`, and forwards to
 * libh2o's (dlsym RTLD_NEXT). The address is captured here from a plain HTTP/1 accept on a socket pair, on `ctx`
 * (a context nobody serves with yet: its loop is run once to free the socket), which also proves the
 * interposition works (a libh2o linked with -Bsymbolic, or statically, would bypass it).
 *
 * Call once, on the main thread, before any worker starts (later calls return 0 and change nothing). Returns
 * 0, or -1 with a message in `err` if libh2o's calls do not reach kvedge's h2o_socket_read_start().
 */
int kve_h2o_http1_hook_reader(h2o_context_t *ctx, h2o_socket_cb hook, char *err, size_t errlen);

/** Passes a read (or its error) on to h2o's HTTP/1 request reader (see kve_h2o_http1_hook_reader). */
static inline void kve_h2o_http1_reqread(h2o_socket_t *sock, const char *err)
{
    kve_h2o__http1_reqread(sock, err);
}

/**
 * The raw head (request line and header lines as the client sent them, except that h2o lower-cased the header names
 * in place: lib/http1.c init_headers) of an HTTP/1 request that has a body.
 *
 * What it relies on: lib/http1.c reads the head and the body into the socket's input buffer and points
 * req->entity into it, right after the head (handle_content_length_entity_read; handle_chunked_entity_read decodes
 * the chunks in place, from the same offset); the head is consumed only after the response (on_send_complete).
 * So the head is the bytes from the start of sock->input to req->entity. To catch a change, the head must start
 * with the request's method and be at most H2O_MAX_REQLEN bytes.
 *
 * Returns 1 and sets `*head`; 0 if `req` has no socket (a loopback connection: no peer framed anything); -1 if the
 * buffer is not laid out as above (the caller should refuse rather than guess). `req` must be HTTP/1 with
 * req->entity.base set.
 */
int kve_h2o_http1_raw_head(h2o_req_t *req, h2o_iovec_t *head);

/* --- requests (include/h2o.h h2o_req_t, lib/core/request.c) --- */

/**
 * Makes `ostr` the final output stream of `req` (h2o_req_t `_ostr_top`): the one that would write the response
 * to the client. Every protocol connection does this after h2o_init_request() (lib/http1.c init_request sets
 * `_ostr_top` to its `_ostr_final`); h2o_start_response() chains the filters' streams in front of it, and
 * h2o_dispose_request() walks `_ostr_top->next`, so it must be set even for a request that is never processed.
 * For connections without a socket (tests/unit/loopback.c). `ostr` is borrowed until the request is disposed;
 * its `next` must be NULL.
 */
static inline void kve_h2o_req_set_final_ostream(h2o_req_t *req, h2o_ostream_t *ostr)
{
    req->_ostr_top = ostr;
}

/* --- loops and contexts (lib/common/socket/evloop.c.h, lib/common/timeout.c, lib/core/context.c) --- */

/**
 * Fires every timeout entry linked on `loop` before the loop's current time (h2o_now), each through its own
 * callback (proxy I/O timeout -> 502, KV command timeout -> 504, request read timeout -> close), whatever its
 * timeout. Entries linked at the current time, such as those the callbacks link again, wait for the next pass. h2o has no API to
 * cancel a request from outside; the loop's list of timeouts (h2o_evloop_t `_timeouts`, through h2o_timeout_t `_link`, as
 * h2o_evloop_run walks it) is the lever. For the drain's last step (server.c).
 */
void kve_h2o_loop_expire_timeouts(h2o_loop_t *loop);

/**
 * Unlinks the HTTP/2 graceful-shutdown timer (h2o_context_t `http2._graceful_shutdown_timeout`).
 * h2o_context_request_shutdown() links it on one_sec_timeout even when the context has no HTTP/2 connection
 * (lib/http2/connection.c initiate_graceful_shutdown), and h2o_context_dispose() asserts that every timeout of
 * the context is empty (lib/common/timeout.c h2o_timeout_dispose). Call after the drain, before disposing.
 */
void kve_h2o_context_cancel_goaway_timer(h2o_context_t *ctx);

/**
 * h2o_context_dispose(), plus what libh2o 0.13 leaves behind: the context's multithread queue, which
 * h2o_context_init() allocated and lib/common/multithread.c h2o_multithread_destroy_queue() closes but never frees.
 */
void kve_h2o_context_dispose(h2o_context_t *ctx);

/**
 * Frees the socket buffers h2o keeps for reuse on the calling thread: h2o_socket_buffer_prototype is
 * thread-local (lib/common/socket.c) and its recycling allocator keeps up to 16 freed buffers that nothing frees
 * when the thread ends. Call when a thread is done with h2o (after its context is disposed).
 */
void kve_h2o_release_thread_buffers(void);

#endif
