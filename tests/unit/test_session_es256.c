/* SPDX-License-Identifier: MIT */
/*
 * Tests for the sessions' ES256 parts (issue 10, docs/sessions.md §8): the P-256 key (PKCS#8 and SEC 1, refused:
 * other curves, RSA, encrypted, garbage), its JWK and RFC 7638 kid checked against OpenSSL's own encoding of the
 * point, ES256 tokens minted and verified (kid header, wrong key), the research note's S8 confusion probe (an HS256
 * token MAC'd with the public PEM) and the lowercase "es256" spelling refused by the pinned verifier, the per-thread
 * token cache (version, public id, 80 % deadline, slots) and the JWKS document.
 */
#include "test.h"
#include "handlers/jwt_guard.h"
#include "handlers/session_cookie.h"
#include "handlers/session_es256.h"
#include "handlers/session_hash.h"
#include "handlers/session_jwks.h"
#include "handlers/session_jwt.h"
#include "handlers/session_jwt_cache.h"
#include "proxy/common.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

/* a fresh key of `curve` as PEM (malloc'd): PKCS#8, SEC 1 ("traditional") or encrypted PKCS#8 */
enum { PKCS8, SEC1, ENCRYPTED };
static char *pem_of(EVP_PKEY *pkey, int form)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text, *out;
    long n;
    KVE_ASSERT(bio != NULL);
    if (form == PKCS8)
        KVE_ASSERT(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL));
    else if (form == SEC1)
        KVE_ASSERT(PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL));
    else
        KVE_ASSERT(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_128_cbc(), NULL, 0, NULL, (void *)"passphrase"));
    n = BIO_get_mem_data(bio, &text);
    out = kve_malloc((size_t)n + 1);
    memcpy(out, text, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

static EVP_PKEY *ec_key(const char *curve)
{
    EVP_PKEY *pkey = EVP_EC_gen(curve);
    KVE_ASSERT(pkey != NULL);
    return pkey;
}

static kve_es256_key_t *load(const char *pem)
{
    char err[256];
    return kve_es256_key_load(pem, strlen(pem), err, sizeof(err));
}

/* base64url of bytes [from, from + 32) of the uncompressed point OpenSSL encodes */
static void point_coordinate(EVP_PKEY *pkey, size_t from, char out[44])
{
    uint8_t point[65];
    size_t len = 0;
    KVE_ASSERT(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point), &len));
    KVE_ASSERT(len == 65 && point[0] == 0x04);
    out[kve_base64url_encode(out, point + from, 32)] = '\0';
}

TEST(es256_key_load)
{
    EVP_PKEY *p256 = ec_key("P-256"), *p384 = ec_key("P-384"), *rsa = EVP_RSA_gen(2048);
    char *pkcs8 = pem_of(p256, PKCS8), *sec1 = pem_of(p256, SEC1), *enc = pem_of(p256, ENCRYPTED), *other = pem_of(p384, PKCS8),
         *rsapem = pem_of(rsa, PKCS8), err[256], x[44], y[44], thumb[200];
    kve_es256_key_t *a = load(pkcs8), *b = load(sec1);
    uint8_t sa[32], sb[32], digest[32];
    json_t *jwk;

    CHECK_NOT_NULL(a);
    CHECK_NOT_NULL(b);
    if (a == NULL || b == NULL)
        goto Exit;
    /* one key in two spellings: one kid, one derived secret */
    CHECK_EQ_STR(kve_es256_key_kid(a), kve_es256_key_kid(b));
    kve_es256_key_secret(a, sa);
    kve_es256_key_secret(b, sb);
    CHECK(memcmp(sa, sb, 32) == 0);
    CHECK_EQ_UINT(strlen(kve_es256_key_kid(a)), KVE_ES256_KID_LEN);
    /* the JWK's x and y are OpenSSL's encoding of the point; the kid is its RFC 7638 thumbprint */
    jwk = json_loads(kve_es256_key_jwk(a), 0, NULL);
    CHECK_NOT_NULL(jwk);
    point_coordinate(p256, 1, x);
    point_coordinate(p256, 33, y);
    CHECK_EQ_STR(json_string_value(json_object_get(jwk, "x")), x);
    CHECK_EQ_STR(json_string_value(json_object_get(jwk, "y")), y);
    CHECK_EQ_STR(json_string_value(json_object_get(jwk, "kty")), "EC");
    CHECK_EQ_STR(json_string_value(json_object_get(jwk, "crv")), "P-256");
    CHECK_EQ_STR(json_string_value(json_object_get(jwk, "alg")), "ES256");
    CHECK_NULL(json_object_get(jwk, "d")); /* never the private scalar */
    snprintf(thumb, sizeof(thumb), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    SHA256((const uint8_t *)thumb, strlen(thumb), digest);
    {
        char kid[44];
        kid[kve_base64url_encode(kid, digest, 32)] = '\0';
        CHECK_EQ_STR(kve_es256_key_kid(a), kid);
        CHECK_EQ_STR(json_string_value(json_object_get(jwk, "kid")), kid);
    }
    json_decref(jwk);
    /* refused: an encrypted key (no passphrase prompt), another curve, RSA, garbage, empty, too long */
    CHECK_NULL(kve_es256_key_load(enc, strlen(enc), err, sizeof(err)));
    CHECK(strstr(err, "unencrypted PEM") != NULL);
    CHECK_NULL(kve_es256_key_load(other, strlen(other), err, sizeof(err)));
    CHECK(strstr(err, "P-256") != NULL);
    CHECK_NULL(kve_es256_key_load(rsapem, strlen(rsapem), err, sizeof(err)));
    CHECK(strstr(err, "P-256") != NULL);
    CHECK_NULL(kve_es256_key_load("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58, err, sizeof(err)));
    CHECK_NULL(kve_es256_key_load("", 0, err, sizeof(err)));
    CHECK_NULL(kve_es256_key_load(pkcs8, KVE_ES256_PEM_MAX + 1, err, sizeof(err)));
Exit:
    kve_es256_key_free(a);
    kve_es256_key_free(b);
    free(pkcs8), free(sec1), free(enc), free(other), free(rsapem);
    EVP_PKEY_free(p256), EVP_PKEY_free(p384), EVP_PKEY_free(rsa);
}

static const int64_t now = 1800000000;
static const char good[] = "{\"iss\":\"kvedge\",\"aud\":\"/app\",\"sub\":\"u1\",\"iat\":1800000000,\"exp\":1800000060}";

static const char *verdict(jwt_alg_t alg, const char *k, size_t klen, const char *token)
{
    const char *why = NULL;
    json_t *c = kve_session_jwt_verify_alg(alg, k, klen, token, strlen(token), "/app", now, 60, &why);
    if (c == NULL)
        return why;
    json_decref(c);
    return "ok";
}

/* "<b64url(hdr)>.<b64url(payload)>" into `out`; returns its length */
static size_t signing_input(char *out, const char *hdr, const char *payload)
{
    size_t n = kve_base64url_encode(out, (const uint8_t *)hdr, strlen(hdr));
    out[n++] = '.';
    return n + kve_base64url_encode(out + n, (const uint8_t *)payload, strlen(payload));
}

/* an ES256 token of header `hdr` signed by `pkey` (ECDSA P-256, r || s as JWS wants), in a static buffer */
static const char *es256_forge(EVP_PKEY *pkey, const char *hdr, const char *payload)
{
    static char out[4096];
    uint8_t der[128], rs[64];
    size_t n = signing_input(out, hdr, payload), derlen = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const uint8_t *p = der;
    ECDSA_SIG *sig;

    KVE_ASSERT(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) == 1);
    KVE_ASSERT(EVP_DigestSign(md, der, &derlen, (const uint8_t *)out, n) == 1);
    EVP_MD_CTX_free(md);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    KVE_ASSERT(sig != NULL);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32);
    ECDSA_SIG_free(sig);
    out[n++] = '.';
    out[n + kve_base64url_encode(out + n, rs, sizeof(rs))] = '\0';
    return out;
}

/* an HS256 token MAC'd with `secret` (`len` bytes), in a static buffer */
static const char *hs256_forge(const char *hdr, const char *payload, const void *secret, size_t len)
{
    static char out[4096];
    uint8_t mac[32];
    unsigned maclen = 0;
    size_t n = signing_input(out, hdr, payload);
    HMAC(EVP_sha256(), secret, (int)len, (const uint8_t *)out, n, mac, &maclen);
    out[n++] = '.';
    out[n + kve_base64url_encode(out + n, mac, maclen)] = '\0';
    return out;
}

TEST(es256_roundtrip)
{
    EVP_PKEY *pkey = ec_key("P-256"), *other = ec_key("P-256");
    char *pem = pem_of(pkey, PKCS8), *other_pem = pem_of(other, PKCS8), err[160], *t;
    kve_es256_key_t *key = load(pem), *okey = load(other_pem);
    kve_session_claims_t c = {"/app", "u1", "0123abcd", 7, 0, now, 60, NULL};
    size_t privlen, publen, opublen;
    const char *priv, *pub, *opub, *why = NULL;
    jwt_t *jwt;

    KVE_ASSERT(key != NULL && okey != NULL);
    priv = kve_es256_key_pem(key, &privlen);
    pub = kve_es256_key_public_pem(key, &publen);
    opub = kve_es256_key_public_pem(okey, &opublen);
    CHECK(strncmp(pub, "-----BEGIN PUBLIC KEY-----", 26) == 0);
    t = kve_session_jwt_sign(JWT_ALG_ES256, priv, privlen, kve_es256_key_kid(key), &c, err, sizeof(err));
    CHECK_NOT_NULL(t);
    if (t != NULL) {
        CHECK_EQ_STR(verdict(JWT_ALG_ES256, pub, publen, t), "ok");
        CHECK_EQ_UINT(strlen(strrchr(t, '.') + 1), 86); /* 64 bytes: r || s, not DER */
        jwt = kve_jwt_decode_pinned(t, strlen(t), pub, publen, JWT_ALG_ES256, &why);
        CHECK_NOT_NULL(jwt);
        if (jwt != NULL) {
            CHECK_EQ_STR(jwt_get_header(jwt, "kid"), kve_es256_key_kid(key));
            jwt_free(jwt);
        }
        /* another key's public half, the HS256 verifier with the PEM as secret, an empty key: refused */
        CHECK(strcmp(verdict(JWT_ALG_ES256, opub, opublen, t), "ok") != 0);
        CHECK_EQ_STR(verdict(JWT_ALG_HS256, pub, publen, t), "algorithm is not HS256");
        CHECK_EQ_STR(verdict(JWT_ALG_ES256, "", 0, t), "no JWT key");
        free(t);
    }
    /* the route's minter (OpenSSL with the parsed key): libjwt's own decoder and the pinned verifier accept it */
    t = kve_session_jwt_mint_es256(key, &c, err, sizeof(err));
    CHECK_NOT_NULL(t);
    if (t != NULL) {
        jwt_t *raw = NULL;
        char copy[4096];
        CHECK_EQ_STR(verdict(JWT_ALG_ES256, pub, publen, t), "ok");
        CHECK_EQ_UINT(strlen(strrchr(t, '.') + 1), 86);
        strcpy(copy, t);
        CHECK_EQ_INT(jwt_decode(&raw, copy, (const unsigned char *)pub, (int)publen), 0);
        if (raw != NULL) {
            CHECK_EQ_STR(jwt_get_header(raw, "kid"), kve_es256_key_kid(key));
            CHECK_EQ_STR(jwt_get_header(raw, "typ"), "JWT");
            CHECK_EQ_STR(jwt_get_grant(raw, "sub"), "u1");
            jwt_free(raw);
        }
        CHECK(strcmp(verdict(JWT_ALG_ES256, opub, opublen, t), "ok") != 0);
        t[strlen(t) - 2] ^= 1; /* one signature bit */
        CHECK(strcmp(verdict(JWT_ALG_ES256, pub, publen, t), "ok") != 0);
        free(t);
    }
    /* a token signed by hand with the same key verifies: the oracle for the probes below */
    CHECK_EQ_STR(verdict(JWT_ALG_ES256, pub, publen, es256_forge(pkey, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", good)), "ok");
    /* the lowercase spelling libjwt 1.10.2 accepts (probe 9's ES256 twin), with a valid signature: refused */
    {
        const char *lower = es256_forge(pkey, "{\"alg\":\"es256\",\"typ\":\"JWT\"}", good);
        jwt_t *raw = NULL;
        char copy[4096];
        strcpy(copy, lower);
        CHECK_EQ_INT(jwt_decode(&raw, copy, (const unsigned char *)pub, (int)publen), 0); /* the trap is real */
        jwt_free(raw);
        CHECK_EQ_STR(verdict(JWT_ALG_ES256, pub, publen, lower), "algorithm is not the one pinned");
    }
    kve_es256_key_free(key);
    kve_es256_key_free(okey);
    free(pem), free(other_pem);
    EVP_PKEY_free(pkey), EVP_PKEY_free(other);
}

/* S8: an HS256 token whose MAC key is the route's public PEM, given to the ES256 verifier with that PEM */
TEST(es256_confusion_s8)
{
    EVP_PKEY *pkey = ec_key("P-256");
    char *pem = pem_of(pkey, PKCS8), copy[4096];
    kve_es256_key_t *key = load(pem);
    size_t publen;
    const char *pub, *forged;
    jwt_t *raw = NULL;

    KVE_ASSERT(key != NULL);
    pub = kve_es256_key_public_pem(key, &publen);
    forged = hs256_forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good, pub, publen);
    strcpy(copy, forged);
    /* libjwt alone accepts it (the algorithm comes from the token): the probe is live */
    CHECK_EQ_INT(jwt_decode(&raw, copy, (const unsigned char *)pub, (int)publen), 0);
    CHECK(raw != NULL && jwt_get_alg(raw) == JWT_ALG_HS256);
    jwt_free(raw);
    CHECK_EQ_STR(verdict(JWT_ALG_ES256, pub, publen, forged), "algorithm is not the one pinned");
    CHECK_NULL(kve_jwt_decode_pinned(forged, strlen(forged), pub, publen, JWT_ALG_ES256, &(const char *){NULL}));
    /* the same with "hs256" and "ES256 " spellings, and alg none */
    CHECK(strcmp(verdict(JWT_ALG_ES256, pub, publen, hs256_forge("{\"alg\":\"hs256\"}", good, pub, publen)), "ok") != 0);
    CHECK(strcmp(verdict(JWT_ALG_ES256, pub, publen, hs256_forge("{\"alg\":\"none\"}", good, pub, publen)), "ok") != 0);
    kve_es256_key_free(key);
    free(pem);
    EVP_PKEY_free(pkey);
}

TEST(jwt_cache)
{
    kve_jwt_cache_t *c = kve_jwt_cache_new(4);
    /* two store keys whose last 8 hex digits are equal share a slot */
    const char *key = "kvs1:{AAAAAAAAAAA}:s:00000000000000000000000000000000000000000000000000000000deadbeef",
               *same_slot = "kvs1:{BBBBBBBBBBB}:s:11111111111111111111111111111111111111111111111111111111deadbeef";
    kve_jwt_cache_hit_t hit;
    uint64_t hits, misses;

    CHECK(!kve_jwt_cache_get(c, key, 1, now, &hit));
    kve_jwt_cache_put(c, key, 1, now, 60, "tok-1", 5, "pid-1", "alice");
    CHECK(kve_jwt_cache_get(c, key, 1, now + 47, &hit));
    CHECK_EQ_MEM(hit.token.base, hit.token.len, "tok-1", 5);
    CHECK_EQ_STR(hit.sid, "pid-1");
    CHECK_EQ_STR(hit.sub, "alice");
    CHECK(!kve_jwt_cache_get(c, key, 1, now + 48, &hit));                   /* 80 % of 60 s */
    CHECK(!kve_jwt_cache_get(c, key, 2, now, &hit));                        /* another version */
    CHECK(!kve_jwt_cache_get(c, same_slot, 1, now, &hit));                  /* another session in the same slot */
    kve_jwt_cache_put(c, same_slot, 1, now, 60, "tok-2", 5, "pid-2", NULL); /* replaces it; anonymous */
    CHECK(!kve_jwt_cache_get(c, key, 1, now, &hit));
    CHECK(kve_jwt_cache_get(c, same_slot, 1, now, &hit));
    CHECK_EQ_MEM(hit.token.base, hit.token.len, "tok-2", 5);
    CHECK_NULL(hit.sub);
    kve_jwt_cache_put(c, key, 3, now, 1, "short", 5, "pid-1", NULL); /* a lifetime under 2 s is not kept */
    CHECK(!kve_jwt_cache_get(c, key, 3, now, &hit));
    kve_jwt_cache_stats(c, &hits, &misses);
    CHECK_EQ_UINT(hits, 2);
    CHECK_EQ_UINT(misses, 6);
    kve_jwt_cache_free(c);
    c = kve_jwt_cache_new(0); /* one slot at least */
    kve_jwt_cache_put(c, key, 1, now, 60, "tok-3", 5, "pid-3", "bob");
    CHECK(kve_jwt_cache_get(c, key, 1, now, &hit));
    kve_jwt_cache_free(c);
    kve_jwt_cache_free(NULL);
}

TEST(jwks_document)
{
    EVP_PKEY *k1 = ec_key("P-256"), *k2 = ec_key("P-256");
    char *p1 = pem_of(k1, PKCS8), *p1b = pem_of(k1, SEC1), *p2 = pem_of(k2, PKCS8), *doc;
    kve_es256_key_t *keys[3] = {load(p1), load(p2), load(p1b)};
    json_t *j, *list;

    doc = kve_session_jwks_document((const kve_es256_key_t *const *)keys, 3);
    j = json_loads(doc, 0, NULL);
    list = json_object_get(j, "keys");
    CHECK(json_is_array(list));
    CHECK_EQ_UINT(json_array_size(list), 2); /* the first key twice (two spellings) is listed once */
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0), "kid")), kve_es256_key_kid(keys[0]));
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(list, 1), "kid")), kve_es256_key_kid(keys[1]));
    json_decref(j);
    free(doc);
    doc = kve_session_jwks_document(NULL, 0);
    CHECK_EQ_STR(doc, "{\"keys\":[]}\n");
    free(doc);
    for (size_t i = 0; i != 3; ++i)
        kve_es256_key_free(keys[i]);
    free(p1), free(p1b), free(p2);
    EVP_PKEY_free(k1), EVP_PKEY_free(k2);
}

/* the sessions' fetched-once SHA-256 and HMAC give OpenSSL's one-shot results, for keys shorter than, equal to and
 * longer than a block, and the RFC 4231 test case 2 */
TEST(hash_matches_openssl)
{
    static const size_t klens[] = {0, 1, 32, 63, 64, 65, 131, 4096};
    uint8_t key[4096], msg[4096], a[32], b[EVP_MAX_MD_SIZE];
    unsigned blen = 0;

    for (size_t i = 0; i != sizeof(key); ++i)
        key[i] = (uint8_t)(i * 7 + 1), msg[i] = (uint8_t)(i * 13 + 5);
    for (size_t i = 0; i != KVE_ARRAY_SIZE(klens); ++i) {
        for (size_t mlen = 0; mlen <= 4096; mlen = mlen * 3 + 1) {
            kve_session_hmac_sha256(key, klens[i], msg, mlen, a);
            HMAC(EVP_sha256(), key, (int)klens[i], msg, mlen, b, &blen);
            CHECK_EQ_MEM(a, 32, b, blen);
        }
        kve_session_sha256(msg, klens[i], a);
        SHA256(msg, klens[i], b);
        CHECK_EQ_MEM(a, 32, b, 32);
    }
    {
        static const uint8_t want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                         0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                         0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
        kve_session_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, a);
        CHECK_EQ_MEM(a, 32, want, 32);
    }
}

/* kvedge's own HS256 minter: libjwt decodes its tokens with the key (and refuses another key), the header is exactly
 * {"alg":"HS256","typ":"JWT"}, a short key is refused, a token over 8 KiB is refused */
TEST(hs256_mint)
{
    static const char k[] = "0123456789abcdef0123456789abcdef-hs";
    kve_session_claims_t c = {"/app", "u1", "0123abcd", 2, 0, now, 60, NULL};
    char err[160], copy[4096], *t = kve_session_jwt_mint(k, strlen(k), &c, err, sizeof(err));
    jwt_t *raw = NULL;

    CHECK_NOT_NULL(t);
    if (t != NULL) {
        CHECK(strncmp(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0); /* {"alg":"HS256","typ":"JWT"} */
        strcpy(copy, t);
        CHECK_EQ_INT(jwt_decode(&raw, copy, (const unsigned char *)k, (int)strlen(k)), 0);
        CHECK(raw != NULL && jwt_get_alg(raw) == JWT_ALG_HS256);
        if (raw != NULL)
            CHECK_EQ_STR(jwt_get_grant(raw, "sub"), "u1");
        jwt_free(raw);
        raw = NULL;
        strcpy(copy, t);
        CHECK(jwt_decode(&raw, copy, (const unsigned char *)"another-key-0123456789abcdef-0123", 33) != 0);
        jwt_free(raw);
        CHECK_EQ_STR(verdict(JWT_ALG_HS256, k, strlen(k), t), "ok");
        free(t);
    }
    CHECK_NULL(kve_session_jwt_mint(k, 31, &c, err, sizeof(err)));
    CHECK_NULL(kve_session_jwt_mint(NULL, 0, &c, err, sizeof(err)));
    {
        json_t *big = json_object();
        char name[16];
        for (int i = 0; i != 100; ++i) {
            snprintf(name, sizeof(name), "k%d", i);
            json_object_set_new(big, name, json_string("0123456789012345678901234567890123456789012345678901234567890123456789"));
        }
        c.data = big;
        CHECK_NULL(kve_session_jwt_mint(k, strlen(k), &c, err, sizeof(err)));
        CHECK(strstr(err, "too large") != NULL);
        json_decref(big);
    }
}

void kve_suite_session_es256(void)
{
    RUN(hs256_mint);
    RUN(hash_matches_openssl);
    RUN(es256_key_load);
    RUN(es256_roundtrip);
    RUN(es256_confusion_s8);
    RUN(jwt_cache);
    RUN(jwks_document);
}
