/* SPDX-License-Identifier: MIT */
/* The console's routes (see console_routes.h): later pages add their rows here. */
#include "handlers/console_routes.h"
#include "handlers/console_overview.h"
#include "handlers/console_cache.h"
#include "handlers/console_kv.h"
#include "handlers/console_sessions.h"
#include "handlers/console_sessions_parse.h"

const kve_console_route_t kve_console_routes[] = {
    {"POST", "/login", kve_console_login, KVE_CONSOLE_PUBLIC},
    {"POST", "/logout", kve_console_logout, 0},
    {"GET", "/api/session", kve_console_api_session, 0},
    {"GET", "/api/whoami", kve_console_api_whoami, KVE_CONSOLE_PUBLIC},
    {"GET", "/api/overview", kve_console_api_overview, 0},
    {"GET", "/api/config", kve_console_api_config, 0},
    /* a check applies nothing, but it is a POST: CSRF-checked like every POST, allowed to read-only sessions */
    {"POST", "/api/check", kve_console_api_check, 0, KVE_CONSOLE_MAX_CHECK_BODY},
    /* ends every console session (the operator's "log out everywhere"): a change, so not for read-only sessions */
    {"POST", "/api/logout-all", kve_console_logout_all, KVE_CONSOLE_WRITE},

    /* --- the overview page (console_api.c, console_overview.c) --- */
    {"GET", "/api/history", kve_console_api_history, 0},

    /* --- the keys page (console_kv.c) --- */
    {"GET", "/api/kv/stores", kve_console_kv_stores, 0},
    {"GET", "/api/kv/keys", kve_console_kv_keys, 0},
    {"GET", "/api/kv/key", kve_console_kv_key, 0},
    /* every change of the store's data: one op of a fixed table (console_kv_edit.c), never a command the client names */
    {"POST", "/api/kv/change", kve_console_kv_change, KVE_CONSOLE_WRITE, KVE_CONSOLE_KV_MAX_BODY},

    /* --- the cache page (console_cache.c) --- */
    {"GET", "/api/cache/lookup", kve_console_cache_lookup, 0},
    {"POST", "/api/cache/purge", kve_console_cache_purge, KVE_CONSOLE_WRITE},

    /* --- the sessions page (console_sessions.c) --- */
    {"GET", "/api/sessions", kve_console_sessions_summary, 0},
    /* a listing reads only, but takes a JSON body (a user id is any UTF-8): a POST, allowed to read-only sessions */
    {"POST", "/api/sessions/list", kve_console_sessions_list, 0, KVE_CONSOLE_SESSIONS_MAX_BODY},
    {"POST", "/api/sessions/revoke", kve_console_sessions_revoke, KVE_CONSOLE_WRITE, KVE_CONSOLE_SESSIONS_MAX_BODY},
    {"POST", "/api/sessions/revoke-all", kve_console_sessions_revoke_all, KVE_CONSOLE_WRITE, KVE_CONSOLE_SESSIONS_MAX_BODY},

    {NULL}};
