/* SPDX-License-Identifier: MIT */
/* A redis-server for unit tests (see redis_server.h). */
#include "redis_server.h"
#include "proxy/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000

#define MAX_EXTRA 8

struct st_kve_test_redis_t {
    const char *extra[MAX_EXTRA + 1];
    char dir[64];
    char socket[96];
    char log[96];
    pid_t pid;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* in the child: async-signal-safe calls only until execvp */
static void exec_server(kve_test_redis_t *r, pid_t parent)
{
    char *argv[17 + MAX_EXTRA + 1] = {"redis-server", "--port",    "0",    "--unixsocket", r->socket, "--unixsocketperm",
                                      "700",          "--save",    "",     "--appendonly", "no",      "--dir",
                                      r->dir,         "--logfile", r->log, "--daemonize",  "no"};
    int null = open("/dev/null", O_RDWR);

    for (size_t i = 0; r->extra[i] != NULL; ++i)
        argv[17 + i] = (char *)r->extra[i];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the test died before prctl */
        _exit(1);
    if (null != -1) {
        dup2(null, 0);
        dup2(null, 1);
    }
    execvp(argv[0], argv);
    _exit(127);
}

/* whether the server answers PING on its socket now */
static int answers_ping(const kve_test_redis_t *r)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct pollfd pfd;
    char buf[16];
    ssize_t n = 0;
    int fd, ok = 0;

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", r->socket);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
        return 0;
    if (connect(fd, (void *)&sun, sizeof(sun)) == 0 && write(fd, "PING\r\n", 6) == 6) {
        pfd = (struct pollfd){.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 1000) == 1 && (n = read(fd, buf, sizeof(buf))) == 7)
            ok = memcmp(buf, "+PONG\r\n", 7) == 0;
    }
    close(fd);
    return ok;
}

int kve_test_free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

    if (fd != -1 && bind(fd, (void *)&sin, sizeof(sin)) == 0 && getsockname(fd, (void *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd != -1)
        close(fd);
    return port;
}

kve_test_redis_t *kve_test_redis_start(char *err, size_t errlen)
{
    return kve_test_redis_start_args(NULL, err, errlen);
}

kve_test_redis_t *kve_test_redis_start_args(const char *const *extra, char *err, size_t errlen)
{
    kve_test_redis_t *r = kve_zalloc(sizeof(*r));
    pid_t parent = getpid(), pid;
    uint64_t deadline;
    int status;

    for (size_t i = 0; extra != NULL && extra[i] != NULL; ++i) {
        KVE_ASSERT(i < MAX_EXTRA);
        r->extra[i] = extra[i];
    }

    snprintf(r->dir, sizeof(r->dir), "/tmp/kve-unit-redis-XXXXXX");
    if (mkdtemp(r->dir) == NULL) {
        snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
        free(r);
        return NULL;
    }
    snprintf(r->socket, sizeof(r->socket), "%s/redis.sock", r->dir);
    snprintf(r->log, sizeof(r->log), "%s/redis.log", r->dir);
    if ((pid = fork()) == -1) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        kve_test_redis_free(r);
        return NULL;
    }
    if (pid == 0)
        exec_server(r, parent);
    r->pid = pid;
    for (deadline = now_ms() + START_TIMEOUT_MS; !answers_ping(r); usleep(20000)) {
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            snprintf(err, errlen, "redis-server exited during startup (status %d; 127: not in PATH); see %s", status, r->log);
            return kve_test_redis_free(r), NULL;
        }
        if (now_ms() > deadline) {
            snprintf(err, errlen, "redis-server did not answer PING on %s within %d ms", r->socket, START_TIMEOUT_MS);
            return kve_test_redis_free(r), NULL;
        }
    }
    return r;
}

const char *kve_test_redis_socket(const kve_test_redis_t *r)
{
    return r->socket;
}

void kve_test_redis_stop(kve_test_redis_t *r)
{
    uint64_t deadline = now_ms() + STOP_TIMEOUT_MS;

    if (r->pid <= 0) /* never kill(0) or kill(-1) */
        return;
    kill(r->pid, SIGTERM);
    while (waitpid(r->pid, NULL, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
            break;
        }
        usleep(10000);
    }
    r->pid = 0;
}

void kve_test_redis_free(kve_test_redis_t *r)
{
    DIR *d;
    struct dirent *e;
    char path[sizeof(r->dir) + 1 + 256];

    if (r == NULL)
        return;
    kve_test_redis_stop(r);
    if ((d = opendir(r->dir)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", r->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
        rmdir(r->dir);
    }
    free(r);
}
