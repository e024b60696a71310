/* SPDX-License-Identifier: MIT */
/* Implementation of the helpers declared in common.h. */
#include "proxy/common.h"
#include "proxy/log.h"

#include <stdio.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <time.h>

/* through the error log (its format, level error), which allocates nothing and writes to fd 2 before the abort */
void kve__assert_fail(const char *file, int line, const char *expr)
{
    kve_log(KVE_LOG_ERROR, "assert", "%s:%d: assertion failed: %s", file, line, expr);
    abort();
}

/* straight to fd 2: no stdio, no allocation */
static void *check_alloc(void *p)
{
    static const char msg[] = "kvedge: out of memory\n";
    if (p == NULL) {
        if (write(2, msg, sizeof(msg) - 1) < 0)
            abort();
        abort();
    }
    return p;
}

void *kve_malloc(size_t sz)
{
    return check_alloc(malloc(sz == 0 ? 1 : sz));
}

void *kve_zalloc(size_t sz)
{
    return check_alloc(calloc(1, sz == 0 ? 1 : sz));
}

void *kve_realloc(void *p, size_t sz)
{
    return check_alloc(realloc(p, sz == 0 ? 1 : sz));
}

char *kve_strdup(const char *s)
{
    return s == NULL ? NULL : kve_strndup(s, strlen(s));
}

char *kve_strndup(const char *s, size_t len)
{
    char *p = kve_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

int kve_secure_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    /* OpenSSL's constant-time compare; the length is not a secret (tokens have public formats) */
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

uint64_t kve_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void kve_strv_push(kve_strv_t *strv, const char *s)
{
    strv->v = kve_realloc(strv->v, sizeof(*strv->v) * (strv->n + 2));
    strv->v[strv->n++] = kve_strdup(s);
    strv->v[strv->n] = NULL;
}

void kve_strv_dispose(kve_strv_t *strv)
{
    for (size_t i = 0; i != strv->n; ++i)
        free(strv->v[i]);
    free(strv->v);
    strv->v = NULL;
    strv->n = 0;
}

int kve_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}
