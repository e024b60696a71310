/* SPDX-License-Identifier: MIT */
/*
 * Queuing a command on a hiredis async context without redisAsyncFormattedCommand().
 *
 * hiredis 0.14's redisAsyncFormattedCommand() re-parses every command it is given (strchr, strtol, three
 * strncasecmp for SUBSCRIBE/UNSUBSCRIBE/MONITOR) and copies it into its output buffer: about 400 instructions of a
 * pipelined command's 3,900 (callgrind, bench/callgrind.sh pipeline). The pipelined link never sends those
 * commands (the KV policy refuses them; streams have connections of their own, kv_redis_stream.c), so it needs
 * none of that: kve_redis_send() writes the RESP encoding straight into the context's output buffer and appends
 * the callback to the reply list, as __redisAsyncCommand() does for an ordinary command.
 *
 * That uses fields hiredis' public headers declare (redisContext.obuf, redisAsyncContext.replies and .ev,
 * redisCallback) and one behaviour of hiredis 0.14.1 read from its async.c: a callback record is malloc'd and
 * later released with free() by __redisShiftCallback(). redis_send.c refuses to build against another hiredis
 * version. Internal to the Redis driver.
 */
#ifndef KVE_PROXY_REDIS_SEND_H
#define KVE_PROXY_REDIS_SEND_H

#include <stddef.h>
#include <hiredis/async.h>

/**
 * Queues the command `argv` on `ac` with callback `fn(ac, reply, privdata)`, exactly as redisAsyncCommandArgv()
 * would for a command other than (P)SUBSCRIBE, (P)UNSUBSCRIBE and MONITOR, which callers must not send this way.
 * Returns REDIS_OK, or REDIS_ERR (nothing queued) when the context is closing or in subscribe or monitor mode.
 */
int kve_redis_send(redisAsyncContext *ac, size_t argc, const char *const *argv, const size_t *argvlen, redisCallbackFn *fn,
                   void *privdata);

#endif
