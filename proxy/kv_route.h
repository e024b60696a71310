/* SPDX-License-Identifier: MIT */
/*
 * Everything a KV driver needs to route one command, in one call: which command it is (the table entry of
 * its subcommand when it has one), whether it reads or writes and the other KVE_CMD_K_* bits, every key
 * argument's position (movable keys included) and the Redis Cluster slot of those keys. Built on
 * proxy/kv_commands.h (table, kind, key finder) and proxy/kv_slot.h (CRC16 slots). No allocation: the result
 * points into the static table and names argv positions, so it lives as long as the caller's argv.
 */
#ifndef KVE_PROXY_KV_ROUTE_H
#define KVE_PROXY_KV_ROUTE_H

#include "proxy/kv_commands.h"
#include "proxy/kv_slot.h"

typedef struct st_kve_cmd_route_t {
    /** the command as Redis will run it (ref.info NULL: unknown to this Redis) */
    kve_cmd_ref_t ref;
    /** KVE_CMD_K_* of ref.info */
    unsigned kind;
    /** every key argument (and, with KVE_CMD_KEYS_NOT_KEYS, sharded channels), as kve_cmd_keys() finds them */
    kve_cmd_keys_t keys;
    /** kve_slot_of_keys() of `keys`: a slot, KVE_SLOT_NONE or KVE_SLOT_CROSS */
    int slot;
} kve_cmd_route_t;

/**
 * Describes the command argv[0 .. argc - 1] (argc >= 1; argv[i] is argvlen[i] bytes, not NUL-terminated)
 * into `route`. `options`: KVE_CMD_KEYS_* (pass KVE_CMD_KEYS_NOT_KEYS to route SPUBLISH by its channel as
 * Redis Cluster does). Returns 0, or -1 when argv[0] is not a name Redis could read as the command it
 * appears to be (outside the name alphabet: kve_cmd_find()); then `route` means nothing. An unknown command
 * gives 0 with ref.info NULL, kind KVE_CMD_K_UNKNOWN | KVE_CMD_K_WRITE, no keys. Every count in argv (EVAL's
 * numkeys, ...) is checked against argc: whatever argv holds, no position at or past argc is named. Needs
 * kve_cmd_init(). Cost: one lookup, then a few comparisons per key spec and one CRC16 per key.
 */
int kve_cmd_route(size_t argc, const char *const *argv, const size_t *argvlen, unsigned options, kve_cmd_route_t *route);

#endif
