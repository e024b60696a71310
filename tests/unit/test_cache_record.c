/* SPDX-License-Identifier: MIT */
/* Head records and variant indexes of cached objects (handlers/cache_record.c): round trips and refusals. */
#include "test.h"
#include "handlers/cache_record.h"

static h2o_iovec_t names[3] = {{"content-type", 12}, {"x-bin", 5}, {"etag", 4}};

static void sample(kve_cache_head_t *h, h2o_header_t *headers)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->id, "0123456789abcdef", KVE_CACHE_ID_LEN);
    h->status = 203;
    h->request_time = 1700000000, h->response_time = 1700000001, h->initial_age = 7;
    h->fresh = (kve_cache_fresh_t){60, 5, 9, KVE_CACHE_FRESH_EXPLICIT};
    h->body_len = 12345;
    headers[0] = (h2o_header_t){&names[0], NULL, {"application/json", 16}};
    headers[1] = (h2o_header_t){&names[1], NULL, {"a\0b\r\nc", 6}}; /* any byte survives */
    headers[2] = (h2o_header_t){&names[2], NULL, {"", 0}};
    h->headers = headers, h->num_headers = 3;
}

TEST(cache_record_round_trip)
{
    h2o_mem_pool_t pool;
    h2o_header_t headers[3];
    kve_cache_head_t in, out;
    kve_buf_t buf = KVE_BUF_INIT;

    h2o_mem_init_pool(&pool);
    sample(&in, headers);
    kve_cache_head_encode(&in, &buf);
    CHECK_EQ_INT(kve_cache_head_decode(&pool, buf.base, buf.len, &out), 0);
    CHECK_EQ_MEM(out.id, KVE_CACHE_ID_LEN, in.id, KVE_CACHE_ID_LEN);
    CHECK_EQ_INT(out.status, 203);
    CHECK_EQ_INT(out.request_time, 1700000000);
    CHECK_EQ_INT(out.response_time, 1700000001);
    CHECK_EQ_INT(out.initial_age, 7);
    CHECK_EQ_INT(out.fresh.lifetime, 60);
    CHECK_EQ_INT(out.fresh.swr, 5);
    CHECK_EQ_INT(out.fresh.sie, 9);
    CHECK_EQ_UINT(out.fresh.flags, KVE_CACHE_FRESH_EXPLICIT);
    CHECK_EQ_UINT(out.body_len, 12345);
    CHECK_EQ_UINT(out.num_headers, 3);
    for (size_t i = 0; i != 3; ++i) {
        CHECK_EQ_MEM(out.headers[i].name->base, out.headers[i].name->len, headers[i].name->base, headers[i].name->len);
        CHECK_EQ_MEM(out.headers[i].value.base, out.headers[i].value.len, headers[i].value.base, headers[i].value.len);
    }
    /* every truncation is refused, never read past the end */
    for (size_t len = 0; len < buf.len; ++len) {
        char *copy = malloc(len + 1);
        memcpy(copy, buf.base, len);
        CHECK(kve_cache_head_decode(&pool, copy, len, &out) != 0);
        free(copy);
    }
    /* a variant index is not a head record, and the other way round */
    {
        const char *gen;
        h2o_iovec_t vary;
        kve_buf_t idx = KVE_BUF_INIT;
        kve_cache_index_encode("fedcba9876543210", h2o_iovec_init(H2O_STRLIT("accept-language,x-a")), &idx);
        CHECK_EQ_INT(kve_cache_index_decode(idx.base, idx.len, &gen, &vary), 0);
        CHECK_EQ_MEM(gen, KVE_CACHE_ID_LEN, "fedcba9876543210", KVE_CACHE_ID_LEN);
        CHECK_EQ_MEM(vary.base, vary.len, "accept-language,x-a", 19);
        CHECK(kve_cache_head_decode(&pool, idx.base, idx.len, &out) != 0);
        CHECK(kve_cache_index_decode(buf.base, buf.len, &gen, &vary) != 0);
        CHECK(kve_cache_index_decode(idx.base, idx.len - 1, &gen, &vary) != 0);
        kve_buf_dispose(&idx);
    }
    kve_buf_dispose(&buf);
    h2o_mem_clear_pool(&pool);
}

/* a time a store holds is outside input: one that would overflow the freshness arithmetic makes the record unreadable */
TEST(cache_record_time_bounds)
{
    h2o_mem_pool_t pool;
    h2o_header_t headers[3];
    kve_cache_head_t in, out;
    int64_t bad[] = {INT64_MAX, INT64_MIN, ((int64_t)1 << 40) + 1};

    h2o_mem_init_pool(&pool);
    for (size_t field = 0; field != 4; ++field) {
        for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
            kve_buf_t buf = KVE_BUF_INIT;
            sample(&in, headers);
            int64_t *target[] = {&in.request_time, &in.response_time, &in.initial_age, &in.fresh.lifetime};
            *target[field] = bad[i];
            kve_cache_head_encode(&in, &buf);
            CHECK(kve_cache_head_decode(&pool, buf.base, buf.len, &out) != 0);
            kve_buf_dispose(&buf);
        }
    }
    {
        kve_buf_t buf = KVE_BUF_INIT;
        sample(&in, headers);
        in.response_time = (int64_t)1 << 40; /* the bound itself is taken */
        kve_cache_head_encode(&in, &buf);
        CHECK_EQ_INT(kve_cache_head_decode(&pool, buf.base, buf.len, &out), 0);
        kve_buf_dispose(&buf);
    }
    h2o_mem_clear_pool(&pool);
}

TEST(cache_record_ids)
{
    char a[KVE_CACHE_ID_LEN], b[KVE_CACHE_ID_LEN];
    kve_cache_new_id(a);
    kve_cache_new_id(b);
    CHECK(memcmp(a, b, KVE_CACHE_ID_LEN) != 0);
    for (size_t i = 0; i != KVE_CACHE_ID_LEN; ++i)
        CHECK(strchr("0123456789abcdef", a[i]) != NULL);
}

void kve_suite_cache_record(void)
{
    RUN(cache_record_round_trip);
    RUN(cache_record_time_bounds);
    RUN(cache_record_ids);
}
