/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: KV REST token checks (handlers/kv_auth.c): static tokens and HS256 JWTs through
 * kve_rest_auth_check(), as a request presents them, and kve_rest_jwt_mint()/kve_rest_jwt_verify().
 *
 * Input: byte 0 picks the form (bits 0-1), bytes 1-4 move the clock forward from a fixed start
 * (FUZZ_NOW, 2023-11-14), byte 5 is the size of the buffer that gets the log text. Then by form:
 *   0  the token itself (any bytes; the committed seeds hold tokens minted by `kvedge token`, see README)
 *   1  header JSON, a 0xff byte, claims JSON: the target signs them with the key (byte 6: the digest,
 *      SHA-256/384/512, or a wrong key), so the claim checks are reached with valid signatures
 *   2  a mint round trip: byte 6 options (access, subject, a short key, how much later), bytes 7-10 ttl,
 *      the rest the subject
 *   3  the token through kve_rest_jwt_verify() with keys of every length around KVE_JWT_MIN_KEY
 *
 * Oracles: an accepted token is one of the static tokens with its access, or a JWT whose signature is the
 * canonical base64url HMAC-SHA256 of its first two segments under the key (checked with OpenSSL here),
 * whose header says "alg":"HS256" (and, if it has a string "typ", "JWT" in any case: libjwt 1.10's rule)
 * and whose claims hold an integer exp not past (with 5 s of skew), aud
 * "kvedge:kv" and the access returned; a static token and a well-formed signed token with those claims are
 * accepted; a minted token verifies until ttl + 5 s; the log text fits its buffer and is one of a fixed
 * set of texts (so it never holds a secret or the presented token).
 */
#include "fuzz.h"
#include "handlers/kv_auth.h"
#include "proxy/common.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <strings.h>

#define FUZZ_NOW ((time_t)1700000000)
#define SKEW 5
#define MAX_TTL 86400 /* kv.jwt_max_ttl of the target's auth (the default, 24 h) */
#define WHO_MAX 160

static const char jwt_key[] = "kvedge-fuzz-jwt-key-0123456789abcdef";
static const char *const static_tokens[] = {"fuzz-rw-token-0123456789", "fuzz-ro-token-0123456789"};
static kve_rest_auth_t *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    kve_rest_token_conf_t tokens[] = {{(char *)static_tokens[0], 0, "app"}, {(char *)static_tokens[1], 1, NULL}};
    auth = kve_rest_auth_new(tokens, 2, jwt_key, MAX_TTL);
    return 0;
}

/* ---- base64url and HMAC ---- */

static size_t b64url_encode(const unsigned char *in, size_t len, char *out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
        out[n++] = alphabet[v >> 18];
        out[n++] = alphabet[v >> 12 & 63];
        if (i + 1 < len)
            out[n++] = alphabet[v >> 6 & 63];
        if (i + 2 < len)
            out[n++] = alphabet[v & 63];
    }
    return n;
}

static int b64url_value(char c)
{
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '-'             ? 62
           : c == '_'             ? 63
                                  : -1;
}

/* unpadded base64url (unused low bits ignored, as decoders do); -1 if not */
static long b64url_decode(const char *s, size_t len, unsigned char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    long n = 0;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i != len; ++i) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

/* the canonical signature segment of `signing_input` under `key` with `md` */
static size_t sign(const EVP_MD *md, const char *key, const char *signing_input, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    FUZZ_CHECK(HMAC(md, key, (int)strlen(key), (const unsigned char *)signing_input, len, mac, &maclen) != NULL, "HMAC");
    return b64url_encode(mac, maclen, out);
}

/* ---- oracle ---- */

static json_t *decode_json_segment(const char *s, size_t len)
{
    unsigned char *buf = malloc(len + 1);
    long n = b64url_decode(s, len, buf);
    json_t *j = NULL;
    if (n >= 0) {
        buf[n] = '\0';
        j = json_loads((const char *)buf, 0, NULL);
    }
    free(buf);
    return j;
}

/* a time claim by the rules: 1 and its value, 0 if absent, -1 if present and not an integer */
static int time_claim(json_t *claims, const char *name, __int128 *v)
{
    json_t *j = json_object_get(claims, name);
    if (j == NULL)
        return 0;
    if (!json_is_integer(j))
        return -1;
    *v = json_integer_value(j);
    return 1;
}

/* exp required; nbf, iat optional; all within the skew of `now` and the lifetime cap (exact arithmetic) */
static int times_ok(json_t *claims, time_t now)
{
    __int128 exp = 0, nbf = 0, iat = 0, span = MAX_TTL + SKEW;
    int has_exp = time_claim(claims, "exp", &exp), has_nbf = time_claim(claims, "nbf", &nbf),
        has_iat = time_claim(claims, "iat", &iat);
    return has_exp == 1 && has_nbf >= 0 && has_iat >= 0 && exp > (__int128)now - SKEW && exp <= (__int128)now + span &&
           (!has_nbf || nbf <= (__int128)now + SKEW) && (!has_iat || (iat <= (__int128)now + SKEW && exp <= iat + span));
}

/* what the token should grant by the rules (a JWT) */
static int expected_jwt_access(const char *t, size_t len, time_t now)
{
    const char *dot1 = memchr(t, '.', len), *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(t + len - dot1 - 1)) : NULL;
    char sig[128];
    json_t *head, *claims, *aud, *access, *typ;
    int want = KVE_ACCESS_NONE;

    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(t + len - dot2 - 1)) != NULL || dot2 + 1 == t + len || dot1 == t)
        return KVE_ACCESS_NONE;
    size_t siglen = sign(EVP_sha256(), jwt_key, t, (size_t)(dot2 - t), sig);
    if (siglen != (size_t)(t + len - dot2 - 1) || memcmp(sig, dot2 + 1, siglen) != 0)
        return KVE_ACCESS_NONE;
    head = decode_json_segment(t, (size_t)(dot1 - t));
    claims = decode_json_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    aud = json_object_get(claims, "aud"), access = json_object_get(claims, "access");
    typ = json_object_get(head, "typ"); /* libjwt 1.10: a string typ must be "JWT" (any case) */
    if (json_is_object(head) && json_is_string(json_object_get(head, "alg")) &&
        strcmp(json_string_value(json_object_get(head, "alg")), "HS256") == 0 &&
        (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") == 0) && json_is_object(claims) &&
        times_ok(claims, now) && json_is_string(aud) && strcmp(json_string_value(aud), "kvedge:kv") == 0 && json_is_string(access))
        want = strcmp(json_string_value(access), "rw") == 0   ? KVE_ACCESS_READ_WRITE
               : strcmp(json_string_value(access), "ro") == 0 ? KVE_ACCESS_READ_ONLY
                                                              : KVE_ACCESS_NONE;
    json_decref(head);
    json_decref(claims);
    return want;
}

/* every text kve_rest_auth_check() may log: a fixed vocabulary, so no secret and no presented token */
static const char *const who_texts[] = {"token app",
                                        "token #2",
                                        "unknown token",
                                        "token too long",
                                        "empty token",
                                        "jwt",
                                        "jwt refused: no JWT key",
                                        "jwt refused: not a well-formed JWT",
                                        "jwt refused: bad signature or encoding",
                                        "jwt refused: algorithm is not HS256",
                                        "jwt refused: claims are not a JSON object",
                                        "jwt refused: expired",
                                        "jwt refused: exp is missing or not an integer",
                                        "jwt refused: nbf or iat is not an integer",
                                        "jwt refused: exp is further ahead than kv.jwt_max_ttl",
                                        "jwt refused: not valid yet (nbf)",
                                        "jwt refused: issued in the future (iat)",
                                        "jwt refused: lifetime (exp - iat) longer than kv.jwt_max_ttl",
                                        "jwt refused: aud is not kvedge:kv",
                                        "jwt refused: access is not \"rw\" or \"ro\""};

static void check_who(const char *who, size_t wholen)
{
    size_t n = strnlen(who, wholen), i;
    FUZZ_CHECK(n < wholen, "the log text is not NUL-terminated within its %zu bytes", wholen);
    for (i = wholen; i != WHO_MAX + 8; ++i)
        FUZZ_CHECK(who[i] == (char)0xa5, "byte %zu past the %zu-byte log buffer was written", i, wholen);
    for (i = 0; i != KVE_ARRAY_SIZE(who_texts); ++i) /* the whole text, or as much as fits */
        if (strncmp(who, who_texts[i], n) == 0 && (n == strlen(who_texts[i]) || n == wholen - 1))
            break;
    FUZZ_CHECK(i != KVE_ARRAY_SIZE(who_texts), "unexpected log text: %s", who);
}

/* the token grants exactly what the rules give: no more (forgery), no less (a valid token refused) */
static void check_token(const char *t, size_t len, time_t now, size_t wholen)
{
    char who[WHO_MAX + 8];
    int want = KVE_ACCESS_NONE, got;

    for (size_t i = 0; i != 2; ++i)
        if (len == strlen(static_tokens[i]) && memcmp(t, static_tokens[i], len) == 0)
            want = i == 0 ? KVE_ACCESS_READ_WRITE : KVE_ACCESS_READ_ONLY;
    if (want == KVE_ACCESS_NONE && len <= KVE_TOKEN_MAX)
        want = expected_jwt_access(t, len, now);
    memset(who, 0xa5, sizeof(who));
    got = kve_rest_auth_check(auth, t, len, now, who, wholen);
    check_who(who, wholen);
    FUZZ_CHECK(got == want, "access %d granted, the rules give %d (log: %s)", got, want, who);
}

/* ---- forms ---- */

/* header 0xff claims: signed here; valid claims under the canonical header must be accepted */
static void run_signed(fuzz_in_t *in, time_t now, size_t wholen)
{
    static const EVP_MD *(*const digests[])(void) = {EVP_sha256, EVP_sha384, EVP_sha512, EVP_sha256};
    uint8_t how = fuzz_u8(in);
    size_t len = fuzz_left(in), hlen, clen, n;
    const char *src = (const char *)in->p, *sep = memchr(src, 0xff, len);
    char *token, *claims;

    if (sep == NULL)
        return;
    hlen = (size_t)(sep - src), clen = len - hlen - 1;
    if (hlen > 1024 || clen > 4096)
        return;
    if ((claims = malloc(clen + 1)) == NULL)
        abort();
    memcpy(claims, sep + 1, clen);
    for (size_t i = 0; i != clen; ++i) /* a NUL would end the claims for libjwt */
        if (claims[i] == '\0')
            claims[i] = ' ';
    token = malloc(2 * (hlen + clen) + 256);
    n = b64url_encode((const unsigned char *)src, hlen, token);
    token[n++] = '.';
    n += b64url_encode((const unsigned char *)claims, clen, token + n);
    token[n++] = '.';
    n += sign(digests[how & 3](), (how & 3) == 3 ? "another-key-0123456789abcdef0123456789" : jwt_key, token, n - 1, token + n);
    check_token(token, n, now, wholen);
    free(token);
    free(claims);
}

static void run_mint(fuzz_in_t *in, time_t now, size_t wholen)
{
    uint8_t opts = fuzz_u8(in);
    uint64_t ttl = fuzz_u16(in) | (uint64_t)fuzz_u16(in) << 16;
    size_t sublen;
    const uint8_t *subp = fuzz_bytes(in, 64, &sublen);
    char sub[65], err[256], who[WHO_MAX + 8];
    int access = (opts & 1) ? KVE_ACCESS_READ_ONLY : KVE_ACCESS_READ_WRITE;
    time_t later = now + (time_t)(opts >> 2 & 0x1f) * 1800 + (time_t)(opts & 0x80 ? ttl : 0);
    char *t;

    memcpy(sub, subp, sublen);
    sub[sublen] = '\0';
    if (opts & 0x40) { /* a key below KVE_JWT_MIN_KEY bytes: refused with a message */
        t = kve_rest_jwt_mint("short-key-0123456789abcdef01234", access, ttl, NULL, now, err, sizeof(err));
        FUZZ_CHECK(t == NULL && strstr(err, "at least") != NULL, "minted with a 31-byte key (%s)", t == NULL ? err : t);
        return;
    }
    t = kve_rest_jwt_mint(jwt_key, access, ttl, (opts & 2) ? sub : NULL, now, err, sizeof(err));
    if (t == NULL)
        return; /* a subject jansson refuses (not UTF-8) */
    memset(who, 0xa5, sizeof(who));
    int got = kve_rest_auth_check(auth, t, strlen(t), later, who, wholen);
    check_who(who, wholen);
    /* valid until exp + the skew, and only if its lifetime is within the cap */
    FUZZ_CHECK(got == (later < now + (time_t)ttl + SKEW && ttl <= MAX_TTL + SKEW ? access : KVE_ACCESS_NONE),
               "minted token (ttl %llu) gave %d %ld s later", (unsigned long long)ttl, got, (long)(later - now));
    free(t);
}

/* the token under keys around the minimum length, and prefixes of the right key: only the key itself verifies */
static void run_verify(const char *t, size_t len, time_t now)
{
    const size_t keylen = sizeof(jwt_key) - 1, lengths[] = {0, 1, KVE_JWT_MIN_KEY - 1, KVE_JWT_MIN_KEY, keylen - 1, keylen, 63};
    char key[64], err[128];

    for (size_t i = 0; i != KVE_ARRAY_SIZE(lengths); ++i) {
        size_t n = lengths[i], same = KVE_MIN(n, keylen);
        memcpy(key, jwt_key, same);
        memset(key + same, 'k', n - same);
        key[n] = '\0';
        memset(err, 0xa5, sizeof(err));
        int got = kve_rest_jwt_verify(key, t, len, now, MAX_TTL, err, sizeof(err));
        FUZZ_CHECK(got != KVE_ACCESS_NONE || strnlen(err, sizeof(err)) < sizeof(err), "error text not terminated");
        if (n < KVE_JWT_MIN_KEY)
            FUZZ_CHECK(got == KVE_ACCESS_NONE, "a token verified with a %zu-byte key", n);
        if (got != KVE_ACCESS_NONE)
            FUZZ_CHECK(n == keylen, "a token verified under a %zu-byte key (signed with the %zu-byte one)", n, keylen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t form = fuzz_u8(&in);
    time_t now = FUZZ_NOW + (time_t)(fuzz_u16(&in) | (uint32_t)fuzz_u16(&in) << 16);
    size_t wholen = 1 + fuzz_u8(&in) % WHO_MAX;

    if (size > 3 * KVE_TOKEN_MAX)
        return 0;
    switch (form & 3) {
    case 0:
        check_token((const char *)in.p, fuzz_left(&in), now, wholen);
        break;
    case 1:
        run_signed(&in, now, wholen);
        break;
    case 2:
        run_mint(&in, now, wholen);
        break;
    default:
        run_verify((const char *)in.p, fuzz_left(&in), now);
        break;
    }
    return 0;
}
