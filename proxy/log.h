/* SPDX-License-Identifier: MIT */
/*
 * The error log: one line per event, `2026-11-26T06:00:00.123Z [warn] redis: message`, written with a
 * single write(2) to fd 2. When a file is configured it is dup2()ed onto fd 2, so messages printed by
 * libraries (h2o writes to stderr) land in the same file; kve_log_reopen() repeats that for SIGUSR1 (and a reload).
 * Control characters in messages are escaped, so a value from a request can never forge a line.
 * Never pass secrets (tokens, cookies, passwords) to these functions: name what they belong to instead, and
 * log request paths through kve_log_path_len() (no query).
 */
#ifndef KVE_PROXY_LOG_H
#define KVE_PROXY_LOG_H

#include <stddef.h>

enum { KVE_LOG_ERROR = 0, KVE_LOG_WARN, KVE_LOG_INFO, KVE_LOG_DEBUG };

/** Longest request path written to the error log, in bytes. */
#define KVE_LOG_MAX_PATH 200

/**
 * How many bytes of request path `path` (`len` bytes) to log, for `"%.*s", kve_log_path_len(path, len), path`:
 * the path without its query, which may carry a secret (the KV API accepts `?_token=`), and at most
 * KVE_LOG_MAX_PATH bytes.
 */
int kve_log_path_len(const char *path, size_t len);

/** Writes one line if `level` is enabled. `module` is a short word such as "redis" or "server". */
void kve_log(int level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Sets the most verbose level written (default KVE_LOG_INFO). */
void kve_log_set_level(int level);
/** Returns non-zero if `level` would be written. */
int kve_log_enabled(int level);

/**
 * Directs the error log to `path` ("-" or NULL keeps stderr). The path is copied. Returns 0, or -1 with a
 * message in `err`.
 */
int kve_log_open(const char *path, char *err, size_t errlen);
/** Reopens the configured file (SIGHUP, after rotation). Returns 0 or -1 (the old file stays in use). */
int kve_log_reopen(void);
/** Forgets the path (at exit). */
void kve_log_close(void);

#endif
