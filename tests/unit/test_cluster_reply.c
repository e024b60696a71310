/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/cluster_reply.c on replies read from RESP bytes by hiredis with kvedge's reply functions (as a link
 * reads them): CLUSTER SHARDS (Redis 7.0.15's shape, as measured on tests/integration/topology.mjs' fixture: nodes
 * without slots, failed nodes, replicas), CLUSTER SLOTS (ranges, replicas, "" and "?" endpoints), what is refused
 * whole (host names, bad ports, slots outside 0..16383 or served twice, nodes named twice, other shapes, errors), and
 * MOVED / ASK error texts.
 */
#include "test.h"
#include "proxy/cluster_reply.h"
#include "proxy/common.h"
#include "proxy/redis_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

/* RESP bytes built piece by piece: A(n) an array header, S("x") a bulk string, I(n) an integer */
static char resp[8192];
static size_t resp_len;

static void put(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(resp + resp_len, sizeof(resp) - resp_len, fmt, ap);
    va_end(ap);
    CHECK(n > 0 && (size_t)n < sizeof(resp) - resp_len);
    resp_len += (size_t)n;
}
#define START() (resp_len = 0, resp[0] = '\0')
#define A(n) put("*%d\r\n", (int)(n))
#define S(s) put("$%zu\r\n%s\r\n", strlen(s), (s))
#define I(n) put(":%lld\r\n", (long long)(n))

static const kve_kv_reply_t *parse_resp(void)
{
    redisReader *reader = redisReaderCreateWithFunctions(&kve_redis_reply_functions);
    void *reply = NULL;

    redisReaderFeed(reader, resp, resp_len);
    CHECK_EQ_INT(redisReaderGetReply(reader, &reply), REDIS_OK);
    CHECK_NOT_NULL(reply);
    redisReaderFree(reader);
    return reply;
}

static void done(const kve_kv_reply_t *r)
{
    kve_redis_reply_functions.freeObject((void *)r);
}

/* one node of CLUSTER SHARDS, as Redis 7.0.15 writes it; `tls_port` 0: none (tls-cluster off), else both ports, as a
 * node with tls-cluster yes writes them to every client */
static void shard_node_ports(const char *ip, int port, int tls_port, const char *role, const char *health)
{
    A(tls_port != 0 ? 16 : 14);
    S("id"), S("504ca63814ebb0247ecb0a6be7c704708aa083a2");
    S("port"), I(port);
    if (tls_port != 0)
        S("tls-port"), I(tls_port);
    S("ip"), S(ip);
    S("endpoint"), S(ip);
    S("role"), S(role);
    S("replication-offset"), I(0);
    S("health"), S(health);
}

static void shard_node(const char *ip, int port, const char *role, const char *health)
{
    shard_node_ports(ip, port, 0, role, health);
}

static int shards_tls(kve_cluster_map_t *map, char *err, int tls)
{
    const kve_kv_reply_t *r = parse_resp();
    int ret = kve_cluster_parse_shards(r, "10.9.9.9", tls, map, err, 200);
    done(r);
    return ret;
}

static int shards(kve_cluster_map_t *map, char *err)
{
    return shards_tls(map, err, 0);
}

static int slots(kve_cluster_map_t *map, char *err)
{
    const kve_kv_reply_t *r = parse_resp();
    int ret = kve_cluster_parse_slots(r, "10.0.0.9", map, err, 200);
    done(r);
    return ret;
}

/* the primary's node index serving `slot`, or -1 */
static int owner(const kve_cluster_map_t *map, unsigned slot)
{
    return (int)map->slot[slot] - 1;
}

TEST(shards_tls_ports)
{
    kve_cluster_map_t *map = malloc(sizeof(*map));
    char err[200];

    for (int tls = 0; tls != 2; ++tls) {
        START();
        A(1);
        A(4), S("slots"), A(2), I(0), I(16383), S("nodes"), A(2);
        shard_node_ports("127.0.0.1", 7000, 8000, "master", "online");
        shard_node_ports("127.0.0.1", 7001, 8001, "replica", "online");
        CHECK_EQ_INT(shards_tls(map, err, tls), 0);
        CHECK_EQ_INT((int)map->num_nodes, 2);
        /* a link over TLS reaches the nodes at their tls-port, a plain one at their port */
        int p = kve_cluster_find_node(map, "127.0.0.1", tls ? 8000 : 7000),
            r = kve_cluster_find_node(map, "127.0.0.1", tls ? 8001 : 7001);
        CHECK(p >= 0 && r >= 0);
        CHECK_EQ_INT(owner(map, 0), p);
        CHECK_EQ_INT(map->nodes[r].primary, p);
    }
    /* a TLS link and a node without tls-port (tls-cluster off): refused, not reached in the clear */
    START();
    A(1);
    A(4), S("slots"), A(2), I(0), I(16383), S("nodes"), A(1);
    shard_node("127.0.0.1", 7000, "master", "online");
    CHECK_EQ_INT(shards_tls(map, err, 1), -1);
    CHECK(strstr(err, "port") != NULL);
    free(map);
}

TEST(shards_of_a_fixture)
{
    kve_cluster_map_t *map = malloc(sizeof(*map));
    char err[200];

    /* three shards with one replica each, and an empty primary that just joined */
    START();
    A(4);
    A(4), S("slots"), A(2), I(0), I(5460), S("nodes"), A(2);
    shard_node("127.0.0.1", 7000, "master", "online");
    shard_node("127.0.0.1", 7003, "replica", "online");
    A(4), S("slots"), A(4), I(5461), I(10000), I(10001), I(10922), S("nodes"), A(2);
    shard_node("127.0.0.1", 7004, "replica", "loading"); /* not online: left out */
    shard_node("127.0.0.1", 7001, "master", "online");
    A(4), S("slots"), A(2), I(10923), I(16383), S("nodes"), A(2);
    shard_node("::1", 7002, "master", "online");
    shard_node("127.0.0.1", 7005, "replica", "online");
    A(4), S("slots"), A(0), S("nodes"), A(1);
    shard_node("127.0.0.1", 7006, "master", "online");
    CHECK_EQ_INT(shards(map, err), 0);
    CHECK_EQ_INT((int)map->num_nodes, 5);
    int p0 = kve_cluster_find_node(map, "127.0.0.1", 7000), p1 = kve_cluster_find_node(map, "127.0.0.1", 7001),
        p2 = kve_cluster_find_node(map, "::1", 7002), r0 = kve_cluster_find_node(map, "127.0.0.1", 7003),
        r2 = kve_cluster_find_node(map, "127.0.0.1", 7005);
    CHECK(p0 >= 0 && p1 >= 0 && p2 >= 0 && r0 >= 0 && r2 >= 0);
    CHECK_EQ_INT(kve_cluster_find_node(map, "127.0.0.1", 7004), -1);
    CHECK_EQ_INT(kve_cluster_find_node(map, "127.0.0.1", 7006), -1);
    CHECK_EQ_INT(map->nodes[p0].primary, -1);
    CHECK_EQ_INT(map->nodes[r0].primary, p0);
    CHECK_EQ_INT(map->nodes[r2].primary, p2);
    CHECK_EQ_INT(owner(map, 0), p0);
    CHECK_EQ_INT(owner(map, 5460), p0);
    CHECK_EQ_INT(owner(map, 5461), p1);
    CHECK_EQ_INT(owner(map, 10000), p1);
    CHECK_EQ_INT(owner(map, 10001), p1);
    CHECK_EQ_INT(owner(map, 16383), p2);
    CHECK_EQ_INT(owner(map, kve_slot_of_key("foo", 3)), p2); /* 12182 */

    /* a one-node cluster (measured: no other node told it its address): ip "" is the node that answered */
    START();
    A(1);
    A(4), S("slots"), A(2), I(0), I(16383), S("nodes"), A(1);
    shard_node("", 7391, "master", "online");
    CHECK_EQ_INT(shards(map, err), 0);
    CHECK_EQ_INT((int)map->num_nodes, 1);
    CHECK_EQ_INT(owner(map, 0), kve_cluster_find_node(map, "10.9.9.9", 7391));
    CHECK_EQ_INT(owner(map, 16383), 0);

    /* a shard whose primary failed: its slots have no node, the rest is read */
    START();
    A(2);
    A(4), S("slots"), A(2), I(0), I(99), S("nodes"), A(2);
    shard_node("127.0.0.1", 7000, "master", "failed");
    shard_node("127.0.0.1", 7003, "replica", "online");
    A(4), S("slots"), A(2), I(100), I(16383), S("nodes"), A(1);
    shard_node("127.0.0.1", 7001, "master", "online");
    CHECK_EQ_INT(shards(map, err), 0);
    CHECK_EQ_INT((int)map->num_nodes, 1);
    CHECK_EQ_INT(owner(map, 0), -1);
    CHECK_EQ_INT(owner(map, 99), -1);
    CHECK_EQ_INT(owner(map, 100), 0);
    free(map);
}

TEST(shards_refused)
{
    kve_cluster_map_t *map = malloc(sizeof(*map));
    char err[200];

    START(), put("-ERR unknown subcommand 'SHARDS'\r\n");
    CHECK_EQ_INT(shards(map, err), -1);
    CHECK(strstr(err, "unknown subcommand") != NULL);
    START(), S("x");
    CHECK_EQ_INT(shards(map, err), -1);
    /* a host name: never resolved on a worker */
    START(), A(1), A(4), S("slots"), A(2), I(0), I(16383), S("nodes"), A(1), shard_node("redis-1", 7000, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    CHECK(strstr(err, "numeric") != NULL);
    CHECK_EQ_INT((int)map->num_nodes, 0);
    CHECK_EQ_INT(owner(map, 0), -1); /* refused whole: nothing half read */
    /* bad ports, slots out of range or reversed, served twice, a node twice, two primaries */
    START(), A(1), A(4), S("slots"), A(2), I(0), I(16383), S("nodes"), A(1), shard_node("127.0.0.1", 0, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(4), S("slots"), A(2), I(0), I(16383), S("nodes"), A(1), shard_node("127.0.0.1", 65536, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(4), S("slots"), A(2), I(0), I(16384), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(4), S("slots"), A(2), I(-1), I(5), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(4), S("slots"), A(2), I(9), I(5), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(4), S("slots"), A(3), I(0), I(5), I(6), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(2);
    A(4), S("slots"), A(2), I(0), I(10), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    A(4), S("slots"), A(2), I(10), I(20), S("nodes"), A(1), shard_node("127.0.0.1", 7001, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    CHECK(strstr(err, "twice") != NULL);
    START(), A(2);
    A(4), S("slots"), A(2), I(0), I(10), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    A(4), S("slots"), A(2), I(11), I(20), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(4), S("slots"), A(2), I(0), I(10), S("nodes"), A(2), shard_node("127.0.0.1", 7000, "master", "online"),
        shard_node("127.0.0.1", 7001, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    /* a slot given as a string, an odd field list, a node without ip */
    START(), A(1), A(4), S("slots"), A(2), S("0"), I(10), S("nodes"), A(1), shard_node("127.0.0.1", 7000, "master", "online");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(3), S("slots"), A(2), I(0), I(10), S("nodes");
    CHECK_EQ_INT(shards(map, err), -1);
    START(), A(1), A(4), S("slots"), A(2), I(0), I(10), S("nodes"), A(1), A(4), S("role"), S("master"), S("port"), I(7000);
    CHECK_EQ_INT(shards(map, err), -1);
    free(map);
}

TEST(slots_answer)
{
    kve_cluster_map_t *map = malloc(sizeof(*map));
    char err[200];

    /* Redis 7.0's shape: [start, end, [ip, port, id, {meta}], replicas...]; one primary with two ranges */
    START(), A(4);
    A(4), I(0), I(5460), A(4), S("127.0.0.1"), I(7000), S("id0"), A(0), A(4), S("127.0.0.1"), I(7003), S("id3"), A(0);
    A(3), I(5461), I(10922), A(4), S(""), I(7001), S("id1"), A(0);   /* "": the node asked */
    A(3), I(10923), I(16000), A(4), S("?"), I(7002), S("id2"), A(0); /* unknown endpoint: no node */
    A(3), I(16001), I(16383), A(3), S("127.0.0.1"), I(7000), S("id0");
    CHECK_EQ_INT(slots(map, err), 0);
    CHECK_EQ_INT((int)map->num_nodes, 3);
    int p0 = kve_cluster_find_node(map, "127.0.0.1", 7000), p1 = kve_cluster_find_node(map, "10.0.0.9", 7001),
        r0 = kve_cluster_find_node(map, "127.0.0.1", 7003);
    CHECK(p0 >= 0 && p1 >= 0 && r0 >= 0);
    CHECK_EQ_INT(map->nodes[r0].primary, p0);
    CHECK_EQ_INT(owner(map, 0), p0);
    CHECK_EQ_INT(owner(map, 5461), p1);
    CHECK_EQ_INT(owner(map, 10923), -1);
    CHECK_EQ_INT(owner(map, 16000), -1);
    CHECK_EQ_INT(owner(map, 16001), p0);
    CHECK_EQ_INT(owner(map, 16383), p0);

    START(), A(1), A(3), I(0), I(16383), A(2), S("localhost"), I(7000);
    CHECK_EQ_INT(slots(map, err), -1);
    START(), A(1), A(3), I(0), I(16384), A(2), S("127.0.0.1"), I(7000);
    CHECK_EQ_INT(slots(map, err), -1);
    START(), A(1), A(2), I(0), I(16383);
    CHECK_EQ_INT(slots(map, err), -1);
    START(), A(2), A(3), I(0), I(10), A(2), S("127.0.0.1"), I(7000), A(3), I(5), I(20), A(2), S("127.0.0.1"), I(7001);
    CHECK_EQ_INT(slots(map, err), -1);
    CHECK_EQ_INT(owner(map, 0), -1);
    START(), A(2), A(4), I(0), I(10), A(2), S("127.0.0.1"), I(7000), A(2), S("127.0.0.1"), I(7001);
    A(3), I(11), I(20), A(2), S("127.0.0.1"), I(7001); /* a replica above, a primary here */
    CHECK_EQ_INT(slots(map, err), -1);
    START(), put("-ERR This instance has cluster support disabled\r\n");
    CHECK_EQ_INT(slots(map, err), -1);
    CHECK(strstr(err, "cluster support disabled") != NULL);
    free(map);
}

static int redirect(const char *s, kve_cluster_redirect_t *out)
{
    return kve_cluster_parse_redirect(s, strlen(s), out);
}

TEST(moved_and_ask)
{
    kve_cluster_redirect_t r;

    CHECK_EQ_INT(redirect("MOVED 3999 127.0.0.1:6381", &r), KVE_CLUSTER_MOVED);
    CHECK_EQ_INT((int)r.slot, 3999);
    CHECK_EQ_STR(r.host, "127.0.0.1");
    CHECK_EQ_INT(r.port, 6381);
    CHECK_EQ_INT(redirect("ASK 16383 ::1:7000", &r), KVE_CLUSTER_ASK);
    CHECK_EQ_STR(r.host, "::1");
    CHECK_EQ_INT(r.port, 7000);
    CHECK_EQ_INT((int)r.slot, 16383);
    CHECK_EQ_INT(redirect("MOVED 0 :6380", &r), KVE_CLUSTER_MOVED); /* the node that answered */
    CHECK_EQ_STR(r.host, "");
    CHECK_EQ_INT(redirect("MOVED 16384 127.0.0.1:6381", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED 123456 127.0.0.1:6381", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED 1 127.0.0.1:0", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED 1 127.0.0.1:65536", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED 1 127.0.0.1:", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED 1 127.0.0.1", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED 1 redis-1:6379", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED  127.0.0.1:6379", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("MOVED", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("ERR MOVED 1 127.0.0.1:6379", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(redirect("CROSSSLOT Keys in request don't hash to the same slot", &r), KVE_CLUSTER_NOT_REDIRECT);
    CHECK_EQ_INT(kve_cluster_parse_redirect("MOVED 1 127.0.0.1:6379", 10, &r), KVE_CLUSTER_NOT_REDIRECT); /* cut short */
}

void kve_suite_cluster_reply(void)
{
    RUN(shards_of_a_fixture);
    RUN(shards_tls_ports);
    RUN(shards_refused);
    RUN(slots_answer);
    RUN(moved_and_ask);
    kve_redis_reply_release_thread();
}
