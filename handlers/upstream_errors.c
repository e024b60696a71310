/* SPDX-License-Identifier: MIT */
/* h2o proxy errors: their kind, and 504 for a timeout (see upstream_errors.h). */
#include "handlers/upstream_errors.h"
#include "proxy/common.h"

#include <string.h>

/* h2o_req_log_error's module name for the proxy handler [2.2.5 lib/core/proxy.c] */
#define PROXY_MODULE "lib/core/proxy.c"

static int starts_with(h2o_iovec_t s, const char *prefix)
{
    size_t len = strlen(prefix);
    return s.len >= len && memcmp(s.base, prefix, len) == 0;
}

static int contains(h2o_iovec_t s, const char *needle)
{
    return h2o_strstr(s.base, s.len, needle, strlen(needle)) != SIZE_MAX;
}

kve_metrics_upstream_t kve_upstream_error_kind(h2o_iovec_t msg)
{
    /* "connection timeout" (connect), "I/O timeout" (send, head, body) [http1client.c:90, 362, 384, 469] */
    if (contains(msg, "timeout"))
        return KVE_METRICS_UPSTREAM_TIMEOUT;
    /* h2o_socket_error_conn_fail, the socket pool's and http1client's connect failures [socket.c:134,
     * socketpool.c:198, http1client.c:475] */
    if (starts_with(msg, "connection fail") || starts_with(msg, "socket create error"))
        return KVE_METRICS_UPSTREAM_CONNECT;
    /* "I/O error (send request)", "I/O error (head)", "I/O error (body; ...)"; "socket closed by peer" */
    if (starts_with(msg, "I/O error") || starts_with(msg, "socket closed"))
        return KVE_METRICS_UPSTREAM_RESET;
    if (starts_with(msg, "failed to parse") || starts_with(msg, "invalid") || starts_with(msg, "unexpected type of"))
        return KVE_METRICS_UPSTREAM_BAD_RESPONSE;
    /* h2o's own TLS strings, and OpenSSL's verification ones (X509_verify_cert_error_string) */
    if (contains(msg, "certificate") || contains(msg, "SSL") || contains(msg, "ssl") || contains(msg, "mismatch"))
        return KVE_METRICS_UPSTREAM_TLS;
    return KVE_METRICS_UPSTREAM_OTHER;
}

int kve_upstream_error_of(const h2o_req_t *req)
{
    for (size_t i = 0; i != req->error_logs.size; ++i)
        if (strcmp(req->error_logs.entries[i].module, PROXY_MODULE) == 0)
            return (int)kve_upstream_error_kind(req->error_logs.entries[i].msg);
    return -1;
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    /* h2o_send_error_502 set the status right before the filters run; only the proxy's own answer has its record */
    if (req->res.status == 502 && req->error_logs.size != 0 && kve_upstream_error_of(req) == KVE_METRICS_UPSTREAM_TIMEOUT) {
        req->res.status = 504;
        req->res.reason = "Gateway Timeout";
    }
    h2o_setup_next_ostream(req, slot);
}

void kve_upstream_timeout_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}
