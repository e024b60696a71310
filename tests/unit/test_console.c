/* SPDX-License-Identifier: MIT */
/*
 * Tests of the web console's parsers (issue 13; handlers/console_parse.c: the login form and the Cookie header) and of
 * its session table (handlers/console_session.c: ids, lookup, expiry, the bound, logout).
 */
#include "test.h"
#include "handlers/console_parse.h"
#include "handlers/console_session.h"

#include <string.h>

static long form(const char *body, const char *name, char *out, size_t cap)
{
    return kve_console_form_value(body, strlen(body), name, out, cap);
}

TEST(form_values)
{
    char out[32];
    CHECK_EQ_INT(form("token=abc", "token", out, sizeof(out)), 3);
    CHECK_EQ_STR(out, "abc");
    CHECK_EQ_INT(form("a=1&token=x%2By+z%26&b=2", "token", out, sizeof(out)), 6);
    CHECK_EQ_STR(out, "x+y z&");
    CHECK_EQ_INT(form("token=", "token", out, sizeof(out)), 0);
    CHECK_EQ_INT(form("tokens=abc&xtoken=1", "token", out, sizeof(out)), -1); /* a name is matched whole */
    CHECK_EQ_INT(form("", "token", out, sizeof(out)), -1);
    CHECK_EQ_INT(form("token=1&token=2", "token", out, sizeof(out)), -1); /* twice */
    CHECK_EQ_INT(form("token=%zz", "token", out, sizeof(out)), -1);
    CHECK_EQ_INT(form("token=%4", "token", out, sizeof(out)), -1);
    CHECK_EQ_INT(form("token=0123456789", "token", out, 10), -1); /* does not fit with its NUL */
    CHECK_EQ_INT(form("token=012345678", "token", out, 10), 9);
}

static int cookie(const char *header, char *out)
{
    const char *v;
    size_t len;
    int r = kve_console_cookie_value(header, strlen(header), "kvedge_console", &v, &len);
    if (r == 1) {
        memcpy(out, v, len);
        out[len] = '\0';
    }
    return r;
}

TEST(cookies)
{
    char out[64];
    CHECK_EQ_INT(cookie("kvedge_console=abc", out), 1);
    CHECK_EQ_STR(out, "abc");
    CHECK_EQ_INT(cookie("a=1;  kvedge_console=\"q\" ; b=2", out), 1);
    CHECK_EQ_STR(out, "q");
    CHECK_EQ_INT(cookie("xkvedge_console=1; kvedge_consolex=2", out), 0);
    CHECK_EQ_INT(cookie("kvedge_console=1; kvedge_console=2", out), -1);
    CHECK_EQ_INT(cookie("", out), 0);
}

TEST(sessions)
{
    kve_console_session_t a, b, found;
    size_t i;

    kve_console_session_end_all();
    CHECK_EQ_INT(kve_console_session_create(0, 60000, &a), 0);
    CHECK_EQ_INT(kve_console_session_create(1, 60000, &b), 0);
    CHECK_EQ_UINT(strlen(a.id), KVE_CONSOLE_SECRET_HEX);
    CHECK(strcmp(a.id, b.id) != 0 && strcmp(a.csrf, b.csrf) != 0 && strcmp(a.id, a.csrf) != 0);
    CHECK_EQ_INT(kve_console_session_find(b.id, strlen(b.id), &found), 1);
    CHECK_EQ_INT(found.read_only, 1);
    CHECK_EQ_STR(found.csrf, b.csrf);
    CHECK_EQ_INT(kve_console_session_find(b.id, strlen(b.id) - 1, &found), 0);
    CHECK_EQ_INT(kve_console_session_find(b.csrf, strlen(b.csrf), &found), 0);
    kve_console_session_end(a.id, strlen(a.id));
    CHECK_EQ_INT(kve_console_session_find(a.id, strlen(a.id), &found), 0);
    CHECK_EQ_INT(kve_console_session_find(b.id, strlen(b.id), &found), 1);
    /* expiry: a session of 0 ms is gone at once */
    CHECK_EQ_INT(kve_console_session_create(0, 0, &a), 0);
    CHECK_EQ_INT(kve_console_session_find(a.id, strlen(a.id), &found), 0);
    /* the bound: more logins than slots keep the table at its size, the newest alive */
    for (i = 0; i != KVE_CONSOLE_MAX_SESSIONS + 5; ++i)
        CHECK_EQ_INT(kve_console_session_create(0, 60000 + i, &a), 0);
    CHECK_EQ_UINT(kve_console_session_count(), KVE_CONSOLE_MAX_SESSIONS);
    CHECK_EQ_INT(kve_console_session_find(a.id, strlen(a.id), &found), 1);
    kve_console_session_end_all();
    CHECK_EQ_UINT(kve_console_session_count(), 0);
}

void kve_suite_console(void)
{
    RUN(form_values);
    RUN(cookies);
    RUN(sessions);
}
