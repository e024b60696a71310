/* SPDX-License-Identifier: MIT */
/* Error log: formatting (text or JSON), escaping, level filter, reopen. See log.h. */
#include "proxy/log.h"
#include "proxy/common.h"
#include "proxy/json.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static int log_level = KVE_LOG_INFO;
static int log_format = KVE_LOG_FORMAT_TEXT;
static char *log_path;
static pthread_mutex_t log_path_mutex = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

int kve_log_path_len(const char *path, size_t len)
{
    const char *query = memchr(path, '?', len);
    if (query != NULL)
        len = (size_t)(query - path);
    return (int)KVE_MIN(len, KVE_LOG_MAX_PATH);
}

void kve_log_set_level(int level)
{
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int kve_log_enabled(int level)
{
    return level <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void kve_log_set_format(int format)
{
    __atomic_store_n(&log_format, format, __ATOMIC_RELAXED);
}

/* `n` as `width` decimal digits (the lowest ones) ending before `end` */
static void put_digits(char *end, unsigned n, int width)
{
    while (width-- != 0) {
        *--end = (char)('0' + n % 10);
        n /= 10;
    }
}

void kve_log_format_time(char *buf, const struct timeval *tv)
{
    struct tm tm;
    time_t sec = tv->tv_sec;

    gmtime_r(&sec, &tm);
    memcpy(buf, "0000-00-00T00:00:00.000Z", KVE_LOG_TIME_LEN + 1);
    put_digits(buf + 4, (unsigned)(tm.tm_year + 1900), 4);
    put_digits(buf + 7, (unsigned)(tm.tm_mon + 1), 2);
    put_digits(buf + 10, (unsigned)tm.tm_mday, 2);
    put_digits(buf + 13, (unsigned)tm.tm_hour, 2);
    put_digits(buf + 16, (unsigned)tm.tm_min, 2);
    put_digits(buf + 19, (unsigned)tm.tm_sec, 2);
    put_digits(buf + 23, (unsigned)(tv->tv_usec / 1000), 3);
}

/* copies `src` into `dst`, escaping bytes that could break the one-line-per-event rule */
static size_t escape_into(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;
    for (i = 0; i != len && o + 4 < cap; ++i) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c != 0x7f) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    return o;
}

static size_t format_text(char *buf, size_t cap, const char *stamp, int level, const char *module, const char *msg, size_t len)
{
    int n = snprintf(buf, cap, "%s [%s] %s: ", stamp, level_names[level], module);
    size_t off = n < 0 ? 0 : KVE_MIN((size_t)n, cap - 1);
    return off + escape_into(buf + off, cap - off, msg, len);
}

/* {"time":...,"msg":"..."}: the message is cut where its escaping no longer fits, the line always closes */
static size_t format_json(char *buf, size_t cap, const char *stamp, int level, const char *module, const char *msg, size_t len)
{
    static const char tail[] = "\"}";
    size_t off;
    int n;

    n = snprintf(buf, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"module\":\"", stamp, level_names[level]);
    off = n < 0 ? 0 : KVE_MIN((size_t)n, cap - 1);
    off += kve_json_escape_into(buf + off, KVE_MIN(cap - off, (size_t)64), module, strlen(module), NULL);
    n = snprintf(buf + off, cap - off, "\",\"pid\":%ld,\"msg\":\"", (long)getpid());
    off += n < 0 ? 0 : KVE_MIN((size_t)n, cap - off - 1);
    off += kve_json_escape_into(buf + off, cap - off - (sizeof(tail) - 1), msg, len, NULL);
    memcpy(buf + off, tail, sizeof(tail) - 1);
    return off + sizeof(tail) - 1;
}

void kve_log(int level, const char *module, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 1], stamp[KVE_LOG_TIME_LEN + 1];
    struct timeval tv;
    va_list ap;
    size_t off, len;
    int n;

    if (!kve_log_enabled(level))
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    len = KVE_MIN((size_t)n, sizeof(msg) - 1);
    gettimeofday(&tv, NULL);
    kve_log_format_time(stamp, &tv);
    /* LOG_LINE_MAX for the line, one more byte for its newline */
    if (__atomic_load_n(&log_format, __ATOMIC_RELAXED) == KVE_LOG_FORMAT_JSON)
        off = format_json(line, LOG_LINE_MAX, stamp, level, module, msg, len);
    else
        off = format_text(line, LOG_LINE_MAX, stamp, level, module, msg, len);
    line[off++] = '\n';
    /* one write per line: lines of concurrent threads never interleave (O_APPEND or a pipe) */
    while (write(2, line, off) == -1 && errno == EINTR)
        ;
}

static int open_onto_stderr(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd == -1) {
        if (err != NULL)
            snprintf(err, errlen, "cannot open error log %s: %s", path, strerror(errno));
        return -1;
    }
    if (fd != 2) {
        dup2(fd, 2); /* atomic: writers see the old or the new file, never a closed fd */
        close(fd);
    }
    return 0;
}

int kve_log_open(const char *path, char *err, size_t errlen)
{
    int ret = 0;
    pthread_mutex_lock(&log_path_mutex);
    free(log_path);
    log_path = NULL;
    if (path != NULL && strcmp(path, "-") != 0) {
        if ((ret = open_onto_stderr(path, err, errlen)) == 0)
            log_path = kve_strdup(path);
    }
    pthread_mutex_unlock(&log_path_mutex);
    if (ret == 0)
        kve_log_capture_stderr();
    return ret;
}

int kve_log_reopen(void)
{
    char err[256];
    int ret = 0;
    pthread_mutex_lock(&log_path_mutex);
    if (log_path != NULL && (ret = open_onto_stderr(log_path, err, sizeof(err))) != 0)
        kve_log(KVE_LOG_ERROR, "log", "%s", err);
    pthread_mutex_unlock(&log_path_mutex);
    return ret;
}

void kve_log_close(void)
{
    kve_log_release_stderr();
    pthread_mutex_lock(&log_path_mutex);
    free(log_path);
    log_path = NULL;
    pthread_mutex_unlock(&log_path_mutex);
}
