/* SPDX-License-Identifier: MIT */
/* The JWKS endpoint of the sessions' ES256 keys (see session_jwks.h). */
#include "handlers/session_jwks.h"
#include "proxy/buf.h"
#include "proxy/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_jwks_handler_t {
    h2o_handler_t super;
    char *document;
    size_t len;
    char max_age[32];
} jwks_handler_t;

char *kve_session_jwks_document(const kve_es256_key_t *const *keys, size_t n)
{
    kve_buf_t buf = KVE_BUF_INIT;
    size_t listed = 0;
    char *out;

    kve_buf_append(&buf, H2O_STRLIT("{\"keys\":["));
    for (size_t i = 0; i != n; ++i) {
        size_t j;
        for (j = 0; j != i && strcmp(kve_es256_key_kid(keys[j]), kve_es256_key_kid(keys[i])) != 0; ++j)
            ;
        if (j != i)
            continue; /* the same key on another route */
        if (listed++ != 0)
            kve_buf_append(&buf, H2O_STRLIT(","));
        kve_buf_append(&buf, kve_es256_key_jwk(keys[i]), strlen(kve_es256_key_jwk(keys[i])));
    }
    kve_buf_append(&buf, H2O_STRLIT("]}\n"));
    out = kve_malloc(buf.len + 1);
    memcpy(out, buf.base, buf.len);
    out[buf.len] = '\0';
    kve_buf_dispose(&buf);
    return out;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    jwks_handler_t *self = (void *)_self;

    if (req->path_normalized.len != req->pathconf->path.len) { /* a prefix match: only the document's own path */
        h2o_send_error_404(req, "Not Found", "not found\n", 0);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = self->len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, self->max_age, strlen(self->max_age));
    h2o_send_inline(req, self->document, self->len);
    return 0;
}

static void on_dispose(h2o_handler_t *_self)
{
    jwks_handler_t *self = (void *)_self;
    free(self->document);
}

void kve_session_jwks_register(h2o_pathconf_t *pathconf, const char *document)
{
    jwks_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
    self->super.dispose = on_dispose;
    self->document = kve_strdup(document);
    self->len = strlen(document);
    snprintf(self->max_age, sizeof(self->max_age), "public, max-age=%d", KVE_SESSION_JWKS_MAX_AGE);
}
