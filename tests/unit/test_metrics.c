/* SPDX-License-Identifier: MIT */
/* Tests for the route registry, counters and Prometheus rendering (proxy/metrics.c). */
#include "test.h"
#include "proxy/common.h"
#include "proxy/metrics.h"

#include <stdlib.h>

TEST(route_registry)
{
    kve_metrics_reset_routes();
    CHECK_EQ_UINT(kve_metrics_route_id("admin"), 0);
    CHECK_EQ_UINT(kve_metrics_route_id("kv"), 1);
    CHECK_EQ_UINT(kve_metrics_route_id("admin"), 0);
    CHECK_EQ_STR(kve_metrics_route_name(1), "kv");
    CHECK_EQ_UINT(kve_metrics_num_routes(), 2);
    kve_metrics_reset_routes();
}

TEST(route_overflow_shares_other)
{
    char name[32];
    size_t i, last = 0;
    kve_metrics_reset_routes();
    for (i = 0; i != KVE_METRICS_MAX_ROUTES + 5; ++i) {
        snprintf(name, sizeof(name), "r%zu", i);
        last = kve_metrics_route_id(name);
    }
    CHECK_EQ_UINT(last, KVE_METRICS_MAX_ROUTES - 1);
    CHECK_EQ_STR(kve_metrics_route_name(last), "other");
    CHECK_EQ_UINT(kve_metrics_num_routes(), KVE_METRICS_MAX_ROUTES);
    kve_metrics_reset_routes();
}

TEST(render)
{
    kve_metrics_thread_t *a = kve_zalloc(sizeof(*a)), *b = kve_zalloc(sizeof(*b));
    kve_metrics_thread_t *threads[2] = {a, b};
    kve_buf_t buf = KVE_BUF_INIT;
    size_t route;

    kve_metrics_reset_routes();
    route = kve_metrics_route_id("kv");
    kve_metrics_observe(a, route, 200, 300);      /* <= 0.5 ms */
    kve_metrics_observe(b, route, 200, 2000);     /* <= 2.5 ms */
    kve_metrics_observe(b, route, 503, 20000000); /* > 10 s */
    kve_metrics_observe(a, route, 42, 1);         /* out of range: counted as 599 */
    kve_metrics_render_requests(&buf, threads, 2);
    CHECK(strstr(buf.base, "kvedge_http_requests_total{route=\"kv\",status=\"200\"} 2\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_requests_total{route=\"kv\",status=\"503\"} 1\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_requests_total{route=\"kv\",status=\"599\"} 1\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_request_duration_seconds_bucket{route=\"kv\",le=\"0.0005\"} 2\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_request_duration_seconds_bucket{route=\"kv\",le=\"0.0025\"} 3\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_request_duration_seconds_bucket{route=\"kv\",le=\"10\"} 3\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_request_duration_seconds_bucket{route=\"kv\",le=\"+Inf\"} 4\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_request_duration_seconds_count{route=\"kv\"} 4\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_request_duration_seconds_sum{route=\"kv\"} 20.002301\n") != NULL);
    CHECK(strstr(buf.base, "# TYPE kvedge_http_request_duration_seconds histogram\n") != NULL);
    kve_buf_dispose(&buf);
    free(a);
    free(b);
    kve_metrics_reset_routes();
}

/* label values are escaped as the text format requires: \\, \" and \n */
TEST(render_escapes_labels)
{
    kve_metrics_thread_t *a = kve_zalloc(sizeof(*a));
    kve_buf_t buf = KVE_BUF_INIT;
    size_t route;

    kve_metrics_reset_routes();
    route = kve_metrics_route_id("proxy:/a\"b\\c\nd");
    kve_metrics_observe(a, route, 200, 300);
    kve_metrics_render_requests(&buf, &a, 1);
    CHECK(strstr(buf.base, "kvedge_http_requests_total{route=\"proxy:/a\\\"b\\\\c\\nd\",status=\"200\"} 1\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_http_request_duration_seconds_count{route=\"proxy:/a\\\"b\\\\c\\nd\"} 1\n") != NULL);
    CHECK_NULL(strstr(buf.base, "c\nd")); /* no raw newline splits a sample line */
    kve_buf_dispose(&buf);
    free(a);
    kve_metrics_reset_routes();
}

TEST(printf_grows)
{
    kve_buf_t buf = KVE_BUF_INIT;
    int i;
    for (i = 0; i != 1000; ++i)
        kve_buf_printf(&buf, "line %d of a long metrics text\n", i);
    CHECK(buf.len > 20000);
    CHECK(strstr(buf.base, "line 999 of a long metrics text\n") != NULL);
    CHECK_EQ_UINT(strlen(buf.base), buf.len);
    kve_buf_dispose(&buf);
}

TEST(render_cache)
{
    kve_metrics_thread_t *a = kve_zalloc(sizeof(*a)), *b = kve_zalloc(sizeof(*b));
    kve_metrics_thread_t *threads[2] = {a, b};
    kve_buf_t buf = KVE_BUF_INIT;
    size_t kv, api, idle, admin;

    kve_metrics_reset_routes();
    kv = kve_metrics_route_id("kv");
    api = kve_metrics_route_id("proxy:/api");
    idle = kve_metrics_route_id("proxy:/idle");
    admin = kve_metrics_route_id("admin");
    kve_metrics_mark_cached(api);
    kve_metrics_mark_cached(idle);
    /* each thread bumps its own counters; the rendering sums them */
    kve_metrics_cache_add(a, api, KVE_METRICS_CACHE_HIT, 2);
    kve_metrics_cache_add(b, api, KVE_METRICS_CACHE_HIT, 3);
    kve_metrics_cache_add(b, api, KVE_METRICS_CACHE_MISS, 1);
    kve_metrics_cache_add(a, api, KVE_METRICS_CACHE_STORED_BYTES, 1000);
    kve_metrics_cache_add(b, api, KVE_METRICS_CACHE_STORED_BYTES, 24);
    kve_metrics_cache_add(a, admin, KVE_METRICS_CACHE_TAG_PURGED, 7);
    kve_metrics_cache_add(b, admin, KVE_METRICS_CACHE_TAG_PURGED, 1);
    kve_metrics_render_cache(&buf, threads, 2);
    CHECK(strstr(buf.base, "kvedge_cache_requests_total{route=\"proxy:/api\",status=\"hit\"} 5\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_cache_requests_total{route=\"proxy:/api\",status=\"miss\"} 1\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_cache_requests_total{route=\"proxy:/idle\",status=\"bypass\"} 0\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_cache_stored_bytes_total{route=\"proxy:/api\"} 1024\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_cache_coalesced_total{route=\"proxy:/idle\"} 0\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_cache_tag_purged_objects_total 8\n") != NULL);
    CHECK(strstr(buf.base, "route=\"kv\"") == NULL);    /* not cached: no cache series */
    CHECK(strstr(buf.base, "route=\"admin\"") == NULL); /* its tag purges are in the total only */
    CHECK(strstr(buf.base, "# TYPE kvedge_cache_requests_total counter\n") != NULL);
    (void)kv;
    kve_buf_dispose(&buf);
    free(a);
    free(b);
    kve_metrics_reset_routes();
}

void kve_suite_metrics(void)
{
    RUN(route_registry);
    RUN(route_overflow_shares_other);
    RUN(render);
    RUN(render_cache);
    RUN(render_escapes_labels);
    RUN(printf_grows);
}
