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

void kve_resp_format(kve_buf_t *out, size_t argc, const char *const *argv, const size_t *argvlen)
{
    size_t i, total = 1 + 20 + 2;
    char *p;

    for (i = 0; i != argc; ++i)
        total += 1 + 20 + 2 + argvlen[i] + 2;
    p = kve_buf_reserve(out, total);
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
    out->len = (size_t)(p - out->base);
}
