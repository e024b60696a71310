/* SPDX-License-Identifier: MIT */
/*
 * Binds one hiredis async context to h2o's evloop (the five hiredis hooks; h2o-notes §5), and the
 * pieces of connection setup every Redis connection shares: connecting to a target and queuing the
 * AUTH/SELECT handshake. Internal to the Redis driver (kv_redis.c, kv_redis_stream.c).
 *
 * The adapter wraps a dup() of hiredis' fd in an h2o socket with H2O_SOCKET_FLAG_DONT_READ: h2o reports
 * readiness and hiredis does its own reads and writes. h2o 2.2.5 cannot cancel a write notification, so
 * delWrite only forgets it; a spurious write callback is harmless to hiredis. The adapter lives in its
 * owner's struct; hiredis' cleanup hook (called when the context is freed) closes the dup and calls the
 * owner's `on_cleanup`, the last moment the owner hears of the context.
 */
#ifndef KVE_PROXY_REDIS_ADAPTER_H
#define KVE_PROXY_REDIS_ADAPTER_H

#include "h2o.h"
#include "proxy/redis_target.h"

struct redisAsyncContext;

typedef struct st_kve_redis_adapter_t kve_redis_adapter_t;

struct st_kve_redis_adapter_t {
    struct redisAsyncContext *ac;
    h2o_socket_t *sock;
    unsigned reading : 1;
    unsigned write_armed : 1;
    unsigned flushing : 1;
    /**
     * Optional (owned by the caller, 0 ms): when set, queued commands are written at the end of the current
     * loop iteration instead of after an epoll round trip for writability, which batches every command of
     * the iteration into one write and saves a round of epoll_ctl/epoll_wait per batch. Set for the
     * pipelined link; streams write rarely and use the notification.
     */
    h2o_timeout_t *flush_timeout;
    h2o_timeout_entry_t flush_entry;
    /** called from hiredis' cleanup hook, after `ac` became invalid (set to NULL) */
    void (*on_cleanup)(kve_redis_adapter_t *adapter);
};

/**
 * Starts connecting to `target` on `loop` and attaches the adapter. Returns 0, or -1 with a message in
 * `err` (the context is already freed then). On success adapter->ac is set; the caller installs its
 * connect/disconnect callbacks (ac->data is free for the caller) and queues commands.
 */
int kve_redis_adapter_connect(kve_redis_adapter_t *adapter, h2o_loop_t *loop, const kve_redis_target_t *target, char *err,
                              size_t errlen);

/**
 * Why hiredis gave up on the connection of `ac`, for use inside the NULL-reply callbacks and the disconnect
 * callback it runs then: KVE_EPROTO when the server sent something hiredis could not parse (bad bytes,
 * nesting deeper than hiredis 0.14's 7 levels, an array the reply functions refused), else KVE_ECONN.
 * `why` (optional) gets a static message or ac->errstr, for the log.
 */
int kve_redis_adapter_failure(const struct redisAsyncContext *ac, const char **why);

/**
 * Queues AUTH (when the target has a password) and SELECT (when `select_db` and db != 0) with callback
 * `cb`/`privdata`; returns how many commands were queued.
 */
size_t kve_redis_adapter_handshake(kve_redis_adapter_t *adapter, const kve_redis_target_t *target, int select_db,
                                   void (*cb)(struct redisAsyncContext *, void *, void *), void *privdata);

#endif
