/* SPDX-License-Identifier: MIT */
/* Reverse-proxy routes on h2o's proxy, with a verifying TLS client context per https upstream. */
#include "handlers/route.h"
#include "handlers/upstream_errors.h"
#include "proxy/common.h"
#include "proxy/tls_client.h"

#include <stdio.h>

int kve_route_register(h2o_pathconf_t *pathconf, const kve_route_conf_t *conf, char *err, size_t errlen)
{
    h2o_url_t url;
    h2o_proxy_config_vars_t vars = {0};

    if (h2o_url_parse(conf->upstream, SIZE_MAX, &url) != 0) {
        snprintf(err, errlen, "route %s: cannot parse upstream URL %s", conf->path, conf->upstream);
        return -1;
    }
    vars.io_timeout = conf->timeout_ms;
    vars.keepalive_timeout = conf->keepalive_timeout_ms;
    vars.preserve_host = conf->preserve_host != 0;
    if (url.scheme == &H2O_URL_SCHEME_HTTPS &&
        (vars.ssl_ctx = kve_tls_client_ctx_create(url.host.base, url.host.len, conf->ca_file, err, errlen)) == NULL)
        return -1;
    if (conf->session.present && conf->session.mode != KVE_SESSION_OFF)
        kve_session_register(pathconf, &conf->session); /* a handler before the proxy, and the filter */
    if (conf->cache.present && conf->cache.enabled) {
        kve_cache_upstream_t up = {conf->upstream, conf->ca_file, conf->timeout_ms, conf->preserve_host};
        kve_cache_register(pathconf, &conf->cache, &up); /* a handler before the proxy, and the filter */
    }
    kve_upstream_timeout_register(pathconf);                 /* created last, so it runs first: the other filters see the 504 */
    h2o_proxy_register_reverse_proxy(pathconf, &url, &vars); /* takes its own reference on ssl_ctx */
    if (vars.ssl_ctx != NULL)
        SSL_CTX_free(vars.ssl_ctx);
    return 0;
}
