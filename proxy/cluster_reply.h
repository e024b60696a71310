/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster's answers, read into a slot map (pure functions, unit-tested and fuzzed: tests/fuzz/cluster_reply.c).
 * Every node is an outside party: every string is checked (a numeric IPv4 or IPv6 address, a port 1..65535, slots in
 * 0..16383), and an answer of another shape is refused whole, never half read into the map.
 * - `CLUSTER SHARDS` (Redis 7.0+): an array of shards, each a flat field list ["slots", [start, end, ...], "nodes",
 *   [node...]], each node a flat field list with "ip", "port", "role" ("master" or "replica") and "health"
 *   ("online", "failed", "loading"); an ip of "" means the node that answered (`asked_host`: measured, a node no other
 *   node has met yet, as in a one-node cluster, does not know its own address). Only nodes whose health is "online" are taken (a
 * shard whose primary is not has its slots left without a node); a shard without slots (an empty primary, a node that just joined)
 * adds nothing.
 * - `CLUSTER SLOTS` (the fallback): an array of [start, end, [ip, port, id, ...], [replica ip, port, ...]...]. An ip
 *   of "" means the node that answered (`asked_host`); "?" (an unknown endpoint) leaves the range without a node.
 *   Redis 7.0 leaves out replicas whose replication offset is 0 here (measured): replicas come from SHARDS.
 * - `-MOVED <slot> <host:port>` and `-ASK <slot> <host:port>` error replies (a host of "" is the node that answered).
 * Slots no entry names stay without a node (0): the caller fails their commands until a refresh fills them.
 */
#ifndef KVE_PROXY_CLUSTER_REPLY_H
#define KVE_PROXY_CLUSTER_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/kv.h"
#include "proxy/kv_slot.h"

/** The most nodes (primaries and replicas) one map holds; a bigger answer is refused. */
#define KVE_CLUSTER_MAX_NODES 256
/** room for a numeric address (INET6_ADDRSTRLEN) */
#define KVE_CLUSTER_HOST_MAX 46

typedef struct st_kve_cluster_node_t {
    char host[KVE_CLUSTER_HOST_MAX];
    int port;
    /** a replica: the index of its primary in the map's nodes; a primary: -1 */
    int primary;
} kve_cluster_node_t;

/** A slot map: ~47 KiB, allocate it (the caller owns it; no pointers inside). */
typedef struct st_kve_cluster_map_t {
    size_t num_nodes;
    kve_cluster_node_t nodes[KVE_CLUSTER_MAX_NODES];
    /** per slot: 1 + the index of the primary that serves it, or 0 (no node) */
    uint16_t slot[KVE_SLOT_COUNT];
} kve_cluster_map_t;

/**
 * Reads the answer to CLUSTER SHARDS into `map` (overwritten): 0, or -1 with the reason in `err` (and `map` then
 * empty: no node, no slot) when the reply is an error, not of that shape, or names a slot outside 0..16383, a slot
 * twice, a node twice, a node that is not numeric, a bad port, or more than KVE_CLUSTER_MAX_NODES nodes. `tls`: the
 * nodes' ports are their `tls-port` fields (a link over TLS; Redis gives both ports to every client), else `port`.
 */
int kve_cluster_parse_shards(const kve_kv_reply_t *reply, const char *asked_host, int tls, kve_cluster_map_t *map, char *err,
                             size_t errlen);

/** The same for the answer to CLUSTER SLOTS (which gives a TLS client the TLS ports); `asked_host` (numeric,
 * NUL-terminated) stands for an ip of "". */
int kve_cluster_parse_slots(const kve_kv_reply_t *reply, const char *asked_host, kve_cluster_map_t *map, char *err, size_t errlen);

enum { KVE_CLUSTER_NOT_REDIRECT = 0, KVE_CLUSTER_MOVED, KVE_CLUSTER_ASK };

typedef struct st_kve_cluster_redirect_t {
    unsigned slot;
    /** empty: the node that answered */
    char host[KVE_CLUSTER_HOST_MAX];
    int port;
} kve_cluster_redirect_t;

/**
 * Whether the error text `s` (`len` bytes, as an error reply's str) is `MOVED <slot> <host>:<port>` or `ASK ...`
 * with a slot 0..16383, a numeric or empty host and a port 1..65535: KVE_CLUSTER_MOVED or KVE_CLUSTER_ASK with `out`
 * set, else KVE_CLUSTER_NOT_REDIRECT (another error, or a malformed one: the caller treats it as an error reply).
 */
int kve_cluster_parse_redirect(const char *s, size_t len, kve_cluster_redirect_t *out);

/** The index of the node at host:port in `map`, or -1. */
int kve_cluster_find_node(const kve_cluster_map_t *map, const char *host, int port);

#endif
