/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: hiredis 0.14's reply reader with kvedge's reply functions (proxy/redis_reply.c, the ones
 * every Redis connection installs), fed arbitrary bytes as a Redis server could send them.
 *
 * Input: byte 0 sets how the bytes are cut into reads (the reader is fed chunk by chunk, as the socket
 * delivers them, taking every reply after each read); the rest is the byte stream.
 *
 * Oracle (differential): the same bytes fed at once to a reader with hiredis' own reply functions give the
 * same replies (type, bytes, integers, nesting) and the same error, except where kvedge refuses an array
 * longer than KVE_REDIS_REPLY_MAX_ELEMENTS (then it must fail with hiredis' "Out of memory"). kvedge's
 * replies keep redisReply's invariants: strings NUL-terminated at `len`, every array element filled.
 * Recycled objects are released after every input, so a leak is reported for the input that caused it.
 */
#include "fuzz.h"
#include "proxy/buf.h"
#include "proxy/common.h"
#include "proxy/redis_reply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

/* appends a canonical text form of `r` to `out` (checking kvedge's invariants on the way) */
static void describe(kve_buf_t *out, const redisReply *r)
{
    FUZZ_CHECK(r != NULL, "a NULL reply or array element");
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        FUZZ_CHECK(r->str != NULL && r->str[r->len] == '\0', "string of type %d without its NUL", r->type);
        kve_buf_printf(out, "%c%zu:", r->type == REDIS_REPLY_STRING ? 'S' : r->type == REDIS_REPLY_STATUS ? 'T' : 'E', r->len);
        kve_buf_append(out, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        kve_buf_printf(out, "I%lld", r->integer);
        break;
    case REDIS_REPLY_NIL:
        kve_buf_append(out, "N", 1);
        break;
    case REDIS_REPLY_ARRAY:
        kve_buf_printf(out, "A%zu[", r->elements);
        for (size_t i = 0; i != r->elements; ++i)
            describe(out, r->element[i]);
        kve_buf_append(out, "]", 1);
        break;
    default:
        FUZZ_CHECK(0, "reply type %d", r->type);
    }
}

/* takes every complete reply off `reader`; returns -1 once it is in error */
static int drain(redisReader *reader, kve_buf_t *out)
{
    void *reply;
    for (;;) {
        if (redisReaderGetReply(reader, &reply) != REDIS_OK)
            return -1;
        if (reply == NULL)
            return 0;
        describe(out, reply);
        reader->fn->freeObject(reply);
    }
}

/* feeds `data` in chunks whose sizes follow `seed`; the reader's error text goes to `err` */
static int read_chunked(redisReplyObjectFunctions *fn, uint8_t seed, const uint8_t *data, size_t size, kve_buf_t *out, char *err)
{
    redisReader *reader = redisReaderCreateWithFunctions(fn);
    uint32_t state = seed;
    size_t off = 0;
    int rc = 0;

    FUZZ_CHECK(reader != NULL, "redisReaderCreateWithFunctions");
    while (rc == 0 && off != size) {
        size_t n = size - off;
        if (seed != 0) { /* 1 to 32 bytes per read, pseudo-random */
            state = state * 1103515245u + 12345u;
            n = KVE_MIN(n, 1 + (state >> 16) % (1 + seed % 32));
        }
        if (redisReaderFeed(reader, (const char *)data + off, n) != REDIS_OK) {
            rc = -1;
            break;
        }
        off += n;
        rc = drain(reader, out);
    }
    strcpy(err, rc != 0 ? reader->errstr : "");
    redisReaderFree(reader);
    return rc;
}

static redisReplyObjectFunctions *hiredis_functions(void)
{
    static redisReplyObjectFunctions fn;
    if (fn.freeObject == NULL) { /* hiredis' defaults, as a reader made with redisReaderCreate() has them */
        redisReader *r = redisReaderCreate();
        fn = *r->fn;
        redisReaderFree(r);
    }
    return &fn;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kve_buf_t ours = KVE_BUF_INIT, theirs = KVE_BUF_INIT;
    char our_err[128], their_err[128];
    int our_rc, their_rc;

    if (size == 0)
        return 0;
    our_rc = read_chunked(&kve_redis_reply_functions, data[0], data + 1, size - 1, &ours, our_err);
    kve_redis_reply_release_thread();
    if (our_rc != 0 && strcmp(our_err, "Out of memory") == 0) {
        /* kvedge refused an array longer than KVE_REDIS_REPLY_MAX_ELEMENTS: hiredis' own functions would allocate it */
        goto Exit;
    }
    their_rc = read_chunked(hiredis_functions(), 0, data + 1, size - 1, &theirs, their_err);
    FUZZ_CHECK(our_rc == their_rc && strcmp(our_err, their_err) == 0, "kvedge's reader: %d \"%s\", hiredis' own: %d \"%s\"", our_rc,
               our_err, their_rc, their_err);
    FUZZ_CHECK(ours.len == theirs.len && (ours.len == 0 || memcmp(ours.base, theirs.base, ours.len) == 0),
               "kvedge's replies differ from hiredis' own");
Exit:
    kve_buf_dispose(&ours);
    kve_buf_dispose(&theirs);
    return 0;
}
