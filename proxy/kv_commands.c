/* SPDX-License-Identifier: MIT */
/*
 * Redis' command table (see kv_commands.h). Lookup is an open-addressing hash of the lowercase name, built
 * once by kve_cmd_init() together with the name alphabet and each subcommand's container: a bsearch over the
 * ~370 names was a tenth of a pipelined command's cost. The hash pass also classifies the name's bytes, so
 * the alphabet check costs no second pass. The key finder is in kv_command_keys.c.
 */
#include "proxy/kv_commands.h"
#include "proxy/common.h"

#include <string.h>

static const kve_cmd_keyspec_t keyspecs[] = {
#define KVE_CMD(name, arity, first, last, step, flags, keyspec, nkeyspecs)
#define KVE_KEYSPEC(...) {__VA_ARGS__},
#include "proxy/kv_commands.def"
#undef KVE_CMD
#undef KVE_KEYSPEC
};

static const kve_cmd_info_t commands[] = {
#define KVE_CMD(name, arity, first, last, step, flags, keyspec, nkeyspecs)                                                         \
    {name, arity, first, last, step, flags, keyspecs + (keyspec), nkeyspecs},
#define KVE_KEYSPEC(...)
#include "proxy/kv_commands.def"
#undef KVE_CMD
#undef KVE_KEYSPEC
};
_Static_assert(KVE_ARRAY_SIZE(commands) == KVE_CMD_COUNT, "KVE_CMD_COUNT counts the table");

/* per command, index + 1 of its container (subcommands only) */
static uint16_t container_index[KVE_ARRAY_SIZE(commands)];

/* which name classes (KVE_CMD_NAME_*) each byte is in */
static uint8_t name_chars[256];

#define LOOKUP_SLOTS 1024                   /* power of two, well above twice the number of commands */
static uint16_t lookup_table[LOOKUP_SLOTS]; /* index + 1 into commands[], 0 = empty */
static int tables_ready;

/* 0 if `name` (len bytes, any case) is `entry` (lowercase); a NUL in `name` is a byte like any other */
static int compare_name(const char *name, size_t len, const char *entry)
{
    size_t i;
    for (i = 0; i != len; ++i) {
        int a = (unsigned char)name[i] | 0x20 * (name[i] >= 'A' && name[i] <= 'Z'), b = (unsigned char)entry[i];
        if (b == '\0')
            return 1; /* `name` is longer */
        if (a != b)
            return a - b;
    }
    return entry[len] == '\0' ? 0 : -1;
}

/* FNV-1a over the lowercased bytes; `*classes` gets the name classes every byte is in, in the same pass (0
 * for an empty name) */
static uint32_t hash_name(const char *name, size_t len, uint8_t *classes)
{
    uint32_t h = 2166136261u;
    uint8_t all = len != 0 ? KVE_CMD_NAME_CMD | KVE_CMD_NAME_SUB : 0;
    size_t i;
    for (i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)name[i];
        all &= name_chars[c];
        h = (h ^ (c >= 'A' && c <= 'Z' ? c | 0x20 : c)) * 16777619u;
    }
    *classes = all;
    return h;
}

/* the entry of `name` (NULL if unknown), and the classes of its bytes (see hash_name) */
static inline const kve_cmd_info_t *lookup_classified(const char *name, size_t len, uint8_t *classes)
{
    uint32_t slot = hash_name(name, len, classes) & (LOOKUP_SLOTS - 1);

    if (len == 0 || len > 64)
        return NULL;
    for (; lookup_table[slot] != 0; slot = (slot + 1) & (LOOKUP_SLOTS - 1))
        if (compare_name(name, len, commands[lookup_table[slot] - 1].name) == 0)
            return commands + lookup_table[slot] - 1;
    return NULL;
}

static const kve_cmd_info_t *lookup(const char *name, size_t len)
{
    uint8_t classes;
    return lookup_classified(name, len, &classes);
}

/* Records the characters of commands[i]'s name in the name alphabet (a letter stands for every ASCII letter in
 * either case: Redis folds ASCII case) and, for a subcommand, its container. */
static void index_name(size_t i)
{
    const char *name = commands[i].name, *bar = strchr(name, '|'), *p;
    uint8_t cls = KVE_CMD_NAME_CMD;
    int c;

    for (p = name; *p != '\0'; ++p) {
        if (p == bar) {
            cls = KVE_CMD_NAME_SUB;
        } else if (*p >= 'a' && *p <= 'z') {
            for (c = 'a'; c <= 'z'; ++c)
                name_chars[c] |= cls, name_chars[c & ~0x20] |= cls;
        } else {
            name_chars[(unsigned char)*p] |= cls;
        }
    }
    if (bar != NULL) {
        const kve_cmd_info_t *top = lookup(name, (size_t)(bar - name));
        KVE_ASSERT(top != NULL && (top->flags & KVE_CMDF_CONTAINER) != 0);
        container_index[i] = (uint16_t)(top - commands + 1);
    }
}

void kve_cmd_init(void)
{
    size_t i;

    _Static_assert(KVE_ARRAY_SIZE(commands) * 2 < LOOKUP_SLOTS, "lookup table is large enough");
    if (tables_ready)
        return;
    for (i = 0; i != KVE_ARRAY_SIZE(commands); ++i) {
        uint8_t classes;
        uint32_t slot = hash_name(commands[i].name, strlen(commands[i].name), &classes) & (LOOKUP_SLOTS - 1);
        while (lookup_table[slot] != 0)
            slot = (slot + 1) & (LOOKUP_SLOTS - 1);
        lookup_table[slot] = (uint16_t)(i + 1);
    }
    for (i = 0; i != KVE_ARRAY_SIZE(commands); ++i)
        index_name(i);
    for (i = 0; i != 10; ++i) /* module commands have dots (json.get); digits cannot make Redis read another name */
        name_chars['0' + i] |= KVE_CMD_NAME_CMD;
    name_chars['.'] |= KVE_CMD_NAME_CMD;
    tables_ready = 1;
}

const kve_cmd_info_t *kve_cmd_lookup(const char *name, size_t len)
{
    KVE_ASSERT(tables_ready);
    return lookup(name, len);
}

const kve_cmd_info_t *kve_cmd_table(size_t *count)
{
    *count = KVE_ARRAY_SIZE(commands);
    return commands;
}

const kve_cmd_info_t *kve_cmd_container(const kve_cmd_info_t *info)
{
    KVE_ASSERT(tables_ready && info >= commands && info < commands + KVE_ARRAY_SIZE(commands));
    return container_index[info - commands] != 0 ? commands + container_index[info - commands] - 1 : info;
}

/* one table load per byte, no branches */
int kve_cmd_name_valid(const char *name, size_t len, unsigned cls)
{
    uint8_t all = (uint8_t)cls;
    size_t i;
    for (i = 0; i != len; ++i)
        all &= name_chars[(unsigned char)name[i]];
    return all != 0 && len != 0;
}

int kve_cmd_find(size_t argc, const char *const *argv, const size_t *argvlen, kve_cmd_ref_t *ref)
{
    uint8_t classes;
    char full[160];
    size_t n;

    KVE_ASSERT(tables_ready && argc != 0);
    ref->info = ref->top = lookup_classified(argv[0], argvlen[0], &classes);
    if ((classes & KVE_CMD_NAME_CMD) == 0)
        return 0;
    if (ref->top == NULL || (ref->top->flags & KVE_CMDF_CONTAINER) == 0 || argc < 2 || argvlen[1] > 64 ||
        !kve_cmd_name_valid(argv[1], argvlen[1], KVE_CMD_NAME_SUB))
        return 1;
    n = strlen(ref->top->name);
    memcpy(full, ref->top->name, n);
    full[n] = '|';
    memcpy(full + n + 1, argv[1], argvlen[1]);
    if ((ref->info = lookup(full, n + 1 + argvlen[1])) == NULL)
        ref->info = ref->top;
    return 1;
}
