/* SPDX-License-Identifier: MIT */
/*
 * Table tests for conf/value.c: every parser with its edge cases (overflow, fractions, signs, whitespace,
 * empty input, unit spelling) and ${ENV} expansion with set, unset and empty variables.
 */
#include "test.h"
#include "conf/value.h"

#include <stdlib.h>

/* the expected value of an input the parser must reject */
#define REJECT UINT64_MAX

TEST(int_parse)
{
    static const struct {
        const char *in;
        int ok;
        int64_t out;
    } cases[] = {
        {"0", 1, 0},
        {"42", 1, 42},
        {"-7", 1, -7},
        {"+7", 1, 7},
        {"007", 1, 7},
        {"9223372036854775807", 1, INT64_MAX},
        {"-9223372036854775808", 1, INT64_MIN},
        {"9223372036854775808", 0, 0},
        {"-9223372036854775809", 0, 0},
        {"99999999999999999999", 0, 0},
        {"", 0, 0},
        {"-", 0, 0},
        {"+", 0, 0},
        {" 5", 0, 0},
        {"5 ", 0, 0},
        {"5x", 0, 0},
        {"0x10", 0, 0},
        {"1.0", 0, 0},
        {"1_000", 0, 0},
        {"--1", 0, 0},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        int64_t v = 12345;
        int ret = kve_value_int(cases[i].in, &v);
        if (cases[i].ok) {
            CHECK_EQ_INT(ret, 0);
            CHECK_EQ_INT(v, cases[i].out);
        } else {
            if (ret != -1)
                fprintf(stderr, "    accepted \"%s\"\n", cases[i].in);
            CHECK_EQ_INT(ret, -1);
        }
    }
}

TEST(bool_parse)
{
    static const struct {
        const char *in;
        int out; /* -1: rejected */
    } cases[] = {
        {"true", 1}, {"TRUE", 1},   {"True", 1},   {"yes", 1},    {"on", 1},   {"ON", 1},    {"false", 0},
        {"no", 0},   {"off", 0},    {"Off", 0},    {"1", -1},     {"0", -1},   {"", -1},     {"y", -1},
        {"n", -1},   {" true", -1}, {"true ", -1}, {"maybe", -1}, {"tru", -1}, {"yess", -1},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        int v = 7;
        int ret = kve_value_bool(cases[i].in, &v);
        CHECK_EQ_INT(ret, cases[i].out < 0 ? -1 : 0);
        if (cases[i].out >= 0)
            CHECK_EQ_INT(v, cases[i].out);
    }
}

TEST(duration_parse)
{
    static const struct {
        const char *in;
        uint64_t ms; /* REJECT: rejected */
    } cases[] = {
        {"250ms", 250},
        {"0ms", 0},
        {"0s", 0},
        {"30s", 30000},
        {"5m", 300000},
        {"2h", 7200000},
        {"1d", 86400000},
        {"1.5s", 1500},
        {"0.5ms", 1}, /* rounds half up */
        {"0.4ms", 0}, /* rounds to nearest */
        {"1.0005s", 1001},
        {"0.25m", 15000},
        {"1.5d", 129600000},
        {"0.001s", 1},
        {"0.0001s", 0},
        {"1.123456789012345678901234s", 1123},
        {"9223372036854775807ms", INT64_MAX},
        {"9223372036854775808ms", REJECT},
        {"106751991168d", REJECT}, /* 106751991167d is the most that fits */
        {"106751991167d", 106751991167ULL * 86400000},
        {"99999999999999999999s", REJECT},
        {"0", REJECT},
        {"30", REJECT},
        {"", REJECT},
        {"s", REJECT},
        {"-1s", REJECT},
        {"+1s", REJECT},
        {" 5s", REJECT},
        {"5s ", REJECT},
        {"5 s", REJECT},
        {"5S", REJECT},
        {"5sec", REJECT},
        {"5us", REJECT},
        {"1.s", REJECT},
        {".5s", REJECT},
        {"1..5s", REJECT},
        {"1h30m", REJECT},
        {"banana", REJECT},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        uint64_t v = 12345;
        int ret = kve_value_duration(cases[i].in, &v);
        if (cases[i].ms == REJECT) {
            if (ret != -1)
                fprintf(stderr, "    accepted \"%s\"\n", cases[i].in);
            CHECK_EQ_INT(ret, -1);
        } else {
            if (ret != 0)
                fprintf(stderr, "    rejected \"%s\"\n", cases[i].in);
            CHECK_EQ_INT(ret, 0);
            CHECK_EQ_UINT(v, cases[i].ms);
        }
    }
}

TEST(size_parse)
{
    static const struct {
        const char *in;
        uint64_t bytes; /* REJECT: rejected */
    } cases[] = {
        {"0", 0},
        {"512", 512},
        {"512b", 512},
        {"512B", 512},
        {"64KiB", 65536},
        {"64kib", 65536},
        {"64k", 65536},
        {"64K", 65536},
        {"10MiB", 10485760},
        {"10m", 10485760},
        {"1GiB", 1073741824},
        {"1g", 1073741824},
        {"1TiB", 1099511627776ULL},
        {"1t", 1099511627776ULL},
        {"10KB", 10000},
        {"10kb", 10000},
        {"10MB", 10000000},
        {"1GB", 1000000000},
        {"1TB", 1000000000000ULL},
        {"1.5MiB", 1572864},
        {"1.5KB", 1500},
        {"0.3KiB", 307}, /* 307.2 rounds down */
        {"0.0001KiB", 0},
        {"8388607TiB", 8388607ULL << 40},
        {"8388608TiB", REJECT}, /* 2^63 */
        {"9223372036854775807", INT64_MAX},
        {"9223372036854775808", REJECT},
        {"99999999999999999999", REJECT},
        {"1.5", REJECT}, /* a fraction of a byte */
        {"1.5B", REJECT},
        {"", REJECT},
        {"KiB", REJECT},
        {"-1", REJECT},
        {"-1KiB", REJECT},
        {"+1", REJECT},
        {" 5", REJECT},
        {"5 ", REJECT},
        {"5 KiB", REJECT},
        {"5KiBs", REJECT},
        {"5ki", REJECT},
        {"5PiB", REJECT},
        {"5x", REJECT},
        {"x", REJECT},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        uint64_t v = 12345;
        int ret = kve_value_size(cases[i].in, &v);
        if (cases[i].bytes == REJECT) {
            if (ret != -1)
                fprintf(stderr, "    accepted \"%s\"\n", cases[i].in);
            CHECK_EQ_INT(ret, -1);
        } else {
            if (ret != 0)
                fprintf(stderr, "    rejected \"%s\"\n", cases[i].in);
            CHECK_EQ_INT(ret, 0);
            CHECK_EQ_UINT(v, cases[i].bytes);
        }
    }
}

TEST(edit_distance)
{
    char long_a[400], long_b[10];
    CHECK_EQ_UINT(kve_value_edit_distance("", ""), 0);
    CHECK_EQ_UINT(kve_value_edit_distance("ttl", "ttl"), 0);
    CHECK_EQ_UINT(kve_value_edit_distance("tll", "ttl"), 1);
    CHECK_EQ_UINT(kve_value_edit_distance("prot", "port"), 2);
    CHECK_EQ_UINT(kve_value_edit_distance("", "abc"), 3);
    CHECK_EQ_UINT(kve_value_edit_distance("abc", ""), 3);
    CHECK_EQ_UINT(kve_value_edit_distance("kitten", "sitting"), 3);
    CHECK_EQ_UINT(kve_value_edit_distance("max_body_sise", "max_body_size"), 1);
    memset(long_a, 'a', sizeof(long_a) - 1);
    long_a[sizeof(long_a) - 1] = '\0';
    strcpy(long_b, "b");
    CHECK_EQ_UINT(kve_value_edit_distance(long_a, long_b), 255);
}

/* expands `in`; returns the result (static) or "ERR@<offset>: <message>" */
static const char *expand(const char *in)
{
    static char result[512];
    char err[256];
    size_t len = 0, offset = 0;
    char *out = kve_value_expand_env(in, strlen(in), &len, err, sizeof(err), &offset);
    if (out == NULL) {
        snprintf(result, sizeof(result), "ERR@%zu: %s", offset, err);
    } else {
        CHECK_EQ_UINT(len, strlen(out));
        snprintf(result, sizeof(result), "%s", out);
        free(out);
    }
    return result;
}

TEST(env_expand)
{
    setenv("KVE_TEST_A", "alpha", 1);
    setenv("KVE_TEST_EMPTY", "", 1);
    unsetenv("KVE_TEST_UNSET");
    CHECK_EQ_STR(expand(""), "");
    CHECK_EQ_STR(expand("plain"), "plain");
    CHECK_EQ_STR(expand("${KVE_TEST_A}"), "alpha");
    CHECK_EQ_STR(expand("x${KVE_TEST_A}y${KVE_TEST_A}z"), "xalphayalphaz");
    CHECK_EQ_STR(expand("${KVE_TEST_EMPTY}"), "");
    CHECK_EQ_STR(expand("${KVE_TEST_UNSET:-fallback}"), "fallback");
    CHECK_EQ_STR(expand("${KVE_TEST_EMPTY:-fallback}"), "fallback");
    CHECK_EQ_STR(expand("${KVE_TEST_A:-fallback}"), "alpha");
    CHECK_EQ_STR(expand("${KVE_TEST_UNSET:-}"), "");
    CHECK_EQ_STR(expand("${KVE_TEST_UNSET:-a:-b}"), "a:-b");
    CHECK_EQ_STR(expand("$$"), "$");
    CHECK_EQ_STR(expand("$${KVE_TEST_A}"), "${KVE_TEST_A}");
    CHECK_EQ_STR(expand("$$$$"), "$$");
    CHECK_EQ_STR(expand("price $5"), "price $5");
    CHECK_EQ_STR(expand("end$"), "end$");
    CHECK_EQ_STR(expand("ab${KVE_TEST_UNSET}"), "ERR@2: environment variable \"KVE_TEST_UNSET\" is not set");
    CHECK_EQ_STR(expand("x ${KVE_TEST_A"), "ERR@2: unterminated \"${\" (expected \"${NAME}\" or \"${NAME:-default}\")");
    CHECK_EQ_STR(expand("${"), "ERR@0: unterminated \"${\" (expected \"${NAME}\" or \"${NAME:-default}\")");
    CHECK_EQ_STR(expand("${}"), "ERR@0: invalid environment variable name \"\" (expected letters, digits and _)");
    CHECK_EQ_STR(expand("${1X}"), "ERR@0: invalid environment variable name \"1X\" (expected letters, digits and _)");
    CHECK_EQ_STR(expand("${A-b}"), "ERR@0: invalid environment variable name \"A-b\" (expected letters, digits and _)");
    CHECK_EQ_STR(expand("${KVE_TEST_A} ${KVE_TEST_UNSET}"), "ERR@14: environment variable \"KVE_TEST_UNSET\" is not set");
    unsetenv("KVE_TEST_A");
    unsetenv("KVE_TEST_EMPTY");
}

TEST(env_expand_embedded_nul)
{
    char err[64];
    size_t len = 0, offset = 0;
    char *out = kve_value_expand_env("a\0b", 3, &len, err, sizeof(err), &offset);
    CHECK_NOT_NULL(out);
    CHECK_EQ_MEM(out, len, "a\0b", 3);
    free(out);
}

void kve_suite_value(void)
{
    RUN(int_parse);
    RUN(bool_parse);
    RUN(duration_parse);
    RUN(size_parse);
    RUN(edit_distance);
    RUN(env_expand);
    RUN(env_expand_embedded_nul);
}
