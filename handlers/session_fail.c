/* SPDX-License-Identifier: MIT */
/* A failed session command answers a JSON 503 (see session_fail.h). */
#include "handlers/session_fail.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <stdio.h>

void kve_session__fail(kve_session_req_t *st, const char *command)
{
    h2o_req_t *req = st->req;
    char body[256];
    int n, chunked;

    if (st->fail_body.base != NULL)
        return;
    n = snprintf(body, sizeof(body),
                 "{\"error\":\"session_unavailable\",\"command\":\"%s\",\"message\":\"the session %s was not applied; "
                 "try again\"}\n",
                 command, command);
    KVE_ASSERT(n > 0 && (size_t)n < sizeof(body));
    kve_log(KVE_LOG_WARN, "session", "route %s: the %s failed; answering 503 instead of the upstream's response", st->self->aud,
            command);
    /* h2o's chunked encoder (HTTP/1.1, a body of unknown length) sits after this filter: once it is set up, its header
     * and framing stay and the body goes out chunked; before, a known length keeps it out */
    chunked = h2o_find_header(&req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, -1) != -1;
    req->res.status = 503;
    req->res.reason = "Service Unavailable";
    req->res.headers = (h2o_headers_t){NULL, 0, 0};
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    if (chunked)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, NULL, H2O_STRLIT("chunked"));
    req->res.content_length = chunked ? SIZE_MAX : (size_t)n;
    /* a HEAD response has no body, but says how long the GET's would be */
    st->fail_body = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"))
                        ? h2o_iovec_init("", 0)
                        : h2o_strdup(&req->pool, body, (size_t)n);
}
