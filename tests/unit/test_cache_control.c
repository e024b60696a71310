/* SPDX-License-Identifier: MIT */
/*
 * Cache directive parsing (handlers/cache_control.c, cache_sf.c). Each case is a field value and the
 * canonical form of what it parsed to (kve_cc_serialize()), so a row checks every directive at once. Rows
 * name the http-cache-tests ids they mirror (cc-parse, cc-freshness, cc-response, surrogate-control,
 * cdn-cache-control, pragma) or the RFC section.
 */
#include "test.h"
#include "cache_test.h"
#include "handlers/cache_control.h"
#include "handlers/cache_sf.h"

static const char *canon(const kve_cc_t *cc)
{
    static char buf[512];
    CHECK(kve_cc_serialize(cc, buf, sizeof(buf)) < sizeof(buf));
    return buf;
}

static const char *parse_cc(const char *value)
{
    kve_cc_t cc;
    kve_cc_init(&cc);
    kve_cc_parse(&cc, value, strlen(value));
    return canon(&cc);
}

TEST(cache_control_table)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"max-age=3600", "max-age=3600"},                              /* freshness-max-age */
        {"MaX-aGe=3600", "max-age=3600"},                              /* freshness-max-age-case-insenstive */
        {"max-age=\"3600\"", "max-age=3600"},                          /* freshness-max-age-quoted */
        {"max-age='3600'", "max-age=0"},                               /* freshness-max-age-single-quoted */
        {"extension=\"max-age=3600\", max-age=1", "max-age=1"},        /* freshness-max-age-ignore-quoted */
        {"max-age=1, extension=\"max-age=3600\"", "max-age=1"},        /* ...-ignore-quoted-rev */
        {"extension=\"max-age=100\", max-age=\"1\"", "max-age=1"},     /* ...-ignore-quoted-all */
        {"max-age=\"1\", extension=\"max-age=100\"", "max-age=1"},     /* ...-ignore-quoted-all-rev */
        {"max-age =100", "max-age=0"},                                 /* freshness-max-age-space-before-equals */
        {"max-age= 100", "max-age=0"},                                 /* freshness-max-age-space-after-equals */
        {"max-age=003600", "max-age=3600"},                            /* freshness-max-age-leading-zero */
        {"max-age=3600.0", "max-age=0"},                               /* decimal: invalid, stale (§4.2.1) */
        {"max-age=3600.5", "max-age=0"},                               /* freshness-max-age-decimal-five */
        {"max-age=a100", "max-age=0"},                                 /* freshness-max-age-a100 */
        {"max-age=100a", "max-age=0"},                                 /* freshness-max-age-100a */
        {"max-age=-100", "max-age=0"},                                 /* freshness-max-age-negative */
        {"max-age=+5", "max-age=0"},                                   /* a sign is not 1*DIGIT */
        {"max-age=", "max-age=0"},                                     /* empty value */
        {"max-age", "max-age=0"},                                      /* no value */
        {"max-age=\"5", "max-age=0"},                                  /* unterminated quoted-string */
        {"max-age=\"3\\600\"", "max-age=0"},                           /* an escape in a number */
        {"max-age=2147483648", "max-age=2147483648"},                  /* freshness-max-age-max */
        {"max-age=99999999999", "max-age=2147483648"},                 /* freshness-max-age-max-plus: capped (§1.2.2) */
        {"max-age=999999999999999999999999999", "max-age=2147483648"}, /* no overflow */
        {"max-age=1800, max-age=1", "max-age=1800"},                   /* first occurrence wins (§4.2.1) */
        {"max-age=1, max-age=1800", "max-age=1"},                      /* ... also when it is shorter */
        {"max-age=abc, max-age=5", "max-age=0"},                       /* ... also when it is invalid */
        {"foobar, max-age=3600", "max-age=3600"},                      /* freshness-max-age-extension */
        {"nothing-to-see-here", ""},                                   /* the suite's request field */
        {"&&&&&, max-age=5", "max-age=5"},                             /* a malformed element is skipped */
        {"max-age=5;foo", "max-age=0"},                                /* ... and a malformed max-age is stale */
        {",,, max-age=5 ,,", "max-age=5"},                             /* empty elements */
        {"a=\"x, max-age=9\"", ""},                                    /* a comma inside a quoted string */
        {"a=\"x\\\", max-age=9\"", ""},                                /* an escaped quote inside it */
        {"", ""},                                                      /* empty field */
        {"No-StOrE", "no-store"},                                      /* cc-resp-no-store-case-insensitive */
        {"max-age=10000, no-store", "no-store, max-age=10000"},        /* cc-resp-no-store-fresh */
        {"no-store=\"x\"", "no-store"},                                /* restrictive whatever its value */
        {"max-age=10000, No-CaChE", "no-cache, max-age=10000"},        /* cc-resp-no-cache-case-insensitive */
        {"no-cache=\"a\"", "no-cache=\"a\""},                          /* headers-omit-...-no-cache-single */
        {"no-cache=\"a, b\"", "no-cache=\"a, b\""},                    /* headers-omit-...-no-cache */
        {"no-cache=\"a\", no-cache", "no-cache"},                      /* unqualified beats qualified */
        {"no-cache, no-cache=\"a\"", "no-cache"},                      /* ... in either order */
        {"no-cache=\"a\", no-cache=\"b\"", "no-cache"},                /* two lists: unqualified */
        {"no-cache=a", "no-cache"},                                    /* token form: unqualified */
        {"no-cache=\"\"", "no-cache"},                                 /* empty list: unqualified */
        {"no-cache=\"a;b\"", "no-cache"},                              /* not a list of field names: unqualified */
        {"private, max-age=3600", "private, max-age=3600"},            /* cc-resp-private-shared */
        {"private=\"set-cookie\"", "private=\"set-cookie\""},          /* qualified private */
        {"public", "public"},                                          /* */
        {"public=1", ""},                                              /* permissive only without a value */
        {"immutable, max-age=1", "immutable, max-age=1"},              /* */
        {"s-maxage=1, max-age=3600", "max-age=3600, s-maxage=1"},      /* freshness-max-age-s-maxage-shared-longer-reversed */
        {"s-maxage=x", "s-maxage=0"},                                  /* invalid s-maxage: stale */
        {"must-revalidate, proxy-revalidate", "must-revalidate, proxy-revalidate"},
        {"must-understand, no-store", "no-store, must-understand"},       /* RFC 9111 §5.2.2.3 */
        {"no-transform, only-if-cached", "no-transform, only-if-cached"}, /* §5.2.1.6, §5.2.1.7 */
        {"max-stale", "max-stale"},                                       /* §5.2.1.2: any staleness */
        {"max-stale=1000", "max-stale=1000"},                             /* ccreq-max-stale */
        {"max-stale=x", ""},                                              /* invalid request directive: ignored */
        {"min-fresh=2000", "min-fresh=2000"},                             /* ccreq-min-fresh */
        {"min-fresh=-1", ""},                                             /* */
        {"stale-while-revalidate=30, stale-if-error=60", "stale-while-revalidate=30, stale-if-error=60"}, /* RFC 5861 */
        {"stale-while-revalidate=-1, stale-if-error=1.5", ""}, /* invalid windows: none */
    };
    size_t i;
    for (i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        const char *got = parse_cc(rows[i].in);
        if (strcmp(got, rows[i].out) != 0)
            fprintf(stderr, "    row %zu: %s\n", i, rows[i].in);
        CHECK_EQ_STR(got, rows[i].out);
    }
}

TEST(cache_control_lines)
{
    kve_cc_t cc;
    cache_hdrs_t t;

    /* freshness-max-age-two-fresh-stale-sepline / -stale-fresh-sepline: the first line's value wins */
    HDRS(t, "Cache-Control", "max-age=1800", "Cache-Control", "max-age=1");
    kve_cc_parse_response(&cc, t.h, t.n, h2o_iovec_init(NULL, 0));
    CHECK_EQ_INT(cc.max_age, 1800);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CACHE_CONTROL);
    /* freshness-max-age-s-maxage-shared-longer-multiple */
    HDRS(t, "cache-control", "max-age=3600", "CACHE-CONTROL", "s-maxage=1");
    kve_cc_parse_response(&cc, t.h, t.n, h2o_iovec_init(NULL, 0));
    CHECK_EQ_STR(canon(&cc), "max-age=3600, s-maxage=1");
    /* no field at all */
    HDRS(t, "Expires", "0");
    kve_cc_parse_response(&cc, t.h, t.n, h2o_iovec_init(NULL, 0));
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_NONE);
    CHECK_EQ_STR(canon(&cc), "");
}

TEST(cache_control_field_listed)
{
    h2o_iovec_t list = h2o_iovec_init(H2O_STRLIT(" a, B ,c-d"));
    CHECK(kve_cc_field_listed(list, H2O_STRLIT("a")));
    CHECK(kve_cc_field_listed(list, H2O_STRLIT("b")));
    CHECK(kve_cc_field_listed(list, H2O_STRLIT("C-D")));
    CHECK(!kve_cc_field_listed(list, H2O_STRLIT("c")));
    CHECK(!kve_cc_field_listed(list, H2O_STRLIT("ab")));
    CHECK(!kve_cc_field_listed(h2o_iovec_init(NULL, 0), H2O_STRLIT("a")));
}

static const char *parse_sf(const char *value, int *ok)
{
    kve_cc_t cc;
    kve_cc_init(&cc);
    *ok = kve_cc_parse_sf_line(&cc, value, strlen(value)) == 0;
    return canon(&cc);
}

TEST(cache_control_sf_table)
{
    static const struct {
        const char *in;
        int ok;
        const char *out;
    } rows[] = {
        {"max-age=3600", 1, "max-age=3600"},                  /* cdn-max-age */
        {"max-age=2147483648", 1, "max-age=2147483648"},      /* cdn-max-age-max */
        {"max-age=99999999999", 1, "max-age=2147483648"},     /* cdn-max-age-max-plus */
        {"max-age=9999999999999999", 0, NULL},                /* 16 digits: not an sf-integer */
        {"max-age =100", 0, NULL},                            /* cdn-max-age-space-before-equals: invalid field */
        {"max-age= 100", 0, NULL},                            /* cdn-max-age-space-after-equals */
        {"MaX-aGe=3600", 0, NULL},                            /* keys are lower case in RFC 8941 */
        {"foobar, max-age=3600", 1, "max-age=3600"},          /* cdn-max-age-extension */
        {"max-age=10000, &&&&&", 0, NULL},                    /* cdn-cc-invalid-sh-type-unknown */
        {"max-age=\"10000\"", 1, ""},                         /* cdn-cc-invalid-sh-type-wrong: directive ignored */
        {"max-age=1.5", 1, ""},                               /* a Decimal is the wrong type */
        {"max-age=-1", 1, ""},                                /* negative */
        {"max-age=10, max-age=20", 1, "max-age=20"},          /* RFC 8941: the last member wins */
        {"max-age=10;a=1;b", 1, "max-age=10"},                /* parameters ignored */
        {"a=(1 2 \"x\");p=?0, max-age=5", 1, "max-age=5"},    /* inner lists skipped */
        {"no-store", 1, "no-store"},                          /* cdn-no-store-cc-fresh */
        {"no-store=?0", 1, ""},                               /* boolean false */
        {"no-store, no-store=?0", 1, ""},                     /* ... last wins */
        {"private", 1, "private"},                            /* cdn-private */
        {"private=\"set-cookie\"", 1, "private"},             /* any value: unqualified */
        {"no-cache", 1, "no-cache"},                          /* cdn-no-cache */
        {"public=?1, s-maxage=10", 1, "public, s-maxage=10"}, /* */
        {"public=\"x\"", 1, ""},                              /* permissive only when true */
        {"foo", 1, ""},                                       /* cdn-remove-header's value: valid, nothing known */
        {"stale-if-error=60, stale-while-revalidate=5", 1, "stale-while-revalidate=5, stale-if-error=60"},
        {"*x=1, a.b_c-d*=:aGVsbG8=:, t=tok/en:1", 1, ""}, /* every bare item type */
        {"", 0, NULL},                                    /* empty: ignored (RFC 9213 §2.1) */
        {"   ", 0, NULL},                                 /* */
        {"max-age=5,", 0, NULL},                          /* trailing comma */
        {"max-age=5,,a", 0, NULL},                        /* empty member */
        {"max-age=5 a", 0, NULL},                         /* no comma */
        {"a=?2", 0, NULL},                                /* bad boolean */
        {"a=1.", 0, NULL},                                /* bad decimal */
        {"a=1.2345", 0, NULL},                            /* too many fraction digits */
        {"a=\"\\x\"", 0, NULL},                           /* bad escape */
        {"a=:abc", 0, NULL},                              /* unterminated byte sequence */
        {"a=(1 2", 0, NULL},                              /* unterminated inner list */
        {"a=\"\xc3\xa9\"", 0, NULL},                      /* non-ASCII string */
        {"a=@1", 0, NULL},                                /* RFC 9651 dates are not RFC 8941 */
    };
    size_t i;
    int ok;
    for (i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        const char *got = parse_sf(rows[i].in, &ok);
        if (ok != rows[i].ok)
            fprintf(stderr, "    row %zu: %s\n", i, rows[i].in);
        CHECK_EQ_INT(ok, rows[i].ok);
        if (rows[i].ok && ok)
            CHECK_EQ_STR(got, rows[i].out);
    }
}

static kve_cc_t response_cc(cache_hdrs_t *t, const char *targeted)
{
    kve_cc_t cc;
    kve_cc_parse_response(&cc, t->h, t->n, targeted != NULL ? h2o_iovec_init(targeted, strlen(targeted)) : h2o_iovec_init(NULL, 0));
    return cc;
}

TEST(cache_control_response_source)
{
    cache_hdrs_t t;
    kve_cc_t cc;

    /* cdn-max-age-short-cc-max-age: the CDN field wins, Cache-Control is ignored */
    cc = response_cc(HDRS(t, "Cache-Control", "max-age=1", "CDN-Cache-Control", "max-age=3600"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CDN);
    CHECK_EQ_STR(canon(&cc), "max-age=3600");
    /* cdn-fresh-cc-nostore */
    cc = response_cc(HDRS(t, "Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10000"), NULL);
    CHECK_EQ_STR(canon(&cc), "max-age=10000");
    /* cdn-cc-invalid-sh-type-unknown: an invalid CDN field falls back to Cache-Control */
    cc = response_cc(HDRS(t, "CDN-Cache-Control", "max-age=10000, &&&&&", "Cache-Control", "no-store"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CACHE_CONTROL);
    CHECK_EQ_STR(canon(&cc), "no-store");
    /* cdn-cc-invalid-sh-type-wrong: valid Dictionary, max-age ignored, Cache-Control still ignored */
    cc = response_cc(HDRS(t, "CDN-Cache-Control", "max-age=\"10000\"", "Cache-Control", "no-store"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CDN);
    CHECK_EQ_STR(canon(&cc), "");
    /* one invalid line makes the whole field invalid */
    cc = response_cc(HDRS(t, "CDN-Cache-Control", "max-age=5", "cdn-cache-control", "&", "Cache-Control", "max-age=1"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CACHE_CONTROL);
    /* two valid lines: later members win */
    cc = response_cc(HDRS(t, "CDN-Cache-Control", "max-age=5", "cdn-cache-control", "max-age=7"), NULL);
    CHECK_EQ_INT(cc.max_age, 7);
    /* the operator's targeted field beats CDN-Cache-Control; when invalid, CDN-Cache-Control applies */
    cc = response_cc(HDRS(t, "CDN-Cache-Control", "max-age=10", "Edge-Cache-Control", "max-age=5"), "edge-cache-control");
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_TARGETED);
    CHECK_EQ_INT(cc.max_age, 5);
    cc = response_cc(HDRS(t, "CDN-Cache-Control", "max-age=10", "Edge-Cache-Control", "max-age=5;;"), "edge-cache-control");
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CDN);
    CHECK_EQ_INT(cc.max_age, 10);
    /* surrogate-max-age-long-cc-max-age: Surrogate-Control beats Cache-Control */
    cc = response_cc(HDRS(t, "Cache-Control", "max-age=3600", "Surrogate-Control", "max-age=1"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_SURROGATE);
    CHECK_EQ_INT(cc.max_age, 1);
    /* surrogate-max-age-space-before-equals: Surrogate-Control still applies, its max-age is invalid = stale */
    cc = response_cc(HDRS(t, "Cache-Control", "max-age=1", "Surrogate-Control", "max-age =100"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_SURROGATE);
    CHECK_EQ_INT(cc.max_age, 0);
    /* surrogate-no-store-cc-fresh */
    cc = response_cc(HDRS(t, "Cache-Control", "max-age=10000", "Surrogate-Control", "no-store"), NULL);
    CHECK_EQ_STR(canon(&cc), "no-store");
    /* CDN-Cache-Control beats Surrogate-Control; an empty Surrogate-Control is absent */
    cc = response_cc(HDRS(t, "Surrogate-Control", "max-age=1", "CDN-Cache-Control", "max-age=2"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CDN);
    cc = response_cc(HDRS(t, "Surrogate-Control", " ", "Cache-Control", "max-age=2"), NULL);
    CHECK_EQ_INT(cc.source, KVE_CC_SRC_CACHE_CONTROL);
}

TEST(cache_control_request)
{
    cache_hdrs_t t;
    kve_cc_t cc;

    /* the suite's own request fields mean nothing */
    HDRS(t, "Cache-Control", "nothing-to-see-here", "Pragma", "foo");
    kve_cc_parse_request(&cc, t.h, t.n);
    CHECK_EQ_STR(canon(&cc), "");
    /* Pragma: no-cache counts only without Cache-Control (pragma-request-no-cache is answered from cache) */
    HDRS(t, "Cache-Control", "nothing-to-see-here", "Pragma", "no-cache");
    kve_cc_parse_request(&cc, t.h, t.n);
    CHECK_EQ_STR(canon(&cc), "");
    HDRS(t, "Pragma", "no-cache");
    kve_cc_parse_request(&cc, t.h, t.n);
    CHECK_EQ_STR(canon(&cc), "no-cache");
    HDRS(t, "pragma", "unrecognised-extension");
    kve_cc_parse_request(&cc, t.h, t.n);
    CHECK_EQ_STR(canon(&cc), "");
    HDRS(t, "Cache-Control", "max-age=0", "Cache-Control", "only-if-cached, max-stale");
    kve_cc_parse_request(&cc, t.h, t.n);
    CHECK_EQ_STR(canon(&cc), "only-if-cached, max-stale, max-age=0");
    /* response-side Pragma is not read (pragma-response-no-cache) */
    cc = response_cc(HDRS(t, "Cache-Control", "max-age=3600", "Pragma", "no-cache"), NULL);
    CHECK_EQ_STR(canon(&cc), "max-age=3600");
}

void kve_suite_cache_control(void)
{
    RUN(cache_control_table);
    RUN(cache_control_lines);
    RUN(cache_control_field_listed);
    RUN(cache_control_sf_table);
    RUN(cache_control_response_source);
    RUN(cache_control_request);
}
