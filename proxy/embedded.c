/* SPDX-License-Identifier: MIT */
/*
 * Supervisor of the embedded redis-server (see embedded.h). The child gets command-line options only (no
 * config file), listens on <data_dir>/redis.sock and never on TCP, and writes its log to
 * <data_dir>/redis.log. Its stdout and stderr point at the same file, so what Redis prints before that
 * log is open (a rejected option, say) never mixes into our error log, and a failed start can quote it.
 * The parent is multi-threaded by the time a restart happens, so argv and the environment are built once, up
 * front (the environment without NOTIFY_SOCKET: only kvedge speaks to systemd, proxy/notify.h), and
 * between fork() and execv() the child makes async-signal-safe calls only. The child runs in its own
 * process group: a Ctrl-C on the terminal reaches kvedge, which then stops Redis in order, and a final
 * SIGKILL to the group also takes any AOF-rewrite child with it.
 */
#include "proxy/embedded.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_START_TIMEOUT_MS 10000
#define PING_TIMEOUT_MS 500
#define STARTUP_RETRY_MS 20
#define STOP_GRACE_MS 5000
#define STOP_POLL_MS 10
#define QUICK_DEATH_MS 1000
#define STABLE_MS 10000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define LOG_TAIL_BYTES 2048
#define LOG_TAIL_LINES 4
#define MAX_ARGS 40 /* kvedge's own options; extra ones (the ACL users) come on top */

struct st_kve_embedded_t {
    char *binary;    /* resolved path of redis-server */
    char *data_dir;  /* absolute */
    char *sock_path; /* <data_dir>/redis.sock */
    char *log_path;  /* <data_dir>/redis.log */
    char maxmemory[24];
    char output_limit[24];
    /** the options passed to kve_embedded_start (copies) */
    kve_strv_t extra_args;
    /** points into the strings above or at literals; built before any fork */
    char **argv;
    /** kvedge's environment without NOTIFY_SOCKET (borrowed strings), built with argv */
    char **envp;
    uint64_t start_timeout_ms;
    int lock_fd;
    int locked;
    /** PID of the running server, 0 while a restart is pending */
    pid_t pid;
    /** size of redis.log when the current server was spawned: startup errors are what follows */
    off_t log_offset;
    uint64_t started_at;
    /** when pid == 0: kve_now_ms() at which the next restart is due */
    uint64_t restart_at;
    /** consecutive deaths within QUICK_DEATH_MS of a start (drives the backoff) */
    unsigned quick_deaths;
    uint64_t restarts;
};

const char *const kve_embedded_fsync_modes[] = {"everysec", "always", "no", NULL};
const char *const kve_embedded_policies[] = {"noeviction",      "allkeys-lru",  "allkeys-lfu",
                                             "allkeys-random",  "volatile-lru", "volatile-lfu",
                                             "volatile-random", "volatile-ttl", NULL};

static char *join_path(const char *dir, size_t dirlen, const char *name)
{
    size_t namelen = strlen(name);
    char *p = kve_malloc(dirlen + 1 + namelen + 1);
    memcpy(p, dir, dirlen);
    p[dirlen] = '/';
    memcpy(p + dirlen + 1, name, namelen + 1);
    return p;
}

/* 0 if `path` is a regular file we may execute, else -1 with errno set */
static int check_executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = EACCES;
        return -1;
    }
    return access(path, X_OK);
}

/* the program to run: embedded_redis.binary, or redis-server from PATH */
static const char *binary_name(const kve_embedded_conf_t *conf)
{
    return conf->binary != NULL && *conf->binary != '\0' ? conf->binary : "redis-server";
}

static uint64_t start_timeout(const kve_embedded_conf_t *conf)
{
    return conf->start_timeout_ms != 0 ? conf->start_timeout_ms : DEFAULT_START_TIMEOUT_MS;
}

static char *resolve_binary(const char *name, char *err, size_t errlen)
{
    const char *path, *p, *end;
    char *cand;

    if (strchr(name, '/') != NULL) {
        if (check_executable(name) == 0)
            return kve_strdup(name);
        snprintf(err, errlen, "embedded_redis.binary %s is not an executable file: %s", name, strerror(errno));
        return NULL;
    }
    if ((path = getenv("PATH")) == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path;; p = end + 1) {
        if ((end = strchr(p, ':')) == NULL)
            end = p + strlen(p);
        /* an empty PATH element means the current directory */
        cand = end == p ? join_path(".", 1, name) : join_path(p, (size_t)(end - p), name);
        if (check_executable(cand) == 0)
            return cand;
        free(cand);
        if (*end == '\0')
            break;
    }
    snprintf(err, errlen, "%s not found in PATH (install the redis-server package or set embedded_redis.binary)", name);
    return NULL;
}

/* mkdir -p with mode 0700 for the directories it creates */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char *copy = kve_strdup(dir), *slash;
    struct stat st;
    int ret = -1;

    for (slash = strchr(copy + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash != NULL)
            *slash = '\0';
        if (copy[0] != '\0' && mkdir(copy, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create data_dir %s: %s", dir, strerror(errno));
            goto Exit;
        }
        if (slash == NULL)
            break;
        *slash = '/';
    }
    if (stat(dir, &st) != 0) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", dir, strerror(errno));
        goto Exit;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data_dir %s exists and is not a directory", dir);
        goto Exit;
    }
    ret = 0;
Exit:
    free(copy);
    return ret;
}

static int prepare_data_dir(kve_embedded_t *e, const char *dir, char *err, size_t errlen)
{
    struct sockaddr_un sa;

    if (dir == NULL || *dir == '\0') {
        snprintf(err, errlen, "embedded_redis.data_dir is not set");
        return -1;
    }
    if (make_dirs(dir, err, errlen) != 0)
        return -1;
    if ((e->data_dir = realpath(dir, NULL)) == NULL) {
        snprintf(err, errlen, "cannot resolve data_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    e->sock_path = join_path(e->data_dir, strlen(e->data_dir), "redis.sock");
    e->log_path = join_path(e->data_dir, strlen(e->data_dir), "redis.log");
    if (strlen(e->sock_path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "data_dir path %s is too long: the unix socket path %s must be shorter than %zu bytes", e->data_dir,
                 e->sock_path, sizeof(sa.sun_path));
        return -1;
    }
    return 0;
}

/* reads the PID a running kvedge wrote into the lock file; 0 if unknown */
static long read_lock_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long pid;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return sscanf(buf, "%ld", &pid) == 1 && pid > 0 ? pid : 0;
}

static int take_lock(kve_embedded_t *e, char *err, size_t errlen)
{
    char *path = join_path(e->data_dir, strlen(e->data_dir), "kvedge.lock"), buf[32];
    long other;
    int n, ret = -1;

    if ((e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto Exit;
    }
    if (flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        } else if ((other = read_lock_pid(e->lock_fd)) != 0) {
            snprintf(err, errlen, "data_dir %s is in use by another kvedge (pid %ld)", e->data_dir, other);
        } else {
            snprintf(err, errlen, "data_dir %s is in use by another kvedge", e->data_dir);
        }
        goto Exit;
    }
    e->locked = 1;
    /* the PID is informational (for the message above); failing to write it is harmless */
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(e->lock_fd, 0) != 0 || pwrite(e->lock_fd, buf, (size_t)n, 0) != n)
        kve_log(KVE_LOG_WARN, "redis", "cannot write pid into %s: %s", path, strerror(errno));
    ret = 0;
Exit:
    free(path);
    return ret;
}

static void add_opt(kve_embedded_t *e, size_t *n, const char *name, const char *value)
{
    KVE_ASSERT(*n + 2 < MAX_ARGS); /* room for the terminating NULL (extra options come after these) */
    e->argv[(*n)++] = (char *)name;
    e->argv[(*n)++] = (char *)value;
}

static void build_argv(kve_embedded_t *e, const kve_embedded_conf_t *conf)
{
    size_t n = 0;

    e->argv = kve_malloc(sizeof(*e->argv) * (MAX_ARGS + e->extra_args.n));
    KVE_ASSERT(conf->appendfsync >= 0 && (size_t)conf->appendfsync < KVE_ARRAY_SIZE(kve_embedded_fsync_modes) - 1);
    e->argv[n++] = e->binary;
    add_opt(e, &n, "--port", "0");
    add_opt(e, &n, "--bind", "127.0.0.1");
    add_opt(e, &n, "--unixsocket", e->sock_path);
    add_opt(e, &n, "--unixsocketperm", "700");
    add_opt(e, &n, "--dir", e->data_dir);
    add_opt(e, &n, "--appendonly", "yes");
    add_opt(e, &n, "--appendfsync", kve_embedded_fsync_modes[conf->appendfsync]);
    add_opt(e, &n, "--save", "");
    add_opt(e, &n, "--daemonize", "no");
    add_opt(e, &n, "--protected-mode", "yes");
    add_opt(e, &n, "--loglevel", "warning");
    add_opt(e, &n, "--logfile", e->log_path);
    /* Redis' default for normal clients is unlimited: one request's replies could grow it without bound.
     * Separate words: redis-server quotes a single argument with spaces as one value. */
    snprintf(e->output_limit, sizeof(e->output_limit), "%" PRIu64, conf->client_output_buffer_limit);
    add_opt(e, &n, "--client-output-buffer-limit", "normal");
    add_opt(e, &n, e->output_limit, "0");
    KVE_ASSERT(n + 2 < MAX_ARGS);
    e->argv[n++] = "0";
    KVE_ASSERT(conf->maxmemory_policy >= 0 && (size_t)conf->maxmemory_policy < KVE_ARRAY_SIZE(kve_embedded_policies) - 1);
    add_opt(e, &n, "--maxmemory-policy", kve_embedded_policies[conf->maxmemory_policy]);
    if (conf->maxmemory != 0) {
        snprintf(e->maxmemory, sizeof(e->maxmemory), "%" PRIu64, conf->maxmemory);
        add_opt(e, &n, "--maxmemory", e->maxmemory);
    }
    for (size_t i = 0; i != e->extra_args.n; ++i)
        e->argv[n++] = e->extra_args.v[i];
    e->argv[n] = NULL;
}

/* the child's environment: ours, except NOTIFY_SOCKET (a redis-server built with systemd support would notify) */
static void build_envp(kve_embedded_t *e)
{
    size_t n = 0;
    while (environ[n] != NULL)
        ++n;
    e->envp = kve_malloc(sizeof(*e->envp) * (n + 1));
    KVE_ASSERT(kve_notify_child_env(environ, e->envp, n + 1) == 0);
}

/* left behind by a server that was killed; it cannot belong to a live one, since we hold the lock */
static void remove_stale_socket(const kve_embedded_t *e)
{
    struct stat st;
    if (lstat(e->sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(e->sock_path) != 0)
        kve_log(KVE_LOG_WARN, "redis", "cannot remove stale socket %s: %s", e->sock_path, strerror(errno));
}

/* in the forked child when execv failed: stderr is redis.log, which a failed start quotes */
static void report_exec_failure(const char *path)
{
    struct iovec iov[3] = {{.iov_base = "kvedge: cannot execute ", .iov_len = sizeof("kvedge: cannot execute ") - 1},
                           {.iov_base = (char *)path, .iov_len = strlen(path)},
                           {.iov_base = "\n", .iov_len = 1}};
    if (writev(2, iov, 3) < 0)
        return;
}

/* runs in the forked child: async-signal-safe calls only, never returns */
static void exec_child(const kve_embedded_t *e, pid_t parent, int logfd)
{
    struct sigaction sa;
    sigset_t empty;
    int sig, nullfd;

    /* die with kvedge, even if it is SIGKILLed; if it already died, our parent is someone else */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    setpgid(0, 0);
    /* handlers are reset by execv anyway, but ignored signals (SIGPIPE) are inherited: reset them first */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    if ((nullfd = open("/dev/null", O_RDONLY)) == -1 || dup2(nullfd, 0) == -1 || dup2(logfd, 1) == -1 || dup2(logfd, 2) == -1)
        _exit(127);
    if (nullfd > 2)
        close(nullfd);
#ifdef SYS_close_range
    /* our fds are close-on-exec; this also covers any a library opened without the flag */
    syscall(SYS_close_range, 3u, ~0u, 0u);
#endif
    execve(e->binary, e->argv, e->envp);
    report_exec_failure(e->binary);
    _exit(127);
}

/* non-blocking: forks the server and returns */
static int spawn(kve_embedded_t *e, char *err, size_t errlen)
{
    pid_t parent = getpid(), pid;
    struct stat st;
    int logfd;

    if ((logfd = open(e->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1) {
        snprintf(err, errlen, "cannot open %s: %s", e->log_path, strerror(errno));
        return -1;
    }
    e->log_offset = fstat(logfd, &st) == 0 ? st.st_size : 0;
    remove_stale_socket(e);
    if ((pid = fork()) == -1) {
        snprintf(err, errlen, "cannot fork redis-server: %s", strerror(errno));
        close(logfd);
        return -1;
    }
    if (pid == 0)
        exec_child(e, parent, logfd);
    setpgid(pid, pid); /* also done by the child; whichever runs first wins, so kill(-pid) always works */
    close(logfd);
    e->pid = pid;
    e->started_at = kve_now_ms();
    return 0;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, len, "stopped with wait status 0x%x", (unsigned)status);
    }
}

/* reads a line into `buf` (without CRLF) within `timeout_ms`; returns its length or -1 */
static ssize_t read_reply_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    uint64_t deadline = kve_now_ms() + (uint64_t)timeout_ms, now;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t len = 0;
    ssize_t n;
    char *nl;

    while (len + 1 < cap) {
        if ((now = kve_now_ms()) >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
            return -1;
        if ((n = read(fd, buf + len, cap - 1 - len)) <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if ((nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            if (nl != buf && nl[-1] == '\r')
                nl[-1] = '\0';
            return (ssize_t)strlen(buf);
        }
    }
    return (ssize_t)len;
}

/* one PING over a fresh connection: 1 on +PONG, else 0 with what happened in `last` */
static int ping_once(const char *sock_path, char *last, size_t lastlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char line[128];
    int fd, ret = 0;

    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
        snprintf(last, lastlen, "socket: %s", strerror(errno));
        return 0;
    }
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1); /* length checked in prepare_data_dir */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(last, lastlen, "connect: %s", strerror(errno));
        goto Exit;
    }
    if (send(fd, KVE_STRLIT("PING\r\n"), MSG_NOSIGNAL) != (ssize_t)sizeof("PING\r\n") - 1) {
        snprintf(last, lastlen, "send: %s", strerror(errno));
        goto Exit;
    }
    if (read_reply_line(fd, line, sizeof(line), PING_TIMEOUT_MS) < 0) {
        snprintf(last, lastlen, "no reply to PING");
        goto Exit;
    }
    /* "-LOADING ..." while the AOF is replayed: not ready yet, keep waiting */
    if (strcmp(line, "+PONG") == 0)
        ret = 1;
    else
        snprintf(last, lastlen, "reply %s", line);
Exit:
    close(fd);
    return ret;
}

/* appends the last lines redis.log got since the server was spawned to `buf`, joined with " | " */
static void append_log_tail(const kve_embedded_t *e, char *buf, size_t len)
{
    char tail[LOG_TAIL_BYTES + 1], *lines[LOG_TAIL_LINES], *p, *save = NULL;
    size_t nlines = 0, i, used = strlen(buf);
    struct stat st;
    off_t from;
    ssize_t n;
    int fd;

    if ((fd = open(e->log_path, O_RDONLY | O_CLOEXEC)) == -1)
        return;
    from = fstat(fd, &st) == 0 ? KVE_MAX(e->log_offset, st.st_size - LOG_TAIL_BYTES) : e->log_offset;
    n = pread(fd, tail, LOG_TAIL_BYTES, KVE_MAX(from, 0));
    close(fd);
    if (n <= 0)
        return;
    tail[n] = '\0';
    for (p = strtok_r(tail, "\r\n", &save); p != NULL; p = strtok_r(NULL, "\r\n", &save)) {
        if (nlines == LOG_TAIL_LINES)
            memmove(lines, lines + 1, sizeof(lines[0]) * --nlines);
        lines[nlines++] = p;
    }
    for (i = 0; i != nlines && used + 1 < len; ++i)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i == 0 ? "; redis.log: " : " | ", lines[i]);
    for (p = buf; *p != '\0'; ++p)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

static void kill_and_reap(pid_t pid)
{
    kill(-pid, SIGKILL); /* the group: also any AOF-rewrite child */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
        ;
}

/*
 * Non-blocking: 1 with the wait status in `status` if `pid` exited (then it is reaped), 0 while it runs,
 * -1 on error. It peeks first (WNOWAIT) so that the group is killed while the zombie still pins its ID:
 * a leftover AOF-rewrite child must not outlive its server, and the ID cannot have been reused yet.
 */
static int try_reap(pid_t pid, int *status)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == EINTR ? 0 : -1;
    if (si.si_pid == 0)
        return 0;
    kill(-pid, SIGKILL);
    while (waitpid(pid, status, 0) == -1 && errno == EINTR)
        ;
    return 1;
}

static int wait_ready(kve_embedded_t *e, char *err, size_t errlen)
{
    uint64_t deadline = kve_now_ms() + e->start_timeout_ms;
    char last[160] = "no attempt", how[64];
    int status;

    for (;;) {
        if (try_reap(e->pid, &status) == 1) {
            describe_status(status, how, sizeof(how));
            snprintf(err, errlen, "embedded redis-server %s during startup", how);
            e->pid = 0;
            append_log_tail(e, err, errlen);
            return -1;
        }
        if (ping_once(e->sock_path, last, sizeof(last)))
            return 0;
        if (kve_now_ms() >= deadline)
            break;
        sleep_ms(STARTUP_RETRY_MS);
    }
    kill_and_reap(e->pid);
    e->pid = 0;
    snprintf(err, errlen, "embedded redis-server did not answer PING within %" PRIu64 " ms (last: %s); killed it",
             e->start_timeout_ms, last);
    append_log_tail(e, err, errlen);
    return -1;
}

/* SIGTERM (Redis flushes the AOF and exits), then SIGKILL after the grace period */
static void terminate_child(kve_embedded_t *e)
{
    uint64_t deadline = kve_now_ms() + STOP_GRACE_MS;
    pid_t pid = e->pid;
    char how[64];
    int status, r;

    e->pid = 0;
    kill(pid, SIGTERM);
    while ((r = try_reap(pid, &status)) == 0) {
        if (kve_now_ms() >= deadline) {
            kill_and_reap(pid);
            kve_log(KVE_LOG_WARN, "redis", "embedded redis-server (pid %d) did not exit within %d s of SIGTERM; killed it",
                    (int)pid, STOP_GRACE_MS / 1000);
            return;
        }
        sleep_ms(STOP_POLL_MS);
    }
    if (r == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        kve_log(KVE_LOG_INFO, "redis", "embedded redis-server (pid %d) stopped", (int)pid);
    } else if (r == 1) {
        describe_status(status, how, sizeof(how));
        kve_log(KVE_LOG_WARN, "redis", "embedded redis-server (pid %d) %s on shutdown; see %s", (int)pid, how, e->log_path);
    }
}

/* the options after kvedge's own: the configuration's (embedded_redis.options), then the caller's (copies) */
static void push_extra_args(kve_strv_t *out, const kve_embedded_conf_t *conf, char *const *extra_args)
{
    for (size_t i = 0; i != conf->options.n; ++i)
        kve_strv_push(out, conf->options.v[i]);
    for (; extra_args != NULL && *extra_args != NULL; ++extra_args)
        kve_strv_push(out, *extra_args);
}

kve_embedded_t *kve_embedded_start(const kve_embedded_conf_t *conf, char *const *extra_args, char *err, size_t errlen)
{
    kve_embedded_t *e = kve_zalloc(sizeof(*e));

    push_extra_args(&e->extra_args, conf, extra_args);
    e->lock_fd = -1;
    e->start_timeout_ms = start_timeout(conf);
    if ((e->binary = resolve_binary(binary_name(conf), err, errlen)) == NULL)
        goto Error;
    if (prepare_data_dir(e, conf->data_dir, err, errlen) != 0 || take_lock(e, err, errlen) != 0)
        goto Error;
    build_argv(e, conf);
    build_envp(e);
    if (conf->client_output_buffer_limit == 0)
        kve_log(KVE_LOG_WARN, "redis",
                "embedded_redis.client_output_buffer_limit is 0: Redis' output buffer per connection is "
                "unlimited, so one request can make it buffer without bound");
    if (spawn(e, err, errlen) != 0 || wait_ready(e, err, errlen) != 0)
        goto Error;
    kve_log(KVE_LOG_INFO, "redis", "embedded redis-server (pid %d) ready on %s", (int)e->pid, e->sock_path);
    return e;
Error:
    kve_embedded_stop(e);
    return NULL;
}

int kve_embedded_matches(const kve_embedded_t *e, const kve_embedded_conf_t *conf, char *const *extra_args)
{
    kve_embedded_t tmp = {0};
    char err[256];
    int same = 0;

    push_extra_args(&tmp.extra_args, conf, extra_args);
    /* the redis-server command line this configuration would start, compared word by word with the running one */
    if ((tmp.binary = resolve_binary(binary_name(conf), err, sizeof(err))) != NULL && conf->data_dir != NULL &&
        (tmp.data_dir = realpath(conf->data_dir, NULL)) != NULL) {
        size_t i;
        tmp.sock_path = join_path(tmp.data_dir, strlen(tmp.data_dir), "redis.sock");
        tmp.log_path = join_path(tmp.data_dir, strlen(tmp.data_dir), "redis.log");
        build_argv(&tmp, conf);
        for (i = 0; e->argv[i] != NULL && tmp.argv[i] != NULL && strcmp(e->argv[i], tmp.argv[i]) == 0; ++i)
            ;
        same = e->argv[i] == NULL && tmp.argv[i] == NULL && start_timeout(conf) == e->start_timeout_ms;
    }
    free(tmp.argv);
    kve_strv_dispose(&tmp.extra_args);
    free(tmp.binary);
    free(tmp.data_dir);
    free(tmp.sock_path);
    free(tmp.log_path);
    return same;
}

/* whether `conf` names the binary and data_dir `e` runs with (those cannot change without a new lock and socket) */
static int same_place(const kve_embedded_t *e, const kve_embedded_conf_t *conf)
{
    char err[256], *binary = resolve_binary(binary_name(conf), err, sizeof(err));
    char *data_dir = conf->data_dir != NULL ? realpath(conf->data_dir, NULL) : NULL;
    int same = binary != NULL && data_dir != NULL && strcmp(binary, e->binary) == 0 && strcmp(data_dir, e->data_dir) == 0;
    free(binary);
    free(data_dir);
    return same;
}

int kve_embedded_reconfigure(kve_embedded_t *e, const kve_embedded_conf_t *conf, char *const *extra_args, char *err, size_t errlen)
{
    kve_embedded_t prev = *e; /* the running command line, to come back to */
    char back_err[256];

    if (!same_place(e, conf)) {
        snprintf(err, errlen, "embedded_redis.binary or data_dir changed: that takes a restart of kvedge");
        return -1;
    }
    e->extra_args = (kve_strv_t){0};
    push_extra_args(&e->extra_args, conf, extra_args);
    e->start_timeout_ms = start_timeout(conf);
    build_argv(e, conf); /* rewrites the number buffers the previous argv points into: restored below on failure */
    if (e->pid != 0)
        terminate_child(e); /* SIGTERM: Redis writes the AOF out and exits */
    if (spawn(e, err, errlen) == 0 && wait_ready(e, err, errlen) == 0) {
        kve_log(KVE_LOG_INFO, "redis", "embedded redis-server (pid %d) restarted with the new settings", (int)e->pid);
        free(prev.argv);
        kve_strv_dispose(&prev.extra_args);
        return 0;
    }
    free(e->argv);
    kve_strv_dispose(&e->extra_args);
    e->argv = prev.argv;
    e->extra_args = prev.extra_args;
    e->start_timeout_ms = prev.start_timeout_ms;
    memcpy(e->maxmemory, prev.maxmemory, sizeof(e->maxmemory));
    memcpy(e->output_limit, prev.output_limit, sizeof(e->output_limit));
    if (spawn(e, back_err, sizeof(back_err)) != 0 || wait_ready(e, back_err, sizeof(back_err)) != 0) {
        kve_log(KVE_LOG_ERROR, "redis", "embedded redis-server: the previous settings did not start again either: %s; retrying",
                back_err);
        e->restart_at = kve_now_ms(); /* kve_embedded_poll retries, with its backoff */
    }
    return -1;
}

const char *kve_embedded_socket_path(const kve_embedded_t *e)
{
    return e->sock_path;
}

/* how long to wait before the next restart, given how the last run went */
static uint64_t restart_delay(kve_embedded_t *e, uint64_t ran_ms)
{
    if (ran_ms >= STABLE_MS)
        e->quick_deaths = 0;
    if (ran_ms >= QUICK_DEATH_MS)
        return 0;
    /* the first quick death restarts at once; after that 100, 200, 400 ... ms up to 5 s */
    if (++e->quick_deaths < 2)
        return 0;
    return KVE_MIN((uint64_t)BACKOFF_FIRST_MS << KVE_MIN(e->quick_deaths - 2, 16u), (uint64_t)BACKOFF_MAX_MS);
}

/* 1 if the child is gone (and a restart was scheduled), 0 if it still runs */
static int reap(kve_embedded_t *e, uint64_t now)
{
    char how[64];
    uint64_t delay;
    int status, r;

    if ((r = try_reap(e->pid, &status)) == 0)
        return 0;
    if (r == -1)
        snprintf(how, sizeof(how), "disappeared (waitid: %s)", strerror(errno));
    else
        describe_status(status, how, sizeof(how));
    delay = restart_delay(e, now - e->started_at);
    if (delay == 0)
        kve_log(KVE_LOG_WARN, "redis", "embedded redis-server (pid %d) %s; restarting", (int)e->pid, how);
    else
        kve_log(KVE_LOG_WARN, "redis", "embedded redis-server (pid %d) %s; restarting in %" PRIu64 " ms", (int)e->pid, how, delay);
    e->pid = 0;
    e->restart_at = now + delay;
    return 1;
}

uint64_t kve_embedded_poll(kve_embedded_t *e)
{
    uint64_t now = kve_now_ms(), delay;
    char err[256];

    if (e->pid != 0 && !reap(e, now))
        return UINT64_MAX;
    if (e->restart_at > now)
        return e->restart_at - now;
    if (spawn(e, err, sizeof(err)) != 0) {
        delay = KVE_MAX(restart_delay(e, 0), (uint64_t)BACKOFF_FIRST_MS);
        kve_log(KVE_LOG_WARN, "redis", "cannot restart embedded redis-server: %s; retrying in %" PRIu64 " ms", err, delay);
        e->restart_at = now + delay;
        return delay;
    }
    ++e->restarts;
    kve_log(KVE_LOG_INFO, "redis", "embedded redis-server restarted (pid %d)", (int)e->pid);
    return UINT64_MAX;
}

uint64_t kve_embedded_restarts(const kve_embedded_t *e)
{
    return e->restarts;
}

pid_t kve_embedded_pid(const kve_embedded_t *e)
{
    return e->pid;
}

void kve_embedded_stop(kve_embedded_t *e)
{
    if (e == NULL)
        return;
    if (e->pid != 0)
        terminate_child(e);
    /* only while holding the lock: otherwise the socket belongs to another kvedge's server */
    if (e->locked) {
        if (unlink(e->sock_path) != 0 && errno != ENOENT)
            kve_log(KVE_LOG_WARN, "redis", "cannot remove %s: %s", e->sock_path, strerror(errno));
        if (ftruncate(e->lock_fd, 0) != 0)
            kve_log(KVE_LOG_WARN, "redis", "cannot clear the pid in the lock file: %s", strerror(errno));
    }
    if (e->lock_fd != -1)
        close(e->lock_fd); /* releases the flock */
    free(e->argv);
    free(e->envp);
    kve_strv_dispose(&e->extra_args);
    free(e->binary);
    free(e->data_dir);
    free(e->sock_path);
    free(e->log_path);
    free(e);
}
