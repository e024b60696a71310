/* SPDX-License-Identifier: MIT */
/* The fake KV driver of the conformance suite (see kv_fake.c): reorders, delays and fails replies. */
#ifndef KVE_TESTS_UNIT_KV_FAKE_H
#define KVE_TESTS_UNIT_KV_FAKE_H

#include "h2o.h"
#include "proxy/kv.h"

typedef struct st_kve_kv_fake_stats_t {
    size_t sent, completed, atomic, syncs, timeouts_counted;
} kve_kv_fake_stats_t;

/** A link to a fresh in-memory store on `loop`, up at once. */
kve_kv_t *kve_kv_fake_create(h2o_loop_t *loop, uint64_t default_timeout_ms);
/** What the driver saw. */
void kve_kv_fake_get_stats(kve_kv_t *kv, kve_kv_fake_stats_t *out);
/** While set, the driver refuses to send (as a link that is down). */
void kve_kv_fake_refuse_sends(kve_kv_t *kv, int refuse);

#endif
