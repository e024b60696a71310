/* SPDX-License-Identifier: MIT */
/*
 * Tests of the sessions' counters in /metrics (issue 10, docs/sessions.md §15; proxy/metrics.c): per-thread counters
 * summed by the renderer, every event of every session route rendered (zeros included), other routes left out.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/metrics.h"

#include <stdlib.h>

TEST(render_session)
{
    kve_metrics_thread_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    kve_metrics_thread_t *threads[2] = {a, b};
    kve_buf_t buf = KVE_BUF_INIT;
    size_t app, plain, quoted;

    kve_metrics_reset_routes();
    app = kve_metrics_route_id("proxy:/app");
    plain = kve_metrics_route_id("proxy:/plain");
    quoted = kve_metrics_route_id("proxy:/a\"b");
    kve_metrics_mark_session(app);
    kve_metrics_mark_session(quoted);
    kve_metrics_session_add(a, app, KVE_METRICS_SESSION_LOADED, 2);
    kve_metrics_session_add(b, app, KVE_METRICS_SESSION_LOADED, 3);
    kve_metrics_session_add(b, app, KVE_METRICS_SESSION_ROTATED, 1);
    kve_metrics_session_add(a, plain, KVE_METRICS_SESSION_CREATED, 9); /* not a session route: never rendered */
    kve_metrics_render_session(&buf, threads, 2);
    kve_buf_putc(&buf, '\0');
    CHECK(strstr(buf.base, "# TYPE kvedge_session_total counter\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_session_total{route=\"proxy:/app\",event=\"loaded\"} 5\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_session_total{route=\"proxy:/app\",event=\"rotated\"} 1\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_session_total{route=\"proxy:/app\",event=\"csrf_refused\"} 0\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_session_total{route=\"proxy:/a\\\"b\",event=\"created\"} 0\n") != NULL);
    CHECK(strstr(buf.base, "proxy:/plain") == NULL);
    {
        size_t n = 0;
        for (const char *p = buf.base; (p = strstr(p, "kvedge_session_total{")) != NULL; ++p)
            ++n;
        CHECK_EQ_UINT(n, 2 * KVE_METRICS_SESSION_NUM);
    }
    kve_buf_dispose(&buf);
    free(a);
    free(b);
    kve_metrics_reset_routes();
}

void kve_suite_session_metrics(void)
{
    RUN(render_session);
}
