/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the request bodies of the web console's Sessions page (issue 13; handlers/console_sessions_parse.c):
 * {"user": ...} and {"user": ..., "pid": ...}, parsed with jansson and checked member by member.
 *
 * Input: a mode byte (bit 0: the pid is required, as for a revoke of one session), then the body (copied into a block
 * of exactly its size, so ASan sees a read past it).
 *
 * Oracles: a body taken names a user of 1..KVE_SESSION_UID_MAX bytes without NUL, NUL-terminated, valid UTF-8, and a
 * pid of 32 lower-case hex digits exactly when one is required (else ""); the same user and pid written back as JSON
 * parse again to the same result (no normalisation lost or invented); a body refused has a non-empty message; a
 * body longer than KVE_CONSOLE_SESSIONS_MAX_BODY is always refused.
 */
#include "fuzz.h"
#include "handlers/console_sessions_parse.h"

#include <jansson.h>

static int utf8_valid(const char *s, size_t len)
{
    json_t *v = json_stringn(s, len); /* NULL for invalid UTF-8 */
    if (v == NULL)
        return 0;
    json_decref(v);
    return 1;
}

static void check_taken(const kve_console_sessions_args_t *a, int want_pid)
{
    kve_console_sessions_args_t again;
    const char *err = NULL;
    json_t *o;
    char *text;

    FUZZ_CHECK(a->user_len >= 1 && a->user_len <= KVE_SESSION_UID_MAX, "user of %zu bytes", a->user_len);
    FUZZ_CHECK(a->user[a->user_len] == '\0' && strlen(a->user) == a->user_len, "user holds a NUL or is not terminated");
    FUZZ_CHECK(utf8_valid(a->user, a->user_len), "user is not UTF-8");
    if (want_pid) {
        FUZZ_CHECK(strlen(a->pid) == KVE_SESSION_PID_SIZE - 1 && strspn(a->pid, "0123456789abcdef") == KVE_SESSION_PID_SIZE - 1,
                   "pid '%s'", a->pid);
    } else {
        FUZZ_CHECK(a->pid[0] == '\0', "a pid without asking for one");
    }
    o = want_pid ? json_pack("{s:s%, s:s}", "user", a->user, a->user_len, "pid", a->pid)
                 : json_pack("{s:s%}", "user", a->user, a->user_len);
    FUZZ_CHECK(o != NULL, "cannot write the result back");
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    FUZZ_CHECK(text != NULL, "cannot dump the result");
    if (strlen(text) <= KVE_CONSOLE_SESSIONS_MAX_BODY) {
        FUZZ_CHECK(kve_console_sessions_parse(text, strlen(text), want_pid, &again, &err) == 0, "written back: refused (%s)", err);
        FUZZ_CHECK(again.user_len == a->user_len && memcmp(again.user, a->user, a->user_len) == 0 && strcmp(again.pid, a->pid) == 0,
                   "written back: another result");
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    int want_pid = fuzz_u8(&in) & 1;
    size_t len = fuzz_left(&in);
    char *body = fuzz_exact_copy(in.p, len);
    kve_console_sessions_args_t args;
    const char *err = NULL;

    if (kve_console_sessions_parse(body, len, want_pid, &args, &err) == 0) {
        FUZZ_CHECK(len <= KVE_CONSOLE_SESSIONS_MAX_BODY, "a body of %zu bytes taken", len);
        check_taken(&args, want_pid);
    } else {
        FUZZ_CHECK(err != NULL && err[0] != '\0', "refused without a message");
    }
    free(body);
    return 0;
}
