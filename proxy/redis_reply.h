/* SPDX-License-Identifier: MIT */
/*
 * hiredis reply objects from a per-thread free list. hiredis allocates a reply object and a separate
 * string for every reply and frees both after the callback; with pipelining that was a fifth of a
 * command's cost. These reply functions (installed on each connection's reader) keep short strings inline
 * in the object and recycle objects per thread. They also refuse absurd array sizes from the server
 * (hiredis 0.14 has no limit of its own), which turns them into a protocol error instead of a huge
 * allocation. The objects keep redisReply's layout, so everything else in hiredis works unchanged.
 */
#ifndef KVE_PROXY_REDIS_REPLY_H
#define KVE_PROXY_REDIS_REPLY_H

struct redisReplyObjectFunctions;

/** Strings shorter than this (so that the NUL fits too) are stored inside the reply object. */
#define KVE_REDIS_REPLY_INLINE 112
/**
 * An array reply longer than this is refused (hiredis itself refuses negative lengths other than -1). The
 * functions never fail otherwise (allocation failures abort), so hiredis' resulting REDIS_ERR_OOM ("Out
 * of memory") on a connection means a refused array.
 */
#define KVE_REDIS_REPLY_MAX_ELEMENTS (1 << 24)

/** The reply functions to install on a reader (`ac->c.reader->fn`). */
extern struct redisReplyObjectFunctions kve_redis_reply_functions;

/** Frees this thread's recycled objects (when the thread's Redis connections are gone). */
void kve_redis_reply_release_thread(void);

#endif
