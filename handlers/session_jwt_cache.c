/* SPDX-License-Identifier: MIT */
/* The per-thread session JWT cache (see session_jwt_cache.h). */
#include "handlers/session_jwt_cache.h"
#include "handlers/session_cookie.h"
#include "handlers/session_jwt.h"
#include "proxy/common.h"

#include <stdlib.h>
#include <string.h>

typedef struct st_entry_t {
    char pid[KVE_SESSION_PID_SIZE];
    int64_t ver;
    /** reuse while now < until (seconds) */
    int64_t until;
    char *token;
    size_t len;
} entry_t;

struct st_kve_jwt_cache_t {
    size_t mask;
    uint64_t hits, misses;
    entry_t entries[];
};

kve_jwt_cache_t *kve_jwt_cache_new(size_t entries)
{
    size_t n = 1;
    kve_jwt_cache_t *cache;

    while (n <= entries / 2)
        n *= 2;
    cache = kve_zalloc(sizeof(*cache) + n * sizeof(entry_t));
    cache->mask = n - 1;
    return cache;
}

void kve_jwt_cache_free(kve_jwt_cache_t *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i <= cache->mask; ++i)
        free(cache->entries[i].token);
    free(cache);
}

/* the public id is hex of an HMAC: its first 8 digits are as good as any hash */
static entry_t *slot_of(kve_jwt_cache_t *cache, const char *pid)
{
    size_t h = 0;
    for (size_t i = 0; i != 8 && pid[i] != '\0'; ++i)
        h = h * 16 + (size_t)(pid[i] <= '9' ? pid[i] - '0' : (pid[i] | 0x20) - 'a' + 10);
    return cache->entries + (h & cache->mask);
}

h2o_iovec_t kve_jwt_cache_get(kve_jwt_cache_t *cache, const char *pid, int64_t ver, int64_t now)
{
    entry_t *e = slot_of(cache, pid);
    if (e->token == NULL || e->ver != ver || now >= e->until || strcmp(e->pid, pid) != 0) {
        ++cache->misses;
        return h2o_iovec_init(NULL, 0);
    }
    ++cache->hits;
    return h2o_iovec_init(e->token, e->len);
}

void kve_jwt_cache_put(kve_jwt_cache_t *cache, const char *pid, int64_t ver, int64_t iat, int64_t ttl_sec, const char *token,
                       size_t len)
{
    entry_t *e = slot_of(cache, pid);
    int64_t until = iat + ttl_sec * 4 / 5;

    if (until <= iat || len > KVE_SESSION_JWT_MAX || strlen(pid) >= sizeof(e->pid))
        return;
    free(e->token);
    strcpy(e->pid, pid);
    e->ver = ver;
    e->until = until;
    e->token = kve_malloc(len + 1);
    memcpy(e->token, token, len);
    e->token[len] = '\0';
    e->len = len;
}

void kve_jwt_cache_stats(const kve_jwt_cache_t *cache, uint64_t *hits, uint64_t *misses)
{
    *hits = cache->hits;
    *misses = cache->misses;
}
