/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the core's command metadata (proxy/kv_route.h): the table lookup, the kind, the key finder
 * kve_cmd_keys() (proxy/kv_command_keys.c, which reads counts and keywords out of the command's own
 * arguments) and the Redis Cluster slot, on commands as a client could send them.
 *
 * Input: the command's arguments separated by '\n' (NULs and any other byte inside an argument), at most
 * MAX_ARGS of them. Each argument is copied into a malloc'd block of exactly its size and argv/argvlen are
 * arrays of exactly argc entries, so ASan sees any read past an argument or past argv.
 *
 * Oracle: every key range lies inside argv (1 <= first <= last < argc, step >= 1) and the count is the sum
 * of the ranges'; with KVE_CMD_KEYS_NOT_KEYS the keys are a superset; READ and WRITE never come together;
 * the slot equals a plain bitwise CRC16 with the hash-tag rule, key by key; and for a command without
 * movable keys whose argument count fits its arity, the keys are exactly Redis' legacy key range (first,
 * last, step), which Redis derives from the same key specs.
 */
#include "fuzz.h"
#include "proxy/kv_route.h"

#define MAX_ARGS 256

/* the reference slot: bitwise CRC16-XMODEM, hash tag as Redis' keyHashSlot() */
static int ref_slot(const char *key, size_t len)
{
    size_t s, e, i, from = 0, n = len;
    uint16_t crc = 0;

    for (s = 0; s < len && key[s] != '{'; ++s)
        ;
    if (s < len) {
        for (e = s + 1; e < len && key[e] != '}'; ++e)
            ;
        if (e < len && e != s + 1)
            from = s + 1, n = e - s - 1;
    }
    for (i = 0; i != n; ++i) {
        crc ^= (uint16_t)((unsigned char)key[from + i] << 8);
        for (int b = 0; b != 8; ++b)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc & (KVE_SLOT_COUNT - 1);
}

/* marks the positions of `keys` in `seen` (bit `bit`), checking each range against argc */
static size_t mark(const kve_cmd_keys_t *keys, size_t argc, uint8_t *seen, uint8_t bit)
{
    size_t r, i, count = 0;

    FUZZ_CHECK(keys->nranges <= KVE_CMD_MAX_KEY_RANGES, "%zu ranges", keys->nranges);
    for (r = 0; r != keys->nranges; ++r) {
        const kve_cmd_key_range_t *k = keys->ranges + r;
        FUZZ_CHECK(k->first >= 1 && k->first <= k->last && k->last < argc && k->step >= 1, "range %zu..%zu/%zu of argc %zu",
                   k->first, k->last, k->step, argc);
        for (i = k->first; i <= k->last; i += k->step, ++count)
            seen[i] |= bit;
    }
    FUZZ_CHECK(count == keys->count, "count %zu, ranges hold %zu", keys->count, count);
    return count;
}

static void check_slot(const kve_cmd_route_t *route, size_t argc, const char *const *argv, const size_t *argvlen)
{
    int slot = KVE_SLOT_NONE;
    size_t r, i;

    for (r = 0; r != route->keys.nranges; ++r)
        for (i = route->keys.ranges[r].first; i <= route->keys.ranges[r].last; i += route->keys.ranges[r].step) {
            int s = ref_slot(argv[i], argvlen[i]);
            FUZZ_CHECK(s == (int)kve_slot_of_key(argv[i], argvlen[i]), "slot of argument %zu", i);
            slot = slot == KVE_SLOT_NONE || slot == s ? s : KVE_SLOT_CROSS;
        }
    FUZZ_CHECK(slot == route->slot, "command slot %d, expected %d", route->slot, slot);
}

/* a command without movable keys: its keys are the legacy range when the argument count fits the arity */
static void check_legacy(const kve_cmd_info_t *info, size_t argc, const uint8_t *seen)
{
    size_t i;
    long last;

    if (info->first_key <= 0 || (info->flags & KVE_CMDF_MOVABLEKEYS) != 0 ||
        (info->arity >= 0 ? argc != (size_t)info->arity : argc < (size_t)-info->arity))
        return;
    last = info->last_key < 0 ? (long)argc + info->last_key : info->last_key;
    for (i = 1; i != argc; ++i) {
        int legacy = (long)i >= info->first_key && (long)i <= last && (i - (size_t)info->first_key) % (size_t)info->key_step == 0;
        FUZZ_CHECK(legacy == ((seen[i] & 2) != 0), "%s: argument %zu of %zu: legacy range says %d", info->name, i, argc, legacy);
    }
}

static void run(size_t argc, const char *const *argv, const size_t *argvlen)
{
    kve_cmd_route_t plain, with_nk;
    uint8_t seen[MAX_ARGS] = {0};
    size_t i;

    if (kve_cmd_route(argc, argv, argvlen, 0, &plain) != 0) {
        FUZZ_CHECK(kve_cmd_route(argc, argv, argvlen, KVE_CMD_KEYS_NOT_KEYS, &with_nk) != 0, "options change the name check");
        return;
    }
    FUZZ_CHECK(kve_cmd_route(argc, argv, argvlen, KVE_CMD_KEYS_NOT_KEYS, &with_nk) == 0, "options change the name check");
    FUZZ_CHECK((plain.kind & (KVE_CMD_K_READ | KVE_CMD_K_WRITE)) != (KVE_CMD_K_READ | KVE_CMD_K_WRITE), "read and write");
    FUZZ_CHECK(plain.ref.info != NULL || plain.keys.count == 0, "keys of an unknown command");
    mark(&plain.keys, argc, seen, 1);
    mark(&with_nk.keys, argc, seen, 2);
    for (i = 0; i != argc; ++i)
        FUZZ_CHECK((seen[i] & 1) == 0 || (seen[i] & 2) != 0, "argument %zu is a key only without KVE_CMD_KEYS_NOT_KEYS", i);
    check_slot(&plain, argc, argv, argvlen);
    check_slot(&with_nk, argc, argv, argvlen);
    if (plain.ref.info != NULL)
        check_legacy(plain.ref.info, argc, seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *argv[MAX_ARGS];
    size_t argvlen[MAX_ARGS], argc = 0, start = 0, i;
    const char **exact_argv;
    size_t *exact_len;

    static int ready;
    if (!ready)
        kve_cmd_init(), ready = 1;
    for (i = 0; i <= size && argc != MAX_ARGS; ++i) {
        if (i != size && data[i] != '\n')
            continue;
        argvlen[argc] = i - start;
        argv[argc++] = fuzz_exact_copy(data + start, i - start);
        start = i + 1;
    }
    exact_argv = malloc(sizeof(*exact_argv) * argc);
    exact_len = malloc(sizeof(*exact_len) * argc);
    for (i = 0; i != argc; ++i)
        exact_argv[i] = argv[i] != NULL ? argv[i] : "", exact_len[i] = argvlen[i];
    run(argc, exact_argv, exact_len);
    for (i = 0; i != argc; ++i)
        free((void *)argv[i]);
    free(exact_argv);
    free(exact_len);
    return 0;
}
