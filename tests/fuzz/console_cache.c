/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the console's cache lookup answer made from the store's bytes (handlers/console_cache_render.c, issue 13),
 * with the head record and variant index decoders under it (handlers/cache_record.c, cache_enc.c, cache_tags.c).
 * Whoever can write to the store can put anything under a cache key; the console must still answer valid JSON.
 *
 * Input: byte 0 picks the mode:
 *   bit 0 clear: a stored object. Bit 1 set: the rest is the head record as raw bytes. Bit 1 clear: a head record is
 *     built with kve_cache_head_encode from the input (status, times, freshness, flags, body length as 64-bit values,
 *     then '\n'-separated header names and values and a tag list), so the decoder gets well-formed records with hostile
 *     contents (huge or negative times, control bytes, invalid UTF-8); bit 2 then flips one byte of it.
 *   bit 0 set: a primary key encoding and a variant index, both the rest of the input.
 * Oracles: the output is valid JSON (jansson parses it); a record that decodes is rendered with its status, its header
 * count and its tag count; a record built here always decodes (bit 2 clear).
 */
#include "fuzz.h"
#include "handlers/cache_record.h"
#include "handlers/cache_tags.h"
#include "handlers/console_cache_render.h"
#include "proxy/common.h"

#include <jansson.h>
#include <time.h>

#define MAX_FIELDS 64

static json_t *parse_json(const kve_buf_t *out, char open, char close)
{
    kve_buf_t doc = KVE_BUF_INIT;
    json_error_t err;
    json_t *j;

    kve_buf_putc(&doc, open);
    kve_buf_append(&doc, out->base, out->len);
    kve_buf_putc(&doc, close);
    j = json_loadb(doc.base, doc.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    FUZZ_CHECK(j != NULL, "not JSON (%s): %.*s", err.text, (int)KVE_MIN(doc.len, 2000), doc.base);
    kve_buf_dispose(&doc);
    return j;
}

/* a head record built from the input into `rec`; its header and tag counts into *num_headers, *num_tags */
static void build_head(fuzz_in_t *in, kve_buf_t *rec, size_t *num_headers, size_t *num_tags)
{
    h2o_iovec_t names[MAX_FIELDS];
    h2o_header_t headers[MAX_FIELDS];
    kve_cache_head_t h = {{0}};
    size_t n = 0, pos = 0;
    h2o_iovec_t tag;

    memset(h.id, 'a', sizeof(h.id));
    h.status = 100 + fuzz_u16(in) % 900;
    h.request_time = (int64_t)fuzz_u64(in);
    h.response_time = (int64_t)fuzz_u64(in);
    h.initial_age = (int64_t)fuzz_u64(in);
    h.fresh.lifetime = (int64_t)fuzz_u64(in);
    h.fresh.swr = (int64_t)fuzz_u64(in);
    h.fresh.sie = (int64_t)fuzz_u64(in);
    h.fresh.flags = fuzz_u8(in);
    h.body_len = fuzz_u64(in) >> 1; /* the decoder takes 0..INT64_MAX */
    /* '\n'-separated: name, value, name, value, ...; a line starting with 0xff is the tag list (its rest, '\n'-joined) */
    while (fuzz_left(in) != 0) {
        const uint8_t *start = in->p;
        while (in->p != in->end && *in->p != '\n')
            ++in->p;
        h2o_iovec_t line = h2o_iovec_init((const char *)start, (size_t)(in->p - start));
        if (in->p != in->end)
            ++in->p;
        if (line.len != 0 && (uint8_t)line.base[0] == 0xff) {
            h.tags = h2o_iovec_init(line.base + 1, line.len - 1);
            while (fuzz_left(in) != 0) /* the rest, with its '\n's, is the list */
                ++in->p;
            h.tags.len = (size_t)((const char *)in->end - h.tags.base);
            break;
        }
        if (n == 2 * MAX_FIELDS || n / 2 == KVE_CACHE_MAX_HEADERS)
            break;
        if (n % 2 == 0) {
            names[n / 2] = line;
            headers[n / 2] = (h2o_header_t){names + n / 2, NULL, h2o_iovec_init("", 0)};
        } else {
            headers[n / 2].value = line;
        }
        ++n;
    }
    h.headers = headers;
    h.num_headers = (n + 1) / 2;
    kve_cache_head_encode(&h, rec);
    *num_headers = h.num_headers;
    *num_tags = 0;
    while (kve_cache_tags_next(h.tags, &pos, &tag))
        ++*num_tags;
}

static void fuzz_object(uint8_t mode, fuzz_in_t *in)
{
    kve_buf_t rec = KVE_BUF_INIT, out = KVE_BUF_INIT;
    size_t num_headers = 0, num_tags = 0, got;
    int built = !(mode & 2), rendered;
    uint8_t variant[KVE_CACHE_HASH_LEN];
    h2o_mem_pool_t pool;
    char *copy;

    memset(variant, 0xab, sizeof(variant));
    if (built) {
        build_head(in, &rec, &num_headers, &num_tags);
        if ((mode & 4) && rec.len != 0)
            rec.base[(size_t)mode * 7 % rec.len] ^= (char)(mode | 1);
    } else {
        const uint8_t *p = fuzz_bytes(in, fuzz_left(in), &got);
        kve_buf_append(&rec, (const char *)p, got);
    }
    copy = fuzz_exact_copy(rec.base, rec.len);
    h2o_mem_init_pool(&pool);
    rendered = kve_console_cache_render_object(&out, &pool, (mode & 8) ? variant : NULL, copy != NULL ? copy : "", rec.len,
                                               (mode & 16) != 0, (int64_t)(mode & 32 ? -1 : 123), 1000, (int64_t)time(NULL), 1);
    if (built && !(mode & 4) && !(mode & 16))
        FUZZ_CHECK(rendered, "a record kve_cache_head_encode made did not decode");
    if (rendered) {
        json_t *j = parse_json(&out, '[', ']'), *o = json_array_get(j, 0);
        FUZZ_CHECK(json_is_object(o), "not an object");
        if (!(mode & 16)) {
            json_int_t status = json_integer_value(json_object_get(o, "status"));
            FUZZ_CHECK(status >= 100 && status <= 999, "status %lld", (long long)status);
            if (built && !(mode & 4)) {
                FUZZ_CHECK(json_array_size(json_object_get(o, "headers")) == num_headers, "headers %zu, rendered %zu", num_headers,
                           json_array_size(json_object_get(o, "headers")));
                FUZZ_CHECK(json_array_size(json_object_get(o, "tags")) == num_tags, "tags");
            }
        }
        json_decref(j);
    } else {
        FUZZ_CHECK(out.len == 0, "nothing appended when not rendered");
    }
    h2o_mem_clear_pool(&pool);
    free(copy);
    kve_buf_dispose(&rec);
    kve_buf_dispose(&out);
}

static void fuzz_key_and_index(fuzz_in_t *in)
{
    uint8_t primary[KVE_CACHE_HASH_LEN] = {0};
    size_t got, len;
    const uint8_t *p = fuzz_bytes(in, fuzz_left(in), &got);
    char *copy = fuzz_exact_copy(p, got);
    kve_buf_t out = KVE_BUF_INIT;
    json_t *j;

    len = got < sizeof(primary) ? got : sizeof(primary);
    memcpy(primary, p, len);
    kve_console_cache_render_key(&out, primary, copy, got);
    kve_buf_putc(&out, ',');
    kve_console_cache_render_vary(&out, copy, got);
    j = parse_json(&out, '{', '}');
    FUZZ_CHECK(json_is_array(json_object_get(json_object_get(j, "key"), "fields")), "key fields");
    json_decref(j);
    kve_buf_dispose(&out);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t mode = fuzz_u8(&in);

    if (mode & 1)
        fuzz_key_and_index(&in);
    else
        fuzz_object(mode, &in);
    return 0;
}
