/* SPDX-License-Identifier: MIT */
/* Redis Cluster's answers (see cluster_reply.h). */
#include "proxy/cluster_reply.h"
#include "proxy/sentinel_reply.h"

#include <stdio.h>
#include <string.h>

static int is_text(const kve_kv_reply_t *r)
{
    return r != NULL && (r->type == KVE_REPLY_STRING || r->type == KVE_REPLY_STATUS);
}

static int text_is(const kve_kv_reply_t *r, const char *s)
{
    return is_text(r) && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* a port: an integer, or a decimal string without sign, 1..65535; else -1 */
static int port_of(const kve_kv_reply_t *r)
{
    long long v = 0;
    if (r != NULL && r->type == KVE_REPLY_INTEGER)
        v = r->integer;
    else if (is_text(r) && r->len >= 1 && r->len <= 5) {
        for (size_t i = 0; i != r->len; ++i) {
            if (r->str[i] < '0' || r->str[i] > '9')
                return -1;
            v = v * 10 + (r->str[i] - '0');
        }
    } else
        return -1;
    return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* a slot: an integer 0..16383; else -1 */
static int slot_of(const kve_kv_reply_t *r)
{
    return r != NULL && r->type == KVE_REPLY_INTEGER && r->integer >= 0 && r->integer < KVE_SLOT_COUNT ? (int)r->integer : -1;
}

static void clear(kve_cluster_map_t *map)
{
    map->num_nodes = 0;
    memset(map->slot, 0, sizeof(map->slot));
}

static int fail(kve_cluster_map_t *map, char *err, size_t errlen, const char *why)
{
    clear(map);
    snprintf(err, errlen, "%s", why);
    return -1;
}

int kve_cluster_find_node(const kve_cluster_map_t *map, const char *host, int port)
{
    for (size_t i = 0; i != map->num_nodes; ++i)
        if (map->nodes[i].port == port && strcmp(map->nodes[i].host, host) == 0)
            return (int)i;
    return -1;
}

/* adds a node (a primary when primary < 0); its index, or -1 with the reason in `why` */
static int add_node(kve_cluster_map_t *map, const char *host, size_t hostlen, int port, int primary, const char **why)
{
    kve_cluster_node_t *n;

    if (!kve_sentinel_numeric_host(host, hostlen) || hostlen >= KVE_CLUSTER_HOST_MAX) {
        *why = "a node's address is not numeric (kvedge never resolves names on a worker)";
        return -1;
    }
    if (port < 0) {
        *why = "a node's port is not 1..65535";
        return -1;
    }
    if (map->num_nodes == KVE_CLUSTER_MAX_NODES) {
        *why = "more nodes than kvedge takes (256)";
        return -1;
    }
    n = map->nodes + map->num_nodes;
    memcpy(n->host, host, hostlen);
    n->host[hostlen] = '\0';
    n->port = port;
    n->primary = primary;
    if (kve_cluster_find_node(map, n->host, port) >= 0) {
        *why = "a node named twice";
        return -1;
    }
    return (int)map->num_nodes++;
}

/* assigns slots start..end to node `index`; -1 (with `why`) for a bad or reassigned range */
static int assign(kve_cluster_map_t *map, int start, int end, int index, const char **why)
{
    if (start < 0 || end < 0 || start > end) {
        *why = "a slot range outside 0..16383";
        return -1;
    }
    for (int s = start; s <= end; ++s) {
        if (map->slot[s] != 0) {
            *why = "a slot served twice";
            return -1;
        }
        map->slot[s] = (uint16_t)(index + 1);
    }
    return 0;
}

/* the value of field `name` in the flat field list `r`, or NULL (also for a list of odd length or non-text names) */
static const kve_kv_reply_t *field(const kve_kv_reply_t *r, const char *name)
{
    if (r == NULL || r->type != KVE_REPLY_ARRAY || r->elements % 2 != 0)
        return NULL;
    for (size_t i = 0; i != r->elements; i += 2)
        if (text_is(r->element[i], name))
            return r->element[i + 1];
    return NULL;
}

/* one shard of CLUSTER SHARDS; 0 or -1 with `why` */
static int read_shard(kve_cluster_map_t *map, const kve_kv_reply_t *shard, const char *asked_host, int tls, const char **why)
{
    const kve_kv_reply_t *slots = field(shard, "slots"), *nodes = field(shard, "nodes");
    int primary = -1;

    if (slots == NULL || nodes == NULL || slots->type != KVE_REPLY_ARRAY || nodes->type != KVE_REPLY_ARRAY ||
        slots->elements % 2 != 0) {
        *why = "a shard is not a field list with slots and nodes";
        return -1;
    }
    if (slots->elements == 0)
        return 0;                           /* a node without slots: nothing to route to it */
    for (int pass = 0; pass != 2; ++pass) { /* the primary first, then its replicas */
        for (size_t i = 0; i != nodes->elements; ++i) {
            const kve_kv_reply_t *n = nodes->element[i], *ip = field(n, "ip"), *role = field(n, "role"),
                                 *health = field(n, "health");
            if (!is_text(ip) || !is_text(role)) {
                *why = "a node without ip or role";
                return -1;
            }
            if (!text_is(role, pass == 0 ? "master" : "replica") || !text_is(health, "online"))
                continue;
            if (pass == 0 && primary >= 0) {
                *why = "a shard with two primaries";
                return -1;
            }
            /* an empty ip: the node that answered, when no other node told it its address yet (a one-node cluster) */
            int named = ip->len != 0;
            int index = add_node(map, named ? ip->str : asked_host, named ? ip->len : strlen(asked_host),
                                 port_of(field(n, tls ? "tls-port" : "port")), pass == 0 ? -1 : primary, why);
            if (index < 0)
                return -1;
            if (pass == 0)
                primary = index;
        }
        if (primary < 0)
            return 0; /* no primary online: its slots stay without a node (CLUSTERDOWN until a refresh) */
    }
    for (size_t i = 0; i != slots->elements; i += 2)
        if (assign(map, slot_of(slots->element[i]), slot_of(slots->element[i + 1]), primary, why) != 0)
            return -1;
    return 0;
}

/* clears `map`; 0 when `r` is an array (the answer to CLUSTER `what`), else -1 with the reason in `err` */
static int answer_array(const kve_kv_reply_t *r, const char *what, kve_cluster_map_t *map, char *err, size_t errlen)
{
    clear(map);
    if (r == NULL || r->type == KVE_REPLY_ERROR) {
        snprintf(err, errlen, "the node answered an error: %.*s", r == NULL ? 0 : (int)(r->len > 120 ? 120 : r->len),
                 r == NULL ? "" : r->str);
        return -1;
    }
    if (r->type != KVE_REPLY_ARRAY) {
        char why[64];
        snprintf(why, sizeof(why), "the answer to CLUSTER %s is not an array", what);
        return fail(map, err, errlen, why);
    }
    return 0;
}

int kve_cluster_parse_shards(const kve_kv_reply_t *r, const char *asked_host, int tls, kve_cluster_map_t *map, char *err,
                             size_t errlen)
{
    const char *why = NULL;

    if (answer_array(r, "SHARDS", map, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i != r->elements; ++i)
        if (read_shard(map, r->element[i], asked_host, tls, &why) != 0)
            return fail(map, err, errlen, why);
    return 0;
}

/* [ip, port, ...] of CLUSTER SLOTS: the node's index (added), -2 for an unknown endpoint ("?"), -1 with `why` */
static int slots_node(kve_cluster_map_t *map, const kve_kv_reply_t *n, const char *asked_host, int primary, const char **why)
{
    if (n == NULL || n->type != KVE_REPLY_ARRAY || n->elements < 2 || !is_text(n->element[0])) {
        *why = "a node of CLUSTER SLOTS is not [ip, port, ...]";
        return -1;
    }
    if (text_is(n->element[0], "?"))
        return -2;
    if (n->element[0]->len == 0)
        return add_node(map, asked_host, strlen(asked_host), port_of(n->element[1]), primary, why);
    return add_node(map, n->element[0]->str, n->element[0]->len, port_of(n->element[1]), primary, why);
}

int kve_cluster_parse_slots(const kve_kv_reply_t *r, const char *asked_host, kve_cluster_map_t *map, char *err, size_t errlen)
{
    const char *why = NULL;

    if (answer_array(r, "SLOTS", map, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i != r->elements; ++i) {
        const kve_kv_reply_t *e = r->element[i];
        if (e == NULL || e->type != KVE_REPLY_ARRAY || e->elements < 3)
            return fail(map, err, errlen, "an entry of CLUSTER SLOTS is not [start, end, primary, replicas...]");
        /* one primary may serve several ranges: reuse its index */
        int primary;
        const kve_kv_reply_t *p = e->element[2];
        if (p != NULL && p->type == KVE_REPLY_ARRAY && p->elements >= 2 && is_text(p->element[0]) && p->element[0]->len != 0 &&
            kve_sentinel_numeric_host(p->element[0]->str, p->element[0]->len) && p->element[0]->len < KVE_CLUSTER_HOST_MAX) {
            char host[KVE_CLUSTER_HOST_MAX];
            memcpy(host, p->element[0]->str, p->element[0]->len);
            host[p->element[0]->len] = '\0';
            if ((primary = kve_cluster_find_node(map, host, port_of(p->element[1]))) >= 0) {
                if (map->nodes[primary].primary >= 0)
                    return fail(map, err, errlen, "a node both primary and replica");
                if (assign(map, slot_of(e->element[0]), slot_of(e->element[1]), primary, &why) != 0)
                    return fail(map, err, errlen, why);
                continue;
            }
        }
        if ((primary = slots_node(map, p, asked_host, -1, &why)) == -1)
            return fail(map, err, errlen, why);
        if (primary == -2) { /* unknown endpoint: the range stays without a node; still check it */
            if (slot_of(e->element[0]) < 0 || slot_of(e->element[1]) < slot_of(e->element[0]))
                return fail(map, err, errlen, "a slot range outside 0..16383");
            continue;
        }
        if (assign(map, slot_of(e->element[0]), slot_of(e->element[1]), primary, &why) != 0)
            return fail(map, err, errlen, why);
        for (size_t j = 3; j != e->elements; ++j)
            if (slots_node(map, e->element[j], asked_host, primary, &why) == -1)
                return fail(map, err, errlen, why);
    }
    return 0;
}

int kve_cluster_parse_redirect(const char *s, size_t len, kve_cluster_redirect_t *out)
{
    int kind;
    size_t i, colon, slot = 0;
    long port = 0;

    if (len > 4 && memcmp(s, "ASK ", 4) == 0)
        kind = KVE_CLUSTER_ASK, i = 4;
    else if (len > 6 && memcmp(s, "MOVED ", 6) == 0)
        kind = KVE_CLUSTER_MOVED, i = 6;
    else
        return KVE_CLUSTER_NOT_REDIRECT;
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 5)
        slot = slot * 10 + (size_t)(s[i++] - '0');
    if (i == start || i >= len || s[i] != ' ' || slot >= KVE_SLOT_COUNT)
        return KVE_CLUSTER_NOT_REDIRECT;
    start = ++i;
    for (colon = len; colon > start && s[colon - 1] != ':'; --colon)
        ;
    if (colon == start) /* no ':' at all */
        return KVE_CLUSTER_NOT_REDIRECT;
    size_t hostlen = colon - 1 - start;
    if (len - colon < 1 || len - colon > 5)
        return KVE_CLUSTER_NOT_REDIRECT;
    for (size_t k = colon; k != len; ++k) {
        if (s[k] < '0' || s[k] > '9')
            return KVE_CLUSTER_NOT_REDIRECT;
        port = port * 10 + (s[k] - '0');
    }
    if (port < 1 || port > 65535 || (hostlen != 0 && !kve_sentinel_numeric_host(s + start, hostlen)) ||
        hostlen >= KVE_CLUSTER_HOST_MAX)
        return KVE_CLUSTER_NOT_REDIRECT;
    memcpy(out->host, s + start, hostlen);
    out->host[hostlen] = '\0';
    out->slot = (unsigned)slot;
    out->port = (int)port;
    return kind;
}
