/* SPDX-License-Identifier: MIT */
/*
 * Shared between the keys page's read side (console_kv.c) and its changes (console_kv_edit.c): one call's state, held
 * in the request's pool (a pool-shared object whose dispose cancels the batch in flight, so a client that goes away
 * never gets a late callback), parameters, the store's link and the answers.
 */
#ifndef KVE_HANDLERS_CONSOLE_KV_INTERNAL_H
#define KVE_HANDLERS_CONSOLE_KV_INTERNAL_H

#include "handlers/console_kv.h"
#include "handlers/console_kv_codec.h"
#include "proxy/kv.h"

#define KVE_CONSOLE_KV_MAGIC 0x6b76636bu

typedef struct st_kve_console_kv_call_t {
    uint32_t magic;
    h2o_req_t *req;
    const char *store_name;
    kve_kv_t *kv;
    /** the batch in flight (NULL: none) */
    kve_kv_batch_t *batch;
    /** the first failure of the batch: a link error (KVE_E*), or the store's error reply (`store_error`) */
    int err;
    h2o_iovec_t store_error;
    int too_big;
    /** the answer being written (freed by the dispose) */
    kve_buf_t out;
    /** the parameters (decoded into the request's pool) */
    h2o_iovec_t key, cursor;
    long long count;
    /** what the read side learns (type name, PTTL, length) */
    char type[24];
    long long ttl_ms, length;
    /** the read side's page of keys, or the change's command (argv in the pool) */
    h2o_iovec_t *keys;
    char (*types)[24];
    long long *ttls;
    size_t num_keys;
    const char **argv;
    size_t *argvlen, argc;
    /** the change's operation (console_kv_edit.c's table), and whether it must not find the key */
    const void *op;
    int create;
} kve_console_kv_call_t;

/**
 * Starts a call: resolves the store (`store`, else the KV API's) and its link for the session's class. NULL when the
 * request was answered (an unknown store, no store).
 */
kve_console_kv_call_t *kve_console_kv__start(kve_console_call_t *call);

/**
 * Parameter `name` of the request (the query of a GET, the body of a POST), decoded into the pool, at most `max`
 * bytes: 1 (found), 0 (absent: `*out` is empty), or -1 when the request was answered 400 (twice, a bad escape, too
 * long, or absent while `required`).
 */
int kve_console_kv__param(kve_console_kv_call_t *c, const char *name, size_t max, int required, h2o_iovec_t *out);

/** An integer parameter in [min, max], `def` when absent: 0, or -1 when the request was answered 400. */
int kve_console_kv__int_param(kve_console_kv_call_t *c, const char *name, long long min, long long max, long long def,
                              long long *out);

/** Sends a batch of `n` commands (copied); on failure the request is answered (503) and -1 returned. */
int kve_console_kv__send(kve_console_kv_call_t *c, const kve_kv_command_t *cmds, size_t n, kve_kv_reply_cb on_reply,
                         kve_kv_done_cb on_done);

/** Notes a reply's failure in `c` (a link error, an error reply, a reply too big); 1 when it was one. */
int kve_console_kv__failed(kve_console_kv_call_t *c, int err, const kve_kv_reply_t *reply);

/** In on_done: clears the batch; when the batch or a reply failed answers the request (503, 409 or 413) and returns 1. */
int kve_console_kv__done_failed(kve_console_kv_call_t *c, const kve_kv_batch_result_t *result);

/** Answers 400 {"error": `msg`} (kvedge's own ASCII message). */
void kve_console_kv__bad(kve_console_kv_call_t *c, const char *msg);

/** Sends c->out as the 200 answer. */
void kve_console_kv__send_out(kve_console_kv_call_t *c);

#endif
