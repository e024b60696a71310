/* SPDX-License-Identifier: MIT */
/*
 * Named stores at runtime. A store is one Redis (the embedded one or an external one) that kvedge's features reach
 * by its id, the store's index in the configuration's list (conf/config.h, kve_config_store_id). Each worker thread
 * has one link per store, and a second one per store that has a read-only user (the store the KV API serves, for
 * read-only tokens); a feature takes the link with kve_thread_link(thread, store_id, read_only) (proxy/server.h).
 *
 * Lifecycle: kve_stores_create() resolves every store's target on the main thread before the workers start
 * (blocking name resolution, errors come back here); the server's thread hooks call kve_stores_thread_start() and
 * kve_stores_thread_stop() on each worker, which create and destroy that thread's links; kve_stores_destroy()
 * after the workers are joined. The per-thread link arrays, and the counters every link writes into
 * (kve_thread_store_t.rw_stats / ro_stats), belong to the set, so another thread reading them (the metrics) never
 * reads freed memory, even while the owning thread destroys its links.
 */
#ifndef KVE_PROXY_STORES_H
#define KVE_PROXY_STORES_H

#include <stddef.h>
#include "proxy/redis_target.h"
#include "proxy/server.h"

/** Most stores one configuration may name. */
#define KVE_STORES_MAX 16
/** The store `redis:` configures, and the one features use unless told otherwise. */
#define KVE_STORE_DEFAULT "default"

/** How one store's links connect (conf/ builds these from the configuration). Everything is borrowed. */
typedef struct st_kve_store_spec_t {
    /** the store's name, in logs, /readyz and /metrics */
    const char *name;
    /** its connection settings (timeouts, breaker, URL, users); url "embedded": the embedded Redis's socket */
    const kve_redis_conf_t *redis;
    /** the read-write links' user and password, when non-NULL in place of redis->username / redis->password */
    const char *username, *password;
    /**
     * the read-only links' user (NULL: the store has no read-only links) and its password (NULL: none, never the
     * read-write user's)
     */
    const char *ro_username, *ro_password;
    /**
     * NULL-terminated names of the commands each user must not be able to run, checked once per connection
     * (proxy/redis_acl.h); NULL: no check (stores the KV API does not use)
     */
    char *const *refused, *const *ro_refused;
} kve_store_spec_t;

typedef struct st_kve_stores_t kve_stores_t;

/**
 * Builds the targets of the `n` stores of `specs` (at most KVE_STORES_MAX; the array is copied, what it points to
 * is borrowed and must outlive the set) for `num_threads` workers. `embedded_socket`: the embedded Redis's socket
 * (NULL when none runs). Returns NULL with a message in `err` when a target cannot be built (e.g. a host name that
 * does not resolve), which names the store ("store NAME: ...") when there are several.
 */
kve_stores_t *kve_stores_create(const kve_store_spec_t *specs, size_t n, const char *embedded_socket, size_t num_threads, char *err,
                                size_t errlen);

/** On worker `thread`, in its start hook: creates its links (they connect in the background) and sets thread->stores. */
void kve_stores_thread_start(kve_stores_t *stores, kve_thread_t *thread);

/** On worker `thread`, in its stop hook: destroys its links (pending commands fail with KVE_ESHUTDOWN). */
void kve_stores_thread_stop(kve_stores_t *stores, kve_thread_t *thread);

/** Number of stores. */
size_t kve_stores_count(const kve_stores_t *stores);

/** Frees the set (NULL is fine), after every thread's stop hook ran. */
void kve_stores_destroy(kve_stores_t *stores);

#endif
