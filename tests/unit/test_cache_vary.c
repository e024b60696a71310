/* SPDX-License-Identifier: MIT */
/* Vary lists, request field normalisation, Accept-Encoding and secondary keys (handlers/cache_vary.c). */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_vary.h"

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})

/* the normalised Vary list of `pairs`, or "(refused)" */
static const char *vary_of(const char *const *pairs)
{
    static char out[256];
    cache_hdrs_t t;
    kve_buf_t buf = KVE_BUF_INIT;
    cache_hdrs(&t, pairs);
    if (kve_vary_normalize(t.h, t.n, &buf) != 0)
        snprintf(out, sizeof(out), "(refused)");
    else
        snprintf(out, sizeof(out), "%.*s", (int)buf.len, buf.base != NULL ? buf.base : "");
    kve_buf_dispose(&buf);
    return out;
}

TEST(cache_vary_normalize)
{
    const struct {
        const char *const *in;
        const char *out;
    } rows[] = {
        {H("Vary", "Foo"), "foo"},
        {H("Vary", "Foo, Bar"), "bar,foo"},
        {H("vary", " Foo ,bar ", "VARY", "BAZ, foo"), "bar,baz,foo"}, /* lines combined, sorted, de-duplicated */
        {H("Vary", ""), ""},
        {H("Vary", " , ,"), ""},
        {H("X", "1"), ""},
        {H("Vary", "*"), "(refused)"},              /* vary-syntax-star */
        {H("Vary", "*, *"), "(refused)"},           /* vary-syntax-star-star */
        {H("Vary", "*", "Vary", "*"), "(refused)"}, /* vary-syntax-star-star-lines */
        {H("Vary", ", *"), "(refused)"},            /* vary-syntax-empty-star */
        {H("Vary", "", "Vary", "*"), "(refused)"},  /* vary-syntax-empty-star-lines */
        {H("Vary", "*, Foo"), "(refused)"},         /* vary-syntax-star-foo */
        {H("Vary", "Foo, *"), "(refused)"},         /* vary-syntax-foo-star */
        {H("Vary", "Fo o"), "(refused)"},           /* not a field name */
        {H("Vary", "a\"b"), "(refused)"},           /* */
        {H("Vary", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p"), "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p"},
        {H("Vary", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"), "(refused)"}, /* more than KVE_VARY_MAX_FIELDS */
    };
    size_t i;
    for (i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i)
        CHECK_EQ_STR(vary_of(rows[i].in), rows[i].out);
}

TEST(cache_vary_star)
{
    cache_hdrs_t t;
    HDRS(t, "Vary", "Foo", "vary", " * ");
    CHECK(kve_vary_has_star(t.h, t.n));
    HDRS(t, "Vary", "Foo,*x", "X", "*");
    CHECK(!kve_vary_has_star(t.h, t.n));
}

/* the normalised value of `name` among `pairs`, "(absent)" if the request has none */
static const char *value_of(const char *name, const char *const *pairs)
{
    static char out[256];
    cache_hdrs_t t;
    kve_buf_t buf = KVE_BUF_INIT;
    int present;
    cache_hdrs(&t, pairs);
    present = kve_vary_field_value(name, strlen(name), t.h, t.n, &buf);
    snprintf(out, sizeof(out), "%.*s", (int)buf.len, buf.base != NULL ? buf.base : "");
    kve_buf_dispose(&buf);
    return present ? out : "(absent)";
}

TEST(cache_vary_field_value)
{
    const struct {
        const char *name;
        const char *const *in;
        const char *out;
    } rows[] = {
        {"foo", H("Foo", "1,2"), "1,2"},                                  /* vary-normalise-space */
        {"foo", H("Foo", " 1, 2 "), "1,2"},                               /* */
        {"foo", H("Foo", "1", "foo", "2"), "1,2"},                        /* vary-normalise-combine */
        {"foo", H("Foo", "1,,2, "), "1,2"},                               /* empty members */
        {"foo", H("Foo", ""), ""},                                        /* empty is not absent (vary-omit) */
        {"foo", H("Bar", "1"), "(absent)"},                               /* */
        {"foo", H("Foo", "\"a, b\" , c"), "\"a, b\",c"},                  /* no split inside quotes */
        {"foo", H("Foo", "\"a, b", "Foo", "c\", d"), "\"a, b\nc\", d"},   /* unbalanced quotes: kept as sent */
        {"accept-language", H("Accept-Language", "en, de"), "en,de"},     /* order kept (lang-order is not normalised) */
        {"accept-encoding", H("Accept-Encoding", "gzip, br"), "br,gzip"}, /* Accept-Encoding is reduced */
    };
    size_t i;
    for (i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i)
        CHECK_EQ_STR(value_of(rows[i].name, rows[i].in), rows[i].out);
}

TEST(cache_vary_accept_encoding)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"gzip, deflate, br", "br,deflate,gzip"},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", "br,deflate,gzip,zstd"},
        {"gzip;q=0, br", "br"},
        {"gzip; q=0.000", ""},
        {"gzip;Q=0.5", "gzip"},
        {"*", "br,deflate,gzip,zstd"},
        {"*;q=0, gzip", "gzip"},
        {"gzip, gzip;q=0", "gzip"}, /* the first mention counts */
        {"identity", ""},
        {"x-gzip", "gzip"},
        {"GZIP, Br, ZSTD", "br,gzip,zstd"},
        {"compress, foo", ""},
        {"gzip;q=2", ""},      /* malformed qvalue: left out */
        {"gzip;q=1.0001", ""}, /* */
        {"gzip;level=1", ""},  /* */
        {"", ""},
    };
    size_t i;
    for (i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i)
        CHECK_EQ_STR(value_of("accept-encoding", H("Accept-Encoding", rows[i].in)), rows[i].out);
    CHECK_EQ_STR(value_of("accept-encoding", H("Accept-Encoding", "gzip", "accept-encoding", "br")), "br,gzip");
    CHECK_EQ_STR(value_of("accept-encoding", H("X", "gzip")), "(absent)");
}

/* whether two requests have the same secondary key for `vary` */
static int same_variant(const char *vary, const char *const *a, const char *const *b)
{
    cache_hdrs_t ta, tb;
    kve_buf_t ka = KVE_BUF_INIT, kb = KVE_BUF_INIT;
    int same;
    cache_hdrs(&ta, a);
    cache_hdrs(&tb, b);
    kve_vary_secondary_key(h2o_iovec_init(vary, strlen(vary)), ta.h, ta.n, &ka);
    kve_vary_secondary_key(h2o_iovec_init(vary, strlen(vary)), tb.h, tb.n, &kb);
    same = ka.len == kb.len && (ka.len == 0 || memcmp(ka.base, kb.base, ka.len) == 0);
    kve_buf_dispose(&ka);
    kve_buf_dispose(&kb);
    return same;
}

TEST(cache_vary_secondary_key)
{
    CHECK(same_variant("foo", H("Foo", "1"), H("Foo", "1")));                                  /* vary-match */
    CHECK(!same_variant("foo", H("Foo", "1"), H("Foo", "2")));                                 /* vary-no-match */
    CHECK(!same_variant("foo", H("Foo", "1"), H("X", "1")));                                   /* vary-omit */
    CHECK(!same_variant("foo", H("Foo", ""), H("X", "1")));                                    /* empty is not absent */
    CHECK(same_variant("foo", H("Foo", "1", "Other", "2"), H("Foo", "1", "Other", "3")));      /* vary-cache-key */
    CHECK(!same_variant("bar,foo", H("Foo", "1", "Bar", "abc"), H("Foo", "2", "Bar", "abc"))); /* vary-2-no-match */
    CHECK(!same_variant("bar,baz,foo", H("Foo", "1", "Bar", "abc4", "Baz", "789"), H("Foo", "1", "Bar", "abc", "Baz", "789")));
    CHECK(same_variant("bar,baz,foo", H("Foo", "1", "Baz", "789"), H("Foo", "1", "Baz", "789"))); /* vary-3-omit */
    CHECK(same_variant("foo", H("Foo", "1,2"), H("Foo", " 1, 2 ")));                              /* vary-normalise-space */
    CHECK(same_variant("foo", H("Foo", "1, 2"), H("Foo", "1", "Foo", "2")));                      /* vary-normalise-combine */
    CHECK(same_variant("accept-encoding", H("Accept-Encoding", "gzip, br"), H("Accept-Encoding", "br;q=0.9, gzip, identity")));
    CHECK(!same_variant("accept-encoding", H("Accept-Encoding", "gzip"), H("Accept-Encoding", "gzip, br")));
    /* the encoding is unambiguous: values holding the separators of a naive join do not collide */
    CHECK(!same_variant("a,b", H("A", "x", "B", "y,z"), H("A", "x,y", "B", "z")));
    CHECK(!same_variant("a,b", H("A", "x\x01p", "B", "y"), H("A", "x", "B", "y")));
    CHECK(same_variant("", H("Foo", "1"), H("Foo", "2"))); /* no Vary: one variant */
}

void kve_suite_cache_vary(void)
{
    RUN(cache_vary_normalize);
    RUN(cache_vary_star);
    RUN(cache_vary_field_value);
    RUN(cache_vary_accept_encoding);
    RUN(cache_vary_secondary_key);
}
