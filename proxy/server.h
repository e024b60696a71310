/* SPDX-License-Identifier: MIT */
/*
 * The server: listeners, worker threads (one event loop, one h2o context and one link per store each, as
 * in h2o's own main.c), connection accounting and the graceful stop. The main thread owns the signals
 * (SIGTERM/SIGINT/SIGHUP/SIGCHLD are blocked in every thread and taken with sigtimedwait), so workers never
 * run signal handlers. A handler finds its thread with kve_server_thread(req->conn->ctx).
 *
 * Lifecycle: kve_server_create() opens the listeners (errors before any thread starts);
 * the caller registers paths on kve_server_hostconf(); kve_server_run() starts the workers and
 * returns after a stop signal, when every worker has drained and disposed its context;
 * kve_server_destroy() frees the rest.
 */
#ifndef KVE_PROXY_SERVER_H
#define KVE_PROXY_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "proxy/kv.h"
#include "proxy/mailbox.h"
#include "proxy/metrics.h"

typedef struct st_kve_tls_conf_t {
    char *cert_file;
    char *key_file;
} kve_tls_conf_t;

typedef struct st_kve_listen_conf_t {
    char *host;
    int64_t port;
    kve_tls_conf_t tls; /* cert_file == NULL: plain HTTP */
    /** which host (set of paths) it serves: 0 = the main one, 1 = the KV API's own (not from YAML) */
    int group;
} kve_listen_conf_t;

#define KVE_SERVER_MAX_GROUPS 2

typedef struct st_kve_server_limits_t {
    uint64_t max_body_size;
    uint64_t max_header_size;
    int64_t max_headers;
    int64_t max_connections;
    uint64_t request_timeout_ms;
    uint64_t handshake_timeout_ms;
    uint64_t drain_timeout_ms;
    /** request bytes held before any handler ran, all connections (0: no limit; see pending.h) */
    uint64_t max_pending_size;
    /** upstream bytes a proxied response holds before reading stops (kve_h2o_proxy_backpressure) */
    uint64_t max_proxy_buffer;
} kve_server_limits_t;

typedef struct st_kve_server_conf_t {
    /** 0 = one per online CPU */
    int64_t threads;
    int http2;
    struct {
        kve_listen_conf_t *entries;
        size_t size;
    } listen;
    kve_server_limits_t limits;
} kve_server_conf_t;

typedef struct st_kve_server_t kve_server_t;

/**
 * Something long-lived on a worker thread (a streaming response) that must end when the server drains;
 * its callback runs once at the start of the drain, on the thread, and must unlink it.
 */
typedef struct st_kve_drain_watcher_t {
    h2o_linklist_t link;
    void (*on_drain)(struct st_kve_drain_watcher_t *watcher);
} kve_drain_watcher_t;

/** One store's links on one thread (proxy/stores.h creates them; features reach them with kve_thread_link). */
typedef struct st_kve_thread_store_t {
    /** the store's name (borrowed from the configuration) */
    const char *name;
    /** the link (NULL before the thread's start hook and after its stop hook) */
    kve_kv_t *rw;
    /** the link as the store's read-only user, for read-only KV tokens (NULL: the store has none; they use `rw`) */
    kve_kv_t *ro;
    /** whether the store has read-only links (set with `name`, before the thread's links are published) */
    int has_ro;
    /** whether the store is a KV REST store (set with `name`): /metrics adds its per-request counters */
    int rest;
    /** whether the store is a Redis Cluster (set with `name`): /metrics adds its redirection and slot map counters */
    int cluster;
    /**
     * the counters `rw` and `ro` write into (kve_kv_stats_read): they belong to the stores set and outlive the links
     * (freed after every worker was joined), so another thread (the metrics) reads them without touching a link
     * that its thread may be destroying; after the stop hook they keep the last values, state KVE_KV_DOWN
     */
    kve_kv_stats_t rw_stats, ro_stats;
    /**
     * the replicas topology (proxy/kv_replicas.h): the store's nodes, [0] the primary, then its replicas (0 for a
     * standalone store), their names (host:port) and this thread's counters per node (both links, read-write and
     * read-only, write into them); set with `name`, owned by the stores set like the blocks above
     */
    size_t num_nodes;
    const char *const *node_names;
    struct st_kve_kv_node_stats_t *nodes;
} kve_thread_store_t;

/** Per-thread state; `ctx` is first so the h2o context pointer converts back (kve_server_thread). */
typedef struct st_kve_thread_t {
    h2o_context_t ctx;
    size_t index;
    kve_server_t *server;
    /**
     * this thread's links, one entry per store, indexed by store id (the configuration's order); set by the start
     * hook (proxy/stores.h), NULL and 0 until then; other threads read num_stores with an acquire load (it is
     * stored last, with release). The array stays valid until the server is destroyed.
     */
    kve_thread_store_t *stores;
    size_t num_stores;
    /** where other threads post work for this thread (proxy/mailbox.h; opened by the start hook) */
    kve_mailbox_t mailbox;
    /** this thread's counters (written only by this thread) */
    kve_metrics_thread_t *metrics;
    /** kve_drain_watcher_t of this thread */
    h2o_linklist_t drain_watchers;
} kve_thread_t;

/** Hooks the server calls on each worker thread, on that thread. */
typedef struct st_kve_server_hooks_t {
    /** after the context is initialised, before serving: create per-thread resources (the stores' links) */
    void (*on_thread_start)(kve_thread_t *thread, void *data);
    /** after the drain, before the context is disposed: free them (may run the loop to flush) */
    void (*on_thread_stop)(kve_thread_t *thread, void *data);
    void *data;
} kve_server_hooks_t;

/**
 * Creates the server and binds every listener (errors, such as a port in use, come back here with a
 * message in `err`). `conf` is borrowed and must outlive the server. For a reload, `predecessor` is the server
 * still running: the listening sockets of the addresses both have are taken over instead of bound again (with a
 * new TLS context), and the new server's workers wait for its connections (see kve_server_stop).
 */
kve_server_t *kve_server_create(const kve_server_conf_t *conf, const kve_server_t *predecessor, char *err, size_t errlen);
/** The host (set of paths) that listeners of `group` serve (0: the main one). */
h2o_hostconf_t *kve_server_hostconf(kve_server_t *server, int group);
/** Number of worker threads. */
size_t kve_server_num_threads(const kve_server_t *server);
/** Thread i's state (valid between the start and stop hooks), for metrics rendering. */
kve_thread_t *kve_server_get_thread(kve_server_t *server, size_t i);
/** Current number of open client connections (all threads, every server of the process). */
size_t kve_server_num_connections(const kve_server_t *server);

/** Blocks the signals the main thread takes (SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD) and ignores SIGPIPE. */
void kve_server_block_signals(void);
/** Waits up to `wait_ms` for one of those signals: its number, or 0 when none came. Main thread only. */
int kve_server_wait_signal(uint64_t wait_ms);

/** Starts the workers; returns once every worker serves. `hooks` is borrowed until the server is joined. */
void kve_server_start(kve_server_t *server, const kve_server_hooks_t *hooks);
/**
 * Asks every worker to stop: close its listeners, drain and return. With a `successor` (a reload: started, serving on
 * the same listening sockets, and alive until this server is joined), idle HTTP/1 connections move to it instead
 * of being closed. Returns at once; see kve_server_stopped and kve_server_join.
 */
void kve_server_stop(kve_server_t *server, kve_server_t *successor);
/** Whether every worker has returned (kve_server_join then does not block). */
int kve_server_stopped(const kve_server_t *server);
/** Waits for the workers. */
void kve_server_join(kve_server_t *server);
/** Tells `server` that its predecessor has been joined: no more connections come from it. */
void kve_server_predecessor_done(kve_server_t *server);

/** start, then serve until SIGTERM/SIGINT, stop and join (for tools with one configuration). */
int kve_server_run(kve_server_t *server, const kve_server_hooks_t *hooks);

/** Frees the server, its listeners and the globalconf (after it was joined). */
void kve_server_destroy(kve_server_t *server);

/** Registers `w` on `thread` (unlink it with h2o_linklist_unlink when done; the server never frees it). */
static inline void kve_server_watch_drain(kve_thread_t *thread, kve_drain_watcher_t *w)
{
    h2o_linklist_insert(&thread->drain_watchers, &w->link);
}

/** The thread state of the context a request runs on. */
static inline kve_thread_t *kve_server_thread(h2o_context_t *ctx)
{
    return (kve_thread_t *)ctx;
}

/**
 * The thread's link to store `store` (an id the configuration resolved, e.g. kv.store) for a client of the
 * read-write or read-only class: read-only clients get the store's read-only link when it has one. NULL when the
 * thread has no such link (outside its hooks, or an id the configuration does not have).
 */
static inline kve_kv_t *kve_thread_link(const kve_thread_t *thread, size_t store, int read_only)
{
    const kve_thread_store_t *s;
    if (store >= thread->num_stores)
        return NULL;
    s = thread->stores + store;
    return read_only && s->ro != NULL ? s->ro : s->rw;
}

#endif
