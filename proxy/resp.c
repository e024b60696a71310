/* SPDX-License-Identifier: MIT */
/* RESP2 request encoding (see resp.h). */
#include "proxy/resp.h"
#include "proxy/common.h"

size_t kve_u64toa(uint64_t v, char *dst)
{
    char tmp[20];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i != n; ++i)
        dst[i] = tmp[n - 1 - i];
    return n;
}

size_t kve_resp_size(size_t argc, const size_t *argvlen)
{
    size_t i, total = 1 + 20 + 2;
    for (i = 0; i != argc; ++i)
        total += 1 + 20 + 2 + argvlen[i] + 2;
    return total;
}

size_t kve_resp_write(char *dst, size_t argc, const char *const *argv, const size_t *argvlen)
{
    char *p = dst;
    size_t i;

    *p++ = '*';
    p += kve_u64toa(argc, p);
    *p++ = '\r', *p++ = '\n';
    for (i = 0; i != argc; ++i) {
        *p++ = '$';
        p += kve_u64toa(argvlen[i], p);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, argv[i], argvlen[i]);
        p += argvlen[i];
        *p++ = '\r', *p++ = '\n';
    }
    return (size_t)(p - dst);
}

void kve_resp_format(kve_buf_t *out, size_t argc, const char *const *argv, const size_t *argvlen)
{
    char *p = kve_buf_reserve(out, kve_resp_size(argc, argvlen));
    out->len += kve_resp_write(p, argc, argv, argvlen);
}
