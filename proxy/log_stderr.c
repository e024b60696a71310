/* SPDX-License-Identifier: MIT */
/*
 * Library output on `stderr` as error-log lines (see log.h). glibc documents stdin/stdout/stderr as ordinary
 * variables a program may set, and libh2o reads the same `stderr` object, so pointing it at a fopencookie() stream
 * catches every fprintf(stderr, ...) and perror() of h2o in the thread that prints, synchronously: a line is
 * written to the log before the printing call returns (h2o's "fatal:" line reaches the log before its abort()).
 * File descriptor 2 itself is not touched, which is why sanitizer reports, glibc's own fatal messages and
 * anything else that writes to the descriptor keep reaching the terminal or the log file unchanged.
 *
 * The cookie's functions run with the stream's lock held (glibc locks a FILE for each call), so the line buffer
 * below is only ever used by one thread at a time.
 */
#include "proxy/log.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* longer lines are written in pieces of this size */
#define CAPTURE_LINE_MAX 2048

static FILE *original_stderr, *capture;
static char pending[CAPTURE_LINE_MAX];
static size_t pending_len;

/* h2o's fatal errors ("fatal:file:line:msg") and its "[ERROR]" lines are errors, anything else a warning */
static int line_level(const char *line, size_t len)
{
    if ((len >= 6 && memcmp(line, "fatal:", 6) == 0) || (len >= 7 && memcmp(line, "[ERROR]", 7) == 0))
        return KVE_LOG_ERROR;
    return KVE_LOG_WARN;
}

static void emit_pending(void)
{
    size_t len = pending_len;
    if (len != 0 && pending[len - 1] == '\r')
        --len;
    kve_log(line_level(pending, len), "h2o", "%.*s", (int)len, pending);
    pending_len = 0;
}

static ssize_t on_write(void *cookie, const char *buf, size_t size)
{
    for (size_t i = 0; i != size; ++i) {
        if (buf[i] == '\n') {
            emit_pending();
            continue;
        }
        if (pending_len == sizeof(pending))
            emit_pending();
        pending[pending_len++] = buf[i];
    }
    return (ssize_t)size;
}

static int on_close(void *cookie)
{
    if (pending_len != 0)
        emit_pending();
    return 0;
}

void kve_log_capture_stderr(void)
{
    cookie_io_functions_t io = {.write = on_write, .close = on_close};
    FILE *f;

    if (capture != NULL || (f = fopencookie(NULL, "w", io)) == NULL)
        return;
    setvbuf(f, NULL, _IOLBF, BUFSIZ); /* each newline flushes: a line is logged when it is printed */
    fflush(stderr);
    original_stderr = stderr;
    capture = f;
    stderr = f;
}

void kve_log_release_stderr(void)
{
    if (capture == NULL)
        return;
    stderr = original_stderr;
    fclose(capture);
    capture = NULL;
}
