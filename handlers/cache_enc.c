/* SPDX-License-Identifier: MIT */
/* Length-prefixed field encoding of cache keys (see cache_enc.h). */
#include "handlers/cache_enc.h"
#include "proxy/common.h"

void kve_cache_enc_field(kve_buf_t *out, uint8_t tag, const void *p, size_t len)
{
    unsigned char head[5] = {tag, (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                             (unsigned char)len};

    KVE_ASSERT(len <= UINT32_MAX);
    kve_buf_append(out, head, sizeof(head));
    if (len != 0)
        kve_buf_append(out, p, len);
}

int kve_cache_enc_next(const char *enc, size_t len, size_t *pos, uint8_t *tag, const char **value, size_t *value_len)
{
    const unsigned char *p;
    size_t n;

    if (*pos > len || len - *pos < 5)
        return -1;
    p = (const unsigned char *)enc + *pos;
    n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    if (len - *pos - 5 < n)
        return -1;
    *tag = p[0];
    *value = enc + *pos + 5;
    *value_len = n;
    *pos += 5 + n;
    return 0;
}
