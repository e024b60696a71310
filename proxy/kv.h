/* SPDX-License-Identifier: MIT */
/*
 * The KV interface (second version): the only way handlers reach a store. A kve_kv_t is one link owned by one
 * worker thread (never shared across threads). Drivers implement it: Redis over hiredis (kv_redis.c), a primary
 * with its replicas (kv_replicas.c), the KV REST protocol (kv_rest_driver.c) and, later, Redis Cluster. Nothing here
 * names hiredis, and nothing promises that a driver answers in order: kv.c puts results back in order.
 *
 * Order between batches: a batch that writes is applied after every batch sent before it on the link and before
 * every batch sent after it (so a lookup after a store, or after an invalidation, sees it). The Redis driver applies
 * everything in order (one connection per link); the KV REST driver holds later requests while one that writes is
 * out, and lets requests that only read run side by side on several connections. The replicas topology
 * (kv_replicas.h) serves from a replica only reads that name a position (min_sync > 0), from a replica that has it;
 * every other batch runs on the primary's connection.
 *
 * Batches. Every request to the store is a batch of N commands (N >= 1), sent with kve_kv_batch():
 * - on_reply(data, i, err, reply) runs EXACTLY ONCE for every index i, in index order (0, 1, ..., N-1) whatever
 *   order the driver completes them in, then on_done(data, result) runs exactly once. Neither ever runs from
 *   inside kve_kv_batch(); both run from the event loop. kve_kv_batch_cancel() ends them early.
 * - `err` is 0 with a reply (which may be a store error, KVE_REPLY_ERROR, or KVE_REPLY_TOO_BIG when the reply
 *   passed max_reply_size while it was read), or a KVE_E* code with reply == NULL: KVE_ETIMEDOUT, KVE_ECONN,
 *   KVE_EPROTO, KVE_EUNAVAIL, KVE_EAUTH, KVE_ESHUTDOWN..., KVE_EABORTED (an atomic batch not applied) or
 *   KVE_ENOTSENT (the caller stopped the batch before the command was sent).
 * - Replies are borrowed for the duration of the callback; kve_kv_reply_take_str() keeps a string's bytes
 *   (without a copy when the driver allocated them on their own).
 * - A command that timed out may still run on the store later: a timeout makes the outcome of a write unknown.
 * - `window` bounds the commands in flight (the rest are sent as results come back); kve_kv_batch_stop(), called
 *   from on_reply, sends nothing more.
 * - KVE_KV_BATCH_ATOMIC: a transaction, sent whole and applied whole or not at all (MULTI/EXEC on Redis). When a
 *   command is refused before it runs (unknown command, wrong arity, ...), nothing is applied: every index gets
 *   KVE_EABORTED and result->abort_reply says why (the first refused command's error).
 * - KVE_KV_BATCH_SYNC: after the batch's last command, the driver reads the store's sync position (Redis: the
 *   primary's replication offset, from one ROLE per event-loop flush whatever the number of batches asking) and
 *   reports it in result->sync_offset. It never fails the batch: result->sync_known is 0 when it could not be read.
 *
 * Circuit breaker (the driver's): timeouts count towards rebuilding the link; a batch, and a group of batches
 * (kve_kv_group_t), counts once however many of its commands time out. Only a reply that reaches a caller still
 * waiting for it shows the link is healthy: a late reply (to a batch that timed out) does not, and a reply no
 * command waits for means the connection is out of step, so the driver rebuilds it. Timeouts of commands queued
 * behind a running script do not count until the script's watchdog is done with it (see kve_kv_script_kind).
 *
 * Credentials: a store that refuses kvedge's own credentials fails commands with KVE_EAUTH (not KVE_ECONN or
 * KVE_EUNAVAIL) while the link retries.
 */
#ifndef KVE_PROXY_KV_H
#define KVE_PROXY_KV_H

#include <stddef.h>
#include <stdint.h>

/* --- replies --- */

enum {
    /* RESP2 */
    KVE_REPLY_STRING = 1,
    KVE_REPLY_ARRAY = 2,
    KVE_REPLY_INTEGER = 3,
    KVE_REPLY_NIL = 4,
    KVE_REPLY_STATUS = 5,
    KVE_REPLY_ERROR = 6,
    /**
     * Not a store type: the reply would have taken more than the batch's max_reply_size bytes while it was read,
     * so the driver stopped keeping it (it read and dropped the rest). Nothing else of the reply is set. The KV
     * API answers it as "ERR max response size exceeded".
     */
    KVE_REPLY_TOO_BIG = 7,
    /* RESP3, reserved: no driver produces them yet (the Redis driver speaks RESP2) and the encoders of
     * handlers/kv_reply.c accept the kinds above only; a driver that speaks RESP3 adds them there first. */
    KVE_REPLY_DOUBLE = 8,  /* `dval`, and `str` the text the store sent ("3.14", "inf") */
    KVE_REPLY_BOOL = 9,    /* `integer` 0 or 1 */
    KVE_REPLY_MAP = 10,    /* `elements` is twice the number of pairs: key, value, key, value... */
    KVE_REPLY_SET = 11,    /* like an array */
    KVE_REPLY_BIGNUM = 12, /* `str` the decimal digits */
    KVE_REPLY_VERB = 13,   /* `str` the text with its "txt:" prefix */
    KVE_REPLY_PUSH = 14    /* out-of-band data (like an array); never a command's reply */
};

/** kve_kv_reply_t._mem: `str` is a separate allocation the object owns (kve_kv_reply_take_str may take it) */
#define KVE_KV_REPLY_OWNS_STR 0x1

typedef struct st_kve_kv_reply_t {
    int type;
    /** private: how the object's string is held (KVE_KV_REPLY_OWNS_STR); 0 for objects built by hand */
    uint8_t _mem;
    union {
        /** KVE_REPLY_INTEGER; KVE_REPLY_BOOL: 0 or 1 */
        long long integer;
        /** KVE_REPLY_DOUBLE */
        double dval;
    };
    /** STRING, STATUS, ERROR, DOUBLE, BIGNUM, VERB: bytes (NUL-terminated, `len` exact) */
    size_t len;
    char *str;
    /** ARRAY, MAP, SET, PUSH */
    size_t elements;
    struct st_kve_kv_reply_t **element;
} kve_kv_reply_t;

/**
 * Takes the bytes of a string reply (or of any string inside one) handed to a callback, during the callback:
 * returns a malloc'd NUL-terminated buffer of reply->len bytes (*len set) for the caller to free(). A string the
 * driver allocated on its own (a large bulk string) is handed over without a copy, a short one is copied; either
 * way `reply` is left holding "" (len 0).
 */
char *kve_kv_reply_take_str(const kve_kv_reply_t *reply, size_t *len);

/* --- links --- */

/** Link states (also exported as the kvedge_kv_link_state metric). */
enum { KVE_KV_DOWN = 0, KVE_KV_CONNECTING = 1, KVE_KV_UP = 2 };

/** Buckets of kve_kv_stats_t.pipeline_sizes: at most 1, 4, 16, 64, 256, 1024 commands, and more. */
#define KVE_KV_PIPELINE_BUCKETS 7
#define KVE_KV_PIPELINE_BUCKET(i) ((i) + 1 < KVE_KV_PIPELINE_BUCKETS ? (uint64_t)1 << (2 * (i)) : UINT64_MAX)

typedef struct st_kve_kv_stats_t {
    uint64_t commands;      /* commands sent */
    uint64_t replies;       /* replies delivered (including error replies) */
    uint64_t error_replies; /* replies of type KVE_REPLY_ERROR */
    uint64_t timeouts;      /* commands that hit their timeout */
    uint64_t late_replies;  /* replies that came after their command timed out */
    uint64_t failures;      /* commands failed by the link (connection lost, down, circuit open) */
    uint64_t reconnects;    /* successful (re)connections after the first */
    uint64_t inflight;      /* commands sent and not yet completed (gauge) */
    uint64_t syncs;         /* sync positions read (Redis: ROLE commands sent) */
    int state;              /* KVE_KV_* */
    /* requests to the store that carry commands (the KV REST driver: one HTTP request, /pipeline, /multi-exec or the
     * path form; the Redis driver keeps them 0) */
    uint64_t pipelines;         /* requests sent (a retry counts again) */
    uint64_t pipeline_commands; /* commands they carried (the sum of the histogram below) */
    uint64_t pipeline_errors;   /* requests that failed as a whole: network, HTTP status, a body that cannot be read */
    uint64_t bytes_sent;        /* request bodies */
    uint64_t bytes_received;    /* response bodies */
    uint64_t retries;           /* commands sent again after a network error (reads only, once each) */
    /** requests by the commands they carried: [i] counts those with more than KVE_KV_PIPELINE_BUCKET(i - 1) and at most
     * KVE_KV_PIPELINE_BUCKET(i) (1, 4, 16, ...; not cumulative) */
    uint64_t pipeline_sizes[KVE_KV_PIPELINE_BUCKETS];
    uint64_t script_fallbacks; /* EVALSHA of a kve_kv_script_t answered NOSCRIPT and sent again as EVAL (every driver) */
    uint64_t not_acknowledged; /* batches with KVE_KV_BATCH_ACK answered KVE_ENOACK (min_replicas_ack, kv_ack.h) */
    /* the Redis Cluster driver (0 elsewhere) */
    uint64_t redirects;          /* commands sent again after MOVED or ASK, or retried after TRYAGAIN or READONLY */
    uint64_t slot_map_refreshes; /* slot maps read and applied */
} kve_kv_stats_t;

typedef struct st_kve_kv_t kve_kv_t;
typedef struct st_kve_kv_batch_t kve_kv_batch_t;

/**
 * Batches that belong together, e.g. the links one HTTP request uses. When one of them times out, every other one
 * of the group still waiting times out with it, and the group counts as one timeout towards the breaker of the
 * link whose batch timed out first. (A batch alone is already such a group.) The caller owns the memory
 * (typically inside its request state), initialises it with KVE_KV_GROUP_INIT, and keeps it valid until every
 * batch issued with it has had its on_done or was cancelled. Fields are private.
 */
typedef struct st_kve_kv_group_t {
    kve_kv_batch_t *_waiting; /* the group's batches whose callbacks are still due */
    int _timed_out;           /* the group has counted towards the breaker */
} kve_kv_group_t;
#define KVE_KV_GROUP_INIT                                                                                                          \
    {                                                                                                                              \
        NULL, 0                                                                                                                    \
    }

/* per-command flags */
/** The command does not write: a driver may serve it from a replica (when it names a min_sync the replica has). */
#define KVE_KV_CMD_READ_ONLY 0x1

/**
 * A Lua script registered once: kve_kv_script_init() fills it (the SHA1 of the body, computed here), and from then on
 * it is immutable, so one object (a static, a feature's configuration) serves every link of every driver on every
 * thread. A command runs it as EVALSHA (kve_kv_script_argv() writes argv[0] and argv[1]; numkeys, keys and arguments
 * follow as for EVAL) with kve_kv_command_t.script pointing at it. When the store answers NOSCRIPT (it never saw the
 * script, or SCRIPT FLUSH, a restart or a failover emptied its cache), kv.c sends the command again as EVAL with the
 * body, on the same link, transparently: the caller gets the EVAL's reply at the command's index (the EVAL runs after
 * the commands that followed the EVALSHA in the same pipeline, as with any client's fallback; the next EVALSHA finds
 * the script, EVAL having cached it). In an atomic batch the command is sent as EVAL at once: a NOSCRIPT inside a
 * transaction cannot be replayed without breaking it, and so in a KVE_KV_BATCH_ORDERED batch (the EVAL would run
 * after the commands that depend on it). Counted in kve_kv_stats_t.script_fallbacks.
 */
typedef struct st_kve_kv_script_t {
    /** the body (borrowed: it must outlive every batch that runs the script) */
    const char *body;
    size_t len;
    /** the SHA1 of the body, 40 lower-case hex digits */
    char sha[41];
} kve_kv_script_t;

/** Fills `script` for `body` (`len` bytes, borrowed). */
void kve_kv_script_init(kve_kv_script_t *script, const char *body, size_t len);

/** Writes argv[0] ("EVALSHA", or "EVALSHA_RO" when `read_only`) and argv[1] (the SHA1) of a command that runs `script`. */
void kve_kv_script_argv(const kve_kv_script_t *script, int read_only, const char **argv, size_t *argvlen);

/** No key slot (kve_kv_command_t.slot). */
#define KVE_KV_SLOT_NONE (-1)

/** One command of a batch. Use KVE_KV_COMMAND() to get the defaults (no flags, no slot, no sync position). */
typedef struct st_kve_kv_command_t {
    size_t argc;
    const char *const *argv;
    const size_t *argvlen;
    /** KVE_KV_CMD_* */
    unsigned flags;
    /** the cluster slot all its keys hash to (CRC16 mod 16384), or KVE_KV_SLOT_NONE (keyless, or not computed); carried for
     * drivers that route by slot (the Redis driver with one primary ignores it) */
    int32_t slot;
    /** the store must have applied every write up to this sync position (a kve_kv_batch_result_t.sync_offset
     * or a bound above it); 0: every write sent before it on this link (the replicas topology then reads from the
     * primary). The Redis driver with one primary ignores it (the primary has every write). */
    uint64_t min_sync;
    /** the script an EVALSHA/EVALSHA_RO runs (see kve_kv_script_t): NOSCRIPT is answered by sending it again as EVAL */
    const kve_kv_script_t *script;
} kve_kv_command_t;
#define KVE_KV_COMMAND(argc_, argv_, argvlen_)                                                                                     \
    ((kve_kv_command_t){.argc = (argc_), .argv = (argv_), .argvlen = (argvlen_), .slot = KVE_KV_SLOT_NONE})

/* batch flags */
/** A transaction: sent whole, applied whole or not at all (the window does not apply). */
#define KVE_KV_BATCH_ATOMIC 0x1
/** Read the store's sync position after the batch (kve_kv_batch_result_t.sync_offset). */
#define KVE_KV_BATCH_SYNC 0x2
/** Commands that depend on the ones before them (not a transaction): their scripts go as EVAL at once, since a
 * NOSCRIPT fallback would run after the commands that followed the EVALSHA. On a sharded store (kve_kv_is_sharded) the
 * commands are sent one at a time, each once the one before was answered: they may go to different nodes. */
#define KVE_KV_BATCH_ORDERED 0x4
/**
 * The batch may write and its caller wants the store's min_replicas_ack (kv_ack.h): once every command was answered
 * (and the sync position read), on_done waits until enough replicas acknowledged the writes, and its result->err is
 * KVE_ENOACK when they did not within the store's min_replicas_ack_timeout (the writes stay applied on the primary:
 * nothing is rolled back). The on_reply callbacks are not held: only on_done waits. A store without the option (and
 * a batch whose commands failed) ignores the flag.
 */
#define KVE_KV_BATCH_ACK 0x8

/** Options of a batch. A zeroed struct means: the link's default timeout, no group, no reply limit, no window. */
typedef struct st_kve_kv_batch_opts_t {
    /** 0: the link's default command timeout. The batch times out as a whole, this long after it was issued. */
    uint64_t timeout_ms;
    /** NULL: the batch stands alone */
    kve_kv_group_t *group;
    /**
     * The most bytes each reply may take in memory while it is read: its strings plus a fixed cost per element
     * (the driver's reply object, ~176 bytes). Past it the driver stops allocating, reads and drops the rest, and
     * delivers a KVE_REPLY_TOO_BIG reply. In an atomic batch the results share it in order, and a result that
     * would pass what is left is KVE_REPLY_TOO_BIG in its place. 0: no limit (beyond the driver's element cap); a
     * limit below 1 KiB counts as 1 KiB.
     */
    size_t max_reply_size;
    /** the most commands in flight at once (0: all); atomic batches are always sent whole */
    size_t window;
    /** KVE_KV_BATCH_* */
    unsigned flags;
} kve_kv_batch_opts_t;

/** What on_done learns about the batch as a whole. */
typedef struct st_kve_kv_batch_result_t {
    /**
     * 0 when every command that was sent got its reply; else the first error a sent command got (KVE_ETIMEDOUT,
     * KVE_ECONN, ..., KVE_EABORTED). Commands not sent because of kve_kv_batch_stop() do not count.
     */
    int err;
    /** KVE_EABORTED: why the transaction was not applied (an error reply; borrowed for the call), else NULL */
    const kve_kv_reply_t *abort_reply;
    /** KVE_KV_BATCH_SYNC: whether the sync position was read, and the position (Redis: master_repl_offset) */
    int sync_known;
    uint64_t sync_offset;
} kve_kv_batch_result_t;

typedef void (*kve_kv_reply_cb)(void *data, size_t index, int err, const kve_kv_reply_t *reply);
typedef void (*kve_kv_done_cb)(void *data, const kve_kv_batch_result_t *result);

/**
 * Sends `n` commands (n >= 1) with `opts` (NULL: all defaults; only read during the call). `cmds` (the array and
 * every byte it points to) must stay valid until on_done ran or the batch was cancelled when the batch has more
 * commands than its window; otherwise everything is copied before this returns. Returns a handle valid until
 * on_done has run or kve_kv_batch_cancel() was called; NULL with *err set when nothing was sent (the link is down,
 * the circuit is open, the link is closing), and then no callback runs. `on_done` may be NULL.
 */
kve_kv_batch_t *kve_kv_batch(kve_kv_t *kv, const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts,
                             kve_kv_reply_cb on_reply, kve_kv_done_cb on_done, void *data, int *err);

/**
 * The single-command convenience: a batch of one command (defaults for its flags) with no on_done; on_reply gets
 * index 0. Same contract as kve_kv_batch().
 */
kve_kv_batch_t *kve_kv_call(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                            const kve_kv_batch_opts_t *opts, kve_kv_reply_cb on_reply, void *data, int *err);

/**
 * From the batch's own on_reply only: send no more of its commands. Those not sent yet get KVE_ENOTSENT, in
 * order, after the results of those sent; a KVE_KV_BATCH_SYNC batch reads the sync position after the last one
 * sent.
 */
void kve_kv_batch_stop(kve_kv_batch_t *batch);

/**
 * No callback of `batch` runs any more (replies that still come are dropped; commands not sent are not). Allowed
 * from the batch's on_reply, not from its on_done (the handle is gone once on_done returns). `batch` is invalid
 * afterwards.
 */
void kve_kv_batch_cancel(kve_kv_batch_t *batch);

/** What a command runs on the server: scripts are watched (see kve_kv_script_kind). */
enum { KVE_KV_SCRIPT_NONE = 0, KVE_KV_SCRIPT_EVAL = 1, KVE_KV_SCRIPT_FUNCTION = 2 };

/**
 * Whether command `name` runs a script: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO (KVE_KV_SCRIPT_EVAL), FCALL, FCALL_RO
 * (KVE_KV_SCRIPT_FUNCTION), else KVE_KV_SCRIPT_NONE; case-insensitive. A batch running one that times out makes the
 * link stop the script on the server (Redis: SCRIPT KILL or FUNCTION KILL on a connection of its own), so one
 * script cannot hold the store past its caller's timeout. Callers give scripts a timeout of their own
 * (kv.script_timeout).
 */
int kve_kv_script_kind(const char *name, size_t len);

/**
 * Copies the link's counters (values are read with relaxed atomics). Another thread may call it only while `kv` is
 * certain to live; a reader that may race the link's destruction reads the block the link was created with instead
 * (kve_kv_stats_read: proxy/stores.h gives every link such a block).
 */
void kve_kv_get_stats(const kve_kv_t *kv, kve_kv_stats_t *out);

/**
 * Copies a counters block a link writes into (kve_kv_redis_create's `stats`), from any thread: relaxed atomic reads,
 * so a link running or being destroyed on another thread is fine as long as the block's memory lives.
 */
void kve_kv_stats_read(const kve_kv_stats_t *block, kve_kv_stats_t *out);

/* --- streams --- */

/**
 * A stream: a dedicated connection for a command whose replies keep coming (SUBSCRIBE, PSUBSCRIBE, MONITOR). The
 * callback gets every reply (subscribe confirmations, messages, monitor lines) with err 0, and at most once
 * err < 0 with reply NULL when the stream fails (connection refused or lost, handshake error, or no first reply
 * within the connect timeout: KVE_ETIMEDOUT); after that it is never called again. Replies are borrowed for the
 * call. Streams don't count against the link's pipelining and don't need it to be
 * up.
 */
typedef struct st_kve_kv_stream_t kve_kv_stream_t;
typedef void (*kve_kv_stream_cb)(void *data, int err, const kve_kv_reply_t *reply);

/** Opens a stream and sends `argv` on it once connected. Returns NULL with *err set if it cannot start. */
kve_kv_stream_t *kve_kv_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, kve_kv_stream_cb cb,
                                    void *data, int *err);

/** Closes the stream (the server drops its subscriptions at once); the callback is not called again. */
void kve_kv_stream_close(kve_kv_stream_t *stream);

/**
 * Whether the store's keys live on several nodes (Redis Cluster; the link's driver says so). On such a store an
 * atomic batch (KVE_KV_BATCH_ATOMIC) must keep every key of its commands in one slot, as must a command with several
 * keys: the driver refuses them otherwise (KVE_EABORTED with a CROSSSLOT abort_reply, or a CROSSSLOT error reply).
 * Callers that write related keys of different slots send them as separate batches there. One load; any time.
 */
int kve_kv_is_sharded(const kve_kv_t *kv);

/**
 * Closes the link: every batch still waiting gets its callbacks (KVE_ESHUTDOWN for what was not answered); frees
 * `kv`. Must run on the owning thread with its loop still alive.
 */
void kve_kv_destroy(kve_kv_t *kv);

#endif
