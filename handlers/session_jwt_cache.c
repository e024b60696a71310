/* SPDX-License-Identifier: MIT */
/* The per-thread session JWT cache (see session_jwt_cache.h). */
#include "handlers/session_jwt_cache.h"
#include "handlers/session_cookie.h"
#include "handlers/session_jwt.h"
#include "proxy/common.h"

#include <stdlib.h>
#include <string.h>

typedef struct st_entry_t {
    char key[KVE_SESSION_KEY_SIZE];
    int64_t ver;
    /** reuse while now < until (seconds) */
    int64_t until;
    /** token, then its sid and sub, NUL-separated (one allocation); NULL: empty slot */
    char *token;
    size_t len;
    const char *sid, *sub;
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

/* a store key ends in the hex of a SHA-256: its last 8 digits are as good as any hash (other keys: FNV-1a) */
static entry_t *slot_of(kve_jwt_cache_t *cache, const char *key)
{
    size_t len = strlen(key), h = 2166136261u;
    for (size_t i = len > 8 ? len - 8 : 0; i != len; ++i)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return cache->entries + (h & cache->mask);
}

int kve_jwt_cache_get(kve_jwt_cache_t *cache, const char *key, int64_t ver, int64_t now, kve_jwt_cache_hit_t *hit)
{
    entry_t *e = slot_of(cache, key);
    if (e->token == NULL || e->ver != ver || now >= e->until || strcmp(e->key, key) != 0) {
        ++cache->misses;
        return 0;
    }
    ++cache->hits;
    hit->token = h2o_iovec_init(e->token, e->len);
    hit->sid = e->sid;
    hit->sub = e->sub;
    return 1;
}

void kve_jwt_cache_put(kve_jwt_cache_t *cache, const char *key, int64_t ver, int64_t iat, int64_t ttl_sec, const char *token,
                       size_t len, const char *sid, const char *sub)
{
    entry_t *e = slot_of(cache, key);
    int64_t until = iat + ttl_sec * 4 / 5;
    size_t sidlen = sid != NULL ? strlen(sid) : 0, sublen = sub != NULL ? strlen(sub) : 0;
    char *p;

    if (until <= iat || len > KVE_SESSION_JWT_MAX || strlen(key) >= sizeof(e->key) || sidlen > 64 || sublen > KVE_SESSION_UID_MAX)
        return;
    free(e->token);
    strcpy(e->key, key);
    e->ver = ver;
    e->until = until;
    e->token = p = kve_malloc(len + 1 + sidlen + 1 + sublen + 1);
    memcpy(p, token, len);
    p[len] = '\0';
    e->len = len;
    e->sid = p += len + 1;
    memcpy(p, sid != NULL ? sid : "", sidlen + 1);
    e->sub = NULL;
    if (sub != NULL) {
        e->sub = p += sidlen + 1;
        memcpy(p, sub, sublen + 1);
    }
}

void kve_jwt_cache_stats(const kve_jwt_cache_t *cache, uint64_t *hits, uint64_t *misses)
{
    *hits = cache->hits;
    *misses = cache->misses;
}
