/* SPDX-License-Identifier: MIT */
/* Per-path logger: metrics, access log, limit errors (see access.h). */
#include "handlers/access.h"
#include "handlers/access_json.h"
#include "handlers/cache_stats.h"
#include "handlers/limits.h"
#include "handlers/upstream_errors.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/streams.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_FORMAT "%h %l %u %t \"%r\" %s %b %{duration}x"
/* the access_log_format that selects the JSON line (access_json.h) instead of an h2o format */
#define JSON_FORMAT "json"
/* what the access log shows for the value of a `_token` query parameter */
#define TOKEN_PLACEHOLDER "REDACTED"

struct st_kve_access_log_t {
    int fd;
    char *path;             /* NULL for stdout */
    h2o_logconf_t *logconf; /* NULL for the JSON line */
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

static int is_json_format(const char *fmt)
{
    return fmt != NULL && strcmp(fmt, JSON_FORMAT) == 0;
}

int kve_access_log_check_format(const char *fmt, char *err, size_t errlen)
{
    h2o_logconf_t *logconf;
    if (is_json_format(fmt))
        return 0;
    if ((logconf = compile_format(fmt, err, errlen)) == NULL)
        return -1;
    h2o_logconf_dispose(logconf);
    return 0;
}

kve_access_log_t *kve_access_log_open(const char *path, const char *fmt, char *err, size_t errlen)
{
    kve_access_log_t *log = kve_zalloc(sizeof(*log));

    if (!is_json_format(fmt) && (log->logconf = compile_format(fmt, err, errlen)) == NULL) {
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
        if (log->logconf != NULL)
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
    if (log->logconf != NULL)
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

h2o_iovec_t kve_access_redact_tokens(h2o_mem_pool_t *pool, h2o_iovec_t path)
{
    const char *p, *end;
    size_t params = 1;
    char *out, *w;

    if (path.base == NULL || (p = memchr(path.base, '?', path.len)) == NULL)
        return path;
    end = path.base + path.len;
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

static void write_all(int fd, const char *line, size_t len)
{
    while (write(fd, line, len) == -1 && errno == EINTR)
        ;
}

/* h2o's logger writes req->input.path (%r, %U, %q): it sees a copy without tokens, the request keeps its own */
static void write_h2o_line(kve_access_log_t *log, h2o_req_t *req)
{
    char buf[4096], *line;
    size_t len = sizeof(buf);
    h2o_iovec_t path = req->input.path;

    req->input.path = kve_access_redact_tokens(&req->pool, path);
    line = h2o_log_request(log->logconf, req, &len, buf);
    req->input.path = path;
    write_all(log->fd, line, len);
    if (line != buf)
        free(line);
}

/* the value of the first `name` field in `headers`, or {NULL, 0} */
static h2o_iovec_t field(const h2o_headers_t *headers, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(headers, name, len, -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : headers->entries[i].value;
}

/* what the HTTP cache did (HIT, MISS, ...: the value of %{cache_status}e), {NULL, 0} off cached routes */
static h2o_iovec_t cache_outcome(h2o_req_t *req)
{
    h2o_iovec_t *v = h2o_req_getenv(req, H2O_STRLIT(KVE_CACHE_STATUS_ENV), 0);
    return v != NULL ? *v : h2o_iovec_init(NULL, 0);
}

static h2o_iovec_t peer_address(h2o_req_t *req, char *buf)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername != NULL ? req->conn->callbacks->get_peername(req->conn, (void *)&ss) : 0;
    size_t n = len != 0 ? h2o_socket_getnumerichost((void *)&ss, len, buf) : SIZE_MAX;
    return n == SIZE_MAX ? h2o_iovec_init(NULL, 0) : h2o_iovec_init(buf, n);
}

/* the JSON line: no token in the path's query or the Referer, no Authorization or Cookie at all */
static void write_json_line(kve_access_log_t *log, h2o_req_t *req, size_t route, uint64_t duration)
{
    char addr[NI_MAXHOST];
    const char *route_name = kve_metrics_route_name(route);
    kve_access_fields_t f = {.time = req->timestamps.request_begin_at,
                             .remote_addr = peer_address(req, addr),
                             .method = req->input.method,
                             .host = req->input.authority,
                             .path = kve_access_redact_tokens(&req->pool, req->input.path),
                             .version = req->version,
                             .status = req->res.status,
                             .bytes_sent = req->bytes_sent,
                             .duration_us = duration,
                             .route = route_name != NULL ? h2o_iovec_init(route_name, strlen(route_name)) : h2o_iovec_init(NULL, 0),
                             .cache = cache_outcome(req),
                             .user_agent = field(&req->headers, H2O_STRLIT("user-agent")),
                             .referer = kve_access_redact_tokens(&req->pool, field(&req->headers, H2O_STRLIT("referer"))),
                             .request_id = field(&req->headers, H2O_STRLIT("x-request-id"))};
    kve_buf_t line = KVE_BUF_INIT;

    kve_access_json_format(&line, &f);
    write_all(log->fd, line.base, line.len);
    kve_buf_dispose(&line);
}

/*
 * h2o's own request errors (h2o_req_log_error: its proxy's "connection refused", "I/O timeout", ...), which h2o would
 * write raw to fd 2 with up to 29 bytes of the path and query (kve_access_register turns that off): through the
 * error log, escaped, with the path and no query.
 */
static void log_request_errors(h2o_req_t *req)
{
    for (size_t i = 0; i != req->error_logs.size; ++i) {
        const h2o_req_error_log_t *e = req->error_logs.entries + i;
        kve_log(KVE_LOG_WARN, "h2o", "[%s] %.*s %.*s: %.*s", e->module, (int)KVE_MIN(req->input.method.len, 16),
                req->input.method.base, kve_log_path_len(req->input.path.base, req->input.path.len), req->input.path.base,
                (int)KVE_MIN(e->msg.len, 512), e->msg.base);
    }
}

static void log_access(h2o_logger_t *_self, h2o_req_t *req)
{
    struct st_access_logger_t *self = (void *)_self;
    kve_thread_t *thread = kve_server_thread(req->conn->ctx);
    kve_pending_conn_t *conn = kve_streams_conn_of(req);
    uint64_t duration = duration_us(req);

    if (conn != NULL)
        kve_streams_done(conn); /* the stream the limit check opened, if it ran (proxy/streams.h) */
    kve_metrics_observe(thread->metrics, self->route, req->res.status, duration);
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
    log_request_errors(req);
    if (self->log != NULL && self->log->logconf == NULL)
        write_json_line(self->log, req, self->route, duration);
    else if (self->log != NULL)
        write_h2o_line(self->log, req);
}

void kve_access_register(h2o_pathconf_t *pathconf, size_t route, kve_access_log_t *log)
{
    struct st_access_logger_t *self = (void *)h2o_create_logger(pathconf, sizeof(*self));
    pathconf->error_log.emit_request_errors = 0; /* log_request_errors writes them */
    self->super.log_access = log_access;
    self->route = route;
    self->log = log;
}
