/* SPDX-License-Identifier: MIT */
/*
 * Request coalescing of the HTTP cache (issue 8): concurrent misses for one object make ONE upstream request.
 *
 * - In one process: a table (one mutex, taken on misses only) maps an object (route, primary key) to an entry.
 *   The first miss creates it and becomes the process's leader candidate; later misses for the key attach to it
 *   as waiters and never touch the store. Waiters on any thread are released by mail (proxy/mailbox.h): the
 *   releasing thread takes them out of the entry under the mutex and posts one mail per waiter to its thread.
 * - Across instances: the leader candidate takes a short lock in KV, `SET <P>:l <owner> NX PX <coalesce_timeout>`
 *   (in the object's hash-tag slot, atomically with a GET of it). Got it: it leads (goes upstream). The lock holds
 *   "pass": the object was found uncacheable lately, forward at once. Held by another owner: the candidate polls
 *   `GET <P>:l` with a short backoff (10 ms doubling to 80 ms) for its whole local group. Polling rather than
 *   pub/sub: it works unchanged on every KV driver (the REST driver has no streams), costs no dedicated
 *   connection per thread, and only one request per instance and key polls (the others wait in process).
 * - Release: stored (after the store batch is applied) -> waiters look the object up again and answer it
 *   (Cache-Status `collapsed`); uncacheable -> "pass" remembered for KVE_COAL_PASS_MS in process and in the lock
 *   key (hit-for-pass: the next misses skip coalescing, and a later cacheable response is still stored);
 *   failed (5xx, upstream error, the leader's client gone, too big to store) -> waiters go upstream themselves.
 *   The lock is released by its owner only (a compare-and-delete script); its TTL covers a crashed instance.
 * - Bounds: a waiter waits at most coalesce_timeout, then goes upstream itself (its response is stored as any).
 *   The store down: the lookup already failed, nothing coalesces across instances; a lock request that fails
 *   makes the candidate lead locally.
 */
#ifndef KVE_HANDLERS_CACHE_COALESCE_H
#define KVE_HANDLERS_CACHE_COALESCE_H

#include "h2o.h"

struct st_kve_cache_req_t;
struct st_kve_cache_handler_t;

/** How long an uncacheable answer turns coalescing off for its object (ms). */
#define KVE_COAL_PASS_MS 10000
/** The first poll interval of a waiter in another instance (ms); it doubles up to KVE_COAL_POLL_MAX_MS. */
#define KVE_COAL_POLL_MS 10
#define KVE_COAL_POLL_MAX_MS 80

typedef enum en_kve_coal_outcome_t {
    KVE_COAL_STORED = 0, /* the object is stored: look it up again */
    KVE_COAL_PASS,       /* uncacheable: go upstream, remember the pass */
    KVE_COAL_FAILED      /* the leader failed or gave up: go upstream */
} kve_coal_outcome_t;

typedef struct st_kve_coal_entry_t kve_coal_entry_t;

/** A cache handler's state on one thread (created by its on_context_init). */
typedef struct st_kve_cache_thread_t {
    h2o_timeout_t wait; /* coalesce_timeout: the waiters' bound */
    h2o_timeout_t poll; /* KVE_COAL_POLL_MS: the ticks of a poller */
    /** background refreshes: the route's upstream on this thread (NULL: none) */
    struct st_kve_httpclient_t *client;
} kve_cache_thread_t;

/** Sets up / tears down the per-thread state of `self` (its timers). */
void kve_cache__thread_init(struct st_kve_cache_handler_t *self, h2o_context_t *ctx);
void kve_cache__thread_dispose(struct st_kve_cache_handler_t *self, h2o_context_t *ctx);

/**
 * A miss (`fwd`: its Cache-Status fwd) that may coalesce. Returns 0 when the module took the request (it will
 * forward it, or look it up again, later), or -1 when the caller forwards it now (coalescing is off, the request
 * coalesced once already, or a pass is remembered for the object).
 */
int kve_cache__coalesce(struct st_kve_cache_req_t *st, const char *fwd);

/** The leader's response is settled: releases the waiters (and the lock). No-op when `st` does not lead. */
void kve_cache__coalesce_release(struct st_kve_cache_req_t *st, kve_coal_outcome_t outcome);

/**
 * The leader hands its release to a store batch: returns the entry (the batch releases it with
 * kve_cache__coalesce_finish once applied), or NULL when `st` does not lead.
 */
kve_coal_entry_t *kve_cache__coalesce_take(struct st_kve_cache_req_t *st);
/** Releases an entry taken with kve_cache__coalesce_take (on the leader's thread). NULL is a no-op. */
void kve_cache__coalesce_finish(kve_coal_entry_t *e, kve_coal_outcome_t outcome);

/** The request is being disposed: leaves the entry (a leader or poller releases its waiters: they go upstream). */
void kve_cache__coalesce_dispose(struct st_kve_cache_req_t *st);

#endif
