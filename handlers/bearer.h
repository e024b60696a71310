/* SPDX-License-Identifier: MIT */
/* The credentials of an HTTP request as the admin endpoints and the KV REST API read them. */
#ifndef KVE_HANDLERS_BEARER_H
#define KVE_HANDLERS_BEARER_H

#include "h2o.h"

/**
 * The token of an `Authorization: Bearer <token>` header (the scheme name is case-insensitive); `base` is
 * NULL if the header is absent, uses another scheme, or carries nothing. Points into the request.
 */
h2o_iovec_t kve_bearer_token(const h2o_req_t *req);

#endif
