/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by conf.c (loading and walking tables), conf_types.c (one parser per value type) and
 * conf_report.c (error output, key paths, the reference printer). Nothing outside conf/ includes this.
 */
#ifndef KVE_CONF_CONF_INTERNAL_H
#define KVE_CONF_CONF_INTERNAL_H

#include <stdarg.h>
#include "conf/conf.h"

/** Config files larger than this are refused before parsing. */
#define KVE_CONF_MAX_FILE_SIZE (16 * 1024 * 1024)
/** Secret files (`<key>_file`) larger than this are refused. */
#define KVE_CONF_MAX_SECRET_SIZE (64 * 1024)

/** One step of the key path: a key, or (key == NULL) a list index. */
struct st_kve_conf_path_seg_t {
    const char *key;
    size_t index;
};

/**
 * Lines `first`..`last` of `file` hold a hidden value (KVE_F_SECRET, KVE_F_HIDDEN): errors there do not quote it
 * (conf_secrets.c). A one-line value (end_col != 0) is masked at columns [first_col, end_col); otherwise the lines are
 * not shown at all. `suspect`: only judged from the text (a syntax error), not known.
 */
struct st_kve_conf_hidden_t {
    const char *file;
    unsigned first, last;
    unsigned first_col, end_col;
    int suspect;
};

/** Where the value of one field came from (kve_conf_origin); DEFAULT values have no record. */
struct st_kve_conf_origin_rec_t {
    const void *field;
    const kve_directive_t *d;
    kve_conf_origin_t origin;
    /** the value came from `<key>_file` (parsed again as a secret file when inherited) */
    int via_file;
};

struct st_kve_conf_t {
    FILE *errout;
    size_t num_errors, num_warnings;
    /** the table and object of the document being loaded (blocks of defaults are looked up there) */
    const kve_directive_t *root_table;
    void *root_obj;
    /** where each value given in the file (or inherited) came from */
    struct st_kve_conf_origin_rec_t *origins;
    size_t num_origins, origins_cap;
    /** name of the file being loaded, for errors without a node; NULL between loads */
    const char *file;
    /** every document loaded so far (nodes stay valid until kve_conf_free) */
    kve_yaml_doc_t **docs;
    size_t num_docs;
    /** the key path of the value being parsed, prefixed to messages */
    struct st_kve_conf_path_seg_t *path;
    size_t path_len, path_cap;
    /** the line ranges of hidden values, recorded before a table is applied */
    struct st_kve_conf_hidden_t *hidden;
    size_t num_hidden;
    /** the top-level keys under which an error was reported (borrowed from the documents), kve_conf_section_failed */
    const char **failed_sections;
    size_t num_failed_sections;
    /** the first KVE_CONF_MAX_ERRORS warnings as one line each (malloc'd), kve_conf_warning_lines */
    char **warning_lines;
    size_t num_warning_lines;
};

/**
 * Records that the value of directive `d` at `field` was given (KVE_CONF_SET at `node`) or inherited (KVE_CONF_INHERITED
 * from block `block`, whose value is at `node`); `via_file`: it came from `<key>_file` (conf_origin.c).
 */
void kve_conf__record_origin(kve_conf_t *conf, const void *field, const kve_directive_t *d, kve_conf_origin_kind_t kind,
                             const kve_node_t *node, const char *block, int via_file);
/** The record of the value at `field`, or NULL for a default. */
const struct st_kve_conf_origin_rec_t *kve_conf__find_origin(const kve_conf_t *conf, const void *field);

/** Non-zero when the value of `d` must never be shown (KVE_F_SECRET or KVE_F_HIDDEN). */
#define KVE_CONF_HIDES(d) (((d)->flags & (KVE_F_SECRET | KVE_F_HIDDEN)) != 0)

/** Pushes a key (borrowed; must outlive the pop) or a list index onto the key path. */
void kve_conf__push_key(kve_conf_t *conf, const char *key);
void kve_conf__push_index(kve_conf_t *conf, size_t index);
void kve_conf__pop(kve_conf_t *conf);

/**
 * Counts and prints one error at `file:line:col` (line 0: no position), quoting `source` (the text of
 * that line, may be NULL) with a caret under `col`.
 */
void kve_conf__vreport(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *source, const char *fmt,
                       va_list args) __attribute__((format(printf, 6, 0)));
/** kve_conf__vreport() for a warning: printed the same way with "warning:", counted apart, never fails a load. */
void kve_conf__vwarn(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *source, const char *fmt,
                     va_list args) __attribute__((format(printf, 6, 0)));
/** kve_conf__vreport() with variable arguments. */
void kve_conf__report(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/** Reports at byte `offset` of scalar `node`'s value: the exact column when the raw line shows the value verbatim. */
void kve_conf__error_at_offset(kve_conf_t *conf, const kve_node_t *node, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Records that `node` (lines `node->line`..`node->end_line` of `node->file`) is a hidden value. */
void kve_conf__hide_lines(kve_conf_t *conf, const kve_node_t *node);
/** Records that line `line` of `file` (borrowed; must outlive `conf`'s reports) may hold a secret: never quoted. */
void kve_conf__hide_suspect_line(kve_conf_t *conf, const char *file, unsigned line);
/**
 * Line `line` of `file` (text `source`) as an error may show it: a malloc'd copy with every one-line hidden value
 * replaced by "<hidden>", and in `*shown_col` the column in it of column `col` of the source. NULL when the line
 * must not be shown at all, with the reason in `*why` ("holds a secret", "may hold a secret"). `file` NULL: no
 * hidden values.
 */
char *kve_conf__shown_line(const kve_conf_t *conf, const char *file, unsigned line, const char *source, unsigned col,
                           unsigned *shown_col, const char **why);
/**
 * Judges, without a YAML tree, which of `num_lines` lines may hold a secret (see conf_secrets.c): a malloc'd array
 * with one flag per line, 1 for a line that must not be quoted.
 */
unsigned char *kve_conf__secret_lines(char *const *lines, size_t num_lines);
/** Wipes `len` bytes at `p` (a secret) and frees it (NULL is fine). */
void kve_conf__free_secret(void *p, size_t len);

/** Writes `s` as a double-quoted, escaped string into `buf`, shortened with "..." if long; returns buf. */
const char *kve_conf__quote(char *buf, size_t size, const char *s, size_t len);
/** Formats the range of `d` ("1 to 65535", "at least 1s", "at most 1GiB"); returns 0 and "" when unbounded. */
int kve_conf__format_range(char *buf, size_t size, const kve_directive_t *d);
/** Prints the "(type, range, default, ...)" summary of `d`, as `kvedge --help-config` shows it (conf_report.c). */
void kve_conf__print_summary(FILE *out, const kve_directive_t *d);

/** Non-zero for a null value: an empty, "~" or "null" plain scalar. */
int kve_conf__is_null(const kve_node_t *node);

/** Parses the scalar text of a STRING, INT, BOOL, DURATION, SIZE, ENUM or URL directive into `field`. */
int kve_conf__parse_scalar(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, const char *text, size_t len,
                           void *field);
/** Parses a STRING_LIST value (a sequence of scalars, one scalar, or null) into `field`. */
void kve_conf__parse_strings(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field);
/** Checks a LIST or STRING_LIST entry count against d->min/max; returns 0 or -1 after reporting at `node`. */
int kve_conf__check_count(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, size_t count);
/**
 * Reads a whole file into a malloc'd NUL-terminated buffer; NULL with errno set (EFBIG: more than `max` bytes).
 * The file may be a secret: no stdio buffer is used, and the copies left behind while the buffer grows are wiped.
 */
char *kve_conf__read_file(const char *path, size_t max, size_t *len);
/** `<key>_file: PATH`: reads the secret from PATH into the STRING `field` of `d`. */
void kve_conf__read_secret(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field);

#endif
