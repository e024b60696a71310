/* SPDX-License-Identifier: MIT */
/*
 * The upstash-sync-token of one KV REST store, shared by every worker thread's link to it (kv_rest_driver.h): the
 * highest token any link received is the one every link sends next, so a write answered on one thread is followed
 * by reads, on any thread, that carry its token (a read replica of the store then waits until it has that write).
 * Decimal tokens (kvedge's) are compared as numbers and only a higher one is taken; any other token (opaque, as
 * Upstash's may be) replaces the current one. A mutex guards it: one short lock per request sent and per response
 * received, uncontended in practice (next to an HTTP round trip it costs nothing).
 */
#ifndef KVE_PROXY_KV_REST_SYNC_H
#define KVE_PROXY_KV_REST_SYNC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/** The longest token kept (longer ones are ignored), with its NUL. */
#define KVE_KV_REST_SYNC_MAX 72

typedef struct st_kve_kv_rest_sync_t {
    pthread_mutex_t mutex;
    char raw[KVE_KV_REST_SYNC_MAX]; /* as received; "" before the first */
    uint64_t value;                 /* `raw` as a number, when `numeric` */
    int numeric;
} kve_kv_rest_sync_t;

void kve_kv_rest_sync_init(kve_kv_rest_sync_t *sync);
void kve_kv_rest_sync_dispose(kve_kv_rest_sync_t *sync);
/** A token received (`len` bytes, not NUL-terminated): kept if higher (decimal) or not decimal. Any thread. */
void kve_kv_rest_sync_take(kve_kv_rest_sync_t *sync, const char *v, size_t len);
/**
 * Copies the current token into `buf` (KVE_KV_REST_SYNC_MAX bytes, NUL-terminated) and returns its length (0: none
 * yet); *numeric and *value (may be NULL) tell whether it is a number and which. Any thread.
 */
size_t kve_kv_rest_sync_get(kve_kv_rest_sync_t *sync, char *buf, int *numeric, uint64_t *value);

#endif
