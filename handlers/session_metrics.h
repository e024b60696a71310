/* SPDX-License-Identifier: MIT */
/*
 * The sessions' counters in /metrics (issue 10; docs/sessions.md §15): kvedge_session_total{route,event}, one series per
 * event of every session route (proxy/metrics.h kve_metrics_session_t), kept per thread like the cache's (a relaxed
 * load and store, no lock, no atomic read-modify-write) and summed by the renderer.
 *
 * Other session code counts its own events with kve_session_metrics_count(), e.g. a rotation:
 *     kve_session_metrics_count(req, KVE_METRICS_SESSION_ROTATED);
 */
#ifndef KVE_HANDLERS_SESSION_METRICS_H
#define KVE_HANDLERS_SESSION_METRICS_H

#include <stddef.h>
#include "h2o.h"
#include "proxy/metrics.h"

struct st_kve_session_req_t;

/**
 * Counts event `ev` once on the session route `req` is on, on the request's own thread. A request the session handler
 * has not seen (no session state in its environment) counts nothing.
 */
void kve_session_metrics_count(h2o_req_t *req, kve_metrics_session_t ev);

/** The same with the request's session state at hand (session.c, session_filter.c: no environment lookup). */
void kve_session__count(struct st_kve_session_req_t *st, kve_metrics_session_t ev);

/** The metrics route of the session route at `path` ("proxy:<path>", the series conf/paths.c gives it), marked as a
 * session route so that its series are rendered (call while configuring). */
size_t kve_session__metrics_route(const char *path);

#endif
