/* SPDX-License-Identifier: MIT */
/* The upstream head's Date and Connection for the cache (see cache_upstream.h). */
#include "handlers/cache_upstream.h"
#include "handlers/cache_internal.h"
#include "handlers/cache_date.h"
#include "proxy/common.h"
#include "proxy/h2o_private.h"

#include <string.h>
#include <time.h>

/* only the requests the cache forwarded (the lookup of req->env is a scan of an array that is empty elsewhere) */
static int wants(h2o_req_t *req)
{
    kve_cache_req_t *st;
    if (req->env.size == 0 || (st = kve_cache__state(req)) == NULL)
        return 0;
    return st->phase == KVE_CACHE_PHASE_FORWARD || st->phase == KVE_CACHE_PHASE_UNSAFE;
}

static void on_head(h2o_req_t *req, const kve_h2o_head_field_t *fields, size_t num)
{
    kve_cache_req_t *st = kve_cache__state(req);
    size_t i, len = 0;
    int64_t t;
    char *p;

    st->upstream_seen = 1;
    for (i = 0; i != num; ++i) {
        if (h2o_lcstris(fields[i].name.base, fields[i].name.len, H2O_STRLIT("date"))) {
            /* the first Date line counts (as kve_cache_resp_parse); an invalid one is absent */
            if (st->upstream_date == KVE_CACHE_TIME_NONE &&
                kve_http_date_parse(fields[i].value.base, fields[i].value.len, (int64_t)time(NULL), &t) == 0)
                st->upstream_date = t;
        } else if (h2o_lcstris(fields[i].name.base, fields[i].name.len, H2O_STRLIT("connection"))) {
            len += fields[i].value.len + 1;
        }
    }
    if (len == 0)
        return;
    p = h2o_mem_alloc_pool(&req->pool, len);
    st->upstream_connection = h2o_iovec_init(p, 0);
    for (i = 0; i != num; ++i) {
        if (!h2o_lcstris(fields[i].name.base, fields[i].name.len, H2O_STRLIT("connection")))
            continue;
        if (st->upstream_connection.len != 0)
            p[st->upstream_connection.len++] = ',';
        memcpy(p + st->upstream_connection.len, fields[i].value.base, fields[i].value.len);
        st->upstream_connection.len += fields[i].value.len;
    }
}

void kve_cache_upstream_observe(void)
{
    static const kve_h2o_head_observer_t observer = {wants, on_head};
    kve_h2o_proxy_observe_heads(&observer);
}

int kve_cache_upstream_failed(const kve_cache_req_t *st)
{
    return !st->upstream_seen && kve_h2o_proxy_heads_observed();
}

size_t kve_cache_drop_connection_listed(h2o_headers_t *headers, h2o_iovec_t connection)
{
    size_t i, kept = 0;
    if (connection.len == 0)
        return 0;
    for (i = 0; i != headers->size; ++i)
        if (!kve_cc_field_listed(connection, headers->entries[i].name->base, headers->entries[i].name->len))
            headers->entries[kept++] = headers->entries[i];
    i = headers->size - kept;
    headers->size = kept;
    return i;
}
