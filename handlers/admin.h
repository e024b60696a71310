/* SPDX-License-Identifier: MIT */
/*
 * Admin endpoints: /healthz (the process answers), /readyz (every link of every store on every thread
 * answers PING within the timeout, readyz.h) and /metrics (Prometheus text: requests by route and status,
 * latency histograms, connections, the state and counters of the stores' links with a `store` label,
 * embedded Redis restarts). All of them require
 * "Authorization: Bearer <token>" when a token is configured (compared in constant time).
 */
#ifndef KVE_HANDLERS_ADMIN_H
#define KVE_HANDLERS_ADMIN_H

#include "h2o.h"
#include "proxy/embedded.h"
#include "proxy/server.h"

/** `admin.console`: the web console (handlers/console.h) */
typedef struct st_kve_admin_console_conf_t {
    int enabled;
    /** where it is served (absolute, not "/", e.g. "/ui") */
    char *path;
    /** lifetime of a console session */
    uint64_t session_ttl_ms;
} kve_admin_console_conf_t;

typedef struct st_kve_admin_conf_t {
    /** prefix of the three endpoints ("/" gives /healthz, /readyz, /metrics) */
    char *path;
    /** NULL or empty: no authentication (a secret) */
    char *token;
    /** how long /readyz waits for PONG */
    uint64_t ready_timeout_ms;
    /** NULL or empty: none; the token of a read-only web console user (a secret; handlers/console.h) */
    char *read_only_token;
    /** `admin.console`: the web console (handlers/console.h) */
    kve_admin_console_conf_t console;
} kve_admin_conf_t;

typedef enum { KVE_ADMIN_HEALTHZ, KVE_ADMIN_READYZ, KVE_ADMIN_METRICS } kve_admin_endpoint_t;

/** What /metrics reports on; borrowed, must outlive the server. `embedded` may be NULL. */
typedef struct st_kve_admin_sources_t {
    kve_server_t *server;
    kve_embedded_t *embedded;
} kve_admin_sources_t;

/** Registers `endpoint` as the next handler of `pathconf`. `conf` is copied; `sources` is borrowed. */
void kve_admin_register(h2o_pathconf_t *pathconf, kve_admin_endpoint_t endpoint, const kve_admin_conf_t *conf,
                        const kve_admin_sources_t *sources);

#endif
