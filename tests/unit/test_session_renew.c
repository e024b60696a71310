/* SPDX-License-Identifier: MIT */
/*
 * Tests for the pure helpers of session renewal and rotation (issue 10): the public id of a store key equals the
 * public id of its handle (a renewed handle's requests name the live session by its key), the user index key on the
 * slot of a session key, the same-slot check LOAD's and RENEW's replies go through, X-Session-Rotate's value, and the
 * new configuration's defaults and checks.
 */
#include "test.h"
#include "handlers/session_cookie.h"
#include "handlers/session_renew.h"
#include "handlers/session_rotate.h"

#include <string.h>

static const char handle[] = "AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789a";

TEST(pid_of_key)
{
    static const uint8_t k_pid[32] = {1, 2, 3};
    char key[KVE_SESSION_KEY_SIZE], a[KVE_SESSION_PID_SIZE], b[KVE_SESSION_PID_SIZE], h[KVE_SESSION_HANDLE_LEN + 1];
    kve_session_key(key, handle);
    kve_session_pid(a, k_pid, sizeof(k_pid), handle);
    kve_session__pid_of_key(b, k_pid, sizeof(k_pid), key);
    CHECK_EQ_STR(b, a);
    /* another handle: another id */
    kve_session_new_handle(h, NULL);
    kve_session_key(key, h);
    kve_session__pid_of_key(b, k_pid, sizeof(k_pid), key);
    CHECK(strcmp(a, b) != 0);
}

TEST(index_key)
{
    h2o_mem_pool_t pool;
    char key[KVE_SESSION_KEY_SIZE];
    h2o_mem_init_pool(&pool);
    kve_session_key(key, handle);
    CHECK_EQ_STR(kve_session__index_key(&pool, key, "u1"), "kvs1:{AAAAAAAAAAA}:u:7531");
    /* any byte of a uid is hex in the key: no injection of a brace or a separator */
    CHECK_EQ_STR(kve_session__index_key(&pool, key, "}:s:\xff"), "kvs1:{AAAAAAAAAAA}:u:7d3a733aff");
    h2o_mem_clear_pool(&pool);
}

TEST(same_slot_key)
{
    char key[KVE_SESSION_KEY_SIZE], other[KVE_SESSION_KEY_SIZE], h[KVE_SESSION_HANDLE_LEN + 1];
    kve_session_key(key, handle);
    /* a new handle with the same tag: accepted */
    kve_session_new_handle(h, NULL);
    memcpy(h, handle, KVE_SESSION_TAG_CHARS);
    kve_session_key(other, h);
    CHECK(kve_session__same_slot_key(key, other, strlen(other)));
    /* another tag, a short key, a non-hex digest, upper-case hex: refused */
    kve_session_new_handle(h, NULL);
    kve_session_key(other, h);
    CHECK(!kve_session__same_slot_key(key, other, strlen(other)));
    CHECK(!kve_session__same_slot_key(key, key, strlen(key) - 1));
    memcpy(other, key, sizeof(other));
    other[KVE_SESSION_KEY_SIZE - 2] = 'g';
    CHECK(!kve_session__same_slot_key(key, other, strlen(other)));
    other[KVE_SESSION_KEY_SIZE - 2] = 'A';
    CHECK(!kve_session__same_slot_key(key, other, strlen(other)));
}

TEST(rotate_value)
{
    CHECK(kve_session__rotate_valid(h2o_iovec_init(H2O_STRLIT("1"))));
    CHECK(!kve_session__rotate_valid(h2o_iovec_init(H2O_STRLIT("0"))));
    CHECK(!kve_session__rotate_valid(h2o_iovec_init(H2O_STRLIT("true"))));
    CHECK(!kve_session__rotate_valid(h2o_iovec_init(H2O_STRLIT("1 "))));
    CHECK(!kve_session__rotate_valid(h2o_iovec_init(H2O_STRLIT(""))));
}

void kve_suite_session_renew(void)
{
    RUN(pid_of_key);
    RUN(index_key);
    RUN(same_slot_key);
    RUN(rotate_value);
}
