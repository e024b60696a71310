/* SPDX-License-Identifier: MIT */
/* Storability of a response (see cache_storable.h): RFC 9111 §3 in the order the RFC lists the conditions. */
#include "handlers/cache_storable.h"
#include "proxy/common.h"

int kve_cache_status_understood(int status)
{
    switch (status) {
    case 200:
    case 201:
    case 202:
    case 203:
    case 204:
    case 205:
    case 300:
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 406:
    case 408:
    case 409:
    case 410:
    case 411:
    case 412:
    case 413:
    case 414:
    case 415:
    case 416:
    case 417:
    case 421:
    case 422:
    case 426:
    case 429:
    case 431:
    case 500:
    case 501:
    case 502:
    case 503:
    case 504:
    case 505:
        return 1;
    default:
        return 0;
    }
}

static int status_storable(int status)
{
    return status >= 200 && status <= 599 && status != 206 && status != 304;
}

/* whether the response itself says it may be kept (§3's list, plus "stored to be revalidated") */
static int has_freshness_info(const kve_cache_resp_t *r, const kve_cache_fresh_t *f)
{
    if ((f->flags & (KVE_CACHE_FRESH_EXPLICIT | KVE_CACHE_FRESH_HEURISTIC | KVE_CACHE_FRESH_DEFAULT)) != 0)
        return 1;
    if ((r->cc.flags & KVE_CC_PUBLIC) != 0)
        return 1;
    return (r->cc.flags & KVE_CC_NO_CACHE) != 0 && kve_cache_resp_has_validator(r) && kve_cache_status_heuristic(r->status);
}

kve_cache_store_t kve_cache_storable(h2o_iovec_t method, const kve_cc_t *req, int has_authorization, const kve_cache_resp_t *r,
                                     const kve_cache_fresh_t *f, const kve_cache_rules_t *rules)
{
    unsigned cc = r->cc.flags;
    int understood_must = (cc & KVE_CC_MUST_UNDERSTAND) != 0;

    if (!h2o_memis(method.base, method.len, H2O_STRLIT("GET")))
        return KVE_CACHE_STORE_METHOD;
    if (req != NULL && (req->flags & KVE_CC_NO_STORE) != 0)
        return KVE_CACHE_STORE_REQUEST_NO_STORE;
    if (!status_storable(r->status) || (understood_must && !kve_cache_status_understood(r->status)))
        return KVE_CACHE_STORE_STATUS;
    if ((cc & KVE_CC_NO_STORE) != 0 && !understood_must)
        return KVE_CACHE_STORE_NO_STORE;
    if ((cc & KVE_CC_PRIVATE) != 0 || r->cc.private_fields.base != NULL)
        return KVE_CACHE_STORE_PRIVATE;
    if (has_authorization && (cc & (KVE_CC_PUBLIC | KVE_CC_MUST_REVALIDATE)) == 0 && r->cc.s_maxage == KVE_CC_ABSENT)
        return KVE_CACHE_STORE_AUTHORIZATION;
    if ((r->flags & KVE_CACHE_RESP_SET_COOKIE) != 0 && !rules->store_set_cookie)
        return KVE_CACHE_STORE_SET_COOKIE;
    if ((r->flags & KVE_CACHE_RESP_VARY_STAR) != 0)
        return KVE_CACHE_STORE_VARY_STAR;
    if (!has_freshness_info(r, f))
        return KVE_CACHE_STORE_NO_FRESHNESS;
    if ((f->flags & KVE_CACHE_FRESH_EXPLICIT) == 0 && (r->cc_plain & (KVE_CC_NO_STORE | KVE_CC_PRIVATE)) != 0)
        return (r->cc_plain & KVE_CC_NO_STORE) != 0 ? KVE_CACHE_STORE_NO_STORE : KVE_CACHE_STORE_PRIVATE;
    if (f->lifetime == 0 && !kve_cache_resp_has_validator(r) && f->swr == 0 && f->sie == 0)
        return KVE_CACHE_STORE_USELESS;
    return KVE_CACHE_STORE_OK;
}

const char *kve_cache_store_reason(kve_cache_store_t verdict)
{
    static const char *const names[] = {"ok",        "method",       "request-no-store", "status",
                                        "no-store",  "private",      "authorization",    "set-cookie",
                                        "vary-star", "no-freshness", "useless"};
    return (size_t)verdict < KVE_ARRAY_SIZE(names) ? names[verdict] : "unknown";
}
