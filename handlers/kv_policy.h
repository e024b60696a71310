/* SPDX-License-Identifier: MIT */
/*
 * The command policy of the KV REST API. Facts about commands (arity, flags, ACL categories, key
 * positions) come from Redis itself, through the core's command table (proxy/kv_commands.h, generated from
 * COMMAND of the installed redis-server by scripts/gen-kv-commands.mjs). The policy on top:
 *  - names Redis would read differently are refused: a command name must be letters, digits, '_', '-' or
 *    '.' (the characters of the table's names, plus '.' and digits for module commands), because Redis
 *    compares names with strcasecmp, which stops at a NUL ("FLUSHALL\0x" can run FLUSHALL); a subcommand
 *    of a container command (CONFIG, ACL, ...) must be one of its known subcommands (Redis' own "unknown
 *    subcommand" error otherwise), so the policy always judges the subcommand Redis will run;
 *  - a table of refusals with their reasons: ones no configuration lifts (blocking commands, connection
 *    state, transactions as commands, SCRIPT DEBUG) and ones kv.allow_commands lifts (administrative
 *    commands, MIGRATE, MOVE, COPY ... DB, SCRIPT FLUSH, FUNCTION FLUSH, the /monitor endpoint; KEYS and
 *    FLUSH* also with kv.allow_keys / kv.allow_flush);
 *  - the read-only rule (Redis @read commands minus KEYS and SCAN, as Vercel KV; plus SUBSCRIBE and
 *    PSUBSCRIBE, which change nothing), which no allow list lifts;
 *  - the key-size limit, the SCAN COUNT cap, and the Upstash extensions (SCAN ... WITHTYPE, COPY k k -> 0).
 */
#ifndef KVE_HANDLERS_KV_POLICY_H
#define KVE_HANDLERS_KV_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/kv_json.h"
#include "proxy/kv_commands.h"

/**
 * Builds the policy's tables (and the command table's, kve_cmd_init()). Must run before the other functions
 * here, and before worker threads start (kve_rest_register calls it); later calls do nothing.
 */
void kve_rest_policy_init(void);

typedef struct st_kve_rest_policy_t {
    int allow_keys;
    int allow_flush;
    uint64_t max_key_size;
    int64_t scan_max_count;
    /**
     * extra refusals / commands re-allowed despite a refusal kv.allow_commands can lift (administrative
     * commands, "migrate", "move", "copy" for COPY ... DB, "script|flush", "function|flush", "monitor" for the
     * /monitor endpoint); names are lowercase, "config|get" names a subcommand, a container name covers all
     * of its subcommands
     */
    struct {
        char **entries;
        size_t size;
    } deny, allow;
} kve_rest_policy_t;

typedef enum { KVE_POLICY_SEND, KVE_POLICY_DENY, KVE_POLICY_REPLY_INTEGER } kve_policy_verdict_t;

typedef struct st_kve_policy_result_t {
    kve_policy_verdict_t verdict;
    /** DENY: the error text (static or in the pool) */
    const char *error;
    /** REPLY_INTEGER: the reply to give without asking Redis */
    long long integer;
    /** the command may change data (the sync token moves after it) */
    int is_write;
} kve_policy_result_t;

enum {
    /** the token is read-only */
    KVE_POLICY_F_READ_ONLY = 1,
    /**
     * `cmd` is what a streaming endpoint sends (SUBSCRIBE, PSUBSCRIBE or MONITOR for /subscribe, /psubscribe,
     * /monitor): the built-in refusal that points users to that endpoint is lifted; the configured refusals
     * and the read-only rule (which lets read-only tokens subscribe, but not monitor) still apply
     */
    KVE_POLICY_F_STREAM = 2
};

/**
 * Applies the policy to `cmd` with `flags` (KVE_POLICY_F_*). May rewrite `cmd` (SCAN COUNT cap,
 * SCAN WITHTYPE) with memory from `pool`; rewrites read only the arguments `cmd` has, so a command with too
 * few arguments reaches Redis as it came and Redis answers with its arity error. Always fills `res`.
 */
void kve_rest_policy_apply(const kve_rest_policy_t *policy, unsigned flags, kve_rest_cmd_t *cmd, h2o_mem_pool_t *pool,
                           kve_policy_result_t *res);

/**
 * Whether the policy allows the command or subcommand `info` (an entry of kve_cmd_table()) by its name
 * alone, for a token with `flags` (KVE_POLICY_F_*): the configured deny list, the read-only rule, the
 * built-in refusals and those kv.allow_commands (or allow_keys/allow_flush) lifts. Exactly what
 * kve_rest_policy_apply() decides for the bare command (["get"], ["config","get"]). Checks that depend on
 * arguments are not made: XREAD/XREADGROUP ... BLOCK, COPY ... DB and FUNCTION RESTORE ... FLUSH are refused
 * by kve_rest_policy_apply() unless allowed (see docs/configuration.md), the key-size limit, the SCAN COUNT
 * cap. A container entry is judged as the container alone (e.g. COMMAND with no subcommand); in Redis ACL
 * terms "+config" would allow every subcommand, so judge subcommands by their own entries. Needs
 * kve_rest_policy_init().
 */
int kve_rest_policy_name_allowed(const kve_rest_policy_t *policy, unsigned flags, const kve_cmd_info_t *info);

#endif
