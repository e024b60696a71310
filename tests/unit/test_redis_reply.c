/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/redis_reply.c through a hiredis reader that uses its reply functions: every reply type,
 * strings at the inline-buffer edge (KVE_REDIS_REPLY_INLINE - 1, exactly, + 1: the ASan build catches a
 * write past the inline buffer), byte-by-byte input, arrays over KVE_REDIS_REPLY_MAX_ELEMENTS or negative
 * refused, objects recycled through the free list keeping correct contents, and errors in the middle of a
 * nested reply (LeakSanitizer checks the partial reply is freed).
 */
#include "test.h"
#include "proxy/buf.h"
#include "proxy/common.h"
#include "proxy/redis_reply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

static redisReader *new_reader(void)
{
    redisReader *r = redisReaderCreateWithFunctions(&kve_redis_reply_functions);
    KVE_ASSERT(r != NULL);
    return r;
}

/* feeds `len` bytes (in one piece, or byte by byte) and returns the reply (NULL if incomplete or error) */
static redisReply *parse(redisReader *r, const char *bytes, size_t len, int bytewise)
{
    void *reply = NULL;
    size_t i;
    if (!bytewise) {
        redisReaderFeed(r, bytes, len);
    } else {
        for (i = 0; i != len && reply == NULL; ++i) {
            redisReaderFeed(r, bytes + i, 1);
            if (i + 1 != len) {
                CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_OK);
                CHECK_NULL(reply); /* nothing before the last byte */
            }
        }
    }
    if (redisReaderGetReply(r, &reply) != REDIS_OK)
        return NULL;
    return reply;
}

static redisReply *parse_str(redisReader *r, const char *bytes)
{
    return parse(r, bytes, strlen(bytes), 0);
}

static void free_reply(redisReply *reply)
{
    kve_redis_reply_functions.freeObject(reply);
}

TEST(scalar_types)
{
    redisReader *r = new_reader();
    redisReply *x;

    x = parse_str(r, "+OK\r\n");
    CHECK_EQ_INT(x->type, REDIS_REPLY_STATUS);
    CHECK_EQ_MEM(x->str, x->len, "OK", 2);
    free_reply(x);
    x = parse_str(r, "-ERR wrong\r\n");
    CHECK_EQ_INT(x->type, REDIS_REPLY_ERROR);
    CHECK_EQ_STR(x->str, "ERR wrong");
    free_reply(x);
    x = parse_str(r, ":-42\r\n");
    CHECK_EQ_INT(x->type, REDIS_REPLY_INTEGER);
    CHECK_EQ_INT(x->integer, -42);
    CHECK_NULL(x->str);
    free_reply(x);
    x = parse_str(r, "$-1\r\n");
    CHECK_EQ_INT(x->type, REDIS_REPLY_NIL);
    CHECK_NULL(x->str);
    free_reply(x);
    x = parse_str(r, "$0\r\n\r\n");
    CHECK_EQ_INT(x->type, REDIS_REPLY_STRING);
    CHECK_EQ_UINT(x->len, 0);
    CHECK_EQ_STR(x->str, "");
    free_reply(x);
    x = parse(r, "$5\r\na\0b\r\n\r\n", 11, 0);
    CHECK_EQ_MEM(x->str, x->len, "a\0b\r\n", 5);
    CHECK_EQ_INT(x->str[5], '\0');
    free_reply(x);
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

/* a bulk string of `len` bytes, fed in one piece or byte by byte */
static void check_bulk(redisReader *r, size_t len, int bytewise)
{
    kve_buf_t in = KVE_BUF_INIT;
    char *value = kve_malloc(len + 1);
    redisReply *x;
    size_t i;

    for (i = 0; i != len; ++i)
        value[i] = (char)('A' + i % 23);
    kve_buf_printf(&in, "$%zu\r\n", len);
    kve_buf_append(&in, value, len);
    kve_buf_append(&in, "\r\n", 2);
    x = parse(r, in.base, in.len, bytewise);
    CHECK_NOT_NULL(x);
    if (x != NULL) {
        CHECK_EQ_INT(x->type, REDIS_REPLY_STRING);
        CHECK_EQ_MEM(x->str, x->len, value, len);
        CHECK_EQ_INT(x->str[len], '\0');
        free_reply(x);
    }
    free(value);
    kve_buf_dispose(&in);
}

TEST(strings_at_the_inline_edge)
{
    redisReader *r = new_reader();
    size_t lens[] = {
        0,    1,     KVE_REDIS_REPLY_INLINE - 2, KVE_REDIS_REPLY_INLINE - 1, KVE_REDIS_REPLY_INLINE, KVE_REDIS_REPLY_INLINE + 1,
        4096, 100000};
    size_t i;

    CHECK_EQ_INT(KVE_REDIS_REPLY_INLINE, 112); /* the edge below is 111/112/113 */
    for (i = 0; i != KVE_ARRAY_SIZE(lens); ++i) {
        check_bulk(r, lens[i], 0);
        check_bulk(r, lens[i], 1);
    }
    /* an inline string then a long one in the same recycled object, and back */
    for (i = 0; i != 3; ++i) {
        check_bulk(r, KVE_REDIS_REPLY_INLINE - 1, 0);
        check_bulk(r, KVE_REDIS_REPLY_INLINE + 1, 0);
    }
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

TEST(nested_arrays_and_reuse)
{
    redisReader *r = new_reader();
    redisReply *x, *y, *inner;
    void *first;

    x = parse_str(r, "*4\r\n:1\r\n*2\r\n$3\r\nabc\r\n$-1\r\n+st\r\n*0\r\n");
    CHECK_EQ_INT(x->type, REDIS_REPLY_ARRAY);
    CHECK_EQ_UINT(x->elements, 4);
    CHECK_EQ_INT(x->element[0]->integer, 1);
    inner = x->element[1];
    CHECK_EQ_INT(inner->type, REDIS_REPLY_ARRAY);
    CHECK_EQ_UINT(inner->elements, 2);
    CHECK_EQ_STR(inner->element[0]->str, "abc");
    CHECK_EQ_INT(inner->element[1]->type, REDIS_REPLY_NIL);
    CHECK_EQ_INT(x->element[2]->type, REDIS_REPLY_STATUS);
    CHECK_EQ_STR(x->element[2]->str, "st");
    CHECK_EQ_INT(x->element[3]->type, REDIS_REPLY_ARRAY);
    CHECK_EQ_UINT(x->element[3]->elements, 0);
    first = x;
    free_reply(x);

    /* the objects come back from the free list (the root, freed last, first): nothing stale may show */
    y = parse_str(r, "$2\r\nhi\r\n");
    CHECK(y == first);
    CHECK_EQ_INT(y->type, REDIS_REPLY_STRING);
    CHECK_EQ_UINT(y->elements, 0);
    CHECK_NULL(y->element);
    CHECK_EQ_STR(y->str, "hi");
    free_reply(y);

    static const char nested[] = "*2\r\n*1\r\n:7\r\n*3\r\n$1\r\nx\r\n:8\r\n*1\r\n$-1\r\n";
    y = parse(r, nested, sizeof(nested) - 1, 1);
    CHECK_NOT_NULL(y);
    CHECK_EQ_UINT(y->elements, 2);
    CHECK_EQ_UINT(y->element[0]->elements, 1);
    CHECK_EQ_INT(y->element[0]->element[0]->type, REDIS_REPLY_INTEGER);
    CHECK_EQ_INT(y->element[0]->element[0]->integer, 7);
    CHECK_NULL(y->element[0]->element[0]->str);
    inner = y->element[1];
    CHECK_EQ_UINT(inner->elements, 3);
    CHECK_EQ_STR(inner->element[0]->str, "x");
    CHECK_EQ_INT(inner->element[1]->integer, 8);
    CHECK_EQ_INT(inner->element[2]->type, REDIS_REPLY_ARRAY);
    CHECK_EQ_INT(inner->element[2]->element[0]->type, REDIS_REPLY_NIL);
    CHECK_NULL(inner->element[2]->element[0]->str);
    free_reply(y);
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

TEST(more_objects_than_the_free_list_keeps)
{
    redisReader *r = new_reader();
    kve_buf_t in = KVE_BUF_INIT;
    redisReply *x;
    size_t i, n = 5000; /* the free list keeps 4096; the rest must be freed */

    kve_buf_printf(&in, "*%zu\r\n", n);
    for (i = 0; i != n; ++i)
        kve_buf_printf(&in, ":%zu\r\n", i);
    x = parse(r, in.base, in.len, 0);
    CHECK_EQ_UINT(x->elements, n);
    CHECK_EQ_INT(x->element[n - 1]->integer, (long long)n - 1);
    free_reply(x);
    x = parse(r, in.base, in.len, 0); /* built again from recycled objects */
    CHECK_EQ_UINT(x->elements, n);
    for (i = 0; i < n; i += 997)
        CHECK_EQ_INT(x->element[i]->integer, (long long)i);
    free_reply(x);
    kve_buf_dispose(&in);
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

/* `bytes` makes the reader fail with `err`; a reader is not usable after an error */
static void check_refused(const char *bytes, int err)
{
    redisReader *r = new_reader();
    void *reply = NULL;
    redisReaderFeed(r, bytes, strlen(bytes));
    CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_ERR);
    CHECK_NULL(reply);
    CHECK_EQ_INT(r->err, err);
    redisReaderFree(r);
}

TEST(refused_arrays_and_protocol_errors)
{
    char huge[32];
    snprintf(huge, sizeof(huge), "*%d\r\n", KVE_REDIS_REPLY_MAX_ELEMENTS + 1);
    /* no elements need to follow: the length alone is refused, before any allocation */
    check_refused(huge, REDIS_ERR_OOM);
    check_refused("*99999999\r\n", REDIS_ERR_OOM);
    check_refused("*-5\r\n", REDIS_ERR_PROTOCOL); /* Debian's hiredis refuses it before asking for an array */
    /* the same inside a nested reply: what was built so far is freed (LeakSanitizer) */
    check_refused("*3\r\n$3\r\nabc\r\n*99999999\r\n", REDIS_ERR_OOM);
    check_refused("*3\r\n:1\r\n*2\r\n$1\r\na\r\n!bad\r\n", REDIS_ERR_PROTOCOL);
    /* hiredis 0.14 parses 7 nesting levels at most (the link reports deeper replies as protocol errors) */
    check_refused("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", REDIS_ERR_PROTOCOL);
    kve_redis_reply_release_thread();
}

TEST(array_within_the_limit)
{
    redisReader *r = new_reader();
    redisReply *x = parse_str(r, "*-1\r\n"); /* a nil array is not a negative length */
    CHECK_EQ_INT(x->type, REDIS_REPLY_NIL);
    free_reply(x);
    x = parse_str(r, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:5\r\n"); /* 7 levels */
    CHECK_NOT_NULL(x);
    if (x != NULL) {
        redisReply *leaf = x;
        int depth = 0;
        while (leaf->type == REDIS_REPLY_ARRAY)
            leaf = leaf->element[0], ++depth;
        CHECK_EQ_INT(depth, 7);
        CHECK_EQ_INT(leaf->integer, 5);
        free_reply(x);
    }
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

void kve_suite_redis_reply(void)
{
    RUN(scalar_types);
    RUN(strings_at_the_inline_edge);
    RUN(nested_arrays_and_reuse);
    RUN(more_objects_than_the_free_list_keeps);
    RUN(refused_arrays_and_protocol_errors);
    RUN(array_within_the_limit);
}
