/* SPDX-License-Identifier: MIT */
/*
 * Every use kvedge makes of libh2o's private fields (names starting with '_'), of its internal functions and of
 * behaviour h2o does not document, in one place. Each entry is a small function (inline where a request pays for
 * it) that names the field or the behaviour, the h2o source it was read from and what breaks if it changes.
 *
 * Read from h2o 2.2.5 as Debian 12 ships it: source package h2o 2.2.5+dfsg2-7, library libh2o-evloop 0.13.5
 * (H2O_LIBRARY_VERSION 0.13.5). Every "[2.2.5 file:line function]" below is a place in that source tree
 * (apt-get source h2o=2.2.5+dfsg2-7); the installed headers (/usr/include/h2o.h, /usr/include/h2o/...) are the
 * truth for the layouts.
 *
 * Rules:
 * - No other file touches a private member of an h2o type: scripts/check-h2o-private.mjs (ctest lint.h2o_private)
 *   compiles every file again with those members marked deprecated and fails if one is used outside this pair.
 * - Another h2o stops the build here, not at run time: the #error below on the version numbers, and the static
 *   assertions after it on the size and offsets of each struct whose private members are used (a rebuilt or
 *   patched 2.2.5 whose layout moved). To move to another h2o: re-read each entry against the new source, mend or
 *   drop it, then update the guards.
 *
 * Callers: park.c and h1read.c (socket readers), server.c (idle connections, timers, contexts, thread buffers, the
 * proxy's backpressure),
 * handlers/framing.c (the raw HTTP/1 head), handlers/cache_upstream.c (the proxy's upstream heads), tests/unit/loopback.c (a
 * request's final ostream, contexts, thread buffers); tests/unit/test_h2o_private.c checks each entry against the installed libh2o
 * at run time.
 */
#ifndef KVE_PROXY_H2O_PRIVATE_H
#define KVE_PROXY_H2O_PRIVATE_H

#include <stddef.h>
#include <sys/types.h>
#include "h2o.h"
#include "h2o/version.h"

#if H2O_LIBRARY_VERSION_MAJOR != 0 || H2O_LIBRARY_VERSION_MINOR != 13 || H2O_LIBRARY_VERSION_PATCH != 5 ||                         \
    H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2 || H2O_VERSION_PATCH != 5
#error "proxy/h2o_private.h was read against libh2o 0.13.5 (h2o 2.2.5); this h2o is " H2O_VERSION ": re-read every entry"
#endif
#if H2O_USE_LIBUV
#error "proxy/h2o_private.h covers h2o's own event loop (libh2o-evloop, H2O_USE_LIBUV=0) only"
#endif

/*
 * The layouts the entries below were read against, measured on Debian 12's libh2o-evloop-dev 2.2.5+dfsg2-7 (x86-64
 * and other LP64 targets): a header whose struct changed under the same version number fails to compile here.
 */
#if defined(__LP64__)
#define KVE_H2O_LAYOUT(type, member, offset) _Static_assert(offsetof(type, member) == (offset), "h2o layout: " #type "." #member)
#define KVE_H2O_SIZE(type, size) _Static_assert(sizeof(type) == (size), "h2o layout: sizeof(" #type ")")
KVE_H2O_SIZE(h2o_socket_t, 96);
KVE_H2O_LAYOUT(h2o_socket_t, input, 16);
KVE_H2O_LAYOUT(h2o_socket_t, _cb, 56);
KVE_H2O_SIZE(h2o_req_t, 608);
KVE_H2O_LAYOUT(h2o_req_t, entity, 232);
KVE_H2O_LAYOUT(h2o_req_t, _generator, 520);
KVE_H2O_LAYOUT(h2o_req_t, _ostr_top, 528);
KVE_H2O_SIZE(h2o_context_t, 864); /* 2016 with the libuv layout (h2o-notes §1) */
KVE_H2O_LAYOUT(h2o_context_t, queue, 160);
KVE_H2O_LAYOUT(h2o_context_t, http2._graceful_shutdown_timeout, 480);
KVE_H2O_SIZE(h2o_evloop_t, 152);
KVE_H2O_LAYOUT(h2o_evloop_t, _timeouts, 40);
KVE_H2O_SIZE(h2o_timeout_t, 48);
KVE_H2O_LAYOUT(h2o_timeout_t, _link, 8);
KVE_H2O_LAYOUT(h2o_timeout_t, _entries, 24);
KVE_H2O_LAYOUT(h2o_timeout_entry_t, _link, 16);
KVE_H2O_SIZE(h2o_http1client_t, 56); /* the start of struct st_h2o_http1client_private_t (kve_h2o_proxy_backpressure) */
KVE_H2O_SIZE(h2o_mem_recycle_t, 24);
KVE_H2O_LAYOUT(h2o_mem_recycle_t, cnt, 8);
KVE_H2O_LAYOUT(h2o_buffer_prototype_t, allocator, 0);
#undef KVE_H2O_LAYOUT
#undef KVE_H2O_SIZE
#endif

/* --- sockets (include/h2o/socket.h, lib/common/socket.c) --- */

/**
 * The read callback installed on `sock` (h2o_socket_t `_cb.read`, [2.2.5 include/h2o/socket.h:116]): what
 * h2o_socket_read_start() stored [2.2.5 lib/common/socket.c:717], NULL after h2o_socket_read_stop() [socket.c:723]
 * (h2o_socket_is_reading() is `_cb.read != NULL`, [socket.h:349]). kvedge compares it with its own callbacks to tell
 * which reader a socket has (park.c: parked; h1read.c: hooked).
 */
static inline h2o_socket_cb kve_h2o_socket_reader(h2o_socket_t *sock)
{
    return sock->_cb.read;
}

/**
 * Calls the read callback installed on `sock` with `err`, as h2o does when a read fails ([2.2.5
 * lib/common/socket/evloop.c.h:235 read_on_ready]): the reader closes its connection through its own error path
 * (HTTP/1: lib/http1.c reqread_on_read -> close_connection). `sock` must be reading, and the caller must not be
 * inside a callback of `sock`.
 */
static inline void kve_h2o_socket_fail_read(h2o_socket_t *sock, const char *err)
{
    sock->_cb.read(sock, err);
}

/**
 * The capacity of a socket's input buffer after its first read: [2.2.5 lib/common/socket.c:128] initialises the
 * (private) `_initial_buf.capacity` of h2o_socket_buffer_prototype to H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE * 2, and a
 * read reserves 4096 bytes ([2.2.5 lib/common/socket/evloop.c.h:119 on_read_core]), which fits. Larger capacities
 * mean a request grew its buffer (h1read.c charges only those). The h2o_private unit suite checks it against a real
 * read.
 */
#define KVE_H2O_SOCKET_FIRST_INPUT_CAPACITY (H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE * 2)

/* --- HTTP/1 connections (lib/http1.c) --- */

/**
 * h2o's HTTP/1 request reader, the static function reqread_on_read [2.2.5 lib/http1.c:81]. NULL until
 * kve_h2o_http1_hook_reader() captured it. Call it through kve_h2o_http1_reqread().
 */
extern h2o_socket_cb kve_h2o__http1_reqread;

/**
 * Installs `hook` in place of h2o's HTTP/1 request reader on every socket, from now on. The hook receives each read
 * of a request (or its error) and must end by passing it on with kve_h2o_http1_reqread().
 *
 * What it relies on: lib/http1.c reads requests with the static callback reqread_on_read, which it installs with
 * h2o_socket_read_start() in reqread_start [2.2.5 lib/http1.c:529], called at accept (h2o_http1_accept,
 * http1.c:838) and after each response (on_send_complete, http1.c:573), and after "100 Continue" (on_continue_sent,
 * http1.c:389); TLS connections get it after their handshake ([2.2.5 lib/core/util.c:134 on_ssl_handshake_complete
 * -> h2o_http1_accept]). There is no hook between reading and dispatch. The internal function used:
 * kvedge defines h2o_socket_read_start() ([2.2.5 include/h2o/socket.h:230]) itself (h2o_private.c): libh2o-evloop.so
 * calls it through its PLT, so
 * this definition sees every call, swaps reqread_on_read (recognised by its address) for `hook`, and forwards to
 * libh2o's (dlsym RTLD_NEXT). The address is captured here from a plain HTTP/1 accept on a socket pair, on `ctx`
 * (a context nobody serves with yet: its loop is run once to free the socket), which also proves the
 * interposition works (a libh2o linked with -Bsymbolic, or statically, would bypass it).
 *
 * Call once, on the main thread, before any worker starts (later calls return 0 and change nothing). Returns
 * 0, or -1 with a message in `err` if libh2o's calls do not reach kvedge's h2o_socket_read_start().
 */
int kve_h2o_http1_hook_reader(h2o_context_t *ctx, h2o_socket_cb hook, char *err, size_t errlen);

/**
 * h2o's HTTP/1 client response-head reader, the static function on_head [2.2.5 lib/common/http1client.c:222]. NULL
 * until kve_h2o_http1client_guard() captured it.
 */
extern h2o_socket_cb kve_h2o__http1client_on_head;

/**
 * Guards h2o's HTTP/1 client (the proxy handler's) against a response head that aborts the process: on_head sets
 * `_can_keepalive` from the status line [http1client.c:296], then, for a Transfer-Encoding other than exactly
 * "chunked" or "identity" or a Content-Length h2o_strtosize() refuses, calls on_error_before_head(), whose
 * assert(!client->_can_keepalive) [http1client.c:216] fails (SIGABRT: one hostile upstream response stops kvedge).
 * From now on every installation of on_head (h2o_socket_read_start in on_send_request, http1client.c:376) installs
 * a wrapper that checks the head first (kve_h2o_http1client_check_head) and hands such a head to on_head as a read
 * error instead, which on_head answers before it sets `_can_keepalive` (the client gets 502).
 *
 * It captures on_head by sending one request with h2o_http1client_connect() to a loopback listener nobody accepts
 * from, on `loop` (a loop nobody serves with yet), and recognising the first h2o_socket_read_start() on that
 * client's socket. Call once, on the main thread, before any worker starts. Returns 0, or -1 with a message.
 */
int kve_h2o_http1client_guard(h2o_loop_t *loop, char *err, size_t errlen);

/**
 * Whether the final response head in `buf` (after 1xx ones, as on_head reads them) is one h2o's on_head takes without
 * failing its assertion: 0 yes (or not parseable, which on_head refuses safely), -1 no, 1 incomplete.
 */
int kve_h2o_http1client_check_head(const char *buf, size_t len);

/** One header field of an upstream response head, as received (pointers into h2o's socket buffer). */
typedef struct st_kve_h2o_head_field_t {
    h2o_iovec_t name, value;
} kve_h2o_head_field_t;

/** Who sees the upstream heads of the proxy handler (kve_h2o_proxy_observe_heads). */
typedef struct st_kve_h2o_head_observer_t {
    /** whether `req` is one whose head is wanted: called first, for every head, so it must be cheap */
    int (*wants)(h2o_req_t *req);
    /** the final head's fields (after 1xx), valid during the call only; called before h2o's proxy reads them */
    void (*on_head)(h2o_req_t *req, const kve_h2o_head_field_t *fields, size_t num);
} kve_h2o_head_observer_t;

/**
 * Shows the upstream response heads of h2o's proxy handler to `observer` (borrowed; NULL stops it): the fields h2o's
 * proxy drops before any filter runs (Date, Connection and the other proxy_should_drop_for_res tokens
 * [2.2.5 lib/core/proxy.c:431 on_head]) included. Runs in the wrapper kve_h2o_http1client_guard() installs, once
 * the head is complete and passed its check.
 *
 * What it relies on: every h2o HTTP/1 client in kvedge is h2o's proxy handler's (kvedge's own fetches use
 * proxy/httpclient.h, and the guard's capture client never gets a head); the reading socket's `data` is the client
 * (struct st_h2o_http1client_private_t, whose first member is the public h2o_http1client_t [2.2.5
 * lib/common/http1client.c:31]); the client's `data` is the proxy's struct rp_generator_t (h2o_http1client_connect(
 * &self->client, self, ...) [2.2.5 lib/core/proxy.c:589, 607]), whose second member, after h2o_generator_t super,
 * is `h2o_req_t *src_req` [2.2.5 lib/core/proxy.c:32]. Call on the main thread before any worker starts.
 */
void kve_h2o_proxy_observe_heads(const kve_h2o_head_observer_t *observer);

/**
 * Backpressure from the client to the upstream for h2o's proxy handler: a response stops reading its upstream socket
 * while more than `max_buffer` bytes of it wait in that socket's input, and reads again once the client took what
 * was in flight and the input is back under `max_buffer`. 0 turns it off (the default, h2o's behaviour). Set once,
 * on the main thread, before any worker starts (kve_h2o_http1client_guard() must succeed too: the wrapper of on_head
 * is where body readers are recognised).
 *
 * The h2o fact: h2o 2.2.5's proxy has no backpressure (h2o 2.3 added proxy.max-buffer-size). Its on_body [2.2.5
 * lib/core/proxy.c:379] runs on every read of the upstream socket and sends only when nothing is in flight
 * (h2o_doublebuffer `sending`, proxy.c:393); the http1client keeps reading into `client->sock->input` meanwhile, so a
 * client that reads slowly, or not at all, makes kvedge hold up to the whole response (1 GiB on a cached route).
 * An output filter cannot stop that: it sees a chunk only when the proxy sends one, after the previous completed.
 *
 * What it relies on:
 * - on_head of the http1client installs the body reader (on_body_until_close, on_body_content_length or
 *   on_body_chunked [2.2.5 lib/common/http1client.c:90, 111, 150]) with h2o_socket_read_start() on its own socket,
 *   inside on_head [http1client.c:351], which runs inside kvedge's guarded_on_head: that installation is wrapped
 *   (three wrappers, one per reader, learned as they appear). Each wrapper checks `sock->input->size` (the read is
 *   already appended [evloop.c.h:200 on_read_core]) before it calls the reader.
 * - The socket's `data` is the client, the client's `data` is the proxy's struct rp_generator_t, whose first members
 *   are `h2o_generator_t super; h2o_req_t *src_req; h2o_http1client_t *client;` [2.2.5 lib/core/proxy.c:32-35]. A
 *   generator is acted on only if its `client` is that client, it is its request's generator (h2o_req_t
 *   `_generator`, private [include/h2o.h:1066], set by h2o_start_response in on_head [proxy.c:495]) and its proceed
 *   is the proxy's do_proceed [proxy.c:346] (learned from the first generator that passes the first two checks).
 * - To pause: h2o_socket_read_stop() (clears a pending read-ready flag [evloop.c.h:317], so the reader is not called
 *   again), and the generator's `proceed` (a public member of h2o_generator_t, which h2o_proceed_response calls when
 *   the client's write completed [include/h2o.h:1927]) points to kvedge's resume, which restores do_proceed, calls it
 *   (h2o_doublebuffer_consume + the next send) and starts reading again with the same wrapper once the input is back
 *   under `max_buffer` (else it stays paused until the next proceed). do_proceed sends IN_PROGRESS while the client
 *   is set, which completes asynchronously, so the generator outlives the call.
 * - do_send's h2o_doublebuffer_prepare [include/h2o.h:2064] swaps the whole input into `sending` when that is
 *   empty, so a response holds at most about 2 * `max_buffer` plus one read event (on_read_core reads until EAGAIN
 *   [evloop.c.h:113]: at most the socket's kernel receive buffer; over TLS also its encrypted copy, all decrypted at
 *   once [evloop.c.h:215 read_on_ready]): the buffer being sent and the one being filled.
 * - The upstream I/O timeout (the route's `timeout`) runs from the client's last progress while reading is stopped,
 *   like nginx's send_timeout: a client that takes nothing for `timeout` loses its response (on_body_timeout ends the
 *   body with "I/O timeout"; the proxy sends what it holds and ends the response in error) and frees the upstream
 *   connection; a slow client that keeps taking bytes keeps it. How: the body reader links the client's one timer
 *   after each read [http1client.c:108, 141, 212]; while paused, each proceed (the client took a send) relinks it.
 *   The timer is `_timeout` of the private struct st_h2o_http1client_private_t [http1client.c:31-38], after the
 *   public client (sizeof asserted above) and a union of three callbacks; it is touched only when linked with a
 *   callback, and the first time only if a walk of the client's ctx->io_timeout finds it there (else never, with a
 *   warning). And sends are cut to 256 KiB once paused (the request's public `preferred_chunk_size`, which the
 *   proxy's do_send passes to h2o_doublebuffer_prepare [proxy.c:326]; HTTP/1 leaves it at SIZE_MAX,
 *   [lib/core/request.c:236]): without that, HTTP/1 calls proceed only when the whole buffer was written.
 * - Requests the client abandons: h2o calls the generator's stop (do_close [proxy.c:308]), which cancels the client
 *   and closes its socket, reading or not. HEAD, 1xx and the websocket upgrade (on_head steals the socket and
 *   returns no body reader [proxy.c:486]; the tunnel starts reading after the 101 was written) install no body reader.
 */
void kve_h2o_proxy_backpressure(size_t max_buffer);

/**
 * For tests and diagnostics: the bytes of `req`'s upstream response waiting in its upstream socket's input, with
 * `*reading` set to whether that socket reads; -1 if `req`'s generator is not h2o's proxy reading an upstream (its
 * proceed is neither do_proceed, as learned by kve_h2o_proxy_backpressure's first pause, nor kvedge's resume: only
 * then are members past h2o_generator_t read), or the body has ended.
 */
ssize_t kve_h2o_proxy_upstream_input(h2o_req_t *req, int *reading);

/** Whether heads reach an observer: one is set and kve_h2o_http1client_guard() installed the wrapper. */
int kve_h2o_proxy_heads_observed(void);

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
 * req->entity into it, right after the head ([2.2.5 lib/http1.c:227 handle_content_length_entity_read];
 * handle_chunked_entity_read decodes the chunks in place, from the same offset, http1.c:198); the head's names were
 * lower-cased in place (init_headers, http1.c:288), and it is consumed only after the response (on_send_complete,
 * http1.c:570: h2o_buffer_consume(&sock->input, _reqsize)). So the head is the bytes from the start of sock->input to req->entity.
 * To catch a change, the head must start with the request's method and be at most H2O_MAX_REQLEN bytes.
 *
 * Returns 1 and sets `*head`; 0 if `req` has no socket (a loopback connection: no peer framed anything); -1 if the
 * buffer is not laid out as above (the caller should refuse rather than guess). `req` must be HTTP/1 with
 * req->entity.base set.
 */
int kve_h2o_http1_raw_head(h2o_req_t *req, h2o_iovec_t *head);

/**
 * Whether the HTTP/1 connection on `sock` waits for its next request (or its first): h2o reads it, does not write
 * to it, and holds no byte of a request. What it relies on: h2o stops reading while it processes a request
 * ([2.2.5 lib/http1.c:467 handle_incoming_request] without a body; on_entity_read_complete, http1.c:167, with one)
 * and keeps the request's bytes in sock->input until the response was written; then on_send_complete consumes them
 * and reads again ([2.2.5 lib/http1.c:570-573]). A socket a handler read on its own (proxy/park.h) looks the same:
 * the caller rules that out. For the drain's "close idle connections first" (server.c).
 */
static inline int kve_h2o_http1_awaits_request(h2o_socket_t *sock)
{
    return h2o_socket_is_reading(sock) && !h2o_socket_is_writing(sock) && sock->input->size == 0;
}

/**
 * Takes an idle HTTP/1 connection (kve_h2o_http1_awaits_request, read by h2o's request reader or the hook of
 * kve_h2o_http1_hook_reader) away from h2o for another thread to serve: its socket's descriptor and TLS state land in
 * `info` (h2o_socket_import() then h2o_http1_accept() on the other loop), and h2o closes its side of the connection
 * as if the peer had gone (the on_close callback runs, the client notices nothing). For the reload (server.c).
 * Returns 0, or -1 (nothing changed: the descriptor could not be duplicated).
 *
 * What it relies on: h2o has no API to hand over a connection it serves (h2o_socket_export() closes the socket under
 * the HTTP/1 connection that still points at it). So: the descriptor is duplicated first, then the public `ssl`
 * member is taken off the socket so that h2o's close sends no close_notify ([2.2.5 lib/common/socket.c:456
 * h2o_socket_close] shuts TLS down only when `ssl` is set), then the reader is called with an error, which closes
 * the connection through its own path ([2.2.5 lib/http1.c:521 reqread_on_read] -> close_connection -> h2o_socket_close
 * -> close() of the original descriptor, after EPOLL_CTL_DEL [evloop/epoll.c.h:160]; the kernel socket lives on in
 * the duplicate). Last, a throwaway socket on the same loop carries the TLS state through h2o_socket_export(), which
 * detaches its buffers from this thread's recycling allocator (h2o_socket_buffer_prototype is thread-local,
 * [socket.c:126]) as h2o_socket_import() on another thread expects.
 */
int kve_h2o_http1_detach(h2o_socket_t *sock, h2o_loop_t *loop, h2o_socket_export_t *info);

/* --- requests (include/h2o.h h2o_req_t, lib/core/request.c) --- */

/**
 * Makes `ostr` the final output stream of `req` (h2o_req_t `_ostr_top`, [2.2.5 include/h2o.h:1067]): the one that
 * would write the response to the client. Every protocol connection does this after h2o_init_request() ([2.2.5
 * lib/http1.c:106 init_request] sets `_ostr_top` to its `_ostr_final`); h2o_start_response() chains the filters'
 * streams in front of it, and h2o_dispose_request() ([2.2.5 lib/core/request.c:286]) walks `_ostr_top->next`, so
 * it must be set even for a request that is never processed.
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
 * timeout. Entries linked at the current time, such as those the callbacks link again, wait for the next pass
 * (h2o_timeout_run fires entries registered at or before `now - timeout`, [2.2.5 lib/common/timeout.c:24]). h2o has
 * no API to cancel a request from outside; the loop's list of timeouts (h2o_evloop_t `_timeouts`, [2.2.5
 * include/h2o/socket/evloop.h:45], through h2o_timeout_t `_link`, [include/h2o/timeout.h:52], walked as h2o_evloop_run
 * does, [2.2.5 lib/common/socket/evloop.c.h:590]) is the lever. For the drain's last step (server.c).
 */
void kve_h2o_loop_expire_timeouts(h2o_loop_t *loop);

/**
 * Unlinks the HTTP/2 graceful-shutdown timer (h2o_context_t `http2._graceful_shutdown_timeout`, [2.2.5
 * include/h2o.h:592]). h2o_context_request_shutdown() links it on one_sec_timeout even when the context has no
 * HTTP/2 connection ([2.2.5 lib/http2/connection.c:142 initiate_graceful_shutdown]), and h2o_context_dispose()
 * asserts that every timeout of the context is empty ([2.2.5 lib/core/context.c:143] -> [lib/common/timeout.c:70
 * h2o_timeout_dispose]). Call after the drain, before disposing.
 */
void kve_h2o_context_cancel_goaway_timer(h2o_context_t *ctx);

/**
 * h2o_context_dispose(), plus what libh2o 0.13 leaves behind: the context's multithread queue, which
 * h2o_context_init() allocated ([2.2.5 lib/core/context.c:95]) and h2o_multithread_destroy_queue() ([2.2.5
 * lib/common/multithread.c:125-137], called at context.c:166) closes but never frees (evloop flavour; the libuv one
 * frees it in uv_close's callback).
 */
void kve_h2o_context_dispose(h2o_context_t *ctx);

/**
 * Frees the socket buffers h2o keeps for reuse on the calling thread: h2o_socket_buffer_prototype is
 * thread-local ([2.2.5 lib/common/socket.c:126]) and its recycling allocator keeps up to 16 freed buffers
 * (socket.c:127; h2o_mem_free_recycle, [2.2.5 lib/common/memory.c:88]) that nothing frees when the thread ends;
 * h2o_mem_alloc_recycle ([memory.c:75]) hands them back one by one while `cnt` is not 0. Call when a thread is done
 * with h2o (after its context is disposed).
 */
void kve_h2o_release_thread_buffers(void);

#endif
