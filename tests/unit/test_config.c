/* SPDX-License-Identifier: MIT */
/*
 * Tests for the kvedge configuration as loaded (conf/config.c and the per-feature tables): `proxy:` defaults
 * flowing into every route unless the route gives its own, the errors and warnings that name where a value came
 * from. Files are written to /tmp and loaded with
 * kve_config_load, as kvedge does; the error output is captured and compared.
 */
#include "test.h"
#include "conf/config.h"

#include <stdlib.h>
#include <unistd.h>
#include "proxy/common.h"

typedef struct {
    kve_config_t cfg;
    char *out;
    size_t size;
    int ret;
} loaded_t;

/* writes `yaml` to a temp file named like "/tmp/kve_cfg_XXXXXX.yaml"'s stem and loads it; the output names it "c.yaml" */
static void load(loaded_t *l, const char *yaml)
{
    char dir[] = "/tmp/kve_cfg_XXXXXX", path[64], cwd[4096];
    FILE *fp, *err;

    memset(l, 0, sizeof(*l));
    CHECK_NOT_NULL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/c.yaml", dir);
    fp = fopen(path, "w");
    CHECK_NOT_NULL(fp);
    fputs(yaml, fp);
    fclose(fp);
    /* load by a relative name, so messages read "c.yaml:LINE:COL" whatever the temp dir */
    CHECK_NOT_NULL(getcwd(cwd, sizeof(cwd)));
    CHECK_EQ_INT(chdir(dir), 0);
    err = open_memstream(&l->out, &l->size);
    l->ret = kve_config_load(&l->cfg, "c.yaml", err);
    fclose(err);
    CHECK_EQ_INT(chdir(cwd), 0);
    unlink(path);
    rmdir(dir);
}

static void dispose(loaded_t *l)
{
    kve_config_dispose(&l->cfg);
    free(l->out);
}

#define HEAD "listen:\n  - port: 8080\nredis: redis://127.0.0.1:6390\n"

TEST(routes_without_proxy_keep_their_defaults)
{
    loaded_t l;
    load(&l, HEAD "routes:\n  - path: /a\n    upstream: http://127.0.0.1:8081/\n");
    CHECK_EQ_STR(l.out, "");
    CHECK_EQ_INT(l.ret, 0);
    CHECK_EQ_UINT(l.cfg.routes.entries[0].timeout_ms, 30000);
    CHECK_EQ_UINT(l.cfg.routes.entries[0].keepalive_timeout_ms, 2000);
    CHECK_EQ_INT(l.cfg.routes.entries[0].preserve_host, 0);
    CHECK_NULL(l.cfg.routes.entries[0].ca_file);
    dispose(&l);
}

TEST(max_proxy_buffer)
{
    loaded_t l;
    load(&l, HEAD);
    CHECK_EQ_INT(l.ret, 0);
    CHECK_EQ_UINT(l.cfg.server.limits.max_proxy_buffer, 4u * 1024 * 1024); /* the default */
    dispose(&l);
    load(&l, HEAD "limits:\n  max_proxy_buffer: 256KiB\n");
    CHECK_EQ_INT(l.ret, 0);
    CHECK_EQ_UINT(l.cfg.server.limits.max_proxy_buffer, 256u * 1024);
    dispose(&l);
    load(&l, HEAD "limits:\n  max_proxy_buffer: 0\n"); /* no way to turn it off: under 64KiB is refused */
    CHECK(l.ret != 0);
    CHECK(strstr(l.out, "max_proxy_buffer") != NULL);
    dispose(&l);
}

TEST(proxy_flows_into_routes)
{
    loaded_t l;
    load(&l, HEAD "proxy:\n"
                  "  timeout: 5s\n"
                  "  keepalive_timeout: 0s\n"
                  "  preserve_host: true\n"
                  "  ca_file: /dev/null\n"
                  "routes:\n"
                  "  - path: /global-only\n"
                  "    upstream: https://127.0.0.1:8081/\n"
                  "  - path: /both\n"
                  "    upstream: http://127.0.0.1:8081/\n"
                  "    timeout: 7s\n"
                  "    preserve_host: false\n"
                  "  - path: /explicit-defaults\n"
                  "    upstream: http://127.0.0.1:8081/\n"
                  "    timeout: 30s\n"
                  "    keepalive_timeout: 2s\n"
                  "    ca_file: \"\"\n");
    CHECK_EQ_STR(l.out, "");
    CHECK_EQ_INT(l.ret, 0);
    CHECK_EQ_UINT(l.cfg.routes.size, 3);
    const kve_route_conf_t *g = l.cfg.routes.entries, *b = g + 1, *d = g + 2;
    CHECK_EQ_UINT(g->timeout_ms, 5000);
    CHECK_EQ_UINT(g->keepalive_timeout_ms, 0);
    CHECK_EQ_INT(g->preserve_host, 1);
    CHECK_EQ_STR(g->ca_file, "/dev/null");
    CHECK_EQ_UINT(b->timeout_ms, 7000);
    CHECK_EQ_UINT(b->keepalive_timeout_ms, 0);
    CHECK_EQ_INT(b->preserve_host, 0);
    CHECK_EQ_UINT(d->timeout_ms, 30000);
    CHECK_EQ_UINT(d->keepalive_timeout_ms, 2000);
    CHECK_EQ_INT(d->preserve_host, 1);
    CHECK_EQ_STR(d->ca_file, "");
    dispose(&l);
}

TEST(inherited_ca_file_error_points_at_proxy)
{
    loaded_t l;
    load(&l, HEAD "proxy:\n"
                  "  ca_file: /nonexistent/ca.pem\n"
                  "routes:\n"
                  "  - path: /plain\n"
                  "    upstream: http://127.0.0.1:8081/\n"
                  "  - path: /tls\n"
                  "    upstream: https://127.0.0.1:8443/\n");
    CHECK_EQ_INT(l.ret, -1);
    CHECK_EQ_STR(l.out, "c.yaml:5:12: error: routes[1]: ca_file (from proxy.ca_file): cannot read /nonexistent/ca.pem: No such "
                        "file or directory\n"
                        "    5 |   ca_file: /nonexistent/ca.pem\n"
                        "      |            ^\n");
    dispose(&l);
}

TEST(proxy_errors_with_lines)
{
    loaded_t l;
    load(&l, HEAD "routes:\n"
                  "  - path: /a\n"
                  "    upstream: http://127.0.0.1:8081/\n"
                  "proxy:\n"
                  "  timeout: 5ms\n"
                  "  upstream: http://127.0.0.1:8081/\n");
    CHECK_EQ_INT(l.ret, -1);
    CHECK_EQ_STR(l.out, "c.yaml:8:12: error: proxy.timeout: value 5ms is out of range (10ms to 1h)\n"
                        "    8 |   timeout: 5ms\n"
                        "      |            ^\n"
                        "c.yaml:9:3: error: proxy: unknown key \"upstream\"\n"
                        "    9 |   upstream: http://127.0.0.1:8081/\n"
                        "      |   ^\n");
    dispose(&l);
}

void kve_suite_config(void)
{
    RUN(routes_without_proxy_keep_their_defaults);
    RUN(max_proxy_buffer);
    RUN(proxy_flows_into_routes);
    RUN(inherited_ca_file_error_points_at_proxy);
    RUN(proxy_errors_with_lines);
}
