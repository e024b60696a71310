/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the sessions' ES256 parts (issue 10, docs/sessions.md §8): the ES256 verifier
 * (kve_session_jwt_verify_alg with JWT_ALG_ES256, through kve_jwt_decode_pinned and libjwt 1.10.2) and the key
 * loader (kve_es256_key_load: PEM text from outside, the configuration's jwt_private_key).
 *
 * Input: byte 0 picks the form. 0: a token verified with the target's public key. 1: header JSON, a 0xff byte,
 * claims JSON, signed here with the target's private key (kve_es256_sign), then verified. 2: the same MAC'd with
 * HS256 using the public key's PEM as the secret (the algorithm-confusion forgery), then verified. 3: PEM text
 * loaded as a key.
 *
 * Oracles: an accepted token is well formed, its header says exactly "alg":"ES256", its signature verifies with
 * OpenSSL (ECDSA P-256, r || s) over its first two segments, and its claims hold iss "kvedge", the audience, and
 * integer iat and exp with exp - iat <= 60 and exp not past; form 2 is never accepted; a loaded key has a 43-character
 * kid and a JWK that parses.
 */
#include "fuzz.h"
#include "handlers/jwt_guard.h"
#include "handlers/session_cookie.h"
#include "handlers/session_es256.h"
#include "handlers/session_jwt.h"
#include "proxy/common.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#define NOW ((int64_t)1700000000)
/* a fixed test key, generated for this target (never used anywhere else) */
static const char pem[] = "-----BEGIN PRIVATE KEY-----\n"
                          "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgR2yAUdFgVG6Bb272\n"
                          "4766dMdhQZInOrBSuFNIi9JjVR2hRANCAATx5IPfINchrpKx2HWQ8I7Ko/t7g4xB\n"
                          "b2p2woYshLucWI/IesI5KpbNY0L2BwAUJ4/Qs4elJ2yqmr9bh939kyyL\n"
                          "-----END PRIVATE KEY-----\n";
static kve_es256_key_t *key;
static const char *pub;
static size_t publen;
static EVP_PKEY *verifier;

static void init(void)
{
    char err[256];
    BIO *bio;
    if (key != NULL)
        return;
    key = kve_es256_key_load(pem, strlen(pem), err, sizeof(err));
    FUZZ_CHECK(key != NULL, "the target's key: %s", err);
    pub = kve_es256_key_public_pem(key, &publen);
    bio = BIO_new_mem_buf(pub, (int)publen);
    verifier = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    FUZZ_CHECK(verifier != NULL, "the public key");
}

/* base64url decoding of a segment (the token is well formed: only the alphabet); returns the length */
static size_t b64url_decode(const char *s, size_t len, uint8_t *out)
{
    uint32_t acc = 0;
    size_t n = 0, bits = 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        uint32_t v = c >= 'A' && c <= 'Z'   ? (uint32_t)(c - 'A')
                     : c >= 'a' && c <= 'z' ? (uint32_t)(c - 'a' + 26)
                     : c >= '0' && c <= '9' ? (uint32_t)(c - '0' + 52)
                     : c == '-'             ? 62u
                                            : 63u;
        acc = acc << 6 | v, bits += 6;
        if (bits >= 8)
            out[n++] = (uint8_t)(acc >> (bits -= 8));
    }
    return n;
}

/* the token's ES256 signature verifies with OpenSSL over its signing input */
static int signature_ok(const char *t, size_t len)
{
    const char *d1 = memchr(t, '.', len), *d2 = memchr(d1 + 1, '.', (size_t)(t + len - d1 - 1));
    uint8_t rs[KVE_JWT_GUARD_MAX], der[128], *p = der;
    size_t n = b64url_decode(d2 + 1, (size_t)(t + len - d2 - 1), rs);
    ECDSA_SIG *sig;
    EVP_MD_CTX *md;
    int derlen, ok;

    if (n != 64 || (sig = ECDSA_SIG_new()) == NULL)
        return 0;
    ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
    derlen = i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    md = EVP_MD_CTX_new();
    ok = derlen > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, verifier) == 1 &&
         EVP_DigestVerify(md, der, (size_t)derlen, (const uint8_t *)t, (size_t)(d2 - t)) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static void check_accepted(const char *t, size_t len, json_t *claims)
{
    const char *d1 = memchr(t, '.', len);
    uint8_t header[KVE_JWT_GUARD_MAX];
    size_t hlen;
    json_t *h;
    int64_t iat = 0, exp = 0;

    FUZZ_CHECK(kve_jwt_well_formed(t, len), "an ill-formed token was accepted");
    hlen = b64url_decode(t, (size_t)(d1 - t), header);
    h = json_loadb((const char *)header, strnlen((const char *)header, hlen), 0, NULL); /* libjwt stops at a NUL too */
    FUZZ_CHECK(h != NULL && json_is_string(json_object_get(h, "alg")) &&
                   strcmp(json_string_value(json_object_get(h, "alg")), "ES256") == 0,
               "a token whose header is not exactly alg ES256 was accepted");
    json_decref(h);
    FUZZ_CHECK(signature_ok(t, len), "a token whose ES256 signature does not verify was accepted");
    FUZZ_CHECK(kve_jwt_int_claim(claims, "iat", &iat) == 1 && kve_jwt_int_claim(claims, "exp", &exp) == 1, "times");
    FUZZ_CHECK(exp - iat <= 60 && exp > NOW - KVE_SESSION_JWT_SKEW, "lifetime");
    FUZZ_CHECK(json_is_string(json_object_get(claims, "aud")) &&
                   strcmp(json_string_value(json_object_get(claims, "aud")), "/app") == 0,
               "aud");
}

static int run_token(const char *t, size_t len)
{
    const char *why = NULL;
    json_t *claims = kve_session_jwt_verify_alg(JWT_ALG_ES256, pub, publen, t, len, "/app", NOW, 60, &why);
    if (claims == NULL) {
        FUZZ_CHECK(why != NULL, "no reason");
        return 0;
    }
    check_accepted(t, len, claims);
    json_decref(claims);
    return 1;
}

/* "<b64(header)>.<b64(claims)>" of the input's two parts in a malloc'd buffer with room for a signature */
static char *signing_input(const char *src, size_t len, size_t *n)
{
    const char *sep = memchr(src, 0xff, len);
    size_t hlen;
    char *t;
    if (sep == NULL || len > 6000)
        return NULL;
    hlen = (size_t)(sep - src);
    t = malloc(2 * len + 160);
    *n = kve_base64url_encode(t, (const uint8_t *)src, hlen);
    t[(*n)++] = '.';
    *n += kve_base64url_encode(t + *n, (const uint8_t *)sep + 1, len - hlen - 1);
    return t;
}

static void run_signed(const char *src, size_t len, int confused)
{
    size_t n;
    char *t = signing_input(src, len, &n);
    uint8_t sig[KVE_ES256_SIG_LEN], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    if (t == NULL)
        return;
    if (confused) { /* HS256 with the public PEM as the secret: libjwt alone would accept it */
        HMAC(EVP_sha256(), pub, (int)publen, (const uint8_t *)t, n, mac, &maclen);
        t[n++] = '.';
        n += kve_base64url_encode(t + n, mac, maclen);
        FUZZ_CHECK(!run_token(t, n), "an HS256 token MAC'd with the public key was accepted (algorithm confusion)");
    } else {
        FUZZ_CHECK(kve_es256_sign(key, t, n, sig) == 0, "signing failed");
        t[n++] = '.';
        n += kve_base64url_encode(t + n, sig, sizeof(sig));
        run_token(t, n);
    }
    free(t);
}

static void run_key(const char *src, size_t len)
{
    char err[256];
    kve_es256_key_t *k = kve_es256_key_load(src, len, err, sizeof(err));
    json_t *jwk;
    if (k == NULL)
        return;
    FUZZ_CHECK(strlen(kve_es256_key_kid(k)) == KVE_ES256_KID_LEN, "kid length");
    jwk = json_loads(kve_es256_key_jwk(k), 0, NULL);
    FUZZ_CHECK(jwk != NULL && json_object_get(jwk, "d") == NULL, "the JWK");
    json_decref(jwk);
    kve_es256_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t form = fuzz_u8(&in);

    init();
    if (size > 3 * KVE_JWT_GUARD_MAX)
        return 0;
    switch (form % 4) {
    case 0:
        run_token((const char *)in.p, fuzz_left(&in));
        break;
    case 1:
        run_signed((const char *)in.p, fuzz_left(&in), 0);
        break;
    case 2:
        run_signed((const char *)in.p, fuzz_left(&in), 1);
        break;
    default:
        run_key((const char *)in.p, fuzz_left(&in));
        break;
    }
    return 0;
}
