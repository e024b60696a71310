/* SPDX-License-Identifier: MIT */
/*
 * What the KV REST driver's files share (kv_rest_driver.c: links, requests, pipelining, order, retries;
 * kv_rest_tx.c: transactions sent as a script). Not for other modules: they use kv_rest_driver.h.
 */
#ifndef KVE_PROXY_KV_REST_INTERNAL_H
#define KVE_PROXY_KV_REST_INTERNAL_H

#include "proxy/buf.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_rest_driver.h"

#define KVE_KV_REST_REQ_MAGIC 0x6b725271

typedef struct st_rest_link_t rest_link_t;

/** what a request knows of each op it carries */
typedef struct st_rest_op_meta_t {
    /** REQ_PIPELINE: where the command's JSON is in the request's body */
    uint32_t off, len;
    /** the command only reads (the command table says so): it may be sent again after a network error */
    uint8_t safe;
} rest_op_meta_t;

typedef struct st_rest_req_t {
    uint32_t magic; /* KVE_KV_REST_REQ_MAGIC */
    rest_link_t *link;
    kve_httpclient_req_t *hreq;
    /** REQ_TX: an atomic batch with bytes JSON cannot carry, as one EVAL in a /pipeline (kve_rest_encode_tx_script) */
    enum { REQ_PIPELINE, REQ_MULTI, REQ_PATH, REQ_PROBE, REQ_TX } kind;
    /** the ops it carries (for REQ_MULTI: the batch's, contiguous) */
    kve_kv_op_t **ops;
    rest_op_meta_t *meta;
    size_t n, cap;
    kve_buf_t target, body, resp;
    h2o_iovec_t raw_body; /* REQ_PATH: the last argument (copied into `body`) */
    size_t limit;         /* the most response bytes read */
    int status;
    int sync_seen;
    /** this is the one retry of an earlier request (sent on a new connection; never retried again) */
    int retried;
    /** batches whose sync position this request answers (linked through driver_next) */
    kve_kv_batch_t *sync_waiting;
    /** in the link's lists: ready (this turn's), queue (flushed, waiting for the order rule: pump) or sent */
    struct st_rest_req_t *next, **prev;
    /** it may change data (a command that is not a read, or a staged argument): see pump() */
    uint8_t write;
    /** it is counted in the link's num_sent (and num_sent_writes) */
    uint8_t counted;
} rest_req_t;

struct st_rest_link_t {
    kve_kv_t super;
    kve_httpclient_t *client;
    kve_kv_rest_conf_t conf;
    kve_http1_field_t headers[4];
    char auth[4200];
    /** the store's sync token: shared by every thread's link (conf.sync), or the link's own */
    kve_kv_rest_sync_t *sync, own_sync;
    rest_req_t *building;   /* the /pipeline request this turn's commands go into */
    rest_req_t *ready_head; /* complete, waiting for the end of the turn (linked through next) */
    rest_req_t **ready_tail;
    rest_req_t *queue_head; /* flushed, in order, waiting until pump() may start them */
    rest_req_t **queue_tail;
    size_t num_sent, num_sent_writes; /* requests out (no probe), and those of them that write */
    int pumping;
    rest_req_t *last; /* the request that took the last command (sync waiters attach there) */
    rest_req_t *sent; /* requests out (list for destroy and the breaker) */
    rest_req_t *probe;
    kve_kv_batch_t *sync_now; /* answered at the end of the turn with the current token */
    h2o_timeout_t flush_timeout, tick;
    h2o_timeout_entry_t flush_entry, tick_entry;
    uint64_t backoff_ms, next_attempt_at, consecutive_timeouts;
    unsigned ever_up : 1, logged_down : 1, auth_refused : 1, logged_auth : 1;
};

/* kv_rest_driver.c */
/** A request of `kind` (REQ_*) on `link`, not queued yet. */
rest_req_t *kve_kv_rest__req_new(rest_link_t *link, int kind);
/** `r` carries `op` (its JSON at off/len of the body for REQ_PIPELINE; `safe`: it only reads). */
void kve_kv_rest__req_add_op(rest_req_t *r, kve_kv_op_t *op, size_t off, size_t len, int safe);
/** `r` is complete: after this turn's earlier commands, sent at the end of the turn (in order: see pump()). */
void kve_kv_rest__push_ready(rest_link_t *link, rest_req_t *r);
/** Whether `cmd` only reads (the command table): it may be sent twice, side by side with other reads. */
int kve_kv_rest__cmd_is_safe(const kve_kv_command_t *cmd);
/** Every op of `r` gets `err` (or `reply`), its sync waiters the current token; frees `r`. */
void kve_kv_rest__req_finish(rest_req_t *r, int err, const kve_kv_reply_t *reply);
/** Frees `r` (its ops must have been completed or handed on). */
void kve_kv_rest__req_free(rest_req_t *r);
/** Answers `b` and the batches linked to it with the current sync token (when `ok` and it is a number). */
void kve_kv_rest__sync_answer_now(rest_link_t *link, kve_kv_batch_t *b, int ok);

/* kv_rest_tx.c */
/** An atomic batch with bytes JSON cannot carry: queued as one EVAL (0), or KVE_EINVAL when MULTI would refuse it. */
int kve_kv_rest__send_tx(rest_link_t *link, kve_kv_op_t *ops, size_t n);
/** The response (200) to such a request: completes its ops and frees it. */
void kve_kv_rest__complete_tx(rest_req_t *r);

#endif
