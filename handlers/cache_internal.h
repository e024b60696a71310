/* SPDX-License-Identifier: MIT */
/*
 * Internals of the HTTP cache shared by its two halves: cache.c (the handler: lookup, hits, delegation) and
 * cache_fill.c (the output filter: storing, revalidation, invalidation, Cache-Status on forwarded responses).
 * One kve_cache_req_t per request on a cached route, allocated from the request's pool with a dispose callback
 * that cancels its batch and frees what it holds; the handler leaves a pointer to it in req->env (which survives
 * delegation) for the filter.
 */
#ifndef KVE_HANDLERS_CACHE_INTERNAL_H
#define KVE_HANDLERS_CACHE_INTERNAL_H

#include "handlers/cache.h"
#include "handlers/cache_coalesce.h"
#include "handlers/cache_control.h"
#include "handlers/cache_freshness.h"
#include "handlers/cache_key.h"
#include "handlers/cache_memory.h"
#include "handlers/cache_record.h"
#include "handlers/cache_refresh.h"
#include "proxy/buf.h"
#include "proxy/kv.h"
#include "proxy/metrics.h"

#define KVE_CACHE_REQ_MAGIC 0x6b766361
/** what a head record and a reply's framing may add to max_object_size in one reply */
#define KVE_CACHE_REPLY_SLACK (256 * 1024)
/** the name of the req->env entry holding the request's kve_cache_req_t */
#define KVE_CACHE_ENV "kvedge.cache"

typedef struct st_kve_cache_handler_t {
    h2o_handler_t super;
    const kve_cache_conf_t *conf;
    kve_cache_key_conf_t key;
    kve_cache_rules_t rules;
    /** the operator's targeted field (lower case; {NULL, 0}: none) */
    h2o_iovec_t targeted;
    /** background refreshes (cache_refresh.c): the route's upstream (NULL: none), its path, Host, the lock's TTL */
    struct st_kve_httpclient_upstream_t *upstream;
    h2o_iovec_t upstream_path;
    int preserve_host;
    uint64_t refresh_lock_ms;
    /** the route's memory tier (NULL: `memory: 0`), and its registration (handlers/cache_memory_sync.h) */
    kve_cache_mem_t *mem;
    struct st_kve_cache_mem_route_t *mem_route;
    /** the route's metrics series (handlers/cache_stats.h) */
    size_t metrics_route;
    /** the tag field's name in lower case (in tag_header_lc), and whether it lists tags with commas (handlers/cache_tags.h) */
    h2o_iovec_t tag_header;
    int tag_comma;
    char tag_header_lc[64];
} kve_cache_handler_t;

typedef enum en_kve_cache_phase_t {
    KVE_CACHE_PHASE_LOOKUP = 0, /* reading the store */
    KVE_CACHE_PHASE_HIT,        /* answered from the store */
    KVE_CACHE_PHASE_FORWARD,    /* delegated to the proxy (miss, stale, bypass) */
    KVE_CACHE_PHASE_UNSAFE      /* an unsafe method, passed through (may invalidate) */
} kve_cache_phase_t;

typedef struct st_kve_cache_req_t {
    uint32_t magic;
    kve_cache_phase_t phase;
    h2o_req_t *req;
    kve_cache_handler_t *self;
    /** the lookup batch while its callbacks are due */
    kve_kv_batch_t *batch;
    int stage; /* 0: index + primary object, 1: the variant */
    int lookup_err;
    uint8_t primary[KVE_CACHE_HASH_LEN];
    uint8_t variant[KVE_CACHE_HASH_LEN];
    /** what the lookup read (malloc'd; NULL when absent) */
    char *raw[3];
    size_t raw_len[3];
    /** the variant index found (pointing into raw[0]) */
    int has_index;
    const char *gen;
    h2o_iovec_t vary;
    /** the stored object (valid when have_head; its strings point into raw[1]) */
    int have_head;
    kve_cache_head_t head;
    /** the request */
    kve_cc_t req_cc;
    int has_authorization;
    int64_t request_time;
    /** Cache-Status: fwd, and why nothing is stored (NULL: decided by the filter) */
    const char *fwd;
    const char *detail;
    /** the lookup worked, so the response may be stored */
    int may_store;
    /** the request went upstream with the stored validators; the client's own conditionals */
    int revalidating;
    h2o_header_t *client_cond;
    size_t num_client_cond;
    /** filling: the head being built, the body ("<id><bytes>"), the Vary list and TTL */
    int filling;
    int fill_abandoned;
    kve_cache_head_t fill;
    kve_buf_t fill_body;
    kve_buf_t fill_vary;
    const char *fill_gen;
    uint8_t fill_variant[KVE_CACHE_HASH_LEN];
    uint64_t fill_ttl_ms;
    /** what h2o's proxy drops from the upstream head (handlers/cache_upstream.h): its Date (KVE_CACHE_TIME_NONE:
     * none), and its Connection lines joined ({NULL, 0}: none; pool memory) */
    int64_t upstream_date;
    h2o_iovec_t upstream_connection;
    /** an upstream head was read (0 with a response h2o made itself: connect error, timeout, a refused head) */
    int upstream_seen;
    /** Cache-Status `key=` (an sf-string, pool memory; {NULL, 0} unless cache.debug) */
    h2o_iovec_t status_key;
    /** the variants counted by the index found, and the count the fill writes (cache.max_variants) */
    uint64_t index_count, fill_count;
    /** storage for a `detail` built per request */
    char detail_buf[64];
    /** coalescing (cache_coalesce.c): the entry this request leads or polls for, or the waiter it is */
    kve_coal_entry_t *coal;
    int coal_role;
    struct st_kve_coal_waiter_t *coal_waiter;
    h2o_timeout_entry_t coal_timer;
    const char *coal_fwd; /* the miss's fwd */
    int coal_done;        /* coalesced once: never again */
    int passed;           /* forwarded without a lookup: a pass is remembered (kve_cache__coalesce_passing) */
    int coal_pass;
    int coal_relookup;           /* released by a stored object: looking it up again */
    kve_cache_fill_t *coal_fill; /* a leader's snapshot, to go on fetching if its client goes away */
    uint64_t coal_deadline, coal_next_poll, coal_poll_ms;
    /** answered from another request's upstream fetch (Cache-Status `collapsed`; for the metrics) */
    int collapsed;
    /** served stale while one background refresh runs (stale-while-revalidate; for the metrics) */
    int stale_served;
    /** served stale in place of an upstream error (stale-if-error; for the metrics) */
    int stale_on_error;
    /** the memory tier: the object being sent from it (a reference, released with the request), and the tier's
     * epoch when the request started (objects read or fetched since go into the tier only if it is unchanged) */
    kve_cache_mem_obj_t *mem_obj;
    uint64_t mem_epoch;
    /** the key in the memory tier (its encoding in the request's pool once the tier missed) */
    kve_cache_mem_key_t mem_key;
    /** the response's tags were refused (why, for Cache-Status detail), or NULL; the accepted ones are in fill.tags */
    const char *tags_refused;
} kve_cache_req_t;

/** indexes of kve_cache_req_t.raw */
enum { KVE_CACHE_RAW_INDEX = 0, KVE_CACHE_RAW_HEAD = 1, KVE_CACHE_RAW_BODY = 2 };

/** The request's state, or NULL when the cache handler did not see it. */
kve_cache_req_t *kve_cache__state(h2o_req_t *req);

/** Registers the output filter on `pathconf`. */
void kve_cache__register_filter(h2o_pathconf_t *pathconf);

/**
 * One of the thread's two buffers (`which`: 0 the key, 1 a variant's key), emptied, for an encoding used at once
 * (overwritten by the thread's next use of the same buffer).
 */
kve_buf_t *kve_cache__thread_buf(int which);

/**
 * The primary key encoding of a GET of `path` on the request's scheme and host, in a buffer of the thread's that the
 * next call on the thread overwrites. Returns 0, or -1 (not cacheable).
 */
int kve_cache__key(kve_cache_handler_t *self, h2o_req_t *req, h2o_iovec_t path, h2o_iovec_t *enc);

/** The primary key hash of a GET of `path` on the request's scheme and host. Returns 0, or -1 (not cacheable). */
int kve_cache__primary(kve_cache_handler_t *self, h2o_req_t *req, h2o_iovec_t path, uint8_t out[KVE_CACHE_HASH_LEN]);

/** The variant hash for generation `gen` and the normalised Vary list `vary`, from the request's header fields. */
void kve_cache__variant(h2o_req_t *req, const char *gen, h2o_iovec_t vary, uint8_t out[KVE_CACHE_HASH_LEN]);

/**
 * How long the keys of an object with freshness `f` at age `age` are kept (ms): the rest of its freshness, the
 * longer of its stale windows, and `keep` when it has a validator. 0: not worth storing.
 */
uint64_t kve_cache__ttl_ms(const kve_cache_fresh_t *f, int64_t age, int has_validator, uint64_t keep_ms);

/** Adds the Cache-Status member `fmt` (after "kvedge; ") to the response. */
void kve_cache__add_status(h2o_req_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Whether response field `name` stays with the cache: the route's targeted field and Surrogate-Control. */
int kve_cache__own_field(const kve_cache_handler_t *self, h2o_iovec_t name);

/** Adds `Age: <age>` to the response. */
void kve_cache__add_age(h2o_req_t *req, int64_t age);

/** The reason phrase of `status` (generic ones for the less common codes). */
const char *kve_cache__reason(int status);

/** Goes on after a coalescing wait, or as its leader: a stale object is revalidated, a miss forwarded. */
void kve_cache__proceed(kve_cache_req_t *st);

/** Looks the object up again (a coalescing wait ended with the object stored). */
void kve_cache__lookup_again(kve_cache_req_t *st);

/** An object to store (borrowed). */
typedef struct st_kve_cache_object_t {
    const uint8_t *primary;
    const uint8_t *variant;       /* NULL: the URL does not vary */
    const char *gen;              /* with a variant: the index's generation (KVE_CACHE_ID_LEN bytes) */
    h2o_iovec_t vary;             /* with a variant: the normalised Vary list */
    const kve_cache_head_t *head; /* body_len set */
    h2o_iovec_t body;             /* "<id><bytes>" */
    uint64_t ttl_ms;
    uint64_t variants; /* with a variant: the variants its index counts (cache.max_variants); 0: not counted */
    /** the route (its tag sets, cache_tags.h) and the counters of the thread that stores it (cache_stats.h) */
    const kve_cache_handler_t *self;
    kve_metrics_thread_t *metrics;
} kve_cache_object_t;

/**
 * Stores `o` on `kv` in ONE atomic batch (head, body, and the variant index or the removal of a stale one), every
 * key with a TTL, with its tag and route set entries (in the same batch on one Redis, before it on a sharded store:
 * kve_cache__send_store); everything is copied. `coal` (or NULL) is a coalescing group released once it is applied.
 */
void kve_cache__store_object(kve_kv_t *kv, kve_coal_entry_t *coal, const kve_cache_object_t *o);

/**
 * Writes an updated head (after a 304) back and extends the body's, index's and tag sets' TTLs; `coal` as above; `self`
 * and `metrics` as in kve_cache_object_t.
 */
void kve_cache__store_head(kve_kv_t *kv, kve_coal_entry_t *coal, const uint8_t *primary, const uint8_t *variant,
                           const kve_cache_head_t *head, uint64_t ttl_ms, const kve_cache_handler_t *self,
                           kve_metrics_thread_t *metrics);

/** The stored fields of `stored` updated with those of a 304's `up` (RFC 9111 §3.2), into `out` (from `pool`). */
void kve_cache__merge_headers(h2o_mem_pool_t *pool, const kve_cache_head_t *stored, const h2o_headers_t *up, kve_cache_head_t *out);
/**
 * The request's key in the memory tier, in kve_cache__thread_buf(0): the primary key's encoding, or, when the route's
 * key has no header fields or cookies (it then depends on the scheme, the authority and the path alone), those
 * three as sent (cheaper; forms that normalise to one key are separate entries of one primary key). Returns 0, or
 * -1 (not cacheable).
 */
int kve_cache__mem_key(kve_cache_req_t *st, h2o_iovec_t *key);

/** Answers the request from the memory tier when it holds a fresh object for it. Returns 1 if it did, else 0. */
int kve_cache__mem_serve(kve_cache_req_t *st);

/**
 * Puts a copy of the object (`head`, `body`; the request's variant of index `gen`/`vary` when `is_variant`) into the
 * route's memory tier if it has one and the object is fresh (no-op otherwise).
 */
void kve_cache__mem_keep(kve_cache_req_t *st, const kve_cache_head_t *head, h2o_iovec_t body, const char *gen, h2o_iovec_t vary,
                         int is_variant);

/** The link to the route's store on the request's thread (NULL: none). */
kve_kv_t *kve_cache__link(kve_cache_handler_t *self, h2o_req_t *req);

/**
 * Removes the route's tag field from `headers` (it never reaches clients nor the store) and, when `keep`, parses it into
 * `*tags` (from `pool`). Returns NULL, or why the tags are refused (a Cache-Status detail: the response is not stored).
 * (handlers/cache_fill_tags.c)
 */
const char *kve_cache__tags_from(const kve_cache_handler_t *self, h2o_mem_pool_t *pool, h2o_headers_t *headers, int keep,
                                 h2o_iovec_t *tags);

/** kve_cache__tags_from() on the response of `req`, into st->fill.tags and st->tags_refused. */
void kve_cache__take_tags(h2o_req_t *req, kve_cache_req_t *st, int keep);

/**
 * The on_done data of a store batch: counts the stored object (and its `bytes` of body; UINT64_MAX: not a new object)
 * or a store error on counters `m` (the thread's) of series `route`, and logs a failure as `what`. Freed by
 * kve_cache__store_done; pass it to kve_cache__store_not_sent when the batch was not sent.
 */
void *kve_cache__store_ctx(kve_metrics_thread_t *m, size_t route, const char *what, uint64_t bytes);
void kve_cache__store_done(void *ctx, const kve_kv_batch_result_t *result);
void kve_cache__store_not_sent(void *ctx);

struct st_kve_cache_set_writes_t;
/**
 * Sends a store batch of the cache (handlers/cache_store.c): the set entries `sets` (NULL: none; cache_tags.h) and
 * `cmds[0 .. n-1]` with batch `flags`, counted by `stats` (kve_cache__store_ctx; taken); `coal` (or NULL) is a coalescing
 * group released once the batch is applied (or failed). Everything is copied before it returns. On one Redis it is ONE
 * batch, the set entries first. On a sharded store (kve_kv_is_sharded) an atomic batch with set entries is split: the
 * set entries first, as a batch that is not atomic (each in its own slot), then, once every one was applied, `cmds`
 * atomically (they must share one slot: the URL's hash tag); a failed set entry leaves the object unwritten (a store
 * error), since an object missing from its sets could not be purged.
 */
void kve_cache__send_store(kve_kv_t *kv, kve_coal_entry_t *coal, const kve_kv_command_t *cmds, size_t n,
                           const struct st_kve_cache_set_writes_t *sets, unsigned flags, void *stats);

#endif
