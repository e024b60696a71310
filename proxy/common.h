/* SPDX-License-Identifier: MIT */
/*
 * Small always-on invariants and allocation helpers shared by every module (Varnish vas.h / miniobj.h,
 * h2o_mem_alloc). Asserts never depend on NDEBUG: a broken invariant in a server is a crash with a
 * message, not silent corruption. Allocation failure aborts, so small allocations need no NULL check;
 * sizes that come from outside are checked against configured limits by the caller instead.
 */
#ifndef KVE_PROXY_COMMON_H
#define KVE_PROXY_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KVE_STRLIT(s) (s), (sizeof(s) - 1)
#define KVE_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KVE_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KVE_MAX(a, b) ((a) > (b) ? (a) : (b))

/** Logs "file:line: assertion failed: expr" (error log, module "assert", level error) and aborts. */
__attribute__((noreturn)) void kve__assert_fail(const char *file, int line, const char *expr);

/** Always-on assertion (style.md §4). */
#define KVE_ASSERT(e)                                                                                                              \
    do {                                                                                                                           \
        if (__builtin_expect(!(e), 0))                                                                                             \
            kve__assert_fail(__FILE__, __LINE__, #e);                                                                              \
    } while (0)

/** Checks the magic of a struct that travelled through a `void *`; the struct's first member is `uint32_t magic`. */
#define KVE_CHECK_OBJ(p, m)                                                                                                        \
    do {                                                                                                                           \
        KVE_ASSERT((p) != NULL);                                                                                                   \
        KVE_ASSERT((p)->magic == (m));                                                                                             \
    } while (0)

/** malloc that aborts on failure. */
void *kve_malloc(size_t sz);
/** calloc of one zeroed object that aborts on failure. */
void *kve_zalloc(size_t sz);
/** realloc that aborts on failure. */
void *kve_realloc(void *p, size_t sz);
/** strdup that aborts on failure; NULL in gives NULL out. */
char *kve_strdup(const char *s);
/** Copies `len` bytes and adds a NUL; aborts on failure. */
char *kve_strndup(const char *s, size_t len);

/** Constant-time comparison of two byte strings (lengths are not secret). Returns 1 when equal. */
int kve_secure_equal(const void *a, size_t alen, const void *b, size_t blen);

/** A growable, NULL-terminated list of malloc'd strings (zero-initialise it; v is NULL while empty). */
typedef struct st_kve_strv_t {
    char **v;
    size_t n;
} kve_strv_t;

/** Appends a copy of `s` (keeps the list NULL-terminated). */
void kve_strv_push(kve_strv_t *strv, const char *s);
/** Frees every string and the array, and zeroes `strv`. */
void kve_strv_dispose(kve_strv_t *strv);

/** The value of hex digit `c` (either case), or -1. */
int kve_hex_digit(char c);

/** Monotonic clock in milliseconds. */
uint64_t kve_now_ms(void);

#endif
