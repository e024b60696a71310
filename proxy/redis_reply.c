/* SPDX-License-Identifier: MIT */
/* Recycled hiredis reply objects (see redis_reply.h). */
#include "proxy/redis_reply.h"
#include "proxy/common.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#define MAX_FREE 4096 /* objects kept per thread */

typedef struct st_reply_t {
    redisReply r; /* first: hiredis and kve_kv_reply_t see a redisReply */
    struct st_reply_t *next_free;
    char inline_str[KVE_REDIS_REPLY_INLINE];
} reply_t;

static __thread reply_t *free_list;
static __thread size_t num_free;

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

    if (r == NULL)
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
    redisReply *r = new_reply(task->type);
    reply_t *rr = (reply_t *)r;
    r->str = len < KVE_REDIS_REPLY_INLINE ? rr->inline_str : kve_malloc(len + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return attach(task, r);
}

static void *create_array(const redisReadTask *task, int elements)
{
    redisReply *r;
    if (elements < 0 || elements > KVE_REDIS_REPLY_MAX_ELEMENTS)
        return NULL; /* hiredis reports "Out of memory" and drops the connection (see redis_reply.h) */
    r = new_reply(REDIS_REPLY_ARRAY);
    if (elements > 0)
        r->element = kve_zalloc(sizeof(*r->element) * (size_t)elements);
    r->elements = (size_t)elements;
    return attach(task, r);
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = new_reply(REDIS_REPLY_INTEGER);
    r->integer = value;
    return attach(task, r);
}

static void *create_nil(const redisReadTask *task)
{
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
