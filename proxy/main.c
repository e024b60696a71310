/* SPDX-License-Identifier: MIT */
/*
 * kvedge entry point: the command line and its tools (-t, token, acl, reload); the daemon itself, its generations
 * and its signals are in daemon.c. Everything is freed before exit, so LeakSanitizer can hold the whole daemon to
 * "no leaks".
 */
#include "conf/config.h"
#include "conf/env_config.h"
#include "conf/value.h"
#include "handlers/jwt_floor.h"
#include "handlers/kv_auth.h"
#include "proxy/common.h"
#include "proxy/daemon.h"
#include "proxy/log.h"
#include "proxy/metrics.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fputs("usage: kvedge -c FILE        run with the configuration in FILE\n"
          "       kvedge -t -c FILE     check the configuration and exit (0: valid, 1: errors)\n"
          "       kvedge                with KV_REST_API_TOKEN set and no -c: serve the KV API on 127.0.0.1:8080\n"
          "                             (docs/configuration.md, \"Starting without a config file\")\n"
          "       kvedge --print-config [-c FILE]\n"
          "                             check the configuration, then print it (without -c: the one built\n"
          "                             from the environment)\n"
          "       kvedge token -c FILE [--read-only] [--ttl DURATION] [--sub NAME]\n"
          "                             print a KV REST token signed with kv.jwt_key (default ttl 1h, at most\n"
          "                             kv.jwt_max_ttl)\n"
          "       kvedge acl -c FILE    print the Redis ACL users an external Redis needs (docs/security.md)\n"
          "       kvedge reload -c FILE check FILE, then have the kvedge of its pid_file reload it (SIGHUP)\n"
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

/* the process id in `path` (a pid_file); 0 after printing why not */
static pid_t read_pid_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    long pid = 0;
    char extra;

    if (fp == NULL) {
        fprintf(stderr, "kvedge reload: cannot open pid_file %s: %s (is kvedge running?)\n", path, strerror(errno));
        return 0;
    }
    if (fscanf(fp, "%ld%c", &pid, &extra) < 1 || pid <= 1 || pid > INT32_MAX) {
        fprintf(stderr, "kvedge reload: %s does not hold a process id\n", path);
        pid = 0;
    }
    fclose(fp);
    return (pid_t)pid;
}

/* `kvedge reload -c FILE`: checks FILE as -t does, then sends SIGHUP to the kvedge whose pid_file it names */
static int send_reload(int argc, char **argv)
{
    kve_config_t cfg = {0};
    pid_t pid;
    int ret = 1;

    if (argc != 3 || strcmp(argv[1], "-c") != 0)
        return usage(stderr), 1;
    if (kve_config_load(&cfg, argv[2], stderr) != 0) {
        fprintf(stderr, "kvedge reload: %s has errors; nothing was sent\n", argv[2]);
        goto Exit;
    }
    if (cfg.pid_file == NULL) {
        fprintf(stderr, "kvedge reload: %s sets no pid_file; send SIGHUP to the kvedge process instead (kill -HUP <pid>)\n",
                argv[2]);
        goto Exit;
    }
    if ((pid = read_pid_file(cfg.pid_file)) == 0)
        goto Exit;
    if (kill(pid, SIGHUP) != 0) {
        fprintf(stderr, "kvedge reload: cannot signal process %d: %s\n", (int)pid, strerror(errno));
        goto Exit;
    }
    printf("kvedge: configuration %s is valid; sent SIGHUP to process %d (its log says how the reload went)\n", argv[2], (int)pid);
    ret = 0;
Exit:
    kve_config_dispose(&cfg);
    return ret;
}

/* no -c: the configuration built from the environment, loaded under the name KVE_ENV_CONFIG_NAME; NULL after saying why not */
static const char *env_config_path(kve_env_config_t *env)
{
    char err[512];

    switch (kve_env_config_build(env, getenv, err, sizeof(err))) {
    case 0:
        kve_config_set_source(KVE_ENV_CONFIG_NAME, env->yaml);
        return KVE_ENV_CONFIG_NAME;
    case 1:
        usage(stderr);
        fputs("kvedge: no -c FILE, and KV_REST_API_TOKEN is not set: set KV_REST_API_TOKEN (16 bytes or more) to serve the KV "
              "API without a config file\n",
              stderr);
        return NULL;
    default:
        fprintf(stderr, "kvedge: %s\n", err);
        return NULL;
    }
}

/*
 * -t and --print-config (`print`); `quiet`: only the errors (the check before a start without a config file). `env`:
 * the configuration built from the environment (NULL: a file), listed after its errors as there is no file to open.
 */
static int check_config(const char *config_path, const kve_env_config_t *env, int print, int quiet)
{
    kve_config_t cfg = {0};
    int ret = kve_config_load(&cfg, config_path, stderr);
    size_t warnings = cfg.warnings.count;

    kve_config_dispose(&cfg);
    if (ret != 0 && env != NULL) {
        fputs("kvedge: the errors above are in the configuration built from the environment:\n", stderr);
        kve_env_config_print_numbered(env, stderr);
    }
    if (ret != 0 || quiet)
        return ret == 0 ? 0 : 1;
    if (print && kve_config_print_source(config_path, stdout) != 0)
        return fprintf(stderr, "kvedge: cannot print %s: %s\n", config_path, strerror(errno)), 1;
    if (!print && warnings == 0)
        printf("kvedge: configuration %s is valid\n", config_path);
    else if (!print)
        printf("kvedge: configuration %s is valid, with %zu warning%s\n", config_path, warnings, warnings == 1 ? "" : "s");
    return 0;
}

/* a start without a config file: the lines a KV client needs on stdout, then the run */
static int run_from_env(const kve_env_config_t *env)
{
    if (check_config(KVE_ENV_CONFIG_NAME, env, 0, 1) != 0)
        return 1;
    kve_env_config_print_env(env, stdout);
    fflush(stdout);
    fputs("kvedge: no -c: running the configuration built from the environment (kvedge --print-config shows it)\n", stderr);
    return kve_daemon_run(KVE_ENV_CONFIG_NAME);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'v'},
                                             {"help-config", no_argument, NULL, 'H'},
                                             {"print-config", no_argument, NULL, 'P'},
                                             {NULL}};
    const char *config_path = NULL;
    kve_env_config_t env = {NULL};
    int ch, test_only = 0, print_config = 0, ret;

    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return mint_token(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "acl") == 0)
        return print_acl(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "reload") == 0)
        return send_reload(argc - 1, argv + 1);
    while ((ch = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            test_only = 1;
            break;
        case 'P':
            print_config = 1;
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
    if (optind != argc) {
        usage(stderr);
        return 1;
    }
    if (config_path == NULL && (config_path = env_config_path(&env)) == NULL)
        return 1;
    if (kve_jwt_floor_check(NULL, stderr) != 0) /* S16: never run (nor pass a config) on a libjwt without the CVE fix */
        ret = 1;
    else if (test_only || print_config)
        ret = check_config(config_path, env.yaml != NULL ? &env : NULL, print_config, 0);
    else
        ret = env.yaml != NULL ? run_from_env(&env) : kve_daemon_run(config_path);
    kve_config_set_source(NULL, NULL);
    kve_env_config_dispose(&env);
    return ret;
}
