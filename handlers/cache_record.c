/* SPDX-License-Identifier: MIT */
/* Head records and variant indexes of cached objects (see cache_record.h): length-prefixed fields, numbers as text. */
#include "handlers/cache_record.h"
#include "handlers/cache_enc.h"
#include "proxy/common.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD_VERSION "kvh1"
#define INDEX_VERSION "kvv1"

enum {
    TAG_VERSION = 'V',
    TAG_ID = 'I',
    TAG_STATUS = 'S',
    TAG_REQUEST_TIME = 'q',
    TAG_RESPONSE_TIME = 'r',
    TAG_INITIAL_AGE = 'a',
    TAG_LIFETIME = 'l',
    TAG_SWR = 'w',
    TAG_SIE = 'e',
    TAG_FLAGS = 'f',
    TAG_BODY_LEN = 'z',
    TAG_NAME = 'N',
    TAG_VALUE = 'X',
    TAG_GEN = 'G',
    TAG_VARY = 'Y',
    TAG_TAGS = 'T',
    TAG_COUNT = 'n', /* variant index: variants stored under the generation (optional; absent = 1) */
    TAG_END = '.'    /* the last field: a record cut short is refused */
};

static void put_int(kve_buf_t *out, uint8_t tag, int64_t v)
{
    char s[24];
    int n = snprintf(s, sizeof(s), "%" PRId64, v);
    kve_cache_enc_field(out, tag, s, (size_t)n);
}

static int get_int(const char *p, size_t len, int64_t *v)
{
    char s[24];
    char *end;
    if (len == 0 || len >= sizeof(s))
        return -1;
    memcpy(s, p, len);
    s[len] = '\0';
    *v = strtoll(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

void kve_cache_head_encode(const kve_cache_head_t *h, kve_buf_t *out)
{
    kve_cache_enc_field(out, TAG_VERSION, KVE_STRLIT(RECORD_VERSION));
    kve_cache_enc_field(out, TAG_ID, h->id, KVE_CACHE_ID_LEN);
    put_int(out, TAG_STATUS, h->status);
    put_int(out, TAG_REQUEST_TIME, h->request_time);
    put_int(out, TAG_RESPONSE_TIME, h->response_time);
    put_int(out, TAG_INITIAL_AGE, h->initial_age);
    put_int(out, TAG_LIFETIME, h->fresh.lifetime);
    put_int(out, TAG_SWR, h->fresh.swr);
    put_int(out, TAG_SIE, h->fresh.sie);
    put_int(out, TAG_FLAGS, h->fresh.flags);
    put_int(out, TAG_BODY_LEN, (int64_t)h->body_len);
    for (size_t i = 0; i != h->num_headers; ++i) {
        kve_cache_enc_field(out, TAG_NAME, h->headers[i].name->base, h->headers[i].name->len);
        kve_cache_enc_field(out, TAG_VALUE, h->headers[i].value.base, h->headers[i].value.len);
    }
    if (h->tags.len != 0)
        kve_cache_enc_field(out, TAG_TAGS, h->tags.base, h->tags.len);
    kve_cache_enc_field(out, TAG_END, "", 0);
}

/*
 * The widest time or duration a record may hold (seconds; 2^40 s is ~35,000 years): a record is outside input (anyone
 * who can write to the store can plant one), and the freshness arithmetic (cache_freshness.c) adds and subtracts
 * these values, which must not overflow.
 */
#define MAX_TIME ((int64_t)1 << 40)

/* a numeric field into its place in `h` */
static int set_number(kve_cache_head_t *h, uint8_t tag, int64_t v)
{
    if (tag != TAG_FLAGS && tag != TAG_BODY_LEN && (v < -MAX_TIME || v > MAX_TIME))
        return -1;
    switch (tag) {
    case TAG_STATUS:
        if (v < 100 || v > 999)
            return -1;
        h->status = (int)v;
        break;
    case TAG_REQUEST_TIME:
        h->request_time = v;
        break;
    case TAG_RESPONSE_TIME:
        h->response_time = v;
        break;
    case TAG_INITIAL_AGE:
        h->initial_age = v;
        break;
    case TAG_LIFETIME:
        h->fresh.lifetime = v;
        break;
    case TAG_SWR:
        h->fresh.swr = v;
        break;
    case TAG_SIE:
        h->fresh.sie = v;
        break;
    case TAG_FLAGS:
        h->fresh.flags = (unsigned)v;
        break;
    case TAG_BODY_LEN:
        if (v < 0)
            return -1;
        h->body_len = (uint64_t)v;
        break;
    default:
        return -1;
    }
    return 0;
}

/* the header fields: a name field followed by its value field, at most KVE_CACHE_MAX_HEADERS */
static int add_header(h2o_mem_pool_t *pool, kve_cache_head_t *h, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    h2o_iovec_t *n;
    if (h->num_headers == KVE_CACHE_MAX_HEADERS)
        return -1;
    n = h2o_mem_alloc_pool(pool, sizeof(*n));
    *n = h2o_iovec_init(name, name_len);
    h->headers[h->num_headers++] = (h2o_header_t){n, NULL, h2o_iovec_init(value, value_len)};
    return 0;
}

int kve_cache_head_decode(h2o_mem_pool_t *pool, const char *p, size_t len, kve_cache_head_t *h)
{
    size_t pos = 0, vlen, name_len = 0;
    const char *v, *name = NULL;
    uint8_t tag;
    int64_t num;
    int have_id = 0, ended = 0;

    memset(h, 0, sizeof(*h));
    h->headers = h2o_mem_alloc_pool(pool, sizeof(*h->headers) * KVE_CACHE_MAX_HEADERS);
    if (kve_cache_enc_next(p, len, &pos, &tag, &v, &vlen) != 0 || tag != TAG_VERSION ||
        !h2o_memis(v, vlen, H2O_STRLIT(RECORD_VERSION)))
        return -1;
    while (!ended && kve_cache_enc_next(p, len, &pos, &tag, &v, &vlen) == 0) {
        if (tag == TAG_END) {
            ended = 1;
        } else if (tag == TAG_ID) {
            if (vlen != KVE_CACHE_ID_LEN)
                return -1;
            memcpy(h->id, v, KVE_CACHE_ID_LEN);
            have_id = 1;
        } else if (tag == TAG_NAME) {
            if (name != NULL)
                return -1;
            name = v, name_len = vlen;
        } else if (tag == TAG_VALUE) {
            if (name == NULL || add_header(pool, h, name, name_len, v, vlen) != 0)
                return -1;
            name = NULL;
        } else if (tag == TAG_TAGS) {
            h->tags = h2o_iovec_init(v, vlen);
        } else if (get_int(v, vlen, &num) != 0 || set_number(h, tag, num) != 0) {
            return -1;
        }
    }
    return ended && pos == len && have_id && h->status != 0 && name == NULL ? 0 : -1;
}

void kve_cache_index_encode(const char *gen, h2o_iovec_t vary, kve_buf_t *out)
{
    kve_cache_enc_field(out, TAG_VERSION, KVE_STRLIT(INDEX_VERSION));
    kve_cache_enc_field(out, TAG_GEN, gen, KVE_CACHE_ID_LEN);
    kve_cache_enc_field(out, TAG_VARY, vary.base, vary.len);
}

int kve_cache_index_decode(const char *p, size_t len, const char **gen, h2o_iovec_t *vary)
{
    size_t pos = 0, vlen;
    const char *v;
    uint8_t tag;

    if (kve_cache_enc_next(p, len, &pos, &tag, &v, &vlen) != 0 || tag != TAG_VERSION ||
        !h2o_memis(v, vlen, H2O_STRLIT(INDEX_VERSION)))
        return -1;
    if (kve_cache_enc_next(p, len, &pos, &tag, &v, &vlen) != 0 || tag != TAG_GEN || vlen != KVE_CACHE_ID_LEN)
        return -1;
    *gen = v;
    if (kve_cache_enc_next(p, len, &pos, &tag, &v, &vlen) != 0 || tag != TAG_VARY)
        return -1;
    *vary = h2o_iovec_init(v, vlen);
    if (pos != len && (kve_cache_enc_next(p, len, &pos, &tag, &v, &vlen) != 0 || tag != TAG_COUNT))
        return -1; /* the count, if there is one, is read by kve_cache_index_count() */
    return pos == len ? 0 : -1;
}

void kve_cache_index_encode_count(const char *gen, h2o_iovec_t vary, uint64_t count, kve_buf_t *out)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, count);
    kve_cache_index_encode(gen, vary, out);
    kve_cache_enc_field(out, TAG_COUNT, buf, (size_t)n);
}

uint64_t kve_cache_index_count(const char *p, size_t len)
{
    size_t pos = 0, vlen;
    const char *v;
    uint8_t tag;
    uint64_t n = 0;

    while (kve_cache_enc_next(p, len, &pos, &tag, &v, &vlen) == 0) {
        if (tag != TAG_COUNT)
            continue;
        if (vlen == 0 || vlen > 9)
            return 1;
        for (size_t i = 0; i != vlen; ++i) {
            if (v[i] < '0' || v[i] > '9')
                return 1;
            n = n * 10 + (uint64_t)(v[i] - '0');
        }
        return n != 0 ? n : 1;
    }
    return 1;
}

/* unique across threads, restarts and instances sharing a store: time, pid and a process-wide sequence, mixed */
void kve_cache_new_id(char *id)
{
    static _Atomic uint64_t seq;
    static const char hex[] = "0123456789abcdef";
    uint64_t x = ((uint64_t)time(NULL) << 32) ^ ((uint64_t)getpid() << 20) ^ atomic_fetch_add(&seq, 1);
    /* splitmix64: spreads the bits so ids of one process do not share long prefixes */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    for (int i = 0; i != KVE_CACHE_ID_LEN; ++i)
        id[i] = hex[(x >> (4 * i)) & 0xf];
}
