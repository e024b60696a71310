/* SPDX-License-Identifier: MIT */
/*
 * Tests for conf/yaml.c: the node tree and its positions, scalar styles, empty documents, aliases (and
 * alias abuse), the single-document rule, syntax errors with their positions, and line splitting.
 */
#include "test.h"
#include "conf/yaml.h"

#include <stdlib.h>
#include "proxy/common.h"

struct st_parsed_t {
    kve_yaml_doc_t *doc;
    unsigned line, col;
    char err[256];
};

static struct st_parsed_t parse(const char *text)
{
    struct st_parsed_t p = {NULL, 0, 0, ""};
    p.doc = kve_yaml_parse("t.yaml", text, strlen(text), &p.line, &p.col, p.err, sizeof(p.err));
    return p;
}

/* expects a syntax error at line:col with `msg` */
static void check_error(const char *text, unsigned line, unsigned col, const char *msg)
{
    struct st_parsed_t p = parse(text);
    CHECK_NULL(p.doc);
    CHECK_EQ_UINT(p.line, line);
    CHECK_EQ_UINT(p.col, col);
    CHECK_EQ_STR(p.err, msg);
    kve_yaml_free(p.doc);
}

TEST(tree_and_positions)
{
    struct st_parsed_t p = parse("# comment\n"
                                 "name: kvedge\n"
                                 "listen:\n"
                                 "  - port: 8080\n"
                                 "    host: \"::1\"\n"
                                 "tags: [a, 'b']\n");
    const kve_node_t *root, *listen, *first, *tags;
    CHECK_NOT_NULL(p.doc);
    if (p.doc == NULL)
        return;
    root = p.doc->root;
    CHECK_EQ_INT(root->type, KVE_NODE_MAPPING);
    CHECK_EQ_UINT(root->u.mapping.size, 3);
    CHECK_EQ_STR(root->file, "t.yaml");
    CHECK_EQ_UINT(root->line, 2);
    CHECK_EQ_UINT(root->column, 1);
    CHECK_EQ_STR(root->u.mapping.keys[0]->u.scalar.value, "name");
    CHECK_EQ_STR(kve_yaml_get(root, "name")->u.scalar.value, "kvedge");
    CHECK_EQ_UINT(kve_yaml_get(root, "name")->column, 7);
    listen = kve_yaml_get(root, "listen");
    CHECK_EQ_INT(listen->type, KVE_NODE_SEQUENCE);
    CHECK_EQ_UINT(listen->u.sequence.size, 1);
    first = listen->u.sequence.items[0];
    CHECK_EQ_UINT(first->line, 4);
    CHECK_EQ_UINT(first->column, 5);
    CHECK_EQ_STR(kve_yaml_get(first, "port")->u.scalar.value, "8080");
    CHECK_EQ_UINT(kve_yaml_get(first, "port")->column, 11);
    CHECK_EQ_INT(kve_yaml_get(first, "port")->u.scalar.quoted, 0);
    CHECK_EQ_STR(kve_yaml_get(first, "host")->u.scalar.value, "::1");
    CHECK(kve_yaml_get(first, "host")->u.scalar.quoted);
    CHECK_EQ_UINT(kve_yaml_get(first, "host")->line, 5);
    CHECK_EQ_UINT(kve_yaml_get(first, "host")->column, 11);
    tags = kve_yaml_get(root, "tags");
    CHECK_EQ_UINT(tags->u.sequence.size, 2);
    CHECK_EQ_UINT(tags->u.sequence.items[1]->column, 11);
    CHECK(tags->u.sequence.items[1]->u.scalar.quoted);
    CHECK_NULL(kve_yaml_get(root, "missing"));
    CHECK_NULL(kve_yaml_get(tags, "a"));
    CHECK_NULL(kve_yaml_get(NULL, "a"));
    CHECK_EQ_UINT(p.doc->num_lines, 6);
    CHECK_EQ_STR(p.doc->lines[3], "  - port: 8080");
    kve_yaml_free(p.doc);
}

/* end_line: the last line holding part of the node (libyaml's end mark lies past it) */
TEST(end_lines)
{
    struct st_parsed_t p = parse("a: plain\n"
                                 "b: |\n"
                                 "  one\n"
                                 "  two\n"
                                 "c: \"x\n"
                                 "  y\"\n"
                                 "d:\n"
                                 "  - 1\n"
                                 "  - {e: 2,\n"
                                 "     f: 3}\n"
                                 "g: 4\n");
    const kve_node_t *root;
    CHECK_NOT_NULL(p.doc);
    if (p.doc == NULL)
        return;
    root = p.doc->root;
    CHECK_EQ_UINT(kve_yaml_get(root, "a")->end_line, 1);
    CHECK_EQ_UINT(kve_yaml_get(root, "b")->line, 2);
    CHECK_EQ_UINT(kve_yaml_get(root, "b")->end_line, 4);
    CHECK_EQ_UINT(kve_yaml_get(root, "c")->end_line, 6);
    CHECK_EQ_UINT(kve_yaml_get(root, "d")->line, 8);
    CHECK_EQ_UINT(kve_yaml_get(root, "d")->end_line, 10);
    CHECK_EQ_UINT(kve_yaml_get(root, "d")->u.sequence.items[1]->end_line, 10);
    CHECK_EQ_UINT(kve_yaml_get(root, "g")->end_line, 11);
    CHECK_EQ_UINT(root->end_line, 11);
    kve_yaml_free(p.doc);
}

TEST(scalar_styles)
{
    struct st_parsed_t p = parse("a: plain\nb: 'single'\nc: \"dq\\tx\\0y\"\nd: |\n  block\ne:\nf: ~\n");
    const kve_node_t *root = p.doc != NULL ? p.doc->root : NULL;
    CHECK_NOT_NULL(root);
    if (root == NULL)
        return;
    CHECK_EQ_INT(kve_yaml_get(root, "a")->u.scalar.quoted, 0);
    CHECK(kve_yaml_get(root, "b")->u.scalar.quoted);
    CHECK_EQ_MEM(kve_yaml_get(root, "c")->u.scalar.value, kve_yaml_get(root, "c")->u.scalar.len, "dq\tx\0y", 6);
    CHECK(kve_yaml_get(root, "d")->u.scalar.quoted);
    CHECK_EQ_STR(kve_yaml_get(root, "d")->u.scalar.value, "block\n");
    CHECK_EQ_STR(kve_yaml_get(root, "e")->u.scalar.value, "");
    CHECK_EQ_INT(kve_yaml_get(root, "e")->u.scalar.quoted, 0);
    CHECK_EQ_STR(kve_yaml_get(root, "f")->u.scalar.value, "~");
    kve_yaml_free(p.doc);
}

TEST(empty_documents)
{
    static const char *const texts[] = {"", "\n\n", "# only a comment\n", "---\n", "--- # x\n...\n", "\xef\xbb\xbf"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(texts); ++i) {
        struct st_parsed_t p = parse(texts[i]);
        CHECK_NOT_NULL(p.doc);
        if (p.doc != NULL)
            CHECK_NULL(p.doc->root);
        kve_yaml_free(p.doc);
    }
    struct st_parsed_t p = parse("");
    CHECK_EQ_UINT(p.doc->num_lines, 0);
    kve_yaml_free(p.doc);
}

TEST(aliases)
{
    struct st_parsed_t p = parse("base: &b\n  ttl: 5s\nother: *b\nlist: [&x 1, *x]\n");
    const kve_node_t *other, *list;
    CHECK_NOT_NULL(p.doc);
    if (p.doc == NULL)
        return;
    other = kve_yaml_get(p.doc->root, "other");
    CHECK_EQ_INT(other->type, KVE_NODE_MAPPING);
    CHECK_EQ_STR(kve_yaml_get(other, "ttl")->u.scalar.value, "5s");
    /* the copy keeps the anchor's position, where the text actually is */
    CHECK_EQ_UINT(kve_yaml_get(other, "ttl")->line, 2);
    /* copies, not shared nodes: each has its own parent (freeing twice would crash under ASan) */
    CHECK(other != kve_yaml_get(p.doc->root, "base"));
    list = kve_yaml_get(p.doc->root, "list");
    CHECK_EQ_STR(list->u.sequence.items[1]->u.scalar.value, "1");
    kve_yaml_free(p.doc);
}

TEST(alias_abuse)
{
    char bomb[1024];
    size_t off = 0;
    /* 10 levels of 10 references each: 10^10 nodes once expanded */
    off += snprintf(bomb + off, sizeof(bomb) - off, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i != 10; ++i)
        off += snprintf(bomb + off, sizeof(bomb) - off, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                        i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    struct st_parsed_t p = parse(bomb);
    CHECK_NULL(p.doc);
    CHECK_EQ_STR(p.err, "more than 100000 nodes (after expanding aliases)");
    kve_yaml_free(p.doc);
    check_error("a: &x\n  b: *x\n", 1, 4, "an alias refers to a node that contains it");
}

TEST(depth_limit)
{
    char deep[256];
    memset(deep, '[', 70);
    memset(deep + 70, ']', 70);
    deep[140] = '\0';
    check_error(deep, 1, 66, "nesting is deeper than 64 levels");
    memset(deep, '[', 60);
    memset(deep + 60, ']', 60);
    deep[120] = '\0';
    struct st_parsed_t p = parse(deep);
    CHECK_NOT_NULL(p.doc);
    kve_yaml_free(p.doc);
}

TEST(syntax_errors)
{
    check_error("a: 1\n---\nb: 2\n", 2, 1, "a second document in the same file (only one is allowed)");
    check_error("a: 1\nb: [1, 2\n", 3, 1, "did not find expected ',' or ']' (while parsing a flow sequence at line 2)");
    check_error("a: 1\n  b: 2\n", 2, 4, "mapping values are not allowed in this context");
    check_error("a:\n  - 1\n  b: 2\n", 3, 3, "did not find expected '-' indicator (while parsing a block collection at line 2)");
    check_error("a: \"open\n", 2, 1, "found unexpected end of stream (while scanning a quoted scalar at line 1)");
    check_error("a: *nope\n", 1, 4, "found undefined alias");
    check_error("? [k]\n: v\n", 1, 3, "a mapping key must be a scalar");
    check_error("a: 1\nb: \xff\n", 2, 4, "invalid leading UTF-8 octet");
    check_error("a:\tb\n\tc: 1\n", 2, 1,
                "found a tab character that violates indentation (while scanning a plain scalar at line 1)");
}

TEST(lines)
{
    struct st_parsed_t p = parse("a: 1\r\nb: 2\rc: 3\n\nd: 4");
    CHECK_NOT_NULL(p.doc);
    if (p.doc == NULL)
        return;
    CHECK_EQ_UINT(p.doc->num_lines, 5);
    CHECK_EQ_STR(p.doc->lines[0], "a: 1");
    CHECK_EQ_STR(p.doc->lines[1], "b: 2");
    CHECK_EQ_STR(p.doc->lines[2], "c: 3");
    CHECK_EQ_STR(p.doc->lines[3], "");
    CHECK_EQ_STR(p.doc->lines[4], "d: 4");
    /* libyaml counts the same line breaks */
    CHECK_EQ_UINT(kve_yaml_get(p.doc->root, "c")->line, 3);
    CHECK_EQ_UINT(kve_yaml_get(p.doc->root, "d")->line, 5);
    kve_yaml_free(p.doc);

    p = parse("\xef\xbb\xbf"
              "a: 1\n");
    CHECK_EQ_STR(p.doc->lines[0], "a: 1");
    CHECK_EQ_UINT(kve_yaml_get(p.doc->root, "a")->column, 4);
    kve_yaml_free(p.doc);

    char *line = kve_yaml_line("\xef\xbb\xbf"
                               "x\r\ny\rz",
                               9, 3);
    CHECK_EQ_STR(line, "z");
    free(line);
    line = kve_yaml_line("x\n", 2, 1);
    CHECK_EQ_STR(line, "x");
    free(line);
    CHECK_NULL(kve_yaml_line("x\n", 2, 2));
    CHECK_NULL(kve_yaml_line("", 0, 1));
}

void kve_suite_yaml(void)
{
    RUN(tree_and_positions);
    RUN(end_lines);
    RUN(scalar_styles);
    RUN(empty_documents);
    RUN(aliases);
    RUN(alias_abuse);
    RUN(depth_limit);
    RUN(syntax_errors);
    RUN(lines);
}
