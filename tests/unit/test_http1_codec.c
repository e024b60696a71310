/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/http1_codec.c, the HTTP client's wire format: response heads (valid, incomplete at every
 * length, malformed, over the limits), body framing (RFC 9112 §6.3 and the strict rules), the chunked decoder
 * (whole input, one byte at a time, hostile sizes and lines) and the request writer (header injection
 * refused). Every input is copied to a heap block of its exact size, so ASan catches any read past it.
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/http1_codec.h"

#include <stdlib.h>

static char *dup_exact(const char *s, size_t len)
{
    char *p = malloc(len != 0 ? len : 1);
    memcpy(p, s, len);
    return p;
}

static int parse(const char *text, size_t max_size, size_t max_headers, kve_http1_response_t *res, kve_http1_header_t *hdrs,
                 const char **why, char **keep)
{
    size_t len = strlen(text);
    *keep = dup_exact(text, len);
    return kve_http1_parse_response(*keep, len, max_size, hdrs, max_headers, res, why);
}

TEST(parse_response_head)
{
    static const char text[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty:\r\nX-Sp:  a b \t\r\n\r\nBODY";
    kve_http1_header_t h[8];
    kve_http1_response_t res;
    const char *why;
    char *buf;
    int n = parse(text, 1024, 8, &res, h, &why, &buf);

    CHECK_EQ_INT(n, (int)strlen(text) - 4);
    CHECK_EQ_INT(res.status, 200);
    CHECK_EQ_INT(res.minor_version, 1);
    CHECK_EQ_MEM(res.reason, res.reason_len, "OK", 2);
    CHECK_EQ_UINT(res.num_headers, 3);
    CHECK_EQ_MEM(h[0].name, h[0].name_len, "content-type", 12); /* lower-cased in place */
    CHECK_EQ_MEM(h[0].value, h[0].value_len, "text/plain", 10);
    CHECK_EQ_UINT(h[1].value_len, 0);
    CHECK_EQ_MEM(h[2].value, h[2].value_len, "a b", 3); /* OWS trimmed both sides */
    free(buf);

    n = parse("HTTP/1.0 404\r\n\r\n", 1024, 8, &res, h, &why, &buf); /* no reason phrase */
    CHECK_EQ_INT(n, 16);
    CHECK_EQ_INT(res.status, 404);
    CHECK_EQ_INT(res.minor_version, 0);
    CHECK_EQ_UINT(res.reason_len, 0);
    free(buf);
}

TEST(parse_response_incomplete_at_every_length)
{
    static const char text[] = "HTTP/1.1 204 No Content\r\nA: b\r\nC: d\r\n\r\n";
    size_t full = strlen(text);
    kve_http1_header_t h[4];
    kve_http1_response_t res;
    const char *why;

    for (size_t len = 0; len != full; ++len) {
        char *buf = dup_exact(text, len);
        int n = kve_http1_parse_response(buf, len, 1024, h, 4, &res, &why);
        if (n != KVE_HTTP1_INCOMPLETE)
            CHECK_FAIL_("length %zu: %d (%s)", len, n, why != NULL ? why : "");
        free(buf);
    }
    char *buf = dup_exact(text, full);
    CHECK_EQ_INT(kve_http1_parse_response(buf, full, 1024, h, 4, &res, &why), (int)full);
    free(buf);
}

TEST(parse_response_malformed)
{
    static const char *const bad[] = {
        "garbage\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.2 200 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n",         /* bare LF */
        "HTTP/1.1 200 OK\r\nA: b\n\r\n", /* bare LF on a header */
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA : b\r\n\r\n", /* space before the colon */
        "HTTP/1.1 200 OK\r\n: b\r\n\r\n",   /* empty name */
        "HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: x\001y\r\n\r\n", /* control character */
        "HTTP/1.1 200 OK\r\nA: x\177y\r\n\r\n", /* DEL */
        "HTTP/1.1 200 O\001K\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA\"b: c\r\n\r\n", /* not a token */
    };
    kve_http1_header_t h[8];
    kve_http1_response_t res;
    const char *why;
    char *buf;

    for (size_t i = 0; i != KVE_ARRAY_SIZE(bad); ++i) {
        int n = parse(bad[i], 1024, 8, &res, h, &why, &buf);
        if (n != KVE_HTTP1_BAD || why == NULL)
            CHECK_FAIL_("case %zu (%s): %d", i, bad[i], n);
        free(buf);
    }
}

TEST(parse_response_limits)
{
    kve_http1_header_t h[3];
    kve_http1_response_t res;
    const char *why;
    char *buf;
    char big[2000];

    CHECK_EQ_INT(parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 1024, 3, &res, h, &why, &buf), 37);
    free(buf);
    CHECK_EQ_INT(parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 1024, 3, &res, h, &why, &buf),
                 KVE_HTTP1_TOO_LARGE);
    CHECK_EQ_STR(why, "too many headers");
    free(buf);
    /* a complete head just over max_size, and an incomplete one at max_size */
    snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: %0*d\r\n\r\n", 500, 0);
    CHECK(parse(big, strlen(big), 3, &res, h, &why, &buf) > 0);
    free(buf);
    CHECK_EQ_INT(parse(big, strlen(big) - 1, 3, &res, h, &why, &buf), KVE_HTTP1_TOO_LARGE);
    free(buf);
    big[300] = '\0'; /* no end in sight, 300 bytes buffered, limit 300 */
    CHECK_EQ_INT(parse(big, 300, 3, &res, h, &why, &buf), KVE_HTTP1_TOO_LARGE);
    CHECK_EQ_STR(why, "response head too large");
    free(buf);
    CHECK_EQ_INT(parse(big, 301, 3, &res, h, &why, &buf), KVE_HTTP1_INCOMPLETE);
    free(buf);
}

static int framing(const char *text, int is_head, kve_http1_body_t *body, const char **why)
{
    kve_http1_header_t h[8];
    kve_http1_response_t res;
    char *buf;
    int ret = parse(text, 4096, 8, &res, h, why, &buf);
    if (ret > 0)
        ret = kve_http1_response_body(&res, is_head, body, why);
    else
        ret = -100;
    free(buf);
    return ret;
}

TEST(response_body_framing)
{
    kve_http1_body_t b;
    const char *why;

    CHECK_EQ_INT(framing("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.framing, KVE_HTTP1_BODY_LENGTH);
    CHECK_EQ_UINT(b.content_length, 12);
    CHECK_EQ_INT(b.keepalive, 1);
    CHECK_EQ_INT(framing("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.framing, KVE_HTTP1_BODY_NONE);
    CHECK_EQ_INT(framing("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.framing, KVE_HTTP1_BODY_CHUNKED);
    CHECK_EQ_UINT(b.content_length, UINT64_MAX);
    CHECK_EQ_INT(framing("HTTP/1.1 200 OK\r\nConnection: foo, Close\r\nContent-Length: 1\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.keepalive, 0);
    CHECK_EQ_INT(framing("HTTP/1.1 200 OK\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.framing, KVE_HTTP1_BODY_CLOSE);
    CHECK_EQ_INT(b.keepalive, 0);
    CHECK_EQ_INT(framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.keepalive, 0); /* HTTP/1.0: never reused */
    /* HEAD, 204, 304: no body whatever the headers say; HEAD keeps the announced length */
    CHECK_EQ_INT(framing("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 1, &b, &why), 0);
    CHECK_EQ_INT(b.framing, KVE_HTTP1_BODY_NONE);
    CHECK_EQ_UINT(b.content_length, 99);
    CHECK_EQ_INT(b.keepalive, 1);
    CHECK_EQ_INT(framing("HTTP/1.1 204 No Content\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.framing, KVE_HTTP1_BODY_NONE);
    CHECK_EQ_INT(framing("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, &b, &why), 0);
    CHECK_EQ_INT(b.framing, KVE_HTTP1_BODY_NONE);
    /* same length twice is fine */
    CHECK_EQ_INT(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 0, &b, &why), 0);
}

TEST(response_body_refused)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12345678901234567890\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n", /* the client skips 1xx before asking */
    };
    kve_http1_body_t b;
    const char *why;
    for (size_t i = 0; i != KVE_ARRAY_SIZE(bad); ++i) {
        why = NULL;
        if (framing(bad[i], 0, &b, &why) != -1 || why == NULL)
            CHECK_FAIL_("case %zu accepted: %s", i, bad[i]);
    }
}

/* decodes `in` fed `step` bytes at a time (0: all at once), appending the payload to `out` */
static int decode(const char *in, size_t step, char *out, size_t *outlen, size_t *rest, const char **why)
{
    kve_http1_chunked_t d;
    size_t len = strlen(in), fed = 0, start = 0;

    kve_http1_chunked_init(&d);
    *outlen = 0;
    while (!d.done) {
        size_t off, dlen, avail;
        fed = step == 0 ? len : KVE_MIN(len, fed + step);
        avail = fed - start;
        char *buf = dup_exact(in + start, avail);
        long n = kve_http1_chunked_decode(&d, buf, avail, &off, &dlen, why);
        if (n >= 0 && dlen != 0) {
            CHECK(off + dlen <= (size_t)n);
            memcpy(out + *outlen, buf + off, dlen);
            *outlen += dlen;
        }
        free(buf);
        if (n < 0)
            return -1;
        start += (size_t)n;
        if (n == 0 && dlen == 0 && fed == len && !d.done)
            return -2; /* needs more than there is */
    }
    *rest = len - start;
    return 0;
}

TEST(chunked_decoder)
{
    static const char body[] = "5;name=value\r\nhello\r\n1\r\n \r\n6 ; x\r\nworld!\r\n0\r\nTrailer: 1\r\n\r\nNEXT";
    char out[64];
    size_t outlen, rest;
    const char *why;

    for (size_t step = 0; step != 8; ++step) {
        CHECK_EQ_INT(decode(body, step, out, &outlen, &rest, &why), 0);
        CHECK_EQ_MEM(out, outlen, "hello world!", 12);
        CHECK_EQ_UINT(rest, 4); /* "NEXT" belongs to the next response */
    }
    CHECK_EQ_INT(decode("0\r\n\r\n", 0, out, &outlen, &rest, &why), 0);
    CHECK_EQ_UINT(outlen, 0);
    CHECK_EQ_INT(decode("A\r\n0123456789\r\n0\r\n\r\n", 1, out, &outlen, &rest, &why), 0);
    CHECK_EQ_UINT(outlen, 10);
    CHECK_EQ_INT(decode("5\r\nhello\r\n", 0, out, &outlen, &rest, &why), -2); /* cut after a whole chunk: not done */
    CHECK_EQ_INT(decode("5\r\nhel", 0, out, &outlen, &rest, &why), -2);
}

TEST(chunked_decoder_refuses)
{
    static const char *const bad[] = {
        "zz\r\nabc\r\n0\r\n\r\n",
        "\r\n", /* no size */
        "-1\r\n",
        "3\nabc\r\n0\r\n\r\n",    /* bare LF */
        "3\r\nabcX\r\n0\r\n\r\n", /* no CRLF after the data */
        "3\r\nabc\n0\r\n\r\n",
        "1000000000001\r\n",            /* over KVE_HTTP1_MAX_CHUNK_SIZE */
        "fffffffffffffffffffff\r\n",    /* overflow */
        "3 x\r\nabc\r\n0\r\n\r\n",      /* junk after the size */
        "3;a\001b\r\nabc\r\n0\r\n\r\n", /* control in an extension */
        "0\r\nTrailer: 1\n\r\n",        /* bare LF in the trailers */
    };
    char out[64];
    size_t outlen, rest;
    const char *why;
    for (size_t i = 0; i != KVE_ARRAY_SIZE(bad); ++i) {
        for (size_t step = 0; step != 3; ++step) {
            why = NULL;
            if (decode(bad[i], step, out, &outlen, &rest, &why) != -1 || why == NULL)
                CHECK_FAIL_("case %zu step %zu accepted", i, step);
        }
    }
}

TEST(chunked_decoder_line_limits)
{
    size_t n = KVE_HTTP1_MAX_CHUNK_LINE + 10, outlen, rest;
    char *line = malloc(n + 1), out[8];
    const char *why;

    memset(line, 'a', n); /* hex digits... then extension chars, never a LF */
    memcpy(line, "1;", 2);
    line[n] = '\0';
    CHECK_EQ_INT(decode(line, 0, out, &outlen, &rest, &why), -1);
    CHECK_EQ_STR(why, "chunk-size line too long");
    free(line);

    size_t tn = KVE_HTTP1_MAX_TRAILERS + 100;
    char *trailers = malloc(tn + 1);
    memcpy(trailers, "0\r\n", 3);
    for (size_t i = 3; i < tn; i += 8)
        memcpy(trailers + i, "X: abc\r\n", KVE_MIN((size_t)8, tn - i));
    trailers[tn] = '\0';
    CHECK_EQ_INT(decode(trailers, 0, out, &outlen, &rest, &why), -1);
    CHECK_EQ_STR(why, "trailer section too large");
    free(trailers);
}

TEST(write_request)
{
    kve_buf_t b = KVE_BUF_INIT;
    const char *why;
    kve_http1_field_t f[] = {{KVE_STRLIT("Accept"), KVE_STRLIT("*/*")}, {KVE_STRLIT("X-Empty"), KVE_STRLIT("")}};
    static const char expect[] = "GET /a?b=c HTTP/1.1\r\nHost: up:8080\r\nAccept: */*\r\nX-Empty: \r\n\r\n";

    CHECK_EQ_INT(kve_http1_write_request(&b, KVE_STRLIT("GET"), KVE_STRLIT("/a?b=c"), KVE_STRLIT("up:8080"), f, 2,
                                         KVE_HTTP1_REQ_NO_BODY, &why),
                 0);
    CHECK_EQ_MEM(b.base, b.len, expect, sizeof(expect) - 1);
    b.len = 0;
    kve_http1_field_t host[] = {{KVE_STRLIT("HOST"), KVE_STRLIT("other")}};
    CHECK_EQ_INT(kve_http1_write_request(&b, KVE_STRLIT("POST"), KVE_STRLIT("/p"), KVE_STRLIT("up"), host, 1, 42, &why), 0);
    CHECK_EQ_MEM(b.base, b.len, "POST /p HTTP/1.1\r\nHOST: other\r\nContent-Length: 42\r\n\r\n",
                 sizeof("POST /p HTTP/1.1\r\nHOST: other\r\nContent-Length: 42\r\n\r\n") - 1);
    b.len = 0;
    CHECK_EQ_INT(
        kve_http1_write_request(&b, KVE_STRLIT("PUT"), KVE_STRLIT("/p"), KVE_STRLIT("up"), NULL, 0, KVE_HTTP1_REQ_CHUNKED, &why),
        0);
    CHECK_EQ_MEM(b.base, b.len, "PUT /p HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n",
                 sizeof("PUT /p HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n") - 1);
    kve_buf_dispose(&b);
}

TEST(write_request_refuses)
{
    static const kve_http1_field_t bad_fields[][1] = {
        {{KVE_STRLIT("X-A"), KVE_STRLIT("v\r\nInjected: 1")}},
        {{KVE_STRLIT("X-A"), KVE_STRLIT("v\nx")}},
        {{KVE_STRLIT("X A"), KVE_STRLIT("v")}},
        {{KVE_STRLIT("X-A\r\nB"), KVE_STRLIT("v")}},
        {{KVE_STRLIT(""), KVE_STRLIT("v")}},
        {{KVE_STRLIT("Content-Length"), KVE_STRLIT("3")}},
        {{KVE_STRLIT("transfer-encoding"), KVE_STRLIT("chunked")}},
        {{KVE_STRLIT("Connection"), KVE_STRLIT("close")}},
        {{KVE_STRLIT("Upgrade"), KVE_STRLIT("h2c")}},
    };
    static const struct {
        const char *method, *path;
    } bad_lines[] = {{"GET", "noslash"}, {"GET", "/a b"}, {"GET", "/a\r\nX: y"}, {"G T", "/"},
                     {"", "/"},          {"GET", ""},     {"GET", "/\x7f"}};
    kve_buf_t b = KVE_BUF_INIT;
    const char *why;

    for (size_t i = 0; i != KVE_ARRAY_SIZE(bad_fields); ++i) {
        if (kve_http1_write_request(&b, KVE_STRLIT("GET"), KVE_STRLIT("/"), KVE_STRLIT("h"), bad_fields[i], 1,
                                    KVE_HTTP1_REQ_NO_BODY, &why) != -1)
            CHECK_FAIL_("field case %zu accepted", i);
    }
    for (size_t i = 0; i != KVE_ARRAY_SIZE(bad_lines); ++i) {
        if (kve_http1_write_request(&b, bad_lines[i].method, strlen(bad_lines[i].method), bad_lines[i].path,
                                    strlen(bad_lines[i].path), KVE_STRLIT("h"), NULL, 0, KVE_HTTP1_REQ_NO_BODY, &why) != -1)
            CHECK_FAIL_("line case %zu accepted", i);
    }
    CHECK_EQ_INT(kve_http1_write_request(&b, KVE_STRLIT("GET"), KVE_STRLIT("/"), KVE_STRLIT("h\r\nX: 1"), NULL, 0,
                                         KVE_HTTP1_REQ_NO_BODY, &why),
                 -1);
    CHECK_EQ_UINT(b.len, 0); /* nothing appended on refusal */
    kve_buf_dispose(&b);
}

TEST(chunk_header)
{
    char buf[18];
    CHECK_EQ_MEM(buf, kve_http1_chunk_header(buf, 0), "0\r\n", 3);
    CHECK_EQ_MEM(buf, kve_http1_chunk_header(buf, 255), "ff\r\n", 4);
    CHECK_EQ_MEM(buf, kve_http1_chunk_header(buf, 65536), "10000\r\n", 7);
    CHECK_EQ_MEM(buf, kve_http1_chunk_header(buf, UINT64_MAX), "ffffffffffffffff\r\n", 18);
}

void kve_suite_http1_codec(void)
{
    RUN(parse_response_head);
    RUN(parse_response_incomplete_at_every_length);
    RUN(parse_response_malformed);
    RUN(parse_response_limits);
    RUN(response_body_framing);
    RUN(response_body_refused);
    RUN(chunked_decoder);
    RUN(chunked_decoder_refuses);
    RUN(chunked_decoder_line_limits);
    RUN(write_request);
    RUN(write_request_refuses);
    RUN(chunk_header);
}
