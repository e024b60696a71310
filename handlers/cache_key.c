/* SPDX-License-Identifier: MIT */
/*
 * Primary cache keys (see cache_key.h). Field tags: V version, M method, S scheme, H host, P path, Q query
 * present (as-sent mode), q one parameter, h/c a configured header/cookie name, p present (0/1), v value.
 * The route's conf fixes how many h and c fields follow, so the sequence of tags is the same for every
 * request of a route and only the values vary.
 */
/* SHA256_Init/Update/Final: deprecated in OpenSSL 3, but SHA256() fetches the digest on every call (EVP_Q_digest),
 * which costs more than the hash itself on a cache hit */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "handlers/cache_key.h"
#include "handlers/cache_enc.h"
#include "handlers/cache_vary.h"
#include "proxy/common.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int host_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* splits "host[:port]" / "[v6]:port"; returns -1 if malformed */
static int split_authority(h2o_iovec_t a, h2o_iovec_t *host, h2o_iovec_t *port)
{
    const char *colon;

    *port = h2o_iovec_init(NULL, 0);
    if (a.len != 0 && a.base[0] == '[') {
        const char *close = memchr(a.base, ']', a.len);
        if (close == NULL)
            return -1;
        *host = h2o_iovec_init(a.base, (size_t)(close - a.base) + 1);
        if ((size_t)(close - a.base) + 1 == a.len)
            return 0;
        if (close[1] != ':')
            return -1;
        *port = h2o_iovec_init(close + 2, a.len - host->len - 1);
        return 0;
    }
    if ((colon = memchr(a.base, ':', a.len)) != NULL) {
        *host = h2o_iovec_init(a.base, (size_t)(colon - a.base));
        *port = h2o_iovec_init(colon + 1, a.len - host->len - 1);
    } else {
        *host = a;
    }
    return 0;
}

/* port digits as a number 1..65535, or -1 */
static long port_of(h2o_iovec_t port)
{
    long v = 0;
    size_t i;
    if (port.len == 0 || port.len > 5)
        return -1;
    for (i = 0; i != port.len; ++i) {
        if (port.base[i] < '0' || port.base[i] > '9')
            return -1;
        v = v * 10 + (port.base[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

int kve_cache_host_normalize(h2o_iovec_t authority, h2o_iovec_t scheme, kve_buf_t *out)
{
    h2o_iovec_t host, port;
    long pnum = -1, dflt = h2o_lcstris(scheme.base, scheme.len, H2O_STRLIT("https")) ? 443 : 80;
    size_t i, start = out->len;
    int v6;

    if (authority.len == 0 || split_authority(authority, &host, &port) != 0)
        return -1;
    if (port.base != NULL && (pnum = port_of(port)) < 0)
        return -1;
    v6 = host.len != 0 && host.base[0] == '[';
    if (!v6 && host.len != 0 && host.base[host.len - 1] == '.')
        --host.len; /* "example.com." is "example.com" */
    if (host.len == 0 ||
        (!v6 && (host.base[0] == '.' || host.base[host.len - 1] == '.' || memmem(host.base, host.len, "..", 2) != NULL)))
        goto Error; /* an empty label: "a..b", ".a", "a.." (one trailing dot is removed above) */
    for (i = 0; i != host.len; ++i) {
        int c = h2o_tolower(host.base[i]);
        if (!(host_char(c) || (v6 && (c == ':' || c == '[' || c == ']'))))
            goto Error;
        kve_buf_putc(out, (char)c);
    }
    if (pnum >= 0 && pnum != dflt) { /* ":<port>" without printf (a hit's path) */
        char digits[8], *p = digits + sizeof(digits);
        do
            *--p = (char)('0' + pnum % 10);
        while ((pnum /= 10) != 0);
        *--p = ':';
        kve_buf_append(out, p, (size_t)(digits + sizeof(digits) - p));
    }
    return 0;
Error:
    out->len = start;
    return -1;
}

int kve_cache_glob_match(const char *pattern, const char *name, size_t len)
{
    const char *star = NULL;
    size_t i = 0, retry = 0;

    while (i != len) {
        if (*pattern == '*') {
            star = pattern++, retry = i;
        } else if (*pattern != '\0' && (*pattern == '?' || *pattern == name[i])) {
            ++pattern, ++i;
        } else if (star != NULL) {
            pattern = star + 1, i = ++retry;
        } else {
            return 0;
        }
    }
    while (*pattern == '*')
        ++pattern;
    return *pattern == '\0';
}

struct st_param_t {
    const char *p;
    size_t len, name_len, index;
};

static int cmp_param(const void *a, const void *b)
{
    const struct st_param_t *x = a, *y = b;
    int r = memcmp(x->p, y->p, KVE_MIN(x->name_len, y->name_len));
    if (r == 0)
        r = (x->name_len > y->name_len) - (x->name_len < y->name_len);
    return r != 0 ? r : (x->index > y->index) - (x->index < y->index);
}

static int excluded(const kve_cache_key_conf_t *conf, const char *name, size_t len)
{
    size_t i;
    for (i = 0; i != conf->num_exclude_query; ++i)
        if (kve_cache_glob_match(conf->exclude_query[i], name, len))
            return 1;
    return 0;
}

static void encode_query(const kve_cache_key_conf_t *conf, const char *q, size_t len, kve_buf_t *out)
{
    struct st_param_t *params;
    size_t n = 0, max = 1, i, start, end, name_len;

    if (len == 0)
        return; /* "/p?" has no parameter (the Q field tells it from "/p") */
    for (i = 0; i != len; ++i)
        max += q[i] == '&';
    params = kve_malloc(sizeof(*params) * max);
    for (start = 0; start <= len; start = end + 1) {
        for (end = start; end != len && q[end] != '&'; ++end)
            ;
        for (name_len = 0; start + name_len != end && q[start + name_len] != '='; ++name_len)
            ;
        if (end == start && conf->query != KVE_CACHE_QUERY_AS_SENT)
            continue; /* "a=1&&b=2": empty parameters mean nothing once sorted */
        if (!excluded(conf, q + start, name_len))
            params[n] = (struct st_param_t){q + start, end - start, name_len, n}, ++n;
    }
    if (conf->query == KVE_CACHE_QUERY_SORTED)
        qsort(params, n, sizeof(*params), cmp_param);
    for (i = 0; i != n; ++i)
        kve_cache_enc_field(out, 'q', params[i].p, params[i].len);
    free(params);
}

/* the value of cookie `name` among the Cookie fields; 1 if found */
static int cookie_value(const h2o_header_t *headers, size_t num, const char *name, h2o_iovec_t *value)
{
    size_t i, nlen = strlen(name);

    for (i = 0; i != num; ++i) {
        const char *p, *end, *semi;
        if (!h2o_lcstris(headers[i].name->base, headers[i].name->len, H2O_STRLIT("cookie")))
            continue;
        if (headers[i].value.len == 0)
            continue;
        for (p = headers[i].value.base, end = p + headers[i].value.len; p < end; p = semi + 1) {
            if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
                semi = end;
            while (p != semi && (*p == ' ' || *p == '\t'))
                ++p;
            if ((size_t)(semi - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
                const char *v = p + nlen + 1, *ve = semi;
                while (ve != v && (ve[-1] == ' ' || ve[-1] == '\t'))
                    --ve;
                *value = h2o_iovec_init(v, (size_t)(ve - v));
                return 1;
            }
        }
    }
    return 0;
}

static void encode_extras(const kve_cache_key_conf_t *conf, const kve_cache_key_req_t *req, kve_buf_t *out)
{
    kve_buf_t value = KVE_BUF_INIT;
    h2o_iovec_t cv;
    size_t i;
    char present;

    for (i = 0; i != conf->num_headers; ++i) {
        value.len = 0;
        present = (char)kve_vary_field_value(conf->headers[i], strlen(conf->headers[i]), req->headers, req->num_headers, &value);
        kve_cache_enc_field(out, 'h', conf->headers[i], strlen(conf->headers[i]));
        kve_cache_enc_field(out, 'p', &present, 1);
        kve_cache_enc_field(out, 'v', value.base, value.len);
    }
    for (i = 0; i != conf->num_cookies; ++i) {
        cv = h2o_iovec_init(NULL, 0);
        present = (char)cookie_value(req->headers, req->num_headers, conf->cookies[i], &cv);
        kve_cache_enc_field(out, 'c', conf->cookies[i], strlen(conf->cookies[i]));
        kve_cache_enc_field(out, 'p', &present, 1);
        kve_cache_enc_field(out, 'v', cv.base, cv.len);
    }
    kve_buf_dispose(&value);
}

int kve_cache_key_encode(const kve_cache_key_conf_t *conf, const kve_cache_key_req_t *req, kve_buf_t *out)
{
    h2o_iovec_t method = req->method;
    const char *qmark = req->path.len != 0 ? memchr(req->path.base, '?', req->path.len) : NULL;
    size_t path_len = qmark != NULL ? (size_t)(qmark - req->path.base) : req->path.len, i, start = out->len, host_at, host_len;
    char scheme[8];

    if (req->scheme.len >= sizeof(scheme))
        return -1;
    if (h2o_memis(method.base, method.len, H2O_STRLIT("HEAD")))
        method = h2o_iovec_init(H2O_STRLIT("GET"));
    for (i = 0; i != req->scheme.len; ++i)
        scheme[i] = (char)h2o_tolower(req->scheme.base[i]);
    kve_cache_enc_field(out, 'V', KVE_STRLIT(KVE_CACHE_KEY_VERSION));
    kve_cache_enc_field(out, 'M', method.base, method.len);
    kve_cache_enc_field(out, 'S', scheme, req->scheme.len);
    /* the host is normalised in place, after its field's header, whose length is set then (no buffer of its own) */
    host_at = out->len;
    kve_cache_enc_field(out, 'H', "", 0);
    if (kve_cache_host_normalize(req->authority, req->scheme, out) != 0) {
        out->len = start;
        return -1;
    }
    host_len = out->len - host_at - 5;
    out->base[host_at + 1] = (char)(host_len >> 24), out->base[host_at + 2] = (char)(host_len >> 16);
    out->base[host_at + 3] = (char)(host_len >> 8), out->base[host_at + 4] = (char)host_len;
    kve_cache_enc_field(out, 'P', req->path.base, path_len);
    if (conf->query == KVE_CACHE_QUERY_AS_SENT)
        kve_cache_enc_field(out, 'Q', qmark != NULL ? "1" : "0", 1);
    if (qmark != NULL && conf->query != KVE_CACHE_QUERY_IGNORE)
        encode_query(conf, qmark + 1, req->path.len - path_len - 1, out);
    encode_extras(conf, req, out);
    return 0;
}

void kve_cache_key_hash(const void *enc, size_t len, uint8_t hash[KVE_CACHE_HASH_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, enc, len);
    SHA256_Final(md, &ctx);
    memcpy(hash, md, KVE_CACHE_HASH_LEN);
}

static void put_hex(char *p, const uint8_t *h)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i != KVE_CACHE_HASH_LEN; ++i)
        p[2 * i] = digits[h[i] >> 4], p[2 * i + 1] = digits[h[i] & 15];
    p[KVE_CACHE_HASH_HEX] = '\0';
}

size_t kve_cache_key_name(char *buf, size_t cap, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant,
                          const char *suffix)
{
    static const char version[] = KVE_CACHE_KEY_VERSION ":{";
    char p[KVE_CACHE_HASH_HEX + 1], v[KVE_CACHE_HASH_HEX + 2] = "";
    size_t slen = strlen(suffix), vlen = variant != NULL ? KVE_CACHE_HASH_HEX + 1 : 0;
    size_t total = ns.len + sizeof(version) - 1 + KVE_CACHE_HASH_HEX + 2 + vlen + slen;
    char *w = buf;
    int n;

    put_hex(p, primary);
    if (variant != NULL)
        put_hex(v, variant), v[KVE_CACHE_HASH_HEX] = ':', v[KVE_CACHE_HASH_HEX + 1] = '\0';
    if (total >= cap) { /* does not fit: snprintf's truncation and return value */
        n = snprintf(buf, cap, "%.*s" KVE_CACHE_KEY_VERSION ":{%s}:%s%s", (int)ns.len, ns.base, p, v, suffix);
        return n > 0 ? (size_t)n : 0;
    }
    /* every lookup names three keys: plain copies, not snprintf (about 1.3 k instructions each) */
    if (ns.len != 0)
        memcpy(w, ns.base, ns.len), w += ns.len;
    memcpy(w, version, sizeof(version) - 1), w += sizeof(version) - 1;
    memcpy(w, p, KVE_CACHE_HASH_HEX), w += KVE_CACHE_HASH_HEX;
    *w++ = '}', *w++ = ':';
    memcpy(w, v, vlen), w += vlen;
    memcpy(w, suffix, slen + 1);
    return total;
}
