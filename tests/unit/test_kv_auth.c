/* SPDX-License-Identifier: MIT */
/* Tests for KV REST tokens and JWTs (handlers/kv_auth.c), including the libjwt 1.10.2 traps. */
#include "test.h"
#include "handlers/kv_auth.h"
#include "proxy/common.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char key[] = "0123456789abcdef0123456789abcdef-unit";

TEST(static_tokens)
{
    kve_rest_token_conf_t tokens[] = {{"rw-token-aaaaaaaaaaaa", 0, "app"}, {"ro-token-bbbbbbbbbbbb", 1, NULL}};
    kve_rest_auth_t *a = kve_rest_auth_new(tokens, 2, NULL);
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
    kve_rest_auth_t *a = kve_rest_auth_new(NULL, 0, key);
    char who[160];

    CHECK_NOT_NULL(rw);
    CHECK_NOT_NULL(ro);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, rw, strlen(rw), now, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, ro, strlen(ro), now + 30, err, sizeof(err)), KVE_ACCESS_READ_ONLY);
    CHECK_EQ_INT(kve_rest_auth_check(a, rw, strlen(rw), now, who, sizeof(who)), KVE_ACCESS_READ_WRITE);
    CHECK_EQ_STR(who, "jwt");
    CHECK_EQ_INT(kve_rest_auth_check(a, rw, strlen(rw), now + 66, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "jwt refused: expired");
    CHECK_EQ_INT(kve_rest_auth_check(a, KVE_STRLIT("a.b.c!!"), now, who, sizeof(who)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(who, "jwt refused: not a well-formed JWT");
    /* expired (beyond the 5 s skew) */
    CHECK_EQ_INT(kve_rest_jwt_verify(key, rw, strlen(rw), now + 66, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_STR(err, "expired");
    /* another key */
    CHECK_EQ_INT(kve_rest_jwt_verify("another-key-0123456789abcdef0123456789", rw, strlen(rw), now, err, sizeof(err)),
                 KVE_ACCESS_NONE);
    /* a changed signature, and junk libb64 would skip */
    rw[strlen(rw) - 2] = rw[strlen(rw) - 2] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(kve_rest_jwt_verify(key, rw, strlen(rw), now, err, sizeof(err)), KVE_ACCESS_NONE);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, KVE_STRLIT("a.b.c!!"), now, err, sizeof(err)), KVE_ACCESS_NONE);
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
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_READ_WRITE);
    forge(tok, "{\"alg\":\"none\",\"typ\":\"JWT\"}", good, key, 0); /* unsigned */
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_NONE);
    forge(tok, "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", good, key, 1); /* libjwt 1.10.2 accepts a lowercase alg */
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_NONE);
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"aud\":\"kvedge:kv\",\"access\":\"rw\",\"exp\":\"9999999999\"}", key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_NONE); /* exp as a string */
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"aud\":\"kvedge:session\",\"access\":\"rw\",\"exp\":1800000100}", key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_NONE); /* another audience */
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"aud\":\"kvedge:kv\",\"access\":\"admin\",\"exp\":1800000100}", key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify(key, tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_NONE);
    forge(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good, key, 1);
    CHECK_EQ_INT(kve_rest_jwt_verify("", tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_NONE); /* empty key: no check */
    CHECK_EQ_INT(kve_rest_jwt_verify("short", tok, strlen(tok), now, err, sizeof(err)), KVE_ACCESS_NONE);
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
    RUN(mint_refuses_short_keys);
}
