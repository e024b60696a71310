/* SPDX-License-Identifier: MIT */
/* Growable byte buffer (see buf.h). */
#include "proxy/buf.h"
#include "proxy/common.h"

#include <stdarg.h>
#include <stdio.h>

char *kve_buf_reserve(kve_buf_t *buf, size_t n)
{
    if (buf->cap - buf->len < n) {
        size_t cap = buf->cap < 256 ? 256 : buf->cap;
        while (cap - buf->len < n) {
            KVE_ASSERT(cap <= SIZE_MAX / 2);
            cap *= 2;
        }
        buf->base = kve_realloc(buf->base, cap);
        buf->cap = cap;
    }
    return buf->base + buf->len;
}

void kve_buf_append(kve_buf_t *buf, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(kve_buf_reserve(buf, n), p, n);
    buf->len += n;
}

void kve_buf_printf(kve_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    KVE_ASSERT(n >= 0);
    kve_buf_reserve(buf, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(buf->base + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}

void kve_buf_dispose(kve_buf_t *buf)
{
    free(buf->base);
    buf->base = NULL;
    buf->len = buf->cap = 0;
}
