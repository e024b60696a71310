/* SPDX-License-Identifier: MIT */
/*
 * Tests of the console overview's history (issue 13; handlers/console_history.c): the ring's bound and order, the
 * points after a sequence number, one sample per interval, the rates, quantiles and hit ratio of a point, the
 * console's own route left out of the sums (not out of the per-route rates).
 */
#include "test.h"
#include "handlers/console_history.h"
#include "proxy/common.h"
#include "proxy/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1000000 /* a monotonic start, ms */
#define UNIX0 1790000000000LL

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; ++p)
        ++n;
    return n;
}

static char *render(uint64_t after)
{
    static kve_buf_t buf;
    kve_buf_dispose(&buf);
    buf = (kve_buf_t)KVE_BUF_INIT;
    kve_console_history_render(&buf, after);
    kve_buf_putc(&buf, '\0');
    return buf.base;
}

TEST(history_ring)
{
    char *out;
    kve_console_history_reset();
    kve_metrics_reset_routes();
    out = render(0);
    CHECK_EQ_STR(out, "{\"interval_ms\":2000,\"capacity\":300,\"last\":0,\"routes\":[],\"points\":[]}");
    /* one sample: no point yet (a point is the difference of two) */
    kve_console_history__sample_at(T0, UNIX0);
    CHECK_EQ_UINT(count(render(0), "\"seq\""), 0);
    /* a second sample within 3/4 of the interval is skipped (two generations' timers during a reload) */
    kve_console_history__sample_at(T0 + 1000, UNIX0 + 1000);
    CHECK(strstr(render(0), "\"last\":1,") != NULL);
    /* more samples than the ring holds: the newest 300 points stay, oldest first */
    for (uint64_t i = 1; i != 400; ++i)
        kve_console_history__sample_at(T0 + i * 2000, UNIX0 + (int64_t)i * 2000);
    out = render(0);
    CHECK(strstr(out, "\"last\":400,") != NULL);
    CHECK_EQ_UINT(count(out, "\"seq\""), KVE_CONSOLE_HISTORY_POINTS);
    CHECK(strstr(out, "\"points\":[{\"seq\":101,") != NULL);
    CHECK(strstr(out, "{\"seq\":400,") != NULL);
    /* only the points after a sequence number */
    out = render(397);
    CHECK_EQ_UINT(count(out, "\"seq\""), 3);
    CHECK(strstr(out, "\"points\":[{\"seq\":398,") != NULL);
    CHECK_EQ_UINT(count(render(400), "\"seq\""), 0);
    CHECK_EQ_UINT(count(render(UINT64_MAX), "\"seq\""), 0);
    kve_console_history_reset();
    CHECK(strstr(render(0), "\"last\":0,") != NULL);
}

TEST(history_point)
{
    kve_metrics_thread_t *m = kve_zalloc(sizeof(*m));
    size_t api, admin;
    char *out;

    kve_metrics_reset_routes();
    kve_console_history_reset();
    api = kve_metrics_route_id("proxy:/api");
    admin = kve_metrics_route_id("admin");
    kve_metrics_thread_attach(m);
    kve_console_history__sample_at(T0, UNIX0);
    /* in 2 s: 8 responses of 1 ms (6 x 200, 1 x 404, 1 x 503), 3 hits and 1 miss; the console's route is left out */
    for (int i = 0; i != 8; ++i)
        kve_metrics_observe(m, api, i < 6 ? 200 : i == 6 ? 404 : 503, 1000);
    for (int i = 0; i != 50; ++i)
        kve_metrics_observe(m, admin, 500, 1000);
    kve_metrics_cache_add(m, api, KVE_METRICS_CACHE_HIT, 3);
    kve_metrics_cache_add(m, api, KVE_METRICS_CACHE_MISS, 1);
    kve_console_history__sample_at(T0 + 2000, UNIX0 + 2000);
    /* then 2 s without anything */
    kve_console_history__sample_at(T0 + 4000, UNIX0 + 4000);
    out = render(0);
    CHECK(strstr(out, "{\"seq\":2,\"t\":1790000002.000,\"rps\":4.000,\"rps_4xx\":0.500,\"rps_5xx\":0.500,\"p50_ms\":") != NULL);
    CHECK(strstr(out, "\"routes\":[\"proxy:/api\",\"admin\"],") != NULL);
    CHECK(strstr(out,
                 "\"hit_ratio\":0.7500,\"sessions_loaded_s\":0.000,\"sessions_created_s\":0.000,\"route_rps\":[4.000,25.000]}") !=
          NULL);
    CHECK(strstr(out, "{\"seq\":3,\"t\":1790000004.000,\"rps\":0.000,\"rps_4xx\":0.000,\"rps_5xx\":0.000,\"p50_ms\":null,"
                      "\"p99_ms\":null,\"hit_ratio\":null,") != NULL);
    kve_metrics_thread_detach(m);
    free(m);
    kve_metrics_reset_routes();
    kve_console_history_reset();
}

TEST(history_quantile)
{
    uint64_t buckets[KVE_METRICS_NUM_BUCKETS + 1] = {0};
    CHECK(kve_console_quantile_ms(buckets, 0.5) < 0); /* empty */
    buckets[1] = 10;                                  /* 10 in (0.5 ms, 1 ms] */
    double p50 = kve_console_quantile_ms(buckets, 0.5);
    CHECK(p50 > 0.5 && p50 < 1.0);
    buckets[KVE_METRICS_NUM_BUCKETS] = 1000; /* most in +Inf: the last bound */
    CHECK(kve_console_quantile_ms(buckets, 0.99) == (double)kve_metrics_bucket_us[KVE_METRICS_NUM_BUCKETS - 1] / 1000);
}

void kve_suite_console_history(void)
{
    RUN(history_ring);
    RUN(history_point);
    RUN(history_quantile);
}
