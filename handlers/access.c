/* SPDX-License-Identifier: MIT */
/* Per-path logger: metrics, access log, limit errors (see access.h). */
#include "handlers/access.h"
#include "handlers/limits.h"
#include "handlers/upstream_errors.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_FORMAT "%h %l %u %t \"%r\" %s %b %{duration}x"
/* what the access log shows for the value of a `_token` query parameter */
#define TOKEN_PLACEHOLDER "REDACTED"

struct st_kve_access_log_t {
    int fd;
    char *path; /* NULL for stdout */
    h2o_logconf_t *logconf;
    pthread_mutex_t reopen_mutex;
};

struct st_access_logger_t {
    h2o_logger_t super;
    size_t route;
    kve_access_log_t *log;
};

static int open_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd == -1)
        snprintf(err, errlen, "cannot open access log %s: %s", path, strerror(errno));
    return fd;
}

/*
 * h2o 2.2.5's h2o_logconf_compile() writes its error message into the caller's buffer with sprintf; for an
 * unterminated "%{" the message quotes the whole rest of the format ("%16s" is a minimum width, not a
 * maximum), so a long format overflowed any fixed buffer. Such formats are refused here, before h2o sees
 * them, and h2o gets a buffer longer than its longest message for this format anyway.
 */
static int precheck_format(const char *fmt, char *err, size_t errlen)
{
    size_t len = strlen(fmt);
    const char *p = fmt, *q, *close;

    if (len > KVE_ACCESS_LOG_MAX_FORMAT) {
        snprintf(err, errlen, "bad access log format: %zu bytes, at most %d", len, KVE_ACCESS_LOG_MAX_FORMAT);
        return -1;
    }
    /* the grammar of h2o's compiler: "%%", or "%" then any of "<>" then "{...}" and a letter, or a letter */
    while (*p != '\0') {
        if (*p++ != '%')
            continue;
        if (*p == '%') {
            ++p;
            continue;
        }
        for (q = p; *q == '<' || *q == '>'; ++q)
            ;
        if (*q != '{') {
            p = *q != '\0' ? q + 1 : q;
            continue;
        }
        if ((close = strchr(q + 1, '}')) == NULL) {
            snprintf(err, errlen, "bad access log format: \"%%{\" at byte %zu has no closing \"}\"", (size_t)(p - fmt));
            return -1;
        }
        p = close[1] != '\0' ? close + 2 : close + 1;
    }
    return 0;
}

static h2o_logconf_t *compile_format(const char *fmt, char *err, size_t errlen)
{
    h2o_logconf_t *logconf;
    char *errbuf;

    if (fmt == NULL || fmt[0] == '\0')
        fmt = DEFAULT_FORMAT;
    if (precheck_format(fmt, err, errlen) != 0)
        return NULL;
    /* h2o's longest message quotes at most the rest of the format after ~80 bytes of text */
    errbuf = kve_zalloc(strlen(fmt) + 256);
    if ((logconf = h2o_logconf_compile(fmt, H2O_LOGCONF_ESCAPE_APACHE, errbuf)) == NULL)
        snprintf(err, errlen, "bad access log format: %s", errbuf);
    free(errbuf);
    return logconf;
}

int kve_access_log_check_format(const char *fmt, char *err, size_t errlen)
{
    h2o_logconf_t *logconf = compile_format(fmt, err, errlen);
    if (logconf == NULL)
        return -1;
    h2o_logconf_dispose(logconf);
    return 0;
}

kve_access_log_t *kve_access_log_open(const char *path, const char *fmt, char *err, size_t errlen)
{
    kve_access_log_t *log = kve_zalloc(sizeof(*log));

    if ((log->logconf = compile_format(fmt, err, errlen)) == NULL) {
        free(log);
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        if ((log->fd = fcntl(1, F_DUPFD_CLOEXEC, 0)) == -1)
            snprintf(err, errlen, "cannot use stdout for the access log: %s", strerror(errno));
    } else if ((log->fd = open_file(path, err, errlen)) != -1) {
        log->path = kve_strdup(path);
    }
    if (log->fd == -1) {
        h2o_logconf_dispose(log->logconf);
        free(log);
        return NULL;
    }
    pthread_mutex_init(&log->reopen_mutex, NULL);
    return log;
}

int kve_access_log_reopen(kve_access_log_t *log)
{
    char err[256];
    int fd, ret = 0;

    if (log->path == NULL)
        return 0;
    pthread_mutex_lock(&log->reopen_mutex);
    if ((fd = open_file(log->path, err, sizeof(err))) == -1) {
        kve_log(KVE_LOG_ERROR, "access", "%s", err);
        ret = -1;
    } else {
        dup2(fd, log->fd); /* atomic for concurrent writers */
        close(fd);
    }
    pthread_mutex_unlock(&log->reopen_mutex);
    return ret;
}

void kve_access_log_close(kve_access_log_t *log)
{
    if (log == NULL)
        return;
    close(log->fd);
    free(log->path);
    h2o_logconf_dispose(log->logconf);
    pthread_mutex_destroy(&log->reopen_mutex);
    free(log);
}

static uint64_t duration_us(h2o_req_t *req)
{
    struct timeval end = req->timestamps.response_end_at;
    int64_t us;
    if (end.tv_sec == 0)
        gettimeofday(&end, NULL);
    us = (int64_t)(end.tv_sec - req->timestamps.request_begin_at.tv_sec) * 1000000 +
         (end.tv_usec - req->timestamps.request_begin_at.tv_usec);
    return us > 0 ? (uint64_t)us : 0;
}

/* whether the raw query parameter name [p, end) decodes to "_token", as the KV API decodes it (%XX, '+') */
static int is_token_name(const char *p, const char *end)
{
    static const char name[] = "_token";
    size_t i = 0;
    unsigned char c;
    while (p != end) {
        if (*p == '%') {
            if (end - p < 3 || h2o_hex_decode(&c, p + 1, 2) != 0)
                return 0;
            p += 3;
        } else {
            c = *p == '+' ? ' ' : (unsigned char)*p;
            ++p;
        }
        if (i == sizeof(name) - 1 || (unsigned char)name[i++] != c)
            return 0;
    }
    return i == sizeof(name) - 1;
}

/* `path` with the value of every `_token` query parameter replaced by TOKEN_PLACEHOLDER, in `pool` (or `path` itself) */
static h2o_iovec_t redact_tokens(h2o_mem_pool_t *pool, h2o_iovec_t path)
{
    const char *p = memchr(path.base, '?', path.len), *end = path.base + path.len;
    size_t params = 1;
    char *out, *w;

    if (p == NULL)
        return path;
    for (const char *q = p; q != end; ++q)
        params += *q == '&';
    w = out = h2o_mem_alloc_pool(pool, path.len + params * (sizeof(TOKEN_PLACEHOLDER) - 1));
    memcpy(w, path.base, (size_t)(++p - path.base));
    w += p - path.base;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq != NULL && is_token_name(p, eq)) {
            memcpy(w, p, (size_t)(eq + 1 - p));
            w += eq + 1 - p;
            memcpy(w, TOKEN_PLACEHOLDER, sizeof(TOKEN_PLACEHOLDER) - 1);
            w += sizeof(TOKEN_PLACEHOLDER) - 1;
        } else {
            memcpy(w, p, (size_t)(pair_end - p));
            w += pair_end - p;
        }
        if (amp == NULL)
            break;
        *w++ = '&';
        p = amp + 1;
    }
    return h2o_iovec_init(out, (size_t)(w - out));
}

/* h2o's logger writes req->input.path (%r, %U, %q): it sees a copy without tokens, the request keeps its own */
static void write_line(kve_access_log_t *log, h2o_req_t *req)
{
    char buf[4096], *line;
    size_t len = sizeof(buf);
    h2o_iovec_t path = req->input.path;

    req->input.path = redact_tokens(&req->pool, path);
    line = h2o_log_request(log->logconf, req, &len, buf);
    req->input.path = path;
    while (write(log->fd, line, len) == -1 && errno == EINTR)
        ;
    if (line != buf)
        free(line);
}

static void log_access(h2o_logger_t *_self, h2o_req_t *req)
{
    struct st_access_logger_t *self = (void *)_self;
    kve_thread_t *thread = kve_server_thread(req->conn->ctx);

    kve_metrics_observe(thread->metrics, self->route, req->res.status, duration_us(req));
    if (req->error_logs.size != 0) {
        int kind = kve_upstream_error_of(req);
        if (kind >= 0)
            kve_metrics_upstream_add(thread->metrics, self->route, (kve_metrics_upstream_t)kind);
    }
    /* h2o answers a body over its own limit itself, before routing, on the host's fallback path; a 413 from
     * the limit check (which runs on the fallback path too) is logged by it */
    if (req->res.status == 413 && req->hostconf != NULL && req->pathconf == &req->hostconf->fallback_path &&
        !kve_limits_answered(req))
        kve_log(KVE_LOG_WARN, "limits", "413 for %.*s %.*s: request body larger than any path accepts (%zu bytes)",
                (int)KVE_MIN(req->input.method.len, 16), req->input.method.base,
                kve_log_path_len(req->input.path.base, req->input.path.len), req->input.path.base,
                req->conn->ctx->globalconf->max_request_entity_size);
    if (self->log != NULL)
        write_line(self->log, req);
}

/* the request's pool is cleared when its response is done (h2o_dispose_request): the stream is closed then */
static void on_stream_done(void *p)
{
    kve_metrics_open_add(*(kve_metrics_thread_t **)p, -1);
}

/* first handler after the limit check: counts the request as an open stream until its pool goes, then passes it on */
static int on_stream_open(h2o_handler_t *self, h2o_req_t *req)
{
    kve_metrics_thread_t **m = h2o_mem_alloc_shared(&req->pool, sizeof(*m), on_stream_done);
    *m = kve_server_thread(req->conn->ctx)->metrics;
    kve_metrics_open_add(*m, 1);
    return -1;
}

void kve_access_register(h2o_pathconf_t *pathconf, size_t route, kve_access_log_t *log)
{
    h2o_create_handler(pathconf, sizeof(h2o_handler_t))->on_req = on_stream_open;
    struct st_access_logger_t *self = (void *)h2o_create_logger(pathconf, sizeof(*self));
    self->super.log_access = log_access;
    self->route = route;
    self->log = log;
}
