/* SPDX-License-Identifier: MIT */
/* The Sessions page's request bodies (see console_sessions_parse.h). */
#include "handlers/console_sessions_parse.h"

#include <string.h>
#include <jansson.h>

static int is_pid(const char *s, size_t len)
{
    if (len != KVE_SESSION_PID_SIZE - 1)
        return 0;
    for (size_t i = 0; i != len; ++i)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int parse_members(json_t *o, int want_pid, kve_console_sessions_args_t *out, const char **err)
{
    json_t *user = json_object_get(o, "user"), *pid = json_object_get(o, "pid");
    size_t len;

    if (json_object_size(o) != 1 + (pid != NULL))
        return *err = want_pid ? "only \"user\" and \"pid\" are taken" : "only \"user\" is taken", -1;
    if (!json_is_string(user))
        return *err = "user: a string is required", -1;
    len = json_string_length(user);
    if (len == 0 || len > KVE_SESSION_UID_MAX)
        return *err = "user: 1 to 256 bytes", -1;
    if (memchr(json_string_value(user), '\0', len) != NULL)
        return *err = "user: holds U+0000", -1;
    if (want_pid != (pid != NULL))
        return *err = want_pid ? "pid: required" : "pid: not taken here", -1;
    if (pid != NULL && (!json_is_string(pid) || !is_pid(json_string_value(pid), json_string_length(pid))))
        return *err = "pid: 32 lower-case hex digits", -1;
    memcpy(out->user, json_string_value(user), len);
    out->user[len] = '\0';
    out->user_len = len;
    if (pid != NULL)
        memcpy(out->pid, json_string_value(pid), KVE_SESSION_PID_SIZE);
    return 0;
}

int kve_console_sessions_parse(const char *body, size_t len, int want_pid, kve_console_sessions_args_t *out, const char **err)
{
    json_error_t jerr;
    json_t *o;
    int ret;

    memset(out, 0, sizeof(*out));
    if (len > KVE_CONSOLE_SESSIONS_MAX_BODY)
        return *err = "request body too large", -1;
    if (len == 0 || body == NULL)
        return *err = "a JSON object is required", -1;
    /* JSON_ALLOW_NUL: "\u0000" parses, and is refused by name above rather than as a parse error */
    if ((o = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr)) == NULL)
        return *err = "not JSON (or a member twice)", -1;
    if (!json_is_object(o)) {
        json_decref(o);
        return *err = "a JSON object is required", -1;
    }
    ret = parse_members(o, want_pid, out, err);
    json_decref(o);
    return ret;
}
