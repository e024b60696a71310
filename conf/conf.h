/* SPDX-License-Identifier: MIT */
/*
 * The directive engine (style.md §5): each binding file declares a table of kve_directive_t (nginx's
 * offsetof setters + Redis's min/max/default + h2o's node-type checks + Varnish's doc string), and the
 * engine walks the YAML tree against it. The engine owns: type checks, range checks, defaults, required
 * keys, duplicate keys (citing the first occurrence), unknown keys with a did-you-mean, `${ENV}`
 * substitution in scalars and `<key>_file` for secrets. It reports every error (up to KVE_CONF_MAX_ERRORS)
 * compiler-style, with the quoted line and a caret:
 *
 *     examples/x.yaml:12:9: error: cache.ttl: expected a duration like "30s" or "5m", got "banana"
 *        12 |   ttl: banana
 *           |        ^
 *
 * Values of KVE_F_SECRET and KVE_F_HIDDEN directives never reach the output: before applying a table the
 * engine records where every such value is (and the value of an unknown key whose suggestion is one, a typo
 * like `tokn: value`), and an error on one of those lines shows the line with each one-line value replaced
 * by `<hidden>` (the caret still points where it should), or `   12 | (not shown: holds a secret)` for a
 * line holding part of a value that spans lines. A YAML syntax error leaves no tree: a line that may hold a
 * secret, judged from its text, shows `(not shown: may hold a secret)`. Messages about such values never
 * echo them.
 *
 * Inheritance (the merge step): a MAP, LIST or DICT directive may name, in `.inherits`, a block of defaults: a
 * top-level MAP flagged KVE_F_DEFAULTS (e.g. `proxy:` for every entry of `routes:`). A key that an object of the
 * inheriting directive does not give takes the value the block gives in the file, parsed again by the object's
 * own directive, before falling back to the object's default; a key the object gives wins, even when its value
 * equals the default. The engine records where every value came from (kve_conf_origin: given, inherited, or a
 * default), so checks and messages can tell them apart. Blocks of defaults are applied before the other keys of
 * their table, so their errors may come out before those of earlier lines.
 *
 * Warnings (kve_conf_warn) use the error format with "warning:" and do not make loading fail.
 *
 * Ownership: strings and lists the engine stores into a config object are malloc'd and belong to that
 * object; kve_conf_free_fields() releases them with the same table.
 */
#ifndef KVE_CONF_CONF_H
#define KVE_CONF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "conf/yaml.h"

#define KVE_CONF_MAX_ERRORS 20
/** Longest name of a KVE_T_DICT entry, in bytes. */
#define KVE_CONF_MAX_NAME 32

typedef struct st_kve_conf_t kve_conf_t;
typedef struct st_kve_directive_t kve_directive_t;

typedef enum {
    KVE_T_STRING,      /* char *; min/max bound the length in bytes when non-zero */
    KVE_T_INT,         /* int64_t; min/max bound the value */
    KVE_T_BOOL,        /* int, 0 or 1; accepts true/false/yes/no/on/off (unquoted) */
    KVE_T_DURATION,    /* uint64_t milliseconds; "250ms" "30s" "5m" "2h" "1d" (also "1.5s"); min/max in ms */
    KVE_T_SIZE,        /* uint64_t bytes; "512" "64KiB" "10MiB" "1GiB" (also KB/MB/GB = powers of 1000); min/max in bytes */
    KVE_T_ENUM,        /* int index into .choices */
    KVE_T_URL,         /* char *; an absolute URL whose scheme is one of .choices (NULL choices: any scheme) */
    KVE_T_STRING_LIST, /* kve_conf_strings_t; a sequence of scalars (a single scalar is a list of one); max bounds the count */
    KVE_T_MAP,         /* a nested struct at .offset, described by .children; absent map => children get defaults */
    KVE_T_LIST,        /* kve_conf_list_t of .elem_size structs, each a mapping described by .children; max bounds the count */
    KVE_T_CUSTOM,      /* .parse does the work */
    KVE_T_DICT         /* kve_conf_dict_t: a mapping of names to .elem_size structs described by .children (each a mapping, or
                        * a scalar for .shorthand), in file order; a name is 1 to KVE_CONF_MAX_NAME bytes of a-z, 0-9, '_'
                        * and '-'; max bounds the count */
} kve_conf_type_t;

/*
 * A null value (an empty, `~` or `null` plain scalar, e.g. `cache:` with nothing under it) given to a MAP means
 * the map is absent, and to a LIST, DICT or STRING_LIST an empty one. `${ENV}` is substituted in every scalar value
 * (not in keys, and not in defaults).
 */

enum {
    KVE_F_REQUIRED = 0x1, /* the key must be present */
    KVE_F_SECRET = 0x2,   /* a string that may instead be read from a file named by `<key>_file` (trailing newline stripped);
                           * implies KVE_F_HIDDEN */
    KVE_F_HIDDEN = 0x4,   /* a STRING or URL that may hold a secret (e.g. a password in a URL): errors never quote the
                           * source lines of its value, and the engine wipes the value's memory before freeing it */
    KVE_F_DEFAULTS = 0x8, /* a top-level MAP of defaults that other directives name in .inherits; applied before the other
                           * keys of its table */
    KVE_F_PATH = 0x10,    /* a STRING naming a file or folder: a relative path is resolved against the folder of the config
                           * file (kve_conf_resolve_path); "-" and "" are kept as they are */
    KVE_F_PROGRAM = 0x20  /* like KVE_F_PATH, but a name without '/' is kept (a program looked up in PATH) */
};

typedef struct st_kve_conf_strings_t {
    char **entries;
    size_t size;
} kve_conf_strings_t;

typedef struct st_kve_conf_list_t {
    void *entries; /* size * elem_size bytes, zeroed then filled */
    size_t size;
} kve_conf_list_t;

typedef struct st_kve_conf_dict_t {
    char **names;  /* size names, each malloc'd; names[i] is the name of entry i */
    void *entries; /* size * elem_size bytes, zeroed then filled */
    size_t size;
} kve_conf_dict_t;

struct st_kve_directive_t {
    const char *key;
    kve_conf_type_t type;
    /** offset of the field in the object the table describes (KVE_FIELD) */
    size_t offset;
    unsigned flags;
    /** inclusive range; both 0 means unbounded, and max 0 with min > 0 means no upper bound (see the types above
     * for units) */
    int64_t min, max;
    /** default, written as it would be in the file, parsed when the key is absent; NULL = leave zero */
    const char *dflt;
    /** ENUM names or URL schemes, NULL-terminated */
    const char *const *choices;
    /** MAP: the nested table; LIST, DICT: the element table. Terminated by an entry with key == NULL */
    const kve_directive_t *children;
    /** LIST, DICT: size of one element */
    size_t elem_size;
    /** MAP (or LIST or DICT element): a scalar in place of the mapping sets this child key (e.g. `redis: embedded` sets
     * redis.url); the other children then get their defaults */
    const char *shorthand;
    /** CUSTOM: parses `node` into `field`; returns 0 or -1 (after reporting with kve_conf_error). A scalar node arrives
     * with `${ENV}` already substituted; scalars inside other nodes go through kve_conf_expand_scalar(). Whatever
     * it stores is its owner's to free: kve_conf_free_fields() leaves CUSTOM fields alone. */
    int (*parse)(kve_conf_t *conf, const kve_node_t *node, void *field);
    /** MAP, LIST or DICT element: cross-field validation after the children are set, only when they had no errors.
     * `node` is the mapping (the scalar for a shorthand; NULL when the map was absent, and then the children's
     * KVE_F_REQUIRED is not enforced); returns 0 or -1 (after reporting) */
    int (*check)(kve_conf_t *conf, const kve_node_t *node, void *obj);
    /** one line of documentation (kvedge --help-config prints the tables) */
    const char *doc;
    /**
     * MAP, LIST, DICT: the key of a top-level KVE_F_DEFAULTS MAP whose keys the object(s) inherit when they do not give
     * them. Every key of that block must be a key of .children with the same type (not a MAP); the engine asserts it.
     */
    const char *inherits;
};

#define KVE_FIELD(type, member) offsetof(type, member)

/** A loading session: collects errors (printed to `errout` as they are found) and keeps documents alive. */
kve_conf_t *kve_conf_new(FILE *errout);
/** Frees the session (not the objects it filled). */
void kve_conf_free(kve_conf_t *conf);

/**
 * Loads `path` and applies `table` to its root mapping, filling `obj` (which must be zeroed by the caller).
 * Returns 0 when there were no errors, -1 otherwise (every error has been printed). An unreadable file or
 * a YAML syntax error is reported in the same format. Even on failure `obj` may hold allocated fields:
 * call kve_conf_free_fields() in both cases.
 */
int kve_conf_load_file(kve_conf_t *conf, const char *path, const kve_directive_t *table, void *obj);
/** Same as kve_conf_load_file() for text in memory; `name` is used as the file name in messages. */
int kve_conf_load_string(kve_conf_t *conf, const char *name, const char *text, const kve_directive_t *table, void *obj);

/** Reports an error at `node` (NULL: no position). The current key path is prefixed to the message. */
void kve_conf_error(kve_conf_t *conf, const kve_node_t *node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/**
 * For CUSTOM parsers: the value of scalar `node` with `${ENV}` substituted, malloc'd (`*len` bytes plus a NUL), or
 * NULL after reporting the error.
 */
char *kve_conf_expand_scalar(kve_conf_t *conf, const kve_node_t *node, size_t *len);
/**
 * The root node of the document loaded last (NULL if none was loaded, or it was empty), for checks across
 * the whole file after loading it. Valid until kve_conf_free().
 */
const kve_node_t *kve_conf_root(const kve_conf_t *conf);
/** Number of errors reported so far (including those past the printing cap). */
size_t kve_conf_error_count(const kve_conf_t *conf);
/**
 * Reports a warning at `node` (NULL: no position): a combination that is legal but probably not what was meant.
 * Printed like an error with "warning:"; loading still succeeds.
 */
void kve_conf_warn(kve_conf_t *conf, const kve_node_t *node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Number of warnings reported so far. */
size_t kve_conf_warning_count(const kve_conf_t *conf);
/**
 * The warnings reported so far, one line each ("file:line:col: key.path: message", no quoted source, so no value),
 * the first KVE_CONF_MAX_ERRORS of them: `*count` entries, valid until kve_conf_free(), for logging them later.
 */
char *const *kve_conf_warning_lines(const kve_conf_t *conf, size_t *count);
/**
 * Whether an error was reported under the top-level key `key` (its key path starts with it), so that checks across
 * sections can run on the sections that loaded cleanly and skip the ones whose values may be missing.
 */
int kve_conf_section_failed(const kve_conf_t *conf, const char *key);
/**
 * `path` as kvedge opens it: a relative path joined to the folder of `config_file` (the file it was written in), so
 * that a configuration means the same whatever the working directory. An absolute path, "-" and "" are kept, and so
 * is any path when the config file is in the working directory (no folder part). Returns a malloc'd string.
 */
char *kve_conf_resolve_path(const char *config_file, const char *path);

typedef enum {
    KVE_CONF_DEFAULT,  /* not given: the directive's default (or zero) */
    KVE_CONF_SET,      /* given in the file */
    KVE_CONF_INHERITED /* not given, taken from a block of defaults (kve_directive_t.inherits) */
} kve_conf_origin_kind_t;

typedef struct st_kve_conf_origin_t {
    kve_conf_origin_kind_t kind;
    /** SET, INHERITED: the value's node in the file (for INHERITED, in the block of defaults); NULL for DEFAULT */
    const kve_node_t *node;
    /** INHERITED: the block's key (e.g. "proxy"); NULL otherwise */
    const char *block;
} kve_conf_origin_t;

/**
 * Where the value at `field` (the field of a non-MAP directive in an object this session filled) came from. A field
 * the session never recorded is DEFAULT. Valid until kve_conf_free().
 */
kve_conf_origin_t kve_conf_origin(const kve_conf_t *conf, const void *field);
/**
 * How the value at `field` came to be, for messages: "line 12", "from proxy.timeout, line 4" or "the default"; written
 * into `buf`, which is returned.
 */
const char *kve_conf_describe_origin(const kve_conf_t *conf, const void *field, char *buf, size_t size);
/** The node to point at for the value at `field`: its node in the file, or `fallback` when it is a default. */
const kve_node_t *kve_conf_origin_node(const kve_conf_t *conf, const void *field, const kve_node_t *fallback);

/**
 * Frees every string, list and nested object that `table` stored into `obj` and zeroes those fields (obj itself
 * is not freed); the strings of KVE_F_SECRET and KVE_F_HIDDEN directives are wiped first. CUSTOM fields are left
 * alone: their parsers' owners free them.
 */
void kve_conf_free_fields(const kve_directive_t *table, void *obj);

/** Prints the tables as reference documentation (key, type, default, range, doc), indented by nesting. */
void kve_conf_print_reference(FILE *out, const kve_directive_t *table);
/**
 * Prints the same reference as roff for a man page (conf_man.c): one tagged paragraph per key, named by its whole
 * path (`listen[].tls.cert_file`: `[]` after a list of maps, `.<name>` after maps by name), the summary, then the doc.
 */
void kve_conf_print_man(FILE *out, const kve_directive_t *table);

#endif
