/* SPDX-License-Identifier: MIT */
/*
 * The replicas topology (see kv_replicas.h). The link is a kv.c link of its own whose driver routes: route() sends
 * every batch that may not go to a replica to the primary's link (kv.c then runs it there: nothing here sees it
 * again), and keeps the others. Their ops reach send() in one go (all of a batch's commands fit its window), and the
 * first one sends the whole batch, behind a ROLE, as a batch of the chosen replica's link: a "probe" (below), which
 * holds a copy of the commands so that they can still go to the primary after the caller's memory is gone. The
 * probe's replies complete the ops; a ROLE that does not allow the read, or a replica that fails a command, sends the
 * ops not yet answered to the primary's connection directly (its driver's send: the ops complete there as they
 * would on a standalone link).
 */
#include "proxy/kv_replicas.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_redis.h"
#include "proxy/log.h"

#include <stdio.h>
#include <string.h>

/* a replica that said it is not linked to its primary (or is loading, or failed) is left alone this long */
#define SKIP_MS 500

typedef struct st_node_t {
    kve_kv_t *kv;
    kve_kv_node_stats_t *stats;
    uint64_t skip_until;
    int logged_skip;
} node_t;

typedef struct st_replicas_link_t {
    kve_kv_t super;
    kve_kv_t *primary;
    kve_kv_node_stats_t *primary_stats;
    size_t num_replicas;
    size_t next; /* round robin */
    /* from route() to the send() calls of the same kve_kv_batch(): the chosen replica and the batch's timeout */
    node_t *chosen;
    uint64_t timeout_ms;
    /* the batch whose ops send() is receiving, and whether they go to the primary (the probe could not be sent) */
    kve_kv_batch_t *current;
    int current_on_primary;
    node_t replicas[];
} replicas_link_t;

/* a batch sent to a replica: ROLE and a copy of the commands (cmds[0] is ROLE, cmds[1 + i] the batch's op i) */
typedef struct st_probe_t {
    replicas_link_t *link;
    node_t *node;
    kve_kv_batch_t *batch; /* the caller's batch, on this link: kept by kv.c until every op is completed */
    kve_kv_batch_t *sub;   /* the batch on the replica's link, NULL once done or cancelled */
    uint64_t min_sync;
    size_t n;
    int verified; /* ROLE allowed the read */
    kve_kv_command_t cmds[];
} probe_t;

enum { ROLE_OK, ROLE_BEHIND, ROLE_UNLINKED };

/* --- ROLE --- */

static int str_is(const kve_kv_reply_t *r, const char *s)
{
    return r->type == KVE_REPLY_STRING && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* a replica's ROLE: ["slave", host, port, state, offset]; linked when the state is "connected" */
static int role_check(int err, const kve_kv_reply_t *r, uint64_t min_sync, const char **why)
{
    if (err != 0 || r == NULL) {
        *why = "no answer to ROLE";
        return ROLE_UNLINKED;
    }
    if (r->type == KVE_REPLY_ERROR) {
        *why = r->len >= 7 && memcmp(r->str, "LOADING", 7) == 0 ? "loading" : "ROLE failed";
        return ROLE_UNLINKED;
    }
    if (r->type != KVE_REPLY_ARRAY || r->elements < 5 || !str_is(r->element[0], "slave")) {
        *why = "not a replica";
        return ROLE_UNLINKED;
    }
    if (!str_is(r->element[3], "connected")) {
        *why = "not linked to its primary";
        return ROLE_UNLINKED;
    }
    if (r->element[4]->type != KVE_REPLY_INTEGER || r->element[4]->integer < 0) {
        *why = "no replication offset";
        return ROLE_UNLINKED;
    }
    return (uint64_t)r->element[4]->integer >= min_sync ? ROLE_OK : ROLE_BEHIND;
}

static int is_loading(const kve_kv_reply_t *r)
{
    return r->type == KVE_REPLY_ERROR && r->len >= 7 && memcmp(r->str, "LOADING", 7) == 0;
}

static void skip_node(replicas_link_t *link, node_t *node, const char *why)
{
    node->skip_until = h2o_now(link->super.loop) + SKIP_MS;
    if (!node->logged_skip)
        kve_log(KVE_LOG_WARN, "redis", "replica %s skipped: %s; reads go to the other replicas and the primary", node->kv->peer,
                why);
    node->logged_skip = 1;
}

/* --- choosing --- */

static int node_usable(replicas_link_t *link, node_t *node)
{
    return KVE_STAT_GET(node->kv->stats->state) == KVE_KV_UP && h2o_now(link->super.loop) >= node->skip_until;
}

static node_t *pick(replicas_link_t *link)
{
    for (size_t tries = 0; tries != link->num_replicas; ++tries) {
        node_t *node = link->replicas + link->next;
        link->next = link->next + 1 == link->num_replicas ? 0 : link->next + 1;
        if (node_usable(link, node))
            return node;
    }
    return NULL;
}

/* whether a replica may serve the batch: reads only, each naming the position it needs (a read with min_sync 0, such
 * as the cache's and the sessions' lookups, must see this link's latest writes: kv.h's order), nothing that needs the
 * primary's connection */
static int replica_batch(const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts, size_t *reads)
{
    int ok = (opts->flags & (KVE_KV_BATCH_ATOMIC | KVE_KV_BATCH_SYNC | KVE_KV_BATCH_ORDERED)) == 0 &&
             (opts->window == 0 || n <= opts->window);
    *reads = 0;
    for (size_t i = 0; i != n; ++i) {
        if ((cmds[i].flags & KVE_KV_CMD_READ_ONLY) == 0) {
            ok = 0;
            continue;
        }
        ++*reads;
        if (cmds[i].min_sync == 0 || cmds[i].script != NULL ||
            kve_kv_script_kind(cmds[i].argv[0], cmds[i].argvlen[0]) != KVE_KV_SCRIPT_NONE)
            ok = 0;
    }
    return ok;
}

static kve_kv_t *replicas_route(kve_kv_t *kv, const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts)
{
    replicas_link_t *link = (void *)kv;
    size_t reads;

    if (replica_batch(cmds, n, opts, &reads) && (link->chosen = pick(link)) != NULL) {
        link->timeout_ms = opts->timeout_ms;
        return kv;
    }
    KVE_STAT_ADD(link->primary_stats->reads, reads);
    return link->primary;
}

/* --- probes --- */

/* the probe with a copy of the batch's commands in one block: the commands, then every argv, every argvlen, the bytes
 * (pointers and sizes first, so each array is aligned) */
static probe_t *probe_new(replicas_link_t *link, node_t *node, kve_kv_batch_t *b)
{
    static const char *const role[] = {"ROLE"};
    static const size_t role_len[] = {4};
    size_t i, j, args = 0, bytes = 0;
    const char **argv;
    size_t *argvlen;
    char *mem;
    probe_t *p;

    for (i = 0; i != b->n; ++i) {
        args += b->ops[i].cmd->argc;
        for (j = 0; j != b->ops[i].cmd->argc; ++j)
            bytes += b->ops[i].cmd->argvlen[j];
    }
    p = kve_malloc(offsetof(probe_t, cmds) + sizeof(kve_kv_command_t) * (b->n + 1) + (sizeof(char *) + sizeof(size_t)) * args +
                   bytes);
    *p = (probe_t){.link = link, .node = node, .batch = b, .n = b->n};
    p->cmds[0] = KVE_KV_COMMAND(1, role, role_len);
    argv = (const char **)(p->cmds + b->n + 1);
    argvlen = (size_t *)(argv + args);
    mem = (char *)(argvlen + args);
    for (i = 0; i != b->n; ++i) {
        const kve_kv_command_t *c = b->ops[i].cmd;
        p->cmds[1 + i] = KVE_KV_COMMAND(c->argc, argv, argvlen);
        p->cmds[1 + i].flags = c->flags;
        for (j = 0; j != c->argc; ++j) {
            memcpy(mem, c->argv[j], c->argvlen[j]);
            *argv++ = mem;
            *argvlen++ = c->argvlen[j];
            mem += c->argvlen[j];
        }
        p->min_sync = KVE_MAX(p->min_sync, c->min_sync);
    }
    return p;
}

/* ops [from, n) of the probe's batch go to the primary's connection (they complete there); the probe is over */
static void to_primary(probe_t *p, size_t from)
{
    replicas_link_t *link = p->link;
    kve_kv_t *primary = link->primary;

    if (p->sub != NULL) {
        kve_kv_batch_cancel(p->sub); /* its replies, if any still come, are dropped */
        p->sub = NULL;
    }
    KVE_STAT_ADD(p->node->stats->fallbacks, 1);
    KVE_STAT_ADD(link->primary_stats->reads, p->n - from);
    for (size_t i = from; i != p->n; ++i) {
        kve_kv_op_t *op = p->batch->ops + i;
        int err;
        op->cmd = p->cmds + 1 + i; /* read during send only */
        if (link->super.closing || (err = primary->driver->send(primary, op)) != 0)
            kve_kv__complete(op, link->super.closing ? KVE_ESHUTDOWN : err, NULL); /* from the loop, not from our send() */
    }
    free(p);
}

static void on_probe_reply(void *data, size_t index, int err, const kve_kv_reply_t *reply)
{
    probe_t *p = data;
    const char *why = "";

    if (index == 0) {
        if (p->link->super.closing) /* shutting down: the ops fail with the rest (below) */
            return;
        switch (role_check(err, reply, p->min_sync, &why)) {
        case ROLE_OK:
            p->verified = 1;
            p->node->logged_skip = 0;
            return;
        case ROLE_UNLINKED:
            skip_node(p->link, p->node, why);
            break;
        default: /* behind the request's sync position: the primary has it */
            kve_log(KVE_LOG_DEBUG, "redis", "replica %s is behind: offset %lld, the read needs %llu", p->node->kv->peer,
                    reply->element[4]->integer, (unsigned long long)p->min_sync);
            break;
        }
        to_primary(p, 0);
        return;
    }
    if (!p->link->super.closing && (err != 0 || is_loading(reply))) {
        skip_node(p->link, p->node, err != 0 ? kve_strerror(err) : "loading");
        to_primary(p, index - 1); /* the earlier ones were answered (replies come in order) */
        return;
    }
    if (err == 0)
        KVE_STAT_ADD(p->node->stats->reads, 1);
    kve_kv__complete(p->batch->ops + index - 1, err, reply);
}

static void on_probe_done(void *data, const kve_kv_batch_result_t *result)
{
    free(data); /* every op was completed by on_probe_reply */
}

/* the first op of a batch route() kept sends the whole batch to the chosen replica; the others were sent with it */
static int replicas_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    replicas_link_t *link = (void *)kv;
    kve_kv_batch_opts_t opts = {0};
    probe_t *p;
    int err;

    if (op->index != 0) {
        KVE_ASSERT(op->batch == link->current);
        return link->current_on_primary ? link->primary->driver->send(link->primary, op) : 0;
    }
    link->current = op->batch;
    link->current_on_primary = 0;
    p = probe_new(link, link->chosen, op->batch);
    /* half the caller's time: a replica that does not answer (hung, partitioned) leaves the other half to the primary */
    opts.timeout_ms = KVE_MAX((link->timeout_ms != 0 ? link->timeout_ms : kv->default_timeout_ms) / 2, 1);
    opts.max_reply_size = op->batch->max_reply_size;
    if ((p->sub = kve_kv_batch(p->node->kv, p->cmds, p->n + 1, &opts, on_probe_reply, on_probe_done, p, &err)) != NULL)
        return 0;
    /* the replica's link refused it (down): the batch goes to the primary, op by op, as on a standalone link */
    skip_node(link, p->node, kve_strerror(err));
    KVE_STAT_ADD(p->node->stats->fallbacks, 1);
    KVE_STAT_ADD(link->primary_stats->reads, p->n);
    free(p);
    link->current_on_primary = 1;
    return link->primary->driver->send(link->primary, op);
}

/* the primary's link does its own breaking; a replica's timeouts count on its link (the probe is a batch there) */
static void replicas_on_timeout(kve_kv_t *kv)
{
}

static void replicas_on_reply(kve_kv_t *kv)
{
}

static int replicas_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    KVE_ASSERT(!"transactions are routed to the primary");
    return KVE_EPROTO;
}

static kve_kv_stream_t *replicas_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                             kve_kv_stream_cb cb, void *data, int *err)
{
    replicas_link_t *link = (void *)kv;
    /* the stream starts with a pointer to the primary's link: kve_kv_stream_close finds its driver */
    return link->primary->driver->stream_open(link->primary, argc, argv, argvlen, cb, data, err);
}

static void replicas_destroy(kve_kv_t *kv)
{
    replicas_link_t *link = (void *)kv;

    /* the replicas first: their probes fail the ops they hold (no fallback while closing), then the primary's link
     * fails what it holds, the batches of this link included */
    for (size_t i = 0; i != link->num_replicas; ++i)
        kve_kv_destroy(link->replicas[i].kv);
    kve_kv_destroy(link->primary);
    kve_kv__dispose(kv);
    free(link);
}

static const kve_kv_driver_t replicas_driver = {.name = "redis-replicas",
                                                .send = replicas_send,
                                                .send_atomic = replicas_send_atomic,
                                                .on_timeout = replicas_on_timeout,
                                                .on_reply = replicas_on_reply,
                                                .destroy = replicas_destroy,
                                                .stream_open = replicas_stream_open,
                                                .route = replicas_route};

kve_kv_t *kve_kv_replicas_create(h2o_loop_t *loop, const kve_redis_target_t *primary, const kve_redis_target_t *replicas, size_t n,
                                 const kve_redis_conf_t *conf, kve_kv_stats_t *stats, kve_kv_node_stats_t *nodes)
{
    replicas_link_t *link;

    KVE_ASSERT(n != 0 && n <= KVE_KV_MAX_REPLICAS && stats != NULL);
    link = kve_zalloc(offsetof(replicas_link_t, replicas) + sizeof(node_t) * n);
    kve_kv__init(&link->super, &replicas_driver, loop, conf->command_timeout_ms);
    kve_kv__use_stats(&link->super, stats);
    /* the primary's link writes the same block (same thread): the store's counters and state are the primary's */
    link->primary = kve_kv_redis_create(loop, primary, conf, stats);
    kve_kv_redis_role_per_batch(link->primary); /* exact positions: replicas serve a token as soon as they have its writes */
    link->primary_stats = nodes;
    link->num_replicas = n;
    for (size_t i = 0; i != n; ++i) {
        link->replicas[i].stats = nodes + 1 + i;
        link->replicas[i].kv = kve_kv_redis_create(loop, replicas + i, conf, &nodes[1 + i].link);
    }
    memcpy(link->super.peer, link->primary->peer, sizeof(link->super.peer)); /* the primary's: the replicas log their own */
    return &link->super;
}
