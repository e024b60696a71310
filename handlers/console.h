/* SPDX-License-Identifier: MIT */
/*
 * The web console (issue 13; docs/console.md): served on `admin.console.path` when `admin.console.enabled`, behind
 * a login with the admin token (or `admin.read_only_token`, whose sessions change nothing). One handler owns the
 * whole path; it serves the assets built into the binary (console/, handlers/console_assets.h), the login form's
 * POST, and the JSON APIs of the pages through a table of routes (handlers/console_routes.h).
 *
 * The console never reaches into conf/ (dependencies run conf -> handlers -> proxy): what it needs from the
 * configuration comes in kve_console_hooks_t, filled by conf/console_conf.c.
 */
#ifndef KVE_HANDLERS_CONSOLE_H
#define KVE_HANDLERS_CONSOLE_H

#include "h2o.h"
#include "handlers/admin.h"
#include "proxy/buf.h"

/** The longest body POST <path>/api/check takes (a configuration text); larger ones are answered 413. */
#define KVE_CONSOLE_MAX_CHECK_BODY (256 * 1024)
/** The longest body of the other POSTs (the login form, the JSON of later pages); larger ones are answered 413. */
#define KVE_CONSOLE_MAX_BODY (16 * 1024)

/** What the console needs from the configuration; kve_console_register() takes ownership of the strings and `ctx`. */
typedef struct st_kve_console_hooks_t {
    /** the running configuration as a JSON object, every secret redacted (malloc'd) */
    char *config_json;
    /**
     * Checks the configuration `text` (`len` bytes, NUL-terminated) as `kvedge -t` would, without applying it, and
     * appends {"valid":bool,"errors":[...],"warnings":[...],"output":"..."} to `out`. Runs on a worker thread.
     */
    void (*check)(void *ctx, const char *text, size_t len, kve_buf_t *out);
    void *ctx;
    /** frees `ctx` when the handler is disposed (may be NULL) */
    void (*free_ctx)(void *ctx);
    /** the configuration's routes (borrowed: they outlive the console), for the cache page (handlers/console_cache.h) */
    const struct st_kve_route_conf_t *routes;
    size_t num_routes;
    /** the id of the store the KV API (`kv:`) serves, the keys page's first choice; -1: no KV API (the first store) */
    int kv_store;
} kve_console_hooks_t;

/**
 * Registers the console as the next handler of `pathconf` (registered at conf->console.path). `conf` is copied;
 * `sources` is borrowed (it must outlive the server); `hooks`' contents are taken.
 */
void kve_console_register(h2o_pathconf_t *pathconf, const kve_admin_conf_t *conf, const kve_admin_sources_t *sources,
                          kve_console_hooks_t *hooks);

#endif
