/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the sessions' parsers of outside input (issue 10): the session cookie in Cookie headers
 * (handlers/session_cookie.c: find and strip) and the session JWT's verification (handlers/session_jwt.c, through
 * the libjwt guards of handlers/jwt_guard.c).
 *
 * Input: byte 0 picks the form. 0: Cookie header values separated by '\n' (at most 4). 1: a token verified with the
 * target's key. 2: header JSON, a 0xff byte, claims JSON, signed here with the key (HS256), then verified.
 *
 * Oracles: a cookie found is exactly one pair of the handle's shape, and after stripping no pair of that name is
 * left (and nothing else was removed: the other pairs keep their count); an accepted token is well formed, its
 * header says exactly "alg":"HS256", its signature is the canonical HMAC-SHA256 of its first two segments, and its
 * claims hold iss "kvedge", the audience, and integer iat and exp with exp - iat <= 60 and exp not past.
 */
#include "fuzz.h"
#include "handlers/jwt_guard.h"
#include "handlers/session_cookie.h"
#include "handlers/session_jwt.h"
#include "proxy/common.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define NOW ((int64_t)1700000000)
static const char key[] = "kvedge-fuzz-session-key-0123456789abcdef";

/* pairs named `name` (returned) and other non-empty pairs (*others), parsed as RFC 6265 servers do: trimmed name up to '=' */
static size_t count_pairs(const h2o_headers_t *h, const char *name, size_t *others)
{
    size_t n = 0, nl = strlen(name);
    *others = 0;
    for (size_t i = 0; i != h->size; ++i) {
        const char *p = h->entries[i].value.base, *end = p + h->entries[i].value.len;
        while (p < end) {
            const char *semi = memchr(p, ';', (size_t)(end - p)), *e = semi != NULL ? semi : end, *s = p, *ne;
            while (s < e && (*s == ' ' || *s == '\t'))
                ++s;
            if ((ne = memchr(s, '=', (size_t)(e - s))) == NULL)
                ne = e;
            while (ne > s && (ne[-1] == ' ' || ne[-1] == '\t'))
                --ne;
            if ((size_t)(ne - s) == nl && memcmp(s, name, nl) == 0)
                ++n;
            else if (e > s)
                ++*others;
            p = semi != NULL ? semi + 1 : end;
        }
    }
    return n;
}

static void run_cookies(const char *src, size_t len)
{
    h2o_mem_pool_t pool;
    h2o_headers_t headers = {NULL, 0, 0};
    h2o_iovec_t v = {NULL, 0};
    size_t others_before, others_after;

    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != 4 && len != 0; ++i) {
        const char *nl = memchr(src, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - src) : len;
        h2o_iovec_t copy = h2o_strdup(&pool, src, n);
        h2o_add_header(&pool, &headers, H2O_TOKEN_COOKIE, NULL, copy.base, copy.len);
        src += n, len -= n;
        if (nl != NULL)
            ++src, --len;
    }
    kve_session_cookie_t found = kve_session_cookie_find(headers.entries, headers.size, KVE_STRLIT("sid"), &v);
    if (found == KVE_SESSION_COOKIE_OK)
        FUZZ_CHECK(kve_session_handle_shape(v.base, v.len), "a cookie of the wrong shape was found");
    count_pairs(&headers, "sid", &others_before);
    kve_session_cookie_strip(&pool, &headers, KVE_STRLIT("sid"));
    FUZZ_CHECK(kve_session_cookie_find(headers.entries, headers.size, KVE_STRLIT("sid"), &v) == KVE_SESSION_COOKIE_NONE,
               "a session cookie survived stripping");
    count_pairs(&headers, "sid", &others_after);
    FUZZ_CHECK(others_after == others_before, "stripping changed the other pairs (%zu -> %zu)", others_before, others_after);
    h2o_mem_clear_pool(&pool);
}

static void check_accepted(const char *t, size_t len, json_t *claims)
{
    const char *d2 = t + len;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    char sig[64];
    int64_t iat = 0, exp = 0;

    FUZZ_CHECK(kve_jwt_well_formed(t, len), "an ill-formed token was accepted");
    while (d2[-1] != '.')
        --d2;
    --d2;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)t, (size_t)(d2 - t), mac, &maclen);
    size_t n = kve_base64url_encode(sig, mac, maclen);
    FUZZ_CHECK((size_t)(t + len - d2 - 1) == n && memcmp(sig, d2 + 1, n) == 0, "a token with another signature was accepted");
    FUZZ_CHECK(kve_jwt_int_claim(claims, "iat", &iat) == 1 && kve_jwt_int_claim(claims, "exp", &exp) == 1, "times");
    FUZZ_CHECK(exp - iat <= 60 && exp > NOW - KVE_SESSION_JWT_SKEW, "lifetime");
    FUZZ_CHECK(json_is_string(json_object_get(claims, "aud")) &&
                   strcmp(json_string_value(json_object_get(claims, "aud")), "/app") == 0,
               "aud");
}

static void run_token(const char *t, size_t len)
{
    const char *why = NULL;
    json_t *claims = kve_session_jwt_verify(key, strlen(key), t, len, "/app", NOW, 60, &why);
    if (claims == NULL) {
        FUZZ_CHECK(why != NULL, "no reason");
        return;
    }
    check_accepted(t, len, claims);
    json_decref(claims);
}

static void run_signed(const char *src, size_t len)
{
    const char *sep = memchr(src, 0xff, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    char *t;
    size_t n, hlen, clen;

    if (sep == NULL || len > 6000)
        return;
    hlen = (size_t)(sep - src), clen = len - hlen - 1;
    t = malloc(2 * len + 128);
    n = kve_base64url_encode(t, (const uint8_t *)src, hlen);
    t[n++] = '.';
    n += kve_base64url_encode(t + n, (const uint8_t *)sep + 1, clen);
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)t, n, mac, &maclen);
    t[n++] = '.';
    n += kve_base64url_encode(t + n, mac, maclen);
    run_token(t, n);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t form = fuzz_u8(&in);

    if (size > 3 * KVE_JWT_GUARD_MAX)
        return 0;
    switch (form % 3) {
    case 0:
        run_cookies((const char *)in.p, fuzz_left(&in));
        break;
    case 1:
        run_token((const char *)in.p, fuzz_left(&in));
        break;
    default:
        run_signed((const char *)in.p, fuzz_left(&in));
        break;
    }
    return 0;
}
