/* SPDX-License-Identifier: MIT */
/*
 * Parsers of the console's outside input (fuzzed by tests/fuzz/console_parse.c): the login form's
 * application/x-www-form-urlencoded body and the Cookie header. Pure functions: no allocation, no I/O.
 */
#ifndef KVE_HANDLERS_CONSOLE_PARSE_H
#define KVE_HANDLERS_CONSOLE_PARSE_H

#include <stddef.h>

/**
 * The value of field `name` in the form `body` (`len` bytes, not NUL-terminated: "a=1&b=2", '+' for a space,
 * %XX escapes), decoded into `out` (`cap` bytes, NUL-terminated). Returns its length, or -1 when the field is absent,
 * given twice, has a bad %-escape, or does not fit in `cap` - 1 bytes.
 */
long kve_console_form_value(const char *body, size_t len, const char *name, char *out, size_t cap);

/**
 * The value of cookie `name` in the Cookie header value `header` (`len` bytes: "a=1; b=2"): sets `*value` and
 * `*value_len` (pointing into `header`, without surrounding double quotes) and returns 1; 0 when it is absent.
 * Returns -1 when the cookie is there more than once (a planted duplicate: the caller treats it as no session).
 */
int kve_console_cookie_value(const char *header, size_t len, const char *name, const char **value, size_t *value_len);

#endif
