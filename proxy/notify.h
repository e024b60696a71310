/* SPDX-License-Identifier: MIT */
/*
 * systemd's readiness protocol (sd_notify(3)): state lines such as "READY=1" sent as one datagram to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). Outside
 * systemd (the variable unset or empty) every call is a no-op that returns 0, so callers never check whether
 * they run under a service manager.
 *
 * When kvedge sends what (the unit is Type=notify, see deploy/kvedge.service.in):
 *   READY=1      once the listeners are open and the workers serve, and again when a reload is done (proxy/daemon.c)
 *   RELOADING=1  when a reload (SIGHUP) starts, with MONOTONIC_USEC= (systemd >= 253 wants it for Type=notify-reload)
 *   STOPPING=1   when the drain starts, on SIGTERM/SIGINT (proxy/daemon.c)
 *   STATUS=...   a one-line status that `systemctl status` shows
 *
 * The variable is read on each call and never changed (no unsetenv(3): kvedge has threads by then); the embedded
 * redis-server gets an environment without it (proxy/embedded.c), so only kvedge speaks for the service.
 * Thread-safe: each call uses its own socket.
 */
#ifndef KVE_PROXY_NOTIFY_H
#define KVE_PROXY_NOTIFY_H

/** Longest message sent, in bytes; a longer one is refused (-1) rather than cut. */
#define KVE_NOTIFY_MAX_MESSAGE 1024

/**
 * Sends `state` (newline-separated VAR=value lines) to $NOTIFY_SOCKET. Returns 1 when sent, 0 when there is no
 * socket to send to (not under systemd), -1 on an error, which is logged as a warning (a bad $NOTIFY_SOCKET, a
 * name too long for sun_path, a failed send). Never blocks: the datagram is sent with MSG_DONTWAIT.
 */
int kve_notify(const char *state);
/** kve_notify() of the formatted text; a text longer than KVE_NOTIFY_MAX_MESSAGE is an error (-1). */
int kve_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** "READY=1", with MAINPID= (this process) and STATUS=`status` (NULL: none) in the same datagram. */
int kve_notify_ready(const char *status);
/** "RELOADING=1" with MONOTONIC_USEC= (CLOCK_MONOTONIC now, in microseconds). */
int kve_notify_reloading(void);
/** "STOPPING=1". */
int kve_notify_stopping(void);

/**
 * The environment to give a child process: `envp` (NULL-terminated) without any NOTIFY_SOCKET= entry, written into
 * `out` (room for `cap` pointers, the NULL included; the strings are borrowed from `envp`). Returns 0, or -1 when
 * `out` is too small. No allocation: the caller owns `out`.
 */
int kve_notify_child_env(char *const *envp, char **out, unsigned long cap);

#endif
