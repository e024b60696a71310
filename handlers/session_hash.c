/* SPDX-License-Identifier: MIT */
/* SHA-256 and HMAC-SHA256 with the digest fetched once (see session_hash.h). */
#include "handlers/session_hash.h"
#include "proxy/common.h"

#include <pthread.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define BLOCK 64
#define MAX_MSG 4096

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
    uint8_t k[BLOCK] = {0}, buf[BLOCK + MAX_MSG], inner[KVE_SHA256_LEN];
    size_t i;

    KVE_ASSERT(len <= MAX_MSG);
    if (klen > BLOCK)
        kve_session_sha256(key, klen, k);
    else if (klen != 0)
        memcpy(k, key, klen);
    for (i = 0; i != BLOCK; ++i)
        buf[i] = k[i] ^ 0x36;
    memcpy(buf + BLOCK, msg, len);
    kve_session_sha256(buf, BLOCK + len, inner);
    for (i = 0; i != BLOCK; ++i)
        buf[i] = k[i] ^ 0x5c;
    memcpy(buf + BLOCK, inner, sizeof(inner));
    kve_session_sha256(buf, BLOCK + sizeof(inner), out);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(buf, BLOCK);
}
