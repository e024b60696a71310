/* SPDX-License-Identifier: MIT */
/* The slot-checking fake KV driver (see kv_slot_fake.h). */
#include "kv_slot_fake.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_route.h"

#include <string.h>
#include <strings.h>

#define MAX_PENDING 256
static const char crossslot[] = "CROSSSLOT Keys in request don't hash to the same slot";

/* one entry per op sent; an atomic batch's ops are consecutive, `refused` set on each when it spans slots */
typedef struct st_pending_t {
    kve_kv_op_t *op;
    int refused, error;
} pending_t;

typedef struct st_slot_fake_t {
    kve_kv_t super;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    pending_t pending[MAX_PENDING];
    size_t num_pending;
    kve_slot_fake_log_t log;
    kve_kv_batch_t *last_batch;
    int fail_sadd;
} slot_fake_t;

static int slot_of(const kve_kv_command_t *cmd)
{
    kve_cmd_route_t route;
    KVE_ASSERT(kve_cmd_route(cmd->argc, cmd->argv, cmd->argvlen, 0, &route) == 0);
    return route.slot;
}

/* records the op and returns its slot */
static int record(slot_fake_t *f, kve_kv_op_t *op)
{
    kve_slot_fake_cmd_t *c;
    KVE_ASSERT(f->log.n != KVE_SLOT_FAKE_MAX && f->num_pending != MAX_PENDING);
    if (op->batch != f->last_batch)
        f->last_batch = op->batch, ++f->log.batches;
    c = f->log.cmds + f->log.n++;
    memset(c, 0, sizeof(*c));
    memcpy(c->name, op->cmd->argv[0], KVE_MIN(op->cmd->argvlen[0], sizeof(c->name) - 1));
    c->slot = slot_of(op->cmd);
    c->flags = op->batch->flags;
    c->batch = f->log.batches;
    return c->slot;
}

static void arm(slot_fake_t *f)
{
    if (!h2o_timeout_is_linked(&f->tick_entry))
        h2o_timeout_link(f->super.loop, &f->tick, &f->tick_entry);
}

static void complete(pending_t p, int fail)
{
    kve_kv_reply_t ok = {.type = KVE_REPLY_STATUS, .len = 2, .str = (char *)"OK"};
    kve_kv_reply_t err = {.type = KVE_REPLY_ERROR, .len = sizeof(crossslot) - 1, .str = (char *)crossslot};
    kve_kv_reply_t failed = {.type = KVE_REPLY_ERROR, .len = 8, .str = (char *)"ERR fail"};
    kve_kv_op_t *op = p.op;

    if (fail)
        kve_kv__complete(op, KVE_ECONN, NULL);
    else if (p.refused && (op->batch->flags & KVE_KV_BATCH_ATOMIC) != 0)
        kve_kv__complete(op, KVE_EABORTED, NULL);
    else
        kve_kv__complete(op, 0, p.refused ? &err : p.error ? &failed : &ok);
}

/* answers everything sent so far, in order (callbacks may send more: answered on the next tick) */
static void on_tick(h2o_timeout_entry_t *entry)
{
    slot_fake_t *f = H2O_STRUCT_FROM_MEMBER(slot_fake_t, tick_entry, entry);
    size_t n = f->num_pending, i;
    pending_t due[MAX_PENDING];

    memcpy(due, f->pending, n * sizeof(due[0]));
    f->num_pending = 0;
    for (i = 0; i != n; ++i)
        complete(due[i], 0);
    if (f->num_pending != 0)
        arm(f);
}

static void push(slot_fake_t *f, kve_kv_op_t *op, int refused)
{
    f->pending[f->num_pending].op = op;
    f->pending[f->num_pending].refused = refused;
    f->pending[f->num_pending].error = f->fail_sadd && op->cmd->argvlen[0] == 4 && strncasecmp(op->cmd->argv[0], "SADD", 4) == 0;
    ++f->num_pending;
    arm(f);
}

static int fake_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    slot_fake_t *f = (void *)kv;
    int slot = record(f, op);
    if (slot == KVE_SLOT_CROSS)
        f->log.cmds[f->log.n - 1].refused = 1;
    push(f, op, slot == KVE_SLOT_CROSS);
    return 0;
}

static int fake_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    slot_fake_t *f = (void *)kv;
    int slot = KVE_SLOT_NONE, refused = 0;
    size_t i;

    for (i = 0; i != n; ++i) {
        int s = record(f, ops + i);
        if (s == KVE_SLOT_CROSS || (s != KVE_SLOT_NONE && slot != KVE_SLOT_NONE && s != slot))
            refused = 1;
        if (s != KVE_SLOT_NONE && slot == KVE_SLOT_NONE)
            slot = s;
    }
    if (refused) {
        kve_kv_reply_t why = {.type = KVE_REPLY_ERROR, .len = sizeof(crossslot) - 1, .str = (char *)crossslot};
        kve_kv__set_abort_reply(ops[0].batch, &why);
        for (i = 0; i != n; ++i)
            f->log.cmds[f->log.n - n + i].refused = 1;
    }
    for (i = 0; i != n; ++i)
        push(f, ops + i, refused);
    return 0;
}

static void fake_on_timeout(kve_kv_t *kv)
{
}

static void fake_on_reply(kve_kv_t *kv)
{
}

static void fake_destroy(kve_kv_t *kv)
{
    slot_fake_t *f = (void *)kv;
    for (size_t i = 0; i != f->num_pending; ++i)
        complete(f->pending[i], 1);
    f->num_pending = 0;
    if (h2o_timeout_is_linked(&f->tick_entry))
        h2o_timeout_unlink(&f->tick_entry);
    h2o_timeout_dispose(kv->loop, &f->tick);
    kve_kv__dispose(kv);
    free(f);
}

static kve_kv_stream_t *fake_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                         kve_kv_stream_cb cb, void *data, int *err)
{
    *err = KVE_EINVAL;
    return NULL;
}

static void fake_stream_close(kve_kv_stream_t *stream)
{
}

static const kve_kv_driver_t slot_fake_driver = {.name = "slot-fake",
                                                 .send = fake_send,
                                                 .send_atomic = fake_send_atomic,
                                                 .on_timeout = fake_on_timeout,
                                                 .on_reply = fake_on_reply,
                                                 .destroy = fake_destroy,
                                                 .stream_open = fake_stream_open,
                                                 .stream_close = fake_stream_close};

kve_kv_t *kve_slot_fake_create(h2o_loop_t *loop, int sharded)
{
    slot_fake_t *f = kve_zalloc(sizeof(*f));
    kve_kv__init(&f->super, &slot_fake_driver, loop, 5000);
    if (sharded)
        kve_kv__set_sharded(&f->super);
    h2o_timeout_init(loop, &f->tick, 1);
    f->tick_entry.cb = on_tick;
    kve_kv__set_state(&f->super, KVE_KV_UP);
    return &f->super;
}

const kve_slot_fake_log_t *kve_slot_fake_log(kve_kv_t *kv)
{
    return &((slot_fake_t *)kv)->log;
}

void kve_slot_fake_fail_sadd(kve_kv_t *kv, int fail)
{
    ((slot_fake_t *)kv)->fail_sadd = fail;
}

size_t kve_slot_fake_pending(kve_kv_t *kv)
{
    return ((slot_fake_t *)kv)->num_pending;
}
