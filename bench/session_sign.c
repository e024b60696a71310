/* SPDX-License-Identifier: MIT */
/*
 * The cost of one X-Session-JWT (issue 10, docs/sessions.md §8), built by bench/session.sh against build/'s libraries:
 * HS256 and ES256 through libjwt 1.10.2 (the reference: it re-parses the PEM on every ES256 sign), HS256 and ES256 as
 * kvedge mints them (its own compact serialisation; HMAC with the digest fetched once, ECDSA with the key parsed once),
 * and a token from the per-thread token cache (lookup and copy, as session_identity.c does). Claims of a typical session (~200
 * bytes with a small data object). Prints one line per case: "<case> <µs per token> <iterations>".
 *
 *   session_sign PEM_FILE [SECONDS_PER_CASE]
 */
#include "handlers/session_es256.h"
#include "handlers/session_jwt.h"
#include "handlers/session_jwt_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile size_t sink;

enum { HS256, HS256_LIBJWT, ES256_LIBJWT, ES256_MINT, ES256_CACHED };

static void run(const char *name, int which, const kve_es256_key_t *key, double secs)
{
    static const char hs_key[] = "bench-session-key-0123456789abcdef-0123456789";
    json_t *data = json_pack("{s:s,s:i}", "role", "user", "cart", 3);
    kve_session_claims_t c = {"/app", "bench-user", "0123456789abcdef0123456789abcdef", 4, 0, (int64_t)time(NULL), 60, data};
    kve_jwt_cache_t *cache = kve_jwt_cache_new(1024);
    const char *key_name = "kvs1:{AAAAAAAAAAA}:s:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    size_t pemlen, n = 0;
    const char *pem = kve_es256_key_pem(key, &pemlen);
    char err[160];
    double t0 = now_s(), t;

    do {
        for (int i = 0; i != 16; ++i, ++n) {
            char *tok = NULL;
            if (which == HS256) {
                tok = kve_session_jwt_mint(hs_key, strlen(hs_key), &c, err, sizeof(err));
            } else if (which == HS256_LIBJWT) {
                tok = kve_session_jwt_sign(JWT_ALG_HS256, hs_key, strlen(hs_key), NULL, &c, err, sizeof(err));
            } else if (which == ES256_LIBJWT) {
                tok = kve_session_jwt_sign(JWT_ALG_ES256, pem, pemlen, kve_es256_key_kid(key), &c, err, sizeof(err));
            } else if (which == ES256_MINT) {
                tok = kve_session_jwt_mint_es256(key, &c, err, sizeof(err));
            } else {
                kve_jwt_cache_hit_t hit;
                if (!kve_jwt_cache_get(cache, key_name, c.sver, c.iat, &hit)) {
                    char *fresh = kve_session_jwt_mint_es256(key, &c, err, sizeof(err));
                    kve_jwt_cache_put(cache, key_name, c.sver, c.iat, c.ttl_sec, fresh, strlen(fresh), c.sid, c.sub);
                    tok = fresh;
                } else {
                    tok = malloc(hit.token.len + 1); /* the copy into the request's pool */
                    memcpy(tok, hit.token.base, hit.token.len + 1);
                }
            }
            if (tok == NULL) {
                fprintf(stderr, "%s: %s\n", name, err);
                exit(1);
            }
            sink += strlen(tok);
            free(tok);
        }
    } while ((t = now_s()) - t0 < secs);
    printf("%s %.2f %zu\n", name, (t - t0) / n * 1e6, n);
    kve_jwt_cache_free(cache);
    json_decref(data);
}

int main(int argc, char **argv)
{
    FILE *fp;
    char pem[16384], err[256];
    size_t len;
    kve_es256_key_t *key;
    double secs = argc > 2 ? atof(argv[2]) : 2.0;

    if (argc < 2 || (fp = fopen(argv[1], "r")) == NULL) {
        fprintf(stderr, "usage: session_sign PEM_FILE [SECONDS_PER_CASE]\n");
        return 2;
    }
    len = fread(pem, 1, sizeof(pem), fp);
    fclose(fp);
    if ((key = kve_es256_key_load(pem, len, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    run("hs256-libjwt", HS256_LIBJWT, key, secs);
    run("hs256-mint", HS256, key, secs);
    run("es256-libjwt", ES256_LIBJWT, key, secs);
    run("es256-mint", ES256_MINT, key, secs);
    run("es256-cached", ES256_CACHED, key, secs);
    kve_es256_key_free(key);
    return 0;
}
