/* SPDX-License-Identifier: MIT */
/*
 * Freshness lifetime, age and the reuse decision (see cache_freshness.h). All inputs are bounded before any
 * arithmetic: delta-seconds are at most 2^31, HTTP-dates lie within years 0..9999 and a record read back from the
 * store holds times within +-2^40 s (cache_record.c refuses others), so no sum overflows.
 */
#include "handlers/cache_freshness.h"
#include "proxy/common.h"

int kve_cache_status_heuristic(int status)
{
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return 1;
    default:
        return 0;
    }
}

/* statuses that the default TTL may apply to: the heuristically cacheable ones that are not errors or partial */
static int status_default_ttl(int status)
{
    return status == 200 || status == 203 || status == 204 || status == 300 || status == 301 || status == 308;
}

static int64_t explicit_lifetime(const kve_cache_resp_t *r, int64_t response_time)
{
    if (r->cc.s_maxage != KVE_CC_ABSENT)
        return r->cc.s_maxage;
    if (r->cc.max_age != KVE_CC_ABSENT)
        return r->cc.max_age;
    if ((r->flags & KVE_CACHE_RESP_EXPIRES) != 0)
        return KVE_MAX(0, r->expires - (r->date != KVE_CACHE_TIME_NONE ? r->date : response_time));
    return -1;
}

static int64_t heuristic_lifetime(const kve_cache_resp_t *r, const kve_cache_rules_t *rules, int64_t response_time)
{
    int64_t base = r->date != KVE_CACHE_TIME_NONE ? r->date : response_time, cap;

    if (!rules->heuristic || r->last_modified == KVE_CACHE_TIME_NONE ||
        !(kve_cache_status_heuristic(r->status) || (r->cc.flags & KVE_CC_PUBLIC) != 0))
        return -1;
    cap = rules->heuristic_max > 0 ? rules->heuristic_max : KVE_CACHE_HEURISTIC_MAX;
    return KVE_MIN(KVE_MAX(0, (base - r->last_modified) / 10), cap);
}

static int64_t window(int64_t directive, int64_t grace)
{
    return KVE_MAX(directive != KVE_CC_ABSENT ? directive : 0, KVE_MAX(grace, 0));
}

void kve_cache_fresh_compute(kve_cache_fresh_t *f, const kve_cache_resp_t *r, const kve_cache_rules_t *rules, int64_t response_time)
{
    int64_t v;

    f->flags = 0;
    if ((v = explicit_lifetime(r, response_time)) >= 0) {
        f->flags |= KVE_CACHE_FRESH_EXPLICIT;
    } else if ((v = heuristic_lifetime(r, rules, response_time)) >= 0) {
        f->flags |= KVE_CACHE_FRESH_HEURISTIC;
    } else if (rules->default_ttl > 0 && status_default_ttl(r->status)) {
        f->flags |= KVE_CACHE_FRESH_DEFAULT;
        v = rules->default_ttl;
    } else {
        v = 0;
    }
    f->lifetime = v;
    if ((r->cc.flags & (KVE_CC_MUST_REVALIDATE | KVE_CC_PROXY_REVALIDATE)) != 0 || r->cc.s_maxage != KVE_CC_ABSENT)
        f->flags |= KVE_CACHE_FRESH_NO_STALE;
    if ((r->cc.flags & KVE_CC_NO_CACHE) != 0)
        f->flags |= KVE_CACHE_FRESH_NO_CACHE;
    f->swr = window(r->cc.stale_while_revalidate, rules->stale_while_revalidate);
    f->sie = window(r->cc.stale_if_error, rules->stale_if_error);
}

int64_t kve_cache_initial_age(const kve_cache_resp_t *r, int64_t request_time, int64_t response_time)
{
    int64_t apparent = 0, delay = KVE_MAX(0, response_time - request_time);

    if (r->date != KVE_CACHE_TIME_NONE)
        apparent = KVE_MAX(0, response_time - r->date);
    return KVE_MAX(apparent, r->age + delay);
}

int64_t kve_cache_current_age(int64_t initial_age, int64_t response_time, int64_t now)
{
    return initial_age + KVE_MAX(0, now - response_time);
}

int64_t kve_cache_ttl(const kve_cache_fresh_t *f, int64_t age)
{
    return f->lifetime - age;
}

kve_cache_use_t kve_cache_use(const kve_cache_fresh_t *f, int64_t age, const kve_cc_t *req)
{
    int64_t left = f->lifetime - age, staleness = -left;

    if ((f->flags & KVE_CACHE_FRESH_NO_CACHE) != 0)
        return KVE_CACHE_USE_VALIDATE;
    if (req != NULL &&
        ((req->flags & KVE_CC_NO_CACHE) != 0 || req->max_age == 0 || (req->max_age != KVE_CC_ABSENT && age > req->max_age)))
        return KVE_CACHE_USE_VALIDATE;
    if (left > 0) {
        if (req != NULL && req->min_fresh != KVE_CC_ABSENT && left < req->min_fresh)
            return KVE_CACHE_USE_VALIDATE;
        return KVE_CACHE_USE_FRESH;
    }
    if ((f->flags & KVE_CACHE_FRESH_NO_STALE) != 0 || (req != NULL && req->min_fresh != KVE_CC_ABSENT))
        return KVE_CACHE_USE_VALIDATE;
    if (req != NULL &&
        ((req->flags & KVE_CC_MAX_STALE_ANY) != 0 || (req->max_stale != KVE_CC_ABSENT && staleness <= req->max_stale)))
        return KVE_CACHE_USE_STALE;
    if (f->swr > 0 && staleness <= f->swr)
        return KVE_CACHE_USE_STALE_REVALIDATE;
    return KVE_CACHE_USE_VALIDATE;
}

int kve_cache_use_on_error(const kve_cache_fresh_t *f, int64_t age, const kve_cc_t *req)
{
    int64_t staleness = age - f->lifetime, limit = f->sie;

    if ((f->flags & (KVE_CACHE_FRESH_NO_STALE | KVE_CACHE_FRESH_NO_CACHE)) != 0)
        return 0;
    if (staleness < 0)
        return 1; /* still fresh: the request only went upstream because it asked to */
    if (req != NULL && req->stale_if_error != KVE_CC_ABSENT)
        limit = KVE_MAX(limit, req->stale_if_error);
    if (req != NULL && (req->flags & KVE_CC_MAX_STALE_ANY) != 0)
        return 1;
    if (req != NULL && req->max_stale != KVE_CC_ABSENT)
        limit = KVE_MAX(limit, req->max_stale);
    return limit > 0 && staleness <= limit;
}
