/* SPDX-License-Identifier: MIT */
/* Bearer token extraction (see bearer.h). */
#include "handlers/bearer.h"

h2o_iovec_t kve_bearer_token(const h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    h2o_iovec_t v;

    if (i == -1)
        return h2o_iovec_init(NULL, 0);
    v = req->headers.entries[i].value;
    if (v.len <= 7 || !h2o_lcstris(v.base, 7, H2O_STRLIT("bearer ")))
        return h2o_iovec_init(NULL, 0);
    return h2o_iovec_init(v.base + 7, v.len - 7);
}
