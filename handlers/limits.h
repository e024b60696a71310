/* SPDX-License-Identifier: MIT */
/*
 * Request limits, checked by the first handler of every path. Headers: h2o 2.2.5 parses up to 100 header
 * fields / ~400 KiB and answers 400 beyond that; below those fixed caps kvedge enforces its own configurable
 * limits and answers 431 (RFC 6585). Bodies: h2o has one limit for all paths (globalconf.
 * max_request_entity_size), enforced before routing; kvedge may set it higher than limits.max_body_size
 * for the KV API (kve_config_h2o_body_limit), so this handler holds every other path to its own limit
 * (413). Each answer is logged here, once.
 */
#ifndef KVE_HANDLERS_LIMITS_H
#define KVE_HANDLERS_LIMITS_H

#include <stddef.h>
#include "h2o.h"

typedef struct st_kve_limits_conf_t {
    /** total bytes of header names and values */
    size_t max_header_size;
    /** number of header fields */
    size_t max_headers;
    /** request body bytes for this path (h2o's global limit may be higher, for the KV API); 0 = no check */
    size_t max_body_size;
} kve_limits_conf_t;

/** Registers the limit check as the next handler of `pathconf` (register it first). `conf` is copied. */
void kve_limits_register(h2o_pathconf_t *pathconf, const kve_limits_conf_t *conf);
/** Whether the limit check answered `req` itself (then it has logged it); a 413 it did not send came from h2o. */
int kve_limits_answered(h2o_req_t *req);

#endif
