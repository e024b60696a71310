/* SPDX-License-Identifier: MIT */
/*
 * A fake KV driver that checks what a Redis Cluster does with slots (see kv_slot_fake.c): it records every command it
 * is sent (its name, its slot by kve_cmd_route(), the batch's flags and a sequence number of its batch), refuses an
 * atomic batch whose commands' keys are in more than one slot (KVE_EABORTED with the CROSSSLOT abort reply) and a
 * command whose keys are (a CROSSSLOT error reply), as the cluster driver does (docs/scale-out.md), and answers every
 * other command "+OK" from a 1 ms timer, in order. Made sharded or not (kve_kv_is_sharded) by the test.
 */
#ifndef KVE_TESTS_UNIT_KV_SLOT_FAKE_H
#define KVE_TESTS_UNIT_KV_SLOT_FAKE_H

#include "h2o.h"
#include "proxy/kv.h"

#define KVE_SLOT_FAKE_MAX 256

typedef struct st_kve_slot_fake_cmd_t {
    char name[16];
    int slot;       /* KVE_SLOT_NONE, KVE_SLOT_CROSS or a slot */
    unsigned flags; /* its batch's KVE_KV_BATCH_* */
    unsigned batch; /* 1, 2, ...: the batch it came in (in the order batches were first sent) */
    int refused;    /* answered CROSSSLOT (itself, or its atomic batch) */
} kve_slot_fake_cmd_t;

typedef struct st_kve_slot_fake_log_t {
    kve_slot_fake_cmd_t cmds[KVE_SLOT_FAKE_MAX];
    size_t n;
    unsigned batches;
} kve_slot_fake_log_t;

/** A link on `loop`, up at once; `sharded`: kve_kv_is_sharded() says so. */
kve_kv_t *kve_slot_fake_create(h2o_loop_t *loop, int sharded);
/** What it was sent so far (valid while the link lives). */
const kve_slot_fake_log_t *kve_slot_fake_log(kve_kv_t *kv);
/** While set, SADD gets an error reply (a set entry that failed). */
void kve_slot_fake_fail_sadd(kve_kv_t *kv, int fail);
/** Commands sent and not answered yet. */
size_t kve_slot_fake_pending(kve_kv_t *kv);

#endif
