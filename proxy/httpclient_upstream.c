/* SPDX-License-Identifier: MIT */
/*
 * HTTP client upstreams: defaults, validation of the limits, the URL (scheme, host, port, the Host header
 * value, the address when the host is a literal) and the verifying TLS context (tls_client.h).
 */
#include "proxy/httpclient_internal.h"
#include "proxy/common.h"
#include "proxy/tls_client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/un.h>

#define MIN_HEAD_SIZE 256
#define MAX_HEAD_SIZE (1024 * 1024)
#define MAX_TIMEOUT_MS (24 * 3600 * 1000ULL)

void kve_httpclient_conf_defaults(kve_httpclient_conf_t *conf)
{
    *conf = (kve_httpclient_conf_t){.connect_timeout_ms = 5000,
                                    .io_timeout_ms = 30000,
                                    .deadline_ms = 0,
                                    .idle_timeout_ms = 2000,
                                    .max_idle = 16,
                                    .max_inflight = 256,
                                    .max_queue = 1024,
                                    .max_head_size = 64 * 1024,
                                    .max_headers = 100};
}

static int check_limits(const kve_httpclient_conf_t *c, char *err, size_t errlen)
{
    const char *what = NULL;
    if (c->connect_timeout_ms == 0 || c->connect_timeout_ms > MAX_TIMEOUT_MS)
        what = "connect_timeout must be 1 ms to 24 h";
    else if (c->io_timeout_ms == 0 || c->io_timeout_ms > MAX_TIMEOUT_MS)
        what = "io_timeout must be 1 ms to 24 h";
    else if (c->deadline_ms > MAX_TIMEOUT_MS || c->idle_timeout_ms > MAX_TIMEOUT_MS)
        what = "deadline and idle_timeout must be at most 24 h";
    else if (c->max_inflight == 0 || c->max_inflight > 1000000 || c->max_queue > 1000000 || c->max_idle > 1000000)
        what = "max_inflight must be 1 to 1000000, max_queue and max_idle at most 1000000";
    else if (c->max_head_size < MIN_HEAD_SIZE || c->max_head_size > MAX_HEAD_SIZE)
        what = "max_head_size must be 256 bytes to 1 MiB";
    else if (c->max_headers == 0 || c->max_headers > KVE_HTTPCLIENT_MAX_HEADERS)
        what = "max_headers must be 1 to 256";
    if (what != NULL)
        snprintf(err, errlen, "%s", what);
    return what != NULL ? -1 : 0;
}

/* the address of a literal host (IPv4, IPv6, [unix:/path]); 1 if one, 0 for a name, -1 on error */
static int literal_address(kve_httpclient_upstream_t *up, h2o_iovec_t host, char *err, size_t errlen)
{
    struct sockaddr_in *sin = (void *)&up->addr;
    struct sockaddr_in6 *sin6 = (void *)&up->addr;
    struct sockaddr_un *sun = (void *)&up->addr;
    const char *sun_err;

    if (inet_pton(AF_INET, up->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(up->port);
        up->addrlen = sizeof(*sin);
        return 1;
    }
    if (inet_pton(AF_INET6, up->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(up->port);
        up->addrlen = sizeof(*sin6);
        return 1;
    }
    if ((sun_err = h2o_url_host_to_sun(host, sun)) != h2o_url_host_to_sun_err_is_not_unix_socket) {
        if (sun_err != NULL) {
            snprintf(err, errlen, "upstream %s: %s", up->conf.url, sun_err);
            return -1;
        }
        up->addrlen = sizeof(*sun);
        return 1;
    }
    return 0;
}

static int parse_url(kve_httpclient_upstream_t *up, char *err, size_t errlen)
{
    h2o_url_t url;
    int literal;

    if (h2o_url_parse(up->conf.url, SIZE_MAX, &url) != 0) {
        snprintf(err, errlen, "cannot parse upstream URL %s", up->conf.url);
        return -1;
    }
    if (!(url.path.len == 1 && url.path.base[0] == '/')) {
        snprintf(err, errlen, "upstream URL %s: a path is not allowed (give it with each request)", up->conf.url);
        return -1;
    }
    up->is_tls = url.scheme == &H2O_URL_SCHEME_HTTPS;
    up->port = h2o_url_get_port(&url);
    up->host = kve_strndup(url.host.base, url.host.len);
    if ((literal = literal_address(up, url.host, err, errlen)) < 0)
        return -1;
    /* a unix socket's "[unix:/path]" is no host name: the Host header says localhost */
    up->authority = up->addr.ss_family == AF_UNIX ? kve_strdup("localhost") : kve_strndup(url.authority.base, url.authority.len);
    return 0;
}

kve_httpclient_upstream_t *kve_httpclient_upstream_create(const kve_httpclient_conf_t *conf, char *err, size_t errlen)
{
    kve_httpclient_upstream_t *up;

    if (conf->url == NULL) {
        snprintf(err, errlen, "upstream URL missing");
        return NULL;
    }
    if (check_limits(conf, err, errlen) != 0)
        return NULL;
    up = kve_zalloc(sizeof(*up));
    up->conf = *conf;
    up->conf.url = kve_strdup(conf->url);
    up->conf.ca_file = kve_strdup(conf->ca_file);
    up->conf.tls_server_name = kve_strdup(conf->tls_server_name);
    if (parse_url(up, err, errlen) != 0)
        goto Error;
    if (up->is_tls) {
        up->server_name =
            kve_strdup(conf->tls_server_name != NULL && conf->tls_server_name[0] != '\0' ? conf->tls_server_name : up->host);
        if ((up->ssl_ctx = kve_tls_client_ctx_create(up->server_name, strlen(up->server_name), conf->ca_file, err, errlen)) == NULL)
            goto Error;
    }
    return up;
Error:
    kve_httpclient_upstream_destroy(up);
    return NULL;
}

void kve_httpclient_upstream_destroy(kve_httpclient_upstream_t *up)
{
    if (up == NULL)
        return;
    if (up->ssl_ctx != NULL)
        SSL_CTX_free(up->ssl_ctx);
    free((char *)up->conf.url);
    free((char *)up->conf.ca_file);
    free((char *)up->conf.tls_server_name);
    free(up->host);
    free(up->authority);
    free(up->server_name);
    free(up);
}

const kve_httpclient_conf_t *kve_httpclient_upstream_conf(const kve_httpclient_upstream_t *up)
{
    return &up->conf;
}
