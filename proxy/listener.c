/* SPDX-License-Identifier: MIT */
/* Listening sockets and their TLS contexts (see listener.h). */
#include "proxy/listener.h"
#include "proxy/common.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

/* HTTP/1.1 only: ALPN must not offer h2 (h2o 2.2.5 has no rapid-reset protection, see docs/configuration.md) */
static const h2o_iovec_t http1_alpn[] = {{H2O_STRLIT("http/1.1")}, {NULL}};

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[160];
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errlen, "%s %s: %s", what, path, e != 0 ? buf : "unknown error");
    ERR_clear_error();
}

static SSL_CTX *create_ssl_ctx(const kve_tls_conf_t *tls, int http2, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    KVE_ASSERT(ctx != NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
        ssl_error(err, errlen, "cannot load certificate", tls->cert_file);
        goto Error;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_error(err, errlen, "cannot load private key", tls->key_file);
        goto Error;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error(err, errlen, "private key does not match the certificate", tls->key_file);
        goto Error;
    }
    h2o_ssl_register_alpn_protocols(ctx, http2 ? h2o_alpn_protocols : http1_alpn);
    return ctx;
Error:
    SSL_CTX_free(ctx);
    return NULL;
}

static int bind_listen(const kve_listen_conf_t *conf, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res;
    char port[16];
    int fd = -1, on = 1, ret;

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG;
    snprintf(port, sizeof(port), "%d", (int)conf->port);
    if ((ret = getaddrinfo(conf->host, port, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", conf->host, gai_strerror(ret));
        return -1;
    }
    if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, H2O_SOMAXCONN) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%s: %s", conf->host, port, strerror(errno));
        if (fd != -1)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int kve_listener_open(kve_listener_t *l, const kve_listen_conf_t *conf, int http2, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (conf->tls.cert_file != NULL && (l->ssl_ctx = create_ssl_ctx(&conf->tls, http2, err, errlen)) == NULL)
        return -1;
    if ((l->fd = bind_listen(conf, err, errlen)) == -1) {
        kve_listener_close(l);
        return -1;
    }
    return 0;
}

void kve_listener_close(kve_listener_t *l)
{
    if (l->fd != -1)
        close(l->fd);
    l->fd = -1;
    if (l->ssl_ctx != NULL)
        SSL_CTX_free(l->ssl_ctx);
    l->ssl_ctx = NULL;
}

int kve_listener_adopt(kve_listener_t *l, const kve_listen_conf_t *conf, int http2, int fd, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (conf->tls.cert_file != NULL && (l->ssl_ctx = create_ssl_ctx(&conf->tls, http2, err, errlen)) == NULL)
        return -1;
    if ((l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
        snprintf(err, errlen, "cannot take over the socket of %s:%d: %s", conf->host, (int)conf->port, strerror(errno));
        kve_listener_close(l);
        return -1;
    }
    return 0;
}
