/* SPDX-License-Identifier: MIT */
/* Session JWTs: minting and verification (see session_jwt.h). */
#include "handlers/session_jwt.h"
#include "handlers/jwt_guard.h"
#include "handlers/session_cookie.h"
#include "handlers/session_es256.h"
#include "handlers/session_hash.h"
#include "proxy/common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jwt.h>
#include <openssl/rand.h>

/* the claims as compact JSON (malloc'd), never empty: iss, aud and iat are always there */
static char *claims_json(const kve_session_claims_t *c)
{
    json_t *o = json_object();
    uint8_t rnd[16];
    char jti[24];
    char *text;

    KVE_ASSERT(RAND_bytes(rnd, sizeof(rnd)) == 1);
    jti[kve_base64url_encode(jti, rnd, sizeof(rnd))] = '\0';
    json_object_set_new(o, "iss", json_string(KVE_SESSION_JWT_ISSUER));
    json_object_set_new(o, "aud", json_string(c->aud));
    if (c->sub != NULL)
        json_object_set_new(o, "sub", json_stringn(c->sub, strlen(c->sub)));
    json_object_set_new(o, "sid", json_string(c->sid));
    json_object_set_new(o, "sver", json_integer(c->sver));
    if (c->auth_time != 0)
        json_object_set_new(o, "auth_time", json_integer(c->auth_time));
    json_object_set_new(o, "iat", json_integer(c->iat));
    json_object_set_new(o, "exp", json_integer(c->iat + c->ttl_sec));
    json_object_set_new(o, "jti", json_string(jti));
    if (c->data != NULL)
        json_object_set(o, "data", c->data);
    else
        json_object_set_new(o, "data", json_object());
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

char *kve_session_jwt_sign(jwt_alg_t alg, const void *key, size_t keylen, const char *kid, const kve_session_claims_t *c, char *err,
                           size_t errlen)
{
    jwt_t *jwt = NULL;
    char *text = NULL, *out = NULL;

    if (key == NULL || keylen < KVE_SESSION_JWT_MIN_KEY || keylen > INT32_MAX) { /* libjwt signs with an empty key */
        snprintf(err, errlen, "the session JWT key must be at least %d bytes", KVE_SESSION_JWT_MIN_KEY);
        return NULL;
    }
    if ((alg != JWT_ALG_HS256 && alg != JWT_ALG_ES256) || (text = claims_json(c)) == NULL || jwt_new(&jwt) != 0) {
        snprintf(err, errlen, "cannot build the JWT");
        goto Exit;
    }
    if (jwt_add_grants_json(jwt, text) != 0 || (kid != NULL && jwt_add_header(jwt, "kid", kid) != 0) ||
        jwt_set_alg(jwt, alg, key, (int)keylen) != 0) {
        snprintf(err, errlen, "cannot build the JWT: %s", strerror(errno));
        goto Exit;
    }
    if ((out = jwt_encode_str(jwt)) == NULL) {
        snprintf(err, errlen, "cannot encode the JWT");
    } else if (strlen(out) > KVE_SESSION_JWT_MAX) {
        snprintf(err, errlen, "the JWT would take %zu bytes (the session's data is too large for it)", strlen(out));
        free(out);
        out = NULL;
    }
Exit:
    free(text);
    jwt_free(jwt);
    return out;
}

/* base64url of `len` bytes appended at out[*n] */
static void append_b64(char *out, size_t *n, const void *src, size_t len)
{
    *n += kve_base64url_encode(out + *n, src, len);
}

/* how a compact token is signed: HS256 with a secret, or ES256 with a parsed key */
typedef struct st_signer_t {
    const void *hs_key;
    size_t hs_keylen;
    const kve_es256_key_t *es_key;
} signer_t;

/* "<b64 header>.<b64 claims>.<b64 signature>" for `header` (JSON text) and the claims of `c` (malloc'd), or NULL */
static char *compact(const char *header, const signer_t *signer, const kve_session_claims_t *c, char *err, size_t errlen)
{
    char *claims = claims_json(c), *out;
    uint8_t sig[KVE_ES256_SIG_LEN > KVE_SHA256_LEN ? KVE_ES256_SIG_LEN : KVE_SHA256_LEN];
    size_t hlen = strlen(header), clen, n = 0, siglen = signer->es_key != NULL ? KVE_ES256_SIG_LEN : KVE_SHA256_LEN;

    if (claims == NULL) {
        snprintf(err, errlen, "cannot build the JWT");
        return NULL;
    }
    clen = strlen(claims);
    out = kve_malloc((hlen * 4 + 2) / 3 + 1 + (clen * 4 + 2) / 3 + 1 + (sizeof(sig) * 4 + 2) / 3 + 1);
    append_b64(out, &n, header, hlen);
    out[n++] = '.';
    append_b64(out, &n, claims, clen);
    free(claims);
    if (signer->es_key != NULL) {
        if (kve_es256_sign(signer->es_key, out, n, sig) != 0) {
            snprintf(err, errlen, "cannot sign the JWT (OpenSSL)");
            free(out);
            return NULL;
        }
    } else {
        kve_session_hmac_sha256(signer->hs_key, signer->hs_keylen, out, n, sig);
    }
    out[n++] = '.';
    append_b64(out, &n, sig, siglen);
    out[n] = '\0';
    if (n > KVE_SESSION_JWT_MAX) {
        snprintf(err, errlen, "the JWT would take %zu bytes (the session's data is too large for it)", n);
        free(out);
        return NULL;
    }
    return out;
}

char *kve_session_jwt_mint(const void *key, size_t keylen, const kve_session_claims_t *c, char *err, size_t errlen)
{
    signer_t signer = {key, keylen, NULL};
    if (key == NULL || keylen < KVE_SESSION_JWT_MIN_KEY) { /* never an empty or short key */
        snprintf(err, errlen, "the session JWT key must be at least %d bytes", KVE_SESSION_JWT_MIN_KEY);
        return NULL;
    }
    return compact("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", &signer, c, err, errlen);
}

char *kve_session_jwt_mint_es256(const kve_es256_key_t *key, const kve_session_claims_t *c, char *err, size_t errlen)
{
    signer_t signer = {NULL, 0, key};
    char header[96];
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kve_es256_key_kid(key));
    return compact(header, &signer, c, err, errlen);
}

static const char *check_claims(json_t *claims, const char *aud, int64_t now, int64_t max_ttl_sec)
{
    int64_t exp = 0, iat = 0, nbf = 0;
    int has_iat = kve_jwt_int_claim(claims, "iat", &iat), has_nbf = kve_jwt_int_claim(claims, "nbf", &nbf);
    json_t *iss = json_object_get(claims, "iss"), *a = json_object_get(claims, "aud");

    if (kve_jwt_int_claim(claims, "exp", &exp) != 1)
        return "exp is missing or not an integer";
    if (has_iat != 1 || has_nbf < 0)
        return "iat is missing, or iat or nbf is not an integer";
    if (exp <= kve_jwt_sat_add(now, -KVE_SESSION_JWT_SKEW))
        return "expired";
    if (iat > kve_jwt_sat_add(now, KVE_SESSION_JWT_SKEW) || (has_nbf && nbf > kve_jwt_sat_add(now, KVE_SESSION_JWT_SKEW)))
        return "not valid yet";
    if (exp > kve_jwt_sat_add(iat, max_ttl_sec))
        return "lifetime longer than allowed";
    if (!json_is_string(iss) || strcmp(json_string_value(iss), KVE_SESSION_JWT_ISSUER) != 0)
        return "wrong iss";
    if (!json_is_string(a) || strcmp(json_string_value(a), aud) != 0)
        return "wrong aud";
    return NULL;
}

json_t *kve_session_jwt_verify(const void *key, size_t keylen, const char *token, size_t len, const char *aud, int64_t now,
                               int64_t max_ttl_sec, const char **why)
{
    return kve_session_jwt_verify_alg(JWT_ALG_HS256, key, keylen, token, len, aud, now, max_ttl_sec, why);
}

json_t *kve_session_jwt_verify_alg(jwt_alg_t alg, const void *key, size_t keylen, const char *token, size_t len, const char *aud,
                                   int64_t now, int64_t max_ttl_sec, const char **why)
{
    jwt_t *jwt;
    json_t *claims;

    if (key == NULL || keylen < KVE_SESSION_JWT_MIN_KEY) {
        *why = "no JWT key";
        return NULL;
    }
    if ((jwt = kve_jwt_decode_pinned(token, len, key, keylen, alg, why)) == NULL)
        return NULL;
    claims = kve_jwt_claims(jwt);
    jwt_free(jwt);
    if (claims == NULL) {
        *why = "claims are not a JSON object";
        return NULL;
    }
    if ((*why = check_claims(claims, aud, now, max_ttl_sec)) != NULL) {
        json_decref(claims);
        return NULL;
    }
    return claims;
}
