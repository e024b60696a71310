/* SPDX-License-Identifier: MIT */
/* What the shared cache asks the sessions on a route that has both (see session_cache.h). */
#include "handlers/session_cache.h"
#include "handlers/session_internal.h"

#include <string.h>

int kve_session_private(h2o_req_t *req)
{
    kve_session_req_t *st = kve_session__state(req);
    return st != NULL && (st->status != KVE_SESSION_ANONYMOUS || st->clear_cookie);
}

int kve_session_owned_field(h2o_iovec_t name)
{
    return kve_session__owned_field(name);
}

/* whether Set-Cookie value `v` sets the cookie `name` (`len` bytes): "name=" after optional blanks */
static int sets_cookie(h2o_iovec_t v, const char *name, size_t len)
{
    const char *p = v.base, *end = v.base + v.len;
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    return (size_t)(end - p) > len && memcmp(p, name, len) == 0 && (p[len] == '=' || p[len] == ' ' || p[len] == '\t');
}

int kve_session_response_owned(const h2o_header_t *headers, size_t num, const char *cookie_name)
{
    size_t len = strlen(cookie_name);
    for (size_t i = 0; i != num; ++i) {
        h2o_iovec_t name = *headers[i].name;
        if (kve_session__owned_field(name))
            return 1;
        if (h2o_lcstris(name.base, name.len, H2O_STRLIT("set-cookie")) && sets_cookie(headers[i].value, cookie_name, len))
            return 1;
    }
    return 0;
}
