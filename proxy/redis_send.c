/* SPDX-License-Identifier: MIT */
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include "proxy/common.h"
#include "proxy/redis_send.h"
#include "proxy/resp.h"

/* read from hiredis 0.14.1's async.c (__redisAsyncCommand, __redisPushCallback, __redisShiftCallback) */
#if HIREDIS_MAJOR != 0 || HIREDIS_MINOR != 14
#error "proxy/redis_send.c mirrors hiredis 0.14's async.c: check __redisAsyncCommand() of this version"
#endif

int kve_redis_send(redisAsyncContext *ac, size_t argc, const char *const *argv, const size_t *argvlen, redisCallbackFn *fn,
                   void *privdata)
{
    redisContext *c = &ac->c;
    redisCallback *cb;
    sds obuf;

    if ((c->flags & (REDIS_DISCONNECTING | REDIS_FREEING | REDIS_SUBSCRIBED | REDIS_MONITORING)) != 0)
        return REDIS_ERR;
    /* hiredis frees the record with free() once the reply is delivered (or the context is freed) */
    cb = kve_malloc(sizeof(*cb));
    cb->next = NULL;
    cb->fn = fn;
    cb->privdata = privdata;

    obuf = sdsMakeRoomFor(c->obuf, kve_resp_size(argc, argvlen));
    if (obuf == NULL)
        KVE_ASSERT(!"out of memory");
    sdsIncrLen(obuf, (ssize_t)kve_resp_write(obuf + sdslen(obuf), argc, argv, argvlen));
    c->obuf = obuf;

    if (ac->replies.head == NULL)
        ac->replies.head = cb;
    else
        ac->replies.tail->next = cb;
    ac->replies.tail = cb;

    if (ac->ev.addWrite != NULL)
        ac->ev.addWrite(ac->ev.data);
    return REDIS_OK;
}
