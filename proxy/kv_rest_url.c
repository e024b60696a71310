/* SPDX-License-Identifier: MIT */
/* A KV REST store's URL: the HTTP client's origin and the API's path prefix (see kv_rest_driver.h). */
#include "proxy/kv_rest_driver.h"

#include <stdio.h>
#include <string.h>

int kve_kv_rest_split_url(const char *url, char *origin, size_t origin_size, char *prefix, size_t prefix_size, char *err,
                          size_t errlen)
{
    const char *host = strstr(url, "://"), *path;
    size_t plen;

    if (host == NULL) {
        snprintf(err, errlen, "not an http:// or https:// URL");
        return -1;
    }
    path = strchr(host + 3, '/');
    if (strpbrk(url, "?#") != NULL) {
        snprintf(err, errlen, "a KV REST URL has no query or fragment");
        return -1;
    }
    if (path == NULL)
        path = url + strlen(url);
    plen = strlen(path);
    while (plen != 0 && path[plen - 1] == '/')
        --plen;
    if ((size_t)(path - url) >= origin_size || plen >= prefix_size) {
        snprintf(err, errlen, "URL too long");
        return -1;
    }
    memcpy(origin, url, path - url);
    origin[path - url] = '\0';
    memcpy(prefix, path, plen);
    prefix[plen] = '\0';
    return 0;
}
