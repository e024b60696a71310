/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the Redis URL parser (proxy/redis_target.c: redis://, rediss://, unix://), which reads the configuration's
 * store URLs (also from the environment: REDIS_URL, KV_URL).
 *
 * Input: the URL (up to the first NUL, at most 4096 bytes), in an exact-size block so ASan sees a read past its end.
 *
 * Oracles: a refusal gives a message and leaves nothing allocated; an accepted URL has exactly one of a socket path
 * and a host, a port in 1..65535 for a host, a database in 0..99999, TLS exactly for rediss://; written back as a URL
 * (user and password percent-encoded, an IPv6 host in brackets) it parses to the same target (a round trip).
 */
#include "fuzz.h"
#include "proxy/redis_target.h"

#define MAX_URL 4096

static int same(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* appends s with the bytes of `escape` (and, when `all`, every byte but the unreserved ones) percent-encoded */
static char *encode(char *o, const char *s, const char *escape, int all)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; ++s) {
        unsigned char c = (unsigned char)*s;
        int unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c) != NULL;
        if (strchr(escape, c) != NULL || (all && !unreserved)) {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

/*
 * Writes the target back as a URL and parses it. A socket path escapes only '%' and '?' (each came from an escape in
 * the input, so the URL is no longer than the input and passes the path's length limit); user and password escape
 * everything; a host with ':' or a leading '[' goes in brackets.
 */
static void round_trip(const kve_redis_target_t *t)
{
    size_t need = 64 + 3 * ((t->username != NULL ? strlen(t->username) : 0) + (t->password != NULL ? strlen(t->password) : 0) +
                            (t->host != NULL ? strlen(t->host) : 0) + (t->path != NULL ? strlen(t->path) : 0));
    char *url = malloc(need), *o = url, err[256];
    kve_redis_target_t back;

    if (url == NULL)
        abort();
    if (t->path != NULL) {
        o += sprintf(o, "unix://");
        o = encode(o, t->path, "%?", 0);
        sprintf(o, "?db=%d", t->db);
    } else {
        o += sprintf(o, "%s://", t->tls ? "rediss" : "redis");
        if (t->username != NULL || t->password != NULL) {
            if (t->username != NULL)
                o = encode(o, t->username, "", 1);
            if (t->password != NULL) {
                *o++ = ':';
                o = encode(o, t->password, "", 1);
            }
            *o++ = '@';
        }
        sprintf(o, strchr(t->host, ':') != NULL || t->host[0] == '[' ? "[%s]:%d/%d" : "%s:%d/%d", t->host, t->port, t->db);
    }
    FUZZ_CHECK(kve_redis_parse_url(url, &back, err, sizeof(err)) == 0, "%s does not parse back: %s", url, err);
    FUZZ_CHECK(same(back.path, t->path) && same(back.host, t->host) && same(back.username, t->username) &&
                   same(back.password, t->password) && back.port == t->port && back.db == t->db && back.tls == t->tls,
               "%s parses to another target", url);
    kve_redis_target_dispose(&back);
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = strnlen((const char *)data, size);
    char *url, err[256] = "";
    kve_redis_target_t t;

    if (len > MAX_URL)
        return 0;
    url = malloc(len + 1);
    if (url == NULL)
        abort();
    memcpy(url, data, len);
    url[len] = '\0';
    if (kve_redis_parse_url(url, &t, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0', "a refusal without a message");
        FUZZ_CHECK(t.path == NULL && t.host == NULL && t.username == NULL && t.password == NULL && t.ssl_ctx == NULL,
                   "a refusal left something allocated");
        free(url);
        return 0;
    }
    FUZZ_CHECK((t.path != NULL) != (t.host != NULL), "exactly one of a path and a host");
    FUZZ_CHECK(t.path != NULL || (t.port >= 1 && t.port <= 65535), "port %d", t.port);
    FUZZ_CHECK(t.db >= 0 && t.db <= 99999, "db %d", t.db);
    FUZZ_CHECK(t.tls == (strncmp(url, "rediss://", 9) == 0), "tls %d for %s", t.tls, url);
    FUZZ_CHECK(t.ssl_ctx == NULL, "the parser builds no TLS context");
    round_trip(&t);
    kve_redis_target_dispose(&t);
    free(url);
    return 0;
}
