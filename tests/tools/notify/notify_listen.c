/* SPDX-License-Identifier: MIT */
/*
 * Test-only receiver of systemd's notify protocol (what systemd does with $NOTIFY_SOCKET): binds an AF_UNIX datagram
 * socket at NAME (a path, or "@name" for an abstract one), prints "listening" once bound, then one line per
 * datagram, its newlines written as '|' (state lines never contain one), and exits on SIGTERM or after 120 s.
 * Node's dgram has no AF_UNIX, hence this tool (tests/integration/ops_install.test.mjs). Never installed.
 *
 *   kve_notify_listen NAME
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t salen;
    char buf[4096];
    size_t len;
    int fd;

    if (argc != 2 || (len = strlen(argv[1])) == 0 || len >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: kve_notify_listen PATH|@NAME (shorter than %zu bytes)\n", sizeof(sa.sun_path));
        return 2;
    }
    memcpy(sa.sun_path, argv[1], len);
    if (argv[1][0] == '@') {
        sa.sun_path[0] = '\0';
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 || bind(fd, (struct sockaddr *)&sa, salen) != 0) {
        fprintf(stderr, "kve_notify_listen: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    alarm(120); /* never outlive a test that forgot us */
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "kve_notify_listen: recv: %s\n", strerror(errno));
            return 1;
        }
        for (ssize_t i = 0; i != n; ++i)
            if (buf[i] == '\n')
                buf[i] = '|';
        buf[n] = '\0';
        printf("%s\n", buf);
        fflush(stdout);
    }
}
