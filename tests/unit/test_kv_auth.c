/* SPDX-License-Identifier: MIT */
/* Tests for KV REST tokens and JWTs (handlers/kv_auth.c), including the libjwt 1.10.2 traps. */
#include "test.h"
#include "handlers/kv_auth.h"
#include "proxy/common.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char key[] = "0123456789abcdef0123456789abcdef-unit";
#define DAY 86400

TEST(static_tokens)
{
    kve_rest_token_conf_t tokens[] = {{"rw-token-aaaaaaaaaaaa", 0, "app"}, {"ro-token-bbbbbbbbbbbb", 1, NULL}};
    kve_rest_auth_t *a = kve_rest_auth_new(tokens, 2, NULL, DAY);
    char who[160];
    CHECK_EQ_INT(kve_rest_auth_check(a, KVE_STRLIT("rw-token-aaaaaaaaaaaa"), 0, who, sizeof(who)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_STR(who, "token app");
    CHECK_EQ_INT(kve_rest_auth_check(a, KVE_STRLIT("ro-token-bbbbbbbbbbbb"), 0, who, sizeof(who)), KVE_ACCESS_READ_ONLY);
    CHECK_EQ_STR(who, "token #2");
    CHECK_EQ_INT(kve_rest_auth_check(a, KVE_STRLIT("rw-token-aaaaaaaaaaab"), 0, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "unknown token");
    CHECK_EQ_INT(kve_rest_auth_check(a, KVE_STRLIT("rw-token-aaaaaaaaaaa"), 0, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "unknown token");
    CHECK_EQ_INT(kve_rest_auth_check(a, KVE_STRLIT("a.b.c"), 0, who, sizeof(who)), KVE_ACCESS_NONE); /* no JWT key */
    CHECK_EQ_STR(who, "unknown token");
    CHECK_EQ_INT(kve_rest_auth_check(a, "", 0, 0, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "empty token");
    kve_rest_auth_free(a);
}

TEST(jwt_roundtrip)
{
    char err[128];
    time_t now = 1800000000;
    char *rw = kve_rest_jwt_mint(key, KVE_ACCESS_READ_WRITE, 60, "ci", now, err, sizeof(err));
    char *ro = kve_rest_jwt_mint(key, KVE_ACCESS_READ_ONLY, 60, NULL, now, err, sizeof(err));
    kve_rest_auth_t *a = kve_rest_auth_new(NULL, 0, key, DAY);
    char who[160];

    CHECK_NOT_NULL(rw);
    CHECK_NOT_NULL(ro);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, rw, strlen(rw), now, DAY, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, ro, strlen(ro), now + 30, DAY, err, sizeof(err)), KVE_ACCESS_READ_ONLY);
    CHECK_EQ_INT(kve_rest_auth_check(a, rw, strlen(rw), now, who, sizeof(who)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_STR(who, "jwt");
    CHECK_EQ_INT(kve_rest_auth_check(a, rw, strlen(rw), now + 66, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "jwt refused: expired");
    CHECK_EQ_INT(kve_rest_auth_check(a, KVE_STRLIT("a.b.c!!"), now, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "jwt refused: not a well-formed JWT");
    /* expired (beyond the 5 s skew) */
    CHECK_EQ_INT(kve_rest_jwt_verify(key, rw, strlen(rw), now + 66, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "expired");
    /* another key */
    CHECK_EQ_INT(kve_rest_jwt_verify("another-key-0123456789abcdef0123456789", rw, strlen(rw), now, DAY, err, sizeof(err)),
                 KVE_ACCESS_NONE);
    /* a changed signature, and junk libb64 would skip */
    rw[strlen(rw) - 2] = rw[strlen(rw) - 2] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(kve_rest_jwt_verify(key, rw, strlen(rw), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, KVE_STRLIT("a.b.c!!"), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "not a well-formed JWT");
    free(rw);
    free(ro);
    kve_rest_auth_free(a);
}

static void b64url(const unsigned char *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        --n;
    out[n] = '\0';
    for (char *p = out; *p; ++p)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* a token built by hand: header, claims, HMAC-SHA256 (or none) with `k` */
static void forge(char *out, const char *header, const char *claims, const char *k, int sign)
{
    char h[256], c[512], sig[128];
    unsigned char mac[32];
    unsigned int maclen = 0;
    b64url((const unsigned char *)header, strlen(header), h);
    b64url((const unsigned char *)claims, strlen(claims), c);
    sprintf(out, "%s.%s", h, c);
    if (sign) {
        HMAC(EVP_sha256(), k, (int)strlen(k), (unsigned char *)out, strlen(out), mac, &maclen);
        b64url(mac, maclen, sig);
        strcat(out, ".");
        strcat(out, sig);
    } else {
        strcat(out, ".");
    }
}

TEST(jwt_traps)
{
    char tok[1024], err[128];
    time_t now = 1800000000;
    const char *good = "{\"aud\":\"kvedge:kv\",\"access\":\"rw\",\"exp\":1800000100}";

    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good, key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    forge(tok, "{\"alg\":\"none\",\"typ\":\"JWT\"}", good, key, 0); /* unsigned */
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    forge(tok, "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", good, key, 1); /* libjwt 1.10.2 accepts a lowercase alg */
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"aud\":\"kvedge:kv\",\"access\":\"rw\",\"exp\":\"9999999999\"}", key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE); /* exp as a string */
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"aud\":\"kvedge:session\",\"access\":\"rw\",\"exp\":1800000100}", key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE); /* another audience */
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"aud\":\"kvedge:kv\",\"access\":\"admin\",\"exp\":1800000100}", key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good, key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify("", tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE); /* empty key: no check */
    CHECK_EQ_INT(kve_rest_jwt_verify("short", tok, strlen(tok), now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
}

static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* verifies a token signed with `key` whose claims are `aud`, `access` and then `times` (",\"exp\":..."), at `now` */
static int verify_times(const char *times, time_t now, uint64_t max_ttl, char *err, size_t errlen)
{
    char tok[1024], claims[512];
    snprintf(claims, sizeof(claims), "{\"aud\":\"kvedge:kv\",\"access\":\"rw\"%s}", times);
    forge(tok, hs256, claims, key, 1);
    return kve_rest_jwt_verify(key, tok, strlen(tok), now, max_ttl, err, errlen);
}

/* issue 12.1: `exp + skew` overflowed (signed, UBSan abort) for exp = 2^63-1; every bound on exp, nbf and iat is
 * checked without overflow at the int64 extremes, and a token that "never expires" is refused */
TEST(jwt_claims_at_int64_extremes)
{
    char err[128];
    time_t now = 1800000000;

    CHECK_EQ_INT(verify_times(",\"exp\":9223372036854775807", now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "exp is further ahead than kv.jwt_max_ttl");
    CHECK_EQ_INT(verify_times(",\"exp\":-9223372036854775808", now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "expired");
    CHECK_EQ_INT(verify_times(",\"exp\":1800000060,\"nbf\":9223372036854775807", now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "not valid yet (nbf)");
    CHECK_EQ_INT(verify_times(",\"exp\":1800000060,\"nbf\":-9223372036854775808", now, DAY, err, sizeof(err)),
                 KVE_ACCESS_READ_WRITE);
    CHECK_EQ_INT(verify_times(",\"exp\":1800000060,\"iat\":9223372036854775807", now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "issued in the future (iat)");
    CHECK_EQ_INT(verify_times(",\"exp\":1800000060,\"iat\":-9223372036854775808", now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "lifetime (exp - iat) longer than kv.jwt_max_ttl");
    CHECK_EQ_INT(verify_times(",\"exp\":1800000060,\"nbf\":\"0\"", now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "nbf or iat is not an integer");
    /* `now` itself at the extremes (the caller's clock): no overflow either */
    CHECK_EQ_INT(verify_times(",\"exp\":9223372036854775807", INT64_MAX, DAY, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_INT(verify_times(",\"exp\":-9223372036854775798", INT64_MIN, DAY, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_INT(verify_times(",\"exp\":9223372036854775807", INT64_MIN, UINT64_MAX, err, sizeof(err)), KVE_ACCESS_NONE);
    /* an integer beyond int64 is not an integer to jansson: the claims do not parse */
    CHECK_EQ_INT(verify_times(",\"exp\":9223372036854775808", now, DAY, err, sizeof(err)), KVE_ACCESS_NONE);
}

/* issue 15.3: a JWT is accepted only while exp is at most max_ttl (+ skew) ahead, and exp - iat at most max_ttl */
TEST(jwt_max_ttl)
{
    char err[128], who[160];
    time_t now = 1800000000;
    char *hour = kve_rest_jwt_mint(key, KVE_ACCESS_READ_WRITE, 3600, NULL, now, err, sizeof(err));
    kve_rest_auth_t *a = kve_rest_auth_new(NULL, 0, key, 1800);

    CHECK_NOT_NULL(hour);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, hour, strlen(hour), now, 3600, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, hour, strlen(hour), now, 1800, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "exp is further ahead than kv.jwt_max_ttl");
    /* still refused when its remaining life fits the cap: it was minted for longer (exp - iat) */
    CHECK_EQ_INT(kve_rest_jwt_verify(key, hour, strlen(hour), now + 3000, 1800, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "lifetime (exp - iat) longer than kv.jwt_max_ttl");
    CHECK_EQ_INT(kve_rest_auth_check(a, hour, strlen(hour), now, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "jwt refused: exp is further ahead than kv.jwt_max_ttl");
    /* without iat: the remaining life counts, with the skew */
    CHECK_EQ_INT(verify_times(",\"exp\":1800001805", now, 1800, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_INT(verify_times(",\"exp\":1800001806", now, 1800, err, sizeof(err)), KVE_ACCESS_NONE);
    /* the cap itself is bounded by KVE_JWT_TTL_LIMIT */
    CHECK_EQ_INT(verify_times(",\"exp\":1900000000", now, UINT64_MAX, err, sizeof(err)), KVE_ACCESS_NONE);
    /* minting: 1 s up to the limit */
    CHECK_NULL(kve_rest_jwt_mint(key, KVE_ACCESS_READ_WRITE, 0, NULL, now, err, sizeof(err)));
    CHECK_EQ_STR(err, "the token lifetime must be from 1s to 366d");
    CHECK_NULL(kve_rest_jwt_mint(key, KVE_ACCESS_READ_WRITE, UINT64_MAX, NULL, now, err, sizeof(err)));
    CHECK_EQ_STR(err, "the token lifetime must be from 1s to 366d");
    free(hour);
    kve_rest_auth_free(a);
}

TEST(mint_refuses_short_keys)
{
    char err[128];
    CHECK_NULL(kve_rest_jwt_mint("short-key", KVE_ACCESS_READ_WRITE, 60, NULL, 0, err, sizeof(err)));
    CHECK_EQ_STR(err, "the JWT key (kv.jwt_key) must be at least 32 bytes");
}

void kve_suite_kv_auth(void)
{
    RUN(static_tokens);
    RUN(jwt_roundtrip);
    RUN(jwt_traps);
    RUN(jwt_claims_at_int64_extremes);
    RUN(jwt_max_ttl);
    RUN(mint_refuses_short_keys);
}
