/* SPDX-License-Identifier: MIT */
/*
 * TLS client contexts for upstreams (h2o's proxy routes and the HTTP client), one per upstream.
 *
 * h2o 2.2.5 checks the server's name itself only when no handshake bytes are left to flush, which under
 * TLS 1.3 is never the case (the client's Finished is pending), so a certificate for another name passes
 * (h2o-notes §9, h2o issue #2305). These contexts make OpenSSL do the whole check during the handshake,
 * whatever the TLS version: SSL_VERIFY_PEER against the system store or a CA file, and the expected name
 * (or IP address) in the context's X509_VERIFY_PARAM. A mismatch fails the handshake with "hostname
 * mismatch" (or "IP address mismatch").
 */
#ifndef KVE_PROXY_TLS_CLIENT_H
#define KVE_PROXY_TLS_CLIENT_H

#include <stddef.h>
#include <openssl/ssl.h>

/**
 * Creates a client context (TLS 1.2 or newer) that verifies the peer's chain against `ca_file` (NULL or ""
 * = the system store) and its name against `host` (`host_len` bytes; an IPv4/IPv6 literal is matched
 * against the certificate's IP entries, anything else against its DNS names). Returns the context (the
 * caller owns one reference: SSL_CTX_free), or NULL with a message in `err` (unreadable CA file, name too
 * long).
 */
SSL_CTX *kve_tls_client_ctx_create(const char *host, size_t host_len, const char *ca_file, char *err, size_t errlen);

/**
 * Makes `ctx` present a client certificate (mutual TLS): the PEM chain in `cert_file` (the leaf first) and its
 * private key in `key_file` (PEM, unencrypted). Returns 0, or -1 with a message in `err` naming the file that could
 * not be loaded or a key that does not match the certificate (the context is unchanged then only in part: free it).
 */
int kve_tls_client_ctx_use_certificate(SSL_CTX *ctx, const char *cert_file, const char *key_file, char *err, size_t errlen);

/**
 * A context like `tmpl` (one made above: its trusted certificates and client certificate, shared, not read again)
 * that verifies the name `host` (NUL-terminated; an address literal against the certificate's IP entries). For peers
 * learnt at run time (a cluster's nodes), so no file is read on a worker thread. Returns the context (the caller owns
 * one reference), or NULL with a message in `err`.
 */
SSL_CTX *kve_tls_client_ctx_derive(SSL_CTX *tmpl, const char *host, char *err, size_t errlen);

#endif
