/* SPDX-License-Identifier: MIT */
/* Error log: formatting, escaping, level filter, reopen. See log.h. */
#include "proxy/log.h"
#include "proxy/common.h"

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

static size_t format_prefix(char *buf, size_t cap, int level, const char *module)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ [%s] %s: ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000), level_names[level], module);
    return n < 0 ? 0 : KVE_MIN((size_t)n, cap - 1);
}

void kve_log(int level, const char *module, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
    va_list ap;
    size_t off;
    int n;

    if (!kve_log_enabled(level))
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    off = format_prefix(line, sizeof(line), level, module);
    off += escape_into(line + off, sizeof(line) - off - 1, msg, KVE_MIN((size_t)n, sizeof(msg) - 1));
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
    pthread_mutex_lock(&log_path_mutex);
    free(log_path);
    log_path = NULL;
    pthread_mutex_unlock(&log_path_mutex);
}
