/* SPDX-License-Identifier: MIT */
/*
 * libyaml's document API (which resolves aliases) converted into kve_node_t trees. An alias becomes a
 * copy of its anchor's subtree, so every node has exactly one parent and freeing is a plain recursion;
 * the copies are bounded by KVE_YAML_MAX_NODES (an alias bomb is an error, not an allocation spree) and
 * recursion by KVE_YAML_MAX_DEPTH (an alias to an enclosing node is an error too). The raw text is kept
 * split into lines, with the same line breaks libyaml counts (\n, \r\n, \r), so positions can be quoted.
 */
#include "conf/yaml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#include "proxy/common.h"

struct st_convert_t {
    yaml_document_t *ydoc;
    const char *file;
    /* per libyaml node (1-based): being converted right now, to catch an alias to an enclosing node */
    unsigned char *active;
    size_t num_nodes;
    /* the first conversion error */
    unsigned err_line, err_col;
    char *err;
    size_t errlen;
};

static void free_node(kve_node_t *node)
{
    size_t i;
    if (node == NULL)
        return;
    switch (node->type) {
    case KVE_NODE_SCALAR:
        free(node->u.scalar.value);
        break;
    case KVE_NODE_SEQUENCE:
        for (i = 0; i != node->u.sequence.size; ++i)
            free_node(node->u.sequence.items[i]);
        free(node->u.sequence.items);
        break;
    case KVE_NODE_MAPPING:
        for (i = 0; i != node->u.mapping.size; ++i) {
            free_node(node->u.mapping.keys[i]);
            free_node(node->u.mapping.values[i]);
        }
        free(node->u.mapping.keys);
        free(node->u.mapping.values);
        break;
    }
    free(node);
}

__attribute__((format(printf, 3, 4))) static void convert_error(struct st_convert_t *ctx, const yaml_node_t *y, const char *fmt,
                                                                ...)
{
    va_list args;
    ctx->err_line = (unsigned)y->start_mark.line + 1;
    ctx->err_col = (unsigned)y->start_mark.column + 1;
    va_start(args, fmt);
    vsnprintf(ctx->err, ctx->errlen, fmt, args);
    va_end(args);
}

static kve_node_t *convert(struct st_convert_t *ctx, int id, unsigned depth);

static int convert_sequence(struct st_convert_t *ctx, const yaml_node_t *y, kve_node_t *node, unsigned depth)
{
    size_t n = y->data.sequence.items.top - y->data.sequence.items.start;
    node->u.sequence.items = kve_malloc(n * sizeof(*node->u.sequence.items));
    for (size_t i = 0; i != n; ++i) {
        kve_node_t *item = convert(ctx, y->data.sequence.items.start[i], depth + 1);
        if (item == NULL)
            return -1;
        node->u.sequence.items[node->u.sequence.size++] = item;
    }
    return 0;
}

static int convert_mapping(struct st_convert_t *ctx, const yaml_node_t *y, kve_node_t *node, unsigned depth)
{
    size_t n = y->data.mapping.pairs.top - y->data.mapping.pairs.start;
    node->u.mapping.keys = kve_malloc(n * sizeof(*node->u.mapping.keys));
    node->u.mapping.values = kve_malloc(n * sizeof(*node->u.mapping.values));
    for (size_t i = 0; i != n; ++i) {
        const yaml_node_pair_t *pair = y->data.mapping.pairs.start + i;
        const yaml_node_t *ykey = yaml_document_get_node(ctx->ydoc, pair->key);
        kve_node_t *key, *value;
        if (ykey->type != YAML_SCALAR_NODE) {
            convert_error(ctx, ykey, "a mapping key must be a scalar");
            return -1;
        }
        if ((key = convert(ctx, pair->key, depth + 1)) == NULL)
            return -1;
        if ((value = convert(ctx, pair->value, depth + 1)) == NULL) {
            free_node(key);
            return -1;
        }
        node->u.mapping.keys[node->u.mapping.size] = key;
        node->u.mapping.values[node->u.mapping.size++] = value;
    }
    return 0;
}

/* libyaml's end mark is just past the node: at column 0 of the next line after a block scalar or collection */
static unsigned end_line(const yaml_node_t *y)
{
    if (y->end_mark.column == 0 && y->end_mark.line > y->start_mark.line)
        return (unsigned)y->end_mark.line;
    return (unsigned)y->end_mark.line + 1;
}

static kve_node_t *convert(struct st_convert_t *ctx, int id, unsigned depth)
{
    const yaml_node_t *y = yaml_document_get_node(ctx->ydoc, id);
    kve_node_t *node;
    int ret = 0;
    if (depth > KVE_YAML_MAX_DEPTH) {
        convert_error(ctx, y, "nesting is deeper than %d levels", KVE_YAML_MAX_DEPTH);
        return NULL;
    }
    if (ctx->active[id]) {
        convert_error(ctx, y, "an alias refers to a node that contains it");
        return NULL;
    }
    if (++ctx->num_nodes > KVE_YAML_MAX_NODES) {
        convert_error(ctx, y, "more than %d nodes (after expanding aliases)", KVE_YAML_MAX_NODES);
        return NULL;
    }
    node = kve_zalloc(sizeof(*node));
    node->file = ctx->file;
    node->line = (unsigned)y->start_mark.line + 1;
    node->column = (unsigned)y->start_mark.column + 1;
    node->end_line = end_line(y);
    node->end_column = y->end_mark.line == y->start_mark.line ? (unsigned)y->end_mark.column + 1 : 0;
    ctx->active[id] = 1;
    switch (y->type) {
    case YAML_SCALAR_NODE:
        node->type = KVE_NODE_SCALAR;
        node->u.scalar.value = kve_strndup((const char *)y->data.scalar.value, y->data.scalar.length);
        node->u.scalar.len = y->data.scalar.length;
        node->u.scalar.quoted = y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_NODE:
        node->type = KVE_NODE_SEQUENCE;
        ret = convert_sequence(ctx, y, node, depth);
        break;
    case YAML_MAPPING_NODE:
        node->type = KVE_NODE_MAPPING;
        ret = convert_mapping(ctx, y, node, depth);
        break;
    default:
        KVE_ASSERT(!"unexpected libyaml node type");
    }
    ctx->active[id] = 0;
    if (ret != 0) {
        free_node(node);
        return NULL;
    }
    return node;
}

/* skips a UTF-8 BOM: libyaml skips it without counting a column only when it detects the encoding itself */
static void skip_bom(const char **text, size_t *len)
{
    if (*len >= 3 && memcmp(*text, "\xef\xbb\xbf", 3) == 0) {
        *text += 3;
        *len -= 3;
    }
}

/* the line starting at *pos (ends at \n, \r\n or \r: libyaml's breaks for UTF-8 text, bar the rare NEL/LS/PS);
 * returns 0 at the end of the text */
static int next_line(const char *text, size_t len, size_t *pos, size_t *start, size_t *line_len)
{
    size_t i = *pos;
    if (i >= len)
        return 0;
    while (i != len && text[i] != '\n' && text[i] != '\r')
        ++i;
    *start = *pos;
    *line_len = i - *pos;
    if (i + 1 < len && text[i] == '\r' && text[i + 1] == '\n')
        ++i;
    *pos = i + 1;
    return 1;
}

/* the lines of text whose BOM, if any, was skipped */
static char **split_lines(const char *text, size_t len, size_t *num_lines)
{
    size_t cap = 16, pos = 0, start, line_len;
    char **lines = kve_malloc(cap * sizeof(*lines));
    *num_lines = 0;
    while (next_line(text, len, &pos, &start, &line_len)) {
        if (*num_lines == cap)
            lines = kve_realloc(lines, (cap *= 2) * sizeof(*lines));
        lines[(*num_lines)++] = kve_strndup(text + start, line_len);
    }
    return lines;
}

char **kve_yaml_split_lines(const char *text, size_t len, size_t *num_lines)
{
    skip_bom(&text, &len);
    return split_lines(text, len, num_lines);
}

void kve_yaml_free_lines(char **lines, size_t num_lines)
{
    for (size_t i = 0; i != num_lines; ++i)
        free(lines[i]);
    free(lines);
}

char *kve_yaml_line(const char *text, size_t len, unsigned line)
{
    size_t pos = 0, start, line_len;
    skip_bom(&text, &len);
    for (unsigned n = 1; next_line(text, len, &pos, &start, &line_len); ++n) {
        if (n == line)
            return kve_strndup(text + start, line_len);
    }
    return NULL;
}

/* line and column (1-based) of a byte offset, for reader errors that only know the offset */
static void offset_to_position(const char *text, size_t len, size_t offset, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; ++i) {
        if (text[i] == '\n' || (text[i] == '\r' && !(i + 1 < len && text[i + 1] == '\n'))) {
            ++*line;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80 && text[i] != '\r') {
            ++*col;
        }
    }
}

static void parser_error(const yaml_parser_t *parser, const char *text, size_t len, unsigned *line, unsigned *col, char *err,
                         size_t errlen)
{
    const char *problem = parser->problem != NULL ? parser->problem : "out of memory";
    if (parser->error == YAML_READER_ERROR) {
        offset_to_position(text, len, parser->problem_offset, line, col);
        snprintf(err, errlen, "%s", problem);
        return;
    }
    *line = (unsigned)parser->problem_mark.line + 1;
    *col = (unsigned)parser->problem_mark.column + 1;
    if (parser->context != NULL) {
        snprintf(err, errlen, "%s (%s at line %u)", problem, parser->context, (unsigned)parser->context_mark.line + 1);
    } else {
        snprintf(err, errlen, "%s", problem);
    }
}

/* converts the root of a loaded document; an empty plain scalar at the root ("---" alone) is an empty document */
static int convert_root(kve_yaml_doc_t *doc, yaml_document_t *ydoc, struct st_convert_t *ctx)
{
    const yaml_node_t *root = yaml_document_get_root_node(ydoc);
    if (root == NULL ||
        (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0 && root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE))
        return 0;
    ctx->ydoc = ydoc;
    ctx->active = kve_zalloc(ydoc->nodes.top - ydoc->nodes.start + 1);
    doc->root = convert(ctx, 1, 0);
    free(ctx->active);
    return doc->root != NULL ? 0 : -1;
}

/* loads the first document and makes sure no second one follows; reports like kve_yaml_parse */
static int load(kve_yaml_doc_t *doc, yaml_parser_t *parser, const char *text, size_t len, struct st_convert_t *ctx)
{
    yaml_document_t ydoc;
    int ret = -1;
    if (!yaml_parser_load(parser, &ydoc)) {
        parser_error(parser, text, len, &ctx->err_line, &ctx->err_col, ctx->err, ctx->errlen);
        return -1;
    }
    if (convert_root(doc, &ydoc, ctx) != 0)
        goto Exit;
    yaml_document_delete(&ydoc);
    if (!yaml_parser_load(parser, &ydoc)) {
        parser_error(parser, text, len, &ctx->err_line, &ctx->err_col, ctx->err, ctx->errlen);
        return -1;
    }
    if (yaml_document_get_root_node(&ydoc) != NULL) {
        ctx->err_line = (unsigned)ydoc.start_mark.line + 1;
        ctx->err_col = (unsigned)ydoc.start_mark.column + 1;
        snprintf(ctx->err, ctx->errlen, "a second document in the same file (only one is allowed)");
        goto Exit;
    }
    ret = 0;
Exit:
    yaml_document_delete(&ydoc);
    return ret;
}

kve_yaml_doc_t *kve_yaml_parse(const char *file, const char *text, size_t len, unsigned *err_line, unsigned *err_col, char *err,
                               size_t errlen)
{
    kve_yaml_doc_t *doc = kve_zalloc(sizeof(*doc));
    struct st_convert_t ctx = {.err = err, .errlen = errlen};
    yaml_parser_t parser;
    int ret;

    skip_bom(&text, &len);
    doc->file = kve_strdup(file);
    ctx.file = doc->file;
    doc->lines = split_lines(text, len, &doc->num_lines);
    if (!yaml_parser_initialize(&parser))
        KVE_ASSERT(!"yaml_parser_initialize failed (out of memory)");
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    ret = load(doc, &parser, text, len, &ctx);
    yaml_parser_delete(&parser);
    if (ret != 0) {
        *err_line = ctx.err_line;
        *err_col = ctx.err_col;
        kve_yaml_free(doc);
        return NULL;
    }
    return doc;
}

void kve_yaml_free(kve_yaml_doc_t *doc)
{
    if (doc == NULL)
        return;
    free_node(doc->root);
    kve_yaml_free_lines(doc->lines, doc->num_lines);
    free(doc->file);
    free(doc);
}

kve_node_t *kve_yaml_get(const kve_node_t *mapping, const char *key)
{
    size_t keylen = strlen(key);
    if (mapping == NULL || mapping->type != KVE_NODE_MAPPING)
        return NULL;
    for (size_t i = 0; i != mapping->u.mapping.size; ++i) {
        const kve_node_t *k = mapping->u.mapping.keys[i];
        if (k->u.scalar.len == keylen && memcmp(k->u.scalar.value, key, keylen) == 0)
            return mapping->u.mapping.values[i];
    }
    return NULL;
}
