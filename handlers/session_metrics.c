/* SPDX-License-Identifier: MIT */
/* The sessions' counters (see session_metrics.h). */
#include "handlers/session_metrics.h"
#include "handlers/session_internal.h"
#include "proxy/server.h"

#include <stdio.h>

void kve_session__count(struct st_kve_session_req_t *st, kve_metrics_session_t ev)
{
    kve_metrics_thread_t *m = kve_server_thread(st->req->conn->ctx)->metrics;
    if (m != NULL)
        kve_metrics_session_add(m, st->self->metrics_route, ev, 1);
}

void kve_session_metrics_count(h2o_req_t *req, kve_metrics_session_t ev)
{
    kve_session_req_t *st = kve_session__state(req);
    if (st != NULL)
        kve_session__count(st, ev);
}

size_t kve_session__metrics_route(const char *path)
{
    char name[1100];
    size_t id;
    snprintf(name, sizeof(name), "proxy:%s", path);
    id = kve_metrics_route_id(name);
    kve_metrics_mark_session(id);
    return id;
}
