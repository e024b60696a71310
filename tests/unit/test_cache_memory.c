/* SPDX-License-Identifier: MIT */
/*
 * The cache's memory tier (handlers/cache_memory.c, cache_memory_sync.c): the LRU keeps to its budget, an object
 * outlives its eviction while held, inserts race invalidations safely (epoch, live), variants hang off their index,
 * eviction messages, and threads hammering one tier (run under ASan in the sanitizer build).
 */
#include "test.h"
#include "handlers/cache_memory.h"
#include "handlers/cache_memory_sync.h"

#include <pthread.h>

static h2o_iovec_t hname = {"x-test", 6};

/* a primary key in shard `shard` numbered `n` */
static void key(uint8_t out[KVE_CACHE_HASH_LEN], unsigned shard, unsigned n)
{
    memset(out, 0, KVE_CACHE_HASH_LEN);
    out[0] = (uint8_t)shard;
    memcpy(out + 8, &n, sizeof(n));
}

/* the tier's key of primary key `p` (or of a variant): its bytes stand for the encoding (borrowed: `p` must outlive
 * the key) */
static kve_cache_mem_key_t mkey(kve_cache_mem_t *m, const uint8_t *p)
{
    return (kve_cache_mem_key_t){h2o_iovec_init(p, KVE_CACHE_HASH_LEN), kve_cache_mem_hash(m, p, KVE_CACHE_HASH_LEN)};
}

static kve_cache_mem_obj_t *index_new(kve_cache_mem_t *m, const uint8_t *p, const char *gen, h2o_iovec_t vary)
{
    kve_cache_mem_key_t k = mkey(m, p);
    return kve_cache_mem_index_new(&k, p, gen, vary);
}

/* an object fresh for a minute from now, `body_len` bytes of `c` */
static kve_cache_mem_obj_t *object(kve_cache_mem_t *m, const uint8_t *primary, const uint8_t *variant, const char *gen,
                                   size_t body_len, char c)
{
    char body[8192];
    static h2o_iovec_t etag_upper = {"ETag", 4}; /* a token, stored in another case */
    h2o_header_t headers[2] = {{&etag_upper, NULL, {"\"e\"", 3}}, {&hname, NULL, {"v", 1}}};
    kve_cache_head_t head = {.status = 200, .response_time = time(NULL), .fresh = {60, 0, 0, 0}, .body_len = body_len};
    kve_cache_mem_key_t k = mkey(m, primary), v = variant != NULL ? mkey(m, variant) : (kve_cache_mem_key_t){{NULL, 0}, 0};
    head.headers = headers, head.num_headers = 2;
    memset(body, c, body_len);
    return kve_cache_mem_obj_new(m, &k, primary, variant != NULL ? &v : NULL, gen, &head, h2o_iovec_init(body, body_len),
                                 time(NULL));
}

static kve_cache_mem_obj_t *lookup(kve_cache_mem_t *m, const uint8_t *primary, const uint8_t *variant)
{
    kve_cache_mem_key_t k = mkey(m, primary), v = variant != NULL ? mkey(m, variant) : (kve_cache_mem_key_t){{NULL, 0}, 0};
    return kve_cache_mem_lookup(m, &k, variant != NULL ? &v : NULL);
}

static int present(kve_cache_mem_t *m, const uint8_t *primary, const uint8_t *variant)
{
    kve_cache_mem_obj_t *o = lookup(m, primary, variant);
    kve_cache_mem_release(o);
    return o != NULL;
}

TEST(cache_memory_object)
{
    kve_cache_mem_t *m = kve_cache_mem_create(1 << 20);
    uint8_t p[KVE_CACHE_HASH_LEN];
    kve_cache_mem_obj_t *o;

    key(p, 1, 1);
    o = object(m, p, NULL, NULL, 10, 'a');
    CHECK_EQ_INT(o->status, 200);
    CHECK_EQ_UINT(o->num_headers, 2);
    CHECK(o->headers[0].name == &H2O_TOKEN_ETAG->buf); /* a token: h2o takes it as it is */
    CHECK_EQ_MEM(o->headers[1].name->base, o->headers[1].name->len, "x-test", 6);
    CHECK(o->headers[1].name != &hname); /* copied into the object */
    CHECK_EQ_MEM(o->etag.base, o->etag.len, "\"e\"", 3);
    CHECK_EQ_MEM(o->body.base, o->body.len, "aaaaaaaaaa", 10);
    /* not live: refused */
    CHECK_EQ_INT(kve_cache_mem_insert(m, o, kve_cache_mem_epoch(m)), -1);
    kve_cache_mem_set_live(m, 1);
    o = object(m, p, NULL, NULL, 10, 'a');
    CHECK_EQ_INT(kve_cache_mem_insert(m, o, kve_cache_mem_epoch(m) - 1), -1); /* an older epoch: refused */
    CHECK(!present(m, p, NULL));
    o = object(m, p, NULL, NULL, 10, 'a');
    CHECK_EQ_INT(kve_cache_mem_insert(m, o, kve_cache_mem_epoch(m)), 0);
    CHECK(present(m, p, NULL));
    kve_cache_mem_destroy(m);
    /* too big for a shard (64 KiB / 16) */
    m = kve_cache_mem_create(16 * 4096);
    CHECK_NULL(object(m, p, NULL, NULL, 4096, 'b'));
    kve_cache_mem_destroy(m);
}

TEST(cache_memory_bounds)
{
    /* 16 shards of 16 KiB; objects of ~1.5 KiB: at most 10 a shard */
    kve_cache_mem_t *m = kve_cache_mem_create(16 * 16384);
    kve_cache_mem_stats_t stats;
    uint8_t p[KVE_CACHE_HASH_LEN], first[KVE_CACHE_HASH_LEN];
    unsigned kept = 0, n = 1000;

    kve_cache_mem_set_live(m, 1);
    key(first, 3, 100000);
    CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, first, NULL, NULL, 1024, 'f'), kve_cache_mem_epoch(m)), 0);
    for (unsigned i = 0; i != n; ++i) {
        key(p, i % 256, i);
        CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, NULL, NULL, 1024, 'x'), kve_cache_mem_epoch(m)), 0);
        CHECK(present(m, first, NULL)); /* used all along: never the least recently used */
        kve_cache_mem_get_stats(m, &stats);
        CHECK(stats.bytes <= 16 * 16384);
    }
    for (unsigned i = 0; i != n; ++i) {
        key(p, i % 256, i);
        kept += present(m, p, NULL);
    }
    kve_cache_mem_get_stats(m, &stats);
    CHECK_EQ_UINT(stats.objects, kept + 1);
    CHECK(kept >= 16 * 5 && kept < 16 * 11);
    CHECK(stats.evictions >= n - kept);
    /* the most recent one is kept, the oldest are not */
    key(p, (n - 1) % 256, n - 1);
    CHECK(present(m, p, NULL));
    key(p, 0, 0);
    CHECK(!present(m, p, NULL));
    kve_cache_mem_evict_all(m);
    kve_cache_mem_get_stats(m, &stats);
    CHECK_EQ_UINT(stats.objects, 0);
    CHECK_EQ_UINT(stats.bytes, 0);
    kve_cache_mem_destroy(m);
}

TEST(cache_memory_refcount)
{
    kve_cache_mem_t *m = kve_cache_mem_create(1 << 20);
    uint8_t p[KVE_CACHE_HASH_LEN];
    kve_cache_mem_obj_t *held;
    uint64_t epoch;

    kve_cache_mem_set_live(m, 1);
    key(p, 0, 7);
    kve_cache_mem_insert(m, object(m, p, NULL, NULL, 100, 'a'), kve_cache_mem_epoch(m));
    held = lookup(m, p, NULL);
    CHECK_NOT_NULL(held);
    epoch = kve_cache_mem_epoch(m);
    kve_cache_mem_evict_primary(m, p);
    CHECK(kve_cache_mem_epoch(m) != epoch);
    CHECK(!present(m, p, NULL));
    /* still readable while held (ASan would catch a use after free), replaced meanwhile */
    kve_cache_mem_insert(m, object(m, p, NULL, NULL, 100, 'b'), kve_cache_mem_epoch(m));
    CHECK_EQ_MEM(held->body.base, 3, "aaa", 3);
    kve_cache_mem_release(held);
    held = lookup(m, p, NULL);
    CHECK_EQ_MEM(held->body.base, 3, "bbb", 3);
    /* the tier may go away before the last holder */
    kve_cache_mem_destroy(m);
    CHECK_EQ_MEM(held->body.base, 3, "bbb", 3);
    kve_cache_mem_release(held);
}

TEST(cache_memory_variants)
{
    kve_cache_mem_t *m = kve_cache_mem_create(1 << 20);
    uint8_t p[KVE_CACHE_HASH_LEN], v1[KVE_CACHE_HASH_LEN], v2[KVE_CACHE_HASH_LEN];
    h2o_iovec_t vary = h2o_iovec_init(H2O_STRLIT("accept-language"));
    kve_cache_mem_obj_t *idx;

    kve_cache_mem_set_live(m, 1);
    key(p, 5, 1), key(v1, 9, 1), key(v2, 9, 2);
    /* a variant without its index is refused */
    CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, v1, "gen0000000000001", 10, 'a'), kve_cache_mem_epoch(m)), -1);
    CHECK_EQ_INT(kve_cache_mem_insert(m, index_new(m, p, "gen0000000000001", vary), kve_cache_mem_epoch(m)), 0);
    CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, v1, "gen0000000000001", 10, 'a'), kve_cache_mem_epoch(m)), 0);
    CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, v2, "gen0000000000001", 10, 'b'), kve_cache_mem_epoch(m)), 0);
    /* of another generation: refused */
    CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, v2, "gen0000000000002", 10, 'c'), kve_cache_mem_epoch(m)), -1);
    idx = lookup(m, p, NULL);
    CHECK(idx != NULL && idx->is_index);
    CHECK_EQ_MEM(idx->vary.base, idx->vary.len, "accept-language", 15);
    kve_cache_mem_release(idx);
    /* the same index again keeps the variants; another generation drops them */
    kve_cache_mem_insert(m, index_new(m, p, "gen0000000000001", vary), kve_cache_mem_epoch(m));
    CHECK(present(m, p, v1) && present(m, p, v2));
    kve_cache_mem_insert(m, index_new(m, p, "gen0000000000002", vary), kve_cache_mem_epoch(m));
    CHECK(!present(m, p, v1) && !present(m, p, v2));
    CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, v1, "gen0000000000002", 10, 'd'), kve_cache_mem_epoch(m)), 0);
    /* evicting the URL drops the index and its variants */
    kve_cache_mem_evict_primary(m, p);
    CHECK(!present(m, p, NULL) && !present(m, p, v1));
    /* the URL's own object replaces an index and its variants */
    kve_cache_mem_insert(m, index_new(m, p, "gen0000000000003", vary), kve_cache_mem_epoch(m));
    kve_cache_mem_insert(m, object(m, p, v1, "gen0000000000003", 10, 'e'), kve_cache_mem_epoch(m));
    CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, NULL, NULL, 10, 'f'), kve_cache_mem_epoch(m)), 0);
    CHECK(!present(m, p, v1));
    idx = lookup(m, p, NULL);
    CHECK(idx != NULL && !idx->is_index);
    kve_cache_mem_release(idx);
    kve_cache_mem_destroy(m);
}

TEST(cache_memory_messages)
{
    kve_cache_conf_t conf_a = {.present = 1, .enabled = 1, .store_id = 0, .memory = 1 << 20};
    kve_cache_conf_t conf_b = conf_a;
    kve_cache_mem_route_t *a = kve_cache_mem_route_register(&conf_a, h2o_iovec_init(H2O_STRLIT("/a")));
    kve_cache_mem_route_t *b = kve_cache_mem_route_register(&conf_b, h2o_iovec_init(H2O_STRLIT("/b")));
    kve_cache_mem_t *ma = kve_cache_mem_route_tier(a), *mb = kve_cache_mem_route_tier(b);
    uint8_t p[KVE_CACHE_HASH_LEN], q[KVE_CACHE_HASH_LEN];
    char msg[KVE_CACHE_MEM_KEY_MSG_LEN];

    kve_cache_mem_set_live(ma, 1), kve_cache_mem_set_live(mb, 1);
    key(p, 2, 0xab), key(q, 2, 0xcd);
    kve_cache_mem_insert(ma, object(ma, p, NULL, NULL, 10, 'a'), kve_cache_mem_epoch(ma));
    kve_cache_mem_insert(ma, object(ma, q, NULL, NULL, 10, 'a'), kve_cache_mem_epoch(ma));
    kve_cache_mem_insert(mb, object(mb, p, NULL, NULL, 10, 'a'), kve_cache_mem_epoch(mb));
    /* a key: in every route of the store, and the message says which */
    CHECK_EQ_INT(kve_cache_mem_evict_key_local(0, p, msg), 1);
    CHECK_EQ_MEM(msg, 4, "k 02", 4);
    CHECK(!present(ma, p, NULL) && !present(mb, p, NULL) && present(ma, q, NULL));
    CHECK_EQ_INT(kve_cache_mem_evict_key_local(1, p, msg), 0); /* no memory on store 1 */
    /* what other instances send */
    kve_cache_mem_insert(ma, object(ma, p, NULL, NULL, 10, 'a'), kve_cache_mem_epoch(ma));
    kve_cache_mem_insert(mb, object(mb, p, NULL, NULL, 10, 'a'), kve_cache_mem_epoch(mb));
    CHECK_EQ_INT(kve_cache_mem_apply_message(0, H2O_STRLIT("r /b")), 0);
    CHECK(present(ma, p, NULL) && !present(mb, p, NULL));
    CHECK_EQ_INT(kve_cache_mem_apply_message(1, H2O_STRLIT("a")), 0); /* another store */
    CHECK(present(ma, p, NULL));
    CHECK_EQ_INT(kve_cache_mem_apply_message(0, H2O_STRLIT("a")), 0);
    CHECK(!present(ma, p, NULL) && !present(ma, q, NULL));
    /* malformed ones are refused (the subscriber then evicts everything) */
    CHECK_EQ_INT(kve_cache_mem_apply_message(0, H2O_STRLIT("k 02")), -1);
    CHECK_EQ_INT(kve_cache_mem_apply_message(0, H2O_STRLIT("k 0200000000000000AB00000000000000")), -1);
    CHECK_EQ_INT(kve_cache_mem_apply_message(0, H2O_STRLIT("x")), -1);
    CHECK_EQ_INT(kve_cache_mem_apply_message(0, "", 0), -1);
    {
        kve_cache_mem_stats_t st;
        kve_cache_conf_t none = conf_a;
        CHECK_EQ_INT(kve_cache_mem_route_stats(&conf_a, &st), 0);
        CHECK_EQ_UINT(st.budget, 1 << 20);
        CHECK(st.evictions >= 2);
        CHECK_EQ_INT(kve_cache_mem_route_stats(&none, &st), -1);
    }
    kve_cache_mem_route_dispose(a);
    kve_cache_mem_route_dispose(b);
}

/* --- threads --- */

#define THREADS 4
#define ROUNDS 20000

static kve_cache_mem_t *shared_tier;

static void *hammer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    uint8_t p[KVE_CACHE_HASH_LEN];

    for (unsigned i = 0; i != ROUNDS; ++i) {
        unsigned r = rand_r(&seed);
        key(p, r % 4, (r >> 4) % 64);
        switch ((r >> 12) % 8) {
        case 0:
        case 1:
            kve_cache_mem_insert(shared_tier, object(shared_tier, p, NULL, NULL, 200 + r % 500, 'a' + (char)(r % 26)),
                                 kve_cache_mem_epoch(shared_tier));
            break;
        case 2:
            kve_cache_mem_evict_primary(shared_tier, p);
            break;
        default: {
            kve_cache_mem_obj_t *o = lookup(shared_tier, p, NULL);
            if (o != NULL) {
                /* the body is one byte repeated whatever happens to the entry meanwhile */
                for (size_t j = 1; j < o->body.len; ++j)
                    if (o->body.base[j] != o->body.base[0]) {
                        kve_cache_mem_release(o);
                        return (void *)1;
                    }
                kve_cache_mem_release(o);
            }
        } break;
        }
    }
    return NULL;
}

TEST(cache_memory_threads)
{
    pthread_t t[THREADS];
    kve_cache_mem_stats_t stats;

    shared_tier = kve_cache_mem_create(16 * 8192);
    kve_cache_mem_set_live(shared_tier, 1);
    for (uintptr_t i = 0; i != THREADS; ++i)
        CHECK_EQ_INT(pthread_create(t + i, NULL, hammer, (void *)(i + 1)), 0);
    for (size_t i = 0; i != THREADS; ++i) {
        void *ret;
        pthread_join(t[i], &ret);
        CHECK_NULL(ret);
    }
    kve_cache_mem_get_stats(shared_tier, &stats);
    CHECK(stats.bytes <= 16 * 8192);
    CHECK(stats.hits > 0 && stats.inserts > 0 && stats.evictions > 0);
    kve_cache_mem_destroy(shared_tier);
}

/*
 * An index replaced while one of its variants sits in front of it in its bucket's chain (a variant is inserted after
 * its index, at the chain's head; which bucket is the tier's random seed's choice, so each round has a new tier).
 * The index's slot used to be looked up before its variants were unlinked: it could be that variant's `_chain`, and
 * the index stayed in the chain after being freed (a crash in 1 of ~20 runs of cache_memory_variants).
 */
TEST(cache_memory_index_behind_variant)
{
    h2o_iovec_t vary = h2o_iovec_init(H2O_STRLIT("accept-language"));
    uint8_t p[KVE_CACHE_HASH_LEN], v[KVE_CACHE_HASH_LEN];

    for (int round = 0; round != 200; ++round) {
        kve_cache_mem_t *m = kve_cache_mem_create(1 << 22);
        kve_cache_mem_obj_t *own;

        kve_cache_mem_set_live(m, 1);
        key(p, 5, (uint8_t)round);
        CHECK_EQ_INT(kve_cache_mem_insert(m, index_new(m, p, "gen0000000000001", vary), kve_cache_mem_epoch(m)), 0);
        for (int i = 0; i != 40; ++i) { /* 40 entries: the shard keeps its 64 buckets */
            key(v, 9, (uint8_t)i);
            CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, v, "gen0000000000001", 10, 'a'), kve_cache_mem_epoch(m)), 0);
        }
        CHECK_EQ_INT(kve_cache_mem_insert(m, object(m, p, NULL, NULL, 10, 'f'), kve_cache_mem_epoch(m)), 0);
        own = lookup(m, p, NULL);
        CHECK(own != NULL && !own->is_index);
        kve_cache_mem_release(own);
        for (int i = 0; i != 40; ++i) {
            key(v, 9, (uint8_t)i);
            CHECK(!present(m, p, v));
        }
        kve_cache_mem_evict_primary(m, p);
        CHECK(!present(m, p, NULL));
        kve_cache_mem_destroy(m);
    }
}

void kve_suite_cache_memory(void)
{
    RUN(cache_memory_object);
    RUN(cache_memory_bounds);
    RUN(cache_memory_refcount);
    RUN(cache_memory_variants);
    RUN(cache_memory_index_behind_variant);
    RUN(cache_memory_messages);
    RUN(cache_memory_threads);
}
