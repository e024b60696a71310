/* SPDX-License-Identifier: MIT */
/*
 * min_replicas_ack's waiter (see kv_ack.h): batches whose writes were answered wait in `pending` until the round in
 * flight (if any) answers; then one round, PUBLISH + WAIT on the wait link, covers all of them. Each waiting batch
 * has a record with its own deadline; a record is answered once (deadline or round), and freed when the list that
 * holds it is done with it.
 */
#include "proxy/kv_ack.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_redis.h"
#include "proxy/log.h"

#include <stdio.h>

/* Redis times a blocked WAIT out at its hz tick (10 per second by default): the round's own batch waits this much
 * longer before the wait link counts it as timed out */
#define ROUND_SLACK_MS 1000

typedef struct st_waiter_t {
    struct st_waiter_t *next;
    kve_kv_ack_t *ack;
    kve_kv_batch_t *batch; /* NULL once answered */
    h2o_timeout_entry_t deadline;
    /* kve_kv_ack_wait_cb's: answered through it instead of kve_kv__ack_done */
    void (*cb)(void *data, int err);
    void *data;
} waiter_t;

struct st_kve_kv_ack_t {
    h2o_loop_t *loop;
    kve_kv_t *link;
    unsigned replicas;
    uint64_t timeout_ms;
    h2o_timeout_t deadline; /* timeout_ms: each waiter's */
    h2o_timeout_t zero;     /* the end of the loop iteration: waiters that finish together share a round */
    h2o_timeout_entry_t start_entry;
    waiter_t *pending, **pending_tail;
    /* the round in flight: its waiters, its batch on the wait link, what it learned */
    waiter_t *round;
    kve_kv_batch_t *sub;
    int round_err;
    long long acked;
    int round_ok;
    int logged; /* a failure was logged (one line per episode, until a round succeeds) */
    char n_arg[24], timeout_arg[24];
    /* a cluster node's marker key (kve_kv_ack_set_marker), empty: PUBLISH */
    char marker[64];
    size_t marker_len;
};

int kve_kv_ack_parse(const kve_kv_reply_t *reply, unsigned wanted, long long *acked)
{
    *acked = 0;
    if (reply == NULL || reply->type != KVE_REPLY_INTEGER || reply->integer < 0)
        return -1;
    *acked = reply->integer;
    return reply->integer >= (long long)wanted ? 1 : 0;
}

/* answers the record's batch once (`err` 0 or KVE_ENOACK...), the record stays in its list */
static void answer(waiter_t *w, int err)
{
    kve_kv_batch_t *b = w->batch;
    if (b == NULL)
        return;
    w->batch = NULL;
    if (h2o_timeout_is_linked(&w->deadline))
        h2o_timeout_unlink(&w->deadline);
    if (w->cb != NULL)
        w->cb(w->data, err);
    else
        kve_kv__ack_done(b, err);
}

static void answer_all(waiter_t *list, int err)
{
    while (list != NULL) {
        waiter_t *next = list->next;
        answer(list, err);
        free(list);
        list = next;
    }
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    answer(H2O_STRUCT_FROM_MEMBER(waiter_t, deadline, entry), KVE_ENOACK);
}

static void log_failure(kve_kv_ack_t *ack, const char *why)
{
    if (ack->logged)
        return;
    ack->logged = 1;
    kve_log(KVE_LOG_WARN, "redis",
            "min_replicas_ack on %s: %s; writes answer 503 \"write not acknowledged\" until %u replicas confirm", ack->link->peer,
            why, ack->replicas);
}

static void start_round(kve_kv_ack_t *ack);

static void on_round_reply(void *data, size_t index, int err, const kve_kv_reply_t *reply)
{
    kve_kv_ack_t *ack = data;
    char why[200];

    if (err != 0) {
        ack->round_err = err;
        return;
    }
    if (index == 0) { /* the marker: an error (NOPERM, MOVED) means WAIT would count nothing of ours */
        if (reply->type == KVE_REPLY_ERROR) {
            snprintf(why, sizeof(why), "%s %.64s failed: %.100s", ack->marker_len != 0 ? "SET" : "PUBLISH",
                     ack->marker_len != 0 ? ack->marker : KVE_KV_ACK_CHANNEL, reply->str);
            log_failure(ack, why);
            ack->round_err = KVE_ENOACK;
        }
        return;
    }
    switch (kve_kv_ack_parse(reply, ack->replicas, &ack->acked)) {
    case 1:
        ack->round_ok = ack->round_err == 0;
        break;
    case 0:
        snprintf(why, sizeof(why), "WAIT %u %llu: %lld acknowledged", ack->replicas, (unsigned long long)ack->timeout_ms,
                 ack->acked);
        log_failure(ack, why);
        break;
    default:
        snprintf(why, sizeof(why), "WAIT failed: %.100s", reply->type == KVE_REPLY_ERROR ? reply->str : "not an integer");
        log_failure(ack, why);
        break;
    }
}

static void on_round_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_kv_ack_t *ack = data;
    waiter_t *round = ack->round;

    ack->sub = NULL;
    ack->round = NULL;
    if (ack->round_ok && ack->logged) {
        kve_log(KVE_LOG_INFO, "redis", "min_replicas_ack on %s: %lld replicas acknowledge writes again", ack->link->peer,
                ack->acked);
        ack->logged = 0;
    } else if (!ack->round_ok && ack->round_err != 0 && ack->round_err != KVE_ENOACK) {
        log_failure(ack, kve_strerror(ack->round_err));
    }
    answer_all(round, ack->round_ok ? 0 : KVE_ENOACK);
    if (ack->pending != NULL && !h2o_timeout_is_linked(&ack->start_entry))
        start_round(ack);
}

/* the waiters pending now form a round: PUBLISH + WAIT on the wait link (the waiters already answered are dropped) */
static void start_round(kve_kv_ack_t *ack)
{
    static const char *const publish[] = {"PUBLISH", KVE_KV_ACK_CHANNEL, "1"};
    static const size_t publish_len[] = {7, sizeof(KVE_KV_ACK_CHANNEL) - 1, 1};
    const char *set[] = {"SET", ack->marker, "1", "PX", "1000"};
    size_t set_len[] = {3, ack->marker_len, 1, 2, 4};
    const char *wait[] = {"WAIT", ack->n_arg, ack->timeout_arg};
    size_t wait_len[] = {4, strlen(ack->n_arg), strlen(ack->timeout_arg)};
    kve_kv_command_t cmds[2] = {ack->marker_len != 0 ? KVE_KV_COMMAND(5, set, set_len) : KVE_KV_COMMAND(3, publish, publish_len),
                                KVE_KV_COMMAND(3, wait, wait_len)};
    kve_kv_batch_opts_t opts = {.timeout_ms = ack->timeout_ms + ROUND_SLACK_MS};
    waiter_t *w, **p;
    int err;

    KVE_ASSERT(ack->round == NULL);
    for (p = &ack->pending; (w = *p) != NULL;) { /* those past their deadline are done with */
        if (w->batch == NULL) {
            *p = w->next;
            free(w);
        } else {
            p = &w->next;
        }
    }
    if (ack->pending == NULL) {
        ack->pending_tail = &ack->pending;
        return;
    }
    ack->round = ack->pending;
    ack->pending = NULL;
    ack->pending_tail = &ack->pending;
    ack->round_err = 0;
    ack->round_ok = 0;
    ack->acked = 0;
    if ((ack->sub = kve_kv_batch(ack->link, cmds, 2, &opts, on_round_reply, on_round_done, ack, &err)) == NULL) {
        log_failure(ack, kve_strerror(err)); /* the wait link is down: nothing can be confirmed */
        w = ack->round;
        ack->round = NULL;
        answer_all(w, KVE_ENOACK);
    }
}

static void on_start(h2o_timeout_entry_t *entry)
{
    kve_kv_ack_t *ack = H2O_STRUCT_FROM_MEMBER(kve_kv_ack_t, start_entry, entry);
    if (ack->round == NULL)
        start_round(ack);
}

void kve_kv_ack_wait(kve_kv_ack_t *ack, kve_kv_batch_t *b)
{
    kve_kv_ack_wait_cb(ack, b, NULL, NULL);
}

void kve_kv_ack_set_marker(kve_kv_ack_t *ack, const char *key, size_t len)
{
    KVE_ASSERT(len < sizeof(ack->marker));
    memcpy(ack->marker, key, len);
    ack->marker[len] = '\0';
    ack->marker_len = len;
}

void kve_kv_ack_wait_cb(kve_kv_ack_t *ack, kve_kv_batch_t *b, void (*cb)(void *data, int err), void *data)
{
    waiter_t *w = kve_malloc(sizeof(*w));

    *w = (waiter_t){.ack = ack, .batch = b, .cb = cb, .data = data};
    w->deadline.cb = on_deadline;
    h2o_timeout_link(ack->loop, &ack->deadline, &w->deadline);
    *ack->pending_tail = w;
    ack->pending_tail = &w->next;
    /* a round out: the next starts when it answers; else at the end of this iteration, with the others finishing now */
    if (ack->round == NULL && !h2o_timeout_is_linked(&ack->start_entry))
        h2o_timeout_link(ack->loop, &ack->zero, &ack->start_entry);
}

kve_kv_ack_t *kve_kv_ack_create(h2o_loop_t *loop, const kve_redis_target_t *target, const kve_redis_conf_t *conf)
{
    kve_kv_ack_t *ack = kve_zalloc(sizeof(*ack));
    kve_redis_conf_t wait_conf = *conf;

    KVE_ASSERT(conf->min_replicas_ack > 0);
    ack->loop = loop;
    ack->replicas = (unsigned)conf->min_replicas_ack;
    ack->timeout_ms = conf->min_replicas_ack_timeout_ms;
    snprintf(ack->n_arg, sizeof(ack->n_arg), "%u", ack->replicas);
    snprintf(ack->timeout_arg, sizeof(ack->timeout_arg), "%llu", (unsigned long long)ack->timeout_ms);
    wait_conf.min_replicas_ack = 0; /* the wait link waits for nothing itself */
    wait_conf.replicas.size = 0;
    ack->link = kve_kv_redis_create(loop, target, &wait_conf, NULL);
    h2o_timeout_init(loop, &ack->deadline, ack->timeout_ms);
    h2o_timeout_init(loop, &ack->zero, 0);
    ack->start_entry.cb = on_start;
    ack->pending_tail = &ack->pending;
    return ack;
}

int kve_kv_ack_idle(const kve_kv_ack_t *ack)
{
    return ack->round == NULL && ack->pending == NULL && ack->sub == NULL;
}

void kve_kv_ack_destroy(kve_kv_ack_t *ack)
{
    waiter_t *round = ack->round, *pending = ack->pending;

    if (h2o_timeout_is_linked(&ack->start_entry))
        h2o_timeout_unlink(&ack->start_entry);
    if (ack->sub != NULL)
        kve_kv_batch_cancel(ack->sub); /* its callbacks no longer run */
    ack->sub = NULL;
    ack->round = ack->pending = NULL;
    ack->pending_tail = &ack->pending;
    /* not KVE_ESHUTDOWN: the writes were applied and nobody confirmed them (a sentinel store destroys a primary's links
     * in a failover, not only at shutdown) */
    answer_all(round, KVE_ENOACK);
    answer_all(pending, KVE_ENOACK);
    kve_kv_destroy(ack->link);
    h2o_timeout_dispose(ack->loop, &ack->deadline);
    h2o_timeout_dispose(ack->loop, &ack->zero);
    free(ack);
}
