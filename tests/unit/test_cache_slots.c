/* SPDX-License-Identifier: MIT */
/*
 * Issue 12 (Redis Cluster): the cache's and the sessions' commands and their slots. Every command a code path builds
 * (by the same builders the handlers call: handlers/cache_store_cmds.h, cache_tags.h, session_users.h, the sessions'
 * RENEW and ROTATE) goes through kve_cmd_route(): every atomic batch and every command with several keys must be in one
 * slot, since a Cluster store refuses anything else (CROSSSLOT). Then the cache's store path on a fake link that
 * checks slots as the cluster driver does (tests/unit/kv_slot_fake.c): on a sharded link an object's set entries go
 * first (not atomic) and the object's one-slot atomic batch only after them; on one Redis it stays ONE batch (which a
 * Cluster would refuse: the reason for the split).
 */
#include "test.h"
#include "kv_slot_fake.h"
#include "handlers/cache_internal.h"
#include "handlers/cache_store_cmds.h"
#include "handlers/cache_tags.h"
#include "handlers/session_cookie.h"
#include "handlers/session_renew.h"
#include "handlers/session_rotate.h"
#include "handlers/session_script.h"
#include "handlers/session_users.h"
#include "proxy/kv_route.h"

#include <string.h>

static const uint8_t P[KVE_CACHE_HASH_LEN] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
static const uint8_t V[KVE_CACHE_HASH_LEN] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
#define NS h2o_iovec_init("", 0)

static int slot_of(const kve_kv_command_t *cmd)
{
    kve_cmd_route_t route;
    CHECK_EQ_INT(kve_cmd_route(cmd->argc, cmd->argv, cmd->argvlen, 0, &route), 0);
    CHECK(route.ref.info != NULL); /* a command this Redis knows, its keys found */
    return route.slot;
}

/* the slot of a batch: KVE_SLOT_NONE (no keys), one slot, or KVE_SLOT_CROSS */
static int batch_slot(const kve_kv_command_t *cmds, size_t n)
{
    int slot = KVE_SLOT_NONE;
    for (size_t i = 0; i != n; ++i) {
        int s = slot_of(cmds + i);
        if (s == KVE_SLOT_CROSS || (s != KVE_SLOT_NONE && slot != KVE_SLOT_NONE && s != slot))
            return KVE_SLOT_CROSS;
        if (s != KVE_SLOT_NONE)
            slot = s;
    }
    return slot;
}

/* the slot of every key of URL P: its hash tag's */
static int url_slot(void)
{
    char h[KVE_CACHE_CMD_KEY_MAX];
    kve_cache_key_name(h, sizeof(h), NS, P, NULL, "h");
    return (int)kve_slot_of_key(h, strlen(h));
}

/* every command of `c` in the URL's slot, and so the batch */
static void check_url_batch(const kve_cache_cmds_t *c)
{
    kve_kv_command_t kc[KVE_CACHE_CMDS_MAX];
    size_t n = kve_cache_cmds_to_kv(c, kc);
    CHECK(n != 0);
    for (size_t i = 0; i != n; ++i)
        CHECK_EQ_INT(slot_of(kc + i), url_slot());
    CHECK_EQ_INT(batch_slot(kc, n), url_slot());
}

TEST(cache_object_batch)
{
    kve_cache_cmds_t c;
    h2o_iovec_t index = h2o_iovec_init(H2O_STRLIT("index")), head = h2o_iovec_init(H2O_STRLIT("head"));
    h2o_iovec_t body = h2o_iovec_init(H2O_STRLIT("0123456789abcdefbody"));

    kve_cache_cmds_object(&c, NS, P, NULL, index, head, body, 60000);
    CHECK_EQ_UINT(c.n, 3); /* DEL index, SET body, SET head */
    check_url_batch(&c);
    kve_cache_cmds_object(&c, NS, P, V, index, head, body, 60000);
    CHECK_EQ_UINT(c.n, 6); /* the index (SET, PEXPIRE NX, PEXPIRE GT), DEL of the URL's own object (2 keys), body, head */
    CHECK_EQ_STR(c.cmd[3].argv[0], "DEL");
    CHECK_EQ_UINT(c.cmd[3].argc, 3);
    check_url_batch(&c);
}

TEST(cache_head_batch)
{
    kve_cache_cmds_t c;
    kve_cache_cmds_head(&c, NS, P, NULL, h2o_iovec_init(H2O_STRLIT("head")), 1000);
    CHECK_EQ_UINT(c.n, 2);
    check_url_batch(&c);
    kve_cache_cmds_head(&c, NS, P, V, h2o_iovec_init(H2O_STRLIT("head")), 1000);
    CHECK_EQ_UINT(c.n, 3);
    check_url_batch(&c);
}

TEST(cache_multi_key_commands)
{
    char lock[KVE_CACHE_CMD_KEY_MAX], v[KVE_CACHE_CMD_KEY_MAX], h[KVE_CACHE_CMD_KEY_MAX], b[KVE_CACHE_CMD_KEY_MAX];
    kve_cache_cmds_t c;

    /* an invalidation: DEL of 4 keys; a hard URL purge's end: DEL of 2 */
    kve_cache_cmds_invalidate(&c, NS, P);
    CHECK_EQ_UINT(c.n, 1);
    CHECK_EQ_UINT(c.cmd[0].argc, 5);
    check_url_batch(&c);
    kve_cache_cmds_purge_url(&c, NS, P);
    CHECK_EQ_UINT(c.cmd[0].argc, 3);
    check_url_batch(&c);
    /* the coalescer's atomic SET NX + GET of its lock (the refresh lock is the same shape on "<P>:<V>:r") */
    kve_cache_key_name(lock, sizeof(lock), NS, P, NULL, "l");
    kve_cache_cmds_lock(&c, lock, "0123456789abcdef", 5000);
    CHECK_EQ_UINT(c.n, 2);
    check_url_batch(&c);
    /* the lookups' MGETs (cache.c: index, head, body of the URL; then a variant's head and body), a purge's DEL of a
     * variant's head and body (cache_purge.c) */
    {
        const char *argv[4] = {"MGET", v, h, b};
        size_t argvlen[4];
        kve_kv_command_t cmd = KVE_KV_COMMAND(4, argv, argvlen);
        kve_cache_key_name(v, sizeof(v), NS, P, NULL, "v");
        kve_cache_key_name(h, sizeof(h), NS, P, NULL, "h");
        kve_cache_key_name(b, sizeof(b), NS, P, NULL, "b");
        for (size_t i = 0; i != 4; ++i)
            argvlen[i] = strlen(argv[i]);
        CHECK_EQ_INT(slot_of(&cmd), url_slot());
        kve_cache_key_name(h, sizeof(h), NS, P, V, "h");
        kve_cache_key_name(b, sizeof(b), NS, P, V, "b");
        argv[1] = h, argv[2] = b, argvlen[1] = strlen(h), argvlen[2] = strlen(b), cmd.argc = 3;
        CHECK_EQ_INT(slot_of(&cmd), url_slot());
        argv[0] = "DEL", argvlen[0] = 3;
        CHECK_EQ_INT(slot_of(&cmd), url_slot());
    }
}

TEST(cache_set_entries)
{
    kve_cache_set_writes_t sets;
    kve_cache_cmds_t c;
    kve_kv_command_t all[64];
    size_t n, i;
    int other = 0;

    kve_cache_set_writes_init(&sets, NS, P, V, 60000, "/api", h2o_iovec_init(H2O_STRLIT("red\ncommon")));
    CHECK_EQ_UINT(sets.n, 12); /* SADD, PEXPIRE NX, PEXPIRE GT on 2 tag sets, the route's and the URL's variant set */
    for (i = 0; i != sets.n; ++i) {
        int s = slot_of(sets.cmds + i);
        CHECK(s >= 0); /* one key each */
        other += s != url_slot();
    }
    CHECK_EQ_UINT(other, 9); /* the tag and route sets: slots of their own; the variant set: the URL's */
    for (i = 9; i != 12; ++i)
        CHECK_EQ_INT(slot_of(sets.cmds + i), url_slot());
    /* on one Redis they go in the object's atomic batch: a batch a Cluster refuses (CROSSSLOT) */
    memcpy(all, sets.cmds, sets.n * sizeof(*all));
    kve_cache_cmds_object(&c, NS, P, V, h2o_iovec_init(H2O_STRLIT("i")), h2o_iovec_init(H2O_STRLIT("h")),
                          h2o_iovec_init(H2O_STRLIT("b")), 60000);
    n = sets.n + kve_cache_cmds_to_kv(&c, all + sets.n);
    CHECK_EQ_INT(batch_slot(all, n), KVE_SLOT_CROSS);
    CHECK_EQ_INT(batch_slot(all + sets.n, n - sets.n), url_slot());
    kve_cache_set_writes_dispose(&sets);
}

/* the session of user `uid` (NULL: anonymous) at a fresh handle, as the middleware keeps it */
static void session_of(const char *uid, char handle[KVE_SESSION_HANDLE_LEN + 1], char key[KVE_SESSION_KEY_SIZE])
{
    static const uint8_t k_tag[32] = {7};
    uint8_t tag[KVE_SESSION_TAG_BYTES];
    if (uid != NULL)
        kve_session_user_tag(k_tag, sizeof(k_tag), uid, strlen(uid), tag);
    kve_session_new_handle(handle, uid != NULL ? tag : NULL);
    kve_session_key(key, handle);
}

/* a script command's declared keys, all in the slot of `key` */
static void check_session_cmd(const kve_kv_command_t *cmd, const char *key, size_t numkeys)
{
    CHECK_EQ_UINT(strtoul(cmd->argv[2], NULL, 10), numkeys);
    CHECK_EQ_INT(slot_of(cmd), (int)kve_slot_of_key(key, strlen(key)));
}

TEST(session_scripts)
{
    char handle[KVE_SESSION_HANDLE_LEN + 1], key[KVE_SESSION_KEY_SIZE], anon_handle[KVE_SESSION_HANDLE_LEN + 1],
        anon_key[KVE_SESSION_KEY_SIZE];
    h2o_mem_pool_t pool;
    kve_session_users_cmd_t c;
    const char *argv[8];
    size_t argvlen[8];
    kve_kv_command_t cmd;
    h2o_iovec_t index;

    h2o_mem_init_pool(&pool);
    session_of("alice", handle, key);
    session_of(NULL, anon_handle, anon_key);
    CHECK(kve_slot_of_key(key, strlen(key)) != kve_slot_of_key(anon_key, strlen(anon_key)));
    /* LOAD (session.c) and CREATE of a login (session_filter.c: the session and its user's index, same tag) */
    kve_kv_script_argv(&kve_session_scripts()->load, 0, argv, argvlen);
    argv[2] = "1", argv[3] = key, argv[4] = "0", argv[5] = "0", argv[6] = "0";
    for (size_t i = 2; i != 7; ++i)
        argvlen[i] = strlen(argv[i]);
    cmd = KVE_KV_COMMAND(7, argv, argvlen);
    check_session_cmd(&cmd, key, 1);
    index = kve_session_users_index(&pool, key, "alice");
    kve_kv_script_argv(&kve_session_scripts()->create, 0, argv, argvlen);
    argv[2] = "2", argv[3] = key, argv[4] = index.base, argv[5] = "0";
    for (size_t i = 2; i != 6; ++i)
        argvlen[i] = strlen(argv[i]);
    cmd = KVE_KV_COMMAND(6, argv, argvlen);
    check_session_cmd(&cmd, key, 2);
    /* DESTROY (anonymous: one key; a user's: with the index), REVOKE_ALL and LIST (session_users.c) */
    kve_session_users_destroy(&pool, &c, anon_key, NULL);
    check_session_cmd(&c.cmd, anon_key, 1);
    kve_session_users_destroy(&pool, &c, key, "alice");
    check_session_cmd(&c.cmd, key, 2);
    kve_session_users_revoke_all(&pool, &c, key, "alice");
    check_session_cmd(&c.cmd, key, 2);
    kve_session_users_list(&pool, &c, key, "alice", 1700000000000);
    check_session_cmd(&c.cmd, key, 2);
    /* RENEW and ROTATE of a user's session: the old key, the new one (same tag) and the index */
    {
        kve_session_conf_t conf = {.renew_after_ms = 1000, .renew_grace_ms = 500};
        kve_session_handler_t self = {.conf = &conf};
        h2o_req_t req;
        kve_session_req_t st;

        memset(&req, 0, sizeof(req));
        h2o_mem_init_pool(&req.pool);
        for (int user = 0; user != 2; ++user) {
            const char *k = user ? key : anon_key, *h = user ? handle : anon_handle;
            memset(&st, 0, sizeof(st));
            st.req = &req, st.self = &self, st.uid = user ? "alice" : NULL;
            memcpy(st.key, k, sizeof(st.key)), memcpy(st.handle, h, sizeof(st.handle));
            kve_session__renew_command(&st, &cmd);
            check_session_cmd(&cmd, k, user ? 3 : 2);
            CHECK(strcmp(st.new_key, k) != 0);
            kve_session__rotate_command(&st, &cmd);
            check_session_cmd(&cmd, k, user ? 3 : 2);
            CHECK(strcmp(st.new_key, k) != 0);
        }
        h2o_mem_clear_pool(&req.pool);
    }
    h2o_mem_clear_pool(&pool);
}

/* --- the store path on a link that checks slots --- */

typedef struct st_store_env_t {
    h2o_loop_t *loop;
    kve_kv_t *kv;
    kve_cache_conf_t conf;
    kve_cache_handler_t self;
    kve_cache_head_t head;
    kve_cache_object_t o;
} store_env_t;

static void store_env_init(store_env_t *e, int sharded, const uint8_t *variant)
{
    memset(e, 0, sizeof(*e));
    e->loop = h2o_evloop_create();
    e->kv = kve_slot_fake_create(e->loop, sharded);
    e->conf.route = "/api";
    e->self.conf = &e->conf;
    e->head.status = 200;
    e->head.body_len = 4;
    e->head.tags = h2o_iovec_init(H2O_STRLIT("red\ncommon"));
    e->o = (kve_cache_object_t){P,
                                variant,
                                "0123456789abcdef",
                                h2o_iovec_init(H2O_STRLIT("accept-language")),
                                &e->head,
                                h2o_iovec_init(H2O_STRLIT("0123456789abcdefbody")),
                                60000,
                                0,
                                &e->self,
                                NULL};
}

/* runs the loop until the link has nothing in flight (and nothing more comes) */
static void store_env_settle(store_env_t *e)
{
    for (uint64_t end = h2o_now(e->loop) + 2000; h2o_now(e->loop) < end;) {
        size_t before = kve_slot_fake_log(e->kv)->n;
        h2o_evloop_run(e->loop, 5);
        if (kve_slot_fake_pending(e->kv) == 0 && kve_slot_fake_log(e->kv)->n == before)
            break;
    }
}

static void store_env_dispose(store_env_t *e)
{
    kve_kv_destroy(e->kv);
    h2o_evloop_destroy(e->loop);
}

static int is_set_entry(const kve_slot_fake_cmd_t *c)
{
    return strcmp(c->name, "SADD") == 0 || strcmp(c->name, "PEXPIRE") == 0;
}

TEST(store_split_on_sharded_link)
{
    for (int vary = 0; vary != 2; ++vary) {
        store_env_t e;
        const kve_slot_fake_log_t *log;
        size_t i, first = vary ? 12 : 9; /* set entries: 3 per tag set and route set (and the URL's variant set) */

        store_env_init(&e, 1, vary ? V : NULL);
        log = kve_slot_fake_log(e.kv);
        kve_cache__store_object(e.kv, NULL, &e.o);
        /* at once: only the set entries, not atomic; the object waits for them */
        CHECK_EQ_UINT(log->n, first);
        CHECK_EQ_UINT(log->batches, 1);
        for (i = 0; i != log->n; ++i)
            CHECK(is_set_entry(log->cmds + i) && (log->cmds[i].flags & KVE_KV_BATCH_ATOMIC) == 0 && log->cmds[i].slot >= 0);
        store_env_settle(&e);
        /* then the object's atomic batch, all in the URL's slot; nothing refused */
        CHECK_EQ_UINT(log->batches, 2);
        CHECK_EQ_UINT(log->n, first + (vary ? 6 : 3));
        for (i = first; i != log->n; ++i) {
            CHECK_EQ_UINT(log->cmds[i].batch, 2);
            CHECK((log->cmds[i].flags & KVE_KV_BATCH_ATOMIC) != 0);
            CHECK_EQ_INT(log->cmds[i].slot, url_slot());
            CHECK(strcmp(log->cmds[i].name, "SET") == 0 || strcmp(log->cmds[i].name, "DEL") == 0 ||
                  strcmp(log->cmds[i].name, "PEXPIRE") == 0);
        }
        for (i = 0; i != log->n; ++i)
            CHECK(!log->cmds[i].refused);
        store_env_dispose(&e);
    }
}

TEST(store_one_batch_on_one_redis)
{
    store_env_t e;
    const kve_slot_fake_log_t *log;

    store_env_init(&e, 0, NULL);
    log = kve_slot_fake_log(e.kv);
    kve_cache__store_object(e.kv, NULL, &e.o);
    /* unchanged: ONE atomic batch, the set entries first (no extra round trip) */
    CHECK_EQ_UINT(log->n, 9 + 3);
    CHECK_EQ_UINT(log->batches, 1);
    for (size_t i = 0; i != log->n; ++i) {
        CHECK((log->cmds[i].flags & KVE_KV_BATCH_ATOMIC) != 0);
        CHECK_EQ_INT(is_set_entry(log->cmds + i), i < 9);
        CHECK(log->cmds[i].refused); /* what a Cluster would do with it: the reason for the split */
    }
    store_env_settle(&e);
    CHECK_EQ_UINT(log->batches, 1);
    store_env_dispose(&e);
}

TEST(store_split_set_entry_fails)
{
    store_env_t e;
    const kve_slot_fake_log_t *log;

    store_env_init(&e, 1, NULL);
    log = kve_slot_fake_log(e.kv);
    kve_slot_fake_fail_sadd(e.kv, 1);
    kve_cache__store_object(e.kv, NULL, &e.o);
    store_env_settle(&e);
    /* an object missing from one of its sets could not be purged: it is not written */
    CHECK_EQ_UINT(log->batches, 1);
    CHECK_EQ_UINT(log->n, 9);
    store_env_dispose(&e);
}

TEST(store_head_split)
{
    store_env_t e;
    const kve_slot_fake_log_t *log;

    store_env_init(&e, 1, V);
    log = kve_slot_fake_log(e.kv);
    kve_cache__store_head(e.kv, NULL, P, V, &e.head, 60000, &e.self, NULL);
    CHECK_EQ_UINT(log->batches, 1);
    CHECK_EQ_UINT(log->n, 12);
    store_env_settle(&e);
    CHECK_EQ_UINT(log->batches, 2);
    CHECK_EQ_UINT(log->n, 12 + 3);
    for (size_t i = 12; i != log->n; ++i)
        CHECK(!log->cmds[i].refused && log->cmds[i].slot == url_slot() && (log->cmds[i].flags & KVE_KV_BATCH_ATOMIC) != 0);
    store_env_dispose(&e);
}

void kve_suite_cache_slots(void)
{
    kve_cmd_init();
    RUN(cache_object_batch);
    RUN(cache_head_batch);
    RUN(cache_multi_key_commands);
    RUN(cache_set_entries);
    RUN(session_scripts);
    RUN(store_split_on_sharded_link);
    RUN(store_one_batch_on_one_redis);
    RUN(store_split_set_entry_fails);
    RUN(store_head_split);
}
