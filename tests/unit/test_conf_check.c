/* SPDX-License-Identifier: MIT */
/*
 * Tests for the pieces of `kvedge -t` (issue 11) that work without a file: the rule that finds easily guessed tokens
 * (conf/token_strength.c) and the resolution of relative paths against the config file's folder (conf/file_paths.c).
 * The checks as kvedge runs them have golden outputs in tests/golden/check (tests/integration/ops_check.test.mjs).
 */
#include "test.h"
#include "conf/conf.h"
#include "conf/config_internal.h"

#include <stdlib.h>

TEST(weak_tokens)
{
    static const char *const weak[] = {
        "short",                    /* shorter than 16 bytes */
        "aaaaaaaaaaaaaaaaaaaaaaaa", /* one character */
        "abababababababababababab", /* two characters */
        "12312312312312312312",     /* few characters, all digits */
        "31415926535897932384",     /* all digits */
        "kvedge-quickstart-token",  /* the quickstart's */
        "kvedge-quickstart-read-only",
        "changeme-changeme-changeme",
        "Password1234-Password1234",
        "my_secret_token_2024",
        "ADMIN.TOKEN.SECRET.KEY",
    };
    static const char *const strong[] = {
        "Zq7vX2mK9pLw4RtY8nBc3HsJ",                                         /* random letters and digits */
        "0123456789abcdef",                                                 /* 16 different characters */
        "rw-token-0123456789abcdef",                                        /* (the test suites' tokens) */
        "drain-token-0123456789",                                           /* a long number is not a short one */
        "session-suite-rest-store-token-0123456789",                        /* */
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", /* openssl rand -hex 32 */
        "correct-horse-battery-staple",                                     /* words, but not common ones */
    };
    for (size_t i = 0; i != sizeof(weak) / sizeof(weak[0]); ++i) {
        if (kve_config__weak_token(weak[i]) == NULL)
            CHECK_FAIL_("%s should be weak", weak[i]);
    }
    for (size_t i = 0; i != sizeof(strong) / sizeof(strong[0]); ++i) {
        const char *why = kve_config__weak_token(strong[i]);
        if (why != NULL)
            CHECK_FAIL_("%s should not be weak (%s)", strong[i], why);
    }
    CHECK_EQ_STR(kve_config__weak_token("short"), "it is shorter than 16 bytes");
    CHECK_EQ_STR(kve_config__weak_token("xxxxxxxxxxxxxxxxxxxx"), "it is one character repeated");
    CHECK_EQ_STR(kve_config__weak_token("48151623424815162342"), "it is all digits");
    CHECK_EQ_STR(kve_config__weak_token("kvedge-quickstart-token"), "it is made of common words");
}

static void check_resolved(const char *config, const char *path, const char *expected)
{
    char *got = kve_conf_resolve_path(config, path);
    CHECK_EQ_STR(got, expected);
    free(got);
}

TEST(resolve_path)
{
    check_resolved("/etc/kvedge/kvedge.yaml", "tls/cert.pem", "/etc/kvedge/tls/cert.pem");
    check_resolved("/etc/kvedge/kvedge.yaml", "./kvedge-data", "/etc/kvedge/./kvedge-data");
    check_resolved("/etc/kvedge/kvedge.yaml", "../shared/ca.pem", "/etc/kvedge/../shared/ca.pem");
    check_resolved("examples/quickstart.yaml", "./kvedge-data", "examples/./kvedge-data");
    check_resolved("/kvedge.yaml", "data", "/data");
    /* kept: absolute paths, "-" (stderr/stdout), "" (off), and any path of a config in the working directory */
    check_resolved("/etc/kvedge/kvedge.yaml", "/var/lib/kvedge", "/var/lib/kvedge");
    check_resolved("/etc/kvedge/kvedge.yaml", "-", "-");
    check_resolved("/etc/kvedge/kvedge.yaml", "", "");
    check_resolved("kvedge.yaml", "certs/cert.pem", "certs/cert.pem");
    check_resolved(NULL, "certs/cert.pem", "certs/cert.pem");
}

void kve_suite_conf_check(void)
{
    RUN(weak_tokens);
    RUN(resolve_path);
}
