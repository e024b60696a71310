/* SPDX-License-Identifier: MIT */
/*
 * The embedded Redis: kvedge runs its own `redis-server` as a child process listening only on a unix
 * socket under data_dir, with AOF persistence, so `redis: embedded` needs no setup. The supervisor is
 * driven from the main thread only (never from workers): kve_embedded_start() blocks until the server
 * answers PING; kve_embedded_poll() is called on SIGCHLD and periodically, reaps a dead child and starts a
 * new one (immediately the first time, with backoff if it keeps dying); kve_embedded_stop() shuts it down
 * with SIGTERM (Redis flushes its AOF) and SIGKILL after a grace period. The child gets
 * PR_SET_PDEATHSIG, so it never outlives a kvedge that was killed with SIGKILL.
 */
#ifndef KVE_PROXY_EMBEDDED_H
#define KVE_PROXY_EMBEDDED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "proxy/common.h"

/** The appendfsync policies Redis knows, NULL-terminated; kve_embedded_conf_t.appendfsync indexes it (and the
 * configuration's table takes its choices from it). */
extern const char *const kve_embedded_fsync_modes[];

/** Redis' maxmemory policies, NULL-terminated, "noeviction" first; kve_embedded_conf_t.maxmemory_policy indexes it. */
extern const char *const kve_embedded_policies[];

typedef struct st_kve_embedded_conf_t {
    /** program to run; a bare name is looked up in PATH ("redis-server") */
    char *binary;
    /** directory for the AOF, the socket, the lock and redis.log; created (0700) if missing */
    char *data_dir;
    /** appendfsync: an index into kve_embedded_fsync_modes */
    int appendfsync;
    /** Redis maxmemory in bytes, 0 = no limit */
    uint64_t maxmemory;
    /** maxmemory-policy: an index into kve_embedded_policies (what Redis does at maxmemory; noeviction refuses writes) */
    int maxmemory_policy;
    /**
     * more options, "--name", "value" pairs (NULL-terminated), passed after kvedge's own; the configuration allows
     * only tuning options and single-word values (conf/embedded_options.c). Owned by the configuration.
     */
    kve_strv_t options;
    /**
     * hard limit of Redis' output buffer per normal client (client-output-buffer-limit normal <this> 0 0):
     * a connection that falls further behind is closed by Redis; 0 = no limit (Redis' default)
     */
    uint64_t client_output_buffer_limit;
    /** how long kve_embedded_start() waits for PING */
    uint64_t start_timeout_ms;
} kve_embedded_conf_t;

typedef struct st_kve_embedded_t kve_embedded_t;

/**
 * Takes an exclusive lock on data_dir (a second kvedge on the same directory is refused), starts the
 * server and waits until it answers PING. Returns NULL with a message in `err` on failure, e.g.
 * `redis-server not found in PATH (install the redis-server package or set embedded_redis.binary)`.
 * `conf` is copied (its options too). `extra_args` (NULL-terminated, may be NULL) are more redis-server options, appended to
 * kvedge's own (copied; they are on its command line, so they must hold no secret in clear).
 */
kve_embedded_t *kve_embedded_start(const kve_embedded_conf_t *conf, char *const *extra_args, char *err, size_t errlen);

/** Absolute path of the unix socket the server listens on (owned by `e`, stable across restarts). */
const char *kve_embedded_socket_path(const kve_embedded_t *e);

/**
 * Whether `conf` and `extra_args` (as for kve_embedded_start) describe the redis-server `e` runs: the same command
 * line, word by word (a reload keeps the embedded Redis only then). 0 also when `conf` cannot be resolved.
 */
int kve_embedded_matches(const kve_embedded_t *e, const kve_embedded_conf_t *conf, char *const *extra_args);

/**
 * Restarts the redis-server of `e` with `conf` and `extra_args` (a reload that changed its settings): SIGTERM (Redis
 * writes its AOF out), then the new command line, waiting for PING. The binary and data_dir must stay (-1 otherwise,
 * nothing touched). When the new settings do not start, the previous ones are started again and -1 returned with
 * the reason in `err`. Clients see the store down meanwhile (their links reconnect). `e` stays the same object.
 */
int kve_embedded_reconfigure(kve_embedded_t *e, const kve_embedded_conf_t *conf, char *const *extra_args, char *err, size_t errlen);

/**
 * Non-blocking: reaps the child if it exited (logging how), and starts a new one when due. Call on SIGCHLD
 * and at least every 100 ms. Returns the number of milliseconds until it wants to be called again (for a
 * pending restart), or UINT64_MAX if nothing is pending.
 */
uint64_t kve_embedded_poll(kve_embedded_t *e);

/** Number of times the server was restarted after dying. */
uint64_t kve_embedded_restarts(const kve_embedded_t *e);
/** PID of the running server, or 0 while none runs. */
pid_t kve_embedded_pid(const kve_embedded_t *e);

/** Stops the server (SIGTERM, then SIGKILL after 5 s), releases the lock and frees `e` (NULL is fine). */
void kve_embedded_stop(kve_embedded_t *e);

#endif
