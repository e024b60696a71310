/* SPDX-License-Identifier: MIT */
/*
 * YAML documents as a small node tree (libyaml's document API underneath), every node carrying the file,
 * line and column it came from (1-based), like h2o's yoml. Scalars are strings; typing happens in
 * conf.c/value.c. Aliases are resolved by libyaml; `${VAR}` substitution is applied to plain and quoted
 * scalars by conf.c, not here. Ownership: a document owns all its nodes and strings; kve_yaml_free()
 * releases everything.
 */
#ifndef KVE_CONF_YAML_H
#define KVE_CONF_YAML_H

#include <stddef.h>

/** Nesting deeper than this is an error (keeps the recursive conversion and walks off the stack limit). */
#define KVE_YAML_MAX_DEPTH 64
/** More nodes than this, counting each alias expansion as a copy, is an error (alias bombs). */
#define KVE_YAML_MAX_NODES 100000

typedef enum { KVE_NODE_SCALAR, KVE_NODE_SEQUENCE, KVE_NODE_MAPPING } kve_node_type_t;

typedef struct st_kve_node_t kve_node_t;

struct st_kve_node_t {
    kve_node_type_t type;
    /** file name as given to the loader; owned by the document */
    const char *file;
    /** 1-based position of the node's first character */
    unsigned line, column;
    /** 1-based line of the node's last character (a block scalar or a nested collection spans several) */
    unsigned end_line;
    /** 1-based column just past the node's last character when the node ends on the line it starts on (a
     * one-line scalar, quotes included, or flow collection); 0 when it spans lines */
    unsigned end_column;
    union {
        struct {
            /** NUL-terminated value (may contain NULs only if the YAML had escapes; `len` is exact) */
            char *value;
            size_t len;
            /** non-zero for single/double quoted scalars (a quoted "true" is a string, not a bool); block
             * scalars (`|`, `>`) count as quoted too: only plain scalars are ever read as bools or nulls */
            int quoted;
        } scalar;
        struct {
            kve_node_t **items;
            size_t size;
        } sequence;
        struct {
            kve_node_t **keys; /* each key is a scalar node */
            kve_node_t **values;
            size_t size;
        } mapping;
    } u;
};

typedef struct st_kve_yaml_doc_t {
    /** NULL for an empty document */
    kve_node_t *root;
    char *file;
    /** the raw text split into lines (without newlines), for quoting the offending line in errors */
    char **lines;
    size_t num_lines;
} kve_yaml_doc_t;

/**
 * Parses `len` bytes of YAML named `file` (used in positions). On a syntax error returns NULL and writes
 * "line, column, message" of the problem into `*err_line`, `*err_col` (1-based) and `err` (`errlen`
 * bytes). A stream with more than one document is an error.
 */
kve_yaml_doc_t *kve_yaml_parse(const char *file, const char *text, size_t len, unsigned *err_line, unsigned *err_col, char *err,
                               size_t errlen);

/**
 * Returns a malloc'd copy of line `line` (1-based) of `text`, split exactly as a document's `lines` are
 * (BOM skipped; \n, \r\n and \r end lines), or NULL past the end. For quoting syntax errors, which leave
 * no document behind.
 */
char *kve_yaml_line(const char *text, size_t len, unsigned line);

/**
 * Splits `text` into lines exactly as a document's `lines` (BOM skipped; \n, \r\n and \r end lines): a malloc'd
 * array of `*num_lines` malloc'd strings, freed with kve_yaml_free_lines().
 */
char **kve_yaml_split_lines(const char *text, size_t len, size_t *num_lines);
/** Frees what kve_yaml_split_lines() returned. */
void kve_yaml_free_lines(char **lines, size_t num_lines);

/** Frees a document and all its nodes (NULL is fine). */
void kve_yaml_free(kve_yaml_doc_t *doc);

/** Returns the value node of `key` in a mapping node, or NULL. */
kve_node_t *kve_yaml_get(const kve_node_t *mapping, const char *key);

#endif
