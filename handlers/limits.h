/* SPDX-License-Identifier: MIT */
/*
 * Request header limits. h2o 2.2.5 parses up to 100 header fields / ~400 KiB and answers 400 beyond that;
 * below those fixed caps kvedge enforces its own configurable limits and answers 431 (RFC 6585), as the
 * first handler of every path. Bodies are limited by h2o itself (globalconf.max_request_entity_size, 413).
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
    /** request body bytes for this path (h2o's global limit may be higher for another path); 0 = no check */
    size_t max_body_size;
} kve_limits_conf_t;

/** Registers the limit check as the next handler of `pathconf` (register it first). `conf` is copied. */
void kve_limits_register(h2o_pathconf_t *pathconf, const kve_limits_conf_t *conf);

#endif
