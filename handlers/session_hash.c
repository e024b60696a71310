/* SPDX-License-Identifier: MIT */
/* SHA-256 and HMAC-SHA256 with the digest fetched once (see session_hash.h). */
#include "handlers/session_hash.h"
#include "proxy/common.h"

#include <pthread.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define BLOCK 64

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* fetched once, for the process's life */

static void fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    KVE_ASSERT(sha256_md != NULL);
}

void kve_session_sha256(const void *data, size_t len, uint8_t out[KVE_SHA256_LEN])
{
    unsigned n = 0;
    pthread_once(&once, fetch);
    KVE_ASSERT(EVP_Digest(data, len, out, &n, sha256_md, NULL) == 1 && n == KVE_SHA256_LEN);
}

void kve_session_hmac_sha256(const void *key, size_t klen, const void *msg, size_t len, uint8_t out[KVE_SHA256_LEN])
{
    uint8_t k[BLOCK] = {0}, pad[BLOCK], inner[KVE_SHA256_LEN];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned n = 0;
    size_t i;

    pthread_once(&once, fetch);
    KVE_ASSERT(ctx != NULL);
    if (klen > BLOCK)
        kve_session_sha256(key, klen, k);
    else if (klen != 0)
        memcpy(k, key, klen);
    for (i = 0; i != BLOCK; ++i)
        pad[i] = k[i] ^ 0x36;
    KVE_ASSERT(EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, BLOCK) == 1 &&
               EVP_DigestUpdate(ctx, msg, len) == 1 && EVP_DigestFinal_ex(ctx, inner, &n) == 1);
    for (i = 0; i != BLOCK; ++i)
        pad[i] = k[i] ^ 0x5c;
    KVE_ASSERT(EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, BLOCK) == 1 &&
               EVP_DigestUpdate(ctx, inner, sizeof(inner)) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1);
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
}
