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
