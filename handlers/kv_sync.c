/* SPDX-License-Identifier: MIT */
/* Sync tokens from the store's replication offset and a per-process sequence (see kv_sync.h). */
#include "handlers/kv_sync.h"

int kve_sync_parse(const char *s, size_t len, uint64_t *v)
{
    size_t i;
    if (len == 0 || len > 19)
        return 0;
    for (*v = 0, i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (uint64_t)(s[i] - '0');
    }
    return 1;
}

uint64_t kve_sync_seen(kve_sync_state_t *state)
{
    return __atomic_load_n(&state->last, __ATOMIC_ACQUIRE);
}

static int plausible(uint64_t client, uint64_t seen)
{
    return client > seen && client - seen <= KVE_SYNC_CLIENT_SLACK && client != UINT64_MAX;
}

/* the highest token handed out becomes at least `v` */
static void raise_last(kve_sync_state_t *state, uint64_t v)
{
    uint64_t cur = __atomic_load_n(&state->last, __ATOMIC_ACQUIRE);
    while (cur < v && !__atomic_compare_exchange_n(&state->last, &cur, v, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        ;
}

uint64_t kve_sync_issue(kve_sync_state_t *state, uint64_t offset, uint64_t client)
{
    uint64_t cur = __atomic_load_n(&state->last, __ATOMIC_ACQUIRE), next;

    if (offset != 0) {
        /* a replication offset: the writes' own position (the caller answers max(it, the client's token)) */
        raise_last(state, offset);
        return offset;
    }
    do
        next = cur + 1;
    while (!__atomic_compare_exchange_n(&state->last, &cur, next, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return plausible(client, cur) && client + 1 > next ? client + 1 : next;
}
