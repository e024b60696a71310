/* SPDX-License-Identifier: MIT */
/* Tests for proxy/redis_limits.c: reading the normal class out of CONFIG GET client-output-buffer-limit. */
#include "test.h"
#include "proxy/redis_limits.h"

#include <string.h>

static int parse(const char *s, uint64_t *hard, uint64_t *soft)
{
    return kve_redis_parse_output_limit(s, strlen(s), hard, soft);
}

TEST(normal_class)
{
    uint64_t hard = 1, soft = 1;
    CHECK_EQ_INT(parse("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", &hard, &soft), 0);
    CHECK_EQ_UINT(hard, 0);
    CHECK_EQ_UINT(soft, 0);
    CHECK_EQ_INT(parse("replica 268435456 67108864 60 normal 268435456 0 0 pubsub 33554432 8388608 60", &hard, &soft), 0);
    CHECK_EQ_UINT(hard, 268435456);
    CHECK_EQ_UINT(soft, 0);
    CHECK_EQ_INT(parse("  normal   1024 2048  30", &hard, &soft), 0);
    CHECK_EQ_UINT(hard, 1024);
    CHECK_EQ_UINT(soft, 2048);
}

TEST(malformed_values)
{
    uint64_t hard, soft;
    CHECK_EQ_INT(parse("", &hard, &soft), -1);
    CHECK_EQ_INT(parse("slave 1 2 3 pubsub 1 2 3", &hard, &soft), -1);
    CHECK_EQ_INT(parse("normal 1 2", &hard, &soft), -1);
    CHECK_EQ_INT(parse("normal 1mb 0 0", &hard, &soft), -1);
    CHECK_EQ_INT(parse("normal -1 0 0", &hard, &soft), -1);
    CHECK_EQ_INT(parse("normal 99999999999999999999 0 0", &hard, &soft), -1);
    CHECK_EQ_INT(parse("normalx 1 2 3", &hard, &soft), -1);
}

void kve_suite_redis_limits(void)
{
    RUN(normal_class);
    RUN(malformed_values);
}
