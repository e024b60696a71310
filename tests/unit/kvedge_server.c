/* SPDX-License-Identifier: MIT */
/* A second kvedge for unit tests (see kvedge_server.h). */
#include "kvedge_server.h"
#include "proxy/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 15000

struct st_kve_test_kvedge_t {
    char dir[64];
    char config[96];
    char log[96];
    char url[64];
    int port;
    pid_t pid;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd != -1 && bind(fd, (void *)&sin, sizeof(sin)) == 0 && getsockname(fd, (void *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd != -1)
        close(fd);
    return port;
}

static int accepts(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    ok = fd != -1 && connect(fd, (void *)&sin, sizeof(sin)) == 0;
    if (fd != -1)
        close(fd);
    return ok;
}

static void show_log(const kve_test_kvedge_t *k)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "cat %.96s >&2", k->log);
    if (system(cmd) != 0)
        fprintf(stderr, "kvedge log: %s\n", k->log);
}

static int write_config(kve_test_kvedge_t *k, const char *redis_socket, const char *extra_kv)
{
    FILE *fp = fopen(k->config, "w");
    if (fp == NULL)
        return -1;
    fprintf(fp,
            "listen:\n  - host: 127.0.0.1\n    port: %d\nthreads: 1\ndata_dir: %s\nredis:\n  url: unix://%s\n"
            "  command_timeout: 10s\nkv:\n  tokens:\n    - token: " KVE_TEST_KVEDGE_TOKEN "\n%s",
            k->port, k->dir, redis_socket, extra_kv);
    return fclose(fp) == 0 ? 0 : -1;
}

kve_test_kvedge_t *kve_test_kvedge_start(const char *redis_socket, const char *extra_kv, char *err, size_t errlen)
{
    kve_test_kvedge_t *k = kve_zalloc(sizeof(*k));
    const char *bin = getenv("KVEDGE_BIN");
    pid_t parent = getpid();
    uint64_t deadline;
    int status;

    if (bin == NULL || bin[0] == '\0') {
        snprintf(err, errlen, "KVEDGE_BIN is not set (ctest sets it to the kvedge of this build)");
        free(k);
        return NULL;
    }
    snprintf(k->dir, sizeof(k->dir), "/tmp/kve_test_kvedge_XXXXXX");
    if (mkdtemp(k->dir) == NULL || (k->port = free_port()) <= 0) {
        snprintf(err, errlen, "mkdtemp or free port: %s", strerror(errno));
        free(k);
        return NULL;
    }
    snprintf(k->config, sizeof(k->config), "%s/kvedge.yaml", k->dir);
    snprintf(k->log, sizeof(k->log), "%s/kvedge.log", k->dir);
    snprintf(k->url, sizeof(k->url), "http://127.0.0.1:%d/kv", k->port);
    /* the ASan build's kvedge: the leak suppressions its integration tests use (h2o's own allocations) */
    if (getenv("LSAN_OPTIONS") == NULL && getenv("KVEDGE_SOURCE_DIR") != NULL) {
        char opts[512];
        snprintf(opts, sizeof(opts), "suppressions=%s/tests/lsan.supp:print_suppressions=0", getenv("KVEDGE_SOURCE_DIR"));
        setenv("LSAN_OPTIONS", opts, 1);
    }
    if (write_config(k, redis_socket, extra_kv) != 0 || (k->pid = fork()) == -1) {
        snprintf(err, errlen, "config or fork: %s", strerror(errno));
        kve_test_kvedge_free(k);
        return NULL;
    }
    if (k->pid == 0) {
        int log = open(k->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        if (log != -1)
            dup2(log, 1), dup2(log, 2);
        execl(bin, bin, "-c", k->config, (char *)NULL);
        _exit(127);
    }
    for (deadline = now_ms() + START_TIMEOUT_MS; now_ms() < deadline; usleep(20000)) {
        if (waitpid(k->pid, &status, WNOHANG) == k->pid) {
            snprintf(err, errlen, "kvedge exited at start with status %d (its log follows)", status);
            k->pid = 0;
            show_log(k);
            kve_test_kvedge_free(k);
            return NULL;
        }
        if (accepts(k->port))
            return k;
    }
    snprintf(err, errlen, "kvedge did not listen within %d ms", START_TIMEOUT_MS);
    kve_test_kvedge_free(k);
    return NULL;
}

const char *kve_test_kvedge_url(const kve_test_kvedge_t *k)
{
    return k->url;
}

int kve_test_kvedge_free(kve_test_kvedge_t *k)
{
    int status = 0, ret = -1;
    char cmd[160];

    if (k == NULL)
        return 0;
    if (k->pid > 0) { /* never kill(0) or kill(-1) */
        uint64_t deadline = now_ms() + STOP_TIMEOUT_MS;
        kill(k->pid, SIGTERM);
        while (waitpid(k->pid, &status, WNOHANG) == 0) {
            if (now_ms() > deadline) {
                kill(k->pid, SIGKILL);
                waitpid(k->pid, &status, 0);
                break;
            }
            usleep(10000);
        }
        ret = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (ret != 0) /* show why (a sanitizer report) */
            show_log(k);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", k->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", k->dir);
    free(k);
    return ret;
}
