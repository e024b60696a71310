/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/log.c and proxy/log_stderr.c (issue 11, logs): the RFC 3339 time, the JSON line (fields, escaping
 * of module and message, a long message cut on a whole escape and the line still closed), the text line, and the
 * capture of `stderr` (lines printed with stdio become log lines of module "h2o"; "fatal:" is an error; a write to fd 2
 * itself passes unchanged; a partial last line is written when released; the original stream is back afterwards). fd 2 is pointed
 * at a temporary file while each test runs.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct st_fd2_t {
    FILE *tmp;
    int saved;
} fd2_t;

static void fd2_redirect(fd2_t *r)
{
    r->tmp = tmpfile();
    KVE_ASSERT(r->tmp != NULL);
    fflush(stderr);
    r->saved = dup(2);
    KVE_ASSERT(r->saved != -1 && dup2(fileno(r->tmp), 2) == 2);
}

/* puts fd 2 back and returns what was written to it (malloc'd, NUL-terminated) */
static char *fd2_restore(fd2_t *r)
{
    long len;
    char *text;

    dup2(r->saved, 2);
    close(r->saved);
    fseek(r->tmp, 0, SEEK_END);
    len = ftell(r->tmp);
    rewind(r->tmp);
    text = kve_malloc((size_t)len + 1);
    KVE_ASSERT(fread(text, 1, (size_t)len, r->tmp) == (size_t)len);
    text[len] = '\0';
    fclose(r->tmp);
    return text;
}

TEST(time_format)
{
    char buf[KVE_LOG_TIME_LEN + 1];
    struct timeval tv = {0, 999999};

    kve_log_format_time(buf, &tv);
    CHECK_EQ_STR(buf, "1970-01-01T00:00:00.999Z");
    tv = (struct timeval){1795756496, 7000}; /* 2026-11-27T05:14:56 */
    kve_log_format_time(buf, &tv);
    CHECK_EQ_STR(buf, "2026-11-27T05:14:56.007Z");
    tv = (struct timeval){253402300799, 123456}; /* the last second of 9999 */
    kve_log_format_time(buf, &tv);
    CHECK_EQ_STR(buf, "9999-12-31T23:59:59.123Z");
}

/* the part of a JSON line after {"time":"<24 bytes>" */
static const char *after_time(const char *line)
{
    CHECK(strncmp(line, "{\"time\":\"", 9) == 0);
    return strlen(line) > 9 + KVE_LOG_TIME_LEN ? line + 9 + KVE_LOG_TIME_LEN : "";
}

TEST(json_line)
{
    fd2_t r;
    char want[256], *text;

    kve_log_set_format(KVE_LOG_FORMAT_JSON);
    fd2_redirect(&r);
    kve_log(KVE_LOG_WARN, "mo\"d", "a\"b\\c\x01\t\xff\xc3\xa9 %s", "z");
    kve_log(KVE_LOG_DEBUG, "m", "not written at level info");
    text = fd2_restore(&r);
    kve_log_set_format(KVE_LOG_FORMAT_TEXT);
    snprintf(want, sizeof(want),
             "\",\"level\":\"warn\",\"module\":\"mo\\\"d\",\"pid\":%ld,\"msg\":\"a\\\"b\\\\c\\u0001\\t\xef\xbf\xbd\xc3\xa9 z\"}\n",
             (long)getpid());
    CHECK_EQ_STR(after_time(text), want);
    free(text);
}

TEST(json_line_cut)
{
    char msg[3000], *text, *end;
    size_t len, body;
    fd2_t r;

    memset(msg, 1, sizeof(msg) - 1); /* each byte becomes \u0001: far more than a line holds */
    msg[sizeof(msg) - 1] = '\0';
    kve_log_set_format(KVE_LOG_FORMAT_JSON);
    fd2_redirect(&r);
    kve_log(KVE_LOG_ERROR, "m", "%s", msg);
    text = fd2_restore(&r);
    kve_log_set_format(KVE_LOG_FORMAT_TEXT);
    len = strlen(text);
    CHECK(len <= 4097);
    CHECK(len > 4000);
    CHECK(len >= 3 && strcmp(text + len - 3, "\"}\n") == 0);
    end = strstr(text, "\"msg\":\"");
    CHECK_NOT_NULL(end);
    if (end != NULL) {
        body = (size_t)(text + len - 3 - (end + 7));
        CHECK_EQ_UINT(body % 6, 0); /* whole escapes only */
        CHECK(strncmp(end + 7, "\\u0001", 6) == 0);
    }
    free(text);
}

TEST(text_line)
{
    fd2_t r;
    char *text, *p;

    fd2_redirect(&r);
    kve_log(KVE_LOG_INFO, "main", "a\"b\n\x01");
    text = fd2_restore(&r);
    p = strchr(text, ' ');
    CHECK_NOT_NULL(p);
    CHECK_EQ_UINT(p != NULL ? (size_t)(p - text) : 0, KVE_LOG_TIME_LEN);
    CHECK_EQ_STR(p, " [info] main: a\"b\\x0a\\x01\n");
    free(text);
}

TEST(stderr_capture)
{
    FILE *original = stderr;
    fd2_t r;
    char want[512], *text;
    const char *rest;

    kve_log_set_format(KVE_LOG_FORMAT_JSON);
    fd2_redirect(&r);
    kve_log_capture_stderr();
    kve_log_capture_stderr(); /* idempotent */
    CHECK(stderr != original);
    fprintf(stderr, "skipping frame (type:%d)\n", 250);
    CHECK_EQ_INT(write(2, "raw\n", 4), 4); /* fd 2 itself (sanitizer reports, glibc's fatal messages) is left alone */
    fprintf(stderr, "fatal:lib/x.c:1:%s\r\n", "boom \"q\"");
    fputs("partial", stderr);
    kve_log_release_stderr();
    kve_log_release_stderr();
    CHECK(stderr == original);
    text = fd2_restore(&r);
    kve_log_set_format(KVE_LOG_FORMAT_TEXT);
    /* three lines, each {"time":...} */
    rest = text;
    snprintf(want, sizeof(want), "\",\"level\":\"warn\",\"module\":\"h2o\",\"pid\":%ld,\"msg\":\"skipping frame (type:250)\"}\n",
             (long)getpid());
    CHECK(strncmp(after_time(rest), want, strlen(want)) == 0);
    rest = strchr(rest, '\n') + 1;
    CHECK(strncmp(rest, "raw\n", 4) == 0);
    rest += 4;
    snprintf(want, sizeof(want),
             "\",\"level\":\"error\",\"module\":\"h2o\",\"pid\":%ld,\"msg\":\"fatal:lib/x.c:1:boom \\\"q\\\"\"}\n", (long)getpid());
    CHECK(strncmp(after_time(rest), want, strlen(want)) == 0);
    rest = strchr(rest, '\n') + 1;
    snprintf(want, sizeof(want), "\",\"level\":\"warn\",\"module\":\"h2o\",\"pid\":%ld,\"msg\":\"partial\"}\n", (long)getpid());
    CHECK_EQ_STR(after_time(rest), want);
    free(text);
}

/* a line longer than the capture's buffer comes out in pieces, none lost */
TEST(stderr_capture_long_line)
{
    char line[5000], *text;
    size_t total = 0;
    fd2_t r;

    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    fd2_redirect(&r);
    kve_log_capture_stderr();
    fprintf(stderr, "%s\n", line);
    kve_log_release_stderr();
    text = fd2_restore(&r);
    for (const char *p = text; (p = strstr(p, "h2o: ")) != NULL; p += 5)
        total += strspn(p + 5, "x");
    CHECK_EQ_UINT(total, sizeof(line) - 1);
    free(text);
}

void kve_suite_log(void)
{
    RUN(time_format);
    RUN(json_line);
    RUN(json_line_cut);
    RUN(text_line);
    RUN(stderr_capture);
    RUN(stderr_capture_long_line);
}
