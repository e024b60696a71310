/* SPDX-License-Identifier: MIT */
/*
 * Tests of the web console's Sessions page bodies (issue 13; handlers/console_sessions_parse.c): {"user"} and
 * {"user","pid"}, every refusal by its message; and the active-session sketches it shows (handlers/session_active.c):
 * the estimate, the kinds, the threads, the window.
 */
#include "test.h"
#include "handlers/console_sessions_parse.h"
#include "handlers/session_active.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

static const char *refusal(const char *body, int want_pid)
{
    kve_console_sessions_args_t a;
    const char *err = NULL;
    return kve_console_sessions_parse(body, strlen(body), want_pid, &a, &err) == 0 ? "taken" : err;
}

TEST(taken)
{
    kve_console_sessions_args_t a;
    const char *err = NULL;
    static const char body[] = "{\"pid\":\"0123456789abcdef0123456789abcdef\",\"user\":\"\\u00fc \\\"q\\\" \\ud83d\\ude00\"}";

    CHECK_EQ_INT(kve_console_sessions_parse(body, strlen(body), 1, &a, &err), 0);
    CHECK_EQ_STR(a.user, "\xc3\xbc \"q\" \xf0\x9f\x98\x80");
    CHECK_EQ_UINT(a.user_len, 11);
    CHECK_EQ_STR(a.pid, "0123456789abcdef0123456789abcdef");
    CHECK_EQ_INT(kve_console_sessions_parse(H2O_STRLIT("{\"user\":\"a\"}"), 0, &a, &err), 0);
    CHECK_EQ_STR(a.user, "a");
    CHECK_EQ_STR(a.pid, "");
}

TEST(refused)
{
    char user257[300], body[400];
    CHECK_EQ_STR(refusal("", 0), "a JSON object is required");
    CHECK_EQ_STR(refusal("[]", 0), "a JSON object is required");
    CHECK_EQ_STR(refusal("{\"user\":", 0), "not JSON (or a member twice)");
    CHECK_EQ_STR(refusal("{\"user\":\"a\",\"user\":\"b\"}", 0), "not JSON (or a member twice)");
    CHECK_EQ_STR(refusal("{\"user\":\"\"}", 0), "user: 1 to 256 bytes");
    CHECK_EQ_STR(refusal("{\"user\":\"a\\u0000\"}", 0), "user: holds U+0000");
    CHECK_EQ_STR(refusal("{\"user\":1}", 0), "user: a string is required");
    CHECK_EQ_STR(refusal("{\"name\":\"a\"}", 0), "user: a string is required");
    CHECK_EQ_STR(refusal("{\"user\":\"a\",\"x\":1}", 0), "only \"user\" is taken");
    CHECK_EQ_STR(refusal("{\"user\":\"a\",\"pid\":\"0123456789abcdef0123456789abcdef\"}", 0), "pid: not taken here");
    CHECK_EQ_STR(refusal("{\"user\":\"a\"}", 1), "pid: required");
    CHECK_EQ_STR(refusal("{\"user\":\"a\",\"pid\":\"0123456789ABCDEF0123456789abcdef\"}", 1), "pid: 32 lower-case hex digits");
    CHECK_EQ_STR(refusal("{\"user\":\"a\",\"pid\":\"0123456789abcdef0123456789abcde\"}", 1), "pid: 32 lower-case hex digits");
    CHECK_EQ_STR(refusal("{\"user\":\"a\",\"pid\":null}", 1), "pid: 32 lower-case hex digits");
    memset(user257, 'x', 257);
    user257[257] = '\0';
    snprintf(body, sizeof(body), "{\"user\":\"%s\"}", user257);
    CHECK_EQ_STR(refusal(body, 0), "user: 1 to 256 bytes");
    user257[256] = '\0'; /* 256 bytes: taken */
    snprintf(body, sizeof(body), "{\"user\":\"%s\"}", user257);
    CHECK_EQ_STR(refusal(body, 0), "taken");
}

TEST(too_large)
{
    char big[KVE_CONSOLE_SESSIONS_MAX_BODY + 2];
    kve_console_sessions_args_t a;
    const char *err = NULL;
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"user\":\"a\"}", 12); /* valid JSON, trailing spaces past the limit */
    CHECK_EQ_INT(kve_console_sessions_parse(big, KVE_CONSOLE_SESSIONS_MAX_BODY, 0, &a, &err), 0);
    CHECK_EQ_INT(kve_console_sessions_parse(big, KVE_CONSOLE_SESSIONS_MAX_BODY + 1, 0, &a, &err), -1);
    CHECK_EQ_STR(err, "request body too large");
    CHECK_EQ_INT(kve_console_sessions_parse(NULL, 0, 0, &a, &err), -1);
}

/* the hex SHA-256 of "session <i>": a store key's hash */
static void hash_of(unsigned i, char hex[65])
{
    char in[32];
    unsigned char md[SHA256_DIGEST_LENGTH];
    int n = snprintf(in, sizeof(in), "session %u", i);
    SHA256((const unsigned char *)in, (size_t)n, md);
    for (size_t j = 0; j != sizeof(md); ++j)
        snprintf(hex + 2 * j, 3, "%02x", md[j]);
}

static double active(const kve_session_active_t *a, uint64_t now_s, int kind)
{
    kve_session_active_sum_t sum;
    memset(&sum, 0, sizeof(sum));
    kve_session_active_merge(a, now_s, &sum);
    return kve_session_active_estimate(sum.regs[kind]);
}

TEST(active_counts)
{
    kve_session_active_t *a = kve_session_active_new();
    const uint64_t t0 = 1700000000 - 1700000000 % 60; /* a minute's start */
    char hex[65];
    double e;

    CHECK_EQ_INT((int)active(a, t0, KVE_SESSION_ACTIVE_LOGGED_IN), 0);
    for (unsigned i = 0; i != 3; ++i) { /* a few: exact; repeats and other threads count once */
        hash_of(i, hex);
        kve_session_active_note(a, 0, hex, 1, t0);
        kve_session_active_note(a, 1, hex, 1, t0 + 30);
    }
    hash_of(100, hex);
    kve_session_active_note(a, 2, hex, 0, t0 + 59);
    CHECK_EQ_INT((int)(active(a, t0 + 59, KVE_SESSION_ACTIVE_LOGGED_IN) + 0.5), 3);
    CHECK_EQ_INT((int)(active(a, t0 + 59, KVE_SESSION_ACTIVE_ANONYMOUS) + 0.5), 1);
    kve_session_active_note(a, KVE_SESSION_ACTIVE_MAX_THREADS, hex, 0, t0); /* no such thread: ignored */
    /* the window: the current minute and the 4 before it */
    CHECK_EQ_INT((int)(active(a, t0 + 4 * 60 + 59, KVE_SESSION_ACTIVE_LOGGED_IN) + 0.5), 3);
    CHECK_EQ_INT((int)(active(a, t0 + 5 * 60, KVE_SESSION_ACTIVE_LOGGED_IN) + 0.5), 0);
    /* a thread noting in a new minute reuses the oldest slot: what it held is gone, the rest stays */
    hash_of(200, hex);
    kve_session_active_note(a, 0, hex, 1, t0 + 6 * 60);
    CHECK_EQ_INT((int)(active(a, t0 + 6 * 60, KVE_SESSION_ACTIVE_LOGGED_IN) + 0.5), 1);
    /* many: within 3 standard errors (1.04 / sqrt(1024) = 3.25 %) */
    for (unsigned i = 1000; i != 21000; ++i) {
        hash_of(i, hex);
        kve_session_active_note(a, i % 4, hex, 0, t0 + 7 * 60);
    }
    e = active(a, t0 + 7 * 60, KVE_SESSION_ACTIVE_ANONYMOUS);
    CHECK(e > 20000 * (1 - 0.0975) && e < 20000 * (1 + 0.0975));
    kve_session_active_free(a);
}

void kve_suite_console_sessions(void)
{
    RUN(active_counts);
    RUN(taken);
    RUN(refused);
    RUN(too_large);
}
