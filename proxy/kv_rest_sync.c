/* SPDX-License-Identifier: MIT */
/* The shared upstash-sync-token of a KV REST store (see kv_rest_sync.h). */
#include "proxy/kv_rest_sync.h"
#include "proxy/common.h"

#include <string.h>

void kve_kv_rest_sync_init(kve_kv_rest_sync_t *sync)
{
    memset(sync, 0, sizeof(*sync));
    KVE_ASSERT(pthread_mutex_init(&sync->mutex, NULL) == 0);
}

void kve_kv_rest_sync_dispose(kve_kv_rest_sync_t *sync)
{
    pthread_mutex_destroy(&sync->mutex);
}

void kve_kv_rest_sync_take(kve_kv_rest_sync_t *sync, const char *v, size_t len)
{
    uint64_t n = 0;
    size_t i;

    if (len == 0 || len >= sizeof(sync->raw))
        return;
    for (i = 0; i != len && i < 19 && v[i] >= '0' && v[i] <= '9'; ++i)
        n = n * 10 + (uint64_t)(v[i] - '0');
    pthread_mutex_lock(&sync->mutex);
    if (i == len) {
        if (sync->numeric && n <= sync->value) {
            pthread_mutex_unlock(&sync->mutex);
            return;
        }
        sync->numeric = 1, sync->value = n;
    } else {
        sync->numeric = 0;
    }
    memcpy(sync->raw, v, len);
    sync->raw[len] = '\0';
    pthread_mutex_unlock(&sync->mutex);
}

size_t kve_kv_rest_sync_get(kve_kv_rest_sync_t *sync, char *buf, int *numeric, uint64_t *value)
{
    size_t len;

    pthread_mutex_lock(&sync->mutex);
    len = strlen(sync->raw);
    memcpy(buf, sync->raw, len + 1);
    if (numeric != NULL)
        *numeric = sync->numeric;
    if (value != NULL)
        *value = sync->value;
    pthread_mutex_unlock(&sync->mutex);
    return len;
}
