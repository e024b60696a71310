/* SPDX-License-Identifier: MIT */
/*
 * Tests for the command metadata of the core: kve_cmd_kind() (proxy/kv_commands.c), the key finder
 * kve_cmd_keys() (proxy/kv_command_keys.c) for each family of movable keys and for hostile counts, the Redis
 * Cluster slots (proxy/kv_slot.c) and kve_cmd_route() (proxy/kv_route.c). Each argv is copied into arrays of
 * exactly argc entries, so under ASan a read past argv fails the test. The same answers are checked against a
 * real redis-server's COMMAND GETKEYS and CLUSTER KEYSLOT by tests/integration/platform_keys.test.mjs.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/kv_route.h"

#include <stdlib.h>

#define MAX_ARGS 64

/* `line` split at spaces into heap arrays of exactly argc entries ("''" is an empty argument) */
typedef struct st_args_t {
    size_t argc;
    const char **argv;
    size_t *argvlen;
    char *copy;
} args_t;

static args_t split(const char *line)
{
    args_t a = {0};
    const char *tmp[MAX_ARGS];
    size_t len[MAX_ARGS];
    char *p, *save = NULL;

    a.copy = strdup(line);
    for (p = strtok_r(a.copy, " ", &save); p != NULL && a.argc != MAX_ARGS; p = strtok_r(NULL, " ", &save)) {
        int empty = strcmp(p, "''") == 0;
        tmp[a.argc] = empty ? "" : p;
        len[a.argc++] = empty ? 0 : strlen(p);
    }
    a.argv = malloc(sizeof(*a.argv) * a.argc);
    a.argvlen = malloc(sizeof(*a.argvlen) * a.argc);
    memcpy(a.argv, tmp, sizeof(*a.argv) * a.argc);
    memcpy(a.argvlen, len, sizeof(*a.argvlen) * a.argc);
    return a;
}

static void release(args_t *a)
{
    free(a->argv);
    free(a->argvlen);
    free(a->copy);
}

/* the keys kve_cmd_route() finds in `line`, as the arguments separated by spaces ("-" for an invalid name) */
static const char *keys_of(const char *line, unsigned options, char *out, size_t cap)
{
    args_t a = split(line);
    kve_cmd_route_t route;
    size_t r, i, n = 0;

    out[0] = '\0';
    if (kve_cmd_route(a.argc, a.argv, a.argvlen, options, &route) != 0) {
        snprintf(out, cap, "-");
    } else {
        size_t count = 0;
        for (r = 0; r != route.keys.nranges; ++r) {
            const kve_cmd_key_range_t *range = route.keys.ranges + r;
            CHECK(range->first >= 1 && range->last < a.argc && range->step >= 1);
            for (i = range->first; i <= range->last && i < a.argc; i += range->step, ++count)
                n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%.*s", n == 0 ? "" : " ", (int)a.argvlen[i], a.argv[i]);
        }
        CHECK_EQ_UINT(count, route.keys.count);
    }
    release(&a);
    return out;
}

#define CHECK_KEYS(line, expected)                                                                                                 \
    do {                                                                                                                           \
        char buf_[512];                                                                                                            \
        CHECK_EQ_STR(keys_of(line, 0, buf_, sizeof(buf_)), expected);                                                              \
    } while (0)

static unsigned kind_of(const char *line)
{
    args_t a = split(line);
    kve_cmd_route_t route;
    unsigned kind = kve_cmd_route(a.argc, a.argv, a.argvlen, 0, &route) == 0 ? route.kind : ~0u;
    release(&a);
    return kind;
}

TEST(kind)
{
    CHECK_EQ_UINT(kind_of("GET k"), KVE_CMD_K_READ);
    CHECK_EQ_UINT(kind_of("set k v"), KVE_CMD_K_WRITE);
    CHECK_EQ_UINT(kind_of("EVAL s 0"), KVE_CMD_K_WRITE | KVE_CMD_K_MOVABLE_KEYS);
    CHECK_EQ_UINT(kind_of("EVAL_RO s 0"), KVE_CMD_K_READ | KVE_CMD_K_MOVABLE_KEYS);
    CHECK_EQ_UINT(kind_of("FCALL_RO f 0"), KVE_CMD_K_READ | KVE_CMD_K_MOVABLE_KEYS);
    CHECK_EQ_UINT(kind_of("BLPOP k 0"), KVE_CMD_K_WRITE | KVE_CMD_K_BLOCKING);
    CHECK_EQ_UINT(kind_of("XREAD STREAMS s 0"), KVE_CMD_K_READ | KVE_CMD_K_BLOCKING | KVE_CMD_K_MOVABLE_KEYS);
    CHECK_EQ_UINT(kind_of("PUBLISH ch m"), KVE_CMD_K_PUBSUB | KVE_CMD_K_NO_KEYS);
    CHECK_EQ_UINT(kind_of("SPUBLISH ch m"), KVE_CMD_K_PUBSUB);
    CHECK_EQ_UINT(kind_of("PING"), KVE_CMD_K_NO_KEYS);
    CHECK_EQ_UINT(kind_of("FLUSHALL"), KVE_CMD_K_WRITE | KVE_CMD_K_NO_KEYS);
    CHECK_EQ_UINT(kind_of("CONFIG SET a b"), KVE_CMD_K_ADMIN | KVE_CMD_K_NO_KEYS);
    CHECK_EQ_UINT(kind_of("config get a"), KVE_CMD_K_ADMIN | KVE_CMD_K_NO_KEYS); /* admin in Redis 7 */
    CHECK_EQ_UINT(kind_of("OBJECT ENCODING k"), KVE_CMD_K_READ);
    CHECK_EQ_UINT(kind_of("JSON.GET k"), KVE_CMD_K_UNKNOWN | KVE_CMD_K_WRITE);
    CHECK_EQ_UINT(kind_of("GET\x01 k"), ~0u); /* outside the name alphabet: no answer */
    CHECK_EQ_UINT(kve_cmd_kind(NULL), KVE_CMD_K_UNKNOWN | KVE_CMD_K_WRITE);
    /* over the whole table: READ and WRITE never together; WRITE is what the REST policy counted as a write for
     * the sync token before it used kve_cmd_kind(), and READ what its read-only rule counted as a read */
    size_t n, i;
    const kve_cmd_info_t *table = kve_cmd_table(&n);
    for (i = 0; i != n; ++i) {
        unsigned kind = kve_cmd_kind(table + i), f = table[i].flags;
        int old_write = (f & (KVE_CMDF_WRITE | KVE_CMDF_MAY_REPLICATE)) != 0 ||
                        ((f & KVE_CMDF_CAT_SCRIPTING) != 0 && (f & KVE_CMDF_READONLY) == 0);
        int old_read = (f & KVE_CMDF_WRITE) == 0 && (f & (KVE_CMDF_CAT_READ | KVE_CMDF_READONLY)) != 0;
        CHECK((kind & (KVE_CMD_K_READ | KVE_CMD_K_WRITE)) != (KVE_CMD_K_READ | KVE_CMD_K_WRITE));
        CHECK_EQ_INT((kind & KVE_CMD_K_WRITE) != 0, old_write);
        CHECK_EQ_INT((kind & KVE_CMD_K_READ) != 0, old_read);
        CHECK_EQ_INT((kind & KVE_CMD_K_NO_KEYS) != 0, table[i].nkeyspecs == 0);
    }
}

TEST(fixed_positions)
{
    CHECK_KEYS("GET k", "k");
    CHECK_KEYS("GET", "");     /* arity: Redis refuses it before looking at keys */
    CHECK_KEYS("GET a b", ""); /* likewise */
    CHECK_KEYS("MSET a 1 b 2 c 3", "a b c");
    CHECK_KEYS("DEL a b c", "a b c");
    CHECK_KEYS("BLPOP a b 0", "a b");
    CHECK_KEYS("BITOP AND d a b", "d a b");
    CHECK_KEYS("RENAME a b", "a b");
    CHECK_KEYS("SET k v GET", "k");
    CHECK_KEYS("LCS a b", "a b");
    CHECK_KEYS("PING", "");
    CHECK_KEYS("NOSUCHCOMMAND a b", "");
}

TEST(scripts_numkeys)
{
    CHECK_KEYS("EVAL s 2 a b c", "a b");
    CHECK_KEYS("EVAL s 0 a", "");
    CHECK_KEYS("EVALSHA sha 1 k", "k");
    CHECK_KEYS("EVAL_RO s 1 k x", "k");
    CHECK_KEYS("EVALSHA_RO sha 2 a b", "a b");
    CHECK_KEYS("FCALL f 2 a b x", "a b");
    CHECK_KEYS("FCALL_RO f 1 a", "a");
}

TEST(zset_numkeys)
{
    CHECK_KEYS("ZUNIONSTORE d 2 a b WEIGHTS 1 2", "d a b");
    CHECK_KEYS("ZINTERSTORE d 1 a", "d a");
    CHECK_KEYS("ZDIFFSTORE d 2 a b", "d a b");
    CHECK_KEYS("ZINTER 2 a b", "a b");
    CHECK_KEYS("ZUNION 3 a b c WITHSCORES", "a b c");
    CHECK_KEYS("ZDIFF 1 a", "a");
    CHECK_KEYS("ZINTERCARD 2 a b LIMIT 1", "a b");
    CHECK_KEYS("SINTERCARD 2 a b", "a b");
}

TEST(mpop_numkeys)
{
    CHECK_KEYS("LMPOP 2 a b LEFT", "a b");
    CHECK_KEYS("LMPOP 3 a b LEFT", "a b LEFT"); /* what Redis names too: the command then fails */
    CHECK_KEYS("ZMPOP 1 z MIN COUNT 2", "z");
    CHECK_KEYS("BLMPOP 0 2 a b RIGHT", "a b");
    CHECK_KEYS("BZMPOP 1.5 1 z MAX", "z");
}

TEST(streams_keyword)
{
    CHECK_KEYS("XREAD COUNT 2 STREAMS a b 0 0", "a b");
    CHECK_KEYS("xread streams a 0", "a");
    CHECK_KEYS("XREAD STREAMS a b 0", "a"); /* odd: Redis names the first half (rounded down) */
    CHECK_KEYS("XREAD STREAMS STREAMS 0", "STREAMS");
    CHECK_KEYS("XREAD BLOCK 1 STREAMS s 0", "s");
    CHECK_KEYS("XREAD COUNT 1 BLOCK 2", ""); /* no STREAMS at all */
    CHECK_KEYS("XREADGROUP GROUP g c STREAMS a 0", "a");
    CHECK_KEYS("XREADGROUP GROUP g c COUNT 1 NOACK STREAMS a b > >", "a b");
}

TEST(sort_store)
{
    CHECK_KEYS("SORT k", "k");
    CHECK_KEYS("SORT a STORE d", "a d");
    CHECK_KEYS("SORT a BY x GET y STORE d LIMIT 0 1", "a d");
    CHECK_KEYS("SORT a LIMIT store 1 STORE d", "a d"); /* LIMIT's arguments are not options */
    CHECK_KEYS("SORT a STORE d STORE e", "a e");       /* the last STORE wins */
    CHECK_KEYS("SORT a GET store", "a");               /* GET's argument is not an option */
    CHECK_KEYS("SORT_RO a BY x", "a");
}

TEST(georadius_store)
{
    CHECK_KEYS("GEORADIUS g 1 2 3 m", "g");
    CHECK_KEYS("GEORADIUS g 1 2 3 m STORE d", "g d");
    CHECK_KEYS("GEORADIUS g 1 2 3 m STOREDIST d2", "g d2");
    CHECK_KEYS("GEORADIUSBYMEMBER g m 3 km STORE d", "g d");
    CHECK_KEYS("GEOSEARCHSTORE d g FROMMEMBER m BYRADIUS 1 km", "d g");
}

TEST(migrate_keys)
{
    CHECK_KEYS("MIGRATE h 1 k 0 5", "k");
    CHECK_KEYS("MIGRATE h 1 '' 0 5 KEYS a b", "a b");
    CHECK_KEYS("MIGRATE h 1 '' 0 5 COPY REPLACE KEYS a", "a");
    CHECK_KEYS("MIGRATE h 1 '' 0 5 AUTH keys KEYS x", "x"); /* AUTH's password is not the keyword */
    CHECK_KEYS("MIGRATE h 1 '' 0 5 AUTH2 u keys KEYS x", "x");
    CHECK_KEYS("MIGRATE h 1 k 0 5 KEYS a", ""); /* a key and KEYS: Redis refuses it */
    CHECK_KEYS("MIGRATE h 1 '' 0 5 KEYS", "");  /* KEYS with nothing after it */
}

TEST(subcommand_keys)
{
    CHECK_KEYS("OBJECT ENCODING k", "k");
    CHECK_KEYS("object freq k", "k");
    CHECK_KEYS("MEMORY USAGE k SAMPLES 5", "k");
    CHECK_KEYS("XINFO STREAM s FULL", "s");
    CHECK_KEYS("XGROUP CREATE s g $", "s");
    CHECK_KEYS("OBJECT NOSUCH k", ""); /* unknown subcommand: the container has no keys */
    CHECK_KEYS("CONFIG GET maxmemory", "");
}

TEST(not_keys)
{
    char buf[64];
    CHECK_EQ_STR(keys_of("SPUBLISH ch m", 0, buf, sizeof(buf)), "");
    CHECK_EQ_STR(keys_of("SPUBLISH ch m", KVE_CMD_KEYS_NOT_KEYS, buf, sizeof(buf)), "ch");
    CHECK_EQ_STR(keys_of("SSUBSCRIBE a b", KVE_CMD_KEYS_NOT_KEYS, buf, sizeof(buf)), "a b");
}

/* counts that lie: nothing past argv is ever named (ASan would see the read), and nothing that is not a
 * canonical count is believed */
TEST(hostile_numkeys)
{
    CHECK_KEYS("EVAL s 3 a b", "");
    CHECK_KEYS("EVAL s 4 a b", "");
    CHECK_KEYS("EVAL s 99999999999999999999 a", "");
    CHECK_KEYS("EVAL s 9223372036854775807 a", "");
    CHECK_KEYS("EVAL s 18446744073709551617 a", "");
    CHECK_KEYS("EVAL s 4294967298 a", ""); /* 2^32 + 2: wraps to 2 in a 32-bit int */
    CHECK_KEYS("EVAL s 2147483649 a", ""); /* wraps negative in an int */
    CHECK_KEYS("EVAL s -1 a", "");
    CHECK_KEYS("EVAL s -2147483648 a b", "");
    CHECK_KEYS("EVAL s +1 a", "");
    CHECK_KEYS("EVAL s 01 a", ""); /* Redis refuses to run it ("value is not an integer") */
    CHECK_KEYS("EVAL s 1abc a", "");
    CHECK_KEYS("EVAL s '' a", "");
    CHECK_KEYS("EVAL s 1", "");
    CHECK_KEYS("ZUNIONSTORE d 5 a", "");
    CHECK_KEYS("ZUNIONSTORE d 0 a", "");
    CHECK_KEYS("ZINTER 9999 a", "");
    CHECK_KEYS("LMPOP 100 a LEFT", "");
    CHECK_KEYS("BLMPOP 0 99999999999999999999 a LEFT", "");
    CHECK_KEYS("SINTERCARD 3 a b", "");
    CHECK_KEYS("XREAD STREAMS a", "");
    CHECK_KEYS("XREAD STREAMS", "");
    CHECK_KEYS("XREADGROUP GROUP g c STREAMS", "");
}

/* a NUL ends a keyword as it ends Redis' strcasecmp() (argv bytes, not C strings) */
TEST(keyword_with_nul)
{
    static const char *const argv[] = {"XREAD", "STREAMS\0x", "s", "0"};
    static const size_t argvlen[] = {5, 9, 1, 1};
    kve_cmd_route_t route;

    CHECK_EQ_INT(kve_cmd_route(4, argv, argvlen, 0, &route), 0);
    CHECK_EQ_UINT(route.keys.count, 1);
    CHECK_EQ_UINT(route.keys.ranges[0].first, 2);
}

/* MSET with thousands of pairs is one range: finding keys costs the same whatever argc is */
TEST(many_keys_one_range)
{
    enum { N = 20001 };
    const char **argv = malloc(sizeof(*argv) * N);
    size_t *argvlen = malloc(sizeof(*argvlen) * N), i;
    kve_cmd_route_t route;

    argv[0] = "MSET", argvlen[0] = 4;
    for (i = 1; i != N; ++i)
        argv[i] = i % 2 ? "{t}k" : "v", argvlen[i] = i % 2 ? 4 : 1;
    CHECK_EQ_INT(kve_cmd_route(N, argv, argvlen, 0, &route), 0);
    CHECK_EQ_UINT(route.keys.count, (N - 1) / 2);
    CHECK_EQ_UINT(route.keys.nranges, 1);
    CHECK_EQ_INT(route.slot, (int)kve_slot_of_key("t", 1));
    free(argv);
    free(argvlen);
}

TEST(crc16_and_slots)
{
    CHECK_EQ_UINT(kve_slot_crc16("123456789", 9), 0x31c3);
    CHECK_EQ_UINT(kve_slot_crc16("", 0), 0);
    CHECK_EQ_UINT(kve_slot_of_key("foo", 3), 12182);
    CHECK_EQ_UINT(kve_slot_of_key("{user1000}.following", 20), kve_slot_of_key("user1000", 8));
    CHECK_EQ_UINT(kve_slot_of_key("{user1000}.followers", 20), kve_slot_of_key("user1000", 8));
    CHECK_EQ_UINT(kve_slot_of_key("foo{}{bar}", 10), kve_slot_crc16("foo{}{bar}", 10) & 16383); /* empty tag: whole key */
    CHECK_EQ_UINT(kve_slot_of_key("foo{{bar}}zap", 13), kve_slot_of_key("{bar", 4) /* "{bar" hashed whole */);
    CHECK_EQ_UINT(kve_slot_of_key("foo{{bar}}zap", 13), kve_slot_crc16("{bar", 4) & 16383);
    CHECK_EQ_UINT(kve_slot_of_key("foo{bar}{zap}", 13), kve_slot_of_key("bar", 3));
    CHECK_EQ_UINT(kve_slot_of_key("{", 1), kve_slot_crc16("{", 1) & 16383);
    CHECK_EQ_UINT(kve_slot_of_key("a{b", 3), kve_slot_crc16("a{b", 3) & 16383);
    CHECK_EQ_UINT(kve_slot_of_key("}{x}", 4), kve_slot_of_key("x", 1));
    CHECK_EQ_UINT(kve_slot_of_key("a\0{b}", 5), kve_slot_of_key("b", 1)); /* bytes, not a C string */
}

static int slot_of(const char *line)
{
    args_t a = split(line);
    kve_cmd_route_t route;
    int slot = kve_cmd_route(a.argc, a.argv, a.argvlen, KVE_CMD_KEYS_NOT_KEYS, &route) == 0 ? route.slot : -100;
    release(&a);
    return slot;
}

TEST(command_slot)
{
    CHECK_EQ_INT(slot_of("GET foo"), 12182);
    CHECK_EQ_INT(slot_of("PING"), KVE_SLOT_NONE);
    CHECK_EQ_INT(slot_of("EVAL s 0"), KVE_SLOT_NONE);
    CHECK_EQ_INT(slot_of("MSET a 1 b 2"), KVE_SLOT_CROSS);
    CHECK_EQ_INT(slot_of("MSET {t}a 1 {t}b 2"), (int)kve_slot_of_key("t", 1));
    CHECK_EQ_INT(slot_of("EVAL s 2 {u}a {u}b c"), (int)kve_slot_of_key("u", 1));
    CHECK_EQ_INT(slot_of("EVAL s 2 {u}a {v}b"), KVE_SLOT_CROSS);
    CHECK_EQ_INT(slot_of("SPUBLISH foo m"), 12182);
    CHECK_EQ_INT(slot_of("\x01"), -100); /* outside the name alphabet */
}

/* a slot's tag (the min_replicas_ack marker of a cluster node): short, of the alphabet, and in that slot, also as the
 * {hash tag} of a longer key; a sample of slots, the ends included (every slot has one: a search bound by 4 characters) */
TEST(slot_tags)
{
    static const unsigned slots[] = {0, 1, 5461, 5462, 8191, 10922, 10923, 12182, 16382, 16383};
    char tag[KVE_SLOT_TAG_MAX], key[64];

    for (size_t i = 0; i != sizeof(slots) / sizeof(slots[0]); ++i) {
        size_t len = kve_slot_tag(slots[i], tag);
        CHECK(len >= 1 && len <= 4);
        CHECK_EQ_UINT(strlen(tag), len);
        CHECK_EQ_UINT(strspn(tag, "0123456789abcdefghijklmnopqrstuvwxyz"), len);
        CHECK_EQ_UINT(kve_slot_of_key(tag, len), slots[i]);
        snprintf(key, sizeof(key), "__kvedge:ack:{%s}", tag);
        CHECK_EQ_UINT(kve_slot_of_key(key, strlen(key)), slots[i]);
    }
    for (unsigned s = 0; s != 300; ++s) /* the first slots in a row */
        CHECK_EQ_UINT(kve_slot_of_key(tag, kve_slot_tag(s, tag)), s);
}

void kve_suite_kv_commands(void)
{
    kve_cmd_init();
    RUN(kind);
    RUN(fixed_positions);
    RUN(scripts_numkeys);
    RUN(zset_numkeys);
    RUN(mpop_numkeys);
    RUN(streams_keyword);
    RUN(sort_store);
    RUN(georadius_store);
    RUN(migrate_keys);
    RUN(subcommand_keys);
    RUN(not_keys);
    RUN(hostile_numkeys);
    RUN(keyword_with_nul);
    RUN(many_keys_one_range);
    RUN(crc16_and_slots);
    RUN(command_slot);
    RUN(slot_tags);
}
