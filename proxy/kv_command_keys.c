/* SPDX-License-Identifier: MIT */
/*
 * The key finder, kve_cmd_keys() (declared in kv_commands.h with the table it reads). One interpreter for
 * every command: Redis 7.0's getKeysUsingKeySpecs() over the generated key specs, then, where the specs
 * cannot say and Redis falls back to the command's own code, that code's rules when it finds keys (SORT,
 * SORT_RO, MIGRATE ... KEYS, XREAD and XREADGROUP). Redis 7.0's other fallbacks (EVAL*, FCALL*, Z*STORE,
 * ZUNION..., *MPOP, *INTERCARD) find no keys whenever the specs fail, up to their atoi() reading of counts. The result
 * is a few ranges rather than a list of positions, so finding the keys of MSET with 10,000 pairs costs what
 * GET's does. Checked against a real redis-server's COMMAND GETKEYS by
 * tests/integration/platform_keys.test.mjs.
 */
#include "proxy/kv_commands.h"
#include "proxy/common.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

enum { SPEC_KEYS, SPEC_SKIP, SPEC_INVALID };

static void add_range(kve_cmd_keys_t *keys, size_t first, size_t last, size_t step, unsigned flags)
{
    kve_cmd_key_range_t *r;

    KVE_ASSERT(keys->nranges != KVE_CMD_MAX_KEY_RANGES && first <= last && step != 0);
    r = keys->ranges + keys->nranges++;
    r->first = first;
    r->last = last;
    r->step = step;
    r->flags = flags;
    keys->count += (last - first) / step + 1;
}

/* strcasecmp(argument, word) == 0, as Redis compares: the argument ends at its first NUL */
static int is_word(const char *arg, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && strncasecmp(arg, word, n) == 0 && (len == n || arg[n] == '\0');
}

/* a count as Redis' string2ll() reads one that can count arguments: "0", or digits without a leading zero
 * (a sign, a space or anything else: not a count; more than 18 digits: more than any argc) */
static int parse_count(const char *s, size_t len, long *n)
{
    long v = 0;
    size_t i;

    if (len == 0 || len > 18 || (s[0] == '0' && len != 1))
        return 0;
    for (i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *n = v;
    return 1;
}

/* the position after `spec`'s keyword, or 0: Redis 7.0 searches forward from pos to the second-to-last
 * argument, or backward from argc + pos down to argument 2 */
static long find_keyword(const kve_cmd_keyspec_t *spec, long argc, const char *const *argv, const size_t *argvlen)
{
    long start = spec->pos > 0 ? spec->pos : argc + spec->pos, end = spec->pos > 0 ? argc - 1 : 1, i;

    for (i = start; i != end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1)
            break;
        if (is_word(argv[i], argvlen[i], spec->keyword))
            return i + 1;
    }
    return 0;
}

/* the keys of one spec into `keys` (SPEC_KEYS), none because its keyword is absent (SPEC_SKIP), or
 * SPEC_INVALID when Redis would give up on the specs (unknown kinds, positions past the arguments, a bad
 * count, an incomplete spec) */
static int spec_keys(const kve_cmd_keyspec_t *spec, long argc, const char *const *argv, const size_t *argvlen, kve_cmd_keys_t *keys)
{
    long first, last, count;

    switch (spec->begin_search) {
    case KVE_KS_INDEX:
        first = spec->pos;
        break;
    case KVE_KS_KEYWORD:
        if ((first = find_keyword(spec, argc, argv, argvlen)) == 0)
            return SPEC_SKIP;
        break;
    default:
        return SPEC_INVALID;
    }
    switch (spec->find_keys) {
    case KVE_KS_RANGE:
        if (spec->lastkey >= 0)
            last = first + spec->lastkey;
        else if (spec->limit == 0)
            last = argc + spec->lastkey;
        else /* XREAD ... STREAMS k1 k2 id1 id2: the first 1/limit of what follows */
            last = first + ((argc - first) / spec->limit + spec->lastkey);
        break;
    case KVE_KS_KEYNUM:
        if (first + spec->keynumidx >= argc ||
            !parse_count(argv[first + spec->keynumidx], argvlen[first + spec->keynumidx], &count) || count > argc)
            return SPEC_INVALID;
        first += spec->firstkey;
        last = first + count - 1;
        break;
    default:
        return SPEC_INVALID;
    }
    if (first < 1 || first >= argc || last >= argc || last < first)
        return SPEC_INVALID;
    add_range(keys, (size_t)first, (size_t)last, (size_t)spec->keystep, spec->flags);
    return (spec->flags & KVE_KEYF_INCOMPLETE) != 0 ? SPEC_INVALID : SPEC_KEYS;
}

/* Redis' sortGetKeys(): the sorted key, and the argument after the last STORE that has one (LIMIT's two
 * arguments and GET's and BY's one are skipped; the argument after STORE is not) */
static void sort_keys(size_t argc, const char *const *argv, const size_t *argvlen, kve_cmd_keys_t *keys)
{
    size_t i, store = 0;

    add_range(keys, 1, 1, 1, KVE_KEYF_RO | KVE_KEYF_ACCESS);
    for (i = 2; i < argc; ++i) {
        if (is_word(argv[i], argvlen[i], "limit"))
            i += 2;
        else if (is_word(argv[i], argvlen[i], "store") && i + 1 < argc)
            store = i + 1;
        else if (is_word(argv[i], argvlen[i], "get") || is_word(argv[i], argvlen[i], "by"))
            i += 1;
    }
    if (store != 0)
        add_range(keys, store, store, 1, KVE_KEYF_OW | KVE_KEYF_UPDATE);
}

/* Redis' migrateGetKeys(): argv[3], or with KEYS (searched from argument 6, skipping AUTH's one and AUTH2's
 * two arguments) every argument after it, which needs an empty argv[3] */
static void migrate_keys(size_t argc, const char *const *argv, const size_t *argvlen, kve_cmd_keys_t *keys)
{
    size_t i, first = 3, last = 3;

    for (i = 6; i < argc; ++i) {
        if (is_word(argv[i], argvlen[i], "keys")) {
            if (argvlen[3] != 0)
                return; /* Redis: "Cannot use MIGRATE KEYS option with a non-empty key argument" */
            if ((first = i + 1) == argc)
                return;
            last = argc - 1;
            break;
        }
        if (is_word(argv[i], argvlen[i], "auth"))
            i += 1;
        else if (is_word(argv[i], argvlen[i], "auth2"))
            i += 2;
    }
    add_range(keys, first, last, 1, KVE_KEYF_RW | KVE_KEYF_ACCESS | KVE_KEYF_DELETE);
}

/* Redis' xreadGetKeys(): from argument 1, skip BLOCK's and COUNT's one argument, GROUP's two and NOACK; the first
 * STREAMS is the keyword (anything else first: a syntax error, no keys); half of what follows are keys. It finds
 * keys where the specs do not, e.g. when STREAMS is also a later argument (XREADGROUP's spec searches from 4). */
static void xread_keys(size_t argc, const char *const *argv, const size_t *argvlen, kve_cmd_keys_t *keys)
{
    size_t i, num;

    for (i = 1; i < argc; ++i) {
        if (is_word(argv[i], argvlen[i], "block") || is_word(argv[i], argvlen[i], "count"))
            i += 1;
        else if (is_word(argv[i], argvlen[i], "group"))
            i += 2;
        else if (!is_word(argv[i], argvlen[i], "noack"))
            break;
    }
    if (i >= argc || !is_word(argv[i], argvlen[i], "streams"))
        return;
    num = argc - i - 1;
    if (num == 0 || num % 2 != 0)
        return;
    add_range(keys, i + 1, i + num / 2, 1, KVE_KEYF_RW | KVE_KEYF_ACCESS);
}

/* where the specs failed: the command's own rules in Redis, for the commands whose rules find keys then */
static size_t fallback(const kve_cmd_info_t *info, size_t argc, const char *const *argv, const size_t *argvlen,
                       kve_cmd_keys_t *keys)
{
    keys->count = keys->nranges = 0;
    if (strcmp(info->name, "sort") == 0)
        sort_keys(argc, argv, argvlen, keys);
    else if (strcmp(info->name, "sort_ro") == 0)
        add_range(keys, 1, 1, 1, KVE_KEYF_RO | KVE_KEYF_ACCESS);
    else if (strcmp(info->name, "migrate") == 0)
        migrate_keys(argc, argv, argvlen, keys);
    else if (strcmp(info->name, "xread") == 0 || strcmp(info->name, "xreadgroup") == 0)
        xread_keys(argc, argv, argvlen, keys);
    return keys->count;
}

size_t kve_cmd_keys(const kve_cmd_info_t *info, size_t argc, const char *const *argv, const size_t *argvlen, unsigned options,
                    kve_cmd_keys_t *keys)
{
    const kve_cmd_keyspec_t *spec = info->keyspecs, *end = spec + info->nkeyspecs;

    keys->count = keys->nranges = 0;
    if (info->arity >= 0 ? argc != (size_t)info->arity : argc < (size_t)-info->arity)
        return 0; /* Redis refuses the command before it looks at keys */
    if (argc > INT_MAX)
        return 0; /* so does it a multibulk of more than INT_MAX arguments */
    for (; spec != end; ++spec) {
        if ((spec->flags & KVE_KEYF_NOT_KEY) != 0 && (options & KVE_CMD_KEYS_NOT_KEYS) == 0)
            continue;
        if (spec_keys(spec, (long)argc, argv, argvlen, keys) == SPEC_INVALID)
            return fallback(info, argc, argv, argvlen, keys);
    }
    return keys->count;
}
