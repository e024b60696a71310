/* SPDX-License-Identifier: MIT */
/*
 * What kv.c shares with the drivers (not for handlers). kv.c owns command records, per-command timers and
 * counters; a driver owns the transport. A command record is freed only when the driver reports it done
 * (kve_kv__complete), whatever happened to the caller's interest in it (timeout, cancel) before.
 */
#ifndef KVE_PROXY_KV_INTERNAL_H
#define KVE_PROXY_KV_INTERNAL_H

#include "h2o.h"
#include "proxy/kv.h"

#define KVE_KV_MAGIC 0x6b764c4e
#define KVE_KV_CMD_MAGIC 0x6b76436d
#define KVE_KV_MAX_TIMEOUT_CLASSES 8

typedef struct st_kve_kv_driver_t {
    const char *name;
    /** queue `cmd` for sending; 0, or a negative KVE_E* if it cannot be sent now (nothing is called then) */
    int (*send)(kve_kv_t *kv, kve_kv_cmd_t *cmd, size_t argc, const char *const *argv, const size_t *argvlen);
    /** a command (or a group of them, kve_kv_group_t) timed out: called once per group */
    void (*on_timeout)(kve_kv_t *kv);
    /** a reply reached a caller still waiting for it (drivers reset their timeout count); not for late replies */
    void (*on_reply)(kve_kv_t *kv);
    /** close the transport, completing every command still queued (kve_kv__complete), and free the driver */
    void (*destroy)(kve_kv_t *kv);
    /** open and close a dedicated connection (see kve_kv_stream_open) */
    kve_kv_stream_t *(*stream_open)(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, kve_kv_stream_cb cb,
                                    void *data, int *err);
    void (*stream_close)(kve_kv_stream_t *stream);
    /** optional: a command that runs a script (KVE_KV_SCRIPT_*) timed out: stop the script on the server */
    void (*kill_script)(kve_kv_t *kv, int kind);
} kve_kv_driver_t;

struct st_kve_kv_timeout_class_t {
    uint64_t ms;
    h2o_timeout_t timeout;
};

struct st_kve_kv_t {
    uint32_t magic;
    const kve_kv_driver_t *driver;
    h2o_loop_t *loop;
    uint64_t default_timeout_ms;
    /** counters; written only by the owning thread, read by others with relaxed atomics */
    kve_kv_stats_t stats;
    struct st_kve_kv_timeout_class_t timeouts[KVE_KV_MAX_TIMEOUT_CLASSES];
    size_t num_timeouts;
    /** set while destroying: commands completed by the driver then report KVE_ESHUTDOWN */
    int closing;
    /** freed command records kept for reuse (a record per command is the hot path's allocation) */
    kve_kv_cmd_t *free_cmds;
    size_t num_free_cmds;
    char peer[160];
};

struct st_kve_kv_cmd_t {
    uint32_t magic;
    /** the caller timed out: a reply that still comes is late (proves nothing about the link's health) */
    uint32_t timed_out;
    kve_kv_t *kv;
    /** NULL once the caller's interest ended (timeout delivered, or cancel) */
    kve_kv_cb cb;
    void *data;
    /** KVE_KV_SCRIPT_*: the command runs a script (stopped on the server if it times out) */
    int script;
    /** kve_kv_opts_t.max_reply_size and split_array, for the driver's reader */
    size_t max_reply_size;
    int split_array;
    /** while the callback is due: the caller's group (NULL if none) and the links of its list */
    kve_kv_group_t *group;
    kve_kv_cmd_t *group_next;
    kve_kv_cmd_t **group_prev;
    h2o_timeout_entry_t timeout_entry;
};

/** Initialises the common part of a link (called by a driver's create function). */
void kve_kv__init(kve_kv_t *kv, const kve_kv_driver_t *driver, h2o_loop_t *loop, uint64_t default_timeout_ms);
/** Disposes the common part (timers); every command must have completed. */
void kve_kv__dispose(kve_kv_t *kv);
/**
 * The driver is done with `cmd`: delivers `err`/`reply` to the caller if it still waits, then frees the
 * record. `err` is KVE_ECONN when the transport failed, KVE_EPROTO when the server's bytes could not be
 * parsed (either is mapped to KVE_ESHUTDOWN while closing).
 */
void kve_kv__complete(kve_kv_cmd_t *cmd, int err, const kve_kv_reply_t *reply);
/** Sets the link state (KVE_KV_*). */
void kve_kv__set_state(kve_kv_t *kv, int state);

/** Relaxed-atomic counter helpers: the owning thread is the only writer. */
#define KVE_STAT_ADD(field, n) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define KVE_STAT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define KVE_STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif
