/* SPDX-License-Identifier: MIT */
/*
 * Pure parsers for config values (no YAML, no I/O), unit-tested by table. Each returns 0 on success or -1
 * if the text is not of the type; range checks are the caller's. All are strict: no surrounding or inner
 * whitespace (" 5s" and "5 s" are rejected), no empty input, no trailing garbage. Durations and sizes take
 * no sign and are capped at INT64_MAX (so they compare safely with a directive's signed min/max).
 */
#ifndef KVE_CONF_VALUE_H
#define KVE_CONF_VALUE_H

#include <stddef.h>
#include <stdint.h>

/** Decimal integer with optional sign; rejects overflow, empty input and trailing garbage. */
int kve_value_int(const char *s, int64_t *out);
/** true/false/yes/no/on/off (case-insensitive). */
int kve_value_bool(const char *s, int *out);
/** "250ms" "30s" "5m" "2h" "1d", fractions allowed ("1.5s"); milliseconds, rounded to the nearest; a unit is
 * mandatory and lowercase. */
int kve_value_duration(const char *s, uint64_t *out_ms);
/** "512" (bytes) "64KiB" "10MiB" "1GiB" "1TiB" "10KB" "10MB" "1GB" (case-insensitive unit, B optional: "10k").
 * A single letter k/m/g/t is binary (KiB...), "KB"... decimal. Fractions need a unit ("1.5MiB", not "1.5") and
 * round down to whole bytes. */
int kve_value_size(const char *s, uint64_t *out_bytes);

/** Levenshtein distance between two short strings (used for "did you mean"); capped at 255. */
unsigned kve_value_edit_distance(const char *a, const char *b);

/**
 * Expands `${NAME}`, `${NAME:-default}` and `$$` (a literal `$`) in `in`. The default is used when NAME is
 * unset or empty and is taken literally up to the first `}`; a `$` followed by anything else stays as it is.
 * On success returns a malloc'd string and sets *out_len. On error returns NULL and writes a message (e.g.
 * `environment variable "X" is not set`) into err; *err_offset is the byte offset of the offending `$` in `in`.
 */
char *kve_value_expand_env(const char *in, size_t len, size_t *out_len, char *err, size_t errlen, size_t *err_offset);

/** What `${NAME}` expands to on a thread that does not read the environment (kve_value_set_no_env). */
#define KVE_VALUE_ENV_PLACEHOLDER "environment-placeholder-value"

/**
 * On: kve_value_expand_env() on the calling thread never reads the environment: `${NAME:-default}` gives the default,
 * `${NAME}` gives KVE_VALUE_ENV_PLACEHOLDER (the web console's check of a pasted configuration, which must not show
 * the daemon's environment, secrets included, through its error messages). Off by default; per thread.
 */
void kve_value_set_no_env(int on);

#endif
