/* SPDX-License-Identifier: MIT */
/*
 * One parser per directive type. Each gets the scalar text after ${ENV} substitution, reports through
 * kve_conf_error() at the node it came from, and stores into the field only when the whole value is
 * valid, range included. Messages say what was expected and echo what was given (quoted, shortened),
 * and ranges print in the units a user writes ("1ms to 1h", "1KiB to 1GiB").
 */
#include "conf/conf.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "conf/conf_internal.h"
#include "conf/value.h"
#include "proxy/common.h"

#define QUOTE_SIZE 256

/* a bound of directive type `type` in the units a user writes ("1h", "10MiB", "42") */
static void format_bound(char *buf, size_t size, kve_conf_type_t type, int64_t v)
{
    static const struct {
        const char *suffix;
        int64_t mult;
    } durations[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}},
      sizes[] = {{"TiB", 1LL << 40},      {"GiB", 1LL << 30}, {"MiB", 1LL << 20}, {"KiB", 1LL << 10},
                 {"TB", 1000000000000LL}, {"GB", 1000000000}, {"MB", 1000000},    {"KB", 1000}};
    int is_duration = type == KVE_T_DURATION;
    size_t n = is_duration ? KVE_ARRAY_SIZE(durations) : type == KVE_T_SIZE ? KVE_ARRAY_SIZE(sizes) : 0;
    for (size_t i = 0; i != n && v > 0; ++i) {
        int64_t mult = is_duration ? durations[i].mult : sizes[i].mult;
        if (v % mult == 0) {
            snprintf(buf, size, "%lld%s", (long long)(v / mult), is_duration ? durations[i].suffix : sizes[i].suffix);
            return;
        }
    }
    snprintf(buf, size, "%lld%s", (long long)v, is_duration ? "ms" : "");
}

int kve_conf__format_range(char *buf, size_t size, const kve_directive_t *d)
{
    char lo[32], hi[32];
    int has_max = d->max != 0 || d->min < 0;
    int unsigned_type = d->type == KVE_T_DURATION || d->type == KVE_T_SIZE;
    buf[0] = '\0';
    if (d->min == 0 && d->max == 0)
        return 0;
    format_bound(lo, sizeof(lo), d->type, d->min);
    format_bound(hi, sizeof(hi), d->type, d->max);
    if (!has_max) {
        snprintf(buf, size, "at least %s", lo);
    } else if (d->min == 0 && unsigned_type) {
        snprintf(buf, size, "at most %s", hi);
    } else {
        snprintf(buf, size, "%s to %s", lo, hi);
    }
    return 1;
}

static int in_range(const kve_directive_t *d, int64_t v)
{
    if (d->min == 0 && d->max == 0)
        return 1;
    if (v < d->min)
        return 0;
    return !(d->max != 0 || d->min < 0) || v <= d->max;
}

/* range check of an INT, DURATION or SIZE; `shown` is the value as the user wrote it */
static int check_range(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, int64_t v, const char *shown)
{
    char range[80];
    if (in_range(d, v))
        return 0;
    kve_conf__format_range(range, sizeof(range), d);
    kve_conf_error(conf, node, "value %s is out of range (%s)", shown, range);
    return -1;
}

int kve_conf__check_count(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, size_t count)
{
    if (d->max > 0 && count > (uint64_t)d->max) {
        kve_conf_error(conf, node, "too many entries: %zu (at most %lld)", count, (long long)d->max);
        return -1;
    }
    if (d->min > 0 && count < (uint64_t)d->min) {
        kve_conf_error(conf, node, "too few entries: %zu (at least %lld)", count, (long long)d->min);
        return -1;
    }
    return 0;
}

static int parse_string(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, const char *text, size_t len,
                        void *field)
{
    if (strlen(text) != len) {
        kve_conf_error(conf, node, "must not contain a NUL character");
        return -1;
    }
    if (d->max > 0 && len > (uint64_t)d->max) {
        kve_conf_error(conf, node, "too long: %zu bytes (at most %lld)", len, (long long)d->max);
        return -1;
    }
    if (d->min > 0 && len < (uint64_t)d->min) {
        kve_conf_error(conf, node, "too short: %zu bytes (at least %lld)", len, (long long)d->min);
        return -1;
    }
    if ((d->flags & KVE_F_PATH) != 0 || ((d->flags & KVE_F_PROGRAM) != 0 && memchr(text, '/', len) != NULL)) {
        /* relative to the file it is written in (a default: to the file being loaded) */
        *(char **)field = kve_conf_resolve_path(node->file != NULL ? node->file : conf->file, text);
    } else {
        *(char **)field = kve_strndup(text, len);
    }
    return 0;
}

static int parse_int(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, const char *text, void *field)
{
    char quoted[QUOTE_SIZE], shown[32];
    int64_t v;
    if (kve_value_int(text, &v) != 0) {
        kve_conf_error(conf, node, "expected an integer, got %s", kve_conf__quote(quoted, sizeof(quoted), text, strlen(text)));
        return -1;
    }
    snprintf(shown, sizeof(shown), "%lld", (long long)v);
    if (check_range(conf, d, node, v, shown) != 0)
        return -1;
    memcpy(field, &v, sizeof(v));
    return 0;
}

static int parse_bool(kve_conf_t *conf, const kve_node_t *node, const char *text, void *field)
{
    char quoted[QUOTE_SIZE];
    int v;
    kve_conf__quote(quoted, sizeof(quoted), text, strlen(text));
    if (node->u.scalar.quoted) {
        kve_conf_error(conf, node, "expected true or false, got the string %s (remove the quotes)", quoted);
        return -1;
    }
    if (kve_value_bool(text, &v) != 0) {
        kve_conf_error(conf, node, "expected true or false, got %s", quoted);
        return -1;
    }
    *(int *)field = v;
    return 0;
}

/* DURATION and SIZE: a uint64_t that the value parsers cap at INT64_MAX */
static int parse_quantity(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, const char *text, void *field)
{
    char quoted[QUOTE_SIZE];
    int is_duration = d->type == KVE_T_DURATION;
    int64_t unused;
    uint64_t v;
    if ((is_duration ? kve_value_duration(text, &v) : kve_value_size(text, &v)) != 0) {
        kve_conf__quote(quoted, sizeof(quoted), text, strlen(text));
        if (!is_duration) {
            kve_conf_error(conf, node, "expected a size like \"64KiB\" or \"10MiB\", got %s", quoted);
        } else {
            kve_conf_error(conf, node, "expected a duration like \"30s\" or \"5m\", got %s%s", quoted,
                           kve_value_int(text, &unused) == 0 ? " (a unit is required)" : "");
        }
        return -1;
    }
    if (check_range(conf, d, node, (int64_t)v, text) != 0)
        return -1;
    memcpy(field, &v, sizeof(v));
    return 0;
}

/* "a, b, c" (sep ", ") or "a, b or c" (last " or ") */
static void join_choices(char *buf, size_t size, const char *const *choices, int with_or)
{
    size_t n = 0, off = 0;
    while (choices[n] != NULL)
        ++n;
    buf[0] = '\0';
    for (size_t i = 0; i != n && off < size; ++i) {
        const char *sep = i == 0 ? "" : with_or && i == n - 1 ? " or " : ", ";
        off += snprintf(buf + off, size - off, "%s%s", sep, choices[i]);
    }
}

static int parse_enum(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, const char *text, void *field)
{
    char quoted[QUOTE_SIZE], choices[256];
    KVE_ASSERT(d->choices != NULL);
    for (int i = 0; d->choices[i] != NULL; ++i) {
        if (strcmp(text, d->choices[i]) == 0) {
            *(int *)field = i;
            return 0;
        }
    }
    join_choices(choices, sizeof(choices), d->choices, 0);
    kve_conf_error(conf, node, "expected one of %s, got %s", choices, kve_conf__quote(quoted, sizeof(quoted), text, strlen(text)));
    return -1;
}

/* "scheme://rest": returns the scheme length, or 0 when `text` is not an absolute URL */
static size_t url_scheme(const char *text)
{
    size_t n = 0;
    if (!isalpha((unsigned char)text[0]))
        return 0;
    while (isalnum((unsigned char)text[n]) || text[n] == '+' || text[n] == '-' || text[n] == '.')
        ++n;
    if (strncmp(text + n, "://", 3) != 0 || text[n + 3] == '\0')
        return 0;
    for (const char *p = text + n + 3; *p != '\0'; ++p) {
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return 0;
    }
    return n;
}

static int parse_url(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, const char *text, size_t len, void *field)
{
    char quoted[QUOTE_SIZE], schemes[256];
    size_t scheme_len = url_scheme(text);
    if (scheme_len != 0 && d->choices == NULL)
        return parse_string(conf, d, node, text, len, field);
    for (size_t i = 0; scheme_len != 0 && d->choices[i] != NULL; ++i) {
        if (strlen(d->choices[i]) == scheme_len && strncasecmp(text, d->choices[i], scheme_len) == 0)
            return parse_string(conf, d, node, text, len, field);
    }
    kve_conf__quote(quoted, sizeof(quoted), text, len);
    if (d->choices == NULL) {
        kve_conf_error(conf, node, "expected an absolute URL like \"http://host/\", got %s", quoted);
    } else {
        join_choices(schemes, sizeof(schemes), d->choices, 1);
        kve_conf_error(conf, node, "expected a URL with scheme %s, got %s", schemes, quoted);
    }
    return -1;
}

int kve_conf__parse_scalar(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, const char *text, size_t len,
                           void *field)
{
    switch (d->type) {
    case KVE_T_STRING:
        return parse_string(conf, d, node, text, len, field);
    case KVE_T_INT:
        return parse_int(conf, d, node, text, field);
    case KVE_T_BOOL:
        return parse_bool(conf, node, text, field);
    case KVE_T_DURATION:
    case KVE_T_SIZE:
        return parse_quantity(conf, d, node, text, field);
    case KVE_T_ENUM:
        return parse_enum(conf, d, node, text, field);
    case KVE_T_URL:
        return parse_url(conf, d, node, text, len, field);
    default:
        KVE_ASSERT(!"not a scalar directive type");
        return -1;
    }
}

/* one entry of a STRING_LIST: a scalar, ${ENV}-expanded, without NULs; NULL after reporting */
static char *string_entry(kve_conf_t *conf, const kve_node_t *node)
{
    char *text;
    size_t len;
    if (node->type != KVE_NODE_SCALAR) {
        kve_conf_error(conf, node, "expected a scalar value");
        return NULL;
    }
    if ((text = kve_conf_expand_scalar(conf, node, &len)) != NULL && strlen(text) != len) {
        kve_conf_error(conf, node, "must not contain a NUL character");
        free(text);
        text = NULL;
    }
    return text;
}

void kve_conf__parse_strings(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field)
{
    kve_conf_strings_t list = {NULL, 0};
    char *entry;
    if (kve_conf__is_null(node)) {
        kve_conf__check_count(conf, d, node, 0);
    } else if (node->type == KVE_NODE_SCALAR) {
        if (kve_conf__check_count(conf, d, node, 1) == 0 && (entry = string_entry(conf, node)) != NULL) {
            list.entries = kve_malloc(sizeof(*list.entries));
            list.entries[list.size++] = entry;
        }
    } else if (node->type != KVE_NODE_SEQUENCE) {
        kve_conf_error(conf, node, "expected a list");
    } else if (kve_conf__check_count(conf, d, node, node->u.sequence.size) == 0) {
        list.entries = kve_malloc(node->u.sequence.size * sizeof(*list.entries));
        for (size_t i = 0; i != node->u.sequence.size; ++i) {
            kve_conf__push_index(conf, i);
            if ((entry = string_entry(conf, node->u.sequence.items[i])) != NULL)
                list.entries[list.size++] = entry;
            kve_conf__pop(conf);
        }
    }
    memcpy(field, &list, sizeof(list));
}

/* strips one trailing "\n" or "\r\n", as editors and `echo` leave one behind */
static void strip_newline(char *text, size_t *len)
{
    if (*len != 0 && text[*len - 1] == '\n') {
        text[--*len] = '\0';
        if (*len != 0 && text[*len - 1] == '\r')
            text[--*len] = '\0';
    }
}

void kve_conf__read_secret(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field)
{
    char quoted[QUOTE_SIZE], *path, *text;
    size_t path_len, len;
    if (node->type != KVE_NODE_SCALAR) {
        kve_conf_error(conf, node, "expected a scalar value");
        return;
    }
    if ((path = kve_conf_expand_scalar(conf, node, &path_len)) == NULL)
        return;
    if (strlen(path) == path_len) { /* relative to the config file's folder (a NUL inside fails the read below) */
        char *resolved = kve_conf_resolve_path(node->file, path);
        free(path);
        path_len = strlen((path = resolved));
    }
    kve_conf__quote(quoted, sizeof(quoted), path, path_len);
    if ((text = kve_conf__read_file(path, KVE_CONF_MAX_SECRET_SIZE, &len)) == NULL) {
        if (errno == EFBIG) {
            kve_conf_error(conf, node, "cannot read %s: larger than %d KiB", quoted, KVE_CONF_MAX_SECRET_SIZE >> 10);
        } else {
            kve_conf_error(conf, node, "cannot read %s: %s", quoted, strerror(errno));
        }
    } else {
        strip_newline(text, &len);
        kve_conf__parse_scalar(conf, d, node, text, len, field);
        kve_conf__free_secret(text, len);
    }
    free(path);
}
