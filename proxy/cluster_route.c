/* SPDX-License-Identifier: MIT */
/* Where a command goes on a Redis Cluster store, SCAN cursors (see cluster_route.h). */
#include "proxy/cluster_route.h"
#include "proxy/kv_route.h"

#include <string.h>
#include <strings.h>

/* the names of keyless commands that are not simply sent to any node (`info->name`: lowercase, "container|sub") */
static const struct {
    const char *name;
    kve_cluster_dest_t dest;
} keyless[] = {
    {"dbsize", KVE_CLUSTER_TO_ALL_SUM},        {"keys", KVE_CLUSTER_TO_ALL_CONCAT},
    {"flushdb", KVE_CLUSTER_TO_ALL_OK},        {"flushall", KVE_CLUSTER_TO_ALL_OK},
    {"script|load", KVE_CLUSTER_TO_ALL_OK},    {"script|flush", KVE_CLUSTER_TO_ALL_OK},
    {"script|exists", KVE_CLUSTER_TO_ALL_AND}, {"scan", KVE_CLUSTER_SCAN},
    {"randomkey", KVE_CLUSTER_RANDOM},
};

/* commands refused on a cluster store, by top-level name */
static const char *const refused[] = {"select",   "swapdb",    "move",   "wait",  "waitaof", "cluster",
                                      "readonly", "readwrite", "asking", "multi", "exec",    "discard"};

static const char *const refused_why = "ERR this command has no meaning on a Redis Cluster store (kvedge)";
static const char *const fanout_tx_why = "ERR a command that runs on every node cannot be part of a transaction on a Redis "
                                         "Cluster store (kvedge)";

int kve_cluster_is_scan_withtype(const kve_kv_command_t *cmd)
{
    static const char script[] = KVE_SCAN_WITHTYPE_SCRIPT;

    return cmd->argc >= 4 && cmd->argvlen[0] == 4 && strncasecmp(cmd->argv[0], "eval", 4) == 0 &&
           cmd->argvlen[1] == sizeof(script) - 1 && memcmp(cmd->argv[1], script, sizeof(script) - 1) == 0 && cmd->argvlen[2] == 1 &&
           cmd->argv[2][0] == '0';
}

void kve_cluster_classify(const kve_kv_command_t *cmd, int in_transaction, kve_cluster_route_t *out)
{
    kve_cmd_route_t r;

    out->slot = -1;
    out->why = NULL;
    if (kve_cluster_is_scan_withtype(cmd)) { /* a SCAN, walked shard by shard as one */
        out->dest = in_transaction ? KVE_CLUSTER_REFUSE : KVE_CLUSTER_SCAN;
        out->why = in_transaction ? fanout_tx_why : NULL;
        return;
    }
    if (cmd->argc == 0 || kve_cmd_route(cmd->argc, cmd->argv, cmd->argvlen, 0, &r) != 0 || r.ref.info == NULL) {
        out->dest = KVE_CLUSTER_TO_ANY; /* Redis answers what it does not know */
        return;
    }
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        if (strcmp(r.ref.top->name, refused[i]) == 0) {
            out->dest = KVE_CLUSTER_REFUSE;
            out->why = refused_why;
            return;
        }
    }
    if (r.slot == KVE_SLOT_CROSS) {
        out->dest = KVE_CLUSTER_REFUSE;
        out->why = KVE_CLUSTER_CROSSSLOT;
        return;
    }
    if (r.slot >= 0) {
        out->dest = KVE_CLUSTER_TO_SLOT;
        out->slot = r.slot;
        return;
    }
    /* PUBLISH reaches every node's subscribers from any node, but over the cluster bus, after the node's own: all sent
     * to one node, every message takes one path and they arrive in the order they were published, as on one Redis
     * (round robin let a later one, published on the subscriber's node, overtake an earlier one). Inside a transaction
     * it stays with the transaction's node. */
    if (!in_transaction && cmd->argc == 3 && strcmp(r.ref.info->name, "publish") == 0) {
        out->dest = KVE_CLUSTER_TO_SLOT;
        out->slot = KVE_CLUSTER_PUBLISH_SLOT;
        return;
    }
    out->dest = KVE_CLUSTER_TO_ANY;
    for (size_t i = 0; i != sizeof(keyless) / sizeof(keyless[0]); ++i) {
        if (strcmp(r.ref.info->name, keyless[i].name) == 0) {
            out->dest = keyless[i].dest;
            break;
        }
    }
    if (in_transaction && out->dest != KVE_CLUSTER_TO_ANY) {
        out->dest = KVE_CLUSTER_REFUSE;
        out->why = fanout_tx_why;
    }
}

#define SCAN_NODE_CURSOR_LIMIT (UINT64_C(1) << 39)

int kve_cluster_scan_encode(uint64_t node_cursor, unsigned first_slot, uint64_t *out)
{
    if (node_cursor >= SCAN_NODE_CURSOR_LIMIT || first_slot >= KVE_SLOT_COUNT)
        return -1;
    *out = node_cursor * KVE_SLOT_COUNT + first_slot;
    return 0;
}

int kve_cluster_scan_decode(const char *s, size_t len, uint64_t *node_cursor, unsigned *slot)
{
    uint64_t v = 0;

    if (len == 0 || len > 16)
        return -1;
    for (size_t i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v >= SCAN_NODE_CURSOR_LIMIT * KVE_SLOT_COUNT)
        return -1;
    *node_cursor = v / KVE_SLOT_COUNT;
    *slot = (unsigned)(v % KVE_SLOT_COUNT);
    return 0;
}
