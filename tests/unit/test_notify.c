/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/notify.c (sd_notify's protocol) against a real AF_UNIX datagram socket: a path and an abstract
 * name, the longest name sun_path holds and one byte more, no socket (a no-op), a message over the limit, and the
 * child environment without NOTIFY_SOCKET.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* a datagram socket bound to `name` ("/path" or "@abstract"), or -1 */
static int bind_dgram(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    KVE_ASSERT(fd != -1 && len <= sizeof(sa.sun_path));
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'))) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* the next datagram on `fd` as a string (empty when none is waiting) */
static const char *receive(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

TEST(path_socket)
{
    char dir[] = "/tmp/kve-notify-XXXXXX", name[64], buf[256], expect[64];
    int fd;

    KVE_ASSERT(mkdtemp(dir) != NULL);
    snprintf(name, sizeof(name), "%s/notify.sock", dir);
    KVE_ASSERT((fd = bind_dgram(name)) != -1);
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK_EQ_INT(kve_notify_ready("serving"), 1);
    snprintf(expect, sizeof(expect), "READY=1\nMAINPID=%ld\nSTATUS=serving", (long)getpid());
    CHECK_EQ_STR(receive(fd, buf, sizeof(buf)), expect);
    CHECK_EQ_INT(kve_notify_stopping(), 1);
    CHECK_EQ_STR(receive(fd, buf, sizeof(buf)), "STOPPING=1");
    CHECK_EQ_INT(kve_notify_reloading(), 1);
    receive(fd, buf, sizeof(buf));
    CHECK(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 && strtoull(buf + 27, NULL, 10) > 0);
    CHECK_EQ_INT(kve_notifyf("STATUS=%d requests", 42), 1);
    CHECK_EQ_STR(receive(fd, buf, sizeof(buf)), "STATUS=42 requests");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(name);
    rmdir(dir);
}

TEST(abstract_socket)
{
    char name[64], buf[64];
    int fd;

    snprintf(name, sizeof(name), "@kve-notify-unit-%ld", (long)getpid());
    KVE_ASSERT((fd = bind_dgram(name)) != -1);
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK_EQ_INT(kve_notify_stopping(), 1);
    CHECK_EQ_STR(receive(fd, buf, sizeof(buf)), "STOPPING=1");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}

/* sun_path holds 107 bytes of path plus its NUL, or an abstract name of 108 bytes with its '@' */
TEST(name_length_limit)
{
    struct sockaddr_un sa;
    char name[sizeof(sa.sun_path) + 2], buf[64];
    int fd;

    memset(name, 'a', sizeof(name));
    name[0] = '@';
    name[sizeof(sa.sun_path)] = '\0'; /* the longest abstract name */
    name[sizeof(sa.sun_path) - 1] = (char)('0' + getpid() % 10);
    KVE_ASSERT((fd = bind_dgram(name)) != -1);
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK_EQ_INT(kve_notify_stopping(), 1);
    CHECK_EQ_STR(receive(fd, buf, sizeof(buf)), "STOPPING=1");
    close(fd);
    name[sizeof(sa.sun_path)] = 'a', name[sizeof(sa.sun_path) + 1] = '\0'; /* one byte more */
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK_EQ_INT(kve_notify_stopping(), -1);
    name[0] = '/';
    name[sizeof(sa.sun_path)] = '\0'; /* a path of 108 bytes: no room for its NUL */
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK_EQ_INT(kve_notify_stopping(), -1);
    setenv("NOTIFY_SOCKET", "relative.sock", 1);
    CHECK_EQ_INT(kve_notify_stopping(), -1);
    unsetenv("NOTIFY_SOCKET");
}

TEST(no_socket_is_a_no_op)
{
    char big[KVE_NOTIFY_MAX_MESSAGE + 2];

    unsetenv("NOTIFY_SOCKET");
    CHECK_EQ_INT(kve_notify_ready(NULL), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    CHECK_EQ_INT(kve_notify_stopping(), 0);
    unsetenv("NOTIFY_SOCKET");
    /* too long is refused, not cut, even where nothing would be sent */
    setenv("NOTIFY_SOCKET", "@kve-notify-unit-nobody", 1);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(kve_notify(big), -1);
    CHECK_EQ_INT(kve_notifyf("STATUS=%s", big), -1);
    /* nobody listening on that name: an error, never a block */
    CHECK_EQ_INT(kve_notify_stopping(), -1);
    unsetenv("NOTIFY_SOCKET");
}

TEST(child_env)
{
    char *env[] = {"PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify", "NOTIFY_SOCKETS=kept", "HOME=/", NULL};
    char *out[5];

    CHECK_EQ_INT(kve_notify_child_env(env, out, 5), 0);
    CHECK_EQ_STR(out[0], "PATH=/usr/bin");
    CHECK_EQ_STR(out[1], "NOTIFY_SOCKETS=kept");
    CHECK_EQ_STR(out[2], "HOME=/");
    CHECK(out[3] == NULL);
    CHECK_EQ_INT(kve_notify_child_env(env, out, 4), 0); /* exactly enough: 3 kept + NULL */
    CHECK_EQ_INT(kve_notify_child_env(env, out, 3), -1);
    CHECK_EQ_INT(kve_notify_child_env(env + 4, out, 1), 0);
    CHECK(out[0] == NULL);
}

void kve_suite_notify(void)
{
    RUN(path_socket);
    RUN(abstract_socket);
    RUN(name_length_limit);
    RUN(no_socket_is_a_no_op);
    RUN(child_env);
}
