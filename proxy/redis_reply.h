/* SPDX-License-Identifier: MIT */
/*
 * hiredis reply objects from a per-thread free list. hiredis allocates a reply object and a separate
 * string for every reply and frees both after the callback; with pipelining that was a fifth of a
 * command's cost. These reply functions (installed on each connection's reader) keep short strings inline
 * in the object and recycle objects per thread. They also refuse absurd array sizes from the server
 * (hiredis 0.14 has no limit of its own), which turns them into a protocol error instead of a huge
 * allocation. The objects keep redisReply's layout, so everything else in hiredis works unchanged.
 *
 * A connection may also give its reader a kve_redis_reader_t (the reader's privdata): then every reply is
 * held to a byte limit WHILE it is read, and a reply that nobody waits for is refused. hiredis calls these
 * functions once per element, so the check costs nothing extra: each object's cost (KVE_REDIS_REPLY_COST
 * plus its string when that is not inline, plus 8 bytes per array slot) is added up and, once the limit
 * would be passed, nothing more is allocated: the elements that follow are a shared placeholder (never
 * attached, never freed) and the reply's root takes the type KVE_REPLY_TOO_BIG (proxy/kv.h), with
 * whatever was built before it still attached for freeObject. A root that alone is over the limit is the
 * placeholder itself. (A split reply applies this per top-level element instead, see below.) hiredis 0.14
 * buffers a bulk string whole before it asks for its object: kve_redis_reader_drop_bulk() lets the
 * connection skip one that would pass the limit instead.
 */
#ifndef KVE_PROXY_REDIS_REPLY_H
#define KVE_PROXY_REDIS_REPLY_H

#include <stddef.h>

struct redisReplyObjectFunctions;
struct redisReader;

/** Strings shorter than this (so that the NUL fits too) are stored inside the reply object. */
#define KVE_REDIS_REPLY_INLINE 112
/**
 * An array reply longer than this is refused (hiredis itself refuses negative lengths other than -1). The
 * functions never fail otherwise (allocation failures abort), so hiredis' resulting REDIS_ERR_OOM ("Out
 * of memory") on a connection means a refused array, or (with a kve_redis_reader_t) a reply nobody waited
 * for: kve_redis_reader_t.refused tells which.
 */
#define KVE_REDIS_REPLY_MAX_ELEMENTS (1 << 24)
/** What one reply object costs towards a limit (the object with its inline buffer). */
#define KVE_REDIS_REPLY_COST 176
/** next_limit's answer for "no command waits for a reply now" */
#define KVE_REDIS_REPLY_UNEXPECTED ((size_t)-1)

enum { KVE_REDIS_REFUSED_NONE, KVE_REDIS_REFUSED_ELEMENTS, KVE_REDIS_REFUSED_UNEXPECTED };
enum { KVE_REDIS_READ_OK, KVE_REDIS_READ_OVER, KVE_REDIS_READ_ENTRY_OVER };

/** Limits below this count as this: a reply that small is never refused, so the root of one needs no limit. */
#define KVE_REDIS_REPLY_MIN_LIMIT 1024

/** Per-connection reading state (owned by the connection; zero-initialise, then set waiting and next_limit). */
typedef struct st_kve_redis_reader_t {
    /** NULL exactly when no command waits for a reply (hiredis' ac->replies.head): a reply then is refused */
    void *const *waiting;
    /**
     * Called when a reply begins (unless it is a string, integer or nil costing at most
     * KVE_REDIS_REPLY_MIN_LIMIT): the most bytes it may take (0: no limit), or KVE_REDIS_REPLY_UNEXPECTED
     * when no command waits for one (the reader then fails, see KVE_REDIS_REPLY_MAX_ELEMENTS). Sets *split
     * for a reply whose top-level elements are separate results (EXEC's, kv_redis.c): then an
     * element past the limit becomes the placeholder in its slot (or, when it is an array already being
     * built, is emptied at once, its cost given back, and takes the type KVE_REPLY_TOO_BIG), and the root
     * array stays.
     */
    size_t (*next_limit)(struct st_kve_redis_reader_t *self, int *split);
    /** why the reader failed, when it did so because of these functions (KVE_REDIS_REFUSED_*) */
    int refused;
    /* the reply being read */
    size_t limit;
    size_t used;
    int split;
    /** KVE_REDIS_READ_OVER: everything from here on is the placeholder; _ENTRY_OVER: the same for the rest
     * of the current top-level element (split) */
    int state;
    size_t entry_start; /* split: `used` when the current top-level element began */
    void *root;         /* the reply's root when it is an array (set by create_array) */
    int dropped;        /* the next nil stands for a bulk string kve_redis_reader_drop_bulk() dropped */
} kve_redis_reader_t;

/** The reply functions to install on a reader (`ac->c.reader->fn`). */
extern struct redisReplyObjectFunctions kve_redis_reply_functions;

/**
 * For a reader with a kve_redis_reader_t, after hiredis parsed what it had: when it waits for the rest of a
 * bulk string that would pass the reply's limit (or comes after the reply passed it), rewrites the reader's
 * buffer so that it parses the placeholder in the string's place, and returns how many bytes of that string
 * are still to come on the connection: the caller must discard exactly those before the reader gets more
 * input. Returns 0 (and changes nothing) otherwise. hiredis then never holds more of such a string than one
 * read.
 */
size_t kve_redis_reader_drop_bulk(struct redisReader *reader);

/** Frees this thread's recycled objects (when the thread's Redis connections are gone). */
void kve_redis_reply_release_thread(void);

#endif
