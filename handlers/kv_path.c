/* SPDX-License-Identifier: MIT */
/*
 * Raw request paths of the KV REST API (see kv_path.h). The dot-segment scan decodes percent-escapes the way
 * h2o's rebuild_path() does (a '%' followed by two hex digits), so whatever h2o would remove is found.
 */
#include "handlers/kv_path.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>

/* the common case, cheaply (h2o's own test for whether to normalise): no '%' and no '.' starting a segment */
static int may_have_dot_segment(const char *path, size_t len)
{
    const char *p = path, *end = path + len;

    if (memchr(path, '%', len) != NULL)
        return 1;
    for (; (p = memchr(p, '.', (size_t)(end - p))) != NULL; ++p)
        if (p == path || p[-1] == '/')
            return 1;
    return 0;
}

/* whether a segment of `path` is "." or ".." after percent-decoding ('/' and "%2f" separate segments) */
static int has_dot_segment(const char *path, size_t len)
{
    size_t i, seg = 0, dots = 0;
    int c, hi, lo;

    if (!may_have_dot_segment(path, len))
        return 0;
    for (i = 0; i <= len; ++i) {
        c = '/'; /* the end closes the last segment */
        if (i != len) {
            c = (unsigned char)path[i];
            if (c == '%' && len - i >= 3 && (hi = kve_hex_digit(path[i + 1])) >= 0 && (lo = kve_hex_digit(path[i + 2])) >= 0)
                c = hi << 4 | lo, i += 2;
        }
        if (c != '/') {
            ++seg, dots += c == '.';
            continue;
        }
        if (seg != 0 && seg <= 2 && dots == seg)
            return 1;
        seg = dots = 0;
    }
    return 0;
}

static int starts_with_prefix(const char *path, size_t len, const char *prefix, size_t prefix_len)
{
    if (prefix_len == 0)
        return len != 0 && path[0] == '/';
    return len >= prefix_len && memcmp(path, prefix, prefix_len) == 0 && (len == prefix_len || path[prefix_len] == '/');
}

const char *kve_rest_check_path(const char *path, size_t len, const char *prefix, size_t prefix_len, h2o_mem_pool_t *pool)
{
    static const char prefix_error[] = "ERR the request path must start with %.*s exactly (no percent-encoding or '.' "
                                       "segments in it)";
    char *msg;

    if (!starts_with_prefix(path, len, prefix, prefix_len)) {
        msg = h2o_mem_alloc_pool(pool, sizeof(prefix_error) + prefix_len + 1);
        snprintf(msg, sizeof(prefix_error) + prefix_len + 1, prefix_error, prefix_len != 0 ? (int)prefix_len : 1,
                 prefix_len != 0 ? prefix : "/");
        return msg;
    }
    if (has_dot_segment(path, len))
        return "ERR the request path has a '.' or '..' segment (also when percent-encoded); send such arguments in a JSON "
               "body";
    return NULL;
}
