/* SPDX-License-Identifier: MIT */
/*
 * Where one command goes on a Redis Cluster store (docs/scale-out.md, "Cluster: design", "Keyless commands"), and the
 * SCAN cursors that walk the shards. Pure functions over the caller's argv: no state, any thread; needs kve_cmd_init().
 * The Cluster driver (not built yet) calls kve_cluster_classify() once per command before it sends anything.
 */
#ifndef KVE_PROXY_CLUSTER_ROUTE_H
#define KVE_PROXY_CLUSTER_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/kv.h"

typedef enum en_kve_cluster_dest_t {
    KVE_CLUSTER_TO_SLOT = 1,   /* to the primary of `slot` */
    KVE_CLUSTER_TO_ANY,        /* keyless (PING, TIME, EVAL with numkeys 0, ...): any primary */
    KVE_CLUSTER_TO_ALL_SUM,    /* DBSIZE: every primary, the integers summed */
    KVE_CLUSTER_TO_ALL_CONCAT, /* KEYS: every primary, the arrays concatenated */
    KVE_CLUSTER_TO_ALL_OK,     /* FLUSHDB, FLUSHALL, SCRIPT LOAD, SCRIPT FLUSH: every primary; the first error, else one reply */
    KVE_CLUSTER_TO_ALL_AND,    /* SCRIPT EXISTS: every primary, 1 per element only where every primary says 1 */
    KVE_CLUSTER_SCAN,   /* SCAN (and the KV API's SCAN WITHTYPE script): shard and node cursor from kve_cluster_scan_decode() */
    KVE_CLUSTER_RANDOM, /* RANDOMKEY: a primary, the next one when it has no key */
    KVE_CLUSTER_REFUSE  /* not sent: `why` is the error text the caller answers */
} kve_cluster_dest_t;

typedef struct st_kve_cluster_route_t {
    kve_cluster_dest_t dest;
    /** KVE_CLUSTER_TO_SLOT: the slot of every key of the command */
    int slot;
    /** KVE_CLUSTER_REFUSE: an error text, Redis-style ("CROSSSLOT ...", "ERR ..."), static */
    const char *why;
} kve_cluster_route_t;

/**
 * The script the KV API sends Upstash's `SCAN cursor [options] WITHTYPE` as (handlers/kv_policy.c): `EVAL <this> 0
 * cursor [options]`, one round trip that adds each key's TYPE. On a cluster it is a SCAN (KVE_CLUSTER_SCAN, the cursor
 * its 4th argument): each shard runs the script with its own node cursor, as a plain SCAN walks the shards. ARGV are
 * SCAN's arguments; the reply is SCAN's shape, [cursor, [key1, type1, key2, type2, ...]].
 */
#define KVE_SCAN_WITHTYPE_SCRIPT                                                                                                   \
    "local r = redis.call('SCAN', unpack(ARGV)) local out = {} "                                                                   \
    "for _, k in ipairs(r[2]) do out[#out + 1] = k out[#out + 1] = redis.call('TYPE', k)['ok'] end "                               \
    "return {r[1], out}"

/**
 * Whether `cmd` is the KV API's SCAN WITHTYPE script (EVAL KVE_SCAN_WITHTYPE_SCRIPT 0 cursor ...; the EVAL name in any
 * case): then its cursor is argv[3].
 */
int kve_cluster_is_scan_withtype(const kve_kv_command_t *cmd);

/**
 * PUBLISH goes to this slot's primary: every message then takes one path to each subscriber (that node's own, or its
 * cluster bus link to the subscriber's node) and they arrive in the order they were published, as on one Redis. Sent
 * to any node, a message published on the subscriber's node overtook an earlier one still on the bus (measured: the
 * SDK suite's sequential publishes arrived reordered). A subscription on this node too would make PUBLISH's count (a
 * node's own subscribers in cluster mode) count kvedge's subscribers exactly.
 */
#define KVE_CLUSTER_PUBLISH_SLOT 0

/** The text of the refusal of a command whose keys are in different slots (Redis' own words, which clients know). */
#define KVE_CLUSTER_CROSSSLOT "CROSSSLOT Keys in request don't hash to the same slot"

/**
 * Where `cmd` goes. `in_transaction`: it is part of an atomic batch (MULTI/EXEC on one node), where the fan-out
 * commands are refused. A command whose keys span slots is refused with KVE_CLUSTER_CROSSSLOT; commands that have no
 * meaning on a cluster (SELECT, SWAPDB, MOVE's databases, WAIT, CLUSTER, READONLY, READWRITE, ASKING, MULTI, EXEC,
 * DISCARD sent as commands) with an "ERR ... on a Redis Cluster store" text. A name Redis could not read as a command
 * is sent to any node (Redis answers it). PUBLISH (outside a transaction) goes to the primary of
 * KVE_CLUSTER_PUBLISH_SLOT.
 */
void kve_cluster_classify(const kve_kv_command_t *cmd, int in_transaction, kve_cluster_route_t *out);

/**
 * kvedge's SCAN cursor for the node cursor `node_cursor` of the shard whose first slot is `first_slot` (0..16383):
 * node_cursor * 16384 + first_slot, kept below 2^53 (JavaScript clients read cursors as numbers). 0, or -1 when
 * node_cursor is 2^39 or more (a hash table no node has: the caller answers an error).
 */
int kve_cluster_scan_encode(uint64_t node_cursor, unsigned first_slot, uint64_t *out);

/**
 * Reads a cursor a client sent (`len` bytes of decimal digits, at most 16, below 2^53) into the node cursor and the
 * slot that names the shard: 0, or -1 (not a number, too big: "ERR invalid cursor"). Whether the slot is the first
 * of a shard is the caller's check (it knows the map).
 */
int kve_cluster_scan_decode(const char *s, size_t len, uint64_t *node_cursor, unsigned *slot);

#endif
