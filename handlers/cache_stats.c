/* SPDX-License-Identifier: MIT */
/* Cache outcomes: per-route counters and the access log's `cache_status` (see cache_stats.h). */
#include "handlers/cache_stats.h"
#include "proxy/common.h"
#include "proxy/server.h"

#include <stdio.h>

size_t kve_cache__metrics_route(const char *path)
{
    char name[1100];
    size_t id;
    snprintf(name, sizeof(name), "proxy:%s", path);
    id = kve_metrics_route_id(name);
    kve_metrics_mark_cached(id);
    return id;
}

void kve_cache__count_thread(kve_metrics_thread_t *m, size_t route, kve_metrics_cache_t c, uint64_t n)
{
    if (m != NULL)
        kve_metrics_cache_add(m, route, c, n);
}

void kve_cache__count(h2o_req_t *req, size_t route, kve_metrics_cache_t c, uint64_t n)
{
    kve_cache__count_thread(kve_server_thread(req->conn->ctx)->metrics, route, c, n);
}

void kve_cache__outcome(h2o_req_t *req, size_t route, kve_cache_outcome_t o)
{
    static const struct {
        const char *name;
        int counter; /* -1: none */
    } outcomes[] = {{"HIT", KVE_METRICS_CACHE_HIT},
                    {"STALE", KVE_METRICS_CACHE_STALE},
                    {"MISS", KVE_METRICS_CACHE_MISS},
                    {"REVALIDATED", KVE_METRICS_CACHE_REVALIDATED},
                    {"BYPASS", KVE_METRICS_CACHE_BYPASS},
                    {"PASS", -1},
                    {"COALESCED", KVE_METRICS_CACHE_COALESCED}};
    h2o_iovec_t *env;

    if ((size_t)o >= KVE_ARRAY_SIZE(outcomes))
        return;
    if (outcomes[o].counter >= 0)
        kve_cache__count(req, route, (kve_metrics_cache_t)outcomes[o].counter, 1);
    env = h2o_req_getenv(req, H2O_STRLIT(KVE_CACHE_STATUS_ENV), 1);
    *env = h2o_iovec_init(outcomes[o].name, strlen(outcomes[o].name));
}
