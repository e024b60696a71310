/* SPDX-License-Identifier: MIT */
/*
 * Tests for a user's sessions' pure parts (issue 10; handlers/session_users.h): the index key (the user's slot tag,
 * any byte of the uid hex-encoded), public ids from index members (the same as from the handle; malformed members
 * refused), and the DESTROY / REVOKE_ALL / LIST commands' keys and arguments.
 */
#include "test.h"
#include "handlers/session_cookie.h"
#include "handlers/session_script.h"
#include "handlers/session_users.h"
#include "proxy/common.h"

static const char key[] = "0123456789abcdef0123456789abcdef-session";
static const char handle[] = "AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789a";

static int arg_is(const kve_session_users_cmd_t *c, size_t i, const char *s)
{
    return i < c->cmd.argc && c->cmd.argvlen[i] == strlen(s) && memcmp(c->cmd.argv[i], s, strlen(s)) == 0;
}

TEST(index_key)
{
    h2o_mem_pool_t pool;
    char k[KVE_SESSION_KEY_SIZE], uid[KVE_SESSION_UID_MAX + 1];
    h2o_iovec_t idx;

    h2o_mem_init_pool(&pool);
    kve_session_key(k, handle);
    idx = kve_session_users_index(&pool, k, "a:}{\xff");
    CHECK_EQ_STR(idx.base, "kvs1:{AAAAAAAAAAA}:u:613a7d7bff"); /* no byte of the uid can reach the key's syntax */
    CHECK_EQ_UINT(idx.len, strlen(idx.base));
    memset(uid, 'z', KVE_SESSION_UID_MAX);
    uid[KVE_SESSION_UID_MAX] = '\0';
    idx = kve_session_users_index(&pool, k, uid);
    CHECK_EQ_UINT(idx.len, 21 + 2 * KVE_SESSION_UID_MAX);
    h2o_mem_clear_pool(&pool);
}

TEST(pid_of_member)
{
    char k[KVE_SESSION_KEY_SIZE], a[KVE_SESSION_PID_SIZE], b[KVE_SESSION_PID_SIZE], bad[KVE_SESSION_HASH_HEX + 1];
    const char *member;

    kve_session_key(k, handle);
    member = k + strlen(k) - KVE_SESSION_HASH_HEX;
    kve_session_pid(a, (const uint8_t *)key, 32, handle);
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, member, KVE_SESSION_HASH_HEX), 0);
    CHECK_EQ_STR(a, b); /* the listing's pid is the JWTs' sid */
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, member, KVE_SESSION_HASH_HEX - 1), -1);
    memcpy(bad, member, sizeof(bad));
    bad[0] = (char)(bad[0] >= 'a' ? 'A' : 'g'); /* upper case, or not hex */
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, bad, KVE_SESSION_HASH_HEX), -1);
    bad[0] = 'x';
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, bad, KVE_SESSION_HASH_HEX), -1);
}

TEST(commands)
{
    h2o_mem_pool_t pool;
    kve_session_users_cmd_t c;
    char k[KVE_SESSION_KEY_SIZE];
    const kve_session_scripts_t *s = kve_session_scripts();

    h2o_mem_init_pool(&pool);
    kve_session_key(k, handle);
    kve_session_users_destroy(&pool, &c, k, NULL); /* anonymous: no index */
    CHECK(c.cmd.script == &s->destroy);
    CHECK_EQ_UINT(c.cmd.argc, 4);
    CHECK(arg_is(&c, 0, "EVALSHA") && arg_is(&c, 2, "1") && arg_is(&c, 3, k));
    kve_session_users_destroy(&pool, &c, k, "u1");
    CHECK_EQ_UINT(c.cmd.argc, 5);
    CHECK(arg_is(&c, 2, "2") && arg_is(&c, 3, k) && arg_is(&c, 4, "kvs1:{AAAAAAAAAAA}:u:7531"));
    kve_session_users_revoke_all(&pool, &c, k, "u1");
    CHECK(c.cmd.script == &s->revoke_all);
    CHECK(arg_is(&c, 2, "2") && arg_is(&c, 3, "kvs1:{AAAAAAAAAAA}:u:7531") && arg_is(&c, 4, k));
    kve_session_users_list(&pool, &c, k, "u1", 1234567890123);
    CHECK(c.cmd.script == &s->list);
    CHECK_EQ_UINT(c.cmd.argc, 6);
    CHECK(arg_is(&c, 3, "kvs1:{AAAAAAAAAAA}:u:7531") && arg_is(&c, 4, k) && arg_is(&c, 5, "1234567890123"));
    h2o_mem_clear_pool(&pool);
}

void kve_suite_session_users(void)
{
    RUN(index_key);
    RUN(pid_of_member);
    RUN(commands);
}
