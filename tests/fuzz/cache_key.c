/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the cache key encoder (handlers/cache_key.c, cache_enc.c) and its glob matcher.
 *
 * Input: byte 0 is the route's key rules (bits 0-1 query mode, bit 2 exclusions "utm_*" "?d" and a fuzzed
 * pattern, bits 3-4 how many of the headers x-a / x-b are keyed, bit 5 whether the cookie "lang" is keyed);
 * then two requests, each a method byte, a scheme byte, the authority and path as 1-byte-length strings, a
 * field count and per field a name byte and a value string. Strings are copied into exact-size blocks.
 *
 * Oracles: every encoding reads back field by field (kve_cache_enc_next) to exactly its length, in the
 * route's tag order (V M S H P [Q] q* (h p v)* (c p v)*), and the fields hold what a separate reference
 * computes from the request: the method (HEAD as GET), the lower-case scheme, the path before '?', the
 * query's parameters (as sent, or non-empty ones stably sorted by name, minus excluded names), the host
 * normalised again unchanged; absent keyed fields have empty values. Since decoding is a function, equal
 * encodings imply equal components: the encoding is injective over them. The glob matcher agrees with a
 * dynamic-programming reference matcher, key names have the documented length, and a same-origin Location
 * (kve_cache_same_origin_path) is a '/'-path inside the value without its fragment.
 */
#include "fuzz.h"
#include "handlers/cache_enc.h"
#include "handlers/cache_invalidate.h"
#include "handlers/cache_key.h"
#include "proxy/common.h"

struct req_t {
    h2o_iovec_t method, scheme, authority, path;
    h2o_header_t h[8];
    h2o_iovec_t names[8];
    char *blocks[12];
    size_t n, nblocks;
};

static h2o_iovec_t take(fuzz_in_t *in, struct req_t *r)
{
    size_t got;
    const uint8_t *p = fuzz_bytes(in, fuzz_u8(in), &got);
    char *c = fuzz_exact_copy(p, got);
    r->blocks[r->nblocks++] = c;
    return h2o_iovec_init(c, got);
}

static void read_req(fuzz_in_t *in, struct req_t *r)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "M-SEARCH"}, *const schemes[] = {"http", "https", "HTTP", "HtTpS"};
    static const char *const fields[] = {"x-a", "X-B", "cookie", "accept-encoding", "other", "x-a"};
    size_t i, n;

    memset(r, 0, sizeof(*r));
    r->method = h2o_iovec_init(methods[fuzz_u8(in) % 4], 0);
    r->method.len = strlen(r->method.base);
    r->scheme = h2o_iovec_init(schemes[fuzz_u8(in) % 4], 0);
    r->scheme.len = strlen(r->scheme.base);
    r->authority = take(in, r);
    r->path = take(in, r);
    n = fuzz_u8(in) % 8;
    for (i = 0; i != n; ++i) {
        const char *name = fields[fuzz_u8(in) % 6];
        r->names[i] = h2o_iovec_init(name, strlen(name));
        r->h[i].name = &r->names[i];
        r->h[i].value = take(in, r);
    }
    r->n = n;
}

static void free_req(struct req_t *r)
{
    size_t i;
    for (i = 0; i != r->nblocks; ++i)
        free(r->blocks[i]);
}

/* the reference glob: dynamic programming over (pattern suffix, name suffix), m[i][j] = pat+i matches s+j */
static int ref_glob(const char *pat, const char *s, size_t len)
{
    static unsigned char m[17][2050];
    size_t plen = strlen(pat), i, j;

    FUZZ_CHECK(plen <= 16 && len <= 2048, "reference glob limits");
    for (i = plen + 1; i-- != 0;) {
        for (j = len + 1; j-- != 0;) {
            if (i == plen)
                m[i][j] = j == len;
            else if (pat[i] == '*')
                m[i][j] = m[i + 1][j] || (j != len && m[i][j + 1]);
            else
                m[i][j] = j != len && (pat[i] == '?' || pat[i] == s[j]) && m[i + 1][j + 1];
        }
    }
    return m[0][0];
}

/* the '?' of a path, or NULL (memchr must not see a NULL base) */
static const char *qmark(h2o_iovec_t path)
{
    return path.len != 0 ? memchr(path.base, '?', path.len) : NULL;
}

struct param_t {
    const char *p;
    size_t len, name_len;
};

static int excluded(const kve_cache_key_conf_t *conf, const char *name, size_t len)
{
    size_t i;
    for (i = 0; i != conf->num_exclude_query; ++i)
        if (ref_glob(conf->exclude_query[i], name, len))
            return 1;
    return 0;
}

static int name_less(const struct param_t *a, const struct param_t *b)
{
    int r = memcmp(a->p, b->p, a->name_len < b->name_len ? a->name_len : b->name_len);
    return r < 0 || (r == 0 && a->name_len < b->name_len);
}

/* the reference list of query parameters the key must hold */
static size_t ref_params(const kve_cache_key_conf_t *conf, h2o_iovec_t path, struct param_t *out)
{
    const char *q = qmark(path), *end, *p, *amp;
    size_t n = 0, i, j;

    if (q == NULL || conf->query == KVE_CACHE_QUERY_IGNORE || q + 1 == (end = path.base + path.len))
        return 0;
    for (p = q + 1;; p = amp + 1) {
        struct param_t prm;
        amp = memchr(p, '&', (size_t)(end - p));
        prm.p = p, prm.len = (size_t)((amp != NULL ? amp : end) - p);
        for (prm.name_len = 0; prm.name_len != prm.len && p[prm.name_len] != '='; ++prm.name_len)
            ;
        if (!(prm.len == 0 && conf->query == KVE_CACHE_QUERY_SORTED) && !excluded(conf, p, prm.name_len))
            out[n++] = prm;
        if (amp == NULL)
            break;
    }
    if (conf->query == KVE_CACHE_QUERY_SORTED) /* insertion sort: stable */
        for (i = 1; i < n; ++i)
            for (j = i; j != 0 && name_less(out + j, out + j - 1); --j) {
                struct param_t t = out[j];
                out[j] = out[j - 1], out[j - 1] = t;
            }
    return n;
}

static void check_field(const char *enc, size_t len, size_t *pos, char tag, const void *want, size_t want_len, const char *what)
{
    uint8_t t;
    const char *v;
    size_t vlen;
    FUZZ_CHECK(kve_cache_enc_next(enc, len, pos, &t, &v, &vlen) == 0, "%s: missing", what);
    FUZZ_CHECK(t == (uint8_t)tag, "%s: tag %c, expected %c", what, t, tag);
    if (want != NULL)
        FUZZ_CHECK(vlen == want_len && (vlen == 0 || memcmp(v, want, vlen) == 0), "%s: wrong value", what);
}

static void check_encoding(const kve_cache_key_conf_t *conf, const struct req_t *r, const kve_buf_t *enc)
{
    static struct param_t params[256];
    const char *q = qmark(r->path), *v;
    size_t pos = 0, i, n, vlen, plen = q != NULL ? (size_t)(q - r->path.base) : r->path.len;
    int head = h2o_memis(r->method.base, r->method.len, H2O_STRLIT("HEAD"));
    char scheme[8];
    uint8_t t;
    kve_buf_t host = KVE_BUF_INIT;

    for (i = 0; i != r->scheme.len; ++i)
        scheme[i] = (char)h2o_tolower(r->scheme.base[i]);
    check_field(enc->base, enc->len, &pos, 'V', KVE_STRLIT(KVE_CACHE_KEY_VERSION), "version");
    check_field(enc->base, enc->len, &pos, 'M', head ? "GET" : r->method.base, head ? 3 : r->method.len, "method");
    check_field(enc->base, enc->len, &pos, 'S', scheme, r->scheme.len, "scheme");
    FUZZ_CHECK(kve_cache_enc_next(enc->base, enc->len, &pos, &t, &v, &vlen) == 0 && t == 'H', "host");
    FUZZ_CHECK(kve_cache_host_normalize(h2o_iovec_init(v, vlen), h2o_iovec_init(scheme, r->scheme.len), &host) == 0 &&
                   host.len == vlen && memcmp(host.base, v, vlen) == 0,
               "host not normalised: %.*s", (int)vlen, v);
    check_field(enc->base, enc->len, &pos, 'P', r->path.base, plen, "path");
    if (conf->query == KVE_CACHE_QUERY_AS_SENT)
        check_field(enc->base, enc->len, &pos, 'Q', q != NULL ? "1" : "0", 1, "query flag");
    n = ref_params(conf, r->path, params); /* paths are at most 255 bytes: at most 128 parameters */
    for (i = 0; i != n; ++i)
        check_field(enc->base, enc->len, &pos, 'q', params[i].p, params[i].len, "parameter");
    for (i = 0; i != conf->num_headers + conf->num_cookies; ++i) {
        int cookie = i >= conf->num_headers;
        const char *name = cookie ? conf->cookies[i - conf->num_headers] : conf->headers[i];
        char present;
        check_field(enc->base, enc->len, &pos, cookie ? 'c' : 'h', name, strlen(name), "keyed name");
        FUZZ_CHECK(kve_cache_enc_next(enc->base, enc->len, &pos, &t, &v, &vlen) == 0 && t == 'p' && vlen == 1 &&
                       (*v == 0 || *v == 1),
                   "presence");
        present = *v;
        FUZZ_CHECK(kve_cache_enc_next(enc->base, enc->len, &pos, &t, &v, &vlen) == 0 && t == 'v' && (present || vlen == 0),
                   "value");
    }
    FUZZ_CHECK(pos == enc->len, "%zu bytes after the last field", enc->len - pos);
    kve_buf_dispose(&host);
}

static int encode(const kve_cache_key_conf_t *conf, const struct req_t *r, kve_buf_t *out)
{
    kve_cache_key_req_t req = {r->method, r->scheme, r->authority, r->path, r->h, r->n};
    return kve_cache_key_encode(conf, &req, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const headers[] = {"x-a", "x-b"}, *const cookies[] = {"lang"};
    const char *patterns[3] = {"utm_*", "?d", NULL};
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t rules = fuzz_u8(&in), hash[KVE_CACHE_HASH_LEN];
    struct req_t a, b;
    kve_buf_t ea = KVE_BUF_INIT, eb = KVE_BUF_INIT;
    kve_cache_key_conf_t conf;
    char pattern[16], name[160];
    size_t got, plen;
    const uint8_t *p;
    int ra, rb;

    if (size > 2048)
        return 0;
    p = fuzz_bytes(&in, fuzz_u8(&in) % sizeof(pattern), &plen);
    memcpy(pattern, p, plen);
    pattern[plen] = '\0';
    patterns[2] = pattern;
    conf = (kve_cache_key_conf_t){(kve_cache_query_t)((rules & 3) % 3), patterns, (rules & 4) ? 3 : 0,       headers,
                                  (size_t)((rules >> 3) & 3) % 3,       cookies,  (size_t)((rules >> 5) & 1)};
    read_req(&in, &a);
    read_req(&in, &b);
    /* the glob matcher against the reference, on the fuzzed pattern and the first request's path */
    FUZZ_CHECK(kve_cache_glob_match(pattern, a.path.base, a.path.len) == ref_glob(pattern, a.path.base, a.path.len) ||
                   a.path.len > 64,
               "glob disagrees");
    ra = encode(&conf, &a, &ea);
    rb = encode(&conf, &b, &eb);
    if (ra == 0)
        check_encoding(&conf, &a, &ea);
    if (rb == 0)
        check_encoding(&conf, &b, &eb);
    if (ra == 0 && rb == 0 && ea.len == eb.len && memcmp(ea.base, eb.base, ea.len) == 0) {
        /* equal keys: the requests agree on everything the key covers (spelled out for the path and query) */
        static struct param_t pa[256], pb[256];
        size_t na = ref_params(&conf, a.path, pa), nb = ref_params(&conf, b.path, pb), i;
        const char *qa = qmark(a.path), *qb = qmark(b.path);
        size_t la = qa != NULL ? (size_t)(qa - a.path.base) : a.path.len, lb = qb != NULL ? (size_t)(qb - b.path.base) : b.path.len;
        FUZZ_CHECK(la == lb && (la == 0 || memcmp(a.path.base, b.path.base, la) == 0), "different paths, same key");
        FUZZ_CHECK(na == nb, "different queries, same key");
        for (i = 0; i != na; ++i)
            FUZZ_CHECK(pa[i].len == pb[i].len && (pa[i].len == 0 || memcmp(pa[i].p, pb[i].p, pa[i].len) == 0),
                       "different parameters, same key");
    }
    /* invalidation: a same-origin Location (the first request's path as the value) yields a path inside it */
    {
        h2o_iovec_t loc;
        if (kve_cache_same_origin_path(a.path, b.scheme, b.authority, &loc) == 0)
            FUZZ_CHECK(loc.len != 0 && loc.base[0] == '/' && loc.base >= a.path.base &&
                           loc.base + loc.len <= a.path.base + a.path.len && memchr(loc.base, '#', loc.len) == NULL,
                       "bad same-origin path");
    }
    if (ra == 0) {
        kve_cache_key_hash(ea.base, ea.len, hash);
        got = kve_cache_key_name(name, sizeof(name), h2o_iovec_init(NULL, 0), hash, (rules & 64) ? hash : NULL, "h");
        FUZZ_CHECK(got == ((rules & 64) ? 41 + KVE_CACHE_HASH_HEX + 1 : 41) && strlen(name) == got, "key name length %zu", got);
    }
    kve_buf_dispose(&ea);
    kve_buf_dispose(&eb);
    free_req(&a);
    free_req(&b);
    return 0;
}
