/* SPDX-License-Identifier: MIT */
/*
 * Timeouts validated across sections, after the tables are applied (each duration already has its range in its
 * table). Only combinations that change what a timeout does are checked; each message names both directives, their
 * values and where each came from (a line of the file, a block of defaults, or the default). What was weighed, from
 * how each timeout is used (docs/configuration.md, "Timeouts that depend on each other"):
 *  - limits.drain_timeout < kv.script_timeout on an external store: a warning. A script request still running when
 *    the drain ends is abandoned before its timeout, so the watchdog never sends SCRIPT KILL and the script keeps
 *    the external Redis busy for every client (an embedded Redis is stopped with kvedge, the script with it).
 *  - Not checked, as they are legal and do what they say: kv.script_timeout against the KV command timeout (shorter
 *    scripts are a valid policy), kv.command_timeout against redis.command_timeout (it overrides it for the KV API),
 *    admin.ready_timeout against redis.connect_timeout or command_timeout (a /readyz that gives up on a link still
 *    connecting reports it not ready, which it is), limits.drain_timeout against a route's timeout (an I/O timeout
 *    between reads, not a bound on a request, so no ordering of the two bounds anything).
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>

/* "250ms", "5s", "2m", "1h": the largest unit that divides the value */
static const char *format_ms(char *buf, size_t size, uint64_t ms)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(units); ++i) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
            return buf;
        }
    }
    snprintf(buf, size, "%llums", (unsigned long long)ms);
    return buf;
}

/* "5s, line 12" / "5s, the default" / "5s, from proxy.timeout, line 3" for the duration at `field` */
static const char *describe(kve_conf_t *conf, const uint64_t *field, char *buf, size_t size)
{
    char value[32], origin[128];
    snprintf(buf, size, "%s, %s", format_ms(value, sizeof(value), *field),
             kve_conf_describe_origin(conf, field, origin, sizeof(origin)));
    return buf;
}

/* the node to point at for a rule between `a` and `b`: the one given in the file (a first), else the document */
static const kve_node_t *rule_node(kve_conf_t *conf, const void *a, const void *b)
{
    return kve_conf_origin_node(conf, a, kve_conf_origin_node(conf, b, kve_conf_root(conf)));
}

/* limits.drain_timeout against kv.script_timeout, when the KV API's store is an external Redis */
static void check_drain_vs_script(kve_conf_t *conf, const kve_config_t *cfg)
{
    const uint64_t *drain = &cfg->server.limits.drain_timeout_ms, *script = &cfg->kv.script_timeout_ms;
    const kve_store_conf_t *store;
    char a[192], b[192];

    if (!cfg->kv_enabled || *drain == 0 || *drain >= *script)
        return;
    store = kve_config_kv_store(cfg);
    if (strcmp(store->redis->url, "embedded") == 0)
        return;
    kve_conf_warn(conf, rule_node(conf, drain, script),
                  "limits.drain_timeout (%s) is shorter than kv.script_timeout (%s): a script still running when kvedge stops "
                  "is abandoned before its timeout, so it is never stopped with SCRIPT KILL and keeps store \"%s\" (an external "
                  "Redis) busy for every client until it ends; make drain_timeout at least script_timeout",
                  describe(conf, drain, a, sizeof(a)), describe(conf, script, b, sizeof(b)), store->name);
}

int kve_config__check_timeouts(kve_conf_t *conf, const kve_config_t *cfg)
{
    check_drain_vs_script(conf, cfg);
    return 0;
}
