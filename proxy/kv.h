/* SPDX-License-Identifier: MIT */
/*
 * The KV interface: the only way handlers reach the store. A kve_kv_t is one link owned by one worker
 * thread (never shared across threads); commands sent on it are pipelined in order. Two drivers implement
 * it: Redis over hiredis (kv_redis.c) and, later, the KV REST protocol. Nothing here names hiredis.
 *
 * Contract:
 * - kve_kv_command() either fails at once (returns NULL and sets *err: the link is down or the circuit
 *   is open, so callers fail fast) or returns a handle; then the callback runs exactly once, later, from
 *   the event loop, never from inside kve_kv_command() — unless the caller cancels the handle first.
 * - The callback gets err == 0 and a reply (which may be a Redis error reply, KVE_REPLY_ERROR, or
 *   KVE_REPLY_TOO_BIG when the command's max_reply_size was passed), or err < 0 (KVE_ETIMEDOUT,
 *   KVE_ECONN, KVE_EPROTO, KVE_ESHUTDOWN, ...) and reply == NULL.
 * - The reply is borrowed for the duration of the callback; copy what you keep.
 * - A timed-out command may still be executed by the server later: timeouts make the outcome of a
 *   write unknown, as with any network store.
 * - Argument bytes are copied before kve_kv_command() returns.
 *
 * Circuit breaker (the driver's): timeouts count towards rebuilding the link; a group of commands (one
 * request's, kve_kv_group_t) counts once however many of its commands time out. Only a reply that reaches
 * a caller still waiting for it shows the link is healthy: a late reply (to a command that already timed
 * out) does not, and a reply no command waits for means the connection is out of step, so the driver
 * rebuilds it.
 */
#ifndef KVE_PROXY_KV_H
#define KVE_PROXY_KV_H

#include <stddef.h>
#include <stdint.h>

/* the RESP2 reply kinds (same values as hiredis' REDIS_REPLY_*; kv_redis.c checks that at compile time) */
enum {
    KVE_REPLY_STRING = 1,
    KVE_REPLY_ARRAY = 2,
    KVE_REPLY_INTEGER = 3,
    KVE_REPLY_NIL = 4,
    KVE_REPLY_STATUS = 5,
    KVE_REPLY_ERROR = 6,
    /**
     * Not a Redis type: the reply would have taken more than the command's max_reply_size bytes while it
     * was read, so the driver stopped keeping it (it read and dropped the rest). Nothing else of the reply
     * is set. The KV API answers it as "ERR max response size exceeded".
     */
    KVE_REPLY_TOO_BIG = 7
};

typedef struct st_kve_kv_reply_t {
    int type;
    /** KVE_REPLY_INTEGER */
    long long integer;
    /** STRING, STATUS, ERROR: bytes (NUL-terminated, `len` exact) */
    size_t len;
    char *str;
    /** ARRAY */
    size_t elements;
    struct st_kve_kv_reply_t **element;
} kve_kv_reply_t;

/** Link states (also exported as the kvedge_kv_link_state metric). */
enum { KVE_KV_DOWN = 0, KVE_KV_CONNECTING = 1, KVE_KV_UP = 2 };

typedef struct st_kve_kv_stats_t {
    uint64_t commands;      /* commands sent */
    uint64_t replies;       /* replies delivered (including error replies) */
    uint64_t error_replies; /* replies of type KVE_REPLY_ERROR */
    uint64_t timeouts;      /* commands that hit their timeout */
    uint64_t late_replies;  /* replies that came after their command timed out */
    uint64_t failures;      /* commands failed by the link (connection lost, down, circuit open) */
    uint64_t reconnects;    /* successful (re)connections after the first */
    uint64_t inflight;      /* commands sent and not yet completed (gauge) */
    int state;              /* KVE_KV_* */
} kve_kv_stats_t;

typedef struct st_kve_kv_t kve_kv_t;
typedef struct st_kve_kv_cmd_t kve_kv_cmd_t;

typedef void (*kve_kv_cb)(void *data, int err, const kve_kv_reply_t *reply);

/**
 * Commands that belong together, e.g. all those one HTTP request issues. When one of them times out, every
 * other one of the group still waiting times out with it (its callback runs with KVE_ETIMEDOUT at once),
 * and the whole group counts as one timeout towards the link's circuit breaker, so one request cannot trip
 * it alone. The caller owns the memory (typically inside its request state), initialises it with
 * KVE_KV_GROUP_INIT, and keeps it valid until every command issued with it has had its callback or was
 * cancelled; it may then be discarded without any call. Its commands may go to different links of the
 * thread: the group counts towards the breaker of the link whose command timed out first. Fields are
 * private.
 */
typedef struct st_kve_kv_group_t {
    kve_kv_cmd_t *_waiting; /* the group's commands whose callback is still due (linked through their records) */
    int _timed_out;         /* the group has counted towards the breaker */
} kve_kv_group_t;
#define KVE_KV_GROUP_INIT                                                                                                          \
    {                                                                                                                              \
        NULL, 0                                                                                                                    \
    }

/** Options of one command. A zeroed struct means: the link's default timeout, no group, no reply limit. */
typedef struct st_kve_kv_opts_t {
    /** 0: the link's default command timeout */
    uint64_t timeout_ms;
    /** NULL: the command stands alone */
    kve_kv_group_t *group;
    /**
     * The most bytes the reply may take in memory while it is read: its strings plus a fixed cost per
     * element (the driver's reply object, ~170 bytes for Redis). Past it the driver stops allocating, reads
     * and drops the rest, and delivers a KVE_REPLY_TOO_BIG reply. 0: no limit (beyond the driver's own
     * element cap); a limit below 1 KiB counts as 1 KiB.
     */
    size_t max_reply_size;
    /**
     * For an array whose elements are separate results (EXEC's): max_reply_size is shared by its elements
     * in order, and an element that would pass what is left becomes KVE_REPLY_TOO_BIG in its place; the
     * array itself is kept (its slots count towards the limit but never refuse it).
     */
    int split_array;
} kve_kv_opts_t;

/** What a command runs on the server: scripts are watched (see kve_kv_script_kind). */
enum { KVE_KV_SCRIPT_NONE = 0, KVE_KV_SCRIPT_EVAL = 1, KVE_KV_SCRIPT_FUNCTION = 2 };

/**
 * Whether command `name` runs a script: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO (KVE_KV_SCRIPT_EVAL), FCALL,
 * FCALL_RO (KVE_KV_SCRIPT_FUNCTION), else KVE_KV_SCRIPT_NONE; case-insensitive. Such a command that times out
 * makes the link stop the script on the server (Redis: SCRIPT KILL or FUNCTION KILL on a connection of its
 * own), so one script cannot hold the store past its caller's timeout. Callers give scripts a timeout of
 * their own (kv.script_timeout).
 */
int kve_kv_script_kind(const char *name, size_t len);

/**
 * Sends a command with `opts` (NULL: all defaults; only read during the call). Returns a handle valid until
 * the callback has run or kve_kv_cancel() was called; NULL with *err set if the command was not sent.
 */
kve_kv_cmd_t *kve_kv_command(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, const kve_kv_opts_t *opts,
                             kve_kv_cb cb, void *data, int *err);

/** The callback of `cmd` will not run (the reply, if one comes, is dropped). `cmd` is invalid afterwards. */
void kve_kv_cancel(kve_kv_cmd_t *cmd);

/** Copies the link's counters (safe to call from another thread; values are read with relaxed atomics). */
void kve_kv_get_stats(const kve_kv_t *kv, kve_kv_stats_t *out);

/**
 * A stream: a dedicated connection for a command whose replies keep coming (SUBSCRIBE, PSUBSCRIBE,
 * MONITOR). The callback gets every reply (subscribe confirmations, messages, monitor lines) with err 0,
 * and at most once err < 0 with reply NULL when the stream fails (connection refused or lost,
 * handshake error, or no first reply within the connect timeout: KVE_ETIMEDOUT); after that it is never
 * called again. Replies are borrowed for the call. Streams don't count against the link's pipelining and
 * don't need it to be up.
 */
typedef struct st_kve_kv_stream_t kve_kv_stream_t;
typedef void (*kve_kv_stream_cb)(void *data, int err, const kve_kv_reply_t *reply);

/** Opens a stream and sends `argv` on it once connected. Returns NULL with *err set if it cannot start. */
kve_kv_stream_t *kve_kv_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, kve_kv_stream_cb cb,
                                    void *data, int *err);

/** Closes the stream (the server drops its subscriptions at once); the callback is not called again. */
void kve_kv_stream_close(kve_kv_stream_t *stream);

/**
 * Closes the link: pending commands complete with KVE_ESHUTDOWN; frees `kv`. Must run on the owning
 * thread with its loop still alive.
 */
void kve_kv_destroy(kve_kv_t *kv);

#endif
