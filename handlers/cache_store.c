/* SPDX-License-Identifier: MIT */
/*
 * The cache's store batches (see cache_internal.h, kve_cache__send_store). On one Redis an object and its set entries
 * go in ONE atomic batch. On a sharded store (Redis Cluster: kve_kv_is_sharded) that batch would span slots (each tag
 * and route set has a slot of its own, cache_tags.h), which the store refuses whole; so there the set entries go
 * first, as a batch that is not atomic (the driver sends each command to its slot's node), and the object's own
 * atomic batch (one slot: the URL's hash tag) follows once every set entry was applied. A set member whose object is
 * missing is harmless (a purge skips it); an object missing from its sets could not be purged, so when a set entry
 * fails the object is not written (a store error, as a failed batch on one Redis). The wait costs a round trip, on a
 * sharded store only, and no client waits for it.
 */
#include "handlers/cache_internal.h"
#include "handlers/cache_stats.h"
#include "handlers/cache_tags.h"
#include "proxy/common.h"
#include "proxy/err.h"

#include <stdlib.h>
#include <string.h>

static void on_write_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
}

/* a store batch's completion: its counters (kve_cache__store_ctx), and a coalescing group released once applied */
typedef struct st_coal_write_t {
    void *stats;
    kve_coal_entry_t *coal;
    int failed;
} coal_write_t;

static void on_coal_write_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    coal_write_t *w = data;
    if (err != 0 || reply->type == KVE_REPLY_ERROR)
        w->failed = 1;
}

static void on_coal_write_done(void *data, const kve_kv_batch_result_t *result)
{
    coal_write_t *w = data;
    kve_cache__store_done(w->stats, result);
    kve_cache__coalesce_finish(w->coal, result->err != 0 || w->failed ? KVE_COAL_FAILED : KVE_COAL_STORED);
    free(w);
}

/* `sets` (nsets commands, may be 0) then `cmds` as one batch: the behaviour on one Redis */
static void send_one(kve_kv_t *kv, kve_coal_entry_t *coal, const kve_kv_command_t *cmds, size_t n, const kve_kv_command_t *sets,
                     size_t nsets, unsigned flags, void *stats)
{
    kve_kv_command_t small[8], *kc = small;
    kve_kv_batch_opts_t opts = {.flags = flags};
    coal_write_t *cw = NULL;
    int err;

    if (n + nsets > KVE_ARRAY_SIZE(small))
        kc = kve_malloc((n + nsets) * sizeof(*kc));
    if (nsets != 0)
        memcpy(kc, sets, nsets * sizeof(*kc));
    memcpy(kc + nsets, cmds, n * sizeof(*kc));
    if (coal != NULL && (cw = calloc(1, sizeof(*cw))) != NULL)
        cw->stats = stats, cw->coal = coal;
    /* the batch copies every argument: the request and `kc` may be gone when it ends */
    if (kv == NULL ||
        kve_kv_batch(kv, kc, n + nsets, &opts, cw != NULL ? on_coal_write_reply : on_write_reply,
                     cw != NULL ? on_coal_write_done : kve_cache__store_done, cw != NULL ? (void *)cw : stats, &err) == NULL) {
        kve_cache__store_not_sent(stats);
        free(cw);
        kve_cache__coalesce_finish(coal, KVE_COAL_FAILED);
    } else if (coal != NULL && cw == NULL) {
        kve_cache__coalesce_finish(coal, KVE_COAL_FAILED);
    }
    if (kc != small)
        free(kc);
}

/* --- a sharded store: the set entries, then the object --- */

/* the object's batch while the set entries are out: a copy of its commands (one allocation), its group and counters */
typedef struct st_split_t {
    kve_kv_t *kv;
    kve_coal_entry_t *coal;
    void *stats;
    unsigned flags;
    int sets_failed;
    size_t n;
    kve_kv_command_t *cmds;
} split_t;

/* a copy of `cmds` (n of them) in one allocation with the split's own fields, flags of each command kept */
static split_t *split_new(const kve_kv_command_t *cmds, size_t n)
{
    size_t args = 0, bytes = 0, i, j;
    split_t *s;
    const char **argv;
    size_t *argvlen;
    char *p;

    for (i = 0; i != n; ++i) {
        args += cmds[i].argc;
        for (j = 0; j != cmds[i].argc; ++j)
            bytes += cmds[i].argvlen[j];
    }
    s = kve_malloc(sizeof(*s) + n * sizeof(kve_kv_command_t) + args * (sizeof(char *) + sizeof(size_t)) + bytes + 1);
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->cmds = (kve_kv_command_t *)(s + 1);
    argv = (const char **)(s->cmds + n);
    argvlen = (size_t *)(argv + args);
    p = (char *)(argvlen + args);
    for (i = 0; i != n; ++i) {
        s->cmds[i] = cmds[i];
        s->cmds[i].argv = argv, s->cmds[i].argvlen = argvlen;
        for (j = 0; j != cmds[i].argc; ++j) {
            if (cmds[i].argvlen[j] != 0)
                memcpy(p, cmds[i].argv[j], cmds[i].argvlen[j]);
            *argv++ = p, *argvlen++ = cmds[i].argvlen[j];
            p += cmds[i].argvlen[j];
        }
    }
    return s;
}

static void on_sets_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    split_t *s = data;
    if (err != 0 || reply->type == KVE_REPLY_ERROR || reply->type == KVE_REPLY_TOO_BIG)
        s->sets_failed = 1;
}

static void on_sets_done(void *data, const kve_kv_batch_result_t *result)
{
    split_t *s = data;

    if (result->err == 0 && !s->sets_failed) {
        /* the link is alive: this callback is its own (a closing link ends its batches with KVE_ESHUTDOWN) */
        send_one(s->kv, s->coal, s->cmds, s->n, NULL, 0, s->flags, s->stats);
    } else {
        kve_kv_batch_result_t failed = {.err = result->err != 0 ? result->err : KVE_EPROTO};
        kve_cache__store_done(s->stats, &failed);
        kve_cache__coalesce_finish(s->coal, KVE_COAL_FAILED);
    }
    free(s);
}

static void send_split(kve_kv_t *kv, kve_coal_entry_t *coal, const kve_kv_command_t *cmds, size_t n, const kve_kv_command_t *sets,
                       size_t nsets, unsigned flags, void *stats)
{
    split_t *s = split_new(cmds, n);
    int err;

    s->kv = kv, s->coal = coal, s->stats = stats, s->flags = flags;
    /* not atomic: each SADD / PEXPIRE in its own set's slot; the batch copies every argument */
    if (kve_kv_batch(kv, sets, nsets, NULL, on_sets_reply, on_sets_done, s, &err) == NULL) {
        kve_cache__store_not_sent(stats);
        kve_cache__coalesce_finish(coal, KVE_COAL_FAILED);
        free(s);
    }
}

void kve_cache__send_store(kve_kv_t *kv, kve_coal_entry_t *coal, const kve_kv_command_t *cmds, size_t n,
                           const kve_cache_set_writes_t *sets, unsigned flags, void *stats)
{
    size_t nsets = sets != NULL ? sets->n : 0;

    if (nsets != 0 && (flags & KVE_KV_BATCH_ATOMIC) != 0 && kv != NULL && kve_kv_is_sharded(kv))
        send_split(kv, coal, cmds, n, sets->cmds, nsets, flags, stats);
    else
        send_one(kv, coal, cmds, n, nsets != 0 ? sets->cmds : NULL, nsets, flags, stats);
}
