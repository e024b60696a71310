/* SPDX-License-Identifier: MIT */
/*
 * The JSON of a cache lookup (console_cache.h), from bytes the store holds: pure, no I/O, so the fuzz target
 * tests/fuzz/console_cache.c can feed it anything a store (or whoever writes to it) could hold. Every string is written
 * with kve_json_string (escaped, invalid UTF-8 replaced): the answer is valid JSON whatever the bytes.
 */
#include "handlers/console_cache_render.h"
#include "handlers/cache_enc.h"
#include "handlers/cache_freshness.h"
#include "handlers/cache_record.h"
#include "handlers/cache_tags.h"
#include "proxy/common.h"
#include "proxy/json.h"

#include <stdio.h>
#include <string.h>

static const char *field_name(uint8_t tag)
{
    switch (tag) {
    case 'V':
        return "version";
    case 'M':
        return "method";
    case 'S':
        return "scheme";
    case 'H':
        return "host";
    case 'P':
        return "path";
    case 'Q':
        return "has query";
    case 'q':
        return "query parameter";
    case 'h':
        return "header";
    case 'c':
        return "cookie";
    case 'p':
        return "present";
    case 'v':
        return "value";
    default:
        return "?";
    }
}

void kve_console_cache_render_key(kve_buf_t *out, const uint8_t primary[KVE_CACHE_HASH_LEN], const char *enc, size_t len)
{
    char name[KVE_CACHE_SET_KEY_MAX];
    size_t pos = 0, vlen, n = kve_cache_key_name(name, sizeof(name), h2o_iovec_init("", 0), primary, NULL, "h");
    const char *v;
    uint8_t tag;

    kve_buf_printf(out, "\"key\":{\"name\":");
    kve_json_string(out, name, n - 2); /* without ":h" */
    kve_buf_printf(out, ",\"fields\":[");
    for (int first = 1; kve_cache_enc_next(enc, len, &pos, &tag, &v, &vlen) == 0; first = 0) {
        kve_buf_printf(out, "%s[\"%s\",", first ? "" : ",", field_name(tag));
        if (tag == 'p' && vlen == 1)
            kve_buf_printf(out, "\"%s\"]", v[0] ? "yes" : "no");
        else
            kve_json_string(out, v, vlen), kve_buf_putc(out, ']');
    }
    kve_buf_printf(out, "]}");
}

/* what is left of a window ending at `until` (seconds of age); a stale window starts when freshness ends, so it is counted
 * from max(age, lifetime): a fresh object has all of it left */
static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_sub_overflow(a, b, &r) ? (b < 0 ? INT64_MAX : INT64_MIN) : r;
}

static int64_t left(int64_t until, int64_t age)
{
    return until > age ? sat_sub(until, age) : 0;
}

static void render_head(kve_buf_t *out, const kve_cache_head_t *h, int64_t now)
{
    /* the times are the store's bytes: saturating arithmetic (kve_cache_current_age's, without its overflow) */
    int64_t age = sat_add(h->initial_age, KVE_MAX(0, sat_sub(now, h->response_time))), life = h->fresh.lifetime;
    int no_stale = (h->fresh.flags & KVE_CACHE_FRESH_NO_STALE) != 0;
    size_t pos = 0;
    h2o_iovec_t tag;

    kve_buf_printf(out,
                   ",\"status\":%d,\"stored_at\":%lld,\"age\":%lld,\"lifetime\":%lld,\"fresh_for\":%lld,\"stale\":%s,"
                   "\"stale_while_revalidate_left\":%lld,\"stale_if_error_left\":%lld,\"no_cache\":%s,\"must_revalidate\":%s,"
                   "\"body_bytes\":%llu,\"headers\":[",
                   h->status, (long long)h->response_time, (long long)age, (long long)life, (long long)left(life, age),
                   age >= life ? "true" : "false",
                   (long long)(no_stale ? 0 : left(sat_add(life, h->fresh.swr), KVE_MAX(age, life))),
                   (long long)(no_stale ? 0 : left(sat_add(life, h->fresh.sie), KVE_MAX(age, life))),
                   (h->fresh.flags & KVE_CACHE_FRESH_NO_CACHE) ? "true" : "false", no_stale ? "true" : "false",
                   (unsigned long long)h->body_len);
    for (size_t i = 0; i != h->num_headers; ++i) {
        kve_buf_printf(out, "%s[", i ? "," : "");
        kve_json_string(out, h->headers[i].name->base, h->headers[i].name->len);
        kve_buf_putc(out, ',');
        kve_json_string(out, h->headers[i].value.base, h->headers[i].value.len);
        kve_buf_putc(out, ']');
    }
    kve_buf_printf(out, "],\"tags\":[");
    for (int first = 1; kve_cache_tags_next(h->tags, &pos, &tag); first = 0) {
        if (!first)
            kve_buf_putc(out, ',');
        kve_json_string(out, tag.base, tag.len);
    }
    kve_buf_putc(out, ']');
}

int kve_console_cache_render_object(kve_buf_t *out, h2o_mem_pool_t *pool, const uint8_t *variant, const char *head, size_t head_len,
                                    int too_large, int64_t body_len, int64_t pttl, int64_t now, int first)
{
    kve_cache_head_t h;
    char hex[KVE_CACHE_HASH_HEX + 1];

    if (!too_large && (head == NULL || kve_cache_head_decode(pool, head, head_len, &h) != 0))
        return 0;
    kve_buf_printf(out, "%s{\"variant\":", first ? "" : ",");
    if (variant != NULL) {
        for (size_t i = 0; i != KVE_CACHE_HASH_LEN; ++i)
            snprintf(hex + 2 * i, 3, "%02x", variant[i]);
        kve_buf_printf(out, "\"%s\"", hex);
    } else {
        kve_buf_printf(out, "null");
    }
    if (too_large) {
        kve_buf_printf(out, ",\"too_large\":true,\"store_ttl_ms\":%lld}", (long long)pttl);
        return 1;
    }
    render_head(out, &h, now);
    kve_buf_printf(out, ",\"store_ttl_ms\":%lld,\"head_bytes\":%zu,\"body_stored\":%s,\"stored_bytes\":%llu}", (long long)pttl,
                   head_len, body_len >= 0 ? "true" : "false",
                   (unsigned long long)(head_len + (size_t)(body_len >= 0 ? body_len : 0)));
    return 1;
}

void kve_console_cache_render_vary(kve_buf_t *out, const char *index, size_t len)
{
    const char *gen;
    h2o_iovec_t vary;

    if (index == NULL || kve_cache_index_decode(index, len, &gen, &vary) != 0) {
        kve_buf_printf(out, "\"vary\":null");
        return;
    }
    kve_buf_printf(out, "\"vary\":");
    kve_json_string(out, vary.base, vary.len);
    kve_buf_printf(out, ",\"variants_counted\":%llu", (unsigned long long)kve_cache_index_count(index, len));
}
