/* SPDX-License-Identifier: MIT */
/* Primary cache keys, their encoding and KV key names (handlers/cache_key.c, cache_enc.c). */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_enc.h"
#include "handlers/cache_key.h"

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *host_of(const char *authority, const char *scheme)
{
    static char out[128];
    kve_buf_t buf = KVE_BUF_INIT;
    if (kve_cache_host_normalize(h2o_iovec_init(authority, strlen(authority)), h2o_iovec_init(scheme, strlen(scheme)), &buf) != 0)
        snprintf(out, sizeof(out), "(invalid)");
    else
        snprintf(out, sizeof(out), "%.*s", (int)buf.len, buf.base);
    kve_buf_dispose(&buf);
    return out;
}

TEST(cache_key_host)
{
    static const struct {
        const char *authority, *scheme, *out;
    } rows[] = {
        {"Example.COM", "http", "example.com"},
        {"example.com:80", "http", "example.com"},
        {"example.com:443", "https", "example.com"},
        {"example.com:443", "http", "example.com:443"},
        {"example.com:80", "HTTPS", "example.com:80"},
        {"example.com.:8080", "http", "example.com:8080"},
        {"example.com:080", "http", "example.com"},
        {"my_host-1.internal", "http", "my_host-1.internal"},
        {"127.0.0.1:8080", "http", "127.0.0.1:8080"},
        {"[::1]:8080", "http", "[::1]:8080"},
        {"[::1]:80", "http", "[::1]"},
        {"[FE80::1]", "http", "[fe80::1]"},
        {"", "http", "(invalid)"},
        {":80", "http", "(invalid)"},
        {".", "http", "(invalid)"},
        {"a..b", "http", "(invalid)"},
        {".a", "http", "(invalid)"},
        {"a..:80", "http", "(invalid)"},
        {"example.com:", "http", "(invalid)"},
        {"example.com:0", "http", "(invalid)"},
        {"example.com:65536", "http", "(invalid)"},
        {"example.com:123456", "http", "(invalid)"},
        {"example.com:8a", "http", "(invalid)"},
        {"exa mple.com", "http", "(invalid)"},
        {"a/b", "http", "(invalid)"},
        {"user@example.com", "http", "(invalid)"},
        {"example.com:80:80", "http", "(invalid)"},
        {"[::1", "http", "(invalid)"},
        {"[::1]x", "http", "(invalid)"},
        {"ex\xc3\xa4mple.com", "http", "(invalid)"},
    };
    size_t i;
    for (i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i)
        CHECK_EQ_STR(host_of(rows[i].authority, rows[i].scheme), rows[i].out);
}

TEST(cache_key_glob)
{
    CHECK(kve_cache_glob_match("utm_*", H2O_STRLIT("utm_source")));
    CHECK(kve_cache_glob_match("utm_*", H2O_STRLIT("utm_")));
    CHECK(!kve_cache_glob_match("utm_*", H2O_STRLIT("xutm_a")));
    CHECK(!kve_cache_glob_match("utm_*", H2O_STRLIT("UTM_a")));
    CHECK(kve_cache_glob_match("*", H2O_STRLIT("")));
    CHECK(kve_cache_glob_match("a?c", H2O_STRLIT("abc")));
    CHECK(!kve_cache_glob_match("a?c", H2O_STRLIT("ac")));
    CHECK(kve_cache_glob_match("*id", H2O_STRLIT("uid")));
    CHECK(kve_cache_glob_match("a*b*c", H2O_STRLIT("aXbYc")));
    CHECK(kve_cache_glob_match("a*b*c", H2O_STRLIT("abc")));
    CHECK(!kve_cache_glob_match("a*b*c", H2O_STRLIT("acb")));
    CHECK(kve_cache_glob_match("**x", H2O_STRLIT("aaax")));
    CHECK(!kve_cache_glob_match("", H2O_STRLIT("a")));
    CHECK(kve_cache_glob_match("fbclid", H2O_STRLIT("fbclid")));
    CHECK(!kve_cache_glob_match("fbclid", H2O_STRLIT("fbclid2")));
}

struct req_t {
    const char *method, *scheme, *authority, *path;
    const char *const *headers;
};

static int encode(const kve_cache_key_conf_t *conf, const struct req_t *r, kve_buf_t *out)
{
    cache_hdrs_t t;
    kve_cache_key_req_t req;
    cache_hdrs(&t, r->headers);
    req = (kve_cache_key_req_t){h2o_iovec_init(r->method, strlen(r->method)),
                                h2o_iovec_init(r->scheme, strlen(r->scheme)),
                                h2o_iovec_init(r->authority, strlen(r->authority)),
                                h2o_iovec_init(r->path, strlen(r->path)),
                                t.h,
                                t.n};
    return kve_cache_key_encode(conf, &req, out);
}

/* 1 if the two requests have the same primary key under `conf` */
static int same_key(const kve_cache_key_conf_t *conf, struct req_t a, struct req_t b)
{
    kve_buf_t ka = KVE_BUF_INIT, kb = KVE_BUF_INIT;
    int same;
    CHECK_EQ_INT(encode(conf, &a, &ka), 0);
    CHECK_EQ_INT(encode(conf, &b, &kb), 0);
    same = ka.len == kb.len && memcmp(ka.base, kb.base, ka.len) == 0;
    kve_buf_dispose(&ka);
    kve_buf_dispose(&kb);
    return same;
}

#define GET(authority, path) ((struct req_t){"GET", "http", authority, path, NULL})
#define WITH(path, ...) ((struct req_t){"GET", "http", "example.com", path, H(__VA_ARGS__)})

TEST(cache_key_equivalence)
{
    static const char *const utm[] = {"utm_*", "fbclid"};
    static const char *const headers[] = {"x-tenant", "x-b"};
    static const char *const cookies[] = {"lang"};
    kve_cache_key_conf_t as_sent = {KVE_CACHE_QUERY_AS_SENT, utm, 2, NULL, 0, NULL, 0};
    kve_cache_key_conf_t sorted = {KVE_CACHE_QUERY_SORTED, utm, 2, NULL, 0, NULL, 0};
    kve_cache_key_conf_t ignore = {KVE_CACHE_QUERY_IGNORE, NULL, 0, NULL, 0, NULL, 0};
    kve_cache_key_conf_t extras = {KVE_CACHE_QUERY_AS_SENT, NULL, 0, headers, 2, cookies, 1};

    CHECK(same_key(&as_sent, GET("example.com", "/a"), GET("example.com", "/a")));
    CHECK(same_key(&as_sent, GET("Example.com:80", "/a"), GET("example.com", "/a")));
    CHECK(!same_key(&as_sent, GET("example.com", "/a"), GET("example.org", "/a")));
    CHECK(!same_key(&as_sent, GET("example.com", "/a"), ((struct req_t){"GET", "https", "example.com", "/a", NULL})));
    CHECK(same_key(&as_sent, ((struct req_t){"HEAD", "http", "example.com", "/a", NULL}), GET("example.com", "/a")));
    CHECK(!same_key(&as_sent, ((struct req_t){"POST", "http", "example.com", "/a", NULL}), GET("example.com", "/a")));
    /* the path is compared byte for byte (no decoding, no dot-segment removal, no case folding) */
    CHECK(!same_key(&as_sent, GET("example.com", "/a%41"), GET("example.com", "/aA")));
    CHECK(!same_key(&as_sent, GET("example.com", "/A"), GET("example.com", "/a")));
    CHECK(!same_key(&as_sent, GET("example.com", "/a/../b"), GET("example.com", "/b")));
    /* query as sent: order matters, "?" matters, exclusions drop parameters */
    CHECK(!same_key(&as_sent, GET("example.com", "/p?b=2&a=1"), GET("example.com", "/p?a=1&b=2")));
    CHECK(!same_key(&as_sent, GET("example.com", "/p?"), GET("example.com", "/p")));
    CHECK(same_key(&as_sent, GET("example.com", "/p?a=1&utm_source=x&fbclid=y"), GET("example.com", "/p?a=1")));
    CHECK(same_key(&as_sent, GET("example.com", "/p?utm_medium"), GET("example.com", "/p?")));
    CHECK(!same_key(&as_sent, GET("example.com", "/p?a=1&b=2"), GET("example.com", "/p?a=1%26b=2")));
    CHECK(!same_key(&as_sent, GET("example.com", "/p?a=1&&b=2"), GET("example.com", "/p?a=1&b=2")));
    CHECK(!same_key(&as_sent, GET("example.com", "/p?a=1&b"), GET("example.com", "/p?a=1b")));
    /* sorted: by name, same-name order kept, empties dropped, "?" alone is no query */
    CHECK(same_key(&sorted, GET("example.com", "/p?b=2&a=1"), GET("example.com", "/p?a=1&b=2")));
    CHECK(!same_key(&sorted, GET("example.com", "/p?a=2&a=1"), GET("example.com", "/p?a=1&a=2")));
    CHECK(same_key(&sorted, GET("example.com", "/p?b=1&a=2&a=1"), GET("example.com", "/p?a=2&a=1&b=1")));
    CHECK(same_key(&sorted, GET("example.com", "/p?a=1&&b=2&"), GET("example.com", "/p?b=2&a=1")));
    CHECK(same_key(&sorted, GET("example.com", "/p?utm_campaign=z"), GET("example.com", "/p")));
    CHECK(same_key(&sorted, GET("example.com", "/p?"), GET("example.com", "/p")));
    CHECK(!same_key(&sorted, GET("example.com", "/p?a"), GET("example.com", "/p?a=")));
    CHECK(!same_key(&sorted, GET("example.com", "/p?ab=1"), GET("example.com", "/p?a=b1")));
    /* ignored query */
    CHECK(same_key(&ignore, GET("example.com", "/p?a=1"), GET("example.com", "/p?a=2")));
    CHECK(!same_key(&ignore, GET("example.com", "/p?a=1"), GET("example.com", "/q?a=1")));
    /* configured headers and cookies: absent differs from empty; values are normalised; no separator collisions */
    CHECK(same_key(&extras, WITH("/p", "X-Tenant", "a", "Cookie", "sid=1; lang=en"),
                   WITH("/p", "x-tenant", " a ", "Cookie", "lang=en")));
    CHECK(!same_key(&extras, WITH("/p", "X-Tenant", "a"), WITH("/p", "X-Tenant", "b")));
    CHECK(!same_key(&extras, WITH("/p", "X-Tenant", ""), WITH("/p", "X-Other", "")));
    CHECK(!same_key(&extras, WITH("/p", "X-Tenant", "a;b", "X-B", "c"), WITH("/p", "X-Tenant", "a", "X-B", "b;c")));
    CHECK(!same_key(&extras, WITH("/p", "Cookie", "lang=en"), WITH("/p", "Cookie", "lang=fr")));
    CHECK(!same_key(&extras, WITH("/p", "Cookie", "lang="), WITH("/p", "Cookie", "x=1")));
    CHECK(same_key(&extras, WITH("/p", "Cookie", "xlang=en"), WITH("/p", "Cookie", "x=1")));
    CHECK(same_key(&extras, WITH("/p", "Cookie", "a=1", "Cookie", "lang=en "), WITH("/p", "Cookie", "lang=en")));
    CHECK(same_key(&extras, WITH("/p", "Other", "1"), WITH("/p", "Other", "2")));
}

TEST(cache_key_encoding)
{
    static const char *const headers[] = {"x-a"};
    kve_cache_key_conf_t conf = {KVE_CACHE_QUERY_SORTED, NULL, 0, headers, 1, NULL, 0};
    struct req_t r = WITH("/p?b=2&a=1", "X-A", "v");
    kve_buf_t enc = KVE_BUF_INIT;
    char tags[32];
    size_t pos = 0, n = 0, vlen;
    const char *v;
    uint8_t tag;

    CHECK_EQ_INT(encode(&conf, &r, &enc), 0);
    while (kve_cache_enc_next(enc.base, enc.len, &pos, &tag, &v, &vlen) == 0 && n + 1 < sizeof(tags))
        tags[n++] = (char)tag;
    tags[n] = '\0';
    CHECK_EQ_STR(tags, "VMSHPqqhpv");
    CHECK_EQ_UINT(pos, enc.len);
    /* a truncated encoding is refused field by field */
    pos = 0;
    CHECK_EQ_INT(kve_cache_enc_next(enc.base, 4, &pos, &tag, &v, &vlen), -1);
    CHECK_EQ_INT(kve_cache_enc_next(enc.base, 8, &pos, &tag, &v, &vlen), -1);
    CHECK_EQ_INT(kve_cache_enc_next(enc.base, 9, &pos, &tag, &v, &vlen), 0);
    CHECK_EQ_MEM(v, vlen, KVE_CACHE_KEY_VERSION, 4);
    kve_buf_dispose(&enc);
    /* an invalid host gives no key */
    r = GET("exa mple", "/");
    CHECK_EQ_INT(encode(&conf, &r, &enc), -1);
    kve_buf_dispose(&enc);
}

TEST(cache_key_names)
{
    uint8_t h[KVE_CACHE_HASH_LEN], v[KVE_CACHE_HASH_LEN];
    char buf[160];

    kve_cache_key_hash("", 0, h); /* SHA-256("") starts e3b0c442 98fc1c14 9afbf4c8 996fb924 */
    kve_cache_key_hash("abc", 3, v);
    CHECK_EQ_UINT(kve_cache_key_name(buf, sizeof(buf), h2o_iovec_init(NULL, 0), h, NULL, "h"), 41);
    CHECK_EQ_STR(buf, "kvc1:{e3b0c44298fc1c149afbf4c8996fb924}:h");
    kve_cache_key_name(buf, sizeof(buf), h2o_iovec_init(H2O_STRLIT("app1:")), h, v, "b");
    CHECK_EQ_STR(buf, "app1:kvc1:{e3b0c44298fc1c149afbf4c8996fb924}:ba7816bf8f01cfea414140de5dae2223:b");
    /* too small a buffer: truncated, NUL-terminated, the length needed returned */
    CHECK_EQ_UINT(kve_cache_key_name(buf, 10, h2o_iovec_init(NULL, 0), h, NULL, "h"), 41);
    CHECK_EQ_STR(buf, "kvc1:{e3b");
}

void kve_suite_cache_key(void)
{
    RUN(cache_key_host);
    RUN(cache_key_glob);
    RUN(cache_key_equivalence);
    RUN(cache_key_encoding);
    RUN(cache_key_names);
}
