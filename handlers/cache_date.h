/* SPDX-License-Identifier: MIT */
/*
 * HTTP-date (RFC 9110 §5.6.7) for the cache: Date, Expires, Last-Modified, If-Modified-Since. All three
 * formats are read; day and month names and "GMT" are matched case-insensitively (cache-tests: an optimal
 * cache accepts "THU", "AUG", "gMT"), everything else strictly: "UTC", a two-digit year outside rfc850-date,
 * a missing comma, doubled spaces, dashes or periods in the wrong format, a one-digit hour, an impossible
 * date (31 Apr, 29 Feb 2023, 24:00:00) are invalid. The weekday is not checked against the date. Pure.
 */
#ifndef KVE_HANDLERS_CACHE_DATE_H
#define KVE_HANDLERS_CACHE_DATE_H

#include <stddef.h>
#include <stdint.h>

/** Length of an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
#define KVE_HTTP_DATE_LEN 29

/**
 * Parses the HTTP-date `s` (`len` bytes; OWS around it is allowed) into seconds since the epoch, `*t`.
 * `now` (seconds since the epoch) resolves rfc850-date's two-digit year: a year more than 50 years after
 * `now` is taken as the century before (RFC 9110). Returns 0, or -1 if `s` is not an HTTP-date.
 */
int kve_http_date_parse(const char *s, size_t len, int64_t now, int64_t *t);

/** Writes `t` (seconds since the epoch; clamped to years 0..9999) as an IMF-fixdate and a NUL into `buf`. */
void kve_http_date_format(int64_t t, char buf[KVE_HTTP_DATE_LEN + 1]);

#endif
