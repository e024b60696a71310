/* SPDX-License-Identifier: MIT */
/* The libjwt 1.10.2 guards (see jwt_guard.h). */
#include "handlers/jwt_guard.h"

#include <stdlib.h>
#include <string.h>

int kve_jwt_well_formed(const char *t, size_t len)
{
    size_t i, dots = 0, last_dot = 0;
    if (len < 5 || len > KVE_JWT_GUARD_MAX)
        return 0;
    for (i = 0; i != len; ++i) {
        char c = t[i];
        if (c == '.') {
            ++dots;
            last_dot = i;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return dots == 2 && last_dot + 1 < len && t[0] != '.';
}

jwt_t *kve_jwt_decode_hs256(const char *token, size_t len, const void *key, size_t keylen, const char **why)
{
    return kve_jwt_decode_pinned(token, len, key, keylen, JWT_ALG_HS256, why);
}

jwt_t *kve_jwt_decode_pinned(const char *token, size_t len, const void *key, size_t keylen, jwt_alg_t want, const char **why)
{
    char copy[KVE_JWT_GUARD_MAX + 1];
    jwt_t *jwt = NULL;
    const char *alg;

    if (key == NULL || keylen == 0 || keylen > INT32_MAX) { /* a NULL or empty key turns verification off in libjwt */
        *why = "no JWT key";
        return NULL;
    }
    if (!kve_jwt_well_formed(token, len)) {
        *why = "not a well-formed JWT";
        return NULL;
    }
    memcpy(copy, token, len);
    copy[len] = '\0';
    if (jwt_decode(&jwt, copy, key, (int)keylen) != 0) {
        *why = "bad signature or encoding";
        return NULL;
    }
    alg = jwt_get_header(jwt, "alg");
    if (jwt_get_alg(jwt) != want || alg == NULL || strcmp(alg, jwt_alg_str(want)) != 0) {
        *why = want == JWT_ALG_HS256 ? "algorithm is not HS256" : "algorithm is not the one pinned";
        jwt_free(jwt);
        return NULL;
    }
    return jwt;
}

json_t *kve_jwt_claims(jwt_t *jwt)
{
    char *text = jwt_get_grants_json(jwt, NULL);
    json_t *claims = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (claims != NULL && !json_is_object(claims)) {
        json_decref(claims);
        return NULL;
    }
    return claims;
}

int kve_jwt_int_claim(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 1;
}

int64_t kve_jwt_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}
