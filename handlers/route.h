/* SPDX-License-Identifier: MIT */
/*
 * Plain reverse-proxy routes: a URL prefix forwarded to an upstream with h2o's proxy. For https
 * upstreams each route gets its own TLS client context that verifies the certificate chain and the host
 * name in OpenSSL itself, because h2o 2.2.5 skips its own name check under TLS 1.3 (h2o-notes §9).
 */
#ifndef KVE_HANDLERS_ROUTE_H
#define KVE_HANDLERS_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache.h"
#include "handlers/session.h"

typedef struct st_kve_route_conf_t {
    char *path;
    char *upstream;
    uint64_t timeout_ms;
    uint64_t keepalive_timeout_ms;
    int preserve_host;
    /** https upstreams: CA bundle; NULL = the system store */
    char *ca_file;
    /** the HTTP cache (cache.present && cache.enabled: the route is cached) */
    kve_cache_conf_t cache;
    /** sessions (session.present && mode != off: the route has sessions; docs/sessions.md) */
    kve_session_conf_t session;
} kve_route_conf_t;

/**
 * Registers the proxy for `conf` as the next handler of `pathconf`. Returns 0, or -1 with a message in
 * `err` (bad upstream URL, unreadable CA file).
 */
int kve_route_register(h2o_pathconf_t *pathconf, const kve_route_conf_t *conf, char *err, size_t errlen);

#endif
