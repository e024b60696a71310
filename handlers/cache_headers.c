/* SPDX-License-Identifier: MIT */
/* Lists of request and response fields the cache drops (see cache_headers.h). */
#include "handlers/cache_headers.h"
#include "handlers/session_cache.h"
#include "proxy/common.h"

#include <string.h>
#include <strings.h>

struct st_name_t {
    const char *name;
    size_t len;
};
#define NAME(s)                                                                                                                    \
    {                                                                                                                              \
        s, sizeof(s) - 1                                                                                                           \
    }

static int in_list(const struct st_name_t *list, size_t n, const char *name, size_t len)
{
    size_t i;
    for (i = 0; i != n; ++i)
        if (h2o_lcstris(name, len, list[i].name, list[i].len))
            return 1;
    return 0;
}

int kve_cache_request_header_untrusted(const char *name, size_t len)
{
    static const struct st_name_t untrusted[] = {NAME("forwarded"),     NAME("x-original-url"),         NAME("x-rewrite-url"),
                                                 NAME("x-http-method"), NAME("x-http-method-override"), NAME("x-method-override"),
                                                 NAME("x-host"),        NAME("x-original-host")};
    static const char prefix[] = "x-forwarded-";

    if (len >= sizeof(prefix) - 1 && strncasecmp(name, prefix, sizeof(prefix) - 1) == 0)
        return 1;
    return in_list(untrusted, KVE_ARRAY_SIZE(untrusted), name, len);
}

size_t kve_cache_request_headers_strip(h2o_header_t *headers, size_t num)
{
    size_t i, kept = 0;
    for (i = 0; i != num; ++i)
        if (!kve_cache_request_header_untrusted(headers[i].name->base, headers[i].name->len))
            headers[kept++] = headers[i];
    return kept;
}

/* whether `name` is a token of any Connection line */
static int listed_in_connection(const char *name, size_t len, const h2o_header_t *headers, size_t num)
{
    size_t i;
    for (i = 0; i != num; ++i)
        if (h2o_lcstris(headers[i].name->base, headers[i].name->len, H2O_STRLIT("connection")) &&
            kve_cc_field_listed(headers[i].value, name, len))
            return 1;
    return 0;
}

unsigned kve_cache_response_header(const char *name, size_t len, const h2o_header_t *headers, size_t num, const kve_cc_t *cc)
{
    static const struct st_name_t hop[] = {NAME("connection"),
                                           NAME("keep-alive"),
                                           NAME("proxy-connection"),
                                           NAME("te"),
                                           NAME("trailer"),
                                           NAME("transfer-encoding"),
                                           NAME("upgrade"),
                                           NAME("proxy-authenticate"),
                                           NAME("proxy-authentication-info"),
                                           NAME("proxy-authorization")};
    static const struct st_name_t unstored[] = {NAME("set-cookie"), NAME("set-cookie2"), NAME("age")};
    const unsigned all = KVE_CACHE_HDR_NO_STORE | KVE_CACHE_HDR_NO_FORWARD | KVE_CACHE_HDR_NO_UPDATE;

    if (in_list(hop, KVE_ARRAY_SIZE(hop), name, len) || listed_in_connection(name, len, headers, num))
        return all;
    if (h2o_lcstris(name, len, H2O_STRLIT("surrogate-control")))
        return all;
    /* a session command (docs/sessions.md §13): a stored one would be replayed to whoever gets the object */
    if (in_list(unstored, KVE_ARRAY_SIZE(unstored), name, len) || kve_session_owned_field(h2o_iovec_init(name, len)))
        return KVE_CACHE_HDR_NO_STORE | KVE_CACHE_HDR_NO_UPDATE;
    if (cc != NULL && cc->no_cache_fields.base != NULL && kve_cc_field_listed(cc->no_cache_fields, name, len))
        return KVE_CACHE_HDR_NO_STORE | KVE_CACHE_HDR_NO_UPDATE;
    if (h2o_lcstris(name, len, H2O_STRLIT("content-length")))
        return KVE_CACHE_HDR_NO_UPDATE;
    return 0;
}
