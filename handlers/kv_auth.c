/* SPDX-License-Identifier: MIT */
/* Token checks and JWT minting/verification for the KV REST API (see kv_auth.h). */
#include "handlers/kv_auth.h"
#include "handlers/jwt_guard.h"
#include "proxy/common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>

#define JWT_AUDIENCE "kvedge:kv"

struct st_kve_rest_auth_t {
    kve_rest_token_conf_t *tokens;
    size_t ntokens;
    char *jwt_key;
    size_t jwt_key_len;
    uint64_t jwt_max_ttl;
    char **who; /* "token <name>" per static token */
};

kve_rest_auth_t *kve_rest_auth_new(const kve_rest_token_conf_t *tokens, size_t ntokens, const char *jwt_key, uint64_t jwt_max_ttl)
{
    kve_rest_auth_t *a = kve_zalloc(sizeof(*a));
    size_t i;

    a->tokens = kve_zalloc(sizeof(*a->tokens) * KVE_MAX(ntokens, 1));
    a->who = kve_zalloc(sizeof(*a->who) * KVE_MAX(ntokens, 1));
    for (i = 0; i != ntokens; ++i) {
        char buf[160];
        a->tokens[i].token = kve_strdup(tokens[i].token);
        a->tokens[i].read_only = tokens[i].read_only;
        snprintf(buf, sizeof(buf), "token %s", tokens[i].name != NULL ? tokens[i].name : "#");
        if (tokens[i].name == NULL)
            snprintf(buf, sizeof(buf), "token #%zu", i + 1);
        a->who[i] = kve_strdup(buf);
    }
    a->ntokens = ntokens;
    a->jwt_max_ttl = jwt_max_ttl;
    if (jwt_key != NULL && jwt_key[0] != '\0') {
        a->jwt_key = kve_strdup(jwt_key);
        a->jwt_key_len = strlen(jwt_key);
    }
    return a;
}

void kve_rest_auth_free(kve_rest_auth_t *a)
{
    size_t i;
    if (a == NULL)
        return;
    for (i = 0; i != a->ntokens; ++i) {
        OPENSSL_cleanse(a->tokens[i].token, strlen(a->tokens[i].token));
        free(a->tokens[i].token);
        free(a->who[i]);
    }
    if (a->jwt_key != NULL) {
        OPENSSL_cleanse(a->jwt_key, a->jwt_key_len);
        free(a->jwt_key);
    }
    free(a->tokens);
    free(a->who);
    free(a);
}

/* copies `text` into `who` (truncated): the accepted path runs per request, where snprintf cost ~600 instructions */
static void set_who(char *who, size_t wholen, const char *text)
{
    size_t n = KVE_MIN(strlen(text), wholen - 1);
    memcpy(who, text, n);
    who[n] = '\0';
}

int kve_rest_auth_check(const kve_rest_auth_t *a, const char *token, size_t len, time_t now, char *who, size_t wholen)
{
    size_t i;
    int access = KVE_ACCESS_NONE;
    const char *name = NULL;
    char err[128];

    if (len == 0 || len > KVE_TOKEN_MAX) {
        set_who(who, wholen, len == 0 ? "empty token" : "token too long");
        return KVE_ACCESS_NONE;
    }
    /* every static token is compared, so the time taken does not tell which one matched */
    for (i = 0; i != a->ntokens; ++i) {
        if (kve_secure_equal(token, len, a->tokens[i].token, strlen(a->tokens[i].token)) && access == KVE_ACCESS_NONE) {
            access = a->tokens[i].read_only ? KVE_ACCESS_READ_ONLY : KVE_ACCESS_READ_WRITE;
            name = a->who[i];
        }
    }
    if (access != KVE_ACCESS_NONE) {
        set_who(who, wholen, name);
    } else if (a->jwt_key == NULL || memchr(token, '.', len) == NULL) {
        set_who(who, wholen, "unknown token");
    } else if ((access = kve_rest_jwt_verify(a->jwt_key, token, len, now, a->jwt_max_ttl, err, sizeof(err))) != KVE_ACCESS_NONE) {
        set_who(who, wholen, "jwt");
    } else {
        snprintf(who, wholen, "jwt refused: %s", err);
    }
    return access;
}

char *kve_rest_jwt_mint(const char *key, int access, uint64_t ttl_sec, const char *sub, time_t now, char *err, size_t errlen)
{
    jwt_t *jwt = NULL;
    char *out = NULL;

    if (key == NULL || strlen(key) < KVE_JWT_MIN_KEY) {
        snprintf(err, errlen, "the JWT key (kv.jwt_key) must be at least %d bytes", KVE_JWT_MIN_KEY);
        return NULL;
    }
    if (ttl_sec == 0 || ttl_sec > KVE_JWT_TTL_LIMIT) { /* bounded, so now + ttl_sec cannot overflow */
        snprintf(err, errlen, "the token lifetime must be from 1s to %dd", KVE_JWT_TTL_LIMIT / 86400);
        return NULL;
    }
    if (jwt_new(&jwt) != 0)
        goto Error;
    if (jwt_add_grant(jwt, "aud", JWT_AUDIENCE) != 0 ||
        jwt_add_grant(jwt, "access", access == KVE_ACCESS_READ_ONLY ? "ro" : "rw") != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now) != 0 || jwt_add_grant_int(jwt, "exp", (long)(now + (time_t)ttl_sec)) != 0 ||
        (sub != NULL && jwt_add_grant(jwt, "sub", sub) != 0) ||
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)key, (int)strlen(key)) != 0)
        goto Error;
    out = jwt_encode_str(jwt);
    jwt_free(jwt);
    if (out == NULL)
        snprintf(err, errlen, "cannot encode the JWT");
    return out;
Error:
    snprintf(err, errlen, "cannot build the JWT: %s", strerror(errno));
    jwt_free(jwt);
    return NULL;
}

/* exp (required), nbf and iat (optional) against `now` and the lifetime cap; returns NULL or why not */
static const char *check_times(json_t *claims, int64_t now, uint64_t max_ttl)
{
    int64_t exp = 0, nbf = 0, iat = 0, span = (int64_t)KVE_MIN(max_ttl, (uint64_t)KVE_JWT_TTL_LIMIT) + KVE_JWT_SKEW_SEC;
    int has_nbf = kve_jwt_int_claim(claims, "nbf", &nbf), has_iat = kve_jwt_int_claim(claims, "iat", &iat);

    if (kve_jwt_int_claim(claims, "exp", &exp) != 1)
        return "exp is missing or not an integer";
    if (has_nbf < 0 || has_iat < 0)
        return "nbf or iat is not an integer";
    if (exp <= kve_jwt_sat_add(now, -KVE_JWT_SKEW_SEC))
        return "expired";
    if (exp > kve_jwt_sat_add(now, span))
        return "exp is further ahead than kv.jwt_max_ttl";
    if (has_nbf && nbf > kve_jwt_sat_add(now, KVE_JWT_SKEW_SEC))
        return "not valid yet (nbf)";
    if (has_iat && iat > kve_jwt_sat_add(now, KVE_JWT_SKEW_SEC))
        return "issued in the future (iat)";
    if (has_iat && exp > kve_jwt_sat_add(iat, span))
        return "lifetime (exp - iat) longer than kv.jwt_max_ttl";
    return NULL;
}

static int check_claims(jwt_t *jwt, time_t now, uint64_t max_ttl, char *err, size_t errlen)
{
    json_t *claims = kve_jwt_claims(jwt), *aud, *access;
    const char *why;
    int ret = KVE_ACCESS_NONE;

    if (claims == NULL) {
        snprintf(err, errlen, "claims are not a JSON object");
        goto Exit;
    }
    aud = json_object_get(claims, "aud"), access = json_object_get(claims, "access");
    if ((why = check_times(claims, (int64_t)now, max_ttl)) != NULL) {
        snprintf(err, errlen, "%s", why);
    } else if (!json_is_string(aud) || strcmp(json_string_value(aud), JWT_AUDIENCE) != 0) {
        snprintf(err, errlen, "aud is not %s", JWT_AUDIENCE);
    } else if (json_is_string(access) && strcmp(json_string_value(access), "rw") == 0) {
        ret = KVE_ACCESS_READ_WRITE;
    } else if (json_is_string(access) && strcmp(json_string_value(access), "ro") == 0) {
        ret = KVE_ACCESS_READ_ONLY;
    } else {
        snprintf(err, errlen, "access is not \"rw\" or \"ro\"");
    }
Exit:
    json_decref(claims);
    return ret;
}

int kve_rest_jwt_verify(const char *key, const char *token, size_t len, time_t now, uint64_t max_ttl, char *err, size_t errlen)
{
    jwt_t *jwt;
    const char *why;
    int access;

    if (key == NULL || strlen(key) < KVE_JWT_MIN_KEY) { /* a NULL or empty key turns verification off in libjwt */
        snprintf(err, errlen, "no JWT key");
        return KVE_ACCESS_NONE;
    }
    if ((jwt = kve_jwt_decode_hs256(token, len, key, strlen(key), &why)) == NULL) {
        snprintf(err, errlen, "%s", why);
        return KVE_ACCESS_NONE;
    }
    access = check_claims(jwt, now, max_ttl, err, errlen);
    jwt_free(jwt);
    return access;
}
