/* SPDX-License-Identifier: MIT */
/* Reverse-proxy routes on h2o's proxy, with a verifying TLS client context per https upstream. */
#include "handlers/route.h"
#include "proxy/common.h"

#include <stdio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static SSL_CTX *create_client_ssl_ctx(const h2o_url_t *url, const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char host[256];
    int ok;

    KVE_ASSERT(ctx != NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    ok = ca_file != NULL && ca_file[0] != '\0' ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                                               : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(err, errlen, "cannot load CA certificates%s%s", ca_file != NULL ? " from " : "", ca_file != NULL ? ca_file : "");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    snprintf(host, sizeof(host), "%.*s", (int)url->host.len, url->host.base);
    /* OpenSSL checks the name (or the IP address, against the certificate's IP entries) during the handshake,
     * whatever the TLS version */
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), host) != 1)
        X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), host, 0);
    return ctx;
}

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
    if (url.scheme == &H2O_URL_SCHEME_HTTPS && (vars.ssl_ctx = create_client_ssl_ctx(&url, conf->ca_file, err, errlen)) == NULL)
        return -1;
    h2o_proxy_register_reverse_proxy(pathconf, &url, &vars); /* takes its own reference on ssl_ctx */
    if (vars.ssl_ctx != NULL)
        SSL_CTX_free(vars.ssl_ctx);
    return 0;
}
