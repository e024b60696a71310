/* SPDX-License-Identifier: MIT */
/*
 * Request coalescing (see cache_coalesce.h). Threads: the table and the waiter lists are touched under `mutex`
 * only; a waiter's request state (st) only on its own thread; an active entry belongs to its owner (the leader,
 * or the poller, or the store batch the leader handed it to), which frees it after releasing it, and a waiter
 * still queued in it proves it is alive (release empties the list under the mutex before the owner frees it).
 */
#include "handlers/cache_coalesce.h"
#include "handlers/cache_internal.h"
#include "handlers/cache_store_cmds.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/httpclient.h"
#include "proxy/log.h"
#include "proxy/mailbox.h"
#include "proxy/server.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NUM_BUCKETS 1024
/** the most pass records kept in process (beyond, the pass lives in KV only) */
#define MAX_PASS 65536

enum { ROLE_NONE = 0, ROLE_CANDIDATE, ROLE_LEADER, ROLE_POLLER };
enum { W_QUEUED = 0, W_POSTED, W_DETACHED };

struct st_kve_coal_entry_t {
    kve_coal_entry_t *next;
    const void *route;
    uint8_t primary[KVE_CACHE_HASH_LEN];
    /** a pass record (never has waiters) while non-zero: until then (monotonic ms) */
    uint64_t pass_until;
    /** the pass may skip the store lookup (the uncacheable answer was the URL's only object: no Vary, no index) */
    int skip_lookup;
    int in_table;
    h2o_linklist_t waiters;
    /** the lock: its key, our owner id, whether we hold it, and the link of the owner's thread (used there only) */
    char lock_key[128];
    char owner[KVE_CACHE_ID_LEN];
    int locked;
    /** the owner's thread and store: the lock is released there (the link looked up then: NULL once it stopped) */
    h2o_context_t *ctx;
    size_t store_id;
};

typedef struct st_kve_coal_waiter_t {
    kve_mail_t mail; /* first: the mail converts back */
    h2o_linklist_t link;
    int state;
    kve_coal_outcome_t outcome;
    kve_cache_req_t *st; /* NULL once the request is gone (written under the mutex, read on the waiter's thread) */
    kve_mailbox_t *box;
} waiter_t;

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static kve_coal_entry_t *buckets[NUM_BUCKETS];
static size_t num_pass;

static const char release_script[] = "if redis.call('get',KEYS[1])==ARGV[1] then if ARGV[2]=='0' then "
                                     "return redis.call('del',KEYS[1]) end "
                                     "return redis.call('set',KEYS[1],'pass','PX',ARGV[2]) end return 0";

/* sent as EVALSHA with the EVAL fallback (proxy/kv.h); its SHA1 is computed once */
static kve_kv_script_t release;
static pthread_once_t release_once = PTHREAD_ONCE_INIT;

static void init_release(void)
{
    kve_kv_script_init(&release, release_script, sizeof(release_script) - 1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static kve_cache_thread_t *thread_state(kve_cache_req_t *st)
{
    return h2o_context_get_handler_context(st->req->conn->ctx, &st->self->super);
}

void kve_cache__thread_init(kve_cache_handler_t *self, h2o_context_t *ctx)
{
    kve_cache_thread_t *t = calloc(1, sizeof(*t));
    KVE_ASSERT(t != NULL);
    h2o_timeout_init(ctx->loop, &t->wait, self->conf->coalesce_timeout_ms != 0 ? self->conf->coalesce_timeout_ms : 1);
    h2o_timeout_init(ctx->loop, &t->poll, KVE_COAL_POLL_MS);
    h2o_context_set_handler_context(ctx, &self->super, t);
}

void kve_cache__thread_dispose(kve_cache_handler_t *self, h2o_context_t *ctx)
{
    kve_cache_thread_t *t = h2o_context_get_handler_context(ctx, &self->super);
    if (t == NULL)
        return;
    if (t->client != NULL) /* its refreshes end with KVE_ESHUTDOWN */
        kve_httpclient_destroy(t->client);
    h2o_timeout_dispose(ctx->loop, &t->wait);
    h2o_timeout_dispose(ctx->loop, &t->poll);
    free(t);
}

/* --- the table (under the mutex) --- */

static size_t bucket_of(const uint8_t *primary)
{
    return ((size_t)primary[0] | (size_t)primary[1] << 8) % NUM_BUCKETS;
}

/* the entry of (route, primary), dropping expired pass records of its bucket on the way */
static kve_coal_entry_t *find(const void *route, const uint8_t *primary)
{
    kve_coal_entry_t **p = &buckets[bucket_of(primary)], *e, *found = NULL;
    uint64_t now = now_ms();
    while ((e = *p) != NULL) {
        if (e->pass_until != 0 && e->pass_until <= now) {
            *p = e->next;
            --num_pass;
            free(e);
            continue;
        }
        if (found == NULL && e->route == route && memcmp(e->primary, primary, KVE_CACHE_HASH_LEN) == 0)
            found = e;
        p = &e->next;
    }
    return found;
}

static void insert(kve_coal_entry_t *e)
{
    size_t b = bucket_of(e->primary);
    e->next = buckets[b];
    buckets[b] = e;
    e->in_table = 1;
}

static void unlink_entry(kve_coal_entry_t *e)
{
    kve_coal_entry_t **p = &buckets[bucket_of(e->primary)];
    while (*p != e)
        p = &(*p)->next;
    *p = e->next;
    e->in_table = 0;
}

/* --- releasing --- */

static void on_release_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    if (err != 0 || reply->type == KVE_REPLY_ERROR)
        kve_log(KVE_LOG_DEBUG, "cache", "coalescing lock not released: %s",
                err != 0             ? kve_strerror(err)
                : reply->str != NULL ? reply->str
                                     : "error");
}

/* the owner's compare-and-delete (or compare-and-set "pass") of the lock; its TTL covers a failure */
static void release_lock(kve_coal_entry_t *e, kve_coal_outcome_t outcome)
{
    char pass_ms[24];
    const char *argv[6];
    size_t argvlen[6];
    kve_kv_command_t cmd;
    int err, n = snprintf(pass_ms, sizeof(pass_ms), "%d", outcome == KVE_COAL_PASS ? KVE_COAL_PASS_MS : 0);

    kve_kv_t *kv = e->ctx != NULL ? kve_thread_link(kve_server_thread(e->ctx), e->store_id, 0) : NULL;

    if (!e->locked || kv == NULL)
        return;
    pthread_once(&release_once, init_release);
    kve_kv_script_argv(&release, 0, argv, argvlen);
    argv[2] = "1", argvlen[2] = 1;
    argv[3] = e->lock_key, argvlen[3] = strlen(e->lock_key);
    argv[4] = e->owner, argvlen[4] = KVE_CACHE_ID_LEN;
    argv[5] = pass_ms, argvlen[5] = (size_t)n;
    cmd = KVE_KV_COMMAND(6, argv, argvlen);
    cmd.script = &release;
    if (kve_kv_batch(kv, &cmd, 1, NULL, on_release_reply, NULL, NULL, &err) == NULL)
        kve_log(KVE_LOG_DEBUG, "cache", "coalescing lock not released: %s", kve_strerror(err));
}

/* takes `e` out of the table (remembering a pass), posts every waiter its outcome, releases the lock, frees `e` */
static void release_entry(kve_coal_entry_t *e, kve_coal_outcome_t outcome)
{
    h2o_linklist_t posted;
    kve_coal_entry_t *pass = NULL;

    h2o_linklist_init_anchor(&posted);
    if (outcome == KVE_COAL_PASS && (pass = calloc(1, sizeof(*pass))) != NULL) {
        pass->route = e->route;
        memcpy(pass->primary, e->primary, KVE_CACHE_HASH_LEN);
        pass->pass_until = now_ms() + KVE_COAL_PASS_MS;
        pass->skip_lookup = e->skip_lookup;
        h2o_linklist_init_anchor(&pass->waiters);
    }
    pthread_mutex_lock(&mutex);
    if (e->in_table)
        unlink_entry(e);
    if (pass != NULL) {
        if (num_pass < MAX_PASS && find(pass->route, pass->primary) == NULL) {
            insert(pass);
            ++num_pass;
        } else {
            free(pass);
        }
    }
    while (!h2o_linklist_is_empty(&e->waiters)) {
        waiter_t *w = H2O_STRUCT_FROM_MEMBER(waiter_t, link, e->waiters.next);
        h2o_linklist_unlink(&w->link);
        w->state = W_POSTED;
        w->outcome = outcome;
        h2o_linklist_insert(&posted, &w->link);
    }
    pthread_mutex_unlock(&mutex);
    while (!h2o_linklist_is_empty(&posted)) {
        waiter_t *w = H2O_STRUCT_FROM_MEMBER(waiter_t, link, posted.next);
        h2o_linklist_unlink(&w->link);
        if (kve_mailbox_post(w->box, &w->mail) != 0) { /* its thread is stopping: the request goes with it */
            pthread_mutex_lock(&mutex);
            if (w->st == NULL)
                free(w);
            else
                w->state = W_DETACHED;
            pthread_mutex_unlock(&mutex);
        }
        /* w may be freed by its thread from here on */
    }
    release_lock(e, outcome);
    free(e);
}

/* --- waiters --- */

static void resume(kve_cache_req_t *st, kve_coal_outcome_t outcome)
{
    if (outcome == KVE_COAL_STORED) {
        st->collapsed = 1;
        kve_cache__lookup_again(st);
    } else {
        kve_cache__proceed(st);
    }
}

static void on_mail(kve_mail_t *mail, void *owner, int closing)
{
    waiter_t *w = (waiter_t *)mail;
    kve_cache_req_t *st = w->st;
    kve_coal_outcome_t outcome = w->outcome;

    free(w);
    if (st == NULL)
        return;
    st->coal_waiter = NULL;
    if (h2o_timeout_is_linked(&st->coal_timer))
        h2o_timeout_unlink(&st->coal_timer);
    if (!closing)
        resume(st, outcome);
}

/* a waiter's bound: it goes upstream itself (unless its mail is already on its way) */
static void on_wait_timeout(h2o_timeout_entry_t *entry)
{
    kve_cache_req_t *st = H2O_STRUCT_FROM_MEMBER(kve_cache_req_t, coal_timer, entry);
    waiter_t *w = st->coal_waiter;
    int queued;

    pthread_mutex_lock(&mutex);
    if ((queued = w->state == W_QUEUED) != 0)
        h2o_linklist_unlink(&w->link);
    pthread_mutex_unlock(&mutex);
    if (!queued)
        return;
    free(w);
    st->coal_waiter = NULL;
    kve_cache__proceed(st);
}

static void wait_on(kve_cache_req_t *st, kve_coal_entry_t *e)
{
    waiter_t *w = calloc(1, sizeof(*w));
    KVE_ASSERT(w != NULL);
    w->mail.on_deliver = on_mail;
    w->st = st;
    w->box = &kve_server_thread(st->req->conn->ctx)->mailbox;
    w->state = W_QUEUED;
    h2o_linklist_insert(&e->waiters, &w->link); /* under the mutex (the caller's) */
    st->coal_waiter = w;
}

/* --- the leader candidate: the lock, then lead, or poll another instance's lock --- */

static void lead(kve_cache_req_t *st)
{
    st->coal_role = ROLE_LEADER;
    st->coal_fill = kve_cache__fill_prepare(st); /* before proceeding: a revalidation changes the request */
    kve_cache__proceed(st);
}

static void poll_tick(h2o_timeout_entry_t *entry);

static void schedule_poll(kve_cache_req_t *st)
{
    st->coal_timer.cb = poll_tick;
    h2o_timeout_link(st->req->conn->ctx->loop, &thread_state(st)->poll, &st->coal_timer);
}

/* the poller ends its group's wait with `outcome` (a stored object is looked up again, else upstream) */
static void poller_done(kve_cache_req_t *st, kve_coal_outcome_t outcome)
{
    kve_coal_entry_t *e = st->coal;
    st->coal = NULL;
    st->coal_role = ROLE_NONE;
    e->locked = 0; /* another instance's */
    release_entry(e, outcome);
    resume(st, outcome);
}

static void on_poll_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_cache_req_t *st = data;
    KVE_CHECK_OBJ(st, KVE_CACHE_REQ_MAGIC);
    st->batch = NULL;
    if (err == 0 && reply->type == KVE_REPLY_NIL) {
        poller_done(st, KVE_COAL_STORED);
    } else if (err == 0 && reply->type == KVE_REPLY_STRING && reply->len == 4 && memcmp(reply->str, "pass", 4) == 0) {
        poller_done(st, KVE_COAL_PASS);
    } else {
        st->coal_poll_ms = KVE_MIN(st->coal_poll_ms * 2, KVE_COAL_POLL_MAX_MS);
        st->coal_next_poll = now_ms() + st->coal_poll_ms;
        schedule_poll(st);
    }
}

static void poll_tick(h2o_timeout_entry_t *entry)
{
    kve_cache_req_t *st = H2O_STRUCT_FROM_MEMBER(kve_cache_req_t, coal_timer, entry);
    uint64_t now = now_ms();
    const char *argv[2] = {"GET", st->coal->lock_key};
    size_t argvlen[2] = {3, strlen(st->coal->lock_key)};
    kve_kv_batch_opts_t opts = {.timeout_ms = st->self->conf->store_timeout_ms};
    kve_kv_t *kv;
    int err;

    if (now >= st->coal_deadline) {
        poller_done(st, KVE_COAL_FAILED);
        return;
    }
    if (now < st->coal_next_poll || (kv = kve_cache__link(st->self, st->req)) == NULL ||
        (st->batch = kve_kv_call(kv, 2, argv, argvlen, &opts, on_poll_reply, st, &err)) == NULL)
        schedule_poll(st); /* not yet, or the store is down: try again until the deadline */
}

static void on_lock_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_cache_req_t *st = data;
    KVE_CHECK_OBJ(st, KVE_CACHE_REQ_MAGIC);
    if (err != 0)
        return;
    if (i == 0 && reply->type == KVE_REPLY_STATUS)
        st->coal->locked = 1;
    if (i == 1 && reply->type == KVE_REPLY_STRING && reply->len == 4 && memcmp(reply->str, "pass", 4) == 0)
        st->coal_pass = 1;
}

static void on_lock_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_cache_req_t *st = data;
    kve_coal_entry_t *e = st->coal;

    KVE_CHECK_OBJ(st, KVE_CACHE_REQ_MAGIC);
    st->batch = NULL;
    if (e->locked || result->err != 0) { /* ours, or the store cannot tell: lead (at least) this process */
        e->locked = e->locked && result->err == 0;
        lead(st);
    } else if (st->coal_pass) {
        st->coal = NULL;
        st->coal_role = ROLE_NONE;
        release_entry(e, KVE_COAL_PASS);
        kve_cache__proceed(st);
    } else { /* another instance leads: poll its lock for the group */
        st->coal_role = ROLE_POLLER;
        st->coal_poll_ms = KVE_COAL_POLL_MS;
        st->coal_next_poll = now_ms() + KVE_COAL_POLL_MS;
        st->coal_deadline = now_ms() + st->self->conf->coalesce_timeout_ms;
        schedule_poll(st);
    }
}

static int take_lock(kve_cache_req_t *st, kve_coal_entry_t *e)
{
    kve_cache_cmds_t c;
    kve_kv_command_t cmds[KVE_CACHE_CMDS_MAX];
    kve_kv_batch_opts_t opts = {.timeout_ms = st->self->conf->store_timeout_ms, .flags = KVE_KV_BATCH_ATOMIC};
    kve_kv_t *kv = kve_cache__link(st->self, st->req);
    int err;

    e->ctx = st->req->conn->ctx;
    e->store_id = st->self->conf->store_id;
    if (kv == NULL)
        return -1;
    /* one key (the URL's hash tag): one slot on a sharded store too */
    kve_cache_cmds_lock(&c, e->lock_key, e->owner, st->self->conf->coalesce_timeout_ms);
    st->batch = kve_kv_batch(kv, cmds, kve_cache_cmds_to_kv(&c, cmds), &opts, on_lock_reply, on_lock_done, st, &err);
    return st->batch != NULL ? 0 : -1;
}

int kve_cache__coalesce(kve_cache_req_t *st, const char *fwd)
{
    kve_coal_entry_t *e;
    h2o_iovec_t ns = h2o_iovec_init("", 0);

    if (st->self->conf->coalesce_timeout_ms == 0 || st->coal_done ||
        !h2o_memis(st->req->method.base, st->req->method.len, H2O_STRLIT("GET")))
        return -1;
    st->coal_done = 1;
    st->coal_fwd = fwd;
    pthread_mutex_lock(&mutex);
    if ((e = find(st->self, st->primary)) != NULL) {
        int pass = e->pass_until != 0; /* read under the mutex: another thread may drop the record once it expires */
        if (!pass)
            wait_on(st, e);
        pthread_mutex_unlock(&mutex);
        if (pass)
            return -1; /* hit-for-pass */
        st->coal_timer.cb = on_wait_timeout;
        h2o_timeout_link(st->req->conn->ctx->loop, &thread_state(st)->wait, &st->coal_timer);
        return 0;
    }
    e = calloc(1, sizeof(*e));
    KVE_ASSERT(e != NULL);
    e->route = st->self;
    memcpy(e->primary, st->primary, KVE_CACHE_HASH_LEN);
    h2o_linklist_init_anchor(&e->waiters);
    kve_cache_new_id(e->owner);
    kve_cache_key_name(e->lock_key, sizeof(e->lock_key), ns, st->primary, NULL, "l");
    insert(e);
    pthread_mutex_unlock(&mutex);
    st->coal = e;
    if (take_lock(st, e) != 0) { /* the store is down: lead this process */
        st->coal_role = ROLE_LEADER;
        st->coal_fill = kve_cache__fill_prepare(st);
        return -1;
    }
    st->coal_role = ROLE_CANDIDATE;
    return 0;
}

int kve_cache__coalesce_passing(const kve_cache_handler_t *self, const uint8_t *primary)
{
    kve_coal_entry_t *e;
    int pass;

    pthread_mutex_lock(&mutex);
    pass = (e = find(self, primary)) != NULL && e->pass_until != 0 && e->skip_lookup;
    pthread_mutex_unlock(&mutex);
    return pass;
}

void kve_cache__coalesce_unpass(const kve_cache_handler_t *self, const uint8_t *primary)
{
    kve_coal_entry_t *e;

    pthread_mutex_lock(&mutex);
    if ((e = find(self, primary)) != NULL && e->pass_until != 0) {
        unlink_entry(e);
        --num_pass;
        free(e);
    }
    pthread_mutex_unlock(&mutex);
}

void kve_cache__coalesce_release(kve_cache_req_t *st, kve_coal_outcome_t outcome)
{
    kve_coal_entry_t *e = kve_cache__coalesce_take(st);
    if (e != NULL)
        release_entry(e, outcome);
}

void kve_cache__coalesce_release_pass(kve_cache_req_t *st, int skip_lookup)
{
    kve_coal_entry_t *e = kve_cache__coalesce_take(st);
    if (e != NULL) {
        e->skip_lookup = skip_lookup;
        release_entry(e, KVE_COAL_PASS);
    }
}

kve_coal_entry_t *kve_cache__coalesce_take(kve_cache_req_t *st)
{
    kve_coal_entry_t *e = st->coal;
    if (e == NULL || st->coal_role != ROLE_LEADER)
        return NULL;
    st->coal = NULL;
    st->coal_role = ROLE_NONE;
    return e;
}

void kve_cache__coalesce_finish(kve_coal_entry_t *e, kve_coal_outcome_t outcome)
{
    if (e != NULL)
        release_entry(e, outcome);
}

void kve_cache__coalesce_dispose(kve_cache_req_t *st)
{
    waiter_t *w = st->coal_waiter;

    if (h2o_timeout_is_linked(&st->coal_timer))
        h2o_timeout_unlink(&st->coal_timer);
    if (w != NULL) {
        pthread_mutex_lock(&mutex);
        if (w->state == W_QUEUED) {
            h2o_linklist_unlink(&w->link);
            free(w);
        } else if (w->state == W_DETACHED) {
            free(w);
        } else {
            w->st = NULL; /* its mail frees it */
        }
        pthread_mutex_unlock(&mutex);
        st->coal_waiter = NULL;
    }
    if (st->coal != NULL) {
        /* the leader's client went away: its fill goes on in the background (cache_refresh.h) and the group waits
         * for it; the poller's: the group goes upstream itself */
        kve_coal_entry_t *e = st->coal;
        kve_cache_fill_t *fill = st->coal_role == ROLE_LEADER ? st->coal_fill : NULL;
        st->coal = NULL;
        st->coal_role = ROLE_NONE;
        st->coal_fill = NULL;
        if (fill != NULL)
            kve_cache__fill_start(fill, e);
        else
            release_entry(e, KVE_COAL_FAILED);
    }
    kve_cache__fill_discard(st->coal_fill);
    st->coal_fill = NULL;
}
