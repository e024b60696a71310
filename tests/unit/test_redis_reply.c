/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/redis_reply.c through a hiredis reader that uses its reply functions: every reply type,
 * strings at the inline-buffer edge (KVE_REDIS_REPLY_INLINE - 1, exactly, + 1: the ASan build catches a
 * write past the inline buffer), byte-by-byte input, arrays over KVE_REDIS_REPLY_MAX_ELEMENTS or negative
 * refused, objects recycled through the free list keeping correct contents, and errors in the middle of a
 * nested reply (LeakSanitizer checks the partial reply is freed). With a reader state: replies held to a
 * byte limit while read (whole, or per element of a split reply), and replies nobody waits for refused.
 */
#include "test.h"
#include "proxy/buf.h"
#include "proxy/common.h"
#include "proxy/kv.h"
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

/* --- limits (a kve_redis_reader_t as the reader's privdata) --- */

struct limits_t {
    kve_redis_reader_t rd;
    size_t limit;
    int split;
    size_t asked; /* next_limit calls */
    size_t peak;  /* the most `used` ever was */
};

static size_t limit_of(kve_redis_reader_t *rd, int *split)
{
    struct limits_t *l = (void *)rd;
    ++l->asked;
    *split = l->split;
    return l->limit;
}

static void *const some_command = (void *)1; /* what `waiting` points at while a command waits */

static redisReader *limited_reader(struct limits_t *l, size_t limit, int split)
{
    redisReader *r = new_reader();
    *l = (struct limits_t){{&some_command, limit_of}, limit, split};
    r->privdata = &l->rd;
    return r;
}

/* feeds `bytes` in pieces of `chunk` (as replies arrive), following the accounting's peak */
static redisReply *parse_chunked(redisReader *r, struct limits_t *l, const char *bytes, size_t len, size_t chunk)
{
    void *reply = NULL;
    size_t off;
    for (off = 0; off < len && reply == NULL; off += chunk) {
        redisReaderFeed(r, bytes + off, KVE_MIN(chunk, len - off));
        if (redisReaderGetReply(r, &reply) != REDIS_OK)
            return NULL;
        l->peak = KVE_MAX(l->peak, l->rd.used);
    }
    return reply;
}

/* "*n\r\n" then n bulk strings of `len` bytes */
static void array_of_strings(kve_buf_t *in, size_t n, size_t len)
{
    size_t i;
    kve_buf_printf(in, "*%zu\r\n", n);
    for (i = 0; i != n; ++i) {
        kve_buf_printf(in, "$%zu\r\n", len);
        memset(kve_buf_reserve(in, len), 'a', len);
        in->len += len;
        kve_buf_append(in, "\r\n", 2);
    }
}

TEST(reply_over_the_limit_is_dropped_while_read)
{
    struct limits_t l;
    redisReader *r = limited_reader(&l, 64 * 1024, 0);
    kve_buf_t in = KVE_BUF_INIT;
    redisReply *x;

    /* 100,000 short elements: ~17 MB as objects, refused after the first few hundred */
    array_of_strings(&in, 100000, 1);
    x = parse_chunked(r, &l, in.base, in.len, 16384);
    CHECK_NOT_NULL(x);
    CHECK_EQ_INT(x->type, KVE_REPLY_TOO_BIG);
    CHECK(l.peak <= 64 * 1024);
    free_reply(x);
    /* a small scalar reply is never refused: its limit is not even asked for */
    x = parse_str(r, "+OK\r\n");
    CHECK_EQ_STR(x->str, "OK");
    free_reply(x);
    CHECK_EQ_UINT(l.asked, 1);
    /* the next reply starts afresh */
    x = parse_str(r, "*2\r\n$1\r\na\r\n:5\r\n");
    CHECK_EQ_INT(x->type, REDIS_REPLY_ARRAY);
    CHECK_EQ_UINT(x->elements, 2);
    CHECK_EQ_INT(x->element[1]->integer, 5);
    free_reply(x);
    CHECK_EQ_UINT(l.asked, 2);
    /* one string over the limit: the placeholder itself, never copied */
    in.len = 0;
    array_of_strings(&in, 1, 70 * 1024);
    x = parse(r, in.base + 4, in.len - 4, 0); /* without the "*1\r\n" */
    CHECK_EQ_INT(x->type, KVE_REPLY_TOO_BIG);
    CHECK_NULL(x->str);
    free_reply(x);
    /* nested: the root becomes the marker, what was built is freed with it (LeakSanitizer) */
    in.len = 0;
    kve_buf_append(&in, KVE_STRLIT("*3\r\n:1\r\n"));
    array_of_strings(&in, 2, 40 * 1024);
    kve_buf_append(&in, KVE_STRLIT(":2\r\n"));
    x = parse(r, in.base, in.len, 0);
    CHECK_EQ_INT(x->type, KVE_REPLY_TOO_BIG);
    free_reply(x);
    /* just within: built whole */
    in.len = 0;
    array_of_strings(&in, 1, 60 * 1024);
    x = parse(r, in.base, in.len, 1);
    CHECK_EQ_INT(x->type, REDIS_REPLY_ARRAY);
    CHECK_EQ_UINT(x->element[0]->len, 60 * 1024);
    free_reply(x);
    kve_buf_dispose(&in);
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

TEST(split_reply_drops_elements_one_by_one)
{
    struct limits_t l;
    redisReader *r = limited_reader(&l, 64 * 1024, 1);
    kve_buf_t in = KVE_BUF_INIT;
    redisReply *x;

    /* EXEC-like: a 40 KiB string, another (does not fit), a huge nested array (does not fit, emptied when
     * it passes), then small results that still fit */
    kve_buf_append(&in, KVE_STRLIT("*5\r\n"));
    array_of_strings(&in, 1, 40 * 1024);
    kve_buf_printf(&in, "$%d\r\n", 40 * 1024);
    memset(kve_buf_reserve(&in, 40 * 1024), 'b', 40 * 1024);
    in.len += 40 * 1024;
    kve_buf_append(&in, "\r\n", 2);
    array_of_strings(&in, 2000, 1); /* its 16 KB of slots fit, its elements do not */
    kve_buf_append(&in, KVE_STRLIT(":7\r\n+OK\r\n"));
    x = parse_chunked(r, &l, in.base, in.len, 4096);
    CHECK_NOT_NULL(x);
    if (x != NULL) {
        CHECK_EQ_INT(x->type, REDIS_REPLY_ARRAY);
        CHECK_EQ_UINT(x->elements, 5);
        CHECK_EQ_INT(x->element[0]->type, REDIS_REPLY_ARRAY);
        CHECK_EQ_UINT(x->element[0]->element[0]->len, 40 * 1024);
        CHECK_EQ_INT(x->element[1]->type, KVE_REPLY_TOO_BIG);
        CHECK_EQ_INT(x->element[2]->type, KVE_REPLY_TOO_BIG);
        CHECK_EQ_UINT(x->element[2]->elements, 0);
        CHECK_EQ_INT(x->element[3]->integer, 7);
        CHECK_EQ_STR(x->element[4]->str, "OK");
        free_reply(x);
    }
    CHECK(l.peak <= 64 * 1024);
    kve_buf_dispose(&in);
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

/* feeds `bytes`, parses, then lets drop_bulk decide; returns what it says is left of the string */
static size_t feed_and_drop(redisReader *r, const char *bytes, size_t len)
{
    void *reply = NULL;
    redisReaderFeed(r, bytes, len);
    CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_OK);
    CHECK_NULL(reply);
    return kve_redis_reader_drop_bulk(r);
}

TEST(bulk_string_over_the_limit_is_dropped_not_buffered)
{
    struct limits_t l;
    redisReader *r = limited_reader(&l, 64 * 1024, 0);
    char chunk[4096];
    redisReply *x;

    memset(chunk, 'z', sizeof(chunk));
    /* the root: 10 MB announced, 4 KiB arrived: the rest is left to discard, the reader holds nothing of it */
    CHECK_EQ_UINT(feed_and_drop(r, "$10000000\r\n", strlen("$10000000\r\n")), 10000002);
    x = parse_str(r, "");
    CHECK_NOT_NULL(x);
    if (x != NULL)
        CHECK_EQ_INT(x->type, KVE_REPLY_TOO_BIG);
    free_reply(x);
    CHECK(r->len < 1024);
    /* the next reply reads normally (the caller discarded the string's bytes) */
    x = parse_str(r, "$2\r\nok\r\n");
    CHECK_EQ_STR(x->str, "ok");
    free_reply(x);
    /* within the limit, or not complete yet: left alone */
    CHECK_EQ_UINT(feed_and_drop(r, "$60000\r\n", strlen("$60000\r\n")), 0);
    redisReaderFeed(r, chunk, sizeof(chunk));
    CHECK_EQ_UINT(kve_redis_reader_drop_bulk(r), 0);
    redisReaderFree(r);
    r = limited_reader(&l, 64 * 1024, 0);
    CHECK_EQ_UINT(feed_and_drop(r, "$1000", strlen("$1000")), 0);
    redisReaderFree(r);

    /* nested: the element goes, the rest of the array is read; the root is the marker */
    r = limited_reader(&l, 64 * 1024, 0);
    redisReaderFeed(r, "*3\r\n:1\r\n$200000\r\n", strlen("*3\r\n:1\r\n$200000\r\n"));
    CHECK_EQ_UINT(feed_and_drop(r, chunk, sizeof(chunk)), 200002 - sizeof(chunk));
    x = parse_str(r, ":2\r\n");
    CHECK_EQ_INT(x->type, KVE_REPLY_TOO_BIG);
    free_reply(x);
    redisReaderFree(r);

    /* split (EXEC): the element is the marker in its slot, the others stand */
    r = limited_reader(&l, 64 * 1024, 1);
    CHECK_EQ_UINT(feed_and_drop(r, "*3\r\n:1\r\n$200000\r\nzz", strlen("*3\r\n:1\r\n$200000\r\nzz")), 200000);
    x = parse_str(r, "+OK\r\n");
    CHECK_NOT_NULL(x);
    if (x != NULL) {
        CHECK_EQ_INT(x->type, REDIS_REPLY_ARRAY);
        CHECK_EQ_INT(x->element[0]->integer, 1);
        CHECK_EQ_INT(x->element[1]->type, KVE_REPLY_TOO_BIG);
        CHECK_EQ_STR(x->element[2]->str, "OK");
        free_reply(x);
    }
    redisReaderFree(r);
    kve_redis_reply_release_thread();
}

static void *const no_command = NULL;

TEST(reply_nobody_waits_for_is_refused)
{
    kve_redis_reader_t rd = {&no_command, limit_of};
    redisReader *r = new_reader();
    void *reply = NULL;

    r->privdata = &rd;
    redisReaderFeed(r, "+OK\r\n", 5);
    CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_ERR);
    CHECK_NULL(reply);
    CHECK_EQ_INT(r->err, REDIS_ERR_OOM);
    CHECK_EQ_INT(rd.refused, KVE_REDIS_REFUSED_UNEXPECTED);
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
    RUN(reply_over_the_limit_is_dropped_while_read);
    RUN(split_reply_drops_elements_one_by_one);
    RUN(reply_nobody_waits_for_is_refused);
    RUN(bulk_string_over_the_limit_is_dropped_not_buffered);
}
