/* SPDX-License-Identifier: MIT */
/*
 * kve_hc_driver: a test and benchmark harness for the HTTP client (proxy/httpclient.h), never installed.
 * It is kvedge's server (same configuration file, listeners, admin endpoints, routes on h2o's proxy) plus,
 * per --upstream, a kve_httpclient_t on every worker thread reached through test-only paths:
 *
 *   kve_hc_driver [--upstream NAME=URL[,key=value...]]... -c kvedge.yaml
 *       /_hc/NAME/<rest>    forwarded through the client (see hc_forward.h for the x-hc-* controls)
 *       /_hc_stats/NAME     the client's counters (JSON; threads: 1 gives one client)
 *     keys: connect_timeout, io_timeout, deadline, idle_timeout (ms), max_idle, max_inflight, max_queue,
 *     max_head_size, max_headers, ca_file, server_name
 *   kve_hc_driver blackhole
 *       a TCP black hole: a 127.0.0.1 listener with a full accept queue that never accepts, so a connect to
 *       it hangs until its timeout. Prints the port, runs until SIGTERM or stdin closes.
 */
#include "conf/config.h"
#include "hc_forward.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_UPSTREAMS 8

typedef struct st_app_t {
    kve_config_t cfg;
    kve_server_conf_t server_conf;
    kve_server_t *server;
    size_t num_upstreams;
    char *names[MAX_UPSTREAMS];
    kve_httpclient_upstream_t *upstreams[MAX_UPSTREAMS];
    /* [thread][upstream] */
    kve_httpclient_t **clients;
} app_t;

static app_t *the_app;

static kve_httpclient_t *lookup(h2o_req_t *req, size_t index)
{
    kve_thread_t *thread = kve_server_thread(req->conn->ctx);
    return the_app->clients[thread->index * the_app->num_upstreams + index];
}

static void on_thread_start(kve_thread_t *thread, void *data)
{
    app_t *app = data;
    for (size_t i = 0; i != app->num_upstreams; ++i)
        app->clients[thread->index * app->num_upstreams + i] = kve_httpclient_create(&thread->ctx, app->upstreams[i]);
}

static void on_thread_stop(kve_thread_t *thread, void *data)
{
    app_t *app = data;
    for (size_t i = 0; i != app->num_upstreams; ++i) {
        kve_httpclient_destroy(app->clients[thread->index * app->num_upstreams + i]);
        app->clients[thread->index * app->num_upstreams + i] = NULL;
    }
    kve_hc_thread_dispose(thread->ctx.loop);
}

/* NAME=URL[,key=value...] */
static int parse_upstream(app_t *app, char *arg, char *err, size_t errlen)
{
    kve_httpclient_conf_t conf;
    char *eq = strchr(arg, '='), *tok, *save = NULL;
    static const struct {
        const char *key;
        size_t off;
        int is_size;
    } keys[] = {{"connect_timeout", offsetof(kve_httpclient_conf_t, connect_timeout_ms), 0},
                {"io_timeout", offsetof(kve_httpclient_conf_t, io_timeout_ms), 0},
                {"deadline", offsetof(kve_httpclient_conf_t, deadline_ms), 0},
                {"idle_timeout", offsetof(kve_httpclient_conf_t, idle_timeout_ms), 0},
                {"max_idle", offsetof(kve_httpclient_conf_t, max_idle), 1},
                {"max_inflight", offsetof(kve_httpclient_conf_t, max_inflight), 1},
                {"max_queue", offsetof(kve_httpclient_conf_t, max_queue), 1},
                {"max_head_size", offsetof(kve_httpclient_conf_t, max_head_size), 1},
                {"max_headers", offsetof(kve_httpclient_conf_t, max_headers), 1}};

    if (eq == NULL || app->num_upstreams == MAX_UPSTREAMS) {
        snprintf(err, errlen, "--upstream NAME=URL[,key=value...] (at most %d)", MAX_UPSTREAMS);
        return -1;
    }
    *eq = '\0';
    kve_httpclient_conf_defaults(&conf);
    conf.url = strtok_r(eq + 1, ",", &save);
    while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
        char *v = strchr(tok, '=');
        size_t i;
        if (v == NULL)
            goto Bad;
        *v++ = '\0';
        if (strcmp(tok, "ca_file") == 0) {
            conf.ca_file = v;
            continue;
        }
        if (strcmp(tok, "server_name") == 0) {
            conf.tls_server_name = v;
            continue;
        }
        for (i = 0; i != KVE_ARRAY_SIZE(keys) && strcmp(keys[i].key, tok) != 0; ++i)
            ;
        if (i == KVE_ARRAY_SIZE(keys))
            goto Bad;
        if (keys[i].is_size)
            *(size_t *)((char *)&conf + keys[i].off) = (size_t)strtoull(v, NULL, 10);
        else
            *(uint64_t *)((char *)&conf + keys[i].off) = strtoull(v, NULL, 10);
    }
    if ((app->upstreams[app->num_upstreams] = kve_httpclient_upstream_create(&conf, err, errlen)) == NULL)
        return -1;
    app->names[app->num_upstreams++] = arg;
    return 0;
Bad:
    snprintf(err, errlen, "--upstream %s: bad option %s", arg, tok);
    return -1;
}

static void register_test_paths(app_t *app)
{
    h2o_hostconf_t *host = kve_server_hostconf(app->server, 0);
    char path[128];
    for (size_t i = 0; i != app->num_upstreams; ++i) {
        snprintf(path, sizeof(path), "/_hc/%s", app->names[i]);
        kve_hc_register_forward(h2o_config_register_path(host, path, 0), i, lookup);
        snprintf(path, sizeof(path), "/_hc_stats/%s", app->names[i]);
        kve_hc_register_stats(h2o_config_register_path(host, path, 0), i, lookup);
    }
}

static int blackhole(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), filler = socket(AF_INET, SOCK_STREAM, 0);
    char c;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || filler < 0 || bind(lfd, (void *)&sin, sizeof(sin)) != 0 || listen(lfd, 0) != 0 ||
        getsockname(lfd, (void *)&sin, &len) != 0 || connect(filler, (void *)&sin, sizeof(sin)) != 0) {
        perror("blackhole");
        return 1;
    }
    printf("%u\n", (unsigned)ntohs(sin.sin_port)); /* the accept queue (backlog 0: one entry) is now full */
    fflush(stdout);
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}

static int run(app_t *app)
{
    kve_server_hooks_t hooks = {on_thread_start, on_thread_stop, app};
    kve_admin_sources_t sources;
    char err[1024];
    int status = 1;

    kve_server_block_signals();
    kve_log_set_level(app->cfg.log.level);
    app->server_conf = app->cfg.server;
    app->server_conf.listen.entries = app->cfg.all_listeners.entries;
    app->server_conf.listen.size = app->cfg.all_listeners.size;
    app->server_conf.limits.max_body_size = kve_config_h2o_body_limit(&app->cfg);
    if ((app->server = kve_server_create(&app->server_conf, NULL, err, sizeof(err))) == NULL)
        goto Exit;
    app->clients = kve_zalloc(sizeof(*app->clients) * KVE_MAX(app->num_upstreams, 1) * kve_server_num_threads(app->server));
    register_test_paths(app); /* first: h2o takes the first matching path */
    sources = (kve_admin_sources_t){app->server, NULL};
    if (kve_config_register_paths(&app->cfg, app->server, &sources, NULL, err, sizeof(err)) != 0)
        goto Exit;
    kve_log(KVE_LOG_INFO, "main", "kve_hc_driver started with %zu upstreams", app->num_upstreams);
    kve_server_run(app->server, &hooks);
    status = 0;
Exit:
    if (status != 0)
        kve_log(KVE_LOG_ERROR, "main", "%s", err);
    kve_server_destroy(app->server);
    free(app->clients);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"upstream", required_argument, NULL, 'u'}, {NULL}};
    app_t app = {0};
    const char *config_path = NULL;
    char err[1024];
    int ch, status = 1;

    if (argc == 2 && strcmp(argv[1], "blackhole") == 0)
        return blackhole();
    the_app = &app;
    mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* as kvedge does (proxy/main.c tune_malloc) */
    while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
        if (ch == 'c') {
            config_path = optarg;
        } else if (ch == 'u') {
            if (parse_upstream(&app, optarg, err, sizeof(err)) != 0) {
                fprintf(stderr, "kve_hc_driver: %s\n", err);
                goto Exit;
            }
        } else {
            fprintf(stderr, "usage: kve_hc_driver [--upstream NAME=URL[,key=value...]]... -c FILE | kve_hc_driver blackhole\n");
            goto Exit;
        }
    }
    if (config_path == NULL || kve_config_load(&app.cfg, config_path, stderr) != 0)
        goto Exit;
    status = run(&app);
Exit:
    for (size_t i = 0; i != app.num_upstreams; ++i)
        kve_httpclient_upstream_destroy(app.upstreams[i]);
    kve_config_dispose(&app.cfg);
    kve_log_close();
    return status;
}
