/* SPDX-License-Identifier: MIT */
/*
 * A hook on h2o 2.2.5's HTTP/1 request reading: after every read of a request, the connection's input
 * buffer is charged to the pending-bytes budget (pending.h), and a connection the budget refuses is closed
 * through h2o's own error path (its read callback called with an error).
 *
 * h2o reads requests with a static callback (lib/http1.c reqread_on_read) that it installs with
 * h2o_socket_read_start() at accept, after each response, after "100 Continue" and after a TLS handshake,
 * and it has no hook between reading and dispatch. Options weighed:
 *  (a) wrapping sock->_cb.read per connection after h2o_accept(): h2o re-installs its own callback at the
 *      points above, all inside static functions, with no kvedge code running in between; the wrapper would
 *      be lost after the first response (or never installed on TLS connections before the handshake ends);
 *  (b) interposing h2o_socket_read_start() (chosen; the mechanism and what it relies on are in h2o_private.h,
 *      kve_h2o_http1_hook_reader): every installation of h2o's HTTP/1 request callback installs this file's wrapper
 *      instead, which charges the read and passes it on. kvedge refuses to start with limits.max_pending_size
 *      set if the interposition does not work. Cost: one compare per read_start call;
 *  (c) reading the socket ourselves (H2O_SOCKET_FLAG_DONT_READ) would bound each read too, but it means
 *      re-implementing evloop's read and TLS decoding (static in libh2o).
 * The wrapper leaves h2o_socket_is_reading() true, so the drain's idle check (server.c) is unchanged.
 */
#ifndef KVE_PROXY_H1READ_H
#define KVE_PROXY_H1READ_H

#include <stddef.h>
#include "h2o.h"
#include "proxy/pending.h"

/**
 * Installs the hook (kve_h2o_http1_hook_reader on `ctx`, a context nobody serves with yet) and checks that it
 * works. Call before any worker starts. Returns 0, or -1 with a message in `err`.
 */
int kve_h1read_init(h2o_context_t *ctx, char *err, size_t errlen);

/**
 * Refuses the largest requests of `thread` while the total is over the limit and the thread over its share
 * (pending.h): for a thread whose clients went quiet after another thread's reads took the total over. Call
 * on the thread, outside any socket callback (its sweep timer).
 */
void kve_h1read_enforce(kve_pending_thread_t *thread);

/** Whether `sock` reads HTTP/1 requests through the hook (for checks and tests). */
int kve_h1read_is_hooked(h2o_socket_t *sock);

#endif
