/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the libFuzzer targets (tests/fuzz/README.md): an invariant check that aborts with a
 * message (libFuzzer then saves the input as a crash artifact), and a reader that takes typed values off
 * the front of the fuzz input without ever reading past it. Header-only: each target is one executable.
 */
#ifndef KVE_TESTS_FUZZ_FUZZ_H
#define KVE_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Checks an invariant of the code under test: on failure prints the message and aborts (a crash for libFuzzer). */
#define FUZZ_CHECK(cond, ...)                                                                                                      \
    do {                                                                                                                           \
        if (!(cond)) {                                                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s: ", __FILE__, __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                                                                          \
            fputc('\n', stderr);                                                                                                   \
            abort();                                                                                                               \
        }                                                                                                                          \
    } while (0)

/**
 * Whether the temporary exclusions of known bugs (marked "TEMPORARY EXCLUSION" in the targets) apply:
 * KVE_FUZZ_NO_EXCLUSIONS=1 in the environment turns them off, to check a fix before an exclusion is removed.
 */
static inline int fuzz_exclusions_on(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("KVE_FUZZ_NO_EXCLUSIONS") == NULL;
    return on;
}

/** The fuzz input as a stream of values; reads past the end give zeros and empty strings. */
typedef struct st_fuzz_in_t {
    const uint8_t *p, *end;
} fuzz_in_t;

static inline fuzz_in_t fuzz_in(const uint8_t *data, size_t size)
{
    return (fuzz_in_t){data, data + size};
}

static inline size_t fuzz_left(const fuzz_in_t *in)
{
    return (size_t)(in->end - in->p);
}

static inline uint8_t fuzz_u8(fuzz_in_t *in)
{
    return in->p != in->end ? *in->p++ : 0;
}

static inline uint16_t fuzz_u16(fuzz_in_t *in)
{
    uint16_t lo = fuzz_u8(in);
    return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint64_t fuzz_u64(fuzz_in_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i != 8; ++i)
        v |= (uint64_t)fuzz_u8(in) << (8 * i);
    return v;
}

/** The next `n` bytes (fewer if the input ends first: *got says how many). */
static inline const uint8_t *fuzz_bytes(fuzz_in_t *in, size_t n, size_t *got)
{
    const uint8_t *p = in->p;
    *got = n < fuzz_left(in) ? n : fuzz_left(in);
    in->p += *got;
    return p;
}

/** A copy of `n` bytes in a malloc'd block of exactly that size (so ASan sees any read past it); NULL for n == 0. */
static inline char *fuzz_exact_copy(const void *p, size_t n)
{
    char *copy;
    if (n == 0)
        return NULL;
    if ((copy = malloc(n)) == NULL)
        abort();
    memcpy(copy, p, n);
    return copy;
}

/** Whether `s` (len bytes) contains the NUL-terminated `needle`. */
static inline int fuzz_contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (size_t i = 0; i + n <= len; ++i)
        if (memcmp(s + i, needle, n) == 0)
            return 1;
    return 0;
}

#endif
