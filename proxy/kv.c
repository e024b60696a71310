/* SPDX-License-Identifier: MIT */
/*
 * Driver-neutral half of the KV interface: batches, in-order delivery, per-batch timeouts and counters. A batch
 * holds one op record per command; the driver completes ops in any order, and a result that comes before its
 * turn is copied and held until every earlier index was delivered, so callers always see index order (a driver
 * that answers in order, like Redis on one connection, never pays for the copy). Timeouts use h2o's
 * fixed-duration lists, one per distinct duration (made on first use, any number of them), so linking a batch
 * costs O(1). A batch's memory lives until the driver has given back every op it took, even after its callbacks
 * ran (timeout, cancel), so a late reply always finds valid memory and is dropped (and does not tell the driver
 * the link is healthy). Groups (kv.h) time out together and count once towards the breaker.
 */
#include "proxy/kv.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"
#include "proxy/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { BATCH_LIVE, BATCH_CANCELLED, BATCH_TIMED_OUT, BATCH_DONE };
enum { OP_NOT_SENT, OP_SENT, OP_HELD, OP_DELIVERED };

#define MAX_FREE_BATCHES 1024

void kve_kv__init(kve_kv_t *kv, const kve_kv_driver_t *driver, h2o_loop_t *loop, uint64_t default_timeout_ms)
{
    kv->magic = KVE_KV_MAGIC;
    kv->driver = driver;
    kv->loop = loop;
    kv->default_timeout_ms = default_timeout_ms;
    kv->stats = &kv->own_stats;
    kv->stats->state = KVE_KV_DOWN;
    kv->sharded = 0;
}

void kve_kv__set_sharded(kve_kv_t *kv)
{
    kv->sharded = 1;
}

int kve_kv_is_sharded(const kve_kv_t *kv)
{
    return kv->sharded;
}

void kve_kv__use_stats(kve_kv_t *kv, kve_kv_stats_t *block)
{
    int state = KVE_STAT_GET(kv->stats->state);

    KVE_ASSERT(KVE_STAT_GET(kv->stats->commands) == 0); /* before the link is used */
    kv->stats = block;
    KVE_STAT_SET(block->state, state);
}

/* one-command batches (the hot path) come from a free list; longer ones from malloc */
static kve_kv_batch_t *alloc_batch(kve_kv_t *kv, size_t n)
{
    kve_kv_batch_t *b;
    if (n == 1 && (b = kv->free_batches) != NULL) {
        kv->free_batches = b->driver_next;
        --kv->num_free_batches;
        return b;
    }
    return kve_malloc(offsetof(kve_kv_batch_t, ops) + sizeof(kve_kv_op_t) * KVE_MAX(n, 1));
}

static void free_batch(kve_kv_t *kv, kve_kv_batch_t *b)
{
    b->magic = 0;
    if (b->n != 1 || kv->num_free_batches == MAX_FREE_BATCHES) {
        free(b);
        return;
    }
    b->driver_next = kv->free_batches;
    kv->free_batches = b;
    ++kv->num_free_batches;
}

void kve_kv__dispose(kve_kv_t *kv)
{
    KVE_ASSERT(KVE_STAT_GET(kv->stats->inflight) == 0);
    while (kv->free_batches != NULL) {
        kve_kv_batch_t *next = kv->free_batches->driver_next;
        free(kv->free_batches);
        kv->free_batches = next;
    }
    while (kv->timeouts != NULL) {
        struct st_kve_kv_timeout_class_t *next = kv->timeouts->next;
        h2o_timeout_dispose(kv->loop, &kv->timeouts->timeout);
        free(kv->timeouts);
        kv->timeouts = next;
    }
    kv->magic = 0;
}

h2o_timeout_t *kve_kv__timeout(kve_kv_t *kv, uint64_t ms)
{
    struct st_kve_kv_timeout_class_t *c;
    for (c = kv->timeouts; c != NULL; c = c->next)
        if (c->ms == ms)
            return &c->timeout;
    c = kve_malloc(sizeof(*c));
    c->ms = ms;
    h2o_timeout_init(kv->loop, &c->timeout, ms);
    c->next = kv->timeouts;
    kv->timeouts = c;
    return &c->timeout;
}

/* --- replies kv.c owns (held results, abort reasons) --- */

kve_kv_reply_t *kve_kv__reply_copy(const kve_kv_reply_t *reply)
{
    kve_kv_reply_t *r = kve_malloc(sizeof(*r));
    size_t i;

    *r = *reply;
    r->_mem = 0;
    if (reply->str != NULL) {
        r->str = kve_malloc(reply->len + 1);
        memcpy(r->str, reply->str, reply->len);
        r->str[reply->len] = '\0';
        r->_mem = KVE_KV_REPLY_OWNS_STR;
    }
    if (reply->element != NULL) {
        r->element = kve_malloc(sizeof(*r->element) * reply->elements);
        for (i = 0; i != reply->elements; ++i)
            r->element[i] = kve_kv__reply_copy(reply->element[i]);
    }
    return r;
}

void kve_kv__reply_free(kve_kv_reply_t *r)
{
    size_t i;
    if (r == NULL)
        return;
    if (r->element != NULL) {
        for (i = 0; i != r->elements; ++i)
            kve_kv__reply_free(r->element[i]);
        free(r->element);
    }
    if ((r->_mem & KVE_KV_REPLY_OWNS_STR) != 0)
        free(r->str);
    free(r);
}

char *kve_kv_reply_take_str(const kve_kv_reply_t *_reply, size_t *len)
{
    kve_kv_reply_t *reply = (kve_kv_reply_t *)_reply; /* the callback's reply is the taker's to change */
    char *p;

    *len = reply->len;
    if ((reply->_mem & KVE_KV_REPLY_OWNS_STR) != 0) {
        p = reply->str;
        reply->_mem &= ~KVE_KV_REPLY_OWNS_STR;
    } else {
        p = kve_malloc(reply->len + 1);
        if (reply->len != 0)
            memcpy(p, reply->str, reply->len);
        p[reply->len] = '\0';
    }
    reply->str = (char *)"";
    reply->len = 0;
    return p;
}

/* --- groups: a doubly linked list through the batches whose callbacks are due --- */

static void group_add(kve_kv_group_t *group, kve_kv_batch_t *b)
{
    b->group = group;
    if ((b->group_next = group->_waiting) != NULL)
        b->group_next->group_prev = &b->group_next;
    b->group_prev = &group->_waiting;
    group->_waiting = b;
}

static void group_remove(kve_kv_batch_t *b)
{
    if (b->group == NULL)
        return;
    if ((*b->group_prev = b->group_next) != NULL)
        b->group_next->group_prev = b->group_prev;
    b->group = NULL;
}

/* --- delivery --- */

/* frees `b` once nobody needs it: its callbacks are over and the driver gave back everything it took */
static void maybe_free(kve_kv_batch_t *b)
{
    size_t i;
    if (b->busy != 0 || b->end == BATCH_LIVE || b->with_driver != 0 || b->sync_pending || b->ack_pending)
        return;
    group_remove(b);
    if (h2o_timeout_is_linked(&b->timeout_entry))
        h2o_timeout_unlink(&b->timeout_entry);
    for (i = b->next_deliver; i < b->n; ++i)
        if (b->ops[i].state == OP_HELD)
            kve_kv__reply_free(b->ops[i].held);
    for (i = 0; b->evals && i != b->n; ++i)
        free(b->ops[i].eval);
    for (i = 0; b->driver_copies && i != b->n; ++i)
        free(b->ops[i].driver_copy);
    kve_kv__reply_free(b->abort_reply);
    if (b->redirect_reply != NULL) /* the Redis driver takes it out at EXEC's reply: a safety net, tested inline */
        kve_kv__reply_free(b->redirect_reply);
    free_batch(b->kv, b);
}

/* the callbacks are over (on_done runs now): the group and the timer let go of `b` */
static void finish(kve_kv_batch_t *b, int err)
{
    kve_kv_batch_result_t result = {err != 0 ? err : b->first_err, NULL, b->sync_known, b->sync_offset};

    result.abort_reply = result.err == KVE_EABORTED ? b->abort_reply : NULL;
    b->end = BATCH_DONE;
    group_remove(b);
    if (h2o_timeout_is_linked(&b->timeout_entry))
        h2o_timeout_unlink(&b->timeout_entry);
    if (b->on_done != NULL)
        b->on_done(b->data, &result);
}

/* every result was delivered and the sync position read: on_done now, or once the replicas acknowledged the writes
 * (KVE_KV_BATCH_ACK on a store with min_replicas_ack: kve_kv__ack_done) */
static void end_batch(kve_kv_batch_t *b)
{
    if ((b->flags & KVE_KV_BATCH_ACK) != 0 && !b->ack_asked && b->first_err == 0 && b->kv->driver->ack != NULL) {
        b->ack_asked = 1;
        b->ack_pending = 1;
        if (b->kv->driver->ack(b->kv, b) == 0) {
            /* the driver answers by its own deadline: the batch's timeout no longer applies (all was answered) */
            if (h2o_timeout_is_linked(&b->timeout_entry))
                h2o_timeout_unlink(&b->timeout_entry);
            return;
        }
        b->ack_pending = 0;
    }
    if (!b->ack_pending)
        finish(b, 0);
}

static void deliver(kve_kv_batch_t *b, kve_kv_op_t *op, int err, const kve_kv_reply_t *reply)
{
    op->state = OP_DELIVERED;
    ++b->next_deliver;
    if (err != 0 && err != KVE_ENOTSENT && b->first_err == 0)
        b->first_err = err;
    if (b->on_reply != NULL)
        b->on_reply(b->data, op->index, err, reply);
}

static void ask_sync(kve_kv_batch_t *b)
{
    b->sync_asked = 1;
    if (b->kv->driver->sync == NULL)
        return;
    b->sync_pending = 1;
    b->kv->driver->sync(b->kv, b);
}

/* sends ops while the window allows; a failure to send leaves the rest unsent (they get that error in turn) */
static void send_more(kve_kv_batch_t *b)
{
    kve_kv_t *kv = b->kv;
    int err;

    while (b->next_send != b->n && b->unsent_err == 0 && (b->window == 0 || b->next_send - b->next_deliver < b->window)) {
        kve_kv_op_t *op = b->ops + b->next_send;
        if (op->cmd->script != NULL && op->eval == NULL) {
            op->eval = kve_kv__script_eval(op->cmd); /* kept for a NOSCRIPT: the caller's arguments may go */
            b->evals = 1;
        }
        if ((err = kv->driver->send(kv, op)) != 0) {
            KVE_STAT_ADD(kv->stats->failures, 1);
            b->unsent_err = err;
            break;
        }
        op->state = OP_SENT;
        ++b->next_send;
        ++b->with_driver;
        KVE_STAT_ADD(kv->stats->commands, 1);
        KVE_STAT_ADD(kv->stats->inflight, 1);
    }
    if ((b->next_send == b->n || b->unsent_err != 0) && (b->flags & KVE_KV_BATCH_SYNC) != 0 && !b->sync_asked && b->next_send != 0)
        ask_sync(b);
}

/* delivers what is due in index order (held results, unsent commands), sends more, ends the batch when done */
static void drain(kve_kv_batch_t *b)
{
    ++b->busy;
    while (b->end == BATCH_LIVE && b->next_deliver != b->n) {
        kve_kv_op_t *op = b->ops + b->next_deliver;
        if (op->state == OP_HELD) {
            kve_kv_reply_t *held = op->held;
            deliver(b, op, op->err, held);
            kve_kv__reply_free(held);
        } else if (op->state == OP_NOT_SENT && b->unsent_err != 0) {
            deliver(b, op, b->unsent_err, NULL);
        } else {
            if (op->state == OP_NOT_SENT)
                send_more(b);
            if (op->state == OP_NOT_SENT && b->unsent_err != 0)
                continue;
            break;
        }
    }
    if (b->end == BATCH_LIVE) {
        send_more(b);
        if (b->next_deliver == b->n && !b->sync_pending)
            end_batch(b);
    }
    --b->busy;
    maybe_free(b);
}

/* the store does not have the script an EVALSHA named: the same op goes again as EVAL (0), or the error of the send */
static int resend_as_eval(kve_kv_t *kv, kve_kv_op_t *op)
{
    int err;

    op->eval_sent = 1;
    op->cmd = kve_kv__script_eval_cmd(op->eval);
    if ((err = kv->driver->send(kv, op)) != 0)
        return err;
    KVE_STAT_ADD(kv->stats->script_fallbacks, 1);
    KVE_STAT_ADD(kv->stats->commands, 1);
    return 0;
}

void kve_kv__complete(kve_kv_op_t *op, int err, const kve_kv_reply_t *reply)
{
    kve_kv_batch_t *b = op->batch;
    kve_kv_t *kv = b->kv;

    KVE_CHECK_OBJ(b, KVE_KV_BATCH_MAGIC);
    KVE_ASSERT(op->state == OP_SENT || b->end != BATCH_LIVE); /* a timeout delivers what the driver still holds */
    if (err == 0 && op->eval != NULL && !op->eval_sent && kve_kv__is_noscript(reply) && b->end == BATCH_LIVE && !kv->closing &&
        (err = resend_as_eval(kv, op)) == 0)
        return; /* the op stays with the driver: the EVAL's reply completes it */
    --b->with_driver;
    KVE_STAT_ADD(kv->stats->inflight, (uint64_t)-1);
    if (err == 0) {
        KVE_STAT_ADD(kv->stats->replies, 1);
        if (reply->type == KVE_REPLY_ERROR)
            KVE_STAT_ADD(kv->stats->error_replies, 1);
        if (b->end == BATCH_TIMED_OUT)
            KVE_STAT_ADD(kv->stats->late_replies, 1);
        else if (b->end == BATCH_LIVE)
            kv->driver->on_reply(kv);
    } else if (b->end == BATCH_LIVE) {
        KVE_STAT_ADD(kv->stats->failures, 1);
        if (kv->closing)
            err = KVE_ESHUTDOWN;
    }
    if (b->end != BATCH_LIVE) {
        op->state = OP_DELIVERED;
        maybe_free(b);
        return;
    }
    if (op->index == b->next_deliver && b->busy == 0) { /* in order: the reply is passed on as it is */
        ++b->busy;                                      /* a cancel from the callback must not free `b` under drain() */
        deliver(b, op, err, reply);
        --b->busy;
        drain(b);
        return;
    }
    op->state = OP_HELD; /* before its turn: kept until the earlier ones are delivered */
    op->err = err;
    op->held = reply != NULL ? kve_kv__reply_copy(reply) : NULL;
}

void kve_kv__set_abort_reply(kve_kv_batch_t *b, const kve_kv_reply_t *reply)
{
    if (b->abort_reply == NULL)
        b->abort_reply = kve_kv__reply_copy(reply);
}

void kve_kv__sync_done(kve_kv_batch_t *b, int known, uint64_t offset)
{
    KVE_CHECK_OBJ(b, KVE_KV_BATCH_MAGIC);
    KVE_ASSERT(b->sync_pending);
    b->sync_pending = 0;
    if (b->end != BATCH_LIVE) {
        maybe_free(b);
        return;
    }
    b->sync_known = known;
    b->sync_offset = offset;
    if (b->next_deliver == b->n && b->busy == 0) {
        ++b->busy;
        end_batch(b);
        --b->busy;
    }
    maybe_free(b);
}

void kve_kv__ack_done(kve_kv_batch_t *b, int err)
{
    KVE_CHECK_OBJ(b, KVE_KV_BATCH_MAGIC);
    KVE_ASSERT(b->ack_pending);
    b->ack_pending = 0;
    if (err == KVE_ENOACK)
        KVE_STAT_ADD(b->kv->stats->not_acknowledged, 1);
    if (b->end == BATCH_LIVE) {
        ++b->busy;
        finish(b, err);
        --b->busy;
    }
    maybe_free(b);
}

/* --- timeouts --- */

/* the caller's interest in `b` ends with a timeout: what is due is delivered now (held results as they are, the
 * rest KVE_ETIMEDOUT), a reply that still comes is late; returns the KVE_KV_SCRIPT_* bits of the batch */
static unsigned expire(kve_kv_batch_t *b)
{
    unsigned scripts = b->scripts;
    int answered_all = b->next_deliver == b->n;

    if (b->end != BATCH_LIVE)
        return 0;
    ++b->busy;
    if (h2o_timeout_is_linked(&b->timeout_entry))
        h2o_timeout_unlink(&b->timeout_entry);
    while (b->end == BATCH_LIVE && b->next_deliver != b->n) {
        kve_kv_op_t *op = b->ops + b->next_deliver;
        if (op->state == OP_HELD) {
            kve_kv_reply_t *held = op->held;
            deliver(b, op, op->err, held);
            kve_kv__reply_free(held);
        } else {
            if (op->state == OP_SENT)
                KVE_STAT_ADD(b->kv->stats->timeouts, 1);
            deliver(b, op, KVE_ETIMEDOUT, NULL);
        }
    }
    if (b->end == BATCH_LIVE) {
        /* only the sync position was missing: the results stand; an acknowledgement still awaited did not come */
        finish(b, b->ack_pending ? KVE_ENOACK : answered_all ? 0 : KVE_ETIMEDOUT);
        b->end = BATCH_TIMED_OUT;
    }
    --b->busy;
    maybe_free(b);
    return scripts;
}

/*
 * A batch timed out, and with it every batch of its group still waiting. They are taken off the group first
 * (callbacks may end the caller, and the group's memory with it); a batch stays valid while its callbacks run
 * (busy), and nothing here hands control to the driver before the end.
 */
static void on_batch_timeout(h2o_timeout_entry_t *entry)
{
    kve_kv_batch_t *b = H2O_STRUCT_FROM_MEMBER(kve_kv_batch_t, timeout_entry, entry), *next;
    kve_kv_t *kv = b->kv;
    kve_kv_group_t *group = b->group;
    int counts = 1;
    unsigned scripts = 0;

    KVE_CHECK_OBJ(b, KVE_KV_BATCH_MAGIC);
    if (group != NULL) {
        counts = !group->_timed_out;
        group->_timed_out = 1;
        b = group->_waiting; /* includes the one whose timer fired */
        group->_waiting = NULL;
        for (next = b; next != NULL; next = next->group_next)
            next->group = NULL;
    } else {
        b->group_next = NULL;
    }
    for (; b != NULL; b = next) {
        next = b->group_next;
        scripts |= expire(b);
    }
    /* a script that outlived its caller would hold the store for everyone: stop it (Redis runs one at a time) */
    for (int kind = KVE_KV_SCRIPT_EVAL; kind <= KVE_KV_SCRIPT_FUNCTION; ++kind)
        if ((scripts & (1u << kind)) != 0 && kv->driver->kill_script != NULL)
            kv->driver->kill_script(kv, kind);
    if (counts)
        kv->driver->on_timeout(kv); /* may drop the link, which completes (and frees) the batches */
}

void kve_kv__own_command(kve_kv_op_t *op)
{
    const kve_kv_command_t *c = op->cmd;
    size_t bytes = 0;
    kve_kv_command_t *copy;
    const char **argv;
    size_t *argvlen;
    char *mem;

    if (c == op->driver_copy)
        return;
    for (size_t i = 0; i != c->argc; ++i)
        bytes += c->argvlen[i];
    copy = kve_malloc(sizeof(*copy) + (sizeof(char *) + sizeof(size_t)) * c->argc + bytes);
    argv = (const char **)(copy + 1);
    argvlen = (size_t *)(argv + c->argc);
    mem = (char *)(argvlen + c->argc);
    for (size_t i = 0; i != c->argc; ++i) {
        memcpy(mem, c->argv[i], c->argvlen[i]);
        argv[i] = mem;
        argvlen[i] = c->argvlen[i];
        mem += c->argvlen[i];
    }
    *copy = *c;
    copy->argv = argv;
    copy->argvlen = argvlen;
    free(op->driver_copy); /* an earlier copy kv.c has since replaced with the EVAL form */
    op->driver_copy = copy;
    op->cmd = copy;
    op->batch->driver_copies = 1;
}

/* --- the API --- */

/* an atomic or ordered batch's script command goes as EVAL */
static void eval_at_once(kve_kv_batch_t *b, kve_kv_op_t *op)
{
    op->eval = kve_kv__script_eval(op->cmd);
    op->eval_sent = 1;
    op->cmd = kve_kv__script_eval_cmd(op->eval);
    b->evals = 1;
}

/* a batch of `n` ops for `cmds`, nothing sent yet */
static kve_kv_batch_t *new_batch(kve_kv_t *kv, const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts,
                                 kve_kv_reply_cb on_reply, kve_kv_done_cb on_done, void *data)
{
    kve_kv_batch_t *b = alloc_batch(kv, n);
    size_t i;

    b->magic = KVE_KV_BATCH_MAGIC;
    b->end = BATCH_LIVE;
    b->sync_asked = b->sync_pending = b->busy = b->evals = b->ack_asked = b->ack_pending = b->driver_copies = 0;
    b->kv = kv;
    b->on_reply = on_reply;
    b->on_done = on_done;
    b->data = data;
    b->flags = opts->flags;
    b->scripts = 0;
    b->max_reply_size = opts->max_reply_size;
    b->timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms : kv->default_timeout_ms;
    b->window = (opts->flags & KVE_KV_BATCH_ATOMIC) != 0 ? 0 : opts->window;
    b->n = n;
    b->next_send = b->next_deliver = b->with_driver = 0;
    b->first_err = b->unsent_err = 0;
    b->abort_reply = b->redirect_reply = NULL;
    b->sync_known = 0;
    b->sync_offset = 0;
    b->group = NULL;
    memset(&b->timeout_entry, 0, sizeof(b->timeout_entry));
    b->driver_next = NULL;
    for (i = 0; i != n; ++i) {
        kve_kv_op_t *op = b->ops + i;
        KVE_ASSERT(cmds[i].argc != 0);
        op->batch = b;
        op->cmd = cmds + i;
        op->index = (uint32_t)i;
        op->state = OP_NOT_SENT;
        op->held = NULL;
        op->eval = NULL;
        op->eval_sent = 0;
        op->redirects = 0;
        op->driver_copy = NULL;
        int kind = kve_kv_script_kind(cmds[i].argv[0], cmds[i].argvlen[0]);
        if (kind != KVE_KV_SCRIPT_NONE)
            b->scripts |= 1u << kind;
    }
    /* a sharded store sends each op to its node as it goes, and two nodes answer in any order: the commands of an
     * ordered batch go one at a time (the next one once the one before was answered) */
    if ((opts->flags & KVE_KV_BATCH_ORDERED) != 0 && kv->sharded && n > 1) {
        b->window = 1;
        for (i = 0; i != n; ++i) /* sent after this returns: the caller's memory may be gone by then */
            kve_kv__own_command(b->ops + i);
    }
    return b;
}

kve_kv_batch_t *kve_kv_batch(kve_kv_t *kv, const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts,
                             kve_kv_reply_cb on_reply, kve_kv_done_cb on_done, void *data, int *err)
{
    static const kve_kv_batch_opts_t defaults = {0};
    kve_kv_batch_t *b;
    size_t i;
    int ret;

    KVE_CHECK_OBJ(kv, KVE_KV_MAGIC);
    KVE_ASSERT(n != 0 && n <= UINT32_MAX);
    if (opts == NULL)
        opts = &defaults;
    if (kv->closing) {
        *err = KVE_ESHUTDOWN;
        return NULL;
    }
    if (kv->driver->route != NULL) /* a link over several (replicas): the batch may belong to one of them */
        kv = kv->driver->route(kv, cmds, n, opts);
    b = new_batch(kv, cmds, n, opts, on_reply, on_done, data);
    if ((opts->flags & KVE_KV_BATCH_ATOMIC) != 0) {
        for (i = 0; i != n; ++i)
            if (cmds[i].script != NULL) /* a NOSCRIPT cannot be replayed inside a transaction: EVAL at once */
                eval_at_once(b, b->ops + i);
        if ((ret = kv->driver->send_atomic(kv, b->ops, n)) == 0) {
            for (i = 0; i != n; ++i)
                b->ops[i].state = OP_SENT;
            b->next_send = b->with_driver = n;
            KVE_STAT_ADD(kv->stats->commands, n);
            KVE_STAT_ADD(kv->stats->inflight, n);
            if ((opts->flags & KVE_KV_BATCH_SYNC) != 0)
                ask_sync(b);
        }
    } else {
        if ((opts->flags & KVE_KV_BATCH_ORDERED) != 0 && n > 1)
            for (i = 0; i != n; ++i)
                if (cmds[i].script != NULL) /* a fallback EVAL would run after the commands that depend on it */
                    eval_at_once(b, b->ops + i);
        send_more(b);
        ret = b->next_send == 0 ? b->unsent_err : 0;
    }
    if (ret != 0) {                                   /* nothing was sent */
        if ((opts->flags & KVE_KV_BATCH_ATOMIC) != 0) /* send_more() counted its own */
            KVE_STAT_ADD(kv->stats->failures, 1);
        b->end = BATCH_CANCELLED;
        maybe_free(b);
        *err = ret;
        return NULL;
    }
    if (opts->group != NULL)
        group_add(opts->group, b);
    b->timeout_entry.cb = on_batch_timeout;
    h2o_timeout_link(kv->loop, kve_kv__timeout(kv, b->timeout_ms), &b->timeout_entry);
    return b;
}

kve_kv_batch_t *kve_kv_call(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                            const kve_kv_batch_opts_t *opts, kve_kv_reply_cb on_reply, void *data, int *err)
{
    kve_kv_command_t cmd = KVE_KV_COMMAND(argc, argv, argvlen);
    kve_kv_batch_opts_t o = opts != NULL ? *opts : (kve_kv_batch_opts_t){0};
    o.window = 0; /* one command: sent before this returns, so `cmd` may live on the stack */
    return kve_kv_batch(kv, &cmd, 1, &o, on_reply, NULL, data, err);
}

void kve_kv_batch_stop(kve_kv_batch_t *b)
{
    KVE_CHECK_OBJ(b, KVE_KV_BATCH_MAGIC);
    if (b->end != BATCH_LIVE || b->unsent_err != 0 || b->next_send == b->n)
        return;
    b->unsent_err = KVE_ENOTSENT;
    if ((b->flags & KVE_KV_BATCH_SYNC) != 0 && !b->sync_asked && b->next_send != 0)
        ask_sync(b);
}

void kve_kv_batch_cancel(kve_kv_batch_t *b)
{
    KVE_CHECK_OBJ(b, KVE_KV_BATCH_MAGIC);
    if (b->end != BATCH_LIVE)
        return;
    b->end = BATCH_CANCELLED;
    group_remove(b);
    if (h2o_timeout_is_linked(&b->timeout_entry))
        h2o_timeout_unlink(&b->timeout_entry);
    maybe_free(b);
}

void kve_kv__set_state(kve_kv_t *kv, int state)
{
    KVE_STAT_SET(kv->stats->state, state);
}

void kve_kv_stats_read(const kve_kv_stats_t *block, kve_kv_stats_t *out)
{
    out->commands = KVE_STAT_GET(block->commands);
    out->replies = KVE_STAT_GET(block->replies);
    out->error_replies = KVE_STAT_GET(block->error_replies);
    out->timeouts = KVE_STAT_GET(block->timeouts);
    out->late_replies = KVE_STAT_GET(block->late_replies);
    out->failures = KVE_STAT_GET(block->failures);
    out->reconnects = KVE_STAT_GET(block->reconnects);
    out->inflight = KVE_STAT_GET(block->inflight);
    out->syncs = KVE_STAT_GET(block->syncs);
    out->state = KVE_STAT_GET(block->state);
    out->pipelines = KVE_STAT_GET(block->pipelines);
    out->pipeline_commands = KVE_STAT_GET(block->pipeline_commands);
    out->pipeline_errors = KVE_STAT_GET(block->pipeline_errors);
    out->bytes_sent = KVE_STAT_GET(block->bytes_sent);
    out->bytes_received = KVE_STAT_GET(block->bytes_received);
    out->retries = KVE_STAT_GET(block->retries);
    for (size_t i = 0; i != KVE_KV_PIPELINE_BUCKETS; ++i)
        out->pipeline_sizes[i] = KVE_STAT_GET(block->pipeline_sizes[i]);
    out->script_fallbacks = KVE_STAT_GET(block->script_fallbacks);
    out->not_acknowledged = KVE_STAT_GET(block->not_acknowledged);
    out->redirects = KVE_STAT_GET(block->redirects);
    out->slot_map_refreshes = KVE_STAT_GET(block->slot_map_refreshes);
}

void kve_kv_get_stats(const kve_kv_t *kv, kve_kv_stats_t *out)
{
    kve_kv_stats_read(kv->stats, out);
}

kve_kv_stream_t *kve_kv_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, kve_kv_stream_cb cb,
                                    void *data, int *err)
{
    KVE_CHECK_OBJ(kv, KVE_KV_MAGIC);
    if (kv->closing) {
        *err = KVE_ESHUTDOWN;
        return NULL;
    }
    return kv->driver->stream_open(kv, argc, argv, argvlen, cb, data, err);
}

void kve_kv_stream_close(kve_kv_stream_t *stream)
{
    /* every stream starts with a pointer to its link (drivers keep that layout) */
    kve_kv_t *kv = *(kve_kv_t **)stream;
    kv->driver->stream_close(stream);
}

void kve_kv_destroy(kve_kv_t *kv)
{
    KVE_CHECK_OBJ(kv, KVE_KV_MAGIC);
    kv->closing = 1;
    kv->driver->destroy(kv); /* completes what is queued, then kve_kv__dispose and free */
}

int kve_kv_script_kind(const char *name, size_t len)
{
    if (len < 4)
        return KVE_KV_SCRIPT_NONE;
    /* first a cheap look at the first byte: every command passes here */
    switch (name[0] | 0x20) {
    case 'e':
        if ((len == 4 && strncasecmp(name, "eval", 4) == 0) || (len == 7 && strncasecmp(name, "evalsha", 7) == 0) ||
            (len == 7 && strncasecmp(name, "eval_ro", 7) == 0) || (len == 10 && strncasecmp(name, "evalsha_ro", 10) == 0))
            return KVE_KV_SCRIPT_EVAL;
        return KVE_KV_SCRIPT_NONE;
    case 'f':
        if ((len == 5 && strncasecmp(name, "fcall", 5) == 0) || (len == 8 && strncasecmp(name, "fcall_ro", 8) == 0))
            return KVE_KV_SCRIPT_FUNCTION;
        return KVE_KV_SCRIPT_NONE;
    default:
        return KVE_KV_SCRIPT_NONE;
    }
}
