/* SPDX-License-Identifier: MIT */
/*
 * Cache directives of the HTTP cache (RFC 9111 §5.2, RFC 9213, Surrogate-Control, Pragma) parsed into one
 * struct, kve_cc_t. Pure functions: no I/O, no globals, no allocation; the only pointers a kve_cc_t holds
 * (the field lists of qualified no-cache / private) point into the header values parsed, so they live as
 * long as those values do.
 *
 * Rules (the http-cache-tests suite checks most of them, its test ids are named in tests/unit):
 * - directive names are case-insensitive; values are tokens or quoted-strings ("max-age=\"5\"" is 5);
 * - the first occurrence of a valued directive wins (RFC 9111 §4.2.1), across lines as within one;
 * - delta-seconds are 1*DIGIT: leading zeros are fine, a value past 2^31 counts as 2^31 (§1.2.2);
 * - an invalid max-age / s-maxage ("-1", "+5", "1.5", "a1", "1a", "'5'", "max-age =5", "max-age= 5")
 *   counts as 0: a response is stale (§4.2.1 "encouraged to consider ... stale"), a request validates;
 *   an invalid max-stale, min-fresh, stale-while-revalidate or stale-if-error is ignored;
 * - restrictive directives (no-store, no-cache, private, must-revalidate, ...) hold whatever their value;
 *   public and immutable only count without one;
 * - unknown directives are ignored, and so is a malformed element ("&&&") of Cache-Control.
 * Targeted fields (CDN-Cache-Control and the operator's own field) are RFC 8941 Dictionaries instead
 * (handlers/cache_sf.h): a field that does not parse is ignored as a whole.
 */
#ifndef KVE_HANDLERS_CACHE_CONTROL_H
#define KVE_HANDLERS_CACHE_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"

/** A delta-seconds directive that is absent. */
#define KVE_CC_ABSENT ((int64_t)-1)
/** The largest delta-seconds value (RFC 9111 §1.2.2: larger values count as 2^31). */
#define KVE_CC_DELTA_MAX ((int64_t)2147483648)

/* flags of kve_cc_t */
#define KVE_CC_NO_STORE 0x1u
#define KVE_CC_NO_CACHE 0x2u
#define KVE_CC_PRIVATE 0x4u
#define KVE_CC_PUBLIC 0x8u
#define KVE_CC_MUST_REVALIDATE 0x10u
#define KVE_CC_PROXY_REVALIDATE 0x20u
#define KVE_CC_MUST_UNDERSTAND 0x40u
#define KVE_CC_NO_TRANSFORM 0x80u
#define KVE_CC_ONLY_IF_CACHED 0x100u
#define KVE_CC_IMMUTABLE 0x200u
/** request `max-stale` without a value: any staleness is acceptable */
#define KVE_CC_MAX_STALE_ANY 0x400u

/** Which field a response's directives were taken from (kve_cc_parse_response()). */
typedef enum en_kve_cc_source_t {
    KVE_CC_SRC_NONE = 0,      /* no directive field at all */
    KVE_CC_SRC_CACHE_CONTROL, /* Cache-Control (Expires applies too) */
    KVE_CC_SRC_SURROGATE,     /* Surrogate-Control (Cache-Control and Expires are ignored) */
    KVE_CC_SRC_CDN,           /* CDN-Cache-Control, RFC 9213 (Cache-Control and Expires are ignored) */
    KVE_CC_SRC_TARGETED       /* the operator's own targeted field, RFC 9213 (same) */
} kve_cc_source_t;

/** Parsed cache directives. Zero it with kve_cc_init(): delta-seconds are KVE_CC_ABSENT until seen. */
typedef struct st_kve_cc_t {
    unsigned flags; /* KVE_CC_* */
    int64_t max_age, s_maxage, max_stale, min_fresh, stale_while_revalidate, stale_if_error;
    /** the field names of `no-cache="a, b"` / `private="a"` (the quoted string's content, borrowed), or {NULL, 0} */
    h2o_iovec_t no_cache_fields, private_fields;
    kve_cc_source_t source;
} kve_cc_t;

/** Sets every directive to absent. */
void kve_cc_init(kve_cc_t *cc);

/**
 * Adds the directives of one Cache-Control (or Surrogate-Control) field line `value` (`len` bytes) to `cc`.
 * Directives already set keep their first value. `cc` borrows pointers into `value` (the field lists).
 */
void kve_cc_parse(kve_cc_t *cc, const char *value, size_t len);

/**
 * The directives of a response with header fields `headers` (`num` entries, names compared
 * case-insensitively) for a shared cache: the first usable of the operator's targeted field `targeted`
 * (lower-case name; {NULL, 0} for none), CDN-Cache-Control, Surrogate-Control, Cache-Control. A targeted
 * field is usable if it is present, not empty and a valid Dictionary; Surrogate-Control if one of its elements
 * applies to kvedge (untargeted, or `;kvedge`: handlers/cache_surrogate.h).
 * `cc->source` says which one (KVE_CC_SRC_NONE: none present). Borrows pointers into the header values.
 */
void kve_cc_parse_response(kve_cc_t *cc, const h2o_header_t *headers, size_t num, h2o_iovec_t targeted);

/**
 * The directives of a request: every Cache-Control line; when the request has none, `Pragma: no-cache`
 * counts as `Cache-Control: no-cache` (RFC 7234 §5.4, for HTTP/1.0 clients). Borrows like kve_cc_parse().
 */
void kve_cc_parse_request(kve_cc_t *cc, const h2o_header_t *headers, size_t num);

/**
 * Whether `name` (`len` bytes, any case) is listed in a field list of kve_cc_t (no_cache_fields or
 * private_fields: comma-separated tokens, OWS around them).
 */
int kve_cc_field_listed(h2o_iovec_t list, const char *name, size_t len);

/**
 * Writes `cc` as a Cache-Control value (canonical order, lower case) into `buf` (`cap` bytes, NUL-terminated).
 * Returns the length written, or the length needed if it is >= cap (as snprintf). For logs, tests and fuzzing.
 */
size_t kve_cc_serialize(const kve_cc_t *cc, char *buf, size_t cap);

/**
 * The end of the list element starting at `p` (before `end`): the next ',' outside a quoted string (backslash escapes
 * honoured), or `end`. `*semi` (when not NULL) gets the element's first ';' outside a quoted string, or NULL.
 */
const char *kve_cc_element_end(const char *p, const char *end, const char **semi);

#endif
