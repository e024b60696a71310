/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the libjwt 1.10.2 guards themselves (handlers/jwt_guard.c: kve_jwt_well_formed,
 * kve_jwt_decode_hs256, kve_jwt_claims, kve_jwt_int_claim, kve_jwt_sat_add), shared by the KV API's tokens and the
 * sessions' JWTs, with the key as an input too (issue 10, S10: the note's 10-minute run).
 *
 * Input: byte 0 picks the form (bits 0-1) and the key (bits 2-4: the 40-byte key; a prefix of it of length 0..31
 * taken from byte 1; an RSA public key's PEM, as an HS256 verifier given a PEM in alg confusion; a 1-byte key).
 * Then by form:
 *   0  the token itself (any bytes)
 *   1  header JSON, a 0xff byte, claims JSON: signed here with HMAC-SHA256 under the key (byte 1 bit 7: under
 *      another key instead), then decoded
 *   2  two int64 for kve_jwt_sat_add
 *
 * Oracles: kve_jwt_well_formed agrees with a reference written another way (three segments split on '.', the first
 * and the last non-empty, base64url only, 5..8192 bytes); an empty key never decodes; a decoded token is well formed,
 * its header segment decodes to JSON whose "alg" is exactly "HS256", and its signature segment is the canonical
 * base64url HMAC-SHA256 of the first two under the key; a token signed here with the right key whose header is
 * exactly {"alg":"HS256","typ":"JWT"} and whose claims jansson reads as an object (no NUL byte) is accepted, its
 * kve_jwt_claims equal to those claims, and kve_jwt_int_claim agrees with their JSON types for exp/iat/nbf/sub;
 * kve_jwt_sat_add equals the 128-bit sum clamped to int64.
 */
#include "fuzz.h"
#include "handlers/jwt_guard.h"
#include "proxy/common.h"
#include "handlers/session_cookie.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char good_key[] = "kvedge-fuzz-jwt-guard-key-0123456789abcd";
static const char other_key[] = "kvedge-fuzz-jwt-guard-key-0123456789abce";
static const char rsa_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMeyGjgnArrSHu0vaCqbe/6v1pS6JmcW\n"
                              "Z8VdAHDr2U7vKM7Qw5o7CsK/Ce5oTGy9pJdIJJyJzhBk5mHUP7s8/VMCAwEAAQ==\n"
                              "-----END PUBLIC KEY-----\n";

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* the reference shape: split into segments on '.', exactly three, the header and the signature non-empty */
static int reference_well_formed(const char *t, size_t len)
{
    size_t seg[3] = {0, 0, 0}, n = 0;
    if (len < 5 || len > 8192)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        if (t[i] == '.') {
            if (++n == 3)
                return 0;
        } else if (!b64url_char(t[i])) {
            return 0;
        } else {
            ++seg[n];
        }
    }
    return n == 2 && seg[0] != 0 && seg[2] != 0;
}

static size_t b64url_decode(uint8_t *out, const char *s, size_t len)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    size_t bits = 0, n = 0;
    for (size_t i = 0; i != len; ++i) {
        acc = (acc << 6) | (uint32_t)(strchr(alpha, s[i]) - alpha);
        if ((bits += 6) >= 8)
            out[n++] = (uint8_t)(acc >> (bits -= 8));
    }
    return n;
}

static void check_accepted(const char *t, size_t len, const void *key, size_t keylen)
{
    const char *d1 = memchr(t, '.', len), *d2 = memchr(d1 + 1, '.', (size_t)(t + len - d1 - 1));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    char sig[64];
    uint8_t *header = malloc(len);
    size_t hlen = b64url_decode(header, t, (size_t)(d1 - t));
    json_t *h = json_loadb((const char *)header, hlen, JSON_DISABLE_EOF_CHECK, NULL);

    FUZZ_CHECK(reference_well_formed(t, len), "an ill-formed token was accepted");
    FUZZ_CHECK(json_is_string(json_object_get(h, "alg")) && strcmp(json_string_value(json_object_get(h, "alg")), "HS256") == 0,
               "a header without \"alg\":\"HS256\" was accepted: %.*s", (int)hlen, header);
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)t, (size_t)(d2 - t), mac, &maclen);
    size_t n = kve_base64url_encode(sig, mac, maclen);
    FUZZ_CHECK((size_t)(t + len - d2 - 1) == n && memcmp(sig, d2 + 1, n) == 0, "a token with another signature was accepted");
    json_decref(h);
    free(header);
}

static jwt_t *decode(const char *t, size_t len, const void *key, size_t keylen)
{
    const char *why = NULL;
    jwt_t *jwt = kve_jwt_decode_hs256(t, len, key, keylen, &why);
    FUZZ_CHECK(kve_jwt_well_formed(t, len) == reference_well_formed(t, len), "well_formed disagrees with the reference");
    if (jwt == NULL) {
        FUZZ_CHECK(why != NULL, "no reason");
        if (keylen == 0)
            FUZZ_CHECK(strcmp(why, "no JWT key") == 0, "an empty key was not refused first");
        return NULL;
    }
    FUZZ_CHECK(keylen != 0, "a token decoded without a key");
    check_accepted(t, len, key, keylen);
    return jwt;
}

static void check_int_claim(json_t *claims, const char *name)
{
    int64_t v = 0;
    json_t *want = json_object_get(claims, name);
    int got = kve_jwt_int_claim(claims, name, &v);
    FUZZ_CHECK(got == (want == NULL ? 0 : json_is_integer(want) ? 1 : -1), "int_claim %s: %d", name, got);
    if (got == 1)
        FUZZ_CHECK(v == json_integer_value(want), "int_claim %s value", name);
}

static void run_signed(const char *src, size_t len, const void *key, size_t keylen, int wrong)
{
    static const char canon[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    const char *sep = memchr(src, 0xff, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    size_t hlen, clen, n;
    char *t;

    if (sep == NULL || len > 6000)
        return;
    hlen = (size_t)(sep - src), clen = len - hlen - 1;
    t = malloc(2 * len + 128);
    n = kve_base64url_encode(t, (const uint8_t *)src, hlen);
    t[n++] = '.';
    n += kve_base64url_encode(t + n, (const uint8_t *)sep + 1, clen);
    if (wrong)
        HMAC(EVP_sha256(), other_key, (int)strlen(other_key), (const unsigned char *)t, n, mac, &maclen);
    else
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)t, n, mac, &maclen);
    t[n++] = '.';
    n += kve_base64url_encode(t + n, mac, maclen);

    jwt_t *jwt = decode(t, n, key, keylen);
    json_t *want = memchr(sep + 1, 0, clen) == NULL ? json_loadb(sep + 1, clen, 0, NULL) : NULL;
    if (!wrong && keylen != 0 && hlen == strlen(canon) && memcmp(src, canon, hlen) == 0 && json_is_object(want) && n <= 8192)
        FUZZ_CHECK(jwt != NULL, "a token signed with the key, canonical header and object claims was refused");
    if (jwt != NULL) {
        json_t *claims = kve_jwt_claims(jwt);
        if (json_is_object(want))
            FUZZ_CHECK(claims != NULL && json_equal(claims, want), "the claims read back differ from the ones signed");
        if (claims != NULL) {
            check_int_claim(claims, "exp");
            check_int_claim(claims, "iat");
            check_int_claim(claims, "nbf");
            check_int_claim(claims, "sub");
        }
        json_decref(claims);
        jwt_free(jwt);
    }
    json_decref(want);
    free(t);
}

static void run_sat_add(fuzz_in_t *in)
{
    int64_t a = (int64_t)fuzz_u64(in), b = (int64_t)fuzz_u64(in);
    __int128 sum = (__int128)a + b;
    int64_t want = sum > INT64_MAX ? INT64_MAX : sum < INT64_MIN ? INT64_MIN : (int64_t)sum;
    FUZZ_CHECK(kve_jwt_sat_add(a, b) == want, "sat_add(%lld, %lld)", (long long)a, (long long)b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t form = fuzz_u8(&in), opt = fuzz_u8(&in);
    const void *key = good_key;
    size_t keylen = strlen(good_key);

    if (size > 3 * KVE_JWT_GUARD_MAX)
        return 0;
    switch ((form >> 2) & 7) {
    case 1:
        keylen = opt & 31; /* 0: the empty key libjwt would treat as "no verification" */
        break;
    case 2:
        key = rsa_pem, keylen = strlen(rsa_pem);
        break;
    case 3:
        keylen = 1;
        break;
    default:
        break;
    }
    switch (form & 3) {
    case 0: {
        jwt_t *jwt = decode((const char *)in.p, fuzz_left(&in), key, keylen);
        if (jwt != NULL) {
            json_t *claims = kve_jwt_claims(jwt);
            FUZZ_CHECK(claims == NULL || json_is_object(claims), "claims are not an object");
            json_decref(claims);
            jwt_free(jwt);
        }
        break;
    }
    case 1:
        run_signed((const char *)in.p, fuzz_left(&in), key, keylen, (opt & 0x80) != 0);
        break;
    default:
        run_sat_add(&in);
        break;
    }
    return 0;
}
