/* SPDX-License-Identifier: MIT */
/*
 * Acceptance tests of the research note's §7 that are properties of pure functions (issue 10): S14, the quality of
 * the handles (100 000 new handles all of the shape and unique; the bytes of their secrets and of the random tags of
 * anonymous handles uniform by a chi-squared test at the 99.9 % bound; no secret bit stuck), and S16's start-up side,
 * the libjwt floor (handlers/jwt_floor.h), with the symbol lookup replaced.
 */
#include "test.h"
#include "handlers/jwt_floor.h"
#include "handlers/session_cookie.h"

#include <stdint.h>
#include <stdlib.h>

#define HANDLES 100000
/* the 99.9 % quantile of the chi-squared distribution with 255 degrees of freedom */
#define CHI2_255_999 330.52

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* decodes `chars` base64url characters (no padding) into `out`; -1 on a character outside the alphabet or on
 * non-zero trailing bits (a non-canonical spelling) */
static int b64url_decode(uint8_t *out, size_t outlen, const char *s, size_t chars)
{
    uint32_t acc = 0;
    size_t bits = 0, n = 0, i;
    for (i = 0; i != chars; ++i) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == outlen)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n == outlen && (acc & ((1u << bits) - 1)) == 0 ? 0 : -1;
}

static double chi2(const uint64_t counts[256], uint64_t total)
{
    double expected = (double)total / 256, x = 0;
    for (size_t i = 0; i != 256; ++i)
        x += ((double)counts[i] - expected) * ((double)counts[i] - expected) / expected;
    return x;
}

static int cmp_handle(const void *a, const void *b)
{
    return memcmp(a, b, KVE_SESSION_HANDLE_LEN);
}

TEST(s14_handles_unique_and_uniform)
{
    typedef char handle_t[KVE_SESSION_HANDLE_LEN + 1];
    handle_t *handles = malloc(sizeof(handle_t) * HANDLES);
    static uint64_t secret_bytes[256], tag_bytes[256], bit_ones[KVE_SESSION_SECRET_BYTES * 8];
    size_t i, j, bad_shape = 0, bad_decode = 0, dups = 0;

    CHECK_NOT_NULL(handles);
    if (handles == NULL)
        return;
    for (i = 0; i != HANDLES; ++i) {
        uint8_t secret[KVE_SESSION_SECRET_BYTES], tag[KVE_SESSION_TAG_BYTES];
        kve_session_new_handle(handles[i], NULL);
        if (strlen(handles[i]) != KVE_SESSION_HANDLE_LEN || !kve_session_handle_shape(handles[i], KVE_SESSION_HANDLE_LEN))
            ++bad_shape;
        if (b64url_decode(tag, sizeof(tag), handles[i], KVE_SESSION_TAG_CHARS) != 0 ||
            b64url_decode(secret, sizeof(secret), handles[i] + KVE_SESSION_TAG_CHARS, KVE_SESSION_SECRET_CHARS) != 0) {
            ++bad_decode;
            continue;
        }
        for (j = 0; j != sizeof(secret); ++j) {
            ++secret_bytes[secret[j]];
            for (size_t b = 0; b != 8; ++b)
                bit_ones[j * 8 + b] += (secret[j] >> b) & 1;
        }
        for (j = 0; j != sizeof(tag); ++j)
            ++tag_bytes[tag[j]];
    }
    CHECK_EQ_UINT(bad_shape, 0);
    CHECK_EQ_UINT(bad_decode, 0); /* canonical base64url of 8 + 32 bytes */
    qsort(handles, HANDLES, sizeof(handle_t), cmp_handle);
    for (i = 1; i != HANDLES; ++i)
        dups += memcmp(handles[i - 1], handles[i], KVE_SESSION_HANDLE_LEN) == 0;
    CHECK_EQ_UINT(dups, 0);
    free(handles);

    double xs = chi2(secret_bytes, (uint64_t)HANDLES * KVE_SESSION_SECRET_BYTES);
    double xt = chi2(tag_bytes, (uint64_t)HANDLES * KVE_SESSION_TAG_BYTES);
    fprintf(stderr, "    S14: chi2 of %d secret bytes %.1f, of %d tag bytes %.1f (255 df, 99.9 %% bound %.2f)\n",
            HANDLES * KVE_SESSION_SECRET_BYTES, xs, HANDLES * KVE_SESSION_TAG_BYTES, xt, CHI2_255_999);
    CHECK(xs < CHI2_255_999);
    CHECK(xt < CHI2_255_999);
    /* every bit of the secret is set in half of the handles, within 5 standard deviations (sqrt(N)/2 = 158) */
    for (i = 0; i != KVE_SESSION_SECRET_BYTES * 8; ++i) {
        long long off = (long long)bit_ones[i] - HANDLES / 2;
        if (off < -790 || off > 790)
            CHECK_FAIL_("secret bit %zu set %llu times in %d handles", i, (unsigned long long)bit_ones[i], HANDLES);
    }
}

static void *lookup_none(const char *name)
{
    (void)name;
    return NULL;
}

static const char *looked_up;
static void *lookup_found(const char *name)
{
    looked_up = name;
    return (void *)&looked_up;
}

TEST(s16_libjwt_floor)
{
    char buf[512] = "";
    FILE *err = fmemopen(buf, sizeof(buf) - 1, "w");
    CHECK_NOT_NULL(err);
    /* the real process: Debian 12's libjwt0 1.10.2-1+deb12u1 exports jwt_strcmp (scripts/check-libjwt.sh pins it) */
    CHECK_EQ_INT(kve_jwt_floor_check(NULL, err), 0);
    CHECK_EQ_INT(kve_jwt_floor_check(lookup_found, err), 0);
    CHECK_EQ_STR(looked_up, "jwt_strcmp");
    fflush(err);
    CHECK_EQ_STR(buf, "");
    /* an older libjwt: refused, with a line naming the package version needed */
    CHECK_EQ_INT(kve_jwt_floor_check(lookup_none, err), -1);
    fclose(err);
    CHECK(strstr(buf, "CVE-2024-25189") != NULL);
    CHECK(strstr(buf, "libjwt0 1.10.2-1+deb12u1 or later") != NULL);
    CHECK_EQ_INT(kve_jwt_floor_check(lookup_none, NULL), -1);
}

void kve_suite_session_suite(void)
{
    RUN(s14_handles_unique_and_uniform);
    RUN(s16_libjwt_floor);
}
