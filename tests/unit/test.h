/* SPDX-License-Identifier: MIT */
/*
 * A tiny unit-test runner (libuv's typed ASSERT_EQ, picotest's counting). A test is
 * `TEST(name) { CHECK_EQ_INT(1 + 1, 2); }`; a suite is a function that runs its tests and is listed in
 * tests.def. Failed checks print both sides and the location and mark the test failed; the run ends with
 * "N passed, N failed" and a non-zero exit status if anything failed.
 */
#ifndef KVE_TESTS_UNIT_TEST_H
#define KVE_TESTS_UNIT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern int kve_test_failed_checks;
void kve_test_run(const char *name, void (*fn)(void));

#define TEST(name) static void test_##name(void)
#define RUN(name) kve_test_run(#name, test_##name)

#define CHECK_FAIL_(fmt, ...)                                                                                                      \
    do {                                                                                                                           \
        fprintf(stderr, "    %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);                                                  \
        ++kve_test_failed_checks;                                                                                                  \
    } while (0)

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            CHECK_FAIL_("CHECK(%s) failed", #cond);                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                                         \
    do {                                                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                                        \
        if (a_ != b_)                                                                                                              \
            CHECK_FAIL_("%s == %s failed: %lld != %lld", #a, #b, a_, b_);                                                          \
    } while (0)

#define CHECK_EQ_UINT(a, b)                                                                                                        \
    do {                                                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);                                             \
        if (a_ != b_)                                                                                                              \
            CHECK_FAIL_("%s == %s failed: %llu != %llu", #a, #b, a_, b_);                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                                         \
    do {                                                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                                                           \
        if (a_ == NULL || b_ == NULL ? a_ != b_ : strcmp(a_, b_) != 0)                                                             \
            CHECK_FAIL_("%s == %s failed:\n      \"%s\"\n   != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
    } while (0)

#define CHECK_EQ_MEM(a, alen, b, blen)                                                                                             \
    do {                                                                                                                           \
        size_t al_ = (alen), bl_ = (blen);                                                                                         \
        if (al_ != bl_ || memcmp((a), (b), al_) != 0)                                                                              \
            CHECK_FAIL_("%s == %s failed: \"%.*s\" != \"%.*s\"", #a, #b, (int)al_, (const char *)(a), (int)bl_,                    \
                        (const char *)(b));                                                                                        \
    } while (0)

#define CHECK_NOT_NULL(p) CHECK((p) != NULL)
#define CHECK_NULL(p) CHECK((p) == NULL)

/* declare every suite */
#define KVE_SUITE(name) void kve_suite_##name(void);
#include "tests.def"
#undef KVE_SUITE

#endif
