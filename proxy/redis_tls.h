/* SPDX-License-Identifier: MIT */
/*
 * The TLS transport of a hiredis context (rediss://), internal to the Redis adapter (redis_adapter.c).
 *
 * Design: hiredis 0.14 has no TLS, but its async context is two separable things: a reader (bytes in, replies and
 * callbacks out) and an output buffer (`c.obuf`, commands out). A TLS link keeps both and moves the bytes itself
 * through an h2o TLS socket, the same client TLS the HTTP client uses (tls_client.h: chain and name checked by
 * OpenSSL during the handshake):
 * - hiredis connects the TCP socket as for redis:// (redisAsyncConnect, non-blocking); a dup of its fd becomes an
 *   ordinary h2o socket. Once the connect completes, h2o runs the TLS handshake; only then is the context marked
 *   connected (REDIS_CONNECTED, onConnect) and what was queued (AUTH/SELECT/PING and the commands behind them) sent.
 * - in: h2o decrypts into the socket's input; it is fed to hiredis' reader (redisReaderFeed) in 16 KiB pieces, the
 *   size hiredis reads itself, each followed by redisProcessCallbacks(), so the reply limits and the dropping of an
 *   oversize bulk string (redis_reply.h) work as on a plain link.
 * - out: hiredis' addWrite hook schedules a flush (the link's end-of-iteration flush, or at once for the streams and
 *   the watchdog's connection); a flush hands `c.obuf` to h2o_socket_write, which encrypts it whole before it
 *   returns (h2o 2.2.5, socket.c), and gives hiredis a new, empty buffer. One write is in flight at a time.
 * - errors (TCP connect, handshake, read, write) go through hiredis' own disconnect path: the reader's error is set
 *   and redisProcessCallbacks() fails on it, so queued commands get NULL replies and onDisconnect (or, before the
 *   handshake is done, onConnect) runs with the message in ac->errstr, as for a plain link.
 * Why not a local bridge (a socketpair between hiredis and a TLS pump): it would cost every command two more
 * syscalls each way and an epoll round, and the transport would still need the same TLS socket. hiredis never
 * touches its own fd on a TLS link. A plain link (redis://, unix://, embedded) does not go through this file.
 */
#ifndef KVE_PROXY_REDIS_TLS_H
#define KVE_PROXY_REDIS_TLS_H

#include "h2o.h"
#include "proxy/redis_adapter.h"

/**
 * Takes over the transport of `a->ac` (just created by redisAsyncConnect to `target`, whose ssl_ctx is set): wraps
 * `fd` (a dup of hiredis' fd, now owned by the adapter) in an h2o socket on `loop`, installs the event hooks and
 * starts waiting for the TCP connect, then the TLS handshake with target->tls_server_name.
 */
void kve_redis_tls_attach(kve_redis_adapter_t *a, h2o_loop_t *loop, int fd, const kve_redis_target_t *target);

#endif
