/* SPDX-License-Identifier: MIT */
/* Cache tags: the tag field's parser, set and member names, the set writes of a stored object (see cache_tags.h). */
#include "handlers/cache_tags.h"
#include "handlers/cache_enc.h"
#include "proxy/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct st_kve_cache_set_argv_t {
    const char *argv[4];
    size_t argvlen[4];
};

int kve_cache_tags_comma(const char *name, size_t len)
{
    static const char suffix[] = "cache-tag";
    size_t n = sizeof(suffix) - 1;
    return len >= n && h2o_lcstris(name + len - n, n, suffix, n);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* one tag: checked, and appended unless the list has it already */
static kve_cache_tags_err_t add_tag(const char *p, size_t len, kve_buf_t *out, size_t *count)
{
    size_t pos = 0;
    h2o_iovec_t t;

    if (len == 0)
        return KVE_CACHE_TAGS_OK;
    if (len > KVE_CACHE_TAG_MAX_LEN)
        return KVE_CACHE_TAGS_TOO_LONG;
    for (size_t i = 0; i != len; ++i)
        if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return KVE_CACHE_TAGS_BAD_BYTE;
    while (kve_cache_tags_next(h2o_iovec_init(out->base, out->len), &pos, &t))
        if (h2o_memis(t.base, t.len, p, len))
            return KVE_CACHE_TAGS_OK;
    if (*count == KVE_CACHE_MAX_TAGS)
        return KVE_CACHE_TAGS_TOO_MANY;
    if (out->len != 0)
        kve_buf_putc(out, '\n');
    kve_buf_append(out, p, len);
    ++*count;
    return KVE_CACHE_TAGS_OK;
}

/* the tags of one line */
static kve_cache_tags_err_t parse_line(h2o_iovec_t v, int comma, kve_buf_t *out, size_t *count)
{
    const char *p, *end;
    kve_cache_tags_err_t err;

    if (v.len == 0)
        return KVE_CACHE_TAGS_OK;
    p = v.base, end = v.base + v.len;

    while (p != end) {
        const char *item = p, *item_end;
        if (comma) {
            const char *c = memchr(p, ',', (size_t)(end - p));
            item_end = c != NULL ? c : end;
            p = c != NULL ? c + 1 : end;
            while (item != item_end && is_blank(*item))
                ++item;
            while (item_end != item && is_blank(item_end[-1]))
                --item_end;
        } else {
            while (item != end && is_blank(*item))
                ++item;
            for (item_end = item; item_end != end && !is_blank(*item_end); ++item_end)
                ;
            p = item_end;
        }
        if ((err = add_tag(item, (size_t)(item_end - item), out, count)) != KVE_CACHE_TAGS_OK)
            return err;
    }
    return KVE_CACHE_TAGS_OK;
}

kve_cache_tags_err_t kve_cache_tags_parse(const h2o_iovec_t *values, size_t n, int comma, kve_buf_t *out, size_t *count)
{
    size_t total = 0, i;
    kve_cache_tags_err_t err;

    *count = 0;
    /* the size first: a hostile field costs one pass over its length and nothing more */
    for (i = 0; i != n; ++i)
        if ((total += values[i].len) > KVE_CACHE_TAG_FIELD_MAX)
            return KVE_CACHE_TAGS_FIELD_SIZE;
    for (i = 0; i != n; ++i)
        if ((err = parse_line(values[i], comma, out, count)) != KVE_CACHE_TAGS_OK)
            return err;
    return KVE_CACHE_TAGS_OK;
}

const char *kve_cache_tags_strerror(kve_cache_tags_err_t err)
{
    switch (err) {
    case KVE_CACHE_TAGS_OK:
        return "ok";
    case KVE_CACHE_TAGS_TOO_MANY:
        return "tags-too-many";
    case KVE_CACHE_TAGS_TOO_LONG:
        return "tag-too-long";
    case KVE_CACHE_TAGS_FIELD_SIZE:
        return "tags-too-big";
    case KVE_CACHE_TAGS_BAD_BYTE:
        break;
    }
    return "tag-invalid";
}

int kve_cache_tags_next(h2o_iovec_t list, size_t *pos, h2o_iovec_t *tag)
{
    const char *p, *nl;
    if (*pos >= list.len)
        return 0;
    p = list.base + *pos;
    nl = memchr(p, '\n', list.len - *pos);
    tag->base = (char *)p;
    tag->len = nl != NULL ? (size_t)(nl - p) : list.len - *pos;
    *pos += tag->len + 1;
    return 1;
}

static void put_hex(char *p, const uint8_t *h)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i != KVE_CACHE_HASH_LEN; ++i)
        p[2 * i] = digits[h[i] >> 4], p[2 * i + 1] = digits[h[i] & 15];
}

static int get_hex(const char *p, uint8_t *h)
{
    for (size_t i = 0; i != KVE_CACHE_HASH_LEN; ++i) {
        unsigned char b;
        if (h2o_hex_decode(&b, p + 2 * i, 2) != 0 || (p[2 * i] >= 'A' && p[2 * i] <= 'F') ||
            (p[2 * i + 1] >= 'A' && p[2 * i + 1] <= 'F'))
            return -1;
        h[i] = b;
    }
    return 0;
}

size_t kve_cache_set_key(char *buf, size_t cap, h2o_iovec_t ns, char kind, const char *name, size_t len)
{
    kve_buf_t enc = KVE_BUF_INIT;
    uint8_t hash[KVE_CACHE_HASH_LEN];
    char hex[KVE_CACHE_HASH_HEX + 1];
    int n;

    /* the kind is part of what is hashed too: a tag never names a route's set */
    kve_cache_enc_field(&enc, (uint8_t)kind, name, len);
    kve_cache_key_hash(enc.base, enc.len, hash);
    kve_buf_dispose(&enc);
    put_hex(hex, hash);
    hex[KVE_CACHE_HASH_HEX] = '\0';
    n = snprintf(buf, cap, "%.*s" KVE_CACHE_KEY_VERSION ":%c:{%s}", (int)ns.len, ns.base, kind, hex);
    return n > 0 ? (size_t)n : 0;
}

size_t kve_cache_member(char *buf, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant)
{
    size_t n = KVE_CACHE_HASH_HEX;
    put_hex(buf, primary);
    if (variant != NULL) {
        buf[n++] = ':';
        put_hex(buf + n, variant);
        n += KVE_CACHE_HASH_HEX;
    }
    buf[n] = '\0';
    return n;
}

int kve_cache_member_parse(const char *p, size_t len, uint8_t primary[KVE_CACHE_HASH_LEN], uint8_t variant[KVE_CACHE_HASH_LEN],
                           int *has_variant)
{
    if (len != KVE_CACHE_HASH_HEX && (len != 2 * KVE_CACHE_HASH_HEX + 1 || p[KVE_CACHE_HASH_HEX] != ':'))
        return -1;
    if (get_hex(p, primary) != 0)
        return -1;
    *has_variant = len != KVE_CACHE_HASH_HEX;
    return *has_variant ? get_hex(p + KVE_CACHE_HASH_HEX + 1, variant) : 0;
}

/* SADD key member; PEXPIRE key ttl NX; PEXPIRE key ttl GT */
static void add_set(kve_cache_set_writes_t *w, const char *key, size_t member_len, size_t ttl_len)
{
    struct st_kve_cache_set_argv_t *a = w->argv + w->n;
    size_t klen = strlen(key);

    a[0] = (struct st_kve_cache_set_argv_t){{"SADD", key, w->member}, {4, klen, member_len}};
    a[1] = (struct st_kve_cache_set_argv_t){{"PEXPIRE", key, w->ttl, "NX"}, {7, klen, ttl_len, 2}};
    a[2] = (struct st_kve_cache_set_argv_t){{"PEXPIRE", key, w->ttl, "GT"}, {7, klen, ttl_len, 2}};
    w->cmds[w->n] = KVE_KV_COMMAND(3, a[0].argv, a[0].argvlen);
    w->cmds[w->n + 1] = KVE_KV_COMMAND(4, a[1].argv, a[1].argvlen);
    w->cmds[w->n + 2] = KVE_KV_COMMAND(4, a[2].argv, a[2].argvlen);
    w->n += 3;
}

void kve_cache_set_writes_init(kve_cache_set_writes_t *w, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN],
                               const uint8_t *variant, uint64_t ttl_ms, const char *route, h2o_iovec_t tags)
{
    size_t num_tags = 0, pos = 0, nkeys = 0, member_len, ttl_len;
    h2o_iovec_t t;

    memset(w, 0, sizeof(*w));
    while (kve_cache_tags_next(tags, &pos, &t))
        ++num_tags;
    /* one key per tag, the route's and the URL's variant set */
    w->keys = kve_malloc((num_tags + 2) * sizeof(*w->keys));
    w->argv = kve_malloc(3 * (num_tags + 2) * sizeof(*w->argv));
    w->cmds = kve_malloc(3 * (num_tags + 2) * sizeof(*w->cmds));
    ttl_len = (size_t)snprintf(w->ttl, sizeof(w->ttl), "%" PRIu64, ttl_ms);
    member_len = kve_cache_member(w->member, primary, variant);
    for (pos = 0; kve_cache_tags_next(tags, &pos, &t); ++nkeys) {
        kve_cache_set_key(w->keys[nkeys], KVE_CACHE_SET_KEY_MAX, ns, KVE_CACHE_SET_TAG, t.base, t.len);
        add_set(w, w->keys[nkeys], member_len, ttl_len);
    }
    if (route != NULL) {
        kve_cache_set_key(w->keys[nkeys], KVE_CACHE_SET_KEY_MAX, ns, KVE_CACHE_SET_ROUTE, route, strlen(route));
        add_set(w, w->keys[nkeys++], member_len, ttl_len);
    }
    if (variant != NULL) {
        kve_cache_key_name(w->keys[nkeys], KVE_CACHE_SET_KEY_MAX, ns, primary, NULL, "s");
        add_set(w, w->keys[nkeys++], member_len, ttl_len);
    }
}

void kve_cache_set_writes_dispose(kve_cache_set_writes_t *w)
{
    free(w->keys);
    free(w->argv);
    free(w->cmds);
    memset(w, 0, sizeof(*w));
}
