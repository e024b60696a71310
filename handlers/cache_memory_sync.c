/* SPDX-License-Identifier: MIT */
/*
 * The memory tiers' registry and their coherence across instances (see cache_memory_sync.h): one subscription per
 * store with memory routes, owned by the worker thread that opened it; messages evict; evictions publish.
 */
#include "handlers/cache_memory_sync.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { SYNC_IDLE = 0, SYNC_RUNNING, SYNC_CLOSED };

typedef struct st_store_sync_t {
    size_t store_id;
    /** the configuration generation its routes belong to: each has its own subscription, owned by one of its threads */
    unsigned generation;
    _Atomic int state;
    /* the owner thread's (set when it starts) */
    kve_thread_t *owner;
    kve_kv_stream_t *stream;
    int subscribed;
    int warned; /* the outage was logged */
    h2o_timeout_entry_t retry;
    kve_drain_watcher_t drain;
    size_t num_routes;
    struct st_store_sync_t *next;
} store_sync_t;

struct st_kve_cache_mem_route_t {
    const kve_cache_conf_t *conf;
    h2o_iovec_t path;
    kve_cache_mem_t *mem;
    store_sync_t *sync;
    struct st_kve_cache_mem_route_t *next;
};

/*
 * Written at configuration time and at dispose, on the main thread, read by workers. A reload registers the new
 * configuration's routes and disposes of the old one's while workers of both serve: the lock covers every walk.
 */
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static kve_cache_mem_route_t *routes;
static store_sync_t *syncs;
static unsigned registering_generation;

static void set_live(store_sync_t *sync, int live)
{
    pthread_rwlock_rdlock(&lock);
    for (kve_cache_mem_route_t *r = routes; r != NULL; r = r->next)
        if (r->sync == sync)
            kve_cache_mem_set_live(r->mem, live);
    pthread_rwlock_unlock(&lock);
}

/* --- messages --- */

/* lower-case hex only (what kve_cache_mem_evict_key writes) */
static int unhex(const char *p, uint8_t *out, size_t n)
{
    for (size_t i = 0; i != 2 * n; ++i) {
        int v = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        out[i / 2] = (uint8_t)(i % 2 == 0 ? v << 4 : out[i / 2] | v);
    }
    return 0;
}

/* under the lock (read) */
static int apply_message(size_t store_id, const char *msg, size_t len)
{
    uint8_t primary[KVE_CACHE_HASH_LEN];

    if (len == 1 && msg[0] == 'a') {
        for (kve_cache_mem_route_t *r = routes; r != NULL; r = r->next)
            if (r->conf->store_id == store_id)
                kve_cache_mem_evict_all(r->mem);
        return 0;
    }
    if (len == 2 + KVE_CACHE_HASH_HEX && memcmp(msg, "k ", 2) == 0 && unhex(msg + 2, primary, KVE_CACHE_HASH_LEN) == 0) {
        for (kve_cache_mem_route_t *r = routes; r != NULL; r = r->next)
            if (r->conf->store_id == store_id)
                kve_cache_mem_evict_primary(r->mem, primary);
        return 0;
    }
    if (len > 2 && memcmp(msg, "r ", 2) == 0) {
        for (kve_cache_mem_route_t *r = routes; r != NULL; r = r->next)
            if (r->conf->store_id == store_id && h2o_memis(r->path.base, r->path.len, msg + 2, len - 2))
                kve_cache_mem_evict_all(r->mem);
        return 0;
    }
    return -1;
}

int kve_cache_mem_apply_message(size_t store_id, const char *msg, size_t len)
{
    int ret;
    pthread_rwlock_rdlock(&lock);
    ret = apply_message(store_id, msg, len);
    pthread_rwlock_unlock(&lock);
    return ret;
}

static int is_str(const kve_kv_reply_t *r, const char *s)
{
    return r->type == KVE_REPLY_STRING && h2o_memis(r->str, r->len, s, strlen(s));
}

/* --- the subscription (on its owner thread) --- */

static void open_stream(store_sync_t *sync);

static void on_retry(h2o_timeout_entry_t *entry)
{
    store_sync_t *sync = H2O_STRUCT_FROM_MEMBER(store_sync_t, retry, entry);
    if (atomic_load(&sync->state) == SYNC_RUNNING)
        open_stream(sync);
}

static void schedule_retry(store_sync_t *sync)
{
    if (!h2o_timeout_is_linked(&sync->retry))
        h2o_timeout_link(sync->owner->ctx.loop, &sync->owner->ctx.one_sec_timeout, &sync->retry);
}

/* the stream is gone or unusable: nothing may stay in memory that a message could have evicted */
static void lost(store_sync_t *sync, const char *why)
{
    if (!sync->warned) /* once per outage; every retry after it at debug level */
        kve_log(KVE_LOG_WARN, "cache", "memory tier off until the store's channel " KVE_CACHE_MEM_CHANNEL " is subscribed: %s",
                why);
    else
        kve_log(KVE_LOG_DEBUG, "cache", "memory tier: cannot subscribe: %s", why);
    sync->warned = 1;
    sync->subscribed = 0;
    set_live(sync, 0);
    if (sync->stream != NULL)
        kve_kv_stream_close(sync->stream), sync->stream = NULL;
    schedule_retry(sync);
}

static void on_stream(void *data, int err, const kve_kv_reply_t *reply)
{
    store_sync_t *sync = data;

    if (err != 0) {
        lost(sync, kve_strerror(err));
        return;
    }
    if (reply->type != KVE_REPLY_ARRAY || reply->elements != 3) {
        lost(sync, reply->type == KVE_REPLY_ERROR ? reply->str : "unexpected reply");
        return;
    }
    if (is_str(reply->element[0], "subscribe")) {
        sync->subscribed = 1;
        sync->warned = 0;
        set_live(sync, 1);
        kve_log(KVE_LOG_DEBUG, "cache", "memory tier: subscribed to the store's invalidation channel");
    } else if (is_str(reply->element[0], "message") && reply->element[2]->type == KVE_REPLY_STRING) {
        if (kve_cache_mem_apply_message(sync->store_id, reply->element[2]->str, reply->element[2]->len) != 0) {
            /* a message this version cannot read: evicting everything is the safe side */
            kve_log(KVE_LOG_WARN, "cache", "memory tier: unknown invalidation message; evicting everything");
            kve_cache_mem_apply_message(sync->store_id, "a", 1);
        }
    }
}

static void open_stream(store_sync_t *sync)
{
    static const char *const argv[] = {"SUBSCRIBE", KVE_CACHE_MEM_CHANNEL};
    static const size_t argvlen[] = {sizeof("SUBSCRIBE") - 1, sizeof(KVE_CACHE_MEM_CHANNEL) - 1};
    kve_kv_t *kv = kve_thread_link(sync->owner, sync->store_id, 0);
    int err = KVE_EUNAVAIL;

    if (kv != NULL && (sync->stream = kve_kv_stream_open(kv, 2, argv, argvlen, on_stream, sync, &err)) != NULL)
        return;
    if (err == KVE_ENOTSUP) { /* a store without pub/sub (a KV REST store): the tier stays off, no retries */
        kve_log(KVE_LOG_WARN, "cache", "memory tier off: the store cannot carry its invalidation channel (%s)", kve_strerror(err));
        return;
    }
    lost(sync, kve_strerror(err));
}

static void on_drain(kve_drain_watcher_t *w)
{
    store_sync_t *sync = H2O_STRUCT_FROM_MEMBER(store_sync_t, drain, w);

    h2o_linklist_unlink(&w->link);
    atomic_store(&sync->state, SYNC_CLOSED);
    sync->subscribed = 0;
    set_live(sync, 0);
    if (h2o_timeout_is_linked(&sync->retry))
        h2o_timeout_unlink(&sync->retry);
    if (sync->stream != NULL)
        kve_kv_stream_close(sync->stream), sync->stream = NULL;
}

void kve_cache_mem_route_start(kve_cache_mem_route_t *route, kve_thread_t *thread)
{
    store_sync_t *sync = route->sync;
    int idle = SYNC_IDLE;

    /* not from a thread that is draining: its drain watchers have run, nothing would close the stream */
    if (atomic_load_explicit(&sync->state, memory_order_relaxed) != SYNC_IDLE || thread->ctx.shutdown_requested ||
        !atomic_compare_exchange_strong(&sync->state, &idle, SYNC_RUNNING))
        return;
    sync->owner = thread;
    sync->retry.cb = on_retry;
    sync->drain.on_drain = on_drain;
    kve_server_watch_drain(thread, &sync->drain);
    open_stream(sync);
}

/* --- publishing --- */

static void on_publish(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    if (err != 0)
        kve_log(KVE_LOG_DEBUG, "cache", "memory tier: eviction not published: %s", kve_strerror(err));
}

static void publish(kve_thread_t *thread, size_t store_id, const char *msg, size_t len)
{
    const char *argv[] = {"PUBLISH", KVE_CACHE_MEM_CHANNEL, msg};
    size_t argvlen[] = {sizeof("PUBLISH") - 1, sizeof(KVE_CACHE_MEM_CHANNEL) - 1, len};
    kve_kv_t *kv = thread != NULL ? kve_thread_link(thread, store_id, 0) : NULL;
    int err = KVE_EUNAVAIL;

    if (kv == NULL || kve_kv_call(kv, 3, argv, argvlen, NULL, on_publish, NULL, &err) == NULL)
        kve_log(KVE_LOG_DEBUG, "cache", "memory tier: eviction not published: %s", kve_strerror(err));
}

/* under the lock (read) */
static int store_has_memory(size_t store_id)
{
    for (store_sync_t *s = syncs; s != NULL; s = s->next)
        if (s->store_id == store_id)
            return 1;
    return 0;
}

int kve_cache_mem_evict_key_local(size_t store_id, const uint8_t primary[KVE_CACHE_HASH_LEN], char msg[KVE_CACHE_MEM_KEY_MSG_LEN])
{
    static const char digits[] = "0123456789abcdef";

    int has;

    pthread_rwlock_rdlock(&lock);
    if ((has = store_has_memory(store_id))) {
        msg[0] = 'k', msg[1] = ' ';
        for (size_t i = 0; i != KVE_CACHE_HASH_LEN; ++i)
            msg[2 + 2 * i] = digits[primary[i] >> 4], msg[3 + 2 * i] = digits[primary[i] & 15];
        apply_message(store_id, msg, KVE_CACHE_MEM_KEY_MSG_LEN);
    }
    pthread_rwlock_unlock(&lock);
    return has;
}

void kve_cache_mem_evict_key(kve_thread_t *thread, size_t store_id, const uint8_t primary[KVE_CACHE_HASH_LEN])
{
    char msg[KVE_CACHE_MEM_KEY_MSG_LEN];

    if (kve_cache_mem_evict_key_local(store_id, primary, msg))
        publish(thread, store_id, msg, sizeof(msg));
}

void kve_cache_mem_evict_route(kve_thread_t *thread, const kve_cache_conf_t *conf)
{
    char *msg = NULL;
    size_t len = 0;

    pthread_rwlock_rdlock(&lock);
    for (kve_cache_mem_route_t *r = routes; r != NULL; r = r->next) {
        if (r->conf == conf) {
            len = r->path.len + 2;
            msg = h2o_mem_alloc(len);
            msg[0] = 'r', msg[1] = ' ';
            memcpy(msg + 2, r->path.base, r->path.len);
            apply_message(conf->store_id, msg, len);
            break;
        }
    }
    pthread_rwlock_unlock(&lock);
    if (msg != NULL) {
        publish(thread, conf->store_id, msg, len);
        free(msg);
    }
}

void kve_cache_mem_evict_store(kve_thread_t *thread, size_t store_id)
{
    int has;

    pthread_rwlock_rdlock(&lock);
    if ((has = store_has_memory(store_id)))
        apply_message(store_id, "a", 1);
    pthread_rwlock_unlock(&lock);
    if (has)
        publish(thread, store_id, "a", 1);
}

/* --- the registry --- */

void kve_cache_mem_set_generation(unsigned generation)
{
    registering_generation = generation;
}

kve_cache_mem_route_t *kve_cache_mem_route_register(const kve_cache_conf_t *conf, h2o_iovec_t path)
{
    kve_cache_mem_route_t *route = kve_zalloc(sizeof(*route));
    store_sync_t *sync;

    pthread_rwlock_wrlock(&lock);
    for (sync = syncs; sync != NULL && (sync->store_id != conf->store_id || sync->generation != registering_generation);
         sync = sync->next)
        ;
    if (sync == NULL) {
        sync = kve_zalloc(sizeof(*sync));
        sync->store_id = conf->store_id;
        sync->generation = registering_generation;
        atomic_init(&sync->state, SYNC_IDLE);
        sync->next = syncs;
        syncs = sync;
    }
    sync->num_routes++;
    route->conf = conf;
    route->path = path;
    route->mem = kve_cache_mem_create(conf->memory);
    route->sync = sync;
    route->next = routes;
    routes = route;
    pthread_rwlock_unlock(&lock);
    return route;
}

int kve_cache_mem_route_stats(const kve_cache_conf_t *conf, kve_cache_mem_stats_t *out)
{
    int ret = -1;
    pthread_rwlock_rdlock(&lock);
    for (kve_cache_mem_route_t *r = routes; r != NULL; r = r->next) {
        if (r->conf == conf) {
            kve_cache_mem_get_stats(r->mem, out);
            ret = 0;
            break;
        }
    }
    pthread_rwlock_unlock(&lock);
    return ret;
}

kve_cache_mem_t *kve_cache_mem_route_tier(kve_cache_mem_route_t *route)
{
    return route->mem;
}

void kve_cache_mem_route_dispose(kve_cache_mem_route_t *route)
{
    kve_cache_mem_route_t **r;
    store_sync_t **s;

    pthread_rwlock_wrlock(&lock);
    for (r = &routes; *r != NULL && *r != route; r = &(*r)->next)
        ;
    if (*r != NULL)
        *r = route->next;
    if (--route->sync->num_routes == 0) {
        for (s = &syncs; *s != NULL && *s != route->sync; s = &(*s)->next)
            ;
        if (*s != NULL)
            *s = route->sync->next;
        KVE_ASSERT(route->sync->stream == NULL);
        free(route->sync);
    }
    pthread_rwlock_unlock(&lock);
    kve_cache_mem_destroy(route->mem);
    free(route);
}
