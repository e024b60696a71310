/* SPDX-License-Identifier: MIT */
/*
 * kvedge entry point: command line, configuration, then the pieces in dependency order (logs, embedded
 * Redis, server, stores and paths), the run, and the teardown in reverse order. Everything is freed
 * before exit, so LeakSanitizer can hold the whole daemon to "no leaks".
 */
#include "conf/config.h"
#include "conf/value.h"
#include "handlers/jwt_floor.h"
#include "handlers/kv_auth.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/metrics.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct st_app_t {
    kve_config_t cfg;
    kve_server_conf_t server_conf;
    kve_embedded_t *embedded;
    /** the Redis users of the KV API's links (built only when the KV API is served) */
    kve_redis_users_t users;
    /** the stores' targets and per-thread links */
    kve_stores_t *stores;
    kve_access_log_t *access_log;
    kve_server_t *server;
} app_t;

static void usage(FILE *out)
{
    fputs("usage: kvedge -c FILE        run with the configuration in FILE\n"
          "       kvedge -t -c FILE     check the configuration and exit (0: valid, 1: errors)\n"
          "       kvedge token -c FILE [--read-only] [--ttl DURATION] [--sub NAME]\n"
          "                             print a KV REST token signed with kv.jwt_key (default ttl 1h, at most\n"
          "                             kv.jwt_max_ttl)\n"
          "       kvedge acl -c FILE    print the Redis ACL users an external Redis needs (docs/security.md)\n"
          "       kvedge --help-config  list every configuration key\n"
          "       kvedge --version\n",
          out);
}

/* a whole number of seconds in the largest exact unit, days only from 2: "24h", "2d", "90s" */
static const char *format_duration(char *buf, size_t size, uint64_t sec)
{
    static const struct {
        uint64_t sec;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
    size_t i;
    for (i = 0; i != KVE_ARRAY_SIZE(units); ++i) {
        if (sec != 0 && sec % units[i].sec == 0 && (units[i].unit != 'd' || sec >= 2 * 86400)) {
            snprintf(buf, size, "%llu%c", (unsigned long long)(sec / units[i].sec), units[i].unit);
            return buf;
        }
    }
    snprintf(buf, size, "%llus", (unsigned long long)sec);
    return buf;
}

/* the token's lifetime: --ttl `text` (NULL: not given, then 1h) held to kv.jwt_max_ttl; 0 after printing why not */
static uint64_t token_ttl(const kve_config_t *cfg, const char *config_path, const char *text, uint64_t ttl_ms)
{
    uint64_t max_sec = cfg->kv.jwt_max_ttl_ms / 1000, ttl_sec = ttl_ms / 1000;
    char buf[32];

    if (text == NULL)
        return KVE_MIN((uint64_t)3600, max_sec);
    if (ttl_sec > max_sec) {
        fprintf(stderr, "kvedge token: --ttl %s is longer than kv.jwt_max_ttl (%s in %s)\n", text,
                format_duration(buf, sizeof(buf), max_sec), config_path);
        return 0;
    }
    return ttl_sec;
}

/* `kvedge token`: mints a short-lived KV REST token with the configuration's kv.jwt_key */
static int mint_token(int argc, char **argv)
{
    static const struct option longopts[] = {{"read-only", no_argument, NULL, 'r'},
                                             {"ttl", required_argument, NULL, 'T'},
                                             {"sub", required_argument, NULL, 's'},
                                             {NULL}};
    const char *config_path = NULL, *sub = NULL, *ttl_text = NULL;
    uint64_t ttl_ms = 0, ttl_sec;
    int ch, read_only = 0, ret = 1;
    kve_config_t cfg = {0};
    char err[256], *token;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
        if (ch == 'c')
            config_path = optarg;
        else if (ch == 'r')
            read_only = 1;
        else if (ch == 's')
            sub = optarg;
        else if (ch != 'T' || kve_value_duration((ttl_text = optarg), &ttl_ms) != 0 || ttl_ms < 1000)
            return usage(stderr), fprintf(stderr, "kvedge token: --ttl takes a duration of at least 1s, like 15m\n"), 1;
    }
    if (config_path == NULL || optind != argc)
        return usage(stderr), 1;
    if (kve_config_load(&cfg, config_path, stderr) != 0)
        goto Exit;
    if (!cfg.kv_enabled || cfg.kv.jwt_key == NULL || cfg.kv.jwt_key[0] == '\0') {
        fprintf(stderr, "kvedge token: %s has no kv.jwt_key to sign with\n", config_path);
        goto Exit;
    }
    if ((ttl_sec = token_ttl(&cfg, config_path, ttl_text, ttl_ms)) == 0)
        goto Exit;
    if ((token = kve_rest_jwt_mint(cfg.kv.jwt_key, read_only ? KVE_ACCESS_READ_ONLY : KVE_ACCESS_READ_WRITE, ttl_sec, sub,
                                   time(NULL), err, sizeof(err))) == NULL) {
        fprintf(stderr, "kvedge token: %s\n", err);
        goto Exit;
    }
    printf("%s\n", token);
    free(token);
    ret = 0;
Exit:
    kve_config_dispose(&cfg);
    return ret;
}

/* `kvedge acl`: the ACL SETUSER lines for the configuration's policy */
static int print_acl(int argc, char **argv)
{
    kve_config_t cfg = {0};
    int ret = 1;

    if (argc != 3 || strcmp(argv[1], "-c") != 0)
        return usage(stderr), 1;
    if (kve_config_load(&cfg, argv[2], stderr) == 0) {
        if (cfg.kv_enabled)
            kve_config_print_acl(&cfg, stdout), ret = 0;
        else
            fprintf(stderr, "kvedge acl: %s serves no KV API (no kv section)\n", argv[2]);
    }
    kve_config_dispose(&cfg);
    return ret;
}

static void on_thread_start(kve_thread_t *thread, void *data)
{
    app_t *app = data;
    kve_mailbox_open(&thread->mailbox, thread->ctx.queue, thread->ctx.loop, thread);
    kve_stores_thread_start(app->stores, thread);
}

/* the mailbox first: mail still on its way is answered while the links exist */
static void on_thread_stop(kve_thread_t *thread, void *data)
{
    app_t *app = data;
    kve_mailbox_close(&thread->mailbox);
    kve_stores_thread_stop(app->stores, thread);
}

/* the stores (after the server: one link block per worker); the KV API's store connects as the KV-policy users */
static int init_stores(app_t *app, char *err, size_t errlen)
{
    kve_store_spec_t specs[KVE_STORES_MAX];

    kve_config_store_specs(&app->cfg, &app->users, specs);
    app->stores =
        kve_stores_create(specs, app->cfg.stores.size, app->embedded != NULL ? kve_embedded_socket_path(app->embedded) : NULL,
                          kve_server_num_threads(app->server), err, errlen);
    return app->stores != NULL ? 0 : -1;
}

static uint64_t on_tick(void *data)
{
    app_t *app = data;
    return app->embedded != NULL ? kve_embedded_poll(app->embedded) : UINT64_MAX;
}

static void on_reopen(void *data)
{
    app_t *app = data;
    kve_log_reopen();
    if (app->access_log != NULL)
        kve_access_log_reopen(app->access_log);
}

static void setup_signals(void)
{
    sigset_t set;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* taken with sigtimedwait by the main thread only */
}

static int start(app_t *app, char *err, size_t errlen)
{
    const kve_log_conf_t *lc = &app->cfg.log;
    kve_admin_sources_t sources;

    kve_log_set_level(lc->level);
    if (kve_log_open(lc->error_log, err, errlen) != 0)
        return -1;
    kve_config_log_warnings(&app->cfg);
    if (lc->access_log != NULL && lc->access_log[0] != '\0' &&
        (app->access_log = kve_access_log_open(lc->access_log, lc->access_log_format, err, errlen)) == NULL)
        return -1;
    if (app->cfg.kv_enabled)
        kve_config_users_build(&app->cfg, &app->users);
    if (kve_config_uses_embedded_redis(&app->cfg) &&
        (app->embedded = kve_embedded_start(&app->cfg.embedded, app->users.embedded_args.v, err, errlen)) == NULL)
        return -1;
    app->server_conf = app->cfg.server;
    app->server_conf.listen.entries = app->cfg.all_listeners.entries; /* main listeners + the KV API's own */
    app->server_conf.listen.size = app->cfg.all_listeners.size;
    app->server_conf.limits.max_body_size = kve_config_h2o_body_limit(&app->cfg);
    if ((app->server = kve_server_create(&app->server_conf, err, errlen)) == NULL || init_stores(app, err, errlen) != 0)
        return -1;
    sources = (kve_admin_sources_t){app->server, app->embedded};
    return kve_config_register_paths(&app->cfg, app->server, &sources, app->access_log, err, errlen);
}

static void stop(app_t *app)
{
    for (size_t i = 0; app->server != NULL && i != kve_server_num_threads(app->server); ++i)
        kve_mailbox_dispose(&kve_server_get_thread(app->server, i)->mailbox);
    kve_server_destroy(app->server);
    kve_stores_destroy(app->stores);
    kve_access_log_close(app->access_log);
    kve_embedded_stop(app->embedded);
    kve_config_users_dispose(&app->users);
    kve_config_dispose(&app->cfg);
    kve_metrics_reset_routes();
    kve_log_close();
}

/*
 * Large allocations (request bodies being received, replies) always get their own mapping, given back to the
 * system when freed. glibc's default raises this threshold after each large free, so the next large buffers
 * come from the heap and stay in the process after an attack: measured with 40 clients x 10 MiB against
 * limits.max_pending_size 64MiB, RSS peaked ~50 MiB higher with the default.
 */
static void tune_malloc(void)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

static int run(const char *config_path)
{
    app_t app = {0};
    kve_server_hooks_t hooks = {on_thread_start, on_thread_stop, &app};
    char err[1024];
    int status = 0;

    if (kve_config_load(&app.cfg, config_path, stderr) != 0) {
        kve_config_dispose(&app.cfg);
        return 1;
    }
    setup_signals();
    tune_malloc();
    if (start(&app, err, sizeof(err)) != 0) {
        kve_log(KVE_LOG_ERROR, "main", "%s", err);
        status = 1;
        goto Exit;
    }
    kve_log(KVE_LOG_INFO, "main", "kvedge %s started (config %s, %zu store%s%s)", KVE_VERSION, config_path, app.cfg.stores.size,
            app.cfg.stores.size == 1 ? "" : "s", app.embedded != NULL ? ", one of them the embedded redis-server" : "");
    kve_server_set_tick(app.server, on_tick, &app);
    kve_server_run(app.server, &hooks, on_reopen, &app);
    kve_log(KVE_LOG_INFO, "main", "stopped");
Exit:
    stop(&app);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'v'}, {"help-config", no_argument, NULL, 'H'}, {NULL}};
    const char *config_path = NULL;
    int ch, test_only = 0;

    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return mint_token(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "acl") == 0)
        return print_acl(argc - 1, argv + 1);
    while ((ch = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            test_only = 1;
            break;
        case 'v':
            printf("kvedge %s\n", KVE_VERSION);
            return 0;
        case 'H':
            kve_config_print_reference(stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (config_path == NULL || optind != argc) {
        usage(stderr);
        return 1;
    }
    if (kve_jwt_floor_check(NULL, stderr) != 0) /* S16: never run (nor pass a config) on a libjwt without the CVE fix */
        return 1;
    if (test_only) {
        kve_config_t cfg = {0};
        int ret = kve_config_load(&cfg, config_path, stderr);
        size_t warnings = cfg.warnings.count;
        kve_config_dispose(&cfg);
        if (ret == 0 && warnings == 0)
            printf("kvedge: configuration %s is valid\n", config_path);
        else if (ret == 0)
            printf("kvedge: configuration %s is valid, with %zu warning%s\n", config_path, warnings, warnings == 1 ? "" : "s");
        return ret == 0 ? 0 : 1;
    }
    return run(config_path);
}
