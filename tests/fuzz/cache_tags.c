/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the tag field's parser (handlers/cache_tags.c) and the purge request's query (cache_purge_query.c).
 *
 * Input: byte 0 picks the mode (bit 0: comma-separated tags, bit 1: the purge query instead); the rest is split at
 * '\n' into field lines, each in an exact-size malloc'd block (ASan sees any read past a value).
 *
 * Oracles (tags): an accepted list has at most KVE_CACHE_MAX_TAGS distinct tags, each 1..KVE_CACHE_TAG_MAX_LEN bytes
 * with no control byte and no separator of the mode (no blank at either end of a comma-separated tag); the lines were at
 * most KVE_CACHE_TAG_FIELD_MAX bytes; the list joined with the mode's separator parses back to itself. A refusal
 * happens only for a reason the input has. Oracles (query): an accepted query names exactly one kind, every value
 * within its limit; a refusal gives a 400 or 414 and a message.
 */
#include "fuzz.h"
#include "handlers/cache_purge.h"
#include "handlers/cache_tags.h"

#define MAX_LINES 16

static size_t split(const uint8_t *p, size_t len, h2o_iovec_t *lines, char **blocks)
{
    const uint8_t *end = p + len, *nl;
    size_t n = 0;
    while (p < end && n != MAX_LINES) {
        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            nl = end;
        blocks[n] = fuzz_exact_copy(p, (size_t)(nl - p));
        lines[n] = h2o_iovec_init(blocks[n], (size_t)(nl - p));
        ++n;
        p = nl + 1;
    }
    return n;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

static void check_list(h2o_iovec_t list, size_t count, int comma)
{
    size_t pos = 0, n = 0, pos2;
    h2o_iovec_t t, u;
    kve_buf_t joined = KVE_BUF_INIT, again = KVE_BUF_INIT;
    size_t count2;

    while (kve_cache_tags_next(list, &pos, &t)) {
        ++n;
        FUZZ_CHECK(t.len >= 1 && t.len <= KVE_CACHE_TAG_MAX_LEN, "tag of %zu bytes", t.len);
        for (size_t i = 0; i != t.len; ++i) {
            unsigned char c = (unsigned char)t.base[i];
            FUZZ_CHECK((c >= 0x20 || c == '\t') && c != 0x7f, "control byte %02x in a tag", c);
            FUZZ_CHECK(comma ? c != ',' : !blank((char)c), "separator in a tag");
        }
        FUZZ_CHECK(!blank(t.base[0]) && !blank(t.base[t.len - 1]), "blank at an end of a tag");
        for (pos2 = 0; pos2 < pos - t.len - 1 && kve_cache_tags_next(list, &pos2, &u);)
            FUZZ_CHECK(!h2o_memis(u.base, u.len, t.base, t.len), "tag twice in the list");
        if (joined.len != 0)
            kve_buf_putc(&joined, comma ? ',' : ' ');
        kve_buf_append(&joined, t.base, t.len);
    }
    FUZZ_CHECK(n == count && n <= KVE_CACHE_MAX_TAGS, "%zu tags listed, %zu counted", n, count);
    if (joined.len <= KVE_CACHE_TAG_FIELD_MAX) {
        h2o_iovec_t line = h2o_iovec_init(joined.base != NULL ? joined.base : "", joined.len);
        FUZZ_CHECK(kve_cache_tags_parse(&line, 1, comma, &again, &count2) == KVE_CACHE_TAGS_OK, "the list refused");
        FUZZ_CHECK(count2 == count && h2o_memis(again.base, again.len, list.base, list.len), "the list does not parse back");
    }
    kve_buf_dispose(&joined);
    kve_buf_dispose(&again);
}

static void fuzz_tags(const h2o_iovec_t *lines, size_t n, int comma)
{
    kve_buf_t list = KVE_BUF_INIT;
    size_t count = 0, total = 0;
    kve_cache_tags_err_t err = kve_cache_tags_parse(lines, n, comma, &list, &count);

    for (size_t i = 0; i != n; ++i)
        total += lines[i].len;
    if (err == KVE_CACHE_TAGS_OK) {
        FUZZ_CHECK(total <= KVE_CACHE_TAG_FIELD_MAX, "a field of %zu bytes accepted", total);
        check_list(h2o_iovec_init(list.base, list.len), count, comma);
    } else {
        FUZZ_CHECK(err != KVE_CACHE_TAGS_FIELD_SIZE || total > KVE_CACHE_TAG_FIELD_MAX, "size refused at %zu bytes", total);
        FUZZ_CHECK(err != KVE_CACHE_TAGS_TOO_LONG || total > KVE_CACHE_TAG_MAX_LEN, "a tag too long in %zu bytes", total);
        FUZZ_CHECK(strcmp(kve_cache_tags_strerror(err), "ok") != 0, "a refusal without a reason");
    }
    kve_buf_dispose(&list);
}

static void fuzz_query(h2o_iovec_t query)
{
    h2o_mem_pool_t pool;
    kve_cache_purge_query_t q;
    int status = 0;
    const char *err;

    h2o_mem_init_pool(&pool);
    if ((err = kve_cache_purge_parse(&pool, query, &q, &status)) != NULL) {
        FUZZ_CHECK(status == 400 || status == 414, "status %d", status);
        FUZZ_CHECK(err[0] != '\0', "an empty message");
    } else {
        FUZZ_CHECK(q.kind != KVE_CACHE_PURGE_NONE, "no kind");
        FUZZ_CHECK(q.kind != KVE_CACHE_PURGE_URL || (q.url.len >= 1 && q.url.len <= KVE_CACHE_PURGE_MAX_URL), "url");
        FUZZ_CHECK(q.kind != KVE_CACHE_PURGE_TAG || (q.num_tags >= 1 && q.num_tags <= KVE_CACHE_PURGE_MAX_TAGS), "tags");
        FUZZ_CHECK(q.kind == KVE_CACHE_PURGE_TAG || q.num_tags == 0, "tags with another kind");
        for (size_t i = 0; i != q.num_tags; ++i)
            FUZZ_CHECK(q.tags[i].len >= 1 && q.tags[i].len <= KVE_CACHE_TAG_MAX_LEN, "tag length");
        FUZZ_CHECK(q.kind != KVE_CACHE_PURGE_ROUTE || (q.route.len >= 1 && q.route.len <= 1024), "route");
    }
    h2o_mem_clear_pool(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_iovec_t lines[MAX_LINES];
    char *blocks[MAX_LINES];
    uint8_t mode;
    size_t n;

    if (size == 0 || size > 64 * 1024)
        return 0;
    mode = data[0];
    n = split(data + 1, size - 1, lines, blocks);
    if (mode & 2) {
        for (size_t i = 0; i != n; ++i)
            fuzz_query(lines[i]);
    } else {
        fuzz_tags(lines, n, mode & 1);
    }
    for (size_t i = 0; i != n; ++i)
        free(blocks[i]);
    return 0;
}
