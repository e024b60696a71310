/* SPDX-License-Identifier: MIT */
/* Shared between the Redis link (kv_redis.c) and its streams (kv_redis_stream.c); not for other modules. */
#ifndef KVE_PROXY_KV_REDIS_INTERNAL_H
#define KVE_PROXY_KV_REDIS_INTERNAL_H

#include "proxy/buf.h"
#include "proxy/kv_internal.h"
#include "proxy/redis_adapter.h"
#include "proxy/redis_target.h"

typedef struct st_kve_redis_link_t {
    kve_kv_t super;
    /** borrowed (the application's, which outlives every link) */
    const kve_redis_target_t *target;
    kve_redis_adapter_t adapter;
    /** the reader's state: per-command reply limits, replies nobody waits for (redis_reply.h) */
    kve_redis_reader_t reader;
    uint64_t reconnect_max_ms;
    uint64_t breaker_threshold;
    unsigned ever_up : 1;
    unsigned logged_down : 1;
    /** an external Redis: check its client-output-buffer-limit once (kv_redis_limits.c) */
    unsigned check_output_limit : 1;
    /** the last handshake failed because the store refused the credentials: commands fail with KVE_EAUTH */
    unsigned auth_refused : 1;
    /** the refusal was logged (one line per episode: until the link comes up again) */
    unsigned logged_auth : 1;
    /**
     * a command running a script timed out (the watchdog was called) while script_commands != 0; cleared when no
     * script command is outstanding any more
     */
    unsigned script_expired : 1;
    /**
     * commands running a script (EVAL*, FCALL*, or a transaction with one) sent on the connection and not answered:
     * while one runs, the commands queued behind it wait for it, and their timeouts do not count towards the breaker
     * until the script's own timeout has passed and the watchdog's kill is over (link_on_timeout)
     */
    size_t script_commands;
    size_t handshake_pending;
    uint64_t consecutive_timeouts;
    uint64_t backoff_ms;
    uint64_t next_attempt_at;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    /** also bounds a stream's connect, handshake and first reply (the subscription is confirmed) */
    h2o_timeout_t connect_timeout;
    h2o_timeout_entry_t connect_entry;
    /** streams opened on this link and not yet freed */
    size_t num_streams;
    /** 0 ms: writes queued commands at the end of the loop iteration (see redis_adapter.h) */
    h2o_timeout_t flush_timeout;
    /** the primary of a replicas topology: a batch that asks for the sync position gets a ROLE of its own, right after
     * its commands (kve_kv_redis_role_per_batch) */
    unsigned role_per_batch : 1;
    /** batches waiting for the next ROLE (linked through driver_next), and the entry that sends it when no flush does */
    kve_kv_batch_t *sync_waiting;
    h2o_timeout_entry_t sync_entry;
    /**
     * min_replicas_ack (kv_ack.h): the settings a waiter is made with (numbers only: no string of the configuration is
     * kept; min_replicas_ack 0: off), and the waiter, made on the first batch that asks (only the store's read-write
     * link to its primary gets such batches: replicas and read-only links never make one)
     */
    kve_redis_conf_t ack_conf;
    struct st_kve_kv_ack_t *ack;
    /** the script watchdog's kill in progress (redis_script_kill.c), and attempts since the last reply on time */
    struct st_kve_redis_kill_t *kill;
    unsigned kill_attempts;
} kve_redis_link_t;

/** Queues the once-per-process check of the server's output buffer limit on a link that just came up. */
void kve_redis__check_output_limit(kve_redis_link_t *link);

/**
 * The script watchdog: a command running a script (KVE_KV_SCRIPT_EVAL or _FUNCTION) timed out; stops the
 * script with SCRIPT KILL or FUNCTION KILL on a connection of its own (one at a time per link, a bounded
 * number of attempts until the link gets a reply on time again). Outcomes are logged.
 */
void kve_redis__kill_script(kve_kv_t *kv, int kind);
/** Ends a kill in progress (the link is being destroyed). */
void kve_redis__kill_dispose(kve_redis_link_t *link);

kve_kv_stream_t *kve_redis__stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                        kve_kv_stream_cb cb, void *data, int *err);
void kve_redis__stream_close(kve_kv_stream_t *stream);

#endif
