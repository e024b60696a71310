/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: where a client's command goes on a Redis Cluster store (issue 12: proxy/cluster_route.c), and the SCAN
 * cursors a client sends back (kve_cluster_scan_decode / _encode).
 *
 * Input: a flags byte (bit 0: the command is inside a transaction), then the command's arguments separated by '\n', at
 * most MAX_ARGS of them. Each argument is copied into a malloc'd block of exactly its size, so ASan sees any read past
 * an argument or past argv.
 *
 * Oracle: a TO_SLOT answer names a slot in 0..16383 equal to the slot kve_cmd_route() finds for the same argv; a
 * REFUSE answer has a text; inside a transaction no fan-out (TO_ALL_*, SCAN, RANDOM) is ever answered; the second
 * argument, read as a cursor, either is refused or decodes to a node cursor below 2^39 and a slot below 16384 that
 * encode back to the same decimal text (without leading zeros), and the encoded value stays below 2^53.
 */
#include "fuzz.h"
#include <strings.h>
#include "proxy/cluster_route.h"
#include "proxy/kv_route.h"

#define MAX_ARGS 64

static void check_route(size_t argc, const char *const *argv, const size_t *argvlen, int in_transaction)
{
    kve_kv_command_t cmd = KVE_KV_COMMAND(argc, argv, argvlen);
    kve_cluster_route_t r = {0};
    kve_cmd_route_t ref;

    kve_cluster_classify(&cmd, in_transaction, &r);
    FUZZ_CHECK(r.dest >= KVE_CLUSTER_TO_SLOT && r.dest <= KVE_CLUSTER_REFUSE, "dest %d", (int)r.dest);
    if (r.dest == KVE_CLUSTER_REFUSE)
        FUZZ_CHECK(r.why != NULL && r.why[0] != '\0', "a refusal without a text");
    if (in_transaction)
        FUZZ_CHECK(r.dest == KVE_CLUSTER_TO_SLOT || r.dest == KVE_CLUSTER_TO_ANY || r.dest == KVE_CLUSTER_REFUSE,
                   "a fan-out (%d) inside a transaction", (int)r.dest);
    if (r.dest == KVE_CLUSTER_TO_SLOT) {
        FUZZ_CHECK(r.slot >= 0 && r.slot < KVE_SLOT_COUNT, "slot %d", r.slot);
        int publish = argvlen[0] == 7 && strncasecmp(argv[0], "publish", 7) == 0; /* one node for all: cluster_route.h */
        if (!publish && kve_cmd_route(argc, argv, argvlen, KVE_CMD_KEYS_NOT_KEYS, &ref) == 0 && ref.slot >= 0 &&
            ref.keys.count != 0)
            FUZZ_CHECK(ref.slot == r.slot, "slot %d, the keys' %d", r.slot, ref.slot);
    }
}

static void check_cursor(const char *s, size_t len)
{
    uint64_t node_cursor, again;
    unsigned slot;
    char text[32];

    if (kve_cluster_scan_decode(s, len, &node_cursor, &slot) != 0)
        return;
    FUZZ_CHECK(slot < KVE_SLOT_COUNT, "slot %u", slot);
    FUZZ_CHECK(node_cursor < ((uint64_t)1 << 39), "node cursor %llu", (unsigned long long)node_cursor);
    FUZZ_CHECK(kve_cluster_scan_encode(node_cursor, slot, &again) == 0, "a decoded cursor does not encode");
    FUZZ_CHECK(again < ((uint64_t)1 << 53), "cursor %llu past 2^53", (unsigned long long)again);
    snprintf(text, sizeof(text), "%llu", (unsigned long long)again);
    /* the same number (a client may send leading zeros: compare values) */
    uint64_t v = 0;
    for (size_t i = 0; i != len; ++i)
        v = v * 10 + (uint64_t)(s[i] - '0');
    FUZZ_CHECK(v == again, "%.*s decodes and encodes as %s", (int)len, s, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *argv[MAX_ARGS];
    size_t argvlen[MAX_ARGS], argc = 0, start = 1, i;

    static int ready;
    if (!ready)
        kve_cmd_init(), ready = 1;
    if (size < 2)
        return 0;
    for (i = 1; i <= size && argc != MAX_ARGS; ++i) {
        if (i != size && data[i] != '\n')
            continue;
        argvlen[argc] = i - start;
        argv[argc++] = fuzz_exact_copy(data + start, i - start);
        start = i + 1;
    }
    for (i = 0; i != argc; ++i)
        if (argv[i] == NULL)
            argv[i] = ""; /* empty: nothing to read */
    if (argc != 0 && argvlen[0] != 0) {
        check_route(argc, argv, argvlen, data[0] & 1);
        if (argc >= 2)
            check_cursor(argv[1], argvlen[1]);
    }
    for (i = 0; i != argc; ++i)
        if (argvlen[i] != 0)
            free((void *)argv[i]);
    return 0;
}
