/* SPDX-License-Identifier: MIT */
/* Recycled hiredis reply objects (see redis_reply.h). */
#include "proxy/redis_reply.h"
#include "proxy/common.h"
#include "proxy/kv.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#define MAX_FREE 4096 /* objects kept per thread */

typedef struct st_reply_t {
    redisReply r; /* first: hiredis and kve_kv_reply_t see a redisReply */
    struct st_reply_t *next_free;
    char inline_str[KVE_REDIS_REPLY_INLINE];
} reply_t;

_Static_assert(sizeof(reply_t) <= KVE_REDIS_REPLY_COST, "KVE_REDIS_REPLY_COST covers an object");

static __thread reply_t *free_list;
static __thread size_t num_free;

/* stands for every element of a reply past its limit: never attached, never freed, never written */
static reply_t placeholder = {.r = {.type = KVE_REPLY_TOO_BIG}};

static redisReply *new_reply(int type)
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
    if (r->r.str != NULL && r->r.str != r->inline_str)
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
    redisReply *r;
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

/* the first object of a reply: asks for its limit and starts the accounting (see admit) */
static int admit_root(kve_redis_reader_t *rd, size_t cost)
{
    size_t limit = rd->next_limit(rd, &rd->split);

    if (limit == KVE_REDIS_REPLY_UNEXPECTED) {
        rd->refused = KVE_REDIS_REFUSED_UNEXPECTED;
        return -1;
    }
    rd->limit = limit;
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
            ((redisReply *)rd->root)->type = KVE_REPLY_TOO_BIG;
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
    return task->parent == NULL ? admit_root(rd, cost) : admit_element(task, rd, cost);
}

/* the object admit() decided on when it did not say "build it" */
static void *refused(const redisReadTask *task, int verdict)
{
    if (verdict == 2) { /* in the root's slot: freeObject skips it */
        ((redisReply *)task->parent->obj)->element[task->idx] = &placeholder.r;
        return &placeholder.r;
    }
    return verdict == 0 ? &placeholder.r : NULL;
}

static void *attach(const redisReadTask *task, redisReply *r)
{
    if (task->parent != NULL) {
        redisReply *parent = task->parent->obj;
        KVE_ASSERT(parent->type == REDIS_REPLY_ARRAY);
        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    int verdict = admit(task, KVE_REDIS_REPLY_COST + (len < KVE_REDIS_REPLY_INLINE ? 0 : len + 1));
    redisReply *r;
    reply_t *rr;

    if (verdict != 1)
        return refused(task, verdict);
    r = new_reply(task->type);
    rr = (reply_t *)r;
    r->str = len < KVE_REDIS_REPLY_INLINE ? rr->inline_str : kve_malloc(len + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return attach(task, r);
}

static void *create_array(const redisReadTask *task, int elements)
{
    redisReply *r;
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
    redisReply *r;

    if (verdict != 1)
        return refused(task, verdict);
    r = new_reply(REDIS_REPLY_INTEGER);
    r->integer = value;
    return attach(task, r);
}

static void *create_nil(const redisReadTask *task)
{
    int verdict = admit(task, KVE_REDIS_REPLY_COST);
    if (verdict != 1)
        return refused(task, verdict);
    return attach(task, new_reply(REDIS_REPLY_NIL));
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
