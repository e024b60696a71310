/* SPDX-License-Identifier: MIT */
/*
 * The raw request path of the KV REST API against h2o's routing. h2o 2.2.5 picks a path configuration by
 * the NORMALISED path (percent-decoded, "." and ".." segments removed: "/api/../kv/get/x" and "/%6bv/get/x"
 * both go to "/kv"), while the API reads its command from the RAW path, where an argument "a%2Fb" stays one
 * argument "a/b". The two only describe the same request when the raw path starts with the API's prefix as
 * configured and has no dot segment, so the API serves nothing else.
 */
#ifndef KVE_HANDLERS_KV_PATH_H
#define KVE_HANDLERS_KV_PATH_H

#include <stddef.h>
#include "h2o.h"

/**
 * Checks `path` (`len` bytes: the raw request path, without the query) of a request routed to the API at
 * `prefix` (`prefix_len` bytes; "" when the API is at "/"). Returns NULL if the API may serve it: the path
 * starts with the prefix byte for byte, followed by '/' or its end (for "": starts with '/'), and no segment
 * is "." or ".." once percent-decoded as h2o decodes it ("%2e", and "%2f" as a separator, count). Otherwise
 * returns the error message for the client ("ERR the request path ..."), static or in `pool`.
 */
const char *kve_rest_check_path(const char *path, size_t len, const char *prefix, size_t prefix_len, h2o_mem_pool_t *pool);

#endif
