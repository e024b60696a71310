/* SPDX-License-Identifier: MIT */
/*
 * Targeted cache-control fields (RFC 9213: CDN-Cache-Control and the operator's own field), which are
 * RFC 8941 Structured-Field Dictionaries rather than Cache-Control lists. A field that is absent, empty or
 * not a valid Dictionary (any of its lines) is ignored as a whole, and the cache falls back to the next
 * field. Within a valid field, later members overwrite earlier ones (RFC 8941 §3.2); a delta-seconds
 * directive whose value is not a non-negative Integer ("max-age=\"5\"", "max-age=1.5") is ignored; `?0`
 * turns a flag off; restrictive flags hold with any other value; parameters are ignored. Pure functions.
 */
#ifndef KVE_HANDLERS_CACHE_SF_H
#define KVE_HANDLERS_CACHE_SF_H

#include <stddef.h>
#include "h2o.h"
#include "handlers/cache_control.h"

/**
 * Parses every line of the field named `lc_name` (`len` bytes, lower case) among `headers` into `cc` (which
 * the caller initialised). Returns 0 if the field is usable (present, not empty, valid), else -1 (then `cc`
 * may hold part of it: re-initialise it). Never borrows pointers into the values (field lists stay unset).
 */
int kve_cc_parse_targeted(kve_cc_t *cc, const h2o_header_t *headers, size_t num, const char *lc_name, size_t len);

/** Parses one line `value` of a targeted field into `cc`, as above: 0 if it is a valid, non-empty Dictionary. */
int kve_cc_parse_sf_line(kve_cc_t *cc, const char *value, size_t len);

#endif
