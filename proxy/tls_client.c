/* SPDX-License-Identifier: MIT */
/* Verifying TLS client contexts (see tls_client.h). */
#include "proxy/tls_client.h"
#include "proxy/common.h"

#include <stdio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* a TLS 1.2+ client context verifying its peer against the name or address `host`; no trusted certificate yet */
static SSL_CTX *client_ctx_new(const char *host, size_t host_len, char *err, size_t errlen)
{
    SSL_CTX *ctx;
    X509_VERIFY_PARAM *param;
    char name[256];

    if (host_len == 0 || host_len >= sizeof(name)) {
        snprintf(err, errlen, "TLS server name must be 1 to %zu bytes", sizeof(name) - 1);
        return NULL;
    }
    memcpy(name, host, host_len);
    name[host_len] = '\0';
    ctx = SSL_CTX_new(TLS_client_method());
    KVE_ASSERT(ctx != NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    param = SSL_CTX_get0_param(ctx);
    /* an address literal is checked against the certificate's IP entries, anything else against its names */
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1 && X509_VERIFY_PARAM_set1_host(param, name, 0) != 1) {
        snprintf(err, errlen, "cannot set the TLS server name to verify");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    ERR_clear_error(); /* set1_ip_asc leaves an error for a name that is not an address */
    return ctx;
}

SSL_CTX *kve_tls_client_ctx_create(const char *host, size_t host_len, const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx;
    int ok;

    if ((ctx = client_ctx_new(host, host_len, err, errlen)) == NULL)
        return NULL;
    ok = ca_file != NULL && ca_file[0] != '\0' ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                                               : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(err, errlen, "cannot load CA certificates%s%s", ca_file != NULL ? " from " : "", ca_file != NULL ? ca_file : "");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int kve_tls_client_ctx_use_certificate(SSL_CTX *ctx, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    unsigned long e = 0;

    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        e = ERR_peek_last_error();
        snprintf(err, errlen, "cannot load the client certificate from %s: %s", cert_file, ERR_reason_error_string(e));
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        /* (OpenSSL compares the key with the certificate as it loads it) */
        e = ERR_peek_last_error();
        if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH || ERR_GET_LIB(e) == ERR_LIB_X509)
            snprintf(err, errlen, "the client private key %s does not match the certificate %s", key_file, cert_file);
        else
            snprintf(err, errlen, "cannot load the client private key from %s: %s", key_file, ERR_reason_error_string(e));
    } else {
        return 0;
    }
    ERR_clear_error();
    return -1;
}

SSL_CTX *kve_tls_client_ctx_derive(SSL_CTX *tmpl, const char *host, char *err, size_t errlen)
{
    X509_STORE *store = SSL_CTX_get_cert_store(tmpl);
    X509 *cert = SSL_CTX_get0_certificate(tmpl);
    EVP_PKEY *key = SSL_CTX_get0_privatekey(tmpl);
    STACK_OF(X509) *chain = NULL;
    SSL_CTX *ctx;

    if ((ctx = client_ctx_new(host, strlen(host), err, errlen)) == NULL)
        return NULL;
    X509_STORE_up_ref(store);
    SSL_CTX_set_cert_store(ctx, store); /* takes the reference */
    if (cert != NULL && (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
                         (SSL_CTX_get0_chain_certs(tmpl, &chain) == 1 && chain != NULL && SSL_CTX_set1_chain(ctx, chain) != 1))) {
        snprintf(err, errlen, "cannot share the client certificate");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
