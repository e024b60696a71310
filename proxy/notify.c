/* SPDX-License-Identifier: MIT */
/*
 * sd_notify(3), written by hand instead of linking libsystemd: systemd documents this protocol as a stable
 * interface and publishes a short reference implementation meant to be copied into daemons
 * (https://systemd.io/NOTIFY/ "...it is recommended to reimplement the protocol"; sd_notify(3), "NOTES"). All it
 * takes is one datagram on an AF_UNIX socket, so a dependency on libsystemd (and its own dependencies) would buy
 * nothing, and kvedge stays one binary with the same Depends whether or not the machine runs systemd.
 * What it does not do: credentials passing (SCM_CREDENTIALS) and file descriptor passing, which kvedge never needs,
 * and the vsock addresses of systemd >= 254 (refused with a warning).
 */
#include "proxy/notify.h"
#include "proxy/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ENV_NAME "NOTIFY_SOCKET"

/* the address named by `name` ("/path" or "@abstract"); 0, or -1 after logging why it cannot be used */
static int make_address(const char *name, struct sockaddr_un *sa, socklen_t *salen)
{
    size_t len = strlen(name);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (name[0] != '/' && name[0] != '@') {
        kve_log(KVE_LOG_WARN, "notify", "$" ENV_NAME " is neither a path nor an abstract socket name (@...); not notifying");
        return -1;
    }
    /* a path needs its NUL inside sun_path; an abstract name's leading '@' becomes the NUL that marks it */
    if (len >= sizeof(sa->sun_path) + (name[0] == '@')) {
        kve_log(KVE_LOG_WARN, "notify", "$" ENV_NAME " is %zu bytes, longer than a socket address holds (%zu); not notifying", len,
                sizeof(sa->sun_path) - 1);
        return -1;
    }
    memcpy(sa->sun_path, name, len);
    if (name[0] == '@') {
        sa->sun_path[0] = '\0';
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    return 0;
}

int kve_notify(const char *state)
{
    const char *name = getenv(ENV_NAME);
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len = strlen(state);
    ssize_t sent;
    int fd, saved;

    if (name == NULL || name[0] == '\0')
        return 0;
    if (len > KVE_NOTIFY_MAX_MESSAGE) {
        kve_log(KVE_LOG_WARN, "notify", "message of %zu bytes is longer than %d; not sent", len, KVE_NOTIFY_MAX_MESSAGE);
        return -1;
    }
    if (make_address(name, &sa, &salen) != 0)
        return -1;
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
        kve_log(KVE_LOG_WARN, "notify", "socket: %s", strerror(errno));
        return -1;
    }
    while ((sent = sendto(fd, state, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen)) == -1 && errno == EINTR)
        ;
    saved = errno;
    close(fd);
    if (sent != (ssize_t)len) {
        kve_log(KVE_LOG_WARN, "notify", "cannot send to $" ENV_NAME ": %s", sent == -1 ? strerror(saved) : "short write");
        return -1;
    }
    return 1;
}

int kve_notifyf(const char *fmt, ...)
{
    char buf[KVE_NOTIFY_MAX_MESSAGE + 1];
    va_list args;
    int n;

    va_start(args, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        kve_log(KVE_LOG_WARN, "notify", "message longer than %d bytes; not sent", KVE_NOTIFY_MAX_MESSAGE);
        return -1;
    }
    return kve_notify(buf);
}

int kve_notify_ready(const char *status)
{
    if (status != NULL)
        return kve_notifyf("READY=1\nMAINPID=%ld\nSTATUS=%s", (long)getpid(), status);
    return kve_notifyf("READY=1\nMAINPID=%ld", (long)getpid());
}

int kve_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return kve_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu",
                       (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}

int kve_notify_stopping(void)
{
    return kve_notify("STOPPING=1");
}

int kve_notify_child_env(char *const *envp, char **out, unsigned long cap)
{
    static const char prefix[] = ENV_NAME "=";
    unsigned long n = 0;

    for (; *envp != NULL; ++envp) {
        if (strncmp(*envp, prefix, sizeof(prefix) - 1) == 0)
            continue;
        if (n + 1 >= cap)
            return -1;
        out[n++] = *envp;
    }
    if (n >= cap)
        return -1;
    out[n] = NULL;
    return 0;
}
