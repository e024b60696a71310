/* SPDX-License-Identifier: MIT */
/*
 * The directive engine: walks a YAML mapping against a table of kve_directive_t and stores each value at
 * `obj + offset`. Keys are handled in document order (so errors come out top to bottom), then every
 * directive that was not given is settled: a missing required key is reported at its parent mapping, a
 * default is parsed by the very code that parses file values, an absent map still gets its children's
 * defaults and its check. Each directive is set at most once per object, so nothing stored is ever
 * overwritten (and leaked); whatever was stored, even when loading failed, is released by
 * kve_conf_free_fields() with the same table.
 */
#include "conf/conf.h"

#include <errno.h>
#include <string.h>
#include "conf/conf_internal.h"
#include "conf/value.h"
#include "proxy/common.h"

/* where the keys an object does not give come from: the block of defaults its directive inherits (NULL: none) */
struct st_inherit_t {
    const kve_directive_t *block; /* the top-level KVE_F_DEFAULTS MAP named by .inherits */
    const void *obj;              /* the block's object */
};

static void set_value(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field);
static void apply_table(kve_conf_t *conf, const kve_directive_t *table, const kve_node_t *map, void *obj,
                        const kve_directive_t *preset, int enforce_required, const kve_node_t *report_node,
                        const struct st_inherit_t *inherit);

kve_conf_t *kve_conf_new(FILE *errout)
{
    kve_conf_t *conf = kve_zalloc(sizeof(*conf));
    conf->errout = errout;
    return conf;
}

void kve_conf_free(kve_conf_t *conf)
{
    if (conf == NULL)
        return;
    for (size_t i = 0; i != conf->num_docs; ++i)
        kve_yaml_free(conf->docs[i]);
    free(conf->docs);
    free(conf->path);
    free(conf->hidden);
    free(conf->origins);
    free(conf->failed_sections);
    for (size_t i = 0; i != conf->num_warning_lines; ++i)
        free(conf->warning_lines[i]);
    free(conf->warning_lines);
    free(conf);
}

const kve_node_t *kve_conf_root(const kve_conf_t *conf)
{
    return conf->num_docs != 0 ? conf->docs[conf->num_docs - 1]->root : NULL;
}

size_t kve_conf_error_count(const kve_conf_t *conf)
{
    return conf->num_errors;
}

size_t kve_conf_warning_count(const kve_conf_t *conf)
{
    return conf->num_warnings;
}

char *const *kve_conf_warning_lines(const kve_conf_t *conf, size_t *count)
{
    *count = conf->num_warning_lines;
    return conf->warning_lines;
}

int kve_conf_section_failed(const kve_conf_t *conf, const char *key)
{
    for (size_t i = 0; i != conf->num_failed_sections; ++i)
        if (strcmp(conf->failed_sections[i], key) == 0)
            return 1;
    return 0;
}

int kve_conf__is_null(const kve_node_t *node)
{
    if (node->type != KVE_NODE_SCALAR || node->u.scalar.quoted)
        return 0;
    const char *v = node->u.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const kve_directive_t *find_directive(const kve_directive_t *table, const char *key, size_t len)
{
    for (; table->key != NULL; ++table) {
        if (strlen(table->key) == len && memcmp(table->key, key, len) == 0)
            return table;
    }
    return NULL;
}

/* the secret directive `k` of a key named "k_file", or NULL */
static const kve_directive_t *find_secret(const kve_directive_t *table, const char *key, size_t len)
{
    static const char suffix[] = "_file";
    const kve_directive_t *d;
    if (len <= sizeof(suffix) - 1 || memcmp(key + len - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) != 0)
        return NULL;
    d = find_directive(table, key, len - (sizeof(suffix) - 1));
    return d != NULL && (d->flags & KVE_F_SECRET) != 0 ? d : NULL;
}

/* a suggestion is close when at most 2 edits apart (but not a full rewrite of a short key), or a third of a long one */
static int is_close(const char *given, const char *known)
{
    unsigned dist = kve_value_edit_distance(given, known);
    size_t len = strlen(known);
    return (dist <= 2 && dist < len) || dist <= len / 3;
}

/* the directive closest to an unknown key, its name in `best` ("k" or "k_file"), or NULL when none is close */
static const kve_directive_t *suggest(const kve_directive_t *table, const char *given, char *best, size_t size, int *best_as_file)
{
    const kve_directive_t *found = NULL;
    char candidate[128];
    unsigned best_dist = UINT32_MAX;
    best[0] = '\0';
    for (; table->key != NULL; ++table) {
        /* a secret also answers to "<key>_file" */
        for (int as_file = 0; as_file <= ((table->flags & KVE_F_SECRET) != 0); ++as_file) {
            snprintf(candidate, sizeof(candidate), "%s%s", table->key, as_file ? "_file" : "");
            unsigned dist = kve_value_edit_distance(given, candidate);
            if (dist < best_dist && is_close(given, candidate)) {
                best_dist = dist;
                snprintf(best, size, "%s", candidate);
                found = table;
                *best_as_file = as_file;
            }
        }
    }
    return found;
}

static void unknown_key(kve_conf_t *conf, const kve_directive_t *table, const kve_node_t *key)
{
    char given[256], best[128];
    int as_file;
    suggest(table, key->u.scalar.value, best, sizeof(best), &as_file);
    kve_conf__quote(given, sizeof(given), key->u.scalar.value, key->u.scalar.len);
    if (best[0] != '\0') {
        kve_conf_error(conf, key, "unknown key %s (did you mean \"%s\"?)", given, best);
    } else {
        kve_conf_error(conf, key, "unknown key %s", given);
    }
}

/* whether `value`, given for directive `d`, is hidden: a secret or hidden string, or a scalar that sets a hidden
 * child through the shorthand */
static int hides_value(const kve_directive_t *d, const kve_node_t *value)
{
    const kve_directive_t *child;
    if (KVE_CONF_HIDES(d))
        return 1;
    if (d->shorthand == NULL || value->type != KVE_NODE_SCALAR)
        return 0;
    child = find_directive(d->children, d->shorthand, strlen(d->shorthand));
    return child != NULL && KVE_CONF_HIDES(child);
}

static void hide_values(kve_conf_t *conf, const kve_directive_t *table, const kve_node_t *map);

/* the object (MAP value or LIST element) `node` of `d`: its hidden values, or itself when it is a hidden shorthand */
static void hide_object(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node)
{
    if (node->type == KVE_NODE_MAPPING) {
        hide_values(conf, d->children, node);
    } else if (hides_value(d, node)) {
        kve_conf__hide_lines(conf, node);
    }
}

/*
 * Records the lines of every hidden value under `map` before anything is reported, so that no error (a
 * duplicate key, "both k and k_file", an unknown key on the same line) can quote them. An unknown key whose
 * suggestion is a hidden directive is most likely a typo of it, so its value is hidden too.
 */
static void hide_values(kve_conf_t *conf, const kve_directive_t *table, const kve_node_t *map)
{
    char best[128];
    int as_file = 0;
    for (size_t i = 0; i != map->u.mapping.size; ++i) {
        const kve_node_t *key = map->u.mapping.keys[i], *value = map->u.mapping.values[i];
        const kve_directive_t *d = find_directive(table, key->u.scalar.value, key->u.scalar.len);
        if (d == NULL && find_secret(table, key->u.scalar.value, key->u.scalar.len) == NULL &&
            (d = suggest(table, key->u.scalar.value, best, sizeof(best), &as_file)) != NULL && as_file)
            d = NULL; /* a typo of "k_file": its value is a path */
        if (d == NULL)
            continue;
        if (hides_value(d, value)) {
            kve_conf__hide_lines(conf, value); /* (the key is no secret: a value on its line is masked) */
        } else if (d->type == KVE_T_MAP) {
            hide_object(conf, d, value);
        } else if (d->type == KVE_T_LIST && value->type == KVE_NODE_SEQUENCE) {
            for (size_t j = 0; j != value->u.sequence.size; ++j)
                hide_object(conf, d, value->u.sequence.items[j]);
        } else if (d->type == KVE_T_DICT && value->type == KVE_NODE_MAPPING) {
            for (size_t j = 0; j != value->u.mapping.size; ++j)
                hide_object(conf, d, value->u.mapping.values[j]);
        }
    }
}

void kve_conf__free_secret(void *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

/* the index of an earlier key equal to key i of `map`, or SIZE_MAX */
static size_t find_earlier(const kve_node_t *map, size_t i)
{
    const kve_node_t *key = map->u.mapping.keys[i];
    for (size_t j = 0; j != i; ++j) {
        const kve_node_t *other = map->u.mapping.keys[j];
        if (other->u.scalar.len == key->u.scalar.len && memcmp(other->u.scalar.value, key->u.scalar.value, key->u.scalar.len) == 0)
            return j;
    }
    return SIZE_MAX;
}

static void handle_key(kve_conf_t *conf, const kve_directive_t *table, const kve_node_t *map, size_t i, void *obj,
                       unsigned char *set)
{
    const kve_node_t *key = map->u.mapping.keys[i], *value = map->u.mapping.values[i];
    const kve_directive_t *d;
    int via_file = 0;
    char quoted[256];
    size_t earlier, before;

    if ((earlier = find_earlier(map, i)) != SIZE_MAX) {
        kve_conf_error(conf, key, "duplicate key %s (first defined at line %u)",
                       kve_conf__quote(quoted, sizeof(quoted), key->u.scalar.value, key->u.scalar.len),
                       map->u.mapping.keys[earlier]->line);
        return;
    }
    if ((d = find_directive(table, key->u.scalar.value, key->u.scalar.len)) == NULL &&
        (d = find_secret(table, key->u.scalar.value, key->u.scalar.len)) != NULL)
        via_file = 1;
    if (d == NULL) {
        unknown_key(conf, table, key);
        return;
    }
    if (set[d - table]) {
        /* only a secret can be given twice: as "k" and as "k_file" */
        kve_conf_error(conf, key, "\"%s\" and \"%s_file\" cannot both be set", d->key, d->key);
        return;
    }
    set[d - table] = 1;
    before = conf->num_errors;
    kve_conf__push_key(conf, key->u.scalar.value);
    if (via_file) {
        kve_conf__read_secret(conf, d, value, (char *)obj + d->offset);
    } else {
        set_value(conf, d, value, (char *)obj + d->offset);
    }
    kve_conf__pop(conf);
    if (conf->num_errors == before && d->type != KVE_T_MAP)
        kve_conf__record_origin(conf, (char *)obj + d->offset, d, KVE_CONF_SET, value, NULL, via_file);
}

/*
 * The block of defaults that the objects of `d` inherit from, in `*inherit`; returns `inherit`, or NULL when `d`
 * inherits nothing. Asserts the tables fit: each key of the block is a key of d's table with the same type.
 */
static const struct st_inherit_t *find_inherit(kve_conf_t *conf, const kve_directive_t *d, struct st_inherit_t *inherit)
{
    const kve_directive_t *block, *c, *own;
    if (d->inherits == NULL || conf->root_table == NULL)
        return NULL;
    block = find_directive(conf->root_table, d->inherits, strlen(d->inherits));
    KVE_ASSERT(block != NULL && block->type == KVE_T_MAP && (block->flags & KVE_F_DEFAULTS) != 0);
    for (c = block->children; c->key != NULL; ++c) {
        own = find_directive(d->children, c->key, strlen(c->key));
        KVE_ASSERT(own != NULL && own->type == c->type && c->type != KVE_T_MAP);
    }
    inherit->block = block;
    inherit->obj = (const char *)conf->root_obj + block->offset;
    return inherit;
}

/*
 * Directive `d` of an object that does not give it: when the block of defaults gives it in the file, its value is
 * parsed again, by `d`, into the object's field. Returns 1 when it did so, 0 when the block does not give it.
 */
static int inherit_value(kve_conf_t *conf, const struct st_inherit_t *inherit, const kve_directive_t *d, void *obj)
{
    const kve_directive_t *src = find_directive(inherit->block->children, d->key, strlen(d->key));
    const struct st_kve_conf_origin_rec_t *rec;
    void *field = (char *)obj + d->offset;
    size_t before = conf->num_errors;

    if (src == NULL || (rec = kve_conf__find_origin(conf, (const char *)inherit->obj + src->offset)) == NULL)
        return 0;
    kve_conf__push_key(conf, d->key);
    if (rec->via_file) {
        kve_conf__read_secret(conf, d, rec->origin.node, field);
    } else {
        set_value(conf, d, rec->origin.node, field);
    }
    kve_conf__pop(conf);
    if (conf->num_errors == before)
        kve_conf__record_origin(conf, field, d, KVE_CONF_INHERITED, rec->origin.node, inherit->block->key, rec->via_file);
    return 1;
}

/* an absent MAP: the children get their defaults (required children are not enforced), then the check */
static void apply_absent_map(kve_conf_t *conf, const kve_directive_t *d, void *obj)
{
    size_t before = conf->num_errors;
    struct st_inherit_t inherit;
    apply_table(conf, d->children, NULL, obj, NULL, 0, NULL, find_inherit(conf, d, &inherit));
    if (conf->num_errors == before && d->check != NULL)
        d->check(conf, NULL, obj);
}

/* the value of a MAP, or one element of a LIST: a mapping, or a scalar for the shorthand child */
static void apply_object(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *obj)
{
    size_t before = conf->num_errors;
    struct st_inherit_t storage;
    const struct st_inherit_t *inherit = find_inherit(conf, d, &storage);
    if (node->type == KVE_NODE_MAPPING) {
        apply_table(conf, d->children, node, obj, NULL, 1, node, inherit);
    } else if (node->type == KVE_NODE_SCALAR && d->shorthand != NULL) {
        const kve_directive_t *child = find_directive(d->children, d->shorthand, strlen(d->shorthand));
        KVE_ASSERT(child != NULL);
        kve_conf__push_key(conf, child->key);
        set_value(conf, child, node, (char *)obj + child->offset);
        kve_conf__pop(conf);
        if (conf->num_errors == before && child->type != KVE_T_MAP)
            kve_conf__record_origin(conf, (char *)obj + child->offset, child, KVE_CONF_SET, node, NULL, 0);
        apply_table(conf, d->children, NULL, obj, child, 1, node, inherit);
    } else {
        kve_conf_error(conf, node, "expected a mapping");
        apply_table(conf, d->children, NULL, obj, NULL, 0, NULL, NULL);
        return;
    }
    if (conf->num_errors == before && d->check != NULL)
        d->check(conf, node, obj);
}

static void parse_list(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field)
{
    kve_conf_list_t list = {NULL, 0};
    if (kve_conf__is_null(node)) {
        kve_conf__check_count(conf, d, node, 0);
        return;
    }
    if (node->type != KVE_NODE_SEQUENCE) {
        kve_conf_error(conf, node, "expected a list");
        return;
    }
    if (kve_conf__check_count(conf, d, node, node->u.sequence.size) != 0)
        return;
    KVE_ASSERT(d->elem_size != 0 && d->children != NULL);
    list.size = node->u.sequence.size;
    KVE_ASSERT(list.size <= SIZE_MAX / d->elem_size);
    if (list.size != 0)
        list.entries = kve_zalloc(list.size * d->elem_size);
    for (size_t i = 0; i != list.size; ++i) {
        kve_conf__push_index(conf, i);
        apply_object(conf, d, node->u.sequence.items[i], (char *)list.entries + i * d->elem_size);
        kve_conf__pop(conf);
    }
    memcpy(field, &list, sizeof(list));
}

/* a DICT entry name: 1 to KVE_CONF_MAX_NAME bytes of a-z, 0-9, '_' and '-' */
static int is_valid_name(const char *name, size_t len)
{
    if (len == 0 || len > KVE_CONF_MAX_NAME)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* whether key `i` of DICT `node` names a new entry: a valid name not given earlier (else reported) */
static int accept_name(kve_conf_t *conf, const kve_node_t *node, size_t i)
{
    const kve_node_t *key = node->u.mapping.keys[i];
    char quoted[256];
    size_t earlier;

    kve_conf__quote(quoted, sizeof(quoted), key->u.scalar.value, key->u.scalar.len);
    if ((earlier = find_earlier(node, i)) != SIZE_MAX) {
        kve_conf_error(conf, key, "duplicate name %s (first defined at line %u)", quoted, node->u.mapping.keys[earlier]->line);
        return 0;
    }
    if (!is_valid_name(key->u.scalar.value, key->u.scalar.len)) {
        kve_conf_error(conf, key, "invalid name %s: use 1 to %d of a-z, 0-9, '_' and '-'", quoted, KVE_CONF_MAX_NAME);
        return 0;
    }
    return 1;
}

/* a DICT: each accepted name and its object, in file order (entries with a bad name are left out) */
static void parse_dict(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field)
{
    kve_conf_dict_t dict = {NULL, NULL, 0};
    size_t n;

    if (kve_conf__is_null(node)) {
        kve_conf__check_count(conf, d, node, 0);
        return;
    }
    if (node->type != KVE_NODE_MAPPING) {
        kve_conf_error(conf, node, "expected a mapping of names to settings");
        return;
    }
    if (kve_conf__check_count(conf, d, node, (n = node->u.mapping.size)) != 0)
        return;
    KVE_ASSERT(d->elem_size != 0 && d->children != NULL && n <= SIZE_MAX / d->elem_size);
    if (n != 0) {
        dict.names = kve_zalloc(n * sizeof(*dict.names));
        dict.entries = kve_zalloc(n * d->elem_size);
    }
    for (size_t i = 0; i != n; ++i) {
        const kve_node_t *key = node->u.mapping.keys[i];
        if (!accept_name(conf, node, i))
            continue;
        dict.names[dict.size] = kve_strndup(key->u.scalar.value, key->u.scalar.len);
        kve_conf__push_key(conf, dict.names[dict.size]);
        apply_object(conf, d, node->u.mapping.values[i], (char *)dict.entries + dict.size * d->elem_size);
        kve_conf__pop(conf);
        ++dict.size;
    }
    memcpy(field, &dict, sizeof(dict));
}

char *kve_conf_expand_scalar(kve_conf_t *conf, const kve_node_t *node, size_t *len)
{
    char err[256];
    size_t offset = 0;
    char *text;
    KVE_ASSERT(node->type == KVE_NODE_SCALAR);
    if (node->file == NULL) {
        /* a default from a table: program text, not subject to the environment */
        *len = node->u.scalar.len;
        return kve_strndup(node->u.scalar.value, node->u.scalar.len);
    }
    if ((text = kve_value_expand_env(node->u.scalar.value, node->u.scalar.len, len, err, sizeof(err), &offset)) == NULL)
        kve_conf__error_at_offset(conf, node, offset, "%s", err);
    return text;
}

static void parse_custom(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field)
{
    kve_node_t expanded;
    KVE_ASSERT(d->parse != NULL);
    if (node->type != KVE_NODE_SCALAR) {
        d->parse(conf, node, field);
        return;
    }
    /* the parser sees the scalar with ${ENV} already substituted, like every other type */
    expanded = *node;
    if ((expanded.u.scalar.value = kve_conf_expand_scalar(conf, node, &expanded.u.scalar.len)) == NULL)
        return;
    d->parse(conf, &expanded, field);
    free(expanded.u.scalar.value);
}

static void set_value(kve_conf_t *conf, const kve_directive_t *d, const kve_node_t *node, void *field)
{
    char *text;
    size_t len;
    switch (d->type) {
    case KVE_T_MAP:
        if (kve_conf__is_null(node)) {
            apply_absent_map(conf, d, field);
        } else {
            apply_object(conf, d, node, field);
        }
        break;
    case KVE_T_LIST:
        parse_list(conf, d, node, field);
        break;
    case KVE_T_DICT:
        parse_dict(conf, d, node, field);
        break;
    case KVE_T_STRING_LIST:
        kve_conf__parse_strings(conf, d, node, field);
        break;
    case KVE_T_CUSTOM:
        parse_custom(conf, d, node, field);
        break;
    default:
        if (node->type != KVE_NODE_SCALAR) {
            kve_conf_error(conf, node, "expected a scalar value");
        } else if ((text = kve_conf_expand_scalar(conf, node, &len)) != NULL) {
            kve_conf__parse_scalar(conf, d, node, text, len, field);
            if (KVE_CONF_HIDES(d)) {
                kve_conf__free_secret(text, len);
            } else {
                free(text);
            }
        }
        break;
    }
}

/* a directive that was not given: inherited, required, default, or (maps) children's defaults */
static void apply_absent(kve_conf_t *conf, const kve_directive_t *d, void *obj, int enforce_required, const kve_node_t *report_node,
                         const struct st_inherit_t *inherit)
{
    void *field = (char *)obj + d->offset;
    if (inherit != NULL && inherit_value(conf, inherit, d, obj))
        return;
    if ((d->flags & KVE_F_REQUIRED) != 0) {
        if (!enforce_required)
            return;
        if ((d->flags & KVE_F_SECRET) != 0) {
            kve_conf_error(conf, report_node, "missing required key \"%s\" (or \"%s_file\")", d->key, d->key);
        } else {
            kve_conf_error(conf, report_node, "missing required key \"%s\"", d->key);
        }
        return;
    }
    kve_conf__push_key(conf, d->key);
    if (d->dflt != NULL) {
        kve_node_t node = {.type = KVE_NODE_SCALAR};
        size_t before = conf->num_errors;
        node.u.scalar.value = (char *)d->dflt;
        node.u.scalar.len = strlen(d->dflt);
        set_value(conf, d, &node, field);
        /* a default that does not parse is a bug in the table, not in the file */
        KVE_ASSERT(conf->num_errors == before);
    } else if (d->type == KVE_T_MAP) {
        apply_absent_map(conf, d, field);
    }
    kve_conf__pop(conf);
}

/* whether key `i` of `map` names a block of defaults of `table` (KVE_F_DEFAULTS) */
static int is_defaults_key(const kve_directive_t *table, const kve_node_t *map, size_t i)
{
    const kve_node_t *key = map->u.mapping.keys[i];
    const kve_directive_t *d = find_directive(table, key->u.scalar.value, key->u.scalar.len);
    return d != NULL && (d->flags & KVE_F_DEFAULTS) != 0;
}

/*
 * Applies `table` to `map` (NULL: nothing given); `preset` is a child already set through a shorthand; keys not
 * given are inherited from `inherit` (NULL: none) when it gives them. Blocks of defaults go first, so that the
 * objects inheriting from them find their values recorded whatever the order in the file.
 */
static void apply_table(kve_conf_t *conf, const kve_directive_t *table, const kve_node_t *map, void *obj,
                        const kve_directive_t *preset, int enforce_required, const kve_node_t *report_node,
                        const struct st_inherit_t *inherit)
{
    size_t n = 0;
    unsigned char *set;
    KVE_ASSERT(table != NULL);
    while (table[n].key != NULL)
        ++n;
    set = kve_zalloc(n);
    if (preset != NULL)
        set[preset - table] = 1;
    if (map != NULL) {
        for (int defaults = 1; defaults >= 0; --defaults)
            for (size_t i = 0; i != map->u.mapping.size; ++i)
                if (is_defaults_key(table, map, i) == defaults)
                    handle_key(conf, table, map, i, obj, set);
    }
    for (size_t i = 0; i != n; ++i) {
        if (!set[i])
            apply_absent(conf, table + i, obj, enforce_required, report_node, inherit);
    }
    free(set);
}

/* a syntax error leaves no tree to say where secrets are: a line that may hold one is judged from the text */
static void report_syntax(kve_conf_t *conf, const char *name, const char *text, size_t len, unsigned line, unsigned col,
                          const char *err)
{
    size_t num_lines;
    char **lines = kve_yaml_split_lines(text, len, &num_lines);
    unsigned char *suspect = kve_conf__secret_lines(lines, num_lines);
    const char *source = line >= 1 && line <= num_lines ? lines[line - 1] : NULL;

    if (source != NULL && suspect[line - 1])
        kve_conf__hide_suspect_line(conf, name, line);
    kve_conf__report(conf, name, line, col, source, "%s", err);
    free(suspect);
    kve_yaml_free_lines(lines, num_lines);
}

static int load_text(kve_conf_t *conf, const char *name, const char *text, size_t len, const kve_directive_t *table, void *obj)
{
    size_t before = conf->num_errors;
    unsigned line = 0, col = 0;
    char err[512];
    kve_yaml_doc_t *doc;

    conf->file = name;
    if ((doc = kve_yaml_parse(name, text, len, &line, &col, err, sizeof(err))) == NULL) {
        report_syntax(conf, name, text, len, line, col, err);
        goto Exit;
    }
    conf->docs = kve_realloc(conf->docs, (conf->num_docs + 1) * sizeof(*conf->docs));
    conf->docs[conf->num_docs++] = doc;
    conf->file = doc->file;
    conf->root_table = table;
    conf->root_obj = obj;
    if (doc->root == NULL) {
        apply_table(conf, table, NULL, obj, NULL, 1, NULL, NULL);
    } else if (doc->root->type != KVE_NODE_MAPPING) {
        kve_conf_error(conf, doc->root, "expected a mapping");
        apply_table(conf, table, NULL, obj, NULL, 0, NULL, NULL);
    } else {
        hide_values(conf, table, doc->root);
        apply_table(conf, table, doc->root, obj, NULL, 1, doc->root, NULL);
    }
Exit:
    conf->file = NULL;
    return conf->num_errors == before ? 0 : -1;
}

int kve_conf_load_string(kve_conf_t *conf, const char *name, const char *text, const kve_directive_t *table, void *obj)
{
    return load_text(conf, name, text, strlen(text), table, obj);
}

/* doubles the buffer of `len` bytes; the old one is wiped, as the file may be a secret */
static char *grow(char *buf, size_t len, size_t *cap)
{
    char *bigger = kve_malloc((*cap = *cap == 0 ? 4096 : *cap * 2) + 1);
    if (buf != NULL)
        memcpy(bigger, buf, len);
    kve_conf__free_secret(buf, len);
    return bigger;
}

char *kve_conf__read_file(const char *path, size_t max, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n;
    int saved_errno;
    if (fp == NULL)
        return NULL;
    setvbuf(fp, NULL, _IONBF, 0); /* no stdio buffer keeps a copy of a secret */
    *len = 0;
    do {
        if (*len == cap)
            buf = grow(buf, *len, &cap);
        n = fread(buf + *len, 1, cap - *len, fp);
        *len += n;
    } while (n != 0 && *len <= max);
    saved_errno = ferror(fp) ? errno : *len > max ? EFBIG : 0;
    fclose(fp);
    if (saved_errno != 0) {
        kve_conf__free_secret(buf, *len);
        errno = saved_errno;
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

int kve_conf_load_file(kve_conf_t *conf, const char *path, const kve_directive_t *table, void *obj)
{
    size_t len;
    char *text = kve_conf__read_file(path, KVE_CONF_MAX_FILE_SIZE, &len);
    int ret;
    if (text == NULL) {
        conf->file = path;
        if (errno == EFBIG) {
            kve_conf__report(conf, path, 0, 0, NULL, "cannot read: larger than %d MiB", KVE_CONF_MAX_FILE_SIZE >> 20);
        } else {
            kve_conf__report(conf, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
        }
        conf->file = NULL;
        return -1;
    }
    ret = load_text(conf, path, text, len, table, obj);
    free(text);
    return ret;
}

void kve_conf_free_fields(const kve_directive_t *table, void *obj)
{
    for (; table->key != NULL; ++table) {
        void *field = (char *)obj + table->offset;
        switch (table->type) {
        case KVE_T_STRING:
        case KVE_T_URL: {
            char *str = *(char **)field;
            if (str != NULL && KVE_CONF_HIDES(table)) {
                kve_conf__free_secret(str, strlen(str));
            } else {
                free(str);
            }
            *(char **)field = NULL;
        } break;
        case KVE_T_STRING_LIST: {
            kve_conf_strings_t list;
            memcpy(&list, field, sizeof(list));
            for (size_t i = 0; i != list.size; ++i)
                free(list.entries[i]);
            free(list.entries);
            memset(field, 0, sizeof(list));
        } break;
        case KVE_T_LIST: {
            kve_conf_list_t list;
            memcpy(&list, field, sizeof(list));
            for (size_t i = 0; i != list.size; ++i)
                kve_conf_free_fields(table->children, (char *)list.entries + i * table->elem_size);
            free(list.entries);
            memset(field, 0, sizeof(list));
        } break;
        case KVE_T_DICT: {
            kve_conf_dict_t dict;
            memcpy(&dict, field, sizeof(dict));
            for (size_t i = 0; i != dict.size; ++i) {
                kve_conf_free_fields(table->children, (char *)dict.entries + i * table->elem_size);
                free(dict.names[i]);
            }
            free(dict.names);
            free(dict.entries);
            memset(field, 0, sizeof(dict));
        } break;
        case KVE_T_MAP:
            kve_conf_free_fields(table->children, field);
            break;
        default:
            break;
        }
    }
}
