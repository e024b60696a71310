/* SPDX-License-Identifier: MIT */
/*
 * What kv.c shares with the drivers (not for handlers). kv.c owns batches (with one op record per command),
 * per-batch timeouts, in-order delivery and counters; a driver owns the transport. A driver receives op records
 * (kve_kv_op_t) and reports each done, once, by kve_kv__complete(), in any order; kv.c puts results back in
 * index order. A batch's memory lives until the driver reported every op it was given done (and the sync
 * position, when it was asked for), whatever happened to the caller's interest (timeout, cancel) before, so a
 * late reply always finds valid memory. A driver never completes an op from inside send() or send_atomic().
 */
#ifndef KVE_PROXY_KV_INTERNAL_H
#define KVE_PROXY_KV_INTERNAL_H

#include "h2o.h"
#include "proxy/kv.h"

#define KVE_KV_MAGIC 0x6b764c4e
#define KVE_KV_BATCH_MAGIC 0x6b76436d

/** The EVAL form of a script command (kv_script.c): a copy of its arguments with EVAL and the body in front. */
typedef struct st_kve_kv_script_eval_t kve_kv_script_eval_t;

/** One command of a batch, as the driver sees it. Drivers read `cmd` (valid until the op completes) and `batch`. */
typedef struct st_kve_kv_op_t {
    kve_kv_batch_t *batch;
    /** borrowed from the caller: a driver reads it only inside send()/send_atomic() (copying what it needs) */
    const kve_kv_command_t *cmd;
    uint32_t index;
    /** private to kv.c: OP_* (not sent, with the driver, result held, delivered) */
    uint8_t state;
    int err;
    kve_kv_reply_t *held; /* a result that came before its turn (a deep copy) */
    /** private to kv.c: a script command's EVAL form (kve_kv_script_t), made when it is sent; NULL for the others */
    kve_kv_script_eval_t *eval;
    /** private to kv.c: the EVAL form is what was sent (NOSCRIPT is an answer then, not a reason to resend) */
    uint8_t eval_sent;
    /** the driver's: redirections this op has had so far (kv_cluster.c bounds them); 0 when the batch is made */
    uint8_t redirects;
    /**
     * the driver's: a copy of the command it made so it can send it again after the caller's memory is gone (kv_cluster.c
     * points `cmd` at it); malloc'd, freed by kv.c with the batch (set batch->driver_copies too); NULL: none
     */
    kve_kv_command_t *driver_copy;
} kve_kv_op_t;

typedef struct st_kve_kv_driver_t {
    const char *name;
    /** queue one op of a non-atomic batch; 0, or a negative KVE_E* if it cannot be sent now (nothing is called then) */
    int (*send)(kve_kv_t *kv, kve_kv_op_t *op);
    /**
     * queue a whole atomic batch (ops[0..n-1], applied whole or not at all); 0 or a KVE_E* as send(). The driver then
     * completes every op: with its result, or with KVE_EABORTED after setting the abort reason
     * (kve_kv__set_abort_reply) when the store refused a command before running any.
     */
    int (*send_atomic)(kve_kv_t *kv, kve_kv_op_t *ops, size_t n);
    /** optional: read the sync position after what was sent of `batch`; answer with kve_kv__sync_done (never from here) */
    void (*sync)(kve_kv_t *kv, kve_kv_batch_t *batch);
    /** a batch (or a group of them, kve_kv_group_t) timed out: called once per group */
    void (*on_timeout)(kve_kv_t *kv);
    /** a reply reached a caller still waiting for it (drivers reset their timeout count); not for late replies */
    void (*on_reply)(kve_kv_t *kv);
    /** close the transport, completing every op still queued (kve_kv__complete), and free the driver */
    void (*destroy)(kve_kv_t *kv);
    /** open and close a dedicated connection (see kve_kv_stream_open) */
    kve_kv_stream_t *(*stream_open)(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, kve_kv_stream_cb cb,
                                    void *data, int *err);
    void (*stream_close)(kve_kv_stream_t *stream);
    /** optional: a batch that runs a script (KVE_KV_SCRIPT_*) timed out: stop the script on the server */
    void (*kill_script)(kve_kv_t *kv, int kind);
    /**
     * optional (a driver over several links, kv_replicas.c): called by kve_kv_batch() once per batch before anything
     * else, returns the link the whole batch runs on: `kv` itself (its send() then gets the ops), or another link
     * (e.g. the primary's), on which the batch is then created and sent as if the caller had named it. NULL for
     * single-link drivers, which then pay one test per batch.
     */
    kve_kv_t *(*route)(kve_kv_t *kv, const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts);
    /**
     * optional (KVE_KV_BATCH_ACK): every command of `batch` was answered; returns 0 when the driver waits for the
     * replicas' acknowledgement and will answer with kve_kv__ack_done (never from here), or -1 when there is nothing to
     * wait for (the store has no min_replicas_ack)
     */
    int (*ack)(kve_kv_t *kv, kve_kv_batch_t *batch);
} kve_kv_driver_t;

/** h2o 2.2.5's timeouts have one duration per list: one list per distinct duration, made on first use */
struct st_kve_kv_timeout_class_t {
    struct st_kve_kv_timeout_class_t *next;
    uint64_t ms;
    h2o_timeout_t timeout;
};

struct st_kve_kv_t {
    uint32_t magic;
    const kve_kv_driver_t *driver;
    h2o_loop_t *loop;
    uint64_t default_timeout_ms;
    /**
     * counters, written only by the owning thread, read by others with relaxed atomics: `own_stats`, or a block
     * the creator supplied that outlives the link (kve_kv__use_stats), so another thread may read it while the
     * link is being destroyed
     */
    kve_kv_stats_t *stats;
    kve_kv_stats_t own_stats;
    struct st_kve_kv_timeout_class_t *timeouts;
    /** set while destroying: ops completed by the driver then report KVE_ESHUTDOWN */
    int closing;
    /** the store's keys live on several nodes (Redis Cluster): kve_kv_is_sharded(); set by kve_kv__set_sharded() */
    int sharded;
    /** freed one-command batches kept for reuse (the hot path's allocation) */
    kve_kv_batch_t *free_batches;
    size_t num_free_batches;
    char peer[160];
};

struct st_kve_kv_batch_t {
    uint32_t magic;
    /** BATCH_* of kv.c: live, cancelled, timed out, done */
    uint8_t end;
    uint8_t sync_asked;    /* driver->sync was called (or there is none) */
    uint8_t sync_pending;  /* the driver owes kve_kv__sync_done */
    uint8_t busy;          /* kv.c is delivering: frees wait */
    uint8_t evals;         /* some op has an EVAL form to free */
    uint8_t ack_asked;     /* driver->ack was called (KVE_KV_BATCH_ACK) */
    uint8_t ack_pending;   /* the driver owes kve_kv__ack_done */
    uint8_t driver_copies; /* some op has a driver_copy to free */
    kve_kv_t *kv;
    kve_kv_reply_cb on_reply;
    kve_kv_done_cb on_done;
    void *data;
    unsigned flags;
    /** KVE_KV_SCRIPT_* bits of its commands (stopped on the server if the batch times out) */
    unsigned scripts;
    size_t max_reply_size;
    /** the batch's timeout: opts->timeout_ms, or the link's default when that was 0 */
    uint64_t timeout_ms;
    size_t window;
    size_t n;
    size_t next_send;    /* the next op to send */
    size_t next_deliver; /* the next index whose on_reply is due */
    size_t with_driver;  /* ops the driver holds (sent, not completed) */
    int first_err;
    /** what the commands not sent get (KVE_ENOTSENT after kve_kv_batch_stop, or the error that stopped sending) */
    int unsent_err;
    kve_kv_reply_t *abort_reply;
    /**
     * for the Redis driver (kv_redis.c): the first cluster error (-MOVED, -ASK...) a cluster node answered to one of the
     * transaction's queued commands, held (a copy) until EXEC's reply hands the transaction to the target's
     * redirect_atomic with it (never in abort_reply: the resent transaction must not keep it); the driver takes it out
     * before that call, and kv.c frees whatever is left with the batch
     */
    kve_kv_reply_t *redirect_reply;
    int sync_known;
    uint64_t sync_offset;
    /** while callbacks are due: the caller's group (NULL if none) and the links of its list */
    kve_kv_group_t *group;
    kve_kv_batch_t *group_next;
    kve_kv_batch_t **group_prev;
    h2o_timeout_entry_t timeout_entry;
    /** for the driver (e.g. the Redis driver's next batch waiting for the same ROLE) */
    kve_kv_batch_t *driver_next;
    kve_kv_op_t ops[];
};

/**
 * The link's timeout list of `ms` milliseconds (made on first use, disposed by kve_kv__dispose): a driver's timers of
 * that duration (e.g. a 0 ms one, to answer on the next loop iteration what send() cannot complete) link to it.
 * Every entry must be unlinked before kve_kv__dispose.
 */
h2o_timeout_t *kve_kv__timeout(kve_kv_t *kv, uint64_t ms);
/** Initialises the common part of a link (called by a driver's create function). */
void kve_kv__init(kve_kv_t *kv, const kve_kv_driver_t *driver, h2o_loop_t *loop, uint64_t default_timeout_ms);
/**
 * The link is sharded (kve_kv_is_sharded): a driver whose keys live on several nodes (Redis Cluster) calls it right
 * after kve_kv__init, before any command (kve_kv__init clears it).
 */
void kve_kv__set_sharded(kve_kv_t *kv);
/**
 * The link writes its counters into `block` (zeroed or left by an earlier link; it must outlive the link) instead of
 * its own: right after kve_kv__init, before any command.
 */
void kve_kv__use_stats(kve_kv_t *kv, kve_kv_stats_t *block);
/** Disposes the common part (timers, cached records); every batch must have completed. */
void kve_kv__dispose(kve_kv_t *kv);
/**
 * The driver is done with `op`: delivers `err`/`reply` to the caller in index order if it still waits (a
 * result that comes before its turn is copied and held). `err` is KVE_ECONN when the transport failed,
 * KVE_EPROTO when the server's bytes could not be parsed (either is mapped to KVE_ESHUTDOWN while closing).
 * `reply` is borrowed for the call.
 */
void kve_kv__complete(kve_kv_op_t *op, int err, const kve_kv_reply_t *reply);
/**
 * Copies op->cmd (its argv bytes included) into one block the batch owns (op->driver_copy, freed with the batch) and
 * points op->cmd at it, unless it already points there: for a command sent after the caller's memory may be gone (a
 * redirection, an ordered batch on a sharded store).
 */
void kve_kv__own_command(kve_kv_op_t *op);
/** An atomic batch was not applied because of `reply` (an error reply; copied): before completing its ops. */
void kve_kv__set_abort_reply(kve_kv_batch_t *batch, const kve_kv_reply_t *reply);
/** The answer to driver->sync(): `known` 0 when the position could not be read. */
void kve_kv__sync_done(kve_kv_batch_t *batch, int known, uint64_t offset);
/** The answer to driver->ack(): 0 (acknowledged) or KVE_ENOACK; on_done then gets it as result->err. */
void kve_kv__ack_done(kve_kv_batch_t *batch, int err);
/** The max_reply_size of `batch` (0: none). */
static inline size_t kve_kv__max_reply_size(const kve_kv_batch_t *batch)
{
    return batch->max_reply_size;
}
/** The timeout of `batch` in ms (what its caller asked for, or its link's default): for a driver's own sub-batches. */
static inline uint64_t kve_kv__batch_timeout(const kve_kv_batch_t *batch)
{
    return batch->timeout_ms;
}
/** Sets the link state (KVE_KV_*). */
void kve_kv__set_state(kve_kv_t *kv, int state);
/** A deep copy of `reply` whose every object and string kv.c owns (free with kve_kv__reply_free). */
kve_kv_reply_t *kve_kv__reply_copy(const kve_kv_reply_t *reply);
void kve_kv__reply_free(kve_kv_reply_t *reply);

/** The EVAL form of `cmd` (cmd->script set; EVALSHA_RO becomes EVAL_RO): malloc'd, free() it. */
kve_kv_script_eval_t *kve_kv__script_eval(const kve_kv_command_t *cmd);
/** The command inside an EVAL form (valid as long as it is). */
const kve_kv_command_t *kve_kv__script_eval_cmd(const kve_kv_script_eval_t *eval);
/** Whether `reply` is a NOSCRIPT error. */
int kve_kv__is_noscript(const kve_kv_reply_t *reply);

/** Relaxed-atomic counter helpers: the owning thread is the only writer. */
#define KVE_STAT_ADD(field, n) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define KVE_STAT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define KVE_STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif
