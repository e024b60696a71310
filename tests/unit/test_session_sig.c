/* SPDX-License-Identifier: MIT */
/*
 * Tests of the strict-signature check of the session commands (issue 10, S12; handlers/session_sig.c): known vectors
 * computed with node's crypto (the canonical order login, set, rotate, logout, whatever subset is present), and every
 * way a signature can be wrong: another key, another value, another subset, padding, one character, the wrong length.
 */
#include "test.h"
#include "handlers/session_sig.h"

#include <stdlib.h>
#include <string.h>

static const char KEY[] = "session-command-key-0123456789abcdef-0123";

static h2o_iovec_t s(const char *v)
{
    return v != NULL ? h2o_iovec_init(v, strlen(v)) : h2o_iovec_init(NULL, 0);
}

static int valid(const char *key, const char *login, const char *set, const char *rotate, const char *logout, const char *sig)
{
    h2o_mem_pool_t pool;
    kve_session_sig_cmds_t c = {s(login), s(set), s(rotate), s(logout)};
    int ok;
    h2o_mem_init_pool(&pool);
    ok = kve_session_sig_valid(&pool, key, strlen(key), &c, s(sig));
    h2o_mem_clear_pool(&pool);
    return ok;
}

TEST(vectors)
{
    CHECK_EQ_INT(valid(KEY, "{\"sub\":\"alice\"}", "{\"a\":1}", "1", "current", "_oEtXC3Zmg_2ZB2nV5sTZfLYjkIcdtHGCxauAAUX9L4"), 1);
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, NULL, "vfu1Pf6N6pR1mEiKq9-R__u8DMHiSM2NH2d6WEkoBDI"), 1);
}

TEST(wrong)
{
    const char *good = "vfu1Pf6N6pR1mEiKq9-R__u8DMHiSM2NH2d6WEkoBDI";
    CHECK_EQ_INT(valid("another-key-0123456789abcdef-0123456789", NULL, "{\"a\":1}", NULL, NULL, good), 0);
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":2}", NULL, NULL, good), 0);
    CHECK_EQ_INT(valid(KEY, "{\"a\":1}", NULL, NULL, NULL, good), 0);      /* the same value as another command */
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, "current", good), 0); /* a command added */
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, NULL, NULL), 0);      /* no signature */
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, NULL, ""), 0);
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, NULL, "vfu1Pf6N6pR1mEiKq9-R__u8DMHiSM2NH2d6WEkoBDI="), 0);
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, NULL, "vfu1Pf6N6pR1mEiKq9-R__u8DMHiSM2NH2d6WEkoBDJ"), 0);
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, NULL, "Vfu1Pf6N6pR1mEiKq9-R__u8DMHiSM2NH2d6WEkoBDI"), 0);
    CHECK_EQ_INT(valid(KEY, NULL, "{\"a\":1}", NULL, NULL, "vfu1Pf6N6pR1mEiKq9-R__u8DMHiSM2NH2d6WEkoBD"), 0);
    /* no command: only the HMAC of "" (the filter never asks) */
    CHECK_EQ_INT(valid(KEY, NULL, NULL, NULL, NULL, "Lgb9Dg3ly7gHNhmbdV5ou_odKmHk-Pychj6J-8e0WFE"), 1);
}

TEST(longest_commands)
{
    /* four commands of the longest length the filter takes: the canonical text fits what is allocated */
    char *v = malloc(8193);
    memset(v, 'x', 8192);
    v[8192] = '\0';
    CHECK_EQ_INT(valid(KEY, v, v, v, v, "vfu1Pf6N6pR1mEiKq9-R__u8DMHiSM2NH2d6WEkoBDI"), 0);
    free(v);
}

void kve_suite_session_sig(void)
{
    RUN(vectors);
    RUN(wrong);
    RUN(longest_commands);
}
