/* SPDX-License-Identifier: MIT */
/*
 * Redis' command table as kvedge knows it: arity, flags, ACL categories and key positions of every command
 * and subcommand, exactly as Redis defines them. kv_commands.def is generated from COMMAND of the installed
 * redis-server (scripts/gen-kv-commands.mjs). Here so that both the KV REST API's policy (handlers/) and the
 * KV drivers (proxy/) use one copy: lookup by name (case-insensitive), the name alphabet (the bytes a name
 * Redis knows can hold), and the resolution of "CONFIG GET" to its subcommand entry.
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

typedef struct st_kve_cmd_info_t {
    const char *name; /* lowercase; subcommands are "container|sub" */
    int arity;        /* negative: at least -arity */
    int first_key, last_key, key_step;
    unsigned flags;
} kve_cmd_info_t;

/** The number of entries of the table (commands and subcommands). */
enum {
    KVE_CMD_COUNT = 0
#define KVE_CMD(name, arity, first, last, step, flags) +1
#include "proxy/kv_commands.def"
#undef KVE_CMD
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

#endif
