/* SPDX-License-Identifier: MIT */
/*
 * The filter's share of tags and metrics (see cache_internal.h): the tag field taken off the response and parsed,
 * and the completion of store batches counted on the thread's cache counters.
 */
#include "handlers/cache_internal.h"
#include "handlers/cache_stats.h"
#include "handlers/cache_tags.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"
#include "proxy/server.h"

#include <time.h>

/* a hostile or broken origin may send refused tags on every response: one warning per thread and minute */
static void warn_refused(const kve_cache_handler_t *self, const char *why)
{
    static __thread time_t last;
    time_t now = time(NULL);
    if (now - last < 60)
        return;
    last = now;
    kve_log(
        KVE_LOG_WARN, "cache",
        "route %s: a response's %.*s was refused (%s; at most %d tags of %d bytes, %d bytes in all): the response is not stored",
        self->conf->route != NULL ? self->conf->route : "?", (int)self->tag_header.len, self->tag_header.base, why,
        KVE_CACHE_MAX_TAGS, KVE_CACHE_TAG_MAX_LEN, KVE_CACHE_TAG_FIELD_MAX);
}

const char *kve_cache__tags_from(const kve_cache_handler_t *self, h2o_mem_pool_t *pool, h2o_headers_t *headers, int keep,
                                 h2o_iovec_t *tags)
{
    h2o_iovec_t lines[16], name = self->tag_header;
    size_t n = 0, total = 0, count;
    kve_buf_t list = KVE_BUF_INIT;
    kve_cache_tags_err_t err = KVE_CACHE_TAGS_OK;
    ssize_t i;

    if (name.len == 0)
        return NULL;
    for (i = 0; i < (ssize_t)headers->size; ++i) {
        h2o_header_t *h = headers->entries + i;
        if (!h2o_lcstris(h->name->base, h->name->len, name.base, name.len))
            continue;
        total += h->value.len;
        if (n == KVE_ARRAY_SIZE(lines) || total > KVE_CACHE_TAG_FIELD_MAX)
            err = KVE_CACHE_TAGS_FIELD_SIZE;
        else
            lines[n++] = h->value;
        h2o_delete_header(headers, i--);
    }
    if (!keep || (n == 0 && err == KVE_CACHE_TAGS_OK))
        return NULL;
    if (err == KVE_CACHE_TAGS_OK && (err = kve_cache_tags_parse(lines, n, self->tag_comma, &list, &count)) == KVE_CACHE_TAGS_OK)
        *tags = h2o_strdup(pool, list.base != NULL ? list.base : "", list.len);
    kve_buf_dispose(&list);
    if (err == KVE_CACHE_TAGS_OK)
        return NULL;
    warn_refused(self, kve_cache_tags_strerror(err));
    return kve_cache_tags_strerror(err);
}

void kve_cache__take_tags(h2o_req_t *req, kve_cache_req_t *st, int keep)
{
    st->tags_refused = kve_cache__tags_from(st->self, &req->pool, &req->res.headers, keep, &st->fill.tags);
}

typedef struct st_store_ctx_t {
    const char *what;
    kve_metrics_thread_t *metrics;
    size_t route;
    uint64_t bytes;
} store_ctx_t;

void *kve_cache__store_ctx(kve_metrics_thread_t *m, size_t route, const char *what, uint64_t bytes)
{
    store_ctx_t *c = kve_malloc(sizeof(*c));
    *c = (store_ctx_t){what, m, route, bytes};
    return c;
}

void kve_cache__store_done(void *ctx, const kve_kv_batch_result_t *result)
{
    store_ctx_t *c = ctx;
    if (result->err != 0) {
        kve_log(KVE_LOG_DEBUG, "cache", "%s failed: %s", c->what, kve_strerror(result->err));
        kve_cache__count_thread(c->metrics, c->route, KVE_METRICS_CACHE_STORE_ERRORS, 1);
    } else if (c->bytes != UINT64_MAX) {
        kve_cache__count_thread(c->metrics, c->route, KVE_METRICS_CACHE_STORED, 1);
        kve_cache__count_thread(c->metrics, c->route, KVE_METRICS_CACHE_STORED_BYTES, c->bytes);
    }
    free(c);
}

void kve_cache__store_not_sent(void *ctx)
{
    store_ctx_t *c = ctx;
    kve_log(KVE_LOG_DEBUG, "cache", "%s not sent: the store is unavailable", c->what);
    kve_cache__count_thread(c->metrics, c->route, KVE_METRICS_CACHE_STORE_ERRORS, 1);
    free(c);
}
