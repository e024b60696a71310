/* SPDX-License-Identifier: MIT */
/*
 * The upstream failures of h2o's reverse proxy, as kvedge reports them. h2o 2.2.5's proxy answers every failure
 * before the upstream's head with 502 and records why with h2o_req_log_error(req, "lib/core/proxy.c", errstr)
 * ([2.2.5 lib/core/proxy.c:417 on_head, :525 on_connect]; the strings come from lib/common/http1client.c and
 * lib/common/socket.c). kvedge reads that record (req->error_logs, a public field):
 * - a filter on each proxied path turns the 502 of a timeout ("connection timeout", "I/O timeout") into 504 Gateway
 *   Timeout, as nginx does (502 stays for a refused, reset or unparseable upstream);
 * - the access logger counts each failure by kind (kvedge_upstream_errors_total{route,kind}), body failures after
 *   the head included.
 */
#ifndef KVE_HANDLERS_UPSTREAM_ERRORS_H
#define KVE_HANDLERS_UPSTREAM_ERRORS_H

#include "h2o.h"
#include "proxy/metrics.h"

/** The kind of h2o proxy error message `msg` (one of the strings above; unknown ones are KVE_METRICS_UPSTREAM_OTHER). */
kve_metrics_upstream_t kve_upstream_error_kind(h2o_iovec_t msg);

/** The kind of the first proxy error `req` recorded, or -1 when its upstream did not fail. */
int kve_upstream_error_of(const h2o_req_t *req);

/**
 * Registers the filter that answers 504 in place of h2o's 502 when the upstream timed out. Register it after every
 * other filter of the path (h2o 2.2.5 runs the last created first), so the cache and session filters see the 504.
 */
void kve_upstream_timeout_register(h2o_pathconf_t *pathconf);

#endif
