/* SPDX-License-Identifier: MIT */
/*
 * The facts of an upstream response that the cache's decisions depend on, read from its header fields once:
 * the effective directives (handlers/cache_control.h), Date, Expires, Last-Modified, Age, the first ETag,
 * Set-Cookie and `Vary: *`. Pure: no I/O, no allocation; `cc` and `etag` borrow from the header values.
 *
 * RFC 9111 rules applied here: the first Date / Expires / Last-Modified line counts and an invalid Date or
 * Last-Modified counts as absent; an invalid Expires ("0", "UTC", ...) means "already expired" (§5.3) and
 * Expires is ignored when a targeted field supplied the directives (RFC 9213); Age uses the first member of
 * its first line and is ignored unless that is 1*DIGIT (§5.1: "7200,0" is 7200, "0,7200" is 0, "-1",
 * "1.5", "abc" are ignored), capped at 2^31.
 *
 * `cc_plain` keeps Cache-Control's own no-store / private / no-cache when a targeted field overrides it: the
 * targeted field's explicit freshness wins (RFC 9213), but freshness the cache adds itself (heuristic, default
 * TTL) never applies to a response whose Cache-Control forbids storing it (kve_cache_storable()).
 */
#ifndef KVE_HANDLERS_CACHE_RESPONSE_H
#define KVE_HANDLERS_CACHE_RESPONSE_H

#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_control.h"

/** A time that is absent or invalid. */
#define KVE_CACHE_TIME_NONE INT64_MIN

/* flags of kve_cache_resp_t */
#define KVE_CACHE_RESP_EXPIRES 0x1u    /* Expires applies (`expires` is set; an invalid one is 0, the epoch) */
#define KVE_CACHE_RESP_SET_COOKIE 0x2u /* Set-Cookie or Set-Cookie2 is present */
#define KVE_CACHE_RESP_VARY_STAR 0x4u  /* a Vary line lists "*" */
#define KVE_CACHE_RESP_AGE 0x8u        /* a valid Age was received (`age`) */

typedef struct st_kve_cache_resp_t {
    int status;
    unsigned flags;        /* KVE_CACHE_RESP_* */
    kve_cc_t cc;           /* the effective directives, see kve_cc_parse_response() */
    unsigned cc_plain;     /* the flags of Cache-Control itself (KVE_CC_*), also when a targeted field is in effect */
    int64_t date;          /* seconds since the epoch, or KVE_CACHE_TIME_NONE */
    int64_t expires;       /* valid when KVE_CACHE_RESP_EXPIRES */
    int64_t last_modified; /* or KVE_CACHE_TIME_NONE */
    int64_t age;           /* the Age received, 0 without one */
    h2o_iovec_t etag;      /* the first ETag's value (borrowed), or {NULL, 0} */
} kve_cache_resp_t;

/**
 * Reads the response with status `status` and header fields `headers` (`num`). `targeted` is the operator's
 * own targeted field name (lower case, {NULL, 0} for none); `now` resolves two-digit years. `r` borrows
 * pointers into the header values.
 */
void kve_cache_resp_parse(kve_cache_resp_t *r, int status, const h2o_header_t *headers, size_t num, h2o_iovec_t targeted,
                          int64_t now);

/** Whether the response carries a validator (ETag or Last-Modified) that a conditional request can use. */
int kve_cache_resp_has_validator(const kve_cache_resp_t *r);

#endif
