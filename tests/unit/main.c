/* SPDX-License-Identifier: MIT */
/* Unit test runner: `kve_unit SUITE` runs one suite (ctest registers each), no argument runs all. */
#include "test.h"

#include <stdlib.h>

int kve_test_failed_checks;
static int passed, failed;

void kve_test_run(const char *name, void (*fn)(void))
{
    int before = kve_test_failed_checks;
    fn();
    if (kve_test_failed_checks == before) {
        ++passed;
        printf("  ok   %s\n", name);
    } else {
        ++failed;
        printf("  FAIL %s\n", name);
    }
}

static const struct {
    const char *name;
    void (*fn)(void);
} suites[] = {
#define KVE_SUITE(name) {#name, kve_suite_##name},
#include "tests.def"
#undef KVE_SUITE
};

int main(int argc, char **argv)
{
    size_t i;
    int ran = 0;
    for (i = 0; i != sizeof(suites) / sizeof(suites[0]); ++i) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
            continue;
        printf("suite %s\n", suites[i].name);
        suites[i].fn();
        ran = 1;
    }
    if (!ran) {
        fprintf(stderr, "no such suite: %s\n", argc > 1 ? argv[1] : "(none)");
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
