/* SPDX-License-Identifier: MIT */
/* Tests for the driver-neutral half of the KV interface (proxy/kv.c) that needs no event loop. */
#include "test.h"
#include "proxy/kv.h"

static int kind(const char *name)
{
    return kve_kv_script_kind(name, strlen(name));
}

TEST(script_kind)
{
    CHECK_EQ_INT(kind("EVAL"), KVE_KV_SCRIPT_EVAL);
    CHECK_EQ_INT(kind("eval"), KVE_KV_SCRIPT_EVAL);
    CHECK_EQ_INT(kind("EvalSha"), KVE_KV_SCRIPT_EVAL);
    CHECK_EQ_INT(kind("eval_ro"), KVE_KV_SCRIPT_EVAL);
    CHECK_EQ_INT(kind("EVALSHA_RO"), KVE_KV_SCRIPT_EVAL);
    CHECK_EQ_INT(kind("FCALL"), KVE_KV_SCRIPT_FUNCTION);
    CHECK_EQ_INT(kind("fcall_ro"), KVE_KV_SCRIPT_FUNCTION);
    for (const char *const *n = (const char *const[]){"", "e", "eva", "evalx", "evals", "EXEC", "EXPIRE", "FUNCTION", "fcall_r",
                                                      "get", "evalsha_rw", NULL};
         *n != NULL; ++n)
        CHECK_EQ_INT(kind(*n), KVE_KV_SCRIPT_NONE);
    /* the length is what counts, not a NUL */
    CHECK_EQ_INT(kve_kv_script_kind("EVAL\0x", 6), KVE_KV_SCRIPT_NONE);
    CHECK_EQ_INT(kve_kv_script_kind("EVALSHA", 4), KVE_KV_SCRIPT_EVAL);
}

void kve_suite_kv(void)
{
    RUN(script_kind);
}
