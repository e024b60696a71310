/* SPDX-License-Identifier: MIT */
/*
 * /readyz: ready when every link of every store on every worker thread answers PING within the timeout. A link
 * belongs to its thread's loop, so the thread that serves the request posts one mail to each worker (itself
 * included, proxy/mailbox.h); each worker PINGs its own links and posts the mail back with what failed. The answer
 * is 200 "ready", or 503 naming the first link that failed (lowest thread, then store, read-write link before the
 * read-only one) and how many more did:
 *
 *     not ready: store sessions, thread 1: kv store connection failed; 3 more links not ready
 *
 * The check outlives the request when the client leaves early: it is freed when the last mail is back (or was
 * dropped by a thread that is stopping), never touched by another thread in between but through its counter.
 */
#ifndef KVE_HANDLERS_READYZ_H
#define KVE_HANDLERS_READYZ_H

#include <stdint.h>
#include "h2o.h"

/** Starts the check for `req` (a GET or HEAD the admin handler accepted) and answers it later; `timeout_ms` per PING. */
void kve_readyz_serve(h2o_req_t *req, uint64_t timeout_ms);

#endif
