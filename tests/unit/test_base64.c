/* SPDX-License-Identifier: MIT */
/* Tests for proxy/base64.c: RFC 4648 vectors, every length and byte value both ways, strict decoding. */
#include "test.h"
#include "proxy/base64.h"
#include "proxy/common.h"

TEST(rfc4648_vectors)
{
    static const struct {
        const char *in, *out;
    } cases[] = {{"", ""},
                 {"f", "Zg=="},
                 {"fo", "Zm8="},
                 {"foo", "Zm9v"},
                 {"foob", "Zm9vYg=="},
                 {"fooba", "Zm9vYmE="},
                 {"foobar", "Zm9vYmFy"},
                 {"\xfb\xff", "+/8="}};
    char enc[16], dec[16];
    size_t n;

    for (size_t i = 0; i != KVE_ARRAY_SIZE(cases); ++i) {
        size_t len = strlen(cases[i].in);
        CHECK_EQ_UINT(KVE_BASE64_ENCODED_LEN(len), strlen(cases[i].out));
        n = kve_base64_encode(enc, cases[i].in, len);
        CHECK_EQ_MEM(enc, n, cases[i].out, strlen(cases[i].out));
        CHECK_EQ_INT(kve_base64_decode(dec, cases[i].out, strlen(cases[i].out), &n), 0);
        CHECK_EQ_MEM(dec, n, cases[i].in, len);
    }
}

/* every length up to 258 over bytes of every value, encoded and decoded back */
TEST(round_trip)
{
    unsigned char in[258], out[258];
    char enc[KVE_BASE64_ENCODED_LEN(sizeof(in))];

    for (size_t i = 0; i != sizeof(in); ++i)
        in[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(in); ++len) {
        size_t n = kve_base64_encode(enc, in, len), got = 12345;
        CHECK_EQ_UINT(n, KVE_BASE64_ENCODED_LEN(len));
        CHECK_EQ_INT(kve_base64_decode(out, enc, n, &got), 0);
        CHECK_EQ_MEM(out, got, in, len);
    }
}

/* only canonical base64 decodes: a driver must not accept what another decoder would read differently */
TEST(strict_decoding)
{
    static const char *const bad[] = {
        "Zg=",          /* length not a multiple of 4 */
        "Zg",           /* no padding */
        "Zg=a",         /* padding before a digit */
        "Z===",         /* three padding characters */
        "====",         /* nothing but padding */
        "=AAA",         /* padding first */
        "AA=A",         /* padding inside */
        "Zh==",         /* bits after the last byte ("Zg==" is canonical) */
        "Zm9=",         /* likewise ("Zm8=") */
        "Zm9v\n",       /* whitespace */
        "Zm 9v",        /* whitespace */
        "Zm9v_-==",     /* base64url digits */
        "Zm9vYg==Zm9v", /* padding in the middle of the input */
    };
    char out[16];
    size_t n = 99;

    for (size_t i = 0; i != KVE_ARRAY_SIZE(bad); ++i) {
        if (kve_base64_decode(out, bad[i], strlen(bad[i]), &n) != -1)
            fprintf(stderr, "    accepted \"%s\"\n", bad[i]);
        CHECK_EQ_INT(kve_base64_decode(out, bad[i], strlen(bad[i]), &n), -1);
    }
    CHECK_EQ_UINT(n, 99); /* not set on failure */
    CHECK_EQ_INT(kve_base64_decode(out, "", 0, &n), 0);
    CHECK_EQ_UINT(n, 0);
}

void kve_suite_base64(void)
{
    RUN(rfc4648_vectors);
    RUN(round_trip);
    RUN(strict_decoding);
}
