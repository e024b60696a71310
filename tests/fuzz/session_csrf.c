/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the sessions' CSRF gate (issue 10, S13; handlers/session_csrf.c), which reads Origin, Referer,
 * Sec-Fetch-Site and Host as the client sent them.
 *
 * Input: a flags byte (bit 0: https, bit 1: a safe method (GET), bit 2: the gate off, bit 3: Sec-Fetch-Site given,
 * bit 4: Origin given, bit 5: Referer given, bit 6: a listed origin), then fields separated by 0xff: the authority,
 * Sec-Fetch-Site, Origin, Referer, the listed origin (each copied into a block of exactly its size).
 *
 * Oracles: a normalised origin is at most KVE_SESSION_CSRF_ORIGIN_MAX bytes, "http://" or "https://" then a lower-case
 * host without '/', '@', '?', '#' and an optional ":port" (not the default one), and normalising it again gives itself
 * (also as a URL prefix); the gate allows every safe method and everything with the gate off, everything without the
 * three browser fields, and refuses a Sec-Fetch-Site other than same-origin/none unless the Origin is listed.
 */
#include "fuzz.h"
#include "handlers/session_csrf.h"
#include "proxy/common.h"

enum { F_HTTPS = 1, F_SAFE = 2, F_OFF = 4, F_SITE = 8, F_ORIGIN = 16, F_REFERER = 32, F_LISTED = 64 };

static void check_origin(const char *in, size_t len, int url_prefix)
{
    char out[KVE_SESSION_CSRF_ORIGIN_MAX + 1], again[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    int n = kve_session_csrf_origin(h2o_iovec_init(in, len), url_prefix, out), m;
    const char *host;

    if (n < 0)
        return;
    FUZZ_CHECK(n <= KVE_SESSION_CSRF_ORIGIN_MAX && (size_t)n == strlen(out), "length %d", n);
    FUZZ_CHECK(strncmp(out, "http://", 7) == 0 || strncmp(out, "https://", 8) == 0, "scheme of %s", out);
    host = strstr(out, "://") + 3;
    FUZZ_CHECK(*host != '\0' && strpbrk(host, "/@?#") == NULL, "host of %s", out);
    for (const char *p = host; *p != '\0'; ++p)
        FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "upper case in %s", out);
    FUZZ_CHECK(!(out[4] == 's' && strcmp(out + n - 4, ":443") == 0) && !(out[4] == ':' && strcmp(out + n - 3, ":80") == 0),
               "default port kept in %s", out);
    m = kve_session_csrf_origin(h2o_iovec_init(out, (size_t)n), 0, again);
    FUZZ_CHECK(m == n && memcmp(out, again, (size_t)n) == 0, "not idempotent: %s", out);
    m = kve_session_csrf_origin(h2o_iovec_init(out, (size_t)n), 1, again);
    FUZZ_CHECK(m == n && memcmp(out, again, (size_t)n) == 0, "not idempotent as a URL: %s", out);
}

/* the next field (up to 0xff or the end) */
static const char *field(fuzz_in_t *in, size_t *len)
{
    const uint8_t *start = in->p;
    while (in->p != in->end && *in->p != 0xff)
        ++in->p;
    *len = (size_t)(in->p - start);
    if (in->p != in->end)
        ++in->p;
    return (const char *)start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t flags = fuzz_u8(&in);
    const char *src[5];
    size_t len[5];
    char *copy[5], canon[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    char *listed[1];
    kve_session_conf_t conf;
    h2o_req_t req;
    kve_session_csrf_verdict_t v;
    int listed_origin = 0;

    for (size_t i = 0; i != 5; ++i) {
        src[i] = field(&in, &len[i]);
        copy[i] = fuzz_exact_copy(src[i], len[i]);
    }
    for (size_t i = 0; i != 5; ++i) {
        check_origin(copy[i], len[i], 0);
        check_origin(copy[i], len[i], 1);
    }

    memset(&conf, 0, sizeof(conf));
    conf.csrf.enabled = (flags & F_OFF) == 0;
    if ((flags & F_LISTED) != 0 && kve_session_csrf_origin(h2o_iovec_init(copy[4], len[4]), 0, canon) >= 0) {
        listed[0] = canon;
        conf.csrf.origins.entries = listed;
        conf.csrf.origins.size = 1;
    }
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    req.method = (flags & F_SAFE) != 0 ? h2o_iovec_init(H2O_STRLIT("GET")) : h2o_iovec_init(H2O_STRLIT("POST"));
    req.input.scheme = (flags & F_HTTPS) != 0 ? &H2O_URL_SCHEME_HTTPS : &H2O_URL_SCHEME_HTTP;
    req.input.authority = h2o_iovec_init(copy[0], len[0]);
    if ((flags & F_SITE) != 0)
        h2o_add_header_by_str(&req.pool, &req.headers, H2O_STRLIT("sec-fetch-site"), 0, NULL, copy[1], len[1]);
    if ((flags & F_ORIGIN) != 0) {
        h2o_add_header_by_str(&req.pool, &req.headers, H2O_STRLIT("origin"), 0, NULL, copy[2], len[2]);
        if (conf.csrf.origins.size != 0) {
            char o[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
            int n = kve_session_csrf_origin(h2o_iovec_init(copy[2], len[2]), 0, o);
            listed_origin = n >= 0 && strcmp(o, canon) == 0;
        }
    }
    if ((flags & F_REFERER) != 0)
        h2o_add_header_by_str(&req.pool, &req.headers, H2O_STRLIT("referer"), 0, NULL, copy[3], len[3]);

    v = kve_session_csrf_check(&req, &conf);
    FUZZ_CHECK(kve_session_csrf_allowed(&req, &conf) == (v == KVE_SESSION_CSRF_OK), "two answers");
    if ((flags & (F_SAFE | F_OFF)) != 0 || (flags & (F_SITE | F_ORIGIN | F_REFERER)) == 0)
        FUZZ_CHECK(v == KVE_SESSION_CSRF_OK, "refused (%s) a request the gate must let through", kve_session_csrf_reason(v));
    if ((flags & (F_SAFE | F_OFF)) == 0 && (flags & F_SITE) != 0 && !listed_origin &&
        !h2o_memis(copy[1], len[1], H2O_STRLIT("same-origin")) && !h2o_memis(copy[1], len[1], H2O_STRLIT("none")) &&
        !h2o_lcstris(copy[1], len[1], H2O_STRLIT("same-origin")) && !h2o_lcstris(copy[1], len[1], H2O_STRLIT("none")))
        FUZZ_CHECK(v == KVE_SESSION_CSRF_FETCH_SITE, "Sec-Fetch-Site \"%.*s\" let through", (int)len[1], copy[1]);

    h2o_mem_clear_pool(&req.pool);
    for (size_t i = 0; i != 5; ++i)
        free(copy[i]);
    return 0;
}
