/* SPDX-License-Identifier: MIT */
/* Active sessions: per-thread, per-minute HyperLogLog sketches of the sessions seen (see session_active.h). */
#include "handlers/session_active.h"
#include "proxy/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS (KVE_SESSION_ACTIVE_MINUTES + 1)

typedef struct st_slot_t {
    /** the minute (Unix time / 60) + 1 the registers are of; 0: never used */
    uint64_t minute;
    uint8_t regs[KVE_SESSION_ACTIVE_KINDS][KVE_SESSION_ACTIVE_REGS];
} slot_t;

typedef struct st_sketch_t {
    slot_t slots[SLOTS];
} sketch_t;

struct st_kve_session_active_t {
    /** per thread (its index), allocated by that thread on its first note (a release store; readers acquire) */
    sketch_t *threads[KVE_SESSION_ACTIVE_MAX_THREADS];
};

kve_session_active_t *kve_session_active_new(void)
{
    return kve_zalloc(sizeof(kve_session_active_t));
}

void kve_session_active_free(kve_session_active_t *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i != KVE_SESSION_ACTIVE_MAX_THREADS; ++i)
        free(a->threads[i]);
    free(a);
}

/* 64 well-mixed bits of the first 16 hex digits (64 bits of SHA-256 output): the two 8-byte words folded and put
 * through MurmurHash3's 64-bit finaliser, a dozen instructions (parsing the digits one by one cost ~200) */
static uint64_t first_bits(const char *hex)
{
    uint64_t a, b, x;
    memcpy(&a, hex, 8);
    memcpy(&b, hex + 8, 8);
    x = a * 0x9e3779b97f4a7c15ull ^ b;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ x >> 33;
}

void kve_session_active_note(kve_session_active_t *a, size_t thread, const char *hash_hex, int logged_in, uint64_t now_s)
{
    uint64_t minute = now_s / 60 + 1, x = first_bits(hash_hex), w = x << KVE_SESSION_ACTIVE_P;
    uint8_t rank = w == 0 ? 64 - KVE_SESSION_ACTIVE_P + 1 : (uint8_t)(__builtin_clzll(w) + 1), *reg;
    sketch_t *s;
    slot_t *slot;

    if (a == NULL || thread >= KVE_SESSION_ACTIVE_MAX_THREADS)
        return;
    if ((s = a->threads[thread]) == NULL) {
        s = kve_zalloc(sizeof(*s));
        __atomic_store_n(&a->threads[thread], s, __ATOMIC_RELEASE);
    }
    slot = s->slots + minute % SLOTS;
    if (__atomic_load_n(&slot->minute, __ATOMIC_RELAXED) != minute) { /* a new minute: this slot's old one left the window */
        for (size_t k = 0; k != KVE_SESSION_ACTIVE_KINDS; ++k)
            for (size_t i = 0; i != KVE_SESSION_ACTIVE_REGS; ++i)
                __atomic_store_n(&slot->regs[k][i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->minute, minute, __ATOMIC_RELEASE);
    }
    reg = &slot->regs[logged_in ? KVE_SESSION_ACTIVE_LOGGED_IN : KVE_SESSION_ACTIVE_ANONYMOUS][x >> (64 - KVE_SESSION_ACTIVE_P)];
    if (__atomic_load_n(reg, __ATOMIC_RELAXED) < rank)
        __atomic_store_n(reg, rank, __ATOMIC_RELAXED);
}

void kve_session_active_merge(const kve_session_active_t *a, uint64_t now_s, kve_session_active_sum_t *sum)
{
    uint64_t minute = now_s / 60 + 1;
    for (size_t t = 0; t != KVE_SESSION_ACTIVE_MAX_THREADS; ++t) {
        const sketch_t *s = __atomic_load_n(&a->threads[t], __ATOMIC_ACQUIRE);
        if (s == NULL)
            continue;
        for (size_t j = 0; j != SLOTS; ++j) {
            const slot_t *slot = s->slots + j;
            uint64_t m = __atomic_load_n(&slot->minute, __ATOMIC_ACQUIRE);
            /* a slot of the next minute too: another thread's clock (h2o's per-loop timestamp) may be a moment ahead */
            if (m == 0 || m > minute + 1 || m + KVE_SESSION_ACTIVE_MINUTES <= minute)
                continue;
            for (size_t k = 0; k != KVE_SESSION_ACTIVE_KINDS; ++k)
                for (size_t i = 0; i != KVE_SESSION_ACTIVE_REGS; ++i) {
                    uint8_t r = __atomic_load_n(&slot->regs[k][i], __ATOMIC_RELAXED);
                    if (r > sum->regs[k][i])
                        sum->regs[k][i] = r;
                }
        }
    }
}

double kve_session_active_estimate(const uint8_t *regs)
{
    const double m = KVE_SESSION_ACTIVE_REGS, alpha = 0.7213 / (1 + 1.079 / m);
    double z = 0, e;
    size_t zeros = 0;
    for (size_t i = 0; i != KVE_SESSION_ACTIVE_REGS; ++i) {
        z += ldexp(1.0, -(int)regs[i]);
        zeros += regs[i] == 0;
    }
    e = alpha * m * m / z;
    if (e <= 2.5 * m && zeros != 0) /* small range: linear counting */
        e = m * log(m / (double)zeros);
    return e;
}
