/* SPDX-License-Identifier: MIT */
/* The ES256 signing key (see session_es256.h), with OpenSSL 3's EVP_PKEY parameters. */
#include "handlers/session_es256.h"
#include "handlers/session_cookie.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

struct st_kve_es256_key_t {
    /** parsed once; only read afterwards (signing makes its own contexts) */
    EVP_PKEY *pkey;
    char *pem;
    size_t pem_len;
    char *public_pem;
    size_t public_pem_len;
    char kid[KVE_ES256_KID_LEN + 1];
    char *jwk;
    uint8_t secret[32];
};

/* never prompts for a passphrase: an encrypted key fails to load instead of waiting on the terminal */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static EVP_PKEY *parse_private(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    return pkey;
}

static int is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen))
        return 0;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* a BIGNUM parameter as 32 big-endian bytes, base64url (43 chars and a NUL); -1 if it is missing or too long */
static int coordinate(EVP_PKEY *pkey, const char *name, char out[KVE_ES256_KID_LEN + 1])
{
    BIGNUM *bn = NULL;
    uint8_t bytes[32];
    int ok = EVP_PKEY_get_bn_param(pkey, name, &bn) && BN_bn2binpad(bn, bytes, sizeof(bytes)) == sizeof(bytes);
    BN_free(bn);
    if (!ok)
        return -1;
    out[kve_base64url_encode(out, bytes, sizeof(bytes))] = '\0';
    return 0;
}

static int public_parts(kve_es256_key_t *key, EVP_PKEY *pkey)
{
    char x[KVE_ES256_KID_LEN + 1], y[KVE_ES256_KID_LEN + 1], thumb[160], jwk[320];
    uint8_t digest[SHA256_DIGEST_LENGTH];
    BIO *bio;
    char *text;
    long n;

    if (coordinate(pkey, OSSL_PKEY_PARAM_EC_PUB_X, x) != 0 || coordinate(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, y) != 0)
        return -1;
    /* RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace */
    snprintf(thumb, sizeof(thumb), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    SHA256((const uint8_t *)thumb, strlen(thumb), digest);
    key->kid[kve_base64url_encode(key->kid, digest, sizeof(digest))] = '\0';
    snprintf(jwk, sizeof(jwk),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\",\"use\":\"sig\",\"alg\":\"ES256\"}", x, y,
             key->kid);
    key->jwk = kve_strdup(jwk);
    if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_PUBKEY(bio, pkey) || (n = BIO_get_mem_data(bio, &text)) <= 0) {
        BIO_free(bio);
        return -1;
    }
    key->public_pem = kve_malloc((size_t)n + 1);
    memcpy(key->public_pem, text, (size_t)n);
    key->public_pem[n] = '\0';
    key->public_pem_len = (size_t)n;
    BIO_free(bio);
    return 0;
}

static int private_secret(kve_es256_key_t *key, EVP_PKEY *pkey)
{
    static const char label[] = "kvedge session es256 secret v1";
    BIGNUM *d = NULL;
    uint8_t buf[sizeof(label) - 1 + 32];
    int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) && BN_bn2binpad(d, buf + sizeof(label) - 1, 32) == 32;

    BN_clear_free(d);
    memcpy(buf, label, sizeof(label) - 1);
    if (ok)
        SHA256(buf, sizeof(buf), key->secret);
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok ? 0 : -1;
}

kve_es256_key_t *kve_es256_key_load(const char *pem, size_t len, char *err, size_t errlen)
{
    kve_es256_key_t *key = NULL;
    EVP_PKEY *pkey;

    if (len == 0 || len > KVE_ES256_PEM_MAX) {
        snprintf(err, errlen, "the ES256 key must be a PEM text of 1 to %d bytes", KVE_ES256_PEM_MAX);
        return NULL;
    }
    if ((pkey = parse_private(pem, len)) == NULL) {
        snprintf(err, errlen,
                 "not an unencrypted PEM private key (e.g. openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)");
        return NULL;
    }
    if (!is_p256(pkey)) {
        snprintf(err, errlen, "ES256 needs a P-256 (prime256v1) EC key");
        goto Exit;
    }
    key = kve_zalloc(sizeof(*key));
    key->pem = kve_malloc(len + 1);
    memcpy(key->pem, pem, len);
    key->pem[len] = '\0';
    key->pem_len = len;
    key->pkey = pkey;
    pkey = NULL;
    if (public_parts(key, key->pkey) != 0 || private_secret(key, key->pkey) != 0) {
        snprintf(err, errlen, "cannot read the EC key's parameters");
        kve_es256_key_free(key);
        key = NULL;
    }
Exit:
    EVP_PKEY_free(pkey);
    return key;
}

void kve_es256_key_free(kve_es256_key_t *key)
{
    if (key == NULL)
        return;
    if (key->pem != NULL)
        OPENSSL_cleanse(key->pem, key->pem_len);
    free(key->pem);
    free(key->public_pem);
    free(key->jwk);
    EVP_PKEY_free(key->pkey);
    OPENSSL_cleanse(key->secret, sizeof(key->secret));
    free(key);
}

int kve_es256_sign(const kve_es256_key_t *key, const void *input, size_t len, uint8_t sig[KVE_ES256_SIG_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80]; /* a DER ECDSA-Sig-Value of P-256 takes at most 72 bytes */
    size_t derlen = sizeof(der);
    const uint8_t *p = der;
    ECDSA_SIG *ecsig = NULL;
    int ret = -1;

    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1 ||
        EVP_DigestSign(md, der, &derlen, input, len) != 1 || (ecsig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
        goto Exit;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(ecsig), sig, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(ecsig), sig + 32, 32) == 32)
        ret = 0;
Exit:
    ECDSA_SIG_free(ecsig);
    EVP_MD_CTX_free(md);
    return ret;
}

const char *kve_es256_key_pem(const kve_es256_key_t *key, size_t *len)
{
    *len = key->pem_len;
    return key->pem;
}

const char *kve_es256_key_public_pem(const kve_es256_key_t *key, size_t *len)
{
    *len = key->public_pem_len;
    return key->public_pem;
}

const char *kve_es256_key_kid(const kve_es256_key_t *key)
{
    return key->kid;
}

const char *kve_es256_key_jwk(const kve_es256_key_t *key)
{
    return key->jwk;
}

void kve_es256_key_secret(const kve_es256_key_t *key, uint8_t out[32])
{
    memcpy(out, key->secret, sizeof(key->secret));
}
