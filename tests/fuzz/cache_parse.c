/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the HTTP cache's header parsers and decisions (handlers/cache_control.c, cache_sf.c,
 * cache_date.c, cache_vary.c, cache_response.c, cache_freshness.c, cache_storable.c, cache_headers.c).
 *
 * Input: byte 0 picks the mode, byte 1 carries flags for the rules; the rest is split at '\n' into field
 * lines, each in an exact-size malloc'd block (ASan sees any read past a value). In the header modes a line
 * is "name:value"; a line without ':' is a value for the mode's own field.
 *
 * Oracles:
 * - Cache-Control: parse -> kve_cc_serialize() -> parse gives the same canonical text (stable), every
 *   delta-seconds value is absent or within 0..2^31, borrowed field lists point into the input;
 * - targeted fields: a line accepted as a Dictionary is printable ASCII (plus HTAB), and its directives,
 *   written as Cache-Control, parse back through the other parser to the same canonical text;
 * - HTTP-date: a date that parses formats as an IMF-fixdate that parses back to the same second;
 * - Vary: a normalised list is lower-case tokens in strictly ascending order, at most KVE_VARY_MAX_FIELDS,
 *   and normalising it again gives it back; field values and Accept-Encoding normalise idempotently;
 * - a whole response (and the same lines as a conditional request: a line repeating the stored ETag matches): lifetime and windows
 * are >= 0 and bounded, a stored response has freshness information or a validator, never-stale responses are never served stale,
 * the request's no-cache always validates, and every response field gets a defined action.
 */
#include "fuzz.h"
#include "handlers/cache_conditional.h"
#include "handlers/cache_control.h"
#include "handlers/cache_date.h"
#include "handlers/cache_enc.h"
#include "handlers/cache_headers.h"
#include "handlers/cache_sf.h"
#include "handlers/cache_storable.h"
#include "handlers/cache_vary.h"

#define MAX_LINES 16
#define T0 ((int64_t)1700000000)

struct lines_t {
    h2o_header_t h[MAX_LINES];
    h2o_iovec_t names[MAX_LINES];
    char *blocks[2 * MAX_LINES];
    size_t n, nblocks;
};

static char *exact(struct lines_t *l, const void *p, size_t n)
{
    char *c = fuzz_exact_copy(p, n);
    l->blocks[l->nblocks++] = c;
    return c;
}

/* splits the input into field lines; `dflt` names the lines without ':' */
static void split(struct lines_t *l, const uint8_t *p, size_t len, const char *dflt)
{
    const uint8_t *end = p + len, *nl, *colon;
    memset(l, 0, sizeof(*l));
    while (p < end && l->n != MAX_LINES) {
        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            nl = end;
        colon = memchr(p, ':', (size_t)(nl - p));
        if (colon != NULL && colon != p) {
            l->names[l->n] = h2o_iovec_init(exact(l, p, (size_t)(colon - p)), (size_t)(colon - p));
            p = colon + 1;
        } else {
            l->names[l->n] = h2o_iovec_init(dflt, strlen(dflt));
        }
        l->h[l->n].name = &l->names[l->n];
        l->h[l->n].value = h2o_iovec_init(exact(l, p, (size_t)(nl - p)), (size_t)(nl - p));
        ++l->n;
        p = nl + 1;
    }
}

static void release(struct lines_t *l)
{
    size_t i;
    for (i = 0; i != l->nblocks; ++i)
        free(l->blocks[i]);
}

static void check_deltas(const kve_cc_t *cc)
{
    const int64_t v[] = {cc->max_age, cc->s_maxage, cc->max_stale, cc->min_fresh, cc->stale_while_revalidate, cc->stale_if_error};
    size_t i;
    for (i = 0; i != sizeof(v) / sizeof(v[0]); ++i)
        FUZZ_CHECK(v[i] == KVE_CC_ABSENT || (v[i] >= 0 && v[i] <= KVE_CC_DELTA_MAX), "delta %zu out of range: %lld", i,
                   (long long)v[i]);
}

static void canon(const kve_cc_t *cc, char *buf, size_t cap)
{
    FUZZ_CHECK(kve_cc_serialize(cc, buf, cap) < cap, "canonical form too long");
}

static int within(h2o_iovec_t f, const struct lines_t *l)
{
    size_t i;
    for (i = 0; i != l->n; ++i)
        if (l->h[i].value.len != 0 && f.base >= l->h[i].value.base && f.base + f.len <= l->h[i].value.base + l->h[i].value.len)
            return 1;
    return 0;
}

static void fuzz_cache_control(const struct lines_t *l)
{
    static char a[8192], b[8192];
    kve_cc_t cc, again;
    size_t i;

    kve_cc_init(&cc);
    for (i = 0; i != l->n; ++i)
        kve_cc_parse(&cc, l->h[i].value.base, l->h[i].value.len);
    check_deltas(&cc);
    FUZZ_CHECK(cc.no_cache_fields.base == NULL || within(cc.no_cache_fields, l), "no-cache list outside the input");
    FUZZ_CHECK(cc.private_fields.base == NULL || within(cc.private_fields, l), "private list outside the input");
    canon(&cc, a, sizeof(a));
    kve_cc_init(&again);
    kve_cc_parse(&again, a, strlen(a));
    canon(&again, b, sizeof(b));
    FUZZ_CHECK(strcmp(a, b) == 0, "not stable: \"%s\" then \"%s\"", a, b);
}

static void fuzz_sf(const struct lines_t *l)
{
    static char a[8192], b[8192];
    kve_cc_t cc, again;
    size_t i, j;

    for (i = 0; i != l->n; ++i) {
        kve_cc_init(&cc);
        if (kve_cc_parse_sf_line(&cc, l->h[i].value.base, l->h[i].value.len) != 0)
            continue;
        for (j = 0; j != l->h[i].value.len; ++j) {
            unsigned char c = (unsigned char)l->h[i].value.base[j];
            FUZZ_CHECK((c >= 0x20 && c <= 0x7e) || c == '\t', "accepted byte 0x%02x", c);
        }
        check_deltas(&cc);
        FUZZ_CHECK(cc.no_cache_fields.base == NULL && cc.private_fields.base == NULL, "targeted field borrowed a list");
        canon(&cc, a, sizeof(a));
        kve_cc_init(&again);
        kve_cc_parse(&again, a, strlen(a));
        canon(&again, b, sizeof(b));
        FUZZ_CHECK(strcmp(a, b) == 0, "parsers disagree: \"%s\" then \"%s\"", a, b);
    }
}

static void fuzz_date(const struct lines_t *l)
{
    char buf[KVE_HTTP_DATE_LEN + 1];
    int64_t t, back;
    size_t i;

    for (i = 0; i != l->n; ++i) {
        if (kve_http_date_parse(l->h[i].value.base, l->h[i].value.len, T0, &t) != 0)
            continue;
        FUZZ_CHECK(t >= -62167219200 && t <= 253402300800, "date out of range: %lld", (long long)t);
        kve_http_date_format(t, buf);
        FUZZ_CHECK(kve_http_date_parse(buf, strlen(buf), T0, &back) == 0 && back == t, "no round trip: %lld %s", (long long)t, buf);
    }
}

static void fuzz_vary(const struct lines_t *l)
{
    kve_buf_t a = KVE_BUF_INIT, b = KVE_BUF_INIT, v1 = KVE_BUF_INIT, v2 = KVE_BUF_INIT;
    h2o_iovec_t name = h2o_iovec_init(H2O_STRLIT("vary"));
    h2o_header_t h = {.name = &name};
    size_t i, names = 1;

    if (kve_vary_normalize(l->h, l->n, &a) == 0) {
        for (i = 0; i != a.len; ++i) {
            char c = a.base[i];
            FUZZ_CHECK(c == ',' || (c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z') && c != '*'), "bad byte in the list");
            names += c == ',';
            FUZZ_CHECK(c != ',' || (i != 0 && i + 1 != a.len && a.base[i + 1] != ','), "empty member");
        }
        FUZZ_CHECK(a.len == 0 || names <= KVE_VARY_MAX_FIELDS, "too many names");
        h.value = h2o_iovec_init(a.base, a.len);
        FUZZ_CHECK(kve_vary_normalize(&h, a.len != 0, &b) == 0 && a.len == b.len &&
                       (a.len == 0 || memcmp(a.base, b.base, a.len) == 0),
                   "normalising twice changed the list");
        /* the secondary key of these very lines for that list is well-formed: (n p v) per name */
        kve_vary_secondary_key(h.value, l->h, l->n, &v1);
        {
            size_t pos = 0, vlen, fields = 0;
            uint8_t tag;
            const char *v;
            while (kve_cache_enc_next(v1.base, v1.len, &pos, &tag, &v, &vlen) == 0)
                FUZZ_CHECK(tag == "npv"[fields++ % 3], "bad tag sequence");
            FUZZ_CHECK(pos == v1.len && fields == (a.len != 0 ? 3 * names : 0), "secondary key malformed");
        }
    }
    /* value normalisation is idempotent (Accept-Encoding and a generic field) */
    for (i = 0; i != 2; ++i) {
        const char *field = i == 0 ? "accept-encoding" : "vary";
        h2o_iovec_t fname = h2o_iovec_init(field, strlen(field));
        h2o_header_t again = {.name = &fname};
        v1.len = v2.len = 0;
        if (!kve_vary_field_value(field, strlen(field), l->h, l->n, &v1))
            continue;
        again.value = h2o_iovec_init(v1.base, v1.len);
        FUZZ_CHECK(kve_vary_field_value(field, strlen(field), &again, 1, &v2) == 1, "lost the field");
        FUZZ_CHECK(v1.len == v2.len && (v1.len == 0 || memcmp(v1.base, v2.base, v1.len) == 0), "%s not idempotent", field);
    }
    kve_buf_dispose(&a);
    kve_buf_dispose(&b);
    kve_buf_dispose(&v1);
    kve_buf_dispose(&v2);
}

static void fuzz_response(const struct lines_t *l, uint8_t flags, uint16_t status)
{
    kve_cache_rules_t rules = {.default_ttl = (flags & 1) ? 60 : 0,
                               .heuristic = (flags & 2) != 0,
                               .stale_while_revalidate = (flags & 4) ? 30 : 0,
                               .stale_if_error = (flags & 8) ? 300 : 0,
                               .store_set_cookie = (flags & 16) != 0};
    h2o_iovec_t targeted = (flags & 32) ? h2o_iovec_init(H2O_STRLIT("edge-cache-control")) : h2o_iovec_init(NULL, 0);
    kve_cache_resp_t r;
    kve_cache_fresh_t f;
    kve_cache_store_t verdict;
    kve_cc_t req;
    int64_t age, ages[] = {0, 1, 59, 60, 61, 3600, 100000};
    size_t i;

    kve_cache_resp_parse(&r, status % 700, l->h, l->n, targeted, T0);
    check_deltas(&r.cc);
    kve_cache_fresh_compute(&f, &r, &rules, T0);
    FUZZ_CHECK(f.lifetime >= 0 && f.lifetime <= 400000000000, "lifetime %lld", (long long)f.lifetime);
    FUZZ_CHECK(f.swr >= 0 && f.swr <= KVE_CC_DELTA_MAX && f.sie >= 0 && f.sie <= KVE_CC_DELTA_MAX, "windows");
    verdict = kve_cache_storable(h2o_iovec_init(H2O_STRLIT("GET")), NULL, (flags & 64) != 0, &r, &f, &rules);
    FUZZ_CHECK(strcmp(kve_cache_store_reason(verdict), "unknown") != 0, "verdict %d", (int)verdict);
    if (verdict == KVE_CACHE_STORE_OK)
        FUZZ_CHECK(f.lifetime > 0 || kve_cache_resp_has_validator(&r) || f.swr > 0 || f.sie > 0, "stored a useless response");
    age = kve_cache_initial_age(&r, T0 - (flags >> 7), T0);
    FUZZ_CHECK(age >= 0 && age <= 1000000000000, "initial age %lld", (long long)age); /* Date may be year 0 */
    kve_cc_init(&req);
    req.flags = KVE_CC_NO_CACHE;
    for (i = 0; i != sizeof(ages) / sizeof(ages[0]); ++i) {
        kve_cache_use_t use = kve_cache_use(&f, age + ages[i], NULL);
        FUZZ_CHECK(use <= KVE_CACHE_USE_VALIDATE, "use %d", (int)use);
        if ((f.flags & (KVE_CACHE_FRESH_NO_STALE | KVE_CACHE_FRESH_NO_CACHE)) != 0) {
            FUZZ_CHECK(use == KVE_CACHE_USE_FRESH || use == KVE_CACHE_USE_VALIDATE, "stale use of a never-stale response");
            FUZZ_CHECK(!kve_cache_use_on_error(&f, f.lifetime + 1 + ages[i], NULL), "stale-if-error on a never-stale response");
        }
        if (use == KVE_CACHE_USE_FRESH)
            FUZZ_CHECK(kve_cache_ttl(&f, age + ages[i]) > 0, "fresh with ttl <= 0");
        FUZZ_CHECK(kve_cache_use(&f, age + ages[i], &req) == KVE_CACHE_USE_VALIDATE, "request no-cache not honoured");
    }
    /* conditional requests: the same lines as the request; a line repeating the stored ETag always matches */
    {
        int nm = kve_cache_not_modified(l->h, l->n, r.etag, r.last_modified, r.date, T0);
        FUZZ_CHECK(nm == 0 || nm == 1, "not_modified %d", nm);
        for (i = 0; i != l->n; ++i)
            if (r.etag.base != NULL && h2o_lcstris(l->h[i].name->base, l->h[i].name->len, H2O_STRLIT("if-none-match")) &&
                l->h[i].value.len == r.etag.len && memcmp(l->h[i].value.base, r.etag.base, r.etag.len) == 0 &&
                kve_cache_etag_weak_match(r.etag, r.etag))
                FUZZ_CHECK(nm == 1, "If-None-Match with the stored tag did not match");
    }
    for (i = 0; i != l->n; ++i) {
        unsigned a = kve_cache_response_header(l->h[i].name->base, l->h[i].name->len, l->h, l->n, &r.cc);
        FUZZ_CHECK((a & ~7u) == 0 && (!(a & KVE_CACHE_HDR_NO_FORWARD) || (a & KVE_CACHE_HDR_NO_STORE)), "header action %u", a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fields[] = {"cache-control", "cdn-cache-control", "date", "vary", "x", "accept-encoding"};
    struct lines_t l;
    uint8_t mode, flags;
    uint16_t status;

    if (size < 4 || size > 4096)
        return 0;
    mode = data[0] % 6, flags = data[1], status = (uint16_t)(data[2] | data[3] << 8);
    split(&l, data + 4, size - 4, fields[mode]);
    switch (mode) {
    case 0:
        fuzz_cache_control(&l);
        break;
    case 1:
        fuzz_sf(&l);
        break;
    case 2:
        fuzz_date(&l);
        break;
    case 3:
    case 5:
        fuzz_vary(&l);
        break;
    default:
        fuzz_response(&l, flags, status);
        break;
    }
    release(&l);
    return 0;
}
