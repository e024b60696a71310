/* SPDX-License-Identifier: MIT */
/* The sync-token counter kept sane (see kv_sync.h). */
#include "handlers/kv_sync.h"

/* Lua numbers are doubles: exact up to 2^53, which is all a plausible count needs; a larger value is never
 * compared as lower than a floor (floors are at most KVE_SYNC_MAX), so it is left alone and reported */
const char kve_sync_raise_script[] = "local n = tonumber(ARGV[1])\n"
                                     "local v = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                                     "if v ~= nil and v < n then redis.call('SET', KEYS[1], ARGV[1]) end\n"
                                     "return redis.call('GET', KEYS[1])\n";

/* a decimal count without sign, leading zero or more digits than KVE_SYNC_MAX has */
static int parse_count(const char *s, size_t len, uint64_t *v)
{
    size_t i;
    if (len == 0 || len > 16 || s[0] == '0')
        return 0;
    for (*v = 0, i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (uint64_t)(s[i] - '0');
    }
    return 1;
}

int kve_sync_value(const kve_kv_reply_t *reply, uint64_t *v)
{
    if (reply->type == KVE_REPLY_INTEGER) {
        if (reply->integer <= 0)
            return 0;
        *v = (uint64_t)reply->integer;
    } else if (reply->type != KVE_REPLY_STRING || !parse_count(reply->str, reply->len, v)) {
        return 0;
    }
    return *v <= KVE_SYNC_MAX;
}

uint64_t kve_sync_seen(kve_sync_state_t *state)
{
    return __atomic_load_n(&state->seen, __ATOMIC_RELAXED);
}

uint64_t kve_sync_floor(kve_sync_state_t *state, uint64_t client)
{
    uint64_t seen = kve_sync_seen(state);
    return client > seen && client <= KVE_SYNC_MAX && client - seen <= ((uint64_t)1 << 32) ? client : seen;
}

void kve_sync_note(kve_sync_state_t *state, uint64_t v)
{
    uint64_t cur = __atomic_load_n(&state->seen, __ATOMIC_RELAXED);
    while (v > cur && !__atomic_compare_exchange_n(&state->seen, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    if (__atomic_load_n(&state->warned, __ATOMIC_RELAXED) != 0)
        __atomic_store_n(&state->warned, 0, __ATOMIC_RELAXED);
}

int kve_sync_should_warn(kve_sync_state_t *state, const char *condition, size_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    size_t i;
    for (i = 0; i != len; ++i)
        h = (h ^ (unsigned char)condition[i]) * 1099511628211ULL;
    h |= 1; /* never 0, which means "nothing warned" */
    return __atomic_exchange_n(&state->warned, h, __ATOMIC_RELAXED) != h;
}

int kve_sync_should_log_raise(kve_sync_state_t *state, uint64_t floor)
{
    uint64_t cur = __atomic_load_n(&state->raised, __ATOMIC_RELAXED);
    while (floor > cur)
        if (__atomic_compare_exchange_n(&state->raised, &cur, floor, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return 1;
    return 0;
}
