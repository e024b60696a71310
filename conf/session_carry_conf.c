/* SPDX-License-Identifier: MIT */
/*
 * The check of `session.login_carry` (issue 10; docs/sessions.md §7): the data keys a Login from an anonymous session
 * carries over into the new session. Each entry is a data key as X-Session-Set takes it (1..128 bytes), or the list is
 * the one entry "*" (every key).
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "handlers/session_internal.h"

#include <string.h>

int kve_config__check_session_carry(kve_conf_t *conf, const kve_node_t *node, kve_session_conf_t *s)
{
    for (size_t i = 0; i != s->login_carry.size; ++i) {
        const char *k = s->login_carry.entries[i];
        size_t len = strlen(k);
        if (len == 0 || len > KVE_SESSION_DATA_KEY_MAX) {
            kve_conf_error(conf, kve_conf_origin_node(conf, &s->login_carry, node),
                           "login_carry: entry %zu is not a data key (1 to %d bytes)", i, KVE_SESSION_DATA_KEY_MAX);
            return -1;
        }
        if (strcmp(k, "*") == 0 && s->login_carry.size != 1) {
            kve_conf_error(conf, kve_conf_origin_node(conf, &s->login_carry, node),
                           "login_carry: \"*\" (every key) must be the only entry");
            return -1;
        }
    }
    return 0;
}
