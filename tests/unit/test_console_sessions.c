/* SPDX-License-Identifier: MIT */
/*
 * Tests of the web console's Sessions page bodies (issue 13; handlers/console_sessions_parse.c): {"user"} and
 * {"user","pid"}, every refusal by its message.
 */
#include "test.h"
#include "handlers/console_sessions_parse.h"

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

void kve_suite_console_sessions(void)
{
    RUN(taken);
    RUN(refused);
    RUN(too_large);
}
