/* SPDX-License-Identifier: MIT */
/*
 * Sentinel's replies, read into addresses (pure functions, unit-tested and fuzzed: tests/fuzz/sentinel_reply.c). A
 * sentinel is an outside party: every string is checked (a numeric IPv4 or IPv6 address, a port 1..65535), and a
 * reply of another shape is refused, never half read.
 * - `SENTINEL get-master-addr-by-name <master>`: [ip, port], or nil when the sentinel does not monitor that name;
 * - `SENTINEL replicas <master>`: an array with one flat field list per replica ([name, value, name, value, ...]):
 *   its "ip", "port" and "flags" ("slave", "s_down", "o_down", "disconnected", ...);
 * - the `+switch-master` message on a subscription: ["message", "+switch-master", "<master> <old-ip> <old-port>
 *   <new-ip> <new-port>"].
 */
#ifndef KVE_PROXY_SENTINEL_REPLY_H
#define KVE_PROXY_SENTINEL_REPLY_H

#include <stddef.h>
#include "proxy/kv.h"

/** room for a numeric address (INET6_ADDRSTRLEN) */
#define KVE_SENTINEL_HOST_MAX 46

typedef struct st_kve_sentinel_addr_t {
    char host[KVE_SENTINEL_HOST_MAX];
    int port;
} kve_sentinel_addr_t;

/**
 * Reads the reply to get-master-addr-by-name into `out`: 0, or -1 with the reason in `err` (nil: the sentinel does
 * not know the master; an error reply; another shape; an address that is not numeric; a bad port).
 */
int kve_sentinel_parse_master(const kve_kv_reply_t *reply, kve_sentinel_addr_t *out, char *err, size_t errlen);

/**
 * Reads the reply to `SENTINEL replicas` into out[0..max): the replicas whose flags say none of s_down, o_down,
 * disconnected (and whose address reads), in the sentinel's order, at most `max`. Returns how many, or -1 with the
 * reason in `err` when the reply is not an array of field lists (an error reply included). A replica whose field list
 * is malformed (odd length, no ip or port, a bad value) is skipped, not fatal.
 */
int kve_sentinel_parse_replicas(const kve_kv_reply_t *reply, kve_sentinel_addr_t *out, size_t max, char *err, size_t errlen);

/**
 * Whether a message of a `SUBSCRIBE +switch-master` stream says that `master` moved (1), or is anything else (0:
 * the subscription's confirmation, another master's switch, something malformed).
 */
int kve_sentinel_is_switch(const kve_kv_reply_t *reply, const char *master);

/** Whether `s[0..len)` is a numeric IPv4 or IPv6 address that fits KVE_SENTINEL_HOST_MAX. */
int kve_sentinel_numeric_host(const char *s, size_t len);

#endif
