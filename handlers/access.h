/* SPDX-License-Identifier: MIT */
/*
 * The per-path logger: counts every response in the route's metrics, writes the access log line (h2o's
 * log format, or one JSON object with access_log_format "json" (access_json.h), through a file handle that the
 * reopen signal (SIGUSR1, and a reload) reopens; the value of every `_token` query parameter shows as REDACTED, in the
 * path and, in JSON, the Referer; Authorization and Cookie are never written), writes h2o's own errors about the
 * request (h2o_req_log_error, which it no longer prints on stderr itself) as error-log lines of module "h2o", and
 * writes an error-log line for responses that mean a client hit the body limit h2o enforces itself (413 before
 * routing; kvedge's own limit check logs its answers itself), so every over-limit request leaves exactly one trace.
 * It also closes the request's open stream in kvedge_open_streams (the limit check opened it: proxy/streams.h) and
 * counts the upstream failures of proxied requests by kind (handlers/upstream_errors.h).
 */
#ifndef KVE_HANDLERS_ACCESS_H
#define KVE_HANDLERS_ACCESS_H

#include <stddef.h>
#include "h2o.h"

/** longest access_log_format accepted, in bytes */
#define KVE_ACCESS_LOG_MAX_FORMAT 4096

typedef struct st_kve_access_log_t kve_access_log_t;

/**
 * Opens an access log: `path` "-" is stdout, anything else a file opened for appending. `fmt` is "json" or h2o's
 * log format (NULL: the default). Returns NULL with a message in `err` on a bad path or format.
 */
kve_access_log_t *kve_access_log_open(const char *path, const char *fmt, char *err, size_t errlen);
/**
 * Checks that `fmt` (NULL: the default) is "json" or compiles as an h2o log format of at most KVE_ACCESS_LOG_MAX_FORMAT
 * bytes; returns 0, or -1 with a message in `err`.
 */
int kve_access_log_check_format(const char *fmt, char *err, size_t errlen);
/** Reopens the file (after rotation); returns 0 or -1 (the old file stays in use). Thread-safe. */
int kve_access_log_reopen(kve_access_log_t *log);
/** Closes and frees (after the server stopped). */
void kve_access_log_close(kve_access_log_t *log);

/**
 * `s` (a path with its query, or a URL) with the value of every `_token` query parameter (its name decoded as the KV
 * API decodes it) replaced by "REDACTED", in `pool`; `s` itself when it has no query.
 */
h2o_iovec_t kve_access_redact_tokens(h2o_mem_pool_t *pool, h2o_iovec_t s);

/**
 * Registers the logger on `pathconf` for metrics route `route` and the access log `log` (may be NULL). Register the
 * limit check (limits.h) on the same path: it opens the streams this logger closes.
 */
void kve_access_register(h2o_pathconf_t *pathconf, size_t route, kve_access_log_t *log);

#endif
