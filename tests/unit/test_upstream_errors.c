/* SPDX-License-Identifier: MIT */
/* Tests for the kinds of h2o's proxy errors (handlers/upstream_errors.c), the streams series and the process_* series. */
#include "test.h"
#include "handlers/upstream_errors.h"
#include "proxy/common.h"
#include "proxy/process_metrics.h"

#include <stdlib.h>

#define KIND(s) kve_upstream_error_kind(h2o_iovec_init(H2O_STRLIT(s)))

/* every string h2o 2.2.5's proxy path can report (lib/common/http1client.c, socket.c, socketpool.c, lib/core/proxy.c) */
TEST(kinds)
{
    CHECK_EQ_INT(KIND("connection timeout"), KVE_METRICS_UPSTREAM_TIMEOUT);
    CHECK_EQ_INT(KIND("I/O timeout"), KVE_METRICS_UPSTREAM_TIMEOUT);
    CHECK_EQ_INT(KIND("connection failure"), KVE_METRICS_UPSTREAM_CONNECT);
    CHECK_EQ_INT(KIND("connection failed"), KVE_METRICS_UPSTREAM_CONNECT);
    CHECK_EQ_INT(KIND("socket create error"), KVE_METRICS_UPSTREAM_CONNECT);
    CHECK_EQ_INT(KIND("I/O error (head)"), KVE_METRICS_UPSTREAM_RESET);
    CHECK_EQ_INT(KIND("I/O error (send request)"), KVE_METRICS_UPSTREAM_RESET);
    CHECK_EQ_INT(KIND("I/O error (body; content-length)"), KVE_METRICS_UPSTREAM_RESET);
    CHECK_EQ_INT(KIND("I/O error (body; chunked)"), KVE_METRICS_UPSTREAM_RESET);
    CHECK_EQ_INT(KIND("socket closed by peer"), KVE_METRICS_UPSTREAM_RESET);
    CHECK_EQ_INT(KIND("failed to parse the response"), KVE_METRICS_UPSTREAM_BAD_RESPONSE);
    CHECK_EQ_INT(KIND("failed to parse the response (chunked)"), KVE_METRICS_UPSTREAM_BAD_RESPONSE);
    CHECK_EQ_INT(KIND("invalid content-length"), KVE_METRICS_UPSTREAM_BAD_RESPONSE);
    CHECK_EQ_INT(KIND("invalid response from upstream"), KVE_METRICS_UPSTREAM_BAD_RESPONSE);
    CHECK_EQ_INT(KIND("unexpected type of transfer-encoding"), KVE_METRICS_UPSTREAM_BAD_RESPONSE);
    CHECK_EQ_INT(KIND("certificate name mismatch"), KVE_METRICS_UPSTREAM_TLS);
    CHECK_EQ_INT(KIND("self-signed certificate"), KVE_METRICS_UPSTREAM_TLS);
    CHECK_EQ_INT(KIND("SSL decode error"), KVE_METRICS_UPSTREAM_TLS);
    CHECK_EQ_INT(KIND("internal error"), KVE_METRICS_UPSTREAM_OTHER);
    CHECK_EQ_INT(KIND(""), KVE_METRICS_UPSTREAM_OTHER);
}

TEST(render_streams)
{
    kve_metrics_thread_t *a = kve_zalloc(sizeof(*a)), *b = kve_zalloc(sizeof(*b));
    kve_metrics_thread_t *threads[2] = {a, b};
    kve_buf_t buf = KVE_BUF_INIT;
    size_t api, kv;

    kve_metrics_reset_routes();
    api = kve_metrics_route_id("proxy:/api");
    kv = kve_metrics_route_id("kv");
    kve_metrics_mark_proxied(api);
    kve_metrics_open_add(a, 1), kve_metrics_open_add(a, 1), kve_metrics_open_add(b, 1), kve_metrics_open_add(a, -1);
    kve_metrics_upstream_add(a, api, KVE_METRICS_UPSTREAM_TIMEOUT);
    kve_metrics_upstream_add(b, api, KVE_METRICS_UPSTREAM_TIMEOUT);
    kve_metrics_upstream_add(b, api, KVE_METRICS_UPSTREAM_CONNECT);
    kve_metrics_render_streams(&buf, threads, 2);
    kve_buf_putc(&buf, '\0');
    CHECK(strstr(buf.base, "# TYPE kvedge_open_streams gauge\nkvedge_open_streams 2\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_upstream_errors_total{route=\"proxy:/api\",kind=\"timeout\"} 2\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_upstream_errors_total{route=\"proxy:/api\",kind=\"connect\"} 1\n") != NULL);
    CHECK(strstr(buf.base, "kvedge_upstream_errors_total{route=\"proxy:/api\",kind=\"reset\"} 0\n") != NULL);
    CHECK(strstr(buf.base, "route=\"kv\"") == NULL); /* not proxied */
    (void)kv;
    kve_buf_dispose(&buf);
    free(a);
    free(b);
    kve_metrics_reset_routes();
}

static double sample(const char *text, const char *name)
{
    char key[64];
    const char *p;
    snprintf(key, sizeof(key), "\n%s ", name);
    return (p = strstr(text, key)) != NULL ? strtod(p + strlen(key), NULL) : -1;
}

TEST(process_series)
{
    kve_buf_t buf = KVE_BUF_INIT;
    time_t now = time(NULL);

    kve_buf_putc(&buf, '\n');
    kve_process_metrics_render(&buf);
    kve_buf_putc(&buf, '\0');
    CHECK(sample(buf.base, "process_cpu_seconds_total") >= 0);
    CHECK(sample(buf.base, "process_resident_memory_bytes") > 1024 * 1024);
    CHECK(sample(buf.base, "process_virtual_memory_bytes") >= sample(buf.base, "process_resident_memory_bytes"));
    CHECK(sample(buf.base, "process_open_fds") >= 3);
    CHECK(sample(buf.base, "process_max_fds") >= sample(buf.base, "process_open_fds"));
    /* this test process started within the last hour, not in the future */
    CHECK(sample(buf.base, "process_start_time_seconds") > (double)now - 3600);
    CHECK(sample(buf.base, "process_start_time_seconds") <= (double)now + 1);
    CHECK(strstr(buf.base, "# TYPE process_cpu_seconds_total counter\n") != NULL);
    kve_buf_dispose(&buf);
}

void kve_suite_upstream_errors(void)
{
    RUN(kinds);
    RUN(render_streams);
    RUN(process_series);
}
