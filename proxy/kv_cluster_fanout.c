/* SPDX-License-Identifier: MIT */
/*
 * The keyless commands of a Redis Cluster store (docs/scale-out.md, "Cluster: design", "Keyless commands"): DBSIZE,
 * KEYS, FLUSHDB/FLUSHALL, SCRIPT LOAD/FLUSH/EXISTS to every primary, SCAN shard by shard, RANDOMKEY until a shard has
 * a key. One fan-out per op; each of its sub-batches is one command on a primary's link (kve_kv_batch copies it, so
 * the op's command is read only inside kve_cluster__fanout()). Invariants: a fan-out is on the link's list from the
 * moment it sent something until it completes its op, exactly once (finish()); the op is never completed from inside
 * kve_cluster__fanout() (an answer known at once waits for a 0 ms timer); replies are borrowed by the callbacks, so
 * what a fan-out keeps is a copy, and what KEYS keeps across shards is held to the op's max_reply_size.
 */
#include "proxy/kv_cluster_internal.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"
#include "proxy/redis_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_kve_cluster_fanout_t fanout_t;

/** one sub-batch: `batch` is NULL once it was answered or cancelled (or before it was sent) */
typedef struct st_sub_t {
    fanout_t *fanout;
    kve_kv_batch_t *batch;
} sub_t;

struct st_kve_cluster_fanout_t {
    fanout_t *next, **prev; /* the link's list of fan-outs in flight */
    kve_cluster_link_t *link;
    kve_kv_op_t *op;
    kve_cluster_dest_t dest;
    kve_kv_batch_opts_t opts; /* of every sub-batch: the op's timeout and max_reply_size */
    size_t pending;           /* sub-batches sent and not answered */
    char name[32];            /* the command, for the log */
    /* TO_ALL_*: the first error reply a primary sent (a copy), the answer then */
    kve_kv_reply_t *error;
    /* TO_ALL_SUM */
    long long sum;
    /* TO_ALL_OK: the first reply (a copy) */
    kve_kv_reply_t *one;
    /* TO_ALL_CONCAT: the elements so far (copies) and their cost against opts.max_reply_size */
    kve_kv_reply_t **items;
    size_t num_items, cap_items, cost;
    /* TO_ALL_AND: per element, whether every primary so far said 1; has_exists once the first array came */
    unsigned char *exists;
    size_t num_exists;
    int has_exists;
    /* SCAN: the first slot of the shard scanned */
    unsigned first_slot;
    /* RANDOM: the shards' first slots in the order they are asked, and the one asked now */
    unsigned *order;
    size_t num_order, asking;
    /* an answer known in kve_cluster__fanout(), delivered from a 0 ms timer */
    int soon_err;
    kve_kv_reply_t soon_reply;
    int soon_has_reply;
    h2o_timeout_entry_t soon_entry; /* on the cluster link's 0 ms list (kve_kv__timeout) */
    size_t num_subs;
    sub_t subs[];
};

static const char invalid_cursor[] = "ERR invalid cursor";
static const char scan_arity[] = "ERR wrong number of arguments for 'scan' command";

static void on_sub_reply(void *data, size_t index, int err, const kve_kv_reply_t *reply);

static fanout_t *new_fanout(kve_cluster_link_t *link, kve_kv_op_t *op, kve_cluster_dest_t dest, size_t num_subs)
{
    fanout_t *f = kve_malloc(offsetof(fanout_t, subs) + sizeof(sub_t) * num_subs);
    size_t max = kve_kv__max_reply_size(op->batch);

    memset(f, 0, offsetof(fanout_t, subs) + sizeof(sub_t) * num_subs);
    f->link = link;
    f->op = op;
    f->dest = dest;
    f->opts.timeout_ms = kve_kv__batch_timeout(op->batch);
    f->opts.max_reply_size = max != 0 && max < 1024 ? 1024 : max; /* kv.h: a limit below 1 KiB counts as 1 KiB */
    f->num_subs = num_subs;
    for (size_t i = 0; i != num_subs; ++i)
        f->subs[i].fanout = f;
    snprintf(f->name, sizeof(f->name), "%.*s%s%.*s", (int)KVE_MIN(op->cmd->argvlen[0], 15), op->cmd->argv[0],
             op->cmd->argc > 1 && dest == KVE_CLUSTER_TO_ALL_OK ? " " : "",
             op->cmd->argc > 1 && dest == KVE_CLUSTER_TO_ALL_OK ? (int)KVE_MIN(op->cmd->argvlen[1], 15) : 0,
             op->cmd->argc > 1 ? op->cmd->argv[1] : "");
    return f;
}

static void free_fanout(fanout_t *f)
{
    if (h2o_timeout_is_linked(&f->soon_entry))
        h2o_timeout_unlink(&f->soon_entry);
    kve_kv__reply_free(f->error);
    kve_kv__reply_free(f->one);
    for (size_t i = 0; i != f->num_items; ++i)
        kve_kv__reply_free(f->items[i]);
    free(f->items);
    free(f->exists);
    free(f->order);
    free(f);
}

static void list_add(fanout_t *f)
{
    fanout_t **head = kve_cluster__fanouts(f->link);
    f->prev = head;
    f->next = *head;
    if (f->next != NULL)
        f->next->prev = &f->next;
    *head = f;
}

/* no callback of the sub-batches still out runs any more (what they sent still runs on the nodes) */
static void cancel_subs(fanout_t *f)
{
    for (size_t i = 0; i != f->num_subs; ++i) {
        if (f->subs[i].batch != NULL) {
            kve_kv_batch_cancel(f->subs[i].batch);
            f->subs[i].batch = NULL;
        }
    }
    f->pending = 0;
}

/* the op's answer: sub-batches still out are cancelled, the fan-out leaves the list and is freed after completing */
static void finish(fanout_t *f, int err, const kve_kv_reply_t *reply)
{
    cancel_subs(f);
    if (f->prev != NULL) {
        *f->prev = f->next;
        if (f->next != NULL)
            f->next->prev = f->prev;
        f->prev = NULL;
    }
    /* a primary's link that went away (it left the map) is not this link shutting down */
    if (err == KVE_ESHUTDOWN && !f->op->batch->kv->closing)
        err = KVE_EUNAVAIL;
    kve_kv__complete(f->op, err, err == 0 ? reply : NULL);
    free_fanout(f);
}

static void on_soon(h2o_timeout_entry_t *entry)
{
    fanout_t *f = H2O_STRUCT_FROM_MEMBER(fanout_t, soon_entry, entry);
    finish(f, f->soon_err, f->soon_has_reply ? &f->soon_reply : NULL);
}

/* answers `err`, or the error reply `text` (static), from a 0 ms timer: never from inside kve_cluster__fanout() */
static void finish_soon(fanout_t *f, int err, const char *text)
{
    cancel_subs(f); /* the answer is known: what was sent runs, unheard */
    f->soon_err = err;
    if (text != NULL) {
        f->soon_reply = (kve_kv_reply_t){.type = KVE_REPLY_ERROR, .str = (char *)text, .len = strlen(text)};
        f->soon_has_reply = 1;
    }
    if (f->prev == NULL)
        list_add(f);
    f->soon_entry = (h2o_timeout_entry_t){.cb = on_soon};
    h2o_timeout_link(kve_cluster__loop(f->link), kve_kv__timeout(f->op->batch->kv, 0), &f->soon_entry);
}

/* sends `cmd` alone to `kv` as `sub` (copied: window 0, one command); 0 or the KVE_E* of kve_kv_batch */
static int send_sub(fanout_t *f, sub_t *sub, kve_kv_t *kv, const kve_kv_command_t *cmd)
{
    int err = KVE_EUNAVAIL;

    if (kv == NULL)
        return err;
    kve_kv_command_t one = KVE_KV_COMMAND(cmd->argc, cmd->argv, cmd->argvlen);
    if ((sub->batch = kve_kv_batch(kv, &one, 1, &f->opts, on_sub_reply, NULL, sub, &err)) == NULL)
        return err;
    ++f->pending;
    return 0;
}

/* --- every primary (TO_ALL_*) --- */

static void keep_error(fanout_t *f, const kve_kv_reply_t *reply)
{
    if (f->error == NULL)
        f->error = kve_kv__reply_copy(reply);
}

/* a reply of a type the command never has: the op fails (a node out of step, or not a Redis) */
static int unexpected(fanout_t *f, const kve_kv_reply_t *reply)
{
    kve_log(KVE_LOG_WARN, "cluster", "%s: a primary answered a reply of type %d", f->name, reply->type);
    return KVE_EPROTO;
}

static int merge_sum(fanout_t *f, const kve_kv_reply_t *reply)
{
    if (reply->type != KVE_REPLY_INTEGER)
        return unexpected(f, reply);
    if (__builtin_add_overflow(f->sum, reply->integer, &f->sum))
        return unexpected(f, reply);
    return 0;
}

/* KEYS: the elements are copied while what they cost (as the Redis link counts it) stays within max_reply_size */
static int merge_concat(fanout_t *f, const kve_kv_reply_t *reply, int *too_big)
{
    size_t max = f->opts.max_reply_size;

    if (reply->type != KVE_REPLY_ARRAY)
        return unexpected(f, reply);
    if (f->cost == 0)
        f->cost = KVE_REDIS_REPLY_COST;
    for (size_t i = 0; i != reply->elements; ++i) {
        const kve_kv_reply_t *e = reply->element[i];
        f->cost += KVE_REDIS_REPLY_COST + sizeof(*f->items) + e->len + 1;
        if (max != 0 && f->cost > max) {
            *too_big = 1;
            return 0;
        }
        if (f->num_items == f->cap_items) {
            f->cap_items = KVE_MAX(f->cap_items * 2, 16);
            f->items = kve_realloc(f->items, sizeof(*f->items) * f->cap_items);
        }
        f->items[f->num_items++] = kve_kv__reply_copy(e);
    }
    return 0;
}

static int merge_and(fanout_t *f, const kve_kv_reply_t *reply)
{
    if (reply->type != KVE_REPLY_ARRAY || (f->has_exists && reply->elements != f->num_exists))
        return unexpected(f, reply);
    if (!f->has_exists) {
        f->has_exists = 1;
        f->num_exists = reply->elements;
        f->exists = kve_malloc(KVE_MAX(reply->elements, 1));
        memset(f->exists, 1, KVE_MAX(reply->elements, 1));
    }
    for (size_t i = 0; i != reply->elements; ++i) {
        if (reply->element[i]->type != KVE_REPLY_INTEGER)
            return unexpected(f, reply->element[i]);
        f->exists[i] &= reply->element[i]->integer == 1;
    }
    return 0;
}

/* every primary answered: the combined reply (built here, borrowed by kve_kv__complete) */
static void finish_all(fanout_t *f)
{
    kve_kv_reply_t top = {.type = KVE_REPLY_ARRAY}, *flags = NULL, **elements = NULL;

    if (f->error != NULL) {
        if (f->dest == KVE_CLUSTER_TO_ALL_OK)
            kve_log(KVE_LOG_WARN, "cluster", "%s: a primary answered %.*s (the others may have run it)", f->name,
                    (int)KVE_MIN(f->error->len, 120), f->error->str != NULL ? f->error->str : "");
        finish(f, 0, f->error);
        return;
    }
    switch (f->dest) {
    case KVE_CLUSTER_TO_ALL_SUM:
        top = (kve_kv_reply_t){.type = KVE_REPLY_INTEGER, .integer = f->sum};
        finish(f, 0, &top);
        break;
    case KVE_CLUSTER_TO_ALL_CONCAT:
        top.elements = f->num_items;
        top.element = f->items;
        finish(f, 0, &top);
        break;
    case KVE_CLUSTER_TO_ALL_OK:
        finish(f, 0, f->one);
        break;
    default: /* TO_ALL_AND */
        top.elements = f->num_exists;
        flags = kve_malloc(sizeof(*flags) * KVE_MAX(f->num_exists, 1));
        elements = kve_malloc(sizeof(*elements) * KVE_MAX(f->num_exists, 1));
        for (size_t i = 0; i != f->num_exists; ++i) {
            flags[i] = (kve_kv_reply_t){.type = KVE_REPLY_INTEGER, .integer = f->exists[i]};
            elements[i] = flags + i;
        }
        top.element = elements;
        finish(f, 0, &top);
        free(elements);
        free(flags);
        break;
    }
}

static const kve_kv_reply_t too_big_reply = {.type = KVE_REPLY_TOO_BIG};

static void on_all_reply(fanout_t *f, const kve_kv_reply_t *reply)
{
    int err = 0, too_big = reply->type == KVE_REPLY_TOO_BIG;

    if (reply->type == KVE_REPLY_ERROR) {
        keep_error(f, reply);
    } else if (!too_big) {
        switch (f->dest) {
        case KVE_CLUSTER_TO_ALL_SUM:
            err = merge_sum(f, reply);
            break;
        case KVE_CLUSTER_TO_ALL_CONCAT:
            err = merge_concat(f, reply, &too_big);
            break;
        case KVE_CLUSTER_TO_ALL_OK:
            if (f->one == NULL)
                f->one = kve_kv__reply_copy(reply);
            break;
        default:
            err = merge_and(f, reply);
            break;
        }
    }
    if (err != 0)
        finish(f, err, NULL);
    else if (too_big)
        finish(f, 0, &too_big_reply);
    else if (f->pending == 0)
        finish_all(f);
}

static int fanout_all(kve_cluster_link_t *link, kve_kv_op_t *op, kve_cluster_dest_t dest)
{
    kve_cluster_shard_t shards[KVE_CLUSTER_MAX_SHARDS];
    size_t n = kve_cluster__shards(link, shards, KVE_CLUSTER_MAX_SHARDS);
    fanout_t *f;
    int err = 0;

    if (n == 0)
        return KVE_EUNAVAIL;
    f = new_fanout(link, op, dest, n);
    for (size_t i = 0; i != n && err == 0; ++i)
        err = send_sub(f, f->subs + i, shards[i].kv, op->cmd);
    if (err != 0 && f->pending == 0) {
        free_fanout(f);
        return err;
    }
    if (err != 0) {
        /* some primaries have it, one could not be sent to: the op fails (what was sent runs anyway) */
        kve_log(KVE_LOG_WARN, "cluster", "%s: not sent to every primary (%s)", f->name, kve_strerror(err));
        finish_soon(f, err, NULL);
        return 0;
    }
    list_add(f);
    return 0;
}

/* --- SCAN --- */

/* a node's cursor: decimal digits below 2^64 */
static int parse_cursor(const kve_kv_reply_t *r, uint64_t *out)
{
    uint64_t v = 0;

    if (r->type != KVE_REPLY_STRING || r->len == 0 || r->len > 20)
        return -1;
    for (size_t i = 0; i != r->len; ++i) {
        unsigned d = (unsigned char)r->str[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* [node cursor, keys] from the shard: [kvedge cursor, the same keys] (borrowed) */
static void on_scan_reply(fanout_t *f, const kve_kv_reply_t *reply)
{
    uint64_t node_cursor, cursor = 0;
    char text[24];

    if (reply->type == KVE_REPLY_ERROR || reply->type == KVE_REPLY_TOO_BIG) {
        finish(f, 0, reply);
        return;
    }
    if (reply->type != KVE_REPLY_ARRAY || reply->elements != 2 || parse_cursor(reply->element[0], &node_cursor) != 0 ||
        reply->element[1]->type != KVE_REPLY_ARRAY) {
        finish(f, unexpected(f, reply), NULL);
        return;
    }
    if (node_cursor == 0) {
        int next = kve_cluster__next_shard(f->link, f->first_slot);
        cursor = next < 0 ? 0 : (uint64_t)next;
    } else if (kve_cluster_scan_encode(node_cursor, f->first_slot, &cursor) != 0) {
        kve_log(KVE_LOG_WARN, "cluster", "SCAN: the shard of slot %u answered a cursor beyond 2^39", f->first_slot);
        kve_kv_reply_t error = {.type = KVE_REPLY_ERROR, .str = (char *)invalid_cursor, .len = sizeof(invalid_cursor) - 1};
        finish(f, 0, &error);
        return;
    }
    snprintf(text, sizeof(text), "%llu", (unsigned long long)cursor);
    kve_kv_reply_t head = {.type = KVE_REPLY_STRING, .str = text, .len = strlen(text)};
    kve_kv_reply_t *elements[2] = {&head, reply->element[1]};
    kve_kv_reply_t top = {.type = KVE_REPLY_ARRAY, .elements = 2, .element = elements};
    finish(f, 0, &top);
}

/* which shard the client's cursor names (`first`: the map's first shard): 0 with *first_slot and *kv set, or -1 (an
 * invalid cursor) */
static int scan_shard(kve_cluster_link_t *link, const kve_cluster_shard_t *first, uint64_t node_cursor, unsigned slot,
                      unsigned *first_slot, kve_kv_t **kv)
{
    if (node_cursor == 0 && slot == 0) { /* "0": the first shard, whatever its first slot */
        *first_slot = first->first_slot;
        *kv = first->kv;
        return 0;
    }
    if (!kve_cluster__is_first_slot(link, slot))
        return -1;
    *first_slot = slot;
    *kv = kve_cluster__slot_link(link, slot);
    return 0;
}

/* SCAN, or the KV API's SCAN WITHTYPE script (cluster_route.h: its cursor is argv[3]): the same command to the shard,
 * with the node's cursor in place of kvedge's */
static int fanout_scan(kve_cluster_link_t *link, kve_kv_op_t *op)
{
    const kve_kv_command_t *cmd = op->cmd;
    fanout_t *f = new_fanout(link, op, KVE_CLUSTER_SCAN, 1);
    size_t at = kve_cluster_is_scan_withtype(cmd) ? 3 : 1; /* the cursor's argument */
    uint64_t node_cursor;
    unsigned slot;
    kve_kv_t *kv = NULL;
    char text[24];
    int err;

    kve_cluster_shard_t first;

    if (kve_cluster__shards(link, &first, 1) == 0) { /* no map yet: the cursor may well be fine */
        free_fanout(f);
        return KVE_EUNAVAIL;
    }
    if (cmd->argc < 2) {
        finish_soon(f, 0, scan_arity);
        return 0;
    }
    if (kve_cluster_scan_decode(cmd->argv[at], cmd->argvlen[at], &node_cursor, &slot) != 0 ||
        scan_shard(link, &first, node_cursor, slot, &f->first_slot, &kv) != 0) {
        finish_soon(f, 0, invalid_cursor);
        return 0;
    }
    const char **argv = kve_malloc(sizeof(*argv) * cmd->argc);
    size_t *argvlen = kve_malloc(sizeof(*argvlen) * cmd->argc);
    snprintf(text, sizeof(text), "%llu", (unsigned long long)node_cursor);
    for (size_t i = 0; i != cmd->argc; ++i) {
        argv[i] = cmd->argv[i];
        argvlen[i] = cmd->argvlen[i];
    }
    argv[at] = text;
    argvlen[at] = strlen(text);
    err = send_sub(f, f->subs, kv, &KVE_KV_COMMAND(cmd->argc, argv, argvlen));
    free(argv);
    free(argvlen);
    if (err != 0) {
        free_fanout(f);
        return err;
    }
    list_add(f);
    return 0;
}

/* --- RANDOMKEY --- */

/* a per-thread xorshift: which shard RANDOMKEY asks first (no secret in it) */
static unsigned pick(size_t n, h2o_loop_t *loop)
{
    static __thread uint64_t state;

    if (state == 0)
        state = (h2o_now(loop) * UINT64_C(0x9e3779b97f4a7c15)) ^ (uint64_t)(uintptr_t)&state ^ 1;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (unsigned)(state % n);
}

static void on_random_reply(fanout_t *f, const kve_kv_reply_t *reply)
{
    static const char *const argv[] = {"RANDOMKEY"};
    static const size_t argvlen[] = {9};
    int err;

    if (reply->type != KVE_REPLY_NIL || ++f->asking == f->num_order) {
        finish(f, 0, reply); /* a key, an error, or every shard was empty */
        return;
    }
    /* the map may have changed since the first send: the shard is looked up by its first slot again */
    if ((err = send_sub(f, f->subs, kve_cluster__slot_link(f->link, f->order[f->asking]), &KVE_KV_COMMAND(1, argv, argvlen))) != 0)
        finish(f, err, NULL);
}

static int fanout_random(kve_cluster_link_t *link, kve_kv_op_t *op)
{
    kve_cluster_shard_t shards[KVE_CLUSTER_MAX_SHARDS];
    size_t n = kve_cluster__shards(link, shards, KVE_CLUSTER_MAX_SHARDS), start;
    fanout_t *f;
    int err;

    if (n == 0)
        return KVE_EUNAVAIL;
    f = new_fanout(link, op, KVE_CLUSTER_RANDOM, 1);
    f->order = kve_malloc(sizeof(*f->order) * n);
    f->num_order = n;
    start = pick(n, kve_cluster__loop(link));
    for (size_t i = 0; i != n; ++i)
        f->order[i] = shards[(start + i) % n].first_slot;
    if ((err = send_sub(f, f->subs, shards[start].kv, op->cmd)) != 0) {
        free_fanout(f);
        return err;
    }
    list_add(f);
    return 0;
}

/* --- the callbacks, the entry points --- */

static void on_sub_reply(void *data, size_t index, int err, const kve_kv_reply_t *reply)
{
    sub_t *sub = data;
    fanout_t *f = sub->fanout;

    (void)index;
    sub->batch = NULL; /* its only command is answered: the batch ends after this callback */
    --f->pending;
    if (err != 0) {
        finish(f, err, NULL);
        return;
    }
    switch (f->dest) {
    case KVE_CLUSTER_SCAN:
        on_scan_reply(f, reply);
        break;
    case KVE_CLUSTER_RANDOM:
        on_random_reply(f, reply);
        break;
    default:
        on_all_reply(f, reply);
        break;
    }
}

int kve_cluster__fanout(kve_cluster_link_t *link, kve_kv_op_t *op, const kve_cluster_route_t *route)
{
    switch (route->dest) {
    case KVE_CLUSTER_TO_ALL_SUM:
    case KVE_CLUSTER_TO_ALL_CONCAT:
    case KVE_CLUSTER_TO_ALL_OK:
    case KVE_CLUSTER_TO_ALL_AND:
        return fanout_all(link, op, route->dest);
    case KVE_CLUSTER_SCAN:
        return fanout_scan(link, op);
    case KVE_CLUSTER_RANDOM:
        return fanout_random(link, op);
    default:
        return KVE_EINVAL; /* not a fan-out: the link's own to answer */
    }
}

void kve_cluster__fanout_shutdown(kve_cluster_link_t *link)
{
    fanout_t **head = kve_cluster__fanouts(link);

    while (*head != NULL)
        finish(*head, KVE_ESHUTDOWN, NULL);
}
