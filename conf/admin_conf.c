/* SPDX-License-Identifier: MIT */
/*
 * Directive table of `admin:` (the /healthz, /readyz and /metrics endpoints).
 */
#include "conf/config.h"
#include "conf/config_internal.h"

#include <string.h>

int kve_config__check_admin(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_admin_conf_t *admin = obj;
    if (kve_config__check_path(conf, node, admin->path) != 0)
        return -1;
    const kve_node_t *console = kve_config__at_key(node, "console");
    if (admin->console.enabled && kve_config__check_path(conf, console, admin->console.path) != 0)
        return -1;
    if (admin->console.enabled && strcmp(admin->console.path, "/") == 0) {
        kve_conf_error(conf, kve_config__at_key(console, "path"), "the console needs a path of its own, not \"/\"");
        return -1;
    }
    if (admin->console.enabled && (admin->token == NULL || admin->token[0] == '\0')) {
        kve_conf_error(conf, console, "the console needs admin.token (its login password)");
        return -1;
    }
    if (admin->read_only_token != NULL && admin->token != NULL && strcmp(admin->read_only_token, admin->token) == 0) {
        kve_conf_error(conf, kve_config__at_key(node, "read_only_token"), "admin.read_only_token must differ from admin.token");
        return -1;
    }
    return 0;
}

static const kve_directive_t console_directives[] = {
    {"enabled", KVE_T_BOOL, KVE_FIELD(kve_admin_console_conf_t, enabled), .dflt = "false",
     .doc = "serve the web console (off unless set; needs admin.token, which is its login password)"},
    {"path", KVE_T_STRING, KVE_FIELD(kve_admin_console_conf_t, path), .min = 1, .max = 256, .dflt = "/ui",
     .doc = "where the console is served (an absolute path of its own; its session cookie is scoped to it)"},
    {"session_ttl", KVE_T_DURATION, KVE_FIELD(kve_admin_console_conf_t, session_ttl_ms), 0, 60 * SEC, 24 * 3600 * SEC, "12h",
     .doc = "lifetime of a console login (1m to 24h; sessions are held in memory and end at a restart)"},
    {NULL}};

const kve_directive_t kve_config__admin_directives[] = {
    {"path", KVE_T_STRING, KVE_FIELD(kve_admin_conf_t, path), .min = 1, .max = 256, .dflt = "/",
     .doc = "prefix of /healthz, /readyz, /metrics and (when a route caches) /purge"},
    {"token", KVE_T_STRING, KVE_FIELD(kve_admin_conf_t, token), KVE_F_SECRET, 16, 4096,
     .doc = "require Authorization: Bearer <token> (at least 16 bytes; or token_file)"},
    {"read_only_token", KVE_T_STRING, KVE_FIELD(kve_admin_conf_t, read_only_token), KVE_F_SECRET, 16, 4096,
     .doc = "a second console password (or read_only_token_file) whose sessions may look but change nothing"},
    {"console", KVE_T_MAP, KVE_FIELD(kve_admin_conf_t, console), .children = console_directives,
     .doc = "the web console: overview, configuration, check (docs/console.md)"},
    {"ready_timeout", KVE_T_DURATION, KVE_FIELD(kve_admin_conf_t, ready_timeout_ms), 0, 10, 60 * SEC, "1s",
     .doc = "how long /readyz waits for each link's PING (all links are PINGed at once); keep it below the probe's timeout"},
    {NULL}};
