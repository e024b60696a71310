/* SPDX-License-Identifier: MIT */
/*
 * The running daemon: its configuration generations, the embedded Redis they share, the signals and the reload.
 *
 * A generation is everything one configuration file makes: the configuration itself, the server (listeners, worker
 * threads, h2o's paths and handlers), the stores' links, the access log. `kill -HUP` (or `kvedge reload`) loads and
 * checks the file again; on any error the running generation stays and the errors are logged, compiler-style. On
 * success a new generation starts beside the running one, on the same listening sockets, and the old one drains:
 * requests in flight finish on the old configuration, idle connections move to the new one (proxy/server.h), and it
 * is freed once its workers have returned. The embedded Redis belongs to the daemon, not to a generation: a reload
 * keeps it, and refuses a file that would start it differently (that takes a restart).
 *
 * Signals (taken by the main thread only): SIGTERM/SIGINT drain and stop, SIGHUP reloads, SIGUSR1 reopens the log
 * files (nginx's conventions), SIGCHLD wakes the embedded Redis' supervision.
 *
 * Like main.c, this file is the top of the dependency order (it uses conf/, which uses handlers/ and proxy/).
 */
#ifndef KVE_PROXY_DAEMON_H
#define KVE_PROXY_DAEMON_H

/**
 * Runs the daemon with the configuration file at `config_path` until SIGTERM/SIGINT. Returns the process' exit
 * status: 0, or 1 when the configuration or the start failed (the errors are printed or logged).
 */
int kve_daemon_run(const char *config_path);

#endif
