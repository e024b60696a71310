/* SPDX-License-Identifier: MIT */
/*
 * The memory tier's LRU (see cache_memory.h): shards of a chained hash table and an LRU list under one mutex each;
 * objects built in one block and reference-counted. Entries unlinked under a shard's lock are released after it is
 * dropped, so no free() runs under a lock.
 */
#include "handlers/cache_memory.h"
#include "handlers/cache_response.h"
#include "proxy/common.h"

#include <pthread.h>
#include <sys/random.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct st_shard_t {
    alignas(64) pthread_mutex_t mutex;
    kve_cache_mem_obj_t **buckets;  /* by key */
    kve_cache_mem_obj_t **pbuckets; /* the URLs' own entries by primary key hash */
    size_t num_buckets;             /* of each; a power of two */
    size_t count;
    uint64_t bytes, budget;
    h2o_linklist_t lru; /* most recent first */
    uint64_t hits, misses, inserts, evictions;
} shard_t;

struct st_kve_cache_mem_t {
    _Atomic uint64_t epoch;
    uint64_t seed;
    _Atomic int live;
    uint64_t budget;
    shard_t shards[KVE_CACHE_MEM_SHARDS];
};

/* the variant of the URL's own entries (objects and indexes) */
static const kve_cache_mem_key_t own = {{NULL, 0}, 0};

/* --- objects --- */

static void obj_free(kve_cache_mem_obj_t *obj)
{
    free(obj);
}

void kve_cache_mem_release(kve_cache_mem_obj_t *obj)
{
    if (obj != NULL && atomic_fetch_sub_explicit(&obj->_refs, 1, memory_order_acq_rel) == 1)
        obj_free(obj);
}

/* copies `k` to `*p` (advanced) into `*out` */
static void copy_key(kve_cache_mem_key_t *out, const kve_cache_mem_key_t *k, char **p)
{
    out->enc = h2o_iovec_init(*p, k->enc.len);
    if (k->enc.len != 0)
        memcpy(*p, k->enc.base, k->enc.len);
    out->hash = k->hash;
    *p += k->enc.len;
}

/* an object with `extra` bytes after it and copies of `key` and `variant` (NULL: own) after those */
static kve_cache_mem_obj_t *obj_alloc(size_t extra, const kve_cache_mem_key_t *key, const uint8_t *primary,
                                      const kve_cache_mem_key_t *variant)
{
    size_t keys = key->enc.len + (variant != NULL ? variant->enc.len : 0);
    kve_cache_mem_obj_t *obj = h2o_mem_alloc(sizeof(*obj) + extra + keys);
    char *p = (char *)(obj + 1) + extra;

    memset(obj, 0, sizeof(*obj));
    atomic_init(&obj->_refs, 1);
    obj->_charge = sizeof(*obj) + extra + keys + KVE_CACHE_MEM_OVERHEAD;
    h2o_linklist_init_anchor(&obj->_variants);
    copy_key(&obj->key, key, &p);
    copy_key(&obj->variant, variant != NULL ? variant : &own, &p);
    memcpy(obj->primary, primary, KVE_CACHE_HASH_LEN);
    return obj;
}

/* bytes the header fields take in the block: the array, names that are not tokens, and the strings */
static size_t headers_size(const kve_cache_head_t *head)
{
    size_t n = head->num_headers * sizeof(h2o_header_t);
    for (size_t i = 0; i != head->num_headers; ++i)
        n += sizeof(h2o_iovec_t) + head->headers[i].name->len + head->headers[i].value.len;
    return n;
}

/* copies the header fields into `p` (headers_size bytes), names resolved to tokens where one exists */
static void copy_headers(kve_cache_mem_obj_t *obj, const kve_cache_head_t *head, char *p)
{
    h2o_iovec_t *names = (h2o_iovec_t *)(p + head->num_headers * sizeof(h2o_header_t));
    char *s = (char *)(names + head->num_headers);

    obj->headers = (h2o_header_t *)p;
    obj->num_headers = head->num_headers;
    for (size_t i = 0; i != head->num_headers; ++i) {
        const h2o_header_t *src = head->headers + i;
        const h2o_token_t *token;
        h2o_header_t *dst = obj->headers + i;
        /* lower case (as h2o's own names are), so that a token is found whatever the case it was stored in */
        memcpy(s, src->name->base, src->name->len);
        h2o_strtolower(s, src->name->len);
        if ((token = h2o_lookup_token(s, src->name->len)) != NULL) {
            dst->name = (h2o_iovec_t *)&token->buf;
        } else {
            names[i] = h2o_iovec_init(s, src->name->len);
            dst->name = names + i;
            s += src->name->len;
        }
        dst->orig_name = NULL;
        memcpy(s, src->value.base, src->value.len);
        dst->value = h2o_iovec_init(s, src->value.len);
        s += src->value.len;
    }
}

kve_cache_mem_obj_t *kve_cache_mem_obj_new(const kve_cache_mem_t *m, const kve_cache_mem_key_t *key,
                                           const uint8_t primary[KVE_CACHE_HASH_LEN], const kve_cache_mem_key_t *variant,
                                           const char *gen, const kve_cache_head_t *head, h2o_iovec_t body, int64_t now)
{
    size_t hsize = headers_size(head);
    kve_cache_mem_obj_t *obj;
    kve_cache_resp_t r;

    if (sizeof(*obj) + hsize + body.len + key->enc.len + (variant != NULL ? variant->enc.len : 0) + KVE_CACHE_MEM_OVERHEAD >
        m->shards[0].budget)
        return NULL;
    obj = obj_alloc(hsize + body.len, key, primary, variant);
    if (variant != NULL)
        memcpy(obj->gen, gen, KVE_CACHE_ID_LEN);
    obj->status = head->status;
    obj->response_time = head->response_time;
    obj->initial_age = head->initial_age;
    obj->fresh = head->fresh;
    copy_headers(obj, head, (char *)(obj + 1));
    obj->body = h2o_iovec_init((char *)(obj + 1) + hsize, body.len);
    if (body.len != 0)
        memcpy(obj->body.base, body.base, body.len);
    kve_cache_resp_parse(&r, obj->status, obj->headers, obj->num_headers, h2o_iovec_init(NULL, 0), now);
    obj->etag = r.etag;
    obj->last_modified = r.last_modified;
    obj->date = r.date;
    return obj;
}

kve_cache_mem_obj_t *kve_cache_mem_index_new(const kve_cache_mem_key_t *key, const uint8_t primary[KVE_CACHE_HASH_LEN],
                                             const char *gen, h2o_iovec_t vary)
{
    kve_cache_mem_obj_t *obj = obj_alloc(vary.len, key, primary, NULL);

    obj->is_index = 1;
    memcpy(obj->gen, gen, KVE_CACHE_ID_LEN);
    obj->vary = h2o_iovec_init((char *)(obj + 1), vary.len);
    if (vary.len != 0)
        memcpy(obj->vary.base, vary.base, vary.len);
    return obj;
}

/* --- the tier --- */

kve_cache_mem_t *kve_cache_mem_create(uint64_t budget)
{
    kve_cache_mem_t *m = aligned_alloc(64, (sizeof(*m) + 63) / 64 * 64);

    KVE_ASSERT(m != NULL && budget > 0);
    memset(m, 0, sizeof(*m));
    m->budget = budget;
    if (getrandom(&m->seed, sizeof(m->seed), 0) != sizeof(m->seed))
        m->seed = (uint64_t)(uintptr_t)m ^ (uint64_t)time(NULL);
    for (size_t i = 0; i != KVE_CACHE_MEM_SHARDS; ++i) {
        shard_t *s = m->shards + i;
        pthread_mutex_init(&s->mutex, NULL);
        s->num_buckets = 64;
        s->buckets = h2o_mem_alloc(sizeof(*s->buckets) * s->num_buckets);
        memset(s->buckets, 0, sizeof(*s->buckets) * s->num_buckets);
        s->pbuckets = h2o_mem_alloc(sizeof(*s->pbuckets) * s->num_buckets);
        memset(s->pbuckets, 0, sizeof(*s->pbuckets) * s->num_buckets);
        s->budget = budget / KVE_CACHE_MEM_SHARDS;
        h2o_linklist_init_anchor(&s->lru);
    }
    return m;
}

uint64_t kve_cache_mem_hash(const kve_cache_mem_t *m, const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = m->seed ^ (len * 0x9e3779b97f4a7c15ULL), v;

    for (; len >= 8; b += 8, len -= 8) {
        memcpy(&v, b, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    v = 0;
    memcpy(&v, b, len);
    h = (h ^ v) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static shard_t *shard_of(kve_cache_mem_t *m, uint64_t hash)
{
    return m->shards + ((hash >> 56) & (KVE_CACHE_MEM_SHARDS - 1));
}

static size_t bucket_of(const shard_t *s, uint64_t hash, const kve_cache_mem_key_t *variant)
{
    return (size_t)((hash ^ (variant->hash * 0x9e3779b97f4a7c15ULL)) & (s->num_buckets - 1));
}

static size_t pbucket_of(const shard_t *s, const uint8_t *primary)
{
    uint64_t a;
    memcpy(&a, primary + 8, sizeof(a));
    return (size_t)(a & (s->num_buckets - 1));
}

static int is_own(const kve_cache_mem_obj_t *e)
{
    return e->variant.enc.len == 0;
}

static kve_cache_mem_obj_t **find_slot(shard_t *s, const kve_cache_mem_key_t *key, const kve_cache_mem_key_t *variant)
{
    kve_cache_mem_obj_t **slot = s->buckets + bucket_of(s, key->hash, variant);
    for (; *slot != NULL; slot = &(*slot)->_chain) {
        const kve_cache_mem_obj_t *e = *slot;
        if (e->key.hash == key->hash && e->variant.hash == variant->hash &&
            h2o_memis(e->key.enc.base, e->key.enc.len, key->enc.base, key->enc.len) &&
            h2o_memis(e->variant.enc.base, e->variant.enc.len, variant->enc.base, variant->enc.len))
            break;
    }
    return slot;
}

static kve_cache_mem_obj_t **pfind_slot(shard_t *s, const uint8_t *primary)
{
    kve_cache_mem_obj_t **slot = s->pbuckets + pbucket_of(s, primary);
    for (; *slot != NULL; slot = &(*slot)->_pchain)
        if (memcmp((*slot)->primary, primary, KVE_CACHE_HASH_LEN) == 0)
            break;
    return slot;
}

static void grow(shard_t *s)
{
    size_t old_n = s->num_buckets;
    kve_cache_mem_obj_t **old = s->buckets, **pold = s->pbuckets;

    s->num_buckets = old_n * 2;
    s->buckets = h2o_mem_alloc(sizeof(*s->buckets) * s->num_buckets);
    memset(s->buckets, 0, sizeof(*s->buckets) * s->num_buckets);
    s->pbuckets = h2o_mem_alloc(sizeof(*s->pbuckets) * s->num_buckets);
    memset(s->pbuckets, 0, sizeof(*s->pbuckets) * s->num_buckets);
    for (size_t i = 0; i != old_n; ++i) {
        kve_cache_mem_obj_t *e, *next;
        for (e = old[i]; e != NULL; e = next) {
            size_t b = bucket_of(s, e->key.hash, &e->variant);
            next = e->_chain;
            e->_chain = s->buckets[b];
            s->buckets[b] = e;
        }
        for (e = pold[i]; e != NULL; e = next) {
            size_t b = pbucket_of(s, e->primary);
            next = e->_pchain;
            e->_pchain = s->pbuckets[b];
            s->pbuckets[b] = e;
        }
    }
    free(old);
    free(pold);
}

/* unlinks `e` (and an index's variants) onto `*dead` (chained through _chain) for release after the lock */
static void unlink_entry(shard_t *s, kve_cache_mem_obj_t *e, kve_cache_mem_obj_t **dead)
{
    kve_cache_mem_obj_t **slot;

    /* an index's variants first: one of them may sit in front of the index in its bucket's chain, so the index's slot
     * is looked up only after (a slot found before could be that variant's `_chain`, gone with it) */
    if (e->is_index)
        while (!h2o_linklist_is_empty(&e->_variants))
            unlink_entry(s, H2O_STRUCT_FROM_MEMBER(kve_cache_mem_obj_t, _variants, e->_variants.next), dead);
    else if (e->_index != NULL)
        h2o_linklist_unlink(&e->_variants), e->_index = NULL;
    slot = find_slot(s, &e->key, &e->variant);
    KVE_ASSERT(*slot == e);
    if (is_own(e)) {
        kve_cache_mem_obj_t **pslot = s->pbuckets + pbucket_of(s, e->primary);
        while (*pslot != e)
            pslot = &(*pslot)->_pchain;
        *pslot = e->_pchain;
    }
    *slot = e->_chain;
    h2o_linklist_unlink(&e->_lru);
    e->_linked = 0;
    s->count--;
    s->bytes -= e->_charge;
    s->evictions++;
    e->_chain = *dead;
    *dead = e;
}

static void release_dead(kve_cache_mem_obj_t *dead)
{
    while (dead != NULL) {
        kve_cache_mem_obj_t *next = dead->_chain;
        kve_cache_mem_release(dead);
        dead = next;
    }
}

static void touch(shard_t *s, kve_cache_mem_obj_t *e)
{
    if (s->lru.next != &e->_lru) {
        h2o_linklist_unlink(&e->_lru);
        h2o_linklist_insert(s->lru.next, &e->_lru);
    }
}

/* what `obj` does to the entry `old` at its key, and whether it goes in (under the lock) */
static int may_replace(const kve_cache_mem_obj_t *obj, const kve_cache_mem_obj_t *old)
{
    /* the same index is kept (its variants stay reachable) */
    return !(old != NULL && obj->is_index && old->is_index && memcmp(obj->gen, old->gen, KVE_CACHE_ID_LEN) == 0 &&
             h2o_memis(obj->vary.base, obj->vary.len, old->vary.base, old->vary.len));
}

static int insert_locked(kve_cache_mem_t *m, shard_t *s, kve_cache_mem_obj_t *obj, uint64_t epoch, kve_cache_mem_obj_t **dead)
{
    int is_variant = !is_own(obj);
    kve_cache_mem_obj_t **slot, *index = NULL;

    if (!atomic_load_explicit(&m->live, memory_order_acquire) || atomic_load_explicit(&m->epoch, memory_order_acquire) != epoch ||
        obj->_charge > s->budget)
        return -1;
    if (is_variant) {
        index = *find_slot(s, &obj->key, &own);
        if (index == NULL || !index->is_index || memcmp(index->gen, obj->gen, KVE_CACHE_ID_LEN) != 0)
            return -1;
    }
    slot = find_slot(s, &obj->key, &obj->variant);
    if (!may_replace(obj, *slot))
        return -1;
    if (*slot != NULL)
        unlink_entry(s, *slot, dead);
    if (s->count >= s->num_buckets)
        grow(s);
    slot = s->buckets + bucket_of(s, obj->key.hash, &obj->variant);
    obj->_chain = *slot;
    *slot = obj;
    if (!is_variant) {
        /* (several keys may have one primary key: forms of one URL that normalise to one key) */
        slot = s->pbuckets + pbucket_of(s, obj->primary);
        obj->_pchain = *slot;
        *slot = obj;
    }
    obj->_tier = m;
    obj->_linked = 1;
    h2o_linklist_insert(s->lru.next, &obj->_lru);
    if (index != NULL) {
        obj->_index = index;
        obj->_variants = (h2o_linklist_t){NULL, NULL}; /* a variant's is a node in its index's list, not an anchor */
        h2o_linklist_insert(&index->_variants, &obj->_variants);
        touch(s, index);
        touch(s, obj);
    }
    s->count++;
    s->bytes += obj->_charge;
    s->inserts++;
    while (s->bytes > s->budget && s->lru.prev != &obj->_lru)
        unlink_entry(s, H2O_STRUCT_FROM_MEMBER(kve_cache_mem_obj_t, _lru, s->lru.prev), dead);
    return 0;
}

int kve_cache_mem_insert(kve_cache_mem_t *m, kve_cache_mem_obj_t *obj, uint64_t epoch)
{
    shard_t *s = shard_of(m, obj->key.hash);
    kve_cache_mem_obj_t *dead = NULL;
    int ret;

    pthread_mutex_lock(&s->mutex);
    ret = insert_locked(m, s, obj, epoch, &dead);
    pthread_mutex_unlock(&s->mutex);
    release_dead(dead);
    if (ret != 0)
        kve_cache_mem_release(obj);
    return ret;
}

kve_cache_mem_obj_t *kve_cache_mem_lookup(kve_cache_mem_t *m, const kve_cache_mem_key_t *key, const kve_cache_mem_key_t *variant)
{
    shard_t *s = shard_of(m, key->hash);
    kve_cache_mem_obj_t *e;

    pthread_mutex_lock(&s->mutex);
    e = *find_slot(s, key, variant != NULL ? variant : &own);
    if (e != NULL) {
        touch(s, e);
        atomic_fetch_add_explicit(&e->_refs, 1, memory_order_relaxed);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mutex);
    return e;
}

uint64_t kve_cache_mem_epoch(kve_cache_mem_t *m)
{
    return atomic_load_explicit(&m->epoch, memory_order_acquire);
}

void kve_cache_mem_evict_primary(kve_cache_mem_t *m, const uint8_t primary[KVE_CACHE_HASH_LEN])
{
    /* before the locks: an insert that takes a lock after this sees the new epoch (see insert_locked) */
    atomic_fetch_add_explicit(&m->epoch, 1, memory_order_acq_rel);
    for (size_t i = 0; i != KVE_CACHE_MEM_SHARDS; ++i) {
        shard_t *s = m->shards + i;
        kve_cache_mem_obj_t *dead = NULL, *e;
        pthread_mutex_lock(&s->mutex);
        while ((e = *pfind_slot(s, primary)) != NULL)
            unlink_entry(s, e, &dead);
        pthread_mutex_unlock(&s->mutex);
        release_dead(dead);
    }
}

void kve_cache_mem_evict_all(kve_cache_mem_t *m)
{
    atomic_fetch_add_explicit(&m->epoch, 1, memory_order_acq_rel);
    for (size_t i = 0; i != KVE_CACHE_MEM_SHARDS; ++i) {
        shard_t *s = m->shards + i;
        kve_cache_mem_obj_t *dead = NULL;
        pthread_mutex_lock(&s->mutex);
        while (!h2o_linklist_is_empty(&s->lru))
            unlink_entry(s, H2O_STRUCT_FROM_MEMBER(kve_cache_mem_obj_t, _lru, s->lru.prev), &dead);
        pthread_mutex_unlock(&s->mutex);
        release_dead(dead);
    }
}

void kve_cache_mem_set_live(kve_cache_mem_t *m, int live)
{
    atomic_store_explicit(&m->live, live, memory_order_release);
    if (!live)
        kve_cache_mem_evict_all(m);
}

void kve_cache_mem_get_stats(kve_cache_mem_t *m, kve_cache_mem_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->budget = m->budget;
    for (size_t i = 0; i != KVE_CACHE_MEM_SHARDS; ++i) {
        shard_t *s = m->shards + i;
        pthread_mutex_lock(&s->mutex);
        out->bytes += s->bytes;
        out->objects += s->count;
        out->hits += s->hits;
        out->misses += s->misses;
        out->inserts += s->inserts;
        out->evictions += s->evictions;
        pthread_mutex_unlock(&s->mutex);
    }
}

void kve_cache_mem_destroy(kve_cache_mem_t *m)
{
    if (m == NULL)
        return;
    kve_cache_mem_evict_all(m);
    for (size_t i = 0; i != KVE_CACHE_MEM_SHARDS; ++i) {
        pthread_mutex_destroy(&m->shards[i].mutex);
        free(m->shards[i].buckets);
        free(m->shards[i].pbuckets);
    }
    free(m);
}
