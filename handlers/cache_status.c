/* SPDX-License-Identifier: MIT */
/* Cache-Status `key` as an sf-string (see cache_status.h). */
#include "handlers/cache_status.h"

#include <string.h>

h2o_iovec_t kve_cache_status_key(h2o_mem_pool_t *pool, const char *enc, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = h2o_mem_alloc_pool(pool, KVE_CACHE_STATUS_KEY_MAX + 8), *p = out;
    const char *const end = out + 1 + KVE_CACHE_STATUS_KEY_MAX;
    size_t i;

    *p++ = '"';
    for (i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)enc[i];
        size_t need = c == '"' || c == '\\' ? 2 : c < 0x20 || c > 0x7e || c == '%' ? 3 : 1;
        if (p + need > end - 3) {
            memcpy(p, "...", 3), p += 3;
            break;
        }
        if (need == 2) {
            *p++ = '\\', *p++ = (char)c;
        } else if (need == 3) {
            *p++ = '%', *p++ = hex[c >> 4], *p++ = hex[c & 0xf];
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return h2o_iovec_init(out, (size_t)(p - out));
}
