/* SPDX-License-Identifier: MIT */
/*
 * Redis' command table as kvedge knows it: arity, flags, ACL categories, key positions and key specs of
 * every command and subcommand, exactly as Redis defines them. kv_commands.def is generated from COMMAND of
 * the installed redis-server (scripts/gen-kv-commands.mjs). Here so that both the KV REST API's policy
 * (handlers/) and the KV drivers (proxy/) use one copy: lookup by name (case-insensitive), the name alphabet
 * (the bytes a name Redis knows can hold), the resolution of "CONFIG GET" to its subcommand entry, and the
 * key finder, which names every key of a command (movable keys included) as Redis itself does, for routing
 * (read or write, cluster slot) and for checks on keys.
 *
 * Everything here is static data built once by kve_cmd_init() and read-only afterwards, so any thread may
 * use it once kve_cmd_init() has returned.
 */
#ifndef KVE_PROXY_KV_COMMANDS_H
#define KVE_PROXY_KV_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

/* Redis' command flags and ACL categories that kvedge looks at */
enum {
    KVE_CMDF_READONLY = 1 << 0,
    KVE_CMDF_WRITE = 1 << 1,
    KVE_CMDF_MAY_REPLICATE = 1 << 2,
    KVE_CMDF_BLOCKING = 1 << 3,
    KVE_CMDF_ADMIN = 1 << 4,
    KVE_CMDF_PUBSUB = 1 << 5,
    KVE_CMDF_NOSCRIPT = 1 << 6,
    KVE_CMDF_MOVABLEKEYS = 1 << 7,
    KVE_CMDF_CAT_READ = 1 << 8,
    KVE_CMDF_CAT_WRITE = 1 << 9,
    KVE_CMDF_CAT_DANGEROUS = 1 << 10,
    KVE_CMDF_CAT_CONNECTION = 1 << 11,
    KVE_CMDF_CAT_SCRIPTING = 1 << 12,
    /** has subcommands (CONFIG, OBJECT, ...) */
    KVE_CMDF_CONTAINER = 1 << 13
};

/* how a key spec finds its first key (Redis' begin_search) and the rest (find_keys) */
enum {
    KVE_KS_UNKNOWN = 0, /* Redis cannot say (SORT's BY/GET/STORE): it finds these keys with its own code */
    KVE_KS_INDEX,       /* begin_search: at `pos` */
    KVE_KS_KEYWORD,     /* begin_search: after `keyword`, searched from `pos` (negative: from argc + pos, backwards) */
    KVE_KS_RANGE,       /* find_keys: `lastkey` (negative: from the end), every `keystep`, `limit` (see kve_cmd_keys) */
    KVE_KS_KEYNUM       /* find_keys: the count at `keynumidx`, the keys from `firstkey` on, every `keystep` */
};

/* how the command uses the keys of a key spec (Redis' key spec flags) */
enum {
    KVE_KEYF_RO = 1 << 0,     /* read only */
    KVE_KEYF_RW = 1 << 1,     /* read and write */
    KVE_KEYF_OW = 1 << 2,     /* overwrite: written without being read */
    KVE_KEYF_RM = 1 << 3,     /* removed */
    KVE_KEYF_ACCESS = 1 << 4, /* the value is returned or copied */
    KVE_KEYF_UPDATE = 1 << 5,
    KVE_KEYF_INSERT = 1 << 6,
    KVE_KEYF_DELETE = 1 << 7,
    KVE_KEYF_NOT_KEY = 1 << 8,        /* not a key but hashed like one (SPUBLISH's sharded channel) */
    KVE_KEYF_INCOMPLETE = 1 << 9,     /* Redis may find more keys than the spec says (MIGRATE ... KEYS) */
    KVE_KEYF_VARIABLE_FLAGS = 1 << 10 /* the flags depend on the arguments (SET ... GET): these are the most */
};

/** One of Redis 7's key specs, as COMMAND reports it. */
typedef struct st_kve_cmd_keyspec_t {
    const char *keyword; /* KVE_KS_KEYWORD: uppercase */
    uint16_t flags;      /* KVE_KEYF_* */
    uint8_t begin_search, find_keys;
    int16_t pos;
    int16_t lastkey, limit;      /* KVE_KS_RANGE */
    int16_t keynumidx, firstkey; /* KVE_KS_KEYNUM */
    int16_t keystep;             /* both; at least 1 */
} kve_cmd_keyspec_t;

typedef struct st_kve_cmd_info_t {
    const char *name; /* lowercase; subcommands are "container|sub" */
    int arity;        /* negative: at least -arity */
    /** Redis' legacy key range: keys from first_key to last_key (negative: from the end) every key_step */
    int first_key, last_key, key_step;
    unsigned flags;
    /** the key specs, in Redis' order (kve_cmd_keys() interprets them) */
    const kve_cmd_keyspec_t *keyspecs;
    unsigned nkeyspecs;
} kve_cmd_info_t;

/** The number of entries of the table (commands and subcommands). */
enum {
    KVE_CMD_COUNT = 0
#define KVE_CMD(name, arity, first, last, step, flags, keyspec, nkeyspecs) +1
#define KVE_KEYSPEC(...)
#include "proxy/kv_commands.def"
#undef KVE_CMD
#undef KVE_KEYSPEC
};

/**
 * Builds the lookup tables. Must run before the other functions here (but kve_cmd_table()), in the main
 * thread before workers start; later calls do nothing.
 */
void kve_cmd_init(void);

/** Looks up a command by name (case-insensitive), or "container|sub". NULL if unknown. */
const kve_cmd_info_t *kve_cmd_lookup(const char *name, size_t len);

/**
 * The whole command table: `*count` (KVE_CMD_COUNT) entries sorted by name (byte order), subcommands
 * included as "container|sub" (their container has KVE_CMDF_CONTAINER). Static, never freed; usable before
 * kve_cmd_init().
 */
const kve_cmd_info_t *kve_cmd_table(size_t *count);

/** The container of a subcommand entry of kve_cmd_table() ("config" for "config|get"), else `info` itself. */
const kve_cmd_info_t *kve_cmd_container(const kve_cmd_info_t *info);

/*
 * The name alphabet: the bytes a command name (KVE_CMD_NAME_CMD) or a subcommand name (KVE_CMD_NAME_SUB)
 * may hold. Derived from the table (a letter stands for both cases: Redis folds ASCII case), plus digits and
 * '.' for command names (module commands such as json.get). Redis compares names with strcasecmp, which stops
 * at a NUL, so a name outside the alphabet ("FLUSHALL\0x") could be read by Redis as another command.
 */
enum { KVE_CMD_NAME_CMD = 1, KVE_CMD_NAME_SUB = 2 };

/** Whether `len` bytes at `name` are a non-empty name of class `cls` (KVE_CMD_NAME_*). */
int kve_cmd_name_valid(const char *name, size_t len, unsigned cls);

/** A command as Redis will run it. */
typedef struct st_kve_cmd_ref_t {
    /** the subcommand entry ("config|get") when there is one, else `top`; NULL for an unknown command */
    const kve_cmd_info_t *info;
    /** the command named by argv[0]; NULL if unknown */
    const kve_cmd_info_t *top;
} kve_cmd_ref_t;

/**
 * Resolves argv[0] (and argv[1] for a container, when it is a known subcommand) to the table. Returns
 * whether argv[0] is in the name alphabet (KVE_CMD_NAME_CMD); if not, `ref` means nothing. A container with
 * an unknown subcommand gives info == top. `argc` must be at least 1.
 */
int kve_cmd_find(size_t argc, const char *const *argv, const size_t *argvlen, kve_cmd_ref_t *ref);

/* What a driver needs to know to route a command (kve_cmd_kind()) */
enum {
    /** reads and changes nothing (Redis' readonly flag or @read category, and not a write): a replica may serve it */
    KVE_CMD_K_READ = 1 << 0,
    /** may change data: Redis' write flag, an @scripting command not marked read-only (EVAL, FCALL, SCRIPT
     * LOAD: a script may write), or an unknown command (a module's: kvedge cannot tell, so it assumes the worst) */
    KVE_CMD_K_WRITE = 1 << 1,
    /** may block the connection (BLPOP, XREAD ... BLOCK, WAIT) */
    KVE_CMD_K_BLOCKING = 1 << 2,
    /** publish/subscribe (PUBLISH, SUBSCRIBE, SPUBLISH, ...) */
    KVE_CMD_K_PUBSUB = 1 << 3,
    /** has no key specs: never names a key (PING, INFO, FLUSHALL, a container without its subcommand) */
    KVE_CMD_K_NO_KEYS = 1 << 4,
    /** Redis' admin flag (CONFIG SET, DEBUG, SHUTDOWN, ...) */
    KVE_CMD_K_ADMIN = 1 << 5,
    /** the key positions depend on the arguments (EVAL numkeys, XREAD ... STREAMS, SORT ... STORE) */
    KVE_CMD_K_MOVABLE_KEYS = 1 << 6,
    /** not in the table (`info` NULL): also KVE_CMD_K_WRITE */
    KVE_CMD_K_UNKNOWN = 1 << 7
};

/**
 * The KVE_CMD_K_* bits of a table entry (kve_cmd_find()'s ref.info, so that "CONFIG GET" is judged as
 * itself, not as CONFIG); `info` may be NULL (an unknown command). READ and WRITE never come together; a
 * command may have neither (PING, AUTH, SUBSCRIBE). Pure: a few bit tests, no lookup (inline: the REST policy
 * asks it for every command).
 */
static inline unsigned kve_cmd_kind(const kve_cmd_info_t *info)
{
    unsigned kind;

    if (info == NULL)
        return KVE_CMD_K_UNKNOWN | KVE_CMD_K_WRITE;
    kind = (info->flags & KVE_CMDF_BLOCKING) != 0 ? KVE_CMD_K_BLOCKING : 0;
    kind |= (info->flags & KVE_CMDF_PUBSUB) != 0 ? KVE_CMD_K_PUBSUB : 0;
    kind |= (info->flags & KVE_CMDF_ADMIN) != 0 ? KVE_CMD_K_ADMIN : 0;
    kind |= (info->flags & KVE_CMDF_MOVABLEKEYS) != 0 ? KVE_CMD_K_MOVABLE_KEYS : 0;
    kind |= info->nkeyspecs == 0 ? KVE_CMD_K_NO_KEYS : 0;
    /* a script may write unless it is declared read-only (EVAL_RO, FCALL_RO); so may MAY_REPLICATE commands */
    if ((info->flags & (KVE_CMDF_WRITE | KVE_CMDF_MAY_REPLICATE)) != 0 ||
        ((info->flags & KVE_CMDF_CAT_SCRIPTING) != 0 && (info->flags & KVE_CMDF_READONLY) == 0))
        kind |= KVE_CMD_K_WRITE;
    else if ((info->flags & (KVE_CMDF_READONLY | KVE_CMDF_CAT_READ)) != 0)
        kind |= KVE_CMD_K_READ;
    return kind;
}

/** The most key ranges kve_cmd_keys() reports (Redis 7.0's commands have at most 3 key specs). */
#define KVE_CMD_MAX_KEY_RANGES 4

/** Keys at argv[first], argv[first + step], ... argv[last] (first <= last, step >= 1). */
typedef struct st_kve_cmd_key_range_t {
    size_t first, last, step;
    unsigned flags; /* KVE_KEYF_* of the key spec */
} kve_cmd_key_range_t;

typedef struct st_kve_cmd_keys_t {
    /** the number of keys over all ranges (an argument named by two ranges counts twice) */
    size_t count;
    size_t nranges;
    kve_cmd_key_range_t ranges[KVE_CMD_MAX_KEY_RANGES];
} kve_cmd_keys_t;

/** kve_cmd_keys() options */
enum {
    /** also the arguments of key specs marked KVE_KEYF_NOT_KEY (sharded channels, which Redis Cluster hashes) */
    KVE_CMD_KEYS_NOT_KEYS = 1
};

/**
 * Finds every key of the command `argv` (argv[0] the command name, argv[1] the subcommand for a container),
 * whose table entry is `info` (kve_cmd_find()'s ref.info), into `keys`, in the order Redis names them, and
 * returns keys->count. These are the keys Redis 7.0's COMMAND GETKEYS names: the key specs interpreted as
 * Redis does (keyword searches compare as strcasecmp, up to a NUL in the argument; counts must be canonical
 * decimal integers), and where a key spec cannot say (SORT's STORE, SORT_RO, MIGRATE ... KEYS) the rules of
 * Redis' own code for that command. No keys (0) for a command whose argument count does not fit its arity,
 * or whose key arguments Redis would reject (EVAL with more keys than arguments, XREAD ... STREAMS with no
 * keys after it). One deviation, for commands Redis refuses to run anyway: where Redis' fallback code reads a count
 * with atoi() ("1abc", " 1", "+1", "01", or one past INT_MAX), GETKEYS may name keys, this finds none.
 */
size_t kve_cmd_keys(const kve_cmd_info_t *info, size_t argc, const char *const *argv, const size_t *argvlen, unsigned options,
                    kve_cmd_keys_t *keys);

#endif
