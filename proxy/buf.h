/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer (malloc'd, doubling), for building response bodies and metrics text. The
 * owner frees it with kve_buf_dispose(); every append aborts on OOM like the other allocators.
 */
#ifndef KVE_PROXY_BUF_H
#define KVE_PROXY_BUF_H

#include <stddef.h>

typedef struct st_kve_buf_t {
    char *base;
    size_t len;
    size_t cap;
} kve_buf_t;

#define KVE_BUF_INIT                                                                                                               \
    {                                                                                                                              \
        NULL, 0, 0                                                                                                                 \
    }

/** Makes room for `n` more bytes and returns where they go (len is not changed). */
char *kve_buf_reserve(kve_buf_t *buf, size_t n);
/** Appends `n` bytes. */
void kve_buf_append(kve_buf_t *buf, const void *p, size_t n);
/** Appends one byte. */
static inline void kve_buf_putc(kve_buf_t *buf, char c)
{
    if (buf->len == buf->cap)
        kve_buf_reserve(buf, 1);
    buf->base[buf->len++] = c;
}
/** Appends printf-formatted text (the buffer stays NUL-terminated after it). */
void kve_buf_printf(kve_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Frees the memory and resets the buffer to empty. */
void kve_buf_dispose(kve_buf_t *buf);

#endif
