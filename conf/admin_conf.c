/* SPDX-License-Identifier: MIT */
/*
 * Directive table of `admin:` (the /healthz, /readyz and /metrics endpoints).
 */
#include "conf/config.h"
#include "conf/config_internal.h"

int kve_config__check_admin(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_admin_conf_t *admin = obj;
    return kve_config__check_path(conf, node, admin->path);
}

const kve_directive_t kve_config__admin_directives[] = {
    {"path", KVE_T_STRING, KVE_FIELD(kve_admin_conf_t, path), .min = 1, .max = 256, .dflt = "/",
     .doc = "prefix of /healthz, /readyz, /metrics and (when a route caches) /purge"},
    {"token", KVE_T_STRING, KVE_FIELD(kve_admin_conf_t, token), KVE_F_SECRET, 16, 4096,
     .doc = "require Authorization: Bearer <token> (at least 16 bytes; or token_file)"},
    {"ready_timeout", KVE_T_DURATION, KVE_FIELD(kve_admin_conf_t, ready_timeout_ms), 0, 10, 60 * SEC, "1s",
     .doc = "how long /readyz waits for each link's PING (all links are PINGed at once); keep it below the probe's timeout"},
    {NULL}};
