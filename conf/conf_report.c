/* SPDX-License-Identifier: MIT */
/*
 * Error and warning output, and reference documentation. Errors are compiler-style so editors can jump to them
 * ("file:line:col: error: key.path: message"), followed by the offending line and a caret; columns count
 * characters (as libyaml does) and the caret line copies the tabs of the quoted line so it lines up.
 * Every error is counted; only the first KVE_CONF_MAX_ERRORS are printed, then one line says so. Hidden values
 * never reach the output (conf_secrets.c decides how a line holding one is shown).
 */
#include "conf/conf.h"

#include <stdarg.h>
#include <string.h>
#include "conf/conf_internal.h"
#include "proxy/common.h"

/* longest part of a value echoed in a message */
#define MAX_QUOTED 60

void kve_conf__push_key(kve_conf_t *conf, const char *key)
{
    if (conf->path_len == conf->path_cap) {
        conf->path_cap = conf->path_cap == 0 ? 8 : conf->path_cap * 2;
        conf->path = kve_realloc(conf->path, conf->path_cap * sizeof(*conf->path));
    }
    conf->path[conf->path_len].key = key;
    conf->path[conf->path_len++].index = 0;
}

void kve_conf__push_index(kve_conf_t *conf, size_t index)
{
    kve_conf__push_key(conf, NULL);
    conf->path[conf->path_len - 1].index = index;
}

void kve_conf__pop(kve_conf_t *conf)
{
    KVE_ASSERT(conf->path_len != 0);
    --conf->path_len;
}

static void print_path(const kve_conf_t *conf, FILE *out)
{
    for (size_t i = 0; i != conf->path_len; ++i) {
        if (conf->path[i].key == NULL) {
            fprintf(out, "[%zu]", conf->path[i].index);
        } else {
            fprintf(out, "%s%s", i == 0 ? "" : ".", conf->path[i].key);
        }
    }
    if (conf->path_len != 0)
        fputs(": ", out);
}

static int is_continuation(char c)
{
    return ((unsigned char)c & 0xc0) == 0x80;
}

static int line_number_width(unsigned line)
{
    int width = snprintf(NULL, 0, "%u", line);
    return width < 5 ? 5 : width;
}

/* "   12 | text" then "      |    ^", the caret under character column `col` */
static void print_source(FILE *out, const char *source, unsigned line, unsigned col)
{
    int width = line_number_width(line);
    const char *p = source;
    fprintf(out, "%*u | %s\n%*s | ", width, line, source, width, "");
    for (unsigned c = 1; c < col; ++c) {
        if (*p == '\0') {
            fputc(' ', out);
            continue;
        }
        fputc(*p == '\t' ? '\t' : ' ', out);
        while (is_continuation(*++p))
            ;
    }
    fputs("^\n", out);
}

/* prints one message ("error" or "warning") with its position, key path and quoted line */
static void vprint(kve_conf_t *conf, const char *severity, const char *file, unsigned line, unsigned col, const char *source,
                   const char *fmt, va_list args) __attribute__((format(printf, 7, 0)));

static void vprint(kve_conf_t *conf, const char *severity, const char *file, unsigned line, unsigned col, const char *source,
                   const char *fmt, va_list args)
{
    FILE *out = conf->errout;
    if (file == NULL) {
        fprintf(out, "%s: ", severity);
    } else if (line == 0) {
        fprintf(out, "%s: %s: ", file, severity);
    } else {
        fprintf(out, "%s:%u:%u: %s: ", file, line, col, severity);
    }
    print_path(conf, out);
    vfprintf(out, fmt, args);
    fputc('\n', out);
    if (line != 0 && source != NULL) {
        const char *why;
        unsigned shown_col;
        char *shown = kve_conf__shown_line(conf, file, line, source, col, &shown_col, &why);
        if (shown == NULL) {
            fprintf(out, "%*u | (not shown: %s)\n", line_number_width(line), line, why);
        } else {
            print_source(out, shown, line, shown_col);
            free(shown);
        }
    }
    fflush(out);
}

/* the top-level key of the current key path is a section with an error (kve_conf_section_failed) */
static void record_failed_section(kve_conf_t *conf)
{
    const char *key = conf->path_len != 0 ? conf->path[0].key : NULL;
    if (key == NULL || kve_conf_section_failed(conf, key))
        return;
    conf->failed_sections = kve_realloc(conf->failed_sections, (conf->num_failed_sections + 1) * sizeof(*conf->failed_sections));
    conf->failed_sections[conf->num_failed_sections++] = key;
}

static void keep_warning_line(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *fmt, va_list args)
    __attribute__((format(printf, 5, 0)));

/* the warning as one line, without the source ("file:line:col: key.path: message"), kept for the log */
static void keep_warning_line(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *fmt, va_list args)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    KVE_ASSERT(out != NULL);
    if (file != NULL && line != 0) {
        fprintf(out, "%s:%u:%u: ", file, line, col);
    } else if (file != NULL) {
        fprintf(out, "%s: ", file);
    }
    print_path(conf, out);
    vfprintf(out, fmt, args);
    fclose(out);
    conf->warning_lines = kve_realloc(conf->warning_lines, (conf->num_warning_lines + 1) * sizeof(*conf->warning_lines));
    conf->warning_lines[conf->num_warning_lines++] = text;
}

void kve_conf__vreport(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *source, const char *fmt,
                       va_list args)
{
    record_failed_section(conf);
    if (++conf->num_errors > KVE_CONF_MAX_ERRORS) {
        if (conf->num_errors == KVE_CONF_MAX_ERRORS + 1)
            fprintf(conf->errout, "... too many errors, stopping after %d\n", KVE_CONF_MAX_ERRORS);
        return;
    }
    vprint(conf, "error", file, line, col, source, fmt, args);
}

void kve_conf__vwarn(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *source, const char *fmt,
                     va_list args)
{
    va_list copy;
    if (++conf->num_warnings > KVE_CONF_MAX_ERRORS)
        return;
    va_copy(copy, args);
    keep_warning_line(conf, file, line, col, fmt, copy);
    va_end(copy);
    vprint(conf, "warning", file, line, col, source, fmt, args);
}

void kve_conf__report(kve_conf_t *conf, const char *file, unsigned line, unsigned col, const char *source, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    kve_conf__vreport(conf, file, line, col, source, fmt, args);
    va_end(args);
}

/* the text of `line` in the document that owns `file` (nodes point at their document's file name) */
static const char *find_source(const kve_conf_t *conf, const char *file, unsigned line)
{
    for (size_t i = conf->num_docs; i-- != 0;) {
        const kve_yaml_doc_t *doc = conf->docs[i];
        if (doc->file == file)
            return line >= 1 && line <= doc->num_lines ? doc->lines[line - 1] : NULL;
    }
    return NULL;
}

static void vreport_node(kve_conf_t *conf, int warn, const kve_node_t *node, unsigned col, const char *fmt, va_list args)
    __attribute__((format(printf, 5, 0)));

static void vreport_node(kve_conf_t *conf, int warn, const kve_node_t *node, unsigned col, const char *fmt, va_list args)
{
    void (*report)(kve_conf_t *, const char *, unsigned, unsigned, const char *, const char *, va_list) =
        warn ? kve_conf__vwarn : kve_conf__vreport;
    if (node == NULL || node->file == NULL) {
        /* no node, or a default from a table: no position */
        report(conf, conf->file, 0, 0, NULL, fmt, args);
    } else {
        report(conf, node->file, node->line, col, find_source(conf, node->file, node->line), fmt, args);
    }
}

void kve_conf_error(kve_conf_t *conf, const kve_node_t *node, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vreport_node(conf, 0, node, node != NULL ? node->column : 0, fmt, args);
    va_end(args);
}

void kve_conf_warn(kve_conf_t *conf, const kve_node_t *node, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vreport_node(conf, 1, node, node != NULL ? node->column : 0, fmt, args);
    va_end(args);
}

/* column of byte `offset` of a scalar's value, when the source line holds the value verbatim at the node */
static unsigned column_of_offset(const kve_conf_t *conf, const kve_node_t *node, size_t offset)
{
    const char *source = find_source(conf, node->file, node->line), *p = source;
    unsigned col = node->column;
    if (source == NULL)
        return col;
    for (unsigned c = 1; c < node->column && *p != '\0'; ++c) {
        while (is_continuation(*++p))
            ;
    }
    if (node->u.scalar.quoted && (*p == '"' || *p == '\'')) {
        ++p;
        ++col;
    }
    if (strlen(p) < node->u.scalar.len || memcmp(p, node->u.scalar.value, node->u.scalar.len) != 0)
        return node->column;
    for (size_t i = 0; i != offset; ++i)
        col += !is_continuation(p[i]);
    return col;
}

void kve_conf__error_at_offset(kve_conf_t *conf, const kve_node_t *node, size_t offset, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vreport_node(conf, 0, node, node->file != NULL ? column_of_offset(conf, node, offset) : 0, fmt, args);
    va_end(args);
}

const char *kve_conf__quote(char *buf, size_t size, const char *s, size_t len)
{
    size_t off = 0, i;
    /* worst case: every byte escaped as \xNN, plus a character finishing after the cut, quotes and "..." */
    KVE_ASSERT(size >= 4 * MAX_QUOTED + 16);
    buf[off++] = '"';
    for (i = 0; i != len; ++i) {
        unsigned char c = s[i];
        if (i >= MAX_QUOTED && !is_continuation(c))
            break;
        if (c == '"' || c == '\\') {
            buf[off++] = '\\';
            buf[off++] = c;
        } else if (c == '\n' || c == '\t') {
            buf[off++] = '\\';
            buf[off++] = c == '\n' ? 'n' : 't';
        } else if (c < 0x20 || c == 0x7f) {
            off += snprintf(buf + off, size - off, "\\x%02x", c);
        } else {
            buf[off++] = c;
        }
    }
    snprintf(buf + off, size - off, "%s\"", i != len ? "..." : "");
    return buf;
}

static const char *type_name(const kve_directive_t *d)
{
    static const char *const names[] = {"string", "integer",         "bool", "duration",     "size",   "one of",
                                        "URL",    "list of strings", "map",  "list of maps", "custom", "maps by name"};
    KVE_ASSERT((size_t)d->type < KVE_ARRAY_SIZE(names));
    return names[d->type];
}

/* "(type, details...)" of one directive */
void kve_conf__print_summary(FILE *out, const kve_directive_t *d)
{
    char range[80], choices[256] = "";
    size_t off = 0;
    for (size_t i = 0; d->choices != NULL && d->choices[i] != NULL && off < sizeof(choices); ++i)
        off += snprintf(choices + off, sizeof(choices) - off, "%s%s", i == 0 ? " " : " | ", d->choices[i]);
    fprintf(out, "(%s%s", type_name(d), d->type == KVE_T_URL && d->choices != NULL ? ":" : "");
    fputs(choices, out);
    if (d->type == KVE_T_LIST || d->type == KVE_T_STRING_LIST || d->type == KVE_T_DICT) {
        if (d->min > 0)
            fprintf(out, ", at least %lld", (long long)d->min);
        if (d->max > 0)
            fprintf(out, ", at most %lld", (long long)d->max);
    } else if (d->type == KVE_T_STRING || d->type == KVE_T_URL) {
        if (d->min > 0)
            fprintf(out, ", at least %lld bytes", (long long)d->min);
        if (d->max > 0)
            fprintf(out, ", at most %lld bytes", (long long)d->max);
    } else if (kve_conf__format_range(range, sizeof(range), d)) {
        fprintf(out, ", %s", range);
    }
    if (d->dflt != NULL)
        fprintf(out, d->type == KVE_T_STRING || d->type == KVE_T_URL ? ", default \"%s\"" : ", default %s", d->dflt);
    if ((d->flags & KVE_F_REQUIRED) != 0)
        fputs(", required", out);
    if ((d->flags & KVE_F_SECRET) != 0)
        fprintf(out, ", secret: or %s_file", d->key);
    if ((d->flags & KVE_F_PATH) != 0)
        fputs(", a relative path is relative to the config file's folder", out);
    if (d->type == KVE_T_DICT)
        fprintf(out, ", names of a-z 0-9 _ - up to %d bytes", KVE_CONF_MAX_NAME);
    if (d->shorthand != NULL)
        fprintf(out, ", or a scalar for %s", d->shorthand);
    if (d->inherits != NULL)
        fprintf(out, ", keys not given come from %s", d->inherits);
    fputc(')', out);
}

static void print_table(FILE *out, const kve_directive_t *table, int depth)
{
    for (; table->key != NULL; ++table) {
        fprintf(out, "%*s%s ", depth * 2, "", table->key);
        kve_conf__print_summary(out, table);
        if (table->doc != NULL)
            fprintf(out, ": %s", table->doc);
        fputc('\n', out);
        if (table->children != NULL)
            print_table(out, table->children, depth + 1);
    }
}

void kve_conf_print_reference(FILE *out, const kve_directive_t *table)
{
    print_table(out, table, 0);
}
