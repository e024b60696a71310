/* SPDX-License-Identifier: MIT */
/* Listening sockets and their TLS contexts (see listener.h). */
#include "proxy/listener.h"
#include "proxy/common.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509.h>

/* certificate chains and keys larger than this are refused (a chain is a few KiB) */
#define KVE_TLS_MAX_FILE (1024 * 1024)

/* HTTP/1.1 only: ALPN must not offer h2 (h2o 2.2.5 has no rapid-reset protection, see docs/configuration.md) */
static const h2o_iovec_t http1_alpn[] = {{H2O_STRLIT("http/1.1")}, {NULL}};

/* "cannot load <what> <path>: <reason>", the reason from OpenSSL's error queue (its text without the error code,
 * stable across builds) with what was expected, or for a file that cannot be opened, the system's */
static void ssl_error(char *err, size_t errlen, const char *what, const char *path, const char *expected)
{
    unsigned long e = ERR_peek_error();
    int sys = e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS;
    const char *reason = e == 0 ? NULL : sys ? strerror(ERR_GET_REASON(e)) : ERR_reason_error_string(e);
    snprintf(err, errlen, "cannot load %s %s: %s%s%s%s", what, path, reason != NULL ? reason : "unknown error", sys ? "" : " (",
             sys ? "" : expected, sys ? "" : ")");
    ERR_clear_error();
}

/* the key was read but is not the certificate's (SSL_CTX_use_PrivateKey_file checks it against the certificate) */
static int key_mismatch(void)
{
    unsigned long e = ERR_peek_error();
    return ERR_GET_LIB(e) == ERR_LIB_X509 &&
           (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH || ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

/* `path` is a regular file of at most KVE_TLS_MAX_FILE bytes (OpenSSL would read /dev/zero or a FIFO for ever), else
 * -1 with the message in `err` */
static int check_tls_file(const char *what, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot load %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > KVE_TLS_MAX_FILE) {
        snprintf(err, errlen, "cannot load %s %s: %s", what, path,
                 S_ISREG(st.st_mode) ? "larger than 1 MiB" : "not a regular file");
        return -1;
    }
    return 0;
}

SSL_CTX *kve_listener_tls_new(const kve_tls_conf_t *tls, int http2, kve_tls_failure_t *failed, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    KVE_ASSERT(ctx != NULL);
    ERR_clear_error();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    *failed = KVE_TLS_BAD_CERT;
    if (check_tls_file("the certificate chain", tls->cert_file, err, errlen) != 0)
        goto Error;
    if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
        ssl_error(err, errlen, "the certificate chain", tls->cert_file, "expected PEM certificates, the server's first");
        goto Error;
    }
    *failed = KVE_TLS_BAD_KEY;
    if (check_tls_file("the private key", tls->key_file, err, errlen) != 0)
        goto Error;
    if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1 && !key_mismatch()) {
        ssl_error(err, errlen, "the private key", tls->key_file, "expected an unencrypted PEM private key");
        goto Error;
    }
    if (ERR_peek_error() != 0 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "the private key %s does not match the certificate %s", tls->key_file, tls->cert_file);
        goto Error;
    }
    *failed = KVE_TLS_OK;
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
    kve_tls_failure_t failed;
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (conf->tls.cert_file != NULL && (l->ssl_ctx = kve_listener_tls_new(&conf->tls, http2, &failed, err, errlen)) == NULL)
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
    kve_tls_failure_t failed;
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (conf->tls.cert_file != NULL && (l->ssl_ctx = kve_listener_tls_new(&conf->tls, http2, &failed, err, errlen)) == NULL)
        return -1;
    if ((l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
        snprintf(err, errlen, "cannot take over the socket of %s:%d: %s", conf->host, (int)conf->port, strerror(errno));
        kve_listener_close(l);
        return -1;
    }
    return 0;
}
