/* SPDX-License-Identifier: MIT */
/*
 * Binds one hiredis async context to h2o's evloop (the five hiredis hooks; h2o-notes §5), and the
 * pieces of connection setup every Redis connection shares: connecting to a target, queuing the
 * AUTH/SELECT/PING handshake and judging its replies. Internal to the Redis driver (kv_redis.c,
 * kv_redis_stream.c).
 *
 * The adapter wraps a dup() of hiredis' fd in an h2o socket with H2O_SOCKET_FLAG_DONT_READ: h2o reports
 * readiness and hiredis does its own reads and writes. h2o 2.2.5 cannot cancel a write notification, so
 * delWrite only forgets it; a spurious write callback is harmless to hiredis. The adapter lives in its
 * owner's struct; hiredis' cleanup hook (called when the context is freed) closes the dup and calls the
 * owner's `on_cleanup`, the last moment the owner hears of the context.
 *
 * A target with TLS (rediss://, target->ssl_ctx set) gets another transport behind the same interface: the bytes go
 * through an h2o TLS socket and hiredis keeps only its reader and output buffer (redis_tls.h). The plain path above
 * is unchanged by it (one test at connect time).
 */
#ifndef KVE_PROXY_REDIS_ADAPTER_H
#define KVE_PROXY_REDIS_ADAPTER_H

#include "h2o.h"
#include "proxy/redis_reply.h"
#include "proxy/redis_target.h"

struct redisAsyncContext;
struct redisReply;

typedef struct st_kve_redis_adapter_t kve_redis_adapter_t;

struct st_kve_redis_adapter_t {
    struct redisAsyncContext *ac;
    h2o_socket_t *sock;
    unsigned reading : 1;
    unsigned write_armed : 1;
    unsigned flushing : 1;
    unsigned queuing : 1; /* in before_flush: what is queued goes out with the write that follows */
    /** a TLS link (redis_tls.h): the handshake is done; a write is in flight; the server has sent something since */
    unsigned tls_ready : 1;
    unsigned tls_writing : 1;
    unsigned tls_heard : 1;
    /** a TLS link: its target (borrowed: the SSL context and the name to verify), else NULL */
    const kve_redis_target_t *tls_target;
    /** bytes of a dropped bulk string still to read and discard (kve_redis_reader_drop_bulk) */
    size_t discard;
    /**
     * Optional (owned by the caller, 0 ms): when set, queued commands are written at the end of the current
     * loop iteration instead of after an epoll round trip for writability, which batches every command of
     * the iteration into one write and saves a round of epoll_ctl/epoll_wait per batch. Set for the
     * pipelined link; streams write rarely and use the notification.
     */
    h2o_timeout_t *flush_timeout;
    h2o_timeout_entry_t flush_entry;
    /** optional: called just before a flush writes what was queued (the owner may queue more: it goes in the same write) */
    void (*before_flush)(kve_redis_adapter_t *adapter);
    /** called from hiredis' cleanup hook, after `ac` became invalid (set to NULL) */
    void (*on_cleanup)(kve_redis_adapter_t *adapter);
};

/**
 * hiredis' cleanup hook's work, shared by plain and TLS links (redis_tls.c): unlinks the flush timer, closes the
 * adapter's socket (a dup: hiredis closes its own fd), resets the flags, forgets `ac` and calls `on_cleanup`.
 */
void kve_redis_adapter__release(kve_redis_adapter_t *a);

/** hiredis' reply callback type */
typedef void (*kve_redis_adapter_cb)(struct redisAsyncContext *ac, void *reply, void *privdata);

/**
 * Starts connecting to `target` on `loop`, attaches the adapter and queues the handshake: AUTH (when the
 * target has a user name or a password; a user without a password sends an empty one), SELECT (when
 * `select_db` and db != 0), then PING, each with callback `cb`/`privdata`; ac->data is set to `privdata`.
 * `reader` (optional, owned by the caller and outliving the context) becomes the reader's state: reply
 * limits and refusal of replies nobody waits for (redis_reply.h); the adapter of a connection with a
 * reader state must then outlive the context too (its read handler uses it after hiredis' callbacks). Returns how many handshake
 * replies to wait for (at least 1), or 0 with a message in `err` (the context is already freed then). On success adapter->ac is
 * set; the caller installs its connect/disconnect callbacks and queues its own commands.
 */
size_t kve_redis_adapter_connect(kve_redis_adapter_t *adapter, h2o_loop_t *loop, const kve_redis_target_t *target, int select_db,
                                 kve_redis_reader_t *reader, kve_redis_adapter_cb cb, void *privdata, char *err, size_t errlen);

/**
 * Judges a (non-NULL) handshake reply: 0 for success, -1 for an error reply with "handshake failed:
 * <Redis' message>" in `why` (AUTH errors never echo the password; LOADING means "retry shortly").
 */
int kve_redis_adapter_handshake_failed(const struct redisReply *reply, char *why, size_t len);

/**
 * Whether a (non-NULL) handshake error reply says the store refused the credentials: WRONGPASS (wrong user or
 * password), NOAUTH (a password is required and none was sent), NOPERM (the user may not run the handshake's
 * commands), Redis 5's "ERR invalid password", or AUTH with a password the store does not have ("ERR AUTH
 * <password> called without any password configured").
 */
int kve_redis_adapter_auth_refused(const struct redisReply *reply);

/**
 * Why hiredis gave up on the connection of `ac`, for use inside the NULL-reply callbacks and the disconnect
 * callback it runs then: KVE_EPROTO when the server sent something hiredis could not parse (bad bytes,
 * nesting deeper than hiredis 0.14's 7 levels, an array the reply functions refused, a reply no command
 * was waiting for), else KVE_ECONN.
 * `why` (optional) gets a static message or ac->errstr, for the log.
 */
int kve_redis_adapter_failure(const struct redisAsyncContext *ac, const char **why);

#endif
