/* SPDX-License-Identifier: MIT */
/*
 * Cache tags (handlers/cache_tags.c): the tag field's parser and its limits, set and member names, the set writes of a
 * stored object, the tags in the head record; the purge request's query (handlers/cache_purge_query.c).
 */
#include "test.h"
#include "handlers/cache_purge.h"
#include "handlers/cache_record.h"
#include "handlers/cache_tags.h"

#include <stdio.h>
#include <stdlib.h>

/* the parsed list of `lines` (NULL-terminated) with '\n' shown as '|', or "(<error>)" */
static const char *tags_of(int comma, const char *const *lines)
{
    static char out[1024];
    h2o_iovec_t v[8];
    size_t n = 0, count = 0;
    kve_buf_t buf = KVE_BUF_INIT;
    kve_cache_tags_err_t err;

    for (; lines[n] != NULL; ++n)
        v[n] = h2o_iovec_init(lines[n], strlen(lines[n]));
    err = kve_cache_tags_parse(v, n, comma, &buf, &count);
    if (err != KVE_CACHE_TAGS_OK) {
        snprintf(out, sizeof(out), "(%s)", kve_cache_tags_strerror(err));
    } else {
        snprintf(out, sizeof(out), "%zu:%.*s", count, (int)buf.len, buf.base != NULL ? buf.base : "");
        for (char *p = out; *p != '\0'; ++p)
            if (*p == '\n')
                *p = '|';
    }
    kve_buf_dispose(&buf);
    return out;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

TEST(cache_tags_parse)
{
    /* Surrogate-Key: spaces and tabs */
    CHECK_EQ_STR(tags_of(0, L("a b  c")), "3:a|b|c");
    CHECK_EQ_STR(tags_of(0, L("\t a\tb \t")), "2:a|b");
    CHECK_EQ_STR(tags_of(0, L("a,b c")), "2:a,b|c");                             /* a comma is part of a Surrogate-Key tag */
    CHECK_EQ_STR(tags_of(0, L("a b", "b c")), "3:a|b|c");                        /* lines combined, duplicates dropped */
    CHECK_EQ_STR(tags_of(0, L("items items/1 Items")), "3:items|items/1|Items"); /* exact: case-sensitive */
    CHECK_EQ_STR(tags_of(0, L("")), "0:");
    CHECK_EQ_STR(tags_of(0, L("   ")), "0:");
    CHECK_EQ_STR(tags_of(0, L("caf\xc3\xa9")), "1:caf\xc3\xa9"); /* obs-text is a byte like any other */
    /* Cache-Tag: commas, items trimmed, inner spaces kept */
    CHECK_EQ_STR(tags_of(1, L("alpha, beta gamma,delta")), "3:alpha|beta gamma|delta");
    CHECK_EQ_STR(tags_of(1, L(" , ,a,,")), "1:a");
    CHECK_EQ_STR(tags_of(1, L("a", "a ,b")), "2:a|b");
    /* refusals */
    CHECK_EQ_STR(tags_of(0, L("a\001b")), "(tag-invalid)");
    CHECK_EQ_STR(tags_of(1, L("a\x7f")), "(tag-invalid)");
}

TEST(cache_tags_limits)
{
    char line[KVE_CACHE_TAG_FIELD_MAX + 2], *p = line;
    const char *lines[] = {line, NULL};

    /* KVE_CACHE_MAX_TAGS distinct tags pass, one more is refused; duplicates do not count */
    for (int i = 0; i != KVE_CACHE_MAX_TAGS; ++i)
        p += sprintf(p, "t%d t%d ", i, i);
    CHECK_EQ_STR(tags_of(0, lines),
                 "128:t0|t1|t2|t3|t4|t5|t6|t7|t8|t9|t10|t11|t12|t13|t14|t15|t16|t17|t18|t19|t20|t21|t22|t23|t24|t25|"
                 "t26|t27|t28|t29|t30|t31|t32|t33|t34|t35|t36|t37|t38|t39|t40|t41|t42|t43|t44|t45|t46|t47|t48|t49|"
                 "t50|t51|t52|t53|t54|t55|t56|t57|t58|t59|t60|t61|t62|t63|t64|t65|t66|t67|t68|t69|t70|t71|t72|t73|"
                 "t74|t75|t76|t77|t78|t79|t80|t81|t82|t83|t84|t85|t86|t87|t88|t89|t90|t91|t92|t93|t94|t95|t96|t97|"
                 "t98|t99|t100|t101|t102|t103|t104|t105|t106|t107|t108|t109|t110|t111|t112|t113|t114|t115|t116|"
                 "t117|t118|t119|t120|t121|t122|t123|t124|t125|t126|t127");
    sprintf(p, "extra");
    CHECK_EQ_STR(tags_of(0, lines), "(tags-too-many)");
    /* a tag of KVE_CACHE_TAG_MAX_LEN bytes passes, one byte more is refused */
    memset(line, 'x', KVE_CACHE_TAG_MAX_LEN);
    line[KVE_CACHE_TAG_MAX_LEN] = '\0';
    CHECK(strncmp(tags_of(0, lines), "1:", 2) == 0);
    line[KVE_CACHE_TAG_MAX_LEN] = 'x', line[KVE_CACHE_TAG_MAX_LEN + 1] = '\0';
    CHECK_EQ_STR(tags_of(0, lines), "(tag-too-long)");
    /* the field's size is checked first, whatever it holds */
    memset(line, ' ', KVE_CACHE_TAG_FIELD_MAX + 1);
    line[KVE_CACHE_TAG_FIELD_MAX + 1] = '\0';
    CHECK_EQ_STR(tags_of(0, lines), "(tags-too-big)");
    line[KVE_CACHE_TAG_FIELD_MAX] = '\0';
    CHECK_EQ_STR(tags_of(0, lines), "0:");
}

TEST(cache_tags_comma)
{
    CHECK(kve_cache_tags_comma(H2O_STRLIT("Cache-Tag")));
    CHECK(kve_cache_tags_comma(H2O_STRLIT("edge-cache-tag")));
    CHECK(kve_cache_tags_comma(H2O_STRLIT("Vercel-Cache-Tag")));
    CHECK(!kve_cache_tags_comma(H2O_STRLIT("Surrogate-Key")));
    CHECK(!kve_cache_tags_comma(H2O_STRLIT("xkey")));
    CHECK(!kve_cache_tags_comma(H2O_STRLIT("tag")));
}

TEST(cache_tags_names)
{
    uint8_t p[KVE_CACHE_HASH_LEN], v[KVE_CACHE_HASH_LEN], p2[KVE_CACHE_HASH_LEN], v2[KVE_CACHE_HASH_LEN];
    char m[KVE_CACHE_MEMBER_MAX], a[KVE_CACHE_SET_KEY_MAX], b[KVE_CACHE_SET_KEY_MAX];
    int has_variant;

    for (int i = 0; i != KVE_CACHE_HASH_LEN; ++i)
        p[i] = (uint8_t)(i * 17), v[i] = (uint8_t)(255 - i);
    CHECK_EQ_UINT(kve_cache_member(m, p, NULL), KVE_CACHE_HASH_HEX);
    CHECK_EQ_STR(m, "00112233445566778899aabbccddeeff");
    CHECK_EQ_INT(kve_cache_member_parse(m, strlen(m), p2, v2, &has_variant), 0);
    CHECK(!has_variant && memcmp(p, p2, sizeof(p)) == 0);
    CHECK_EQ_UINT(kve_cache_member(m, p, v), 2 * KVE_CACHE_HASH_HEX + 1);
    CHECK_EQ_INT(kve_cache_member_parse(m, strlen(m), p2, v2, &has_variant), 0);
    CHECK(has_variant && memcmp(v, v2, sizeof(v)) == 0);
    /* anything else is not a member */
    CHECK_EQ_INT(kve_cache_member_parse(m, strlen(m) - 1, p2, v2, &has_variant), -1);
    m[KVE_CACHE_HASH_HEX] = ';';
    CHECK_EQ_INT(kve_cache_member_parse(m, strlen(m), p2, v2, &has_variant), -1);
    CHECK_EQ_INT(kve_cache_member_parse(H2O_STRLIT("00112233445566778899AABBCCDDEEFF"), p2, v2, &has_variant), -1);
    CHECK_EQ_INT(kve_cache_member_parse(H2O_STRLIT("0011223344556677889gaabbccddeeff"), p2, v2, &has_variant), -1);
    /* set keys: their own {hash tag}; a tag never names a route's set; the namespace comes first */
    kve_cache_set_key(a, sizeof(a), h2o_iovec_init("", 0), KVE_CACHE_SET_TAG, H2O_STRLIT("/api"));
    kve_cache_set_key(b, sizeof(b), h2o_iovec_init("", 0), KVE_CACHE_SET_ROUTE, H2O_STRLIT("/api"));
    CHECK(strncmp(a, "kvc1:t:{", 8) == 0 && strlen(a) == 8 + KVE_CACHE_HASH_HEX + 1 && a[strlen(a) - 1] == '}');
    CHECK(strncmp(b, "kvc1:r:{", 8) == 0);
    CHECK(strcmp(a + 8, b + 8) != 0);
    kve_cache_set_key(b, sizeof(b), h2o_iovec_init("", 0), KVE_CACHE_SET_TAG, H2O_STRLIT("/api "));
    CHECK(strcmp(a, b) != 0);
    kve_cache_set_key(b, sizeof(b), h2o_iovec_init(H2O_STRLIT("ns:")), KVE_CACHE_SET_TAG, H2O_STRLIT("/api"));
    CHECK_EQ_STR(b + 3, a);
}

TEST(cache_tags_set_writes)
{
    uint8_t p[KVE_CACHE_HASH_LEN] = {1}, v[KVE_CACHE_HASH_LEN] = {2};
    kve_cache_set_writes_t w;

    kve_cache_set_writes_init(&w, h2o_iovec_init("", 0), p, v, 12345, "/api", h2o_iovec_init(H2O_STRLIT("a\nb")));
    CHECK_EQ_UINT(w.n, 3 * 4); /* two tags, the route, the variant set */
    for (size_t i = 0; i != w.n; i += 3) {
        CHECK_EQ_MEM(w.cmds[i].argv[0], w.cmds[i].argvlen[0], "SADD", 4);
        CHECK_EQ_MEM(w.cmds[i].argv[2], w.cmds[i].argvlen[2], "01000000000000000000000000000000:02000000000000000000000000000000",
                     65);
        CHECK_EQ_MEM(w.cmds[i + 1].argv[2], w.cmds[i + 1].argvlen[2], "12345", 5);
        CHECK_EQ_MEM(w.cmds[i + 1].argv[3], w.cmds[i + 1].argvlen[3], "NX", 2);
        CHECK_EQ_MEM(w.cmds[i + 2].argv[3], w.cmds[i + 2].argvlen[3], "GT", 2);
        CHECK(w.cmds[i].argv[1] == w.cmds[i + 1].argv[1] && w.cmds[i].argv[1] == w.cmds[i + 2].argv[1]);
    }
    CHECK_EQ_STR(w.cmds[9].argv[1], "kvc1:{01000000000000000000000000000000}:s");
    kve_cache_set_writes_dispose(&w);
    /* no tags, no route, no variant: nothing */
    kve_cache_set_writes_init(&w, h2o_iovec_init("", 0), p, NULL, 1, NULL, h2o_iovec_init("", 0));
    CHECK_EQ_UINT(w.n, 0);
    kve_cache_set_writes_dispose(&w);
}

TEST(cache_tags_head_record)
{
    h2o_mem_pool_t pool;
    kve_cache_head_t in = {.status = 200, .tags = {H2O_STRLIT("a\nb c")}}, out;
    kve_buf_t buf = KVE_BUF_INIT;

    h2o_mem_init_pool(&pool);
    memcpy(in.id, "0123456789abcdef", KVE_CACHE_ID_LEN);
    kve_cache_head_encode(&in, &buf);
    CHECK_EQ_INT(kve_cache_head_decode(&pool, buf.base, buf.len, &out), 0);
    CHECK_EQ_MEM(out.tags.base, out.tags.len, "a\nb c", 5);
    buf.len = 0;
    in.tags = h2o_iovec_init("", 0);
    kve_cache_head_encode(&in, &buf);
    CHECK_EQ_INT(kve_cache_head_decode(&pool, buf.base, buf.len, &out), 0);
    CHECK_EQ_UINT(out.tags.len, 0);
    kve_buf_dispose(&buf);
    h2o_mem_clear_pool(&pool);
}

/* the parse of `query`: "kind soft url|route|tags" or "<status> <error>" */
static const char *purge_of(const char *query)
{
    static char out[512];
    h2o_mem_pool_t pool;
    kve_cache_purge_query_t q;
    int status = 0;
    const char *err;

    h2o_mem_init_pool(&pool);
    if ((err = kve_cache_purge_parse(&pool, h2o_iovec_init(query, strlen(query)), &q, &status)) != NULL) {
        snprintf(out, sizeof(out), "%d %s", status, err);
    } else {
        int n = snprintf(out, sizeof(out), "%d %d ", (int)q.kind, q.soft);
        if (q.kind == KVE_CACHE_PURGE_URL)
            snprintf(out + n, sizeof(out) - n, "%.*s", (int)q.url.len, q.url.base);
        else if (q.kind == KVE_CACHE_PURGE_ROUTE)
            snprintf(out + n, sizeof(out) - n, "%.*s", (int)q.route.len, q.route.base);
        else
            for (size_t i = 0; i != q.num_tags; ++i)
                n += snprintf(out + n, sizeof(out) - n, "[%.*s]", (int)q.tags[i].len, q.tags[i].base);
    }
    h2o_mem_clear_pool(&pool);
    return out;
}

TEST(cache_purge_query)
{
    CHECK_EQ_STR(purge_of("url=http%3A%2F%2Fh%2Fa%3Fb%3Dc+d"), "1 0 http://h/a?b=c+d"); /* '+' stays: a URL may hold one */
    CHECK_EQ_STR(purge_of("tag=a&tag=b%20c&soft=1"), "2 1 [a][b c]");
    CHECK_EQ_STR(purge_of("soft=true&route=/api&"), "3 1 /api");
    CHECK_EQ_STR(purge_of("route=/api&soft=0&&"), "3 0 /api");
    CHECK_EQ_STR(purge_of("soft&route=/api"), "3 1 /api");
    CHECK_EQ_STR(purge_of(""), "400 one of url, tag or route is required");
    CHECK_EQ_STR(purge_of("soft=1"), "400 one of url, tag or route is required");
    CHECK_EQ_STR(purge_of("url=a&url=b"), "400 url: given twice");
    CHECK_EQ_STR(purge_of("route=a&route=b"), "400 route: given twice");
    CHECK_EQ_STR(purge_of("url=a&route=b"), "400 give one of url, tag or route");
    CHECK_EQ_STR(purge_of("tag=a&url=b"), "400 give one of url, tag or route");
    CHECK_EQ_STR(purge_of("url="), "400 url: empty");
    CHECK_EQ_STR(purge_of("tag="), "400 tag: empty or longer than 256 bytes");
    CHECK_EQ_STR(purge_of("url=%4"), "400 a parameter has a bad %-escape");
    CHECK_EQ_STR(purge_of("url=%g0"), "400 a parameter has a bad %-escape");
    CHECK_EQ_STR(purge_of("Url=x"), "400 unknown parameter (expected url, tag, route or soft)");
    CHECK_EQ_STR(purge_of("route=/a&soft=yes"), "400 soft: expected 1, true, 0 or false");
    {
        char *q = malloc(KVE_CACHE_PURGE_MAX_QUERY + 2);
        size_t n = (size_t)sprintf(q, "url=");
        memset(q + n, 'x', KVE_CACHE_PURGE_MAX_URL + 1);
        q[n + KVE_CACHE_PURGE_MAX_URL + 1] = '\0';
        CHECK_EQ_STR(purge_of(q), "414 url: too long");
        q[n + KVE_CACHE_PURGE_MAX_URL] = '\0';
        CHECK(strncmp(purge_of(q), "1 0 xxx", 7) == 0);
        memset(q, 'x', KVE_CACHE_PURGE_MAX_QUERY + 1);
        q[KVE_CACHE_PURGE_MAX_QUERY + 1] = '\0';
        CHECK_EQ_STR(purge_of(q), "414 the query is too long");
        free(q);
    }
    {
        char q[64 * (KVE_CACHE_PURGE_MAX_TAGS + 1)], *p = q;
        for (int i = 0; i != KVE_CACHE_PURGE_MAX_TAGS; ++i)
            p += sprintf(p, "tag=%d&", i);
        CHECK(strncmp(purge_of(q), "2 0 [0][1]", 10) == 0);
        sprintf(p, "tag=x");
        CHECK_EQ_STR(purge_of(q), "400 tag: more than 32 tags");
    }
}

void kve_suite_cache_tags(void)
{
    RUN(cache_tags_parse);
    RUN(cache_tags_limits);
    RUN(cache_tags_comma);
    RUN(cache_tags_names);
    RUN(cache_tags_set_writes);
    RUN(cache_tags_head_record);
    RUN(cache_purge_query);
}
