/* SPDX-License-Identifier: MIT */
/*
 * The error log: one line per event, written with a single write(2) to fd 2, in one of two formats:
 *   text: `2026-11-26T06:00:00.123Z [warn] redis: message` (control bytes written as \xNN)
 *   json: `{"time":"2026-11-26T06:00:00.123Z","level":"warn","module":"redis","pid":42,"msg":"message"}`
 *         (JSON escaping, invalid UTF-8 replaced by U+FFFD: every line is valid JSON whatever the message holds)
 * Either way a value from a request can never forge a line. When a file is configured it is dup2()ed onto fd 2;
 * kve_log_reopen() repeats that for SIGUSR1 (and a reload).
 *
 * While the log is open (kve_log_open .. kve_log_close), the C `stderr` stream is replaced by one that turns each
 * line printed on it (h2o 2.2.5 and other libraries print with fprintf(stderr) / perror) into a log line of
 * module "h2o", level warn ("error" for h2o's "fatal:" lines), synchronously in the printing thread (log_stderr.c).
 * (h2o's per-request errors, h2o_req_log_error, are written by handlers/access.c instead.)
 * What writes to fd 2 itself is left alone and reaches the terminal or the file unchanged: sanitizer reports,
 * glibc's fatal messages, the embedded redis-server (whose output goes to its redis.log anyway).
 * Never pass secrets (tokens, cookies, passwords) to these functions: name what they belong to instead, and
 * log request paths through kve_log_path_len() (no query).
 */
#ifndef KVE_PROXY_LOG_H
#define KVE_PROXY_LOG_H

#include <stddef.h>

enum { KVE_LOG_ERROR = 0, KVE_LOG_WARN, KVE_LOG_INFO, KVE_LOG_DEBUG };
/** Formats of the error log (log.format). */
enum { KVE_LOG_FORMAT_TEXT = 0, KVE_LOG_FORMAT_JSON };

/** Bytes of a time written by kve_log_format_time(), without the NUL. */
#define KVE_LOG_TIME_LEN 24

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
/** Sets the format of the lines (KVE_LOG_FORMAT_TEXT by default). */
void kve_log_set_format(int format);

struct timeval;
/** Writes `tv` as RFC 3339 UTC with milliseconds, "2026-11-26T06:00:00.123Z", into `buf` (KVE_LOG_TIME_LEN + 1 bytes). */
void kve_log_format_time(char *buf, const struct timeval *tv);

/**
 * Directs the error log to `path` ("-" or NULL keeps stderr) and starts turning `stderr` lines into log lines
 * (kve_log_capture_stderr: the first call must come before other threads start; later ones leave the capture as
 * it is). The path is copied. Returns 0, or -1 with a message in `err`.
 */
int kve_log_open(const char *path, char *err, size_t errlen);
/** Reopens the configured file (on the reopen signal, after rotation). Returns 0 or -1 (the old file stays in use). */
int kve_log_reopen(void);
/** Forgets the path and gives `stderr` back (at exit, after every thread that may print stopped). */
void kve_log_close(void);

/**
 * Replaces the C `stderr` stream by one whose lines become log lines (see the top). Idempotent; if the stream
 * cannot be made, `stderr` stays as it is. Call while no other thread runs (startup).
 */
void kve_log_capture_stderr(void);
/** Puts the original `stderr` back and writes a partial last line, if any. Idempotent. Call while no other thread runs. */
void kve_log_release_stderr(void);

#endif
