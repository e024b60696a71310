/* SPDX-License-Identifier: MIT */
/* Recycled hiredis reply objects (see redis_reply.h). */
#include "proxy/redis_reply.h"
#include "proxy/common.h"
#include "proxy/kv.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <hiredis/sds.h>

#define MAX_FREE 4096 /* objects kept per thread */

/*
 * The objects are kvedge's own kve_kv_reply_t, built here as hiredis parses (no second pass over a redisReply).
 * hiredis treats them as opaque except in its async layer, which reads `type`, `str`, `integer`, `elements` and
 * `element` (spontaneous error replies, the subscribe and monitor paths of kv_redis_stream.c): those fields are
 * where redisReply has them, checked below. Nothing else relies on the layout.
 */
_Static_assert(KVE_REPLY_STRING == REDIS_REPLY_STRING && KVE_REPLY_ARRAY == REDIS_REPLY_ARRAY &&
                   KVE_REPLY_INTEGER == REDIS_REPLY_INTEGER && KVE_REPLY_NIL == REDIS_REPLY_NIL &&
                   KVE_REPLY_STATUS == REDIS_REPLY_STATUS && KVE_REPLY_ERROR == REDIS_REPLY_ERROR,
               "reply kinds match hiredis");
_Static_assert(offsetof(kve_kv_reply_t, type) == offsetof(redisReply, type) &&
                   offsetof(kve_kv_reply_t, integer) == offsetof(redisReply, integer) &&
                   offsetof(kve_kv_reply_t, len) == offsetof(redisReply, len) &&
                   offsetof(kve_kv_reply_t, str) == offsetof(redisReply, str) &&
                   offsetof(kve_kv_reply_t, elements) == offsetof(redisReply, elements) &&
                   offsetof(kve_kv_reply_t, element) == offsetof(redisReply, element),
               "the fields hiredis' async layer reads are where it looks for them");

typedef struct st_reply_t {
    kve_kv_reply_t r;
    struct st_reply_t *next_free;
    char inline_str[KVE_REDIS_REPLY_INLINE];
} reply_t;

_Static_assert(sizeof(reply_t) <= KVE_REDIS_REPLY_COST, "KVE_REDIS_REPLY_COST covers an object");

static __thread reply_t *free_list;
static __thread size_t num_free;

/* stands for every element of a reply past its limit: never attached, never freed, never written */
static reply_t placeholder = {.r = {.type = KVE_REPLY_TOO_BIG}};

static kve_kv_reply_t *new_reply(int type)
{
    reply_t *r = free_list;
    if (r != NULL) {
        free_list = r->next_free;
        --num_free;
    } else {
        r = kve_malloc(sizeof(*r));
    }
    memset(&r->r, 0, sizeof(r->r));
    r->r.type = type;
    return &r->r;
}

static void free_reply(void *p)
{
    reply_t *r = p;
    size_t i;

    if (r == NULL || r == &placeholder)
        return;
    if (r->r.element != NULL) {
        for (i = 0; i != r->r.elements; ++i)
            free_reply(r->r.element[i]);
        free(r->r.element);
    }
    if ((r->r._mem & KVE_KV_REPLY_OWNS_STR) != 0) /* not when inline, nor after kve_kv_reply_take_str() */
        free(r->r.str);
    if (num_free == MAX_FREE) {
        free(r);
        return;
    }
    r->next_free = free_list;
    free_list = r;
    ++num_free;
}

/* the top-level element `task` belongs to (its ancestor whose parent is the root), or NULL for the root */
static const redisReadTask *top_element(const redisReadTask *task)
{
    if (task->parent == NULL)
        return NULL;
    while (task->parent->parent != NULL)
        task = task->parent;
    return task;
}

/*
 * A split reply passed its limit inside the top-level element of `task`. When that element is an array
 * being built, what it holds is freed now (hiredis keeps pointers to the arrays on its task stack but never
 * reads them; only these functions do, and they attach nothing more to this element) and its cost is given
 * back, so the elements after it may still fit; the emptied array stands for the whole element.
 */
static int entry_over(kve_redis_reader_t *rd, const redisReadTask *task)
{
    const redisReadTask *top = top_element(task);
    kve_kv_reply_t *r;
    size_t i;

    rd->state = KVE_REDIS_READ_ENTRY_OVER;
    if (top == task)
        return 2;
    r = top->obj;
    for (i = 0; i != r->elements; ++i)
        free_reply(r->element[i]);
    free(r->element);
    r->element = NULL;
    r->elements = 0;
    r->type = KVE_REPLY_TOO_BIG;
    rd->used = rd->entry_start + KVE_REDIS_REPLY_COST;
    return 0;
}

/* the first object of a reply: asks for its limit and starts the accounting (see admit); a small string,
 * integer or nil is the whole reply and fits any limit, so the common reply skips the question */
static int admit_root(kve_redis_reader_t *rd, size_t cost, int array)
{
    size_t limit;

    if (*rd->waiting == NULL) {
        rd->refused = KVE_REDIS_REFUSED_UNEXPECTED;
        return -1;
    }
    if (cost <= KVE_REDIS_REPLY_MIN_LIMIT && !array)
        return 1;
    if ((limit = rd->next_limit(rd, &rd->split)) == KVE_REDIS_REPLY_UNEXPECTED) {
        rd->refused = KVE_REDIS_REFUSED_UNEXPECTED;
        return -1;
    }
    rd->limit = limit != 0 ? KVE_MAX(limit, KVE_REDIS_REPLY_MIN_LIMIT) : 0;
    limit = rd->limit;
    rd->used = cost;
    rd->state = KVE_REDIS_READ_OK;
    rd->root = NULL;
    if (limit == 0 || cost <= limit || rd->split) /* a split reply's root is kept whatever its slots cost */
        return 1;
    rd->used = 0; /* nothing is built */
    rd->state = KVE_REDIS_READ_OVER;
    return 0;
}

/* an element inside a reply (see admit) */
static int admit_element(const redisReadTask *task, kve_redis_reader_t *rd, size_t cost)
{
    if (rd->split && task->parent->parent == NULL) {
        rd->state = KVE_REDIS_READ_OK; /* a new top-level element */
        rd->entry_start = rd->used;
    }
    if (rd->state != KVE_REDIS_READ_OK)
        return 0;
    if (rd->limit != 0 && cost > rd->limit - KVE_MIN(rd->used, rd->limit)) {
        if (rd->split)
            return entry_over(rd, task);
        rd->state = KVE_REDIS_READ_OVER;
        if (rd->root != NULL)
            ((kve_kv_reply_t *)rd->root)->type = KVE_REPLY_TOO_BIG;
        return 0;
    }
    rd->used += cost;
    return 1;
}

/*
 * With a reader state (task->privdata): starts the accounting at a reply's root and charges `cost`.
 * Returns 1 to build the object, 0 to hand out the placeholder (over the limit), 2 to hand it out and put
 * it in the parent's slot (a split reply's top-level element), -1 to fail the reader (a reply nobody
 * waits for).
 */
static inline int admit(const redisReadTask *task, size_t cost)
{
    kve_redis_reader_t *rd = task->privdata;
    if (rd == NULL)
        return 1;
    if (task->parent != NULL)
        return admit_element(task, rd, cost);
    if (cost <= KVE_REDIS_REPLY_MIN_LIMIT && task->type != REDIS_REPLY_ARRAY && *rd->waiting != NULL)
        return 1; /* the common reply: small and awaited */
    return admit_root(rd, cost, task->type == REDIS_REPLY_ARRAY);
}

/* the object admit() decided on when it did not say "build it" */
static void *refused(const redisReadTask *task, int verdict)
{
    if (verdict == 2) { /* in the root's slot: freeObject skips it */
        ((kve_kv_reply_t *)task->parent->obj)->element[task->idx] = &placeholder.r;
        return &placeholder.r;
    }
    return verdict == 0 ? &placeholder.r : NULL;
}

static void *attach(const redisReadTask *task, kve_kv_reply_t *r)
{
    if (task->parent != NULL) {
        kve_kv_reply_t *parent = task->parent->obj;
        KVE_ASSERT(parent->type == REDIS_REPLY_ARRAY);
        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    int verdict = admit(task, KVE_REDIS_REPLY_COST + (len < KVE_REDIS_REPLY_INLINE ? 0 : len + 1));
    kve_kv_reply_t *r;
    reply_t *rr;

    if (verdict != 1)
        return refused(task, verdict);
    r = new_reply(task->type);
    rr = (reply_t *)r;
    if (len < KVE_REDIS_REPLY_INLINE) {
        r->str = rr->inline_str;
    } else {
        r->str = kve_malloc(len + 1); /* the caller may take it (kve_kv_reply_take_str) */
        r->_mem = KVE_KV_REPLY_OWNS_STR;
    }
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return attach(task, r);
}

static void *create_array(const redisReadTask *task, int elements)
{
    kve_kv_reply_t *r;
    int verdict;

    if (elements < 0 || elements > KVE_REDIS_REPLY_MAX_ELEMENTS) {
        if (task->privdata != NULL)
            ((kve_redis_reader_t *)task->privdata)->refused = KVE_REDIS_REFUSED_ELEMENTS;
        return NULL; /* hiredis reports "Out of memory" and drops the connection (see redis_reply.h) */
    }
    if ((verdict = admit(task, KVE_REDIS_REPLY_COST + sizeof(*r->element) * (size_t)elements)) != 1)
        return refused(task, verdict);
    r = new_reply(REDIS_REPLY_ARRAY);
    if (task->parent == NULL && task->privdata != NULL)
        ((kve_redis_reader_t *)task->privdata)->root = r; /* marked when an element passes the limit */
    if (elements > 0)
        r->element = kve_zalloc(sizeof(*r->element) * (size_t)elements);
    r->elements = (size_t)elements;
    return attach(task, r);
}

static void *create_integer(const redisReadTask *task, long long value)
{
    int verdict = admit(task, KVE_REDIS_REPLY_COST);
    kve_kv_reply_t *r;

    if (verdict != 1)
        return refused(task, verdict);
    r = new_reply(REDIS_REPLY_INTEGER);
    r->integer = value;
    return attach(task, r);
}

static void *create_nil(const redisReadTask *task)
{
    kve_redis_reader_t *rd = task->privdata;
    int verdict;

    if (rd != NULL && rd->dropped) { /* a dropped bulk string: surely over the limit */
        rd->dropped = 0;
        verdict = admit(task, SIZE_MAX / 2);
        KVE_ASSERT(verdict == 0 || verdict == 2);
        return refused(task, verdict);
    }
    verdict = admit(task, KVE_REDIS_REPLY_COST);
    if (verdict != 1)
        return refused(task, verdict);
    return attach(task, new_reply(REDIS_REPLY_NIL));
}

/* whether a bulk string of `len` bytes at the reader's current task would be refused (see admit) */
static int bulk_refused(redisReader *r, kve_redis_reader_t *rd, size_t len)
{
    size_t cost = KVE_REDIS_REPLY_COST + len + 1, limit;
    int split;

    if (r->ridx == 0) { /* the reply's root: its accounting has not started */
        limit = rd->next_limit(rd, &split);
        return limit != KVE_REDIS_REPLY_UNEXPECTED && limit != 0 && !split && cost > KVE_MAX(limit, KVE_REDIS_REPLY_MIN_LIMIT);
    }
    if (rd->limit == 0)
        return 0;
    if (rd->state == KVE_REDIS_READ_OVER || (rd->state == KVE_REDIS_READ_ENTRY_OVER && !(rd->split && r->ridx == 1)))
        return 1;
    return cost > rd->limit - KVE_MIN(rd->used, rd->limit);
}

size_t kve_redis_reader_drop_bulk(redisReader *r)
{
    kve_redis_reader_t *rd = r->privdata;
    const char *p, *end, *d;
    size_t len = 0, header, have;

    /* hiredis stops in a bulk string with the type byte read: the length line is at r->pos */
    if (rd == NULL || r->err != 0 || r->ridx < 0 || r->rstack[r->ridx].type != REDIS_REPLY_STRING)
        return 0;
    p = r->buf + r->pos;
    have = r->len - r->pos;
    if ((end = memchr(p, '\r', KVE_MIN(have, 21))) == NULL || (size_t)(end - p) + 2 > have || end[1] != '\n' || end == p)
        return 0; /* the length line is not complete yet (or hiredis will refuse it) */
    for (d = p; d != end; ++d) {
        if (*d < '0' || *d > '9' || len > (SIZE_MAX - 9) / 10 / 2)
            return 0; /* -1 (nil), or not a length: hiredis decides */
        len = len * 10 + (size_t)(*d - '0');
    }
    header = (size_t)(end - p) + 2;
    if (have >= header + len + 2 || !bulk_refused(r, rd, len))
        return 0;
    /* the part of the string hiredis holds goes; it reads a nil instead, which create_nil turns into the
     * placeholder */
    sdssetlen(r->buf, r->pos);
    r->buf = sdscatlen(r->buf, "-1\r\n", 4);
    KVE_ASSERT(r->buf != NULL);
    r->len = sdslen(r->buf);
    rd->dropped = 1;
    return header + len + 2 - have;
}

redisReplyObjectFunctions kve_redis_reply_functions = {create_string, create_array, create_integer, create_nil, free_reply};

void kve_redis_reply_release_thread(void)
{
    while (free_list != NULL) {
        reply_t *next = free_list->next_free;
        free(free_list);
        free_list = next;
    }
    num_free = 0;
}
