/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets, opened on the main thread before the workers start (so "address in use" or a bad
 * certificate is a startup error), each with its TLS context when configured. Workers dup() the fd
 * into their own loop, as h2o's own server does.
 */
#ifndef KVE_PROXY_LISTENER_H
#define KVE_PROXY_LISTENER_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "proxy/server.h"

typedef struct st_kve_listener_t {
    int fd;
    /** NULL for plain HTTP */
    SSL_CTX *ssl_ctx;
} kve_listener_t;

/** Which file kve_listener_tls_new() could not use. */
typedef enum { KVE_TLS_OK, KVE_TLS_BAD_CERT, KVE_TLS_BAD_KEY } kve_tls_failure_t;

/**
 * The TLS context of a listener: loads the PEM certificate chain `tls->cert_file` and private key `tls->key_file`
 * and checks that the key matches the certificate (SSL_CTX_check_private_key); ALPN offers h2 only if `http2`. The one
 * function both startup (kve_listener_open) and the configuration check (conf/server_conf.c, so `kvedge -t`) load
 * them with. Returns a context the caller frees (SSL_CTX_free), or NULL with a message in `err` and in `*failed` the
 * file at fault (KVE_TLS_BAD_KEY also for a key that does not match).
 */
SSL_CTX *kve_listener_tls_new(const kve_tls_conf_t *tls, int http2, kve_tls_failure_t *failed, char *err, size_t errlen);

/**
 * Binds and listens on `conf` (non-blocking, close-on-exec), loading the certificate and key when `tls` is
 * set; ALPN offers h2 only if `http2`. Returns 0, or -1 with a message in `err`.
 */
int kve_listener_open(kve_listener_t *l, const kve_listen_conf_t *conf, int http2, char *err, size_t errlen);

/**
 * Like kve_listener_open, but on a socket that is already listening (`fd`, borrowed: the listener gets its own
 * duplicate): a reload keeps the sockets of the addresses it keeps, so no connection is refused meanwhile. The TLS
 * context is made anew from `conf` (the certificate may have changed).
 */
int kve_listener_adopt(kve_listener_t *l, const kve_listen_conf_t *conf, int http2, int fd, char *err, size_t errlen);

/** Closes the socket and frees the TLS context. */
void kve_listener_close(kve_listener_t *l);

#endif
