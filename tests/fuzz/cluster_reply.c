/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the readers of Redis Cluster's answers (proxy/cluster_reply.c: CLUSTER SHARDS, CLUSTER SLOTS, MOVED and
 * ASK error texts), on replies built by hiredis 0.14's reader with kvedge's reply functions from bytes as a cluster
 * node (an outside party) could send them.
 *
 * Input: the RESP byte stream; every complete reply goes to both map readers, and an error reply's text (or a
 * string's) to the redirect reader.
 *
 * Oracles: a refusal has a message and leaves the map empty; an accepted map has at most KVE_CLUSTER_MAX_NODES nodes,
 * each a NUL-terminated numeric address (inet_pton agrees) with a port 1..65535, named once, whose `primary` is -1 or
 * the index of a primary; every slot names 0 or a primary; a redirect has a slot below 16384, a port 1..65535 and an
 * empty or numeric host.
 */
#include "fuzz.h"
#include "proxy/cluster_reply.h"
#include "proxy/redis_reply.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdlib.h>

static void check_host(const char *host, int empty_ok)
{
    unsigned char buf[16];
    size_t len = strnlen(host, KVE_CLUSTER_HOST_MAX);
    FUZZ_CHECK(len < KVE_CLUSTER_HOST_MAX, "host not NUL-terminated in its room");
    if (len == 0 && empty_ok)
        return;
    FUZZ_CHECK(inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1, "host %s not numeric", host);
}

static void check_map(const kve_cluster_map_t *map, int ret, const char *err)
{
    if (ret != 0) {
        FUZZ_CHECK(err[0] != '\0', "a refusal without a message");
        FUZZ_CHECK(map->num_nodes == 0, "a refused map with %zu nodes", map->num_nodes);
        for (size_t s = 0; s != KVE_SLOT_COUNT; ++s)
            FUZZ_CHECK(map->slot[s] == 0, "a refused map serves slot %zu", s);
        return;
    }
    FUZZ_CHECK(map->num_nodes <= KVE_CLUSTER_MAX_NODES, "%zu nodes", map->num_nodes);
    for (size_t i = 0; i != map->num_nodes; ++i) {
        const kve_cluster_node_t *n = map->nodes + i;
        check_host(n->host, 0);
        FUZZ_CHECK(n->port >= 1 && n->port <= 65535, "port %d", n->port);
        FUZZ_CHECK(n->primary == -1 ||
                       (n->primary >= 0 && (size_t)n->primary < map->num_nodes && map->nodes[n->primary].primary == -1),
                   "node %zu's primary %d", i, n->primary);
        FUZZ_CHECK(kve_cluster_find_node(map, n->host, n->port) == (int)i, "node %zu named twice", i);
    }
    for (size_t s = 0; s != KVE_SLOT_COUNT; ++s)
        FUZZ_CHECK(map->slot[s] == 0 || (map->slot[s] <= map->num_nodes && map->nodes[map->slot[s] - 1].primary == -1),
                   "slot %zu names %u", s, map->slot[s]);
}

static void check_reply(const kve_kv_reply_t *r, kve_cluster_map_t *map)
{
    char err[256];
    kve_cluster_redirect_t red;

    err[0] = '\0';
    check_map(map, kve_cluster_parse_shards(r, "127.0.0.1", 0, map, err, sizeof(err)), err);
    check_map(map, kve_cluster_parse_shards(r, "127.0.0.1", 1, map, err, sizeof(err)), err);
    err[0] = '\0';
    check_map(map, kve_cluster_parse_slots(r, "127.0.0.1", map, err, sizeof(err)), err);
    if (r->type == KVE_REPLY_ERROR || r->type == KVE_REPLY_STRING) {
        int kind = kve_cluster_parse_redirect(r->str, r->len, &red);
        FUZZ_CHECK(kind >= KVE_CLUSTER_NOT_REDIRECT && kind <= KVE_CLUSTER_ASK, "kind %d", kind);
        if (kind != KVE_CLUSTER_NOT_REDIRECT) {
            FUZZ_CHECK(red.slot < KVE_SLOT_COUNT, "slot %u", red.slot);
            FUZZ_CHECK(red.port >= 1 && red.port <= 65535, "port %d", red.port);
            check_host(red.host, 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kve_cluster_map_t *map;
    redisReader *reader;
    void *reply;

    if (map == NULL)
        map = malloc(sizeof(*map));
    FUZZ_CHECK(map != NULL, "malloc");
    reader = redisReaderCreateWithFunctions(&kve_redis_reply_functions);
    FUZZ_CHECK(reader != NULL, "redisReaderCreateWithFunctions");
    redisReaderFeed(reader, (const char *)data, size);
    while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != NULL) {
        check_reply(reply, map);
        kve_redis_reply_functions.freeObject(reply);
    }
    redisReaderFree(reader);
    kve_redis_reply_release_thread();
    return 0;
}
