/* SPDX-License-Identifier: MIT */
/*
 * Invalidation after unsafe requests (RFC 9111 §4.4). Pure. A non-error response (2xx, 3xx) to a method that
 * is not known to be safe (anything but GET, HEAD, OPTIONS, TRACE; unknown methods such as M-SEARCH too)
 * invalidates the stored responses of the target URI, and of Location and Content-Location when they name
 * the same origin (never another origin's: that would let one origin purge another's objects).
 */
#ifndef KVE_HANDLERS_CACHE_INVALIDATE_H
#define KVE_HANDLERS_CACHE_INVALIDATE_H

#include "h2o.h"

/** Whether a response with `status` to a request with `method` (case-sensitive) invalidates. */
int kve_cache_invalidates(h2o_iovec_t method, int status);

/**
 * For a Location / Content-Location value `uri`: if it names the origin of `scheme` + `authority` (an absolute
 * URI of that scheme and normalised host, "//host/..." of that host, or a path starting with '/'), sets
 * `*path` to its path and query (borrowed from `uri`, fragment removed) and returns 0; else returns -1
 * (relative paths are not resolved: §4.4 makes these invalidations optional).
 */
int kve_cache_same_origin_path(h2o_iovec_t uri, h2o_iovec_t scheme, h2o_iovec_t authority, h2o_iovec_t *path);

#endif
