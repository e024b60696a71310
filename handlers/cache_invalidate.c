/* SPDX-License-Identifier: MIT */
/* Which responses invalidate which URIs (see cache_invalidate.h). Hosts compare after kve_cache_host_normalize(). */
#include "handlers/cache_invalidate.h"
#include "handlers/cache_key.h"
#include "proxy/common.h"

#include <string.h>
#include <strings.h>

int kve_cache_invalidates(h2o_iovec_t method, int status)
{
    static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "TRACE"};
    size_t i;

    if (status < 200 || status > 399)
        return 0;
    for (i = 0; i != KVE_ARRAY_SIZE(safe); ++i)
        if (h2o_memis(method.base, method.len, safe[i], strlen(safe[i])))
            return 0;
    return 1;
}

static int same_host(h2o_iovec_t a, h2o_iovec_t b, h2o_iovec_t scheme)
{
    kve_buf_t na = KVE_BUF_INIT, nb = KVE_BUF_INIT;
    int same = kve_cache_host_normalize(a, scheme, &na) == 0 && kve_cache_host_normalize(b, scheme, &nb) == 0 && na.len == nb.len &&
               memcmp(na.base, nb.base, na.len) == 0;
    kve_buf_dispose(&na);
    kve_buf_dispose(&nb);
    return same;
}

int kve_cache_same_origin_path(h2o_iovec_t uri, h2o_iovec_t scheme, h2o_iovec_t authority, h2o_iovec_t *path)
{
    const char *p = uri.base, *end = uri.len != 0 ? uri.base + uri.len : uri.base, *host, *slash, *hash;
    const char *colon = uri.len != 0 ? memchr(uri.base, ':', uri.len) : NULL,
               *first_slash = uri.len != 0 ? memchr(uri.base, '/', uri.len) : NULL;

    if (uri.len > scheme.len + 3 && strncasecmp(p, scheme.base, scheme.len) == 0 && memcmp(p + scheme.len, "://", 3) == 0)
        p += scheme.len + 1; /* now at "//" */
    else if (colon != NULL && (first_slash == NULL || colon < first_slash))
        return -1; /* another scheme ("https:" for an http request, "mailto:") */
    if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
        host = p + 2;
        slash = memchr(host, '/', (size_t)(end - host));
        if (slash == NULL || !same_host(h2o_iovec_init(host, (size_t)(slash - host)), authority, scheme))
            return -1;
        p = slash;
    }
    if (p == end || *p != '/')
        return -1;
    hash = memchr(p, '#', (size_t)(end - p));
    *path = h2o_iovec_init(p, (size_t)((hash != NULL ? hash : end) - p));
    return 0;
}
