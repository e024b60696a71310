/* SPDX-License-Identifier: MIT */
/*
 * Tests for the sessions' pure parts (issue 10): the cookie (find, strip, shapes, Set-Cookie), handles and store keys
 * (slot tags, hashes, public ids), and the session JWT with the libjwt 1.10.2 traps of the research note's §2.2 as
 * rows: alg none / NONE / lowercase hs256, an empty key, a wrong key, a tampered payload, string / real / missing exp,
 * expired, wrong aud / iss, a token over 8 KiB, junk in the signature.
 */
#include "test.h"
#include "handlers/session_cookie.h"
#include "handlers/session_internal.h"
#include "handlers/session_jwt.h"
#include "proxy/common.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char key[] = "0123456789abcdef0123456789abcdef-session";
static const char handle[] = "AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789a";

static h2o_header_t cookie_header(const char *v)
{
    h2o_header_t h = {&H2O_TOKEN_COOKIE->buf, NULL, h2o_iovec_init(v, strlen(v))};
    return h;
}

TEST(handle_shape)
{
    char h[KVE_SESSION_HANDLE_LEN + 1];
    CHECK_EQ_UINT(strlen(handle), KVE_SESSION_HANDLE_LEN);
    CHECK(kve_session_handle_shape(handle, strlen(handle)));
    CHECK(!kve_session_handle_shape(handle, strlen(handle) - 1));
    CHECK(!kve_session_handle_shape("AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789=", KVE_SESSION_HANDLE_LEN));
    CHECK(!kve_session_handle_shape("AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_012345678+a", KVE_SESSION_HANDLE_LEN));
    kve_session_new_handle(h, NULL);
    CHECK(kve_session_handle_shape(h, strlen(h)));
}

TEST(handles_are_unique_and_tagged)
{
    char a[KVE_SESSION_HANDLE_LEN + 1], b[KVE_SESSION_HANDLE_LEN + 1];
    uint8_t t1[KVE_SESSION_TAG_BYTES], t2[KVE_SESSION_TAG_BYTES], t3[KVE_SESSION_TAG_BYTES];
    kve_session_user_tag((const uint8_t *)key, 32, "u1", 2, t1);
    kve_session_user_tag((const uint8_t *)key, 32, "u1", 2, t2);
    kve_session_user_tag((const uint8_t *)key, 32, "u2", 2, t3);
    CHECK(memcmp(t1, t2, sizeof(t1)) == 0);
    CHECK(memcmp(t1, t3, sizeof(t1)) != 0);
    kve_session_new_handle(a, t1);
    kve_session_new_handle(b, t1);
    CHECK(memcmp(a, b, KVE_SESSION_TAG_CHARS) == 0);                                                    /* one slot per user */
    CHECK(memcmp(a + KVE_SESSION_TAG_CHARS, b + KVE_SESSION_TAG_CHARS, KVE_SESSION_SECRET_CHARS) != 0); /* fresh secrets */
}

TEST(key_and_pid)
{
    char k[KVE_SESSION_KEY_SIZE], pid[KVE_SESSION_PID_SIZE];
    kve_session_key(k, handle);
    CHECK_EQ_UINT(strlen(k), KVE_SESSION_KEY_SIZE - 1);
    CHECK(strncmp(k, "kvs1:{AAAAAAAAAAA}:s:", 21) == 0);
    CHECK(strstr(k, handle + KVE_SESSION_TAG_CHARS) == NULL); /* the secret is not in the key */
    kve_session_pid(pid, (const uint8_t *)key, 32, handle);
    CHECK_EQ_UINT(strlen(pid), 32);
    CHECK(strstr(k, pid) == NULL);
}

TEST(owned_fields)
{
    static const char *const owned[] = {"x-session-jwt", "X-Session-User", "x_session_user", "X_SESSION-LOGIN", "x-session-"};
    static const char *const other[] = {"x-session", "x-sessionx-a", "session-jwt", "x-sess", "authorization", ""};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(owned); ++i)
        CHECK(kve_session__owned_field(h2o_iovec_init(owned[i], strlen(owned[i]))));
    for (size_t i = 0; i != KVE_ARRAY_SIZE(other); ++i)
        CHECK(!kve_session__owned_field(h2o_iovec_init(other[i], strlen(other[i]))));
}

TEST(cookie_find)
{
    char one[128], two[256];
    h2o_iovec_t v = {NULL, 0};
    h2o_header_t h[2];

    snprintf(one, sizeof(one), "a=1; __Host-sid=%s; b=2", handle);
    h[0] = cookie_header(one);
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_OK);
    CHECK_EQ_MEM(v.base, v.len, handle, strlen(handle));
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("sid"), &v), KVE_SESSION_COOKIE_NONE);
    /* twice, in one header or across two (HTTP/2 splits cookies): never "pick one" */
    snprintf(two, sizeof(two), "__Host-sid=%s;__Host-sid=%s", handle, handle);
    h[0] = cookie_header(two);
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_INVALID);
    h[0] = cookie_header(one), h[1] = cookie_header(one);
    CHECK_EQ_INT(kve_session_cookie_find(h, 2, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_INVALID);
    /* truncated, extended, a foreign character, empty */
    h[0] = cookie_header("__Host-sid=AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789");
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_INVALID);
    h[0] = cookie_header("__Host-sid=AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789ab");
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_INVALID);
    h[0] = cookie_header("__Host-sid=AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789.");
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_INVALID);
    h[0] = cookie_header("__Host-sid=");
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_INVALID);
    h[0] = cookie_header("__Host-sid");
    CHECK_EQ_INT(kve_session_cookie_find(h, 1, KVE_STRLIT("__Host-sid"), &v), KVE_SESSION_COOKIE_INVALID);
}

TEST(cookie_strip)
{
    h2o_mem_pool_t pool;
    h2o_headers_t headers = {NULL, 0, 0};
    char one[128];

    h2o_mem_init_pool(&pool);
    snprintf(one, sizeof(one), "a=1; __Host-sid=%s; flag; b=2", handle);
    h2o_add_header(&pool, &headers, H2O_TOKEN_COOKIE, NULL, one, strlen(one));
    h2o_add_header(&pool, &headers, H2O_TOKEN_COOKIE, NULL, H2O_STRLIT("__Host-sid=x"));
    h2o_add_header(&pool, &headers, H2O_TOKEN_ACCEPT, NULL, H2O_STRLIT("*/*"));
    CHECK_EQ_UINT(kve_session_cookie_strip(&pool, &headers, KVE_STRLIT("__Host-sid")), 2);
    CHECK_EQ_UINT(headers.size, 2);
    CHECK_EQ_MEM(headers.entries[0].value.base, headers.entries[0].value.len, "a=1; flag; b=2", 14);
    CHECK(headers.entries[1].name == &H2O_TOKEN_ACCEPT->buf);
    CHECK_EQ_UINT(kve_session_cookie_strip(&pool, &headers, KVE_STRLIT("__Host-sid")), 0);
    h2o_mem_clear_pool(&pool);
}

TEST(set_cookie)
{
    h2o_mem_pool_t pool;
    h2o_iovec_t v;
    char want[200];

    h2o_mem_init_pool(&pool);
    v = kve_session_set_cookie(&pool, "__Host-sid", handle, KVE_SAME_SITE_LAX, 1);
    snprintf(want, sizeof(want), "__Host-sid=%s; Path=/; Secure; HttpOnly; SameSite=Lax", handle);
    CHECK_EQ_MEM(v.base, v.len, want, strlen(want));
    v = kve_session_set_cookie(&pool, "sid", NULL, KVE_SAME_SITE_STRICT, 0);
    CHECK_EQ_MEM(v.base, v.len, "sid=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                 strlen("sid=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    h2o_mem_clear_pool(&pool);
}

/* a token with header `hdr` and payload `payload` (JSON texts), HMAC-SHA256 signed with `k` (NULL: signature `sig`) */
static char *forge(const char *hdr, const char *payload, const char *k, const char *sig)
{
    static char out[16384];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    size_t n = kve_base64url_encode(out, (const uint8_t *)hdr, strlen(hdr));
    out[n++] = '.';
    n += kve_base64url_encode(out + n, (const uint8_t *)payload, strlen(payload));
    if (k != NULL) {
        HMAC(EVP_sha256(), k, (int)strlen(k), (const uint8_t *)out, n, md, &mdlen);
        out[n++] = '.';
        n += kve_base64url_encode(out + n, md, mdlen);
        out[n] = '\0';
    } else {
        out[n++] = '.';
        strcpy(out + n, sig);
    }
    return out;
}

static const char *verdict(const char *token, int64_t now)
{
    const char *why = NULL;
    json_t *c = kve_session_jwt_verify(key, strlen(key), token, strlen(token), "/app", now, 60, &why);
    if (c == NULL)
        return why;
    json_decref(c);
    return "ok";
}

TEST(jwt_roundtrip)
{
    char err[160];
    json_t *data = json_pack("{s:i}", "cart", 3);
    kve_session_claims_t c = {"/app", "u1", "0123abcd", 4, 1799999000, 1800000000, 60, data};
    char *t = kve_session_jwt_mint(key, strlen(key), &c, err, sizeof(err));
    const char *why = NULL;
    json_t *claims;

    CHECK_NOT_NULL(t);
    claims = kve_session_jwt_verify(key, strlen(key), t, strlen(t), "/app", 1800000010, 60, &why);
    CHECK_NOT_NULL(claims);
    if (claims != NULL) {
        CHECK_EQ_STR(json_string_value(json_object_get(claims, "sub")), "u1");
        CHECK_EQ_STR(json_string_value(json_object_get(claims, "sid")), "0123abcd");
        CHECK_EQ_INT(json_integer_value(json_object_get(claims, "sver")), 4);
        CHECK_EQ_INT(json_integer_value(json_object_get(claims, "exp")) - json_integer_value(json_object_get(claims, "iat")), 60);
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(claims, "data"), "cart")), 3);
        CHECK_EQ_UINT(strlen(json_string_value(json_object_get(claims, "jti"))), 22);
        json_decref(claims);
    }
    CHECK_EQ_STR(verdict(t, 1800000066), "expired");
    CHECK_EQ_STR(verdict(t, 1800000010), "ok");
    CHECK(kve_session_jwt_verify(key, strlen(key), t, strlen(t), "/other", 1800000010, 60, &why) == NULL);
    CHECK_EQ_STR(why, "wrong aud");
    free(t);
    /* never minted with a short or empty key (libjwt would sign with it) */
    CHECK_NULL(kve_session_jwt_mint("", 0, &c, err, sizeof(err)));
    CHECK_NULL(kve_session_jwt_mint(key, 31, &c, err, sizeof(err)));
    json_decref(data);
}

TEST(jwt_traps)
{
    const int64_t now = 1800000000;
    const char *good = "{\"iss\":\"kvedge\",\"aud\":\"/app\",\"sub\":\"u1\",\"iat\":1800000000,\"exp\":1800000060}";
    const char *why = NULL;
    char big[9000];

    CHECK_EQ_STR(verdict(forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good, key, NULL), now), "ok");
    /* alg none in every spelling, with and without a signature */
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"none\"}", good, NULL, ""), now), "not a well-formed JWT");
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"none\"}", good, NULL, "c2ln"), now), "bad signature or encoding");
    CHECK(strcmp(verdict(forge("{\"alg\":\"NONE\"}", good, key, NULL), now), "ok") != 0);
    CHECK(strcmp(verdict(forge("{\"alg\":\"nOnE\"}", good, key, NULL), now), "ok") != 0);
    /* probe 9: a lowercase alg libjwt accepts */
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"hs256\"}", good, key, NULL), now), "algorithm is not HS256");
    /* another HMAC algorithm with the same key: libjwt takes the algorithm from the token */
    CHECK(strcmp(verdict(forge("{\"alg\":\"HS512\"}", good, key, NULL), now), "ok") != 0);
    /* wrong key, tampered payload */
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"HS256\"}", good, "another key of 32 bytes or more....", NULL), now),
                 "bad signature or encoding");
    /* claim types libjwt's getters cannot tell apart */
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"HS256\"}",
                               "{\"iss\":\"kvedge\",\"aud\":\"/app\",\"iat\":1800000000,\"exp\":\"9999999999\"}", key, NULL),
                         now),
                 "exp is missing or not an integer");
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"HS256\"}",
                               "{\"iss\":\"kvedge\",\"aud\":\"/app\",\"iat\":1800000000,\"exp\":1800000060.5}", key, NULL),
                         now),
                 "exp is missing or not an integer");
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"HS256\"}", "{\"iss\":\"kvedge\",\"aud\":\"/app\",\"iat\":1800000000}", key, NULL), now),
                 "exp is missing or not an integer");
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"HS256\"}", "{\"iss\":\"evil\",\"aud\":\"/app\",\"iat\":1800000000,\"exp\":1800000060}",
                               key, NULL),
                         now),
                 "wrong iss");
    CHECK_EQ_STR(
        verdict(forge("{\"alg\":\"HS256\"}",
                      "{\"iss\":\"kvedge\",\"aud\":\"/app\",\"iat\":1800000000,\"nbf\":1800000100,\"exp\":1800000060}", key, NULL),
                now),
        "not valid yet");
    CHECK_EQ_STR(verdict(forge("{\"alg\":\"HS256\"}",
                               "{\"iss\":\"kvedge\",\"aud\":\"/app\",\"iat\":1800000000,\"exp\":9223372036854775807}", key, NULL),
                         now),
                 "lifetime longer than allowed");
    /* probe 19: junk libb64 would skip; 4 segments; over 8 KiB */
    {
        char *t = forge("{\"alg\":\"HS256\"}", good, key, NULL);
        char junk[1024];
        snprintf(junk, sizeof(junk), "%s!!", t);
        CHECK_EQ_STR(verdict(junk, now), "not a well-formed JWT");
        snprintf(junk, sizeof(junk), "%s.x", forge("{\"alg\":\"HS256\"}", good, key, NULL));
        CHECK_EQ_STR(verdict(junk, now), "not a well-formed JWT");
    }
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[10] = '.', big[20] = '.';
    CHECK_EQ_STR(verdict(big, now), "not a well-formed JWT");
    /* an empty key never verifies (libjwt would skip the signature) */
    {
        char *t = forge("{\"alg\":\"HS256\"}", good, "", NULL);
        CHECK_NULL(kve_session_jwt_verify("", 0, t, strlen(t), "/app", now, 60, &why));
    }
}

void kve_suite_session(void)
{
    RUN(handle_shape);
    RUN(handles_are_unique_and_tagged);
    RUN(key_and_pid);
    RUN(owned_fields);
    RUN(cookie_find);
    RUN(cookie_strip);
    RUN(set_cookie);
    RUN(jwt_roundtrip);
    RUN(jwt_traps);
}
