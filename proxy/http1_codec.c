/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 request writer, response head parser, body framing and chunked decoder (see http1_codec.h). */
#include "proxy/http1_codec.h"
#include "proxy/common.h"

#include <stdio.h>
#include <strings.h>

/*
 * Character classes, one lookup each: bit 1 = token character (RFC 9110 §5.6.2: alphanumerics and
 * !#$%&'*+-.^_`|~), bit 2 = field-value character (HTAB, SP, visible, obs-text 0x80-0xff; no other controls,
 * no DEL).
 */
static const unsigned char char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    2, 3, 2, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, /* 0x20 */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 3, 3, /* 0x40 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0, /* 0x60 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
};

static inline int is_tchar(unsigned char c)
{
    return (char_class[c] & 1) != 0;
}

static inline int is_field_vchar(unsigned char c)
{
    return (char_class[c] & 2) != 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* --- response head --- */

/* the end of the line that starts at `p` (the LF), or NULL; the line must end in CRLF */
static const char *line_end(const char *p, const char *end, int *bad)
{
    const char *lf = memchr(p, '\n', end - p);
    *bad = 0;
    if (lf != NULL && (lf == p || lf[-1] != '\r'))
        *bad = 1;
    return lf;
}

static int parse_status_line(const char *p, const char *eol, kve_http1_response_t *res, const char **why)
{
    /* "HTTP/1.x SSS[ reason]" up to the CR at eol[-1] */
    const char *cr = eol - 1;
    if (cr - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') {
        *why = "malformed status line";
        return -1;
    }
    if (!(p[9] >= '1' && p[9] <= '9') || !(p[10] >= '0' && p[10] <= '9') || !(p[11] >= '0' && p[11] <= '9')) {
        *why = "malformed status code";
        return -1;
    }
    res->minor_version = p[7] - '0';
    res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    res->reason = p + 12;
    res->reason_len = 0;
    if (cr > p + 12) {
        if (p[12] != ' ') {
            *why = "malformed status line";
            return -1;
        }
        res->reason = p + 13;
        res->reason_len = cr - (p + 13);
        for (size_t i = 0; i != res->reason_len; ++i) {
            if (!is_field_vchar((unsigned char)res->reason[i])) {
                *why = "control character in the reason phrase";
                return -1;
            }
        }
    }
    return 0;
}

static int parse_header_line(char *p, const char *cr, kve_http1_header_t *h, const char **why)
{
    char *colon = p;
    while (colon != cr && is_tchar((unsigned char)*colon))
        ++colon;
    if (colon == p || colon == cr || *colon != ':') {
        *why = is_ows(*p) ? "obsolete line folding in a header" : "malformed header name";
        return -1;
    }
    for (char *c = p; c != colon; ++c)
        *c = (char)((*c >= 'A' && *c <= 'Z') ? *c + ('a' - 'A') : *c);
    h->name = p;
    h->name_len = colon - p;
    const char *v = colon + 1, *vend = cr;
    while (v != vend && is_ows(*v))
        ++v;
    while (vend != v && is_ows(vend[-1]))
        --vend;
    for (const char *c = v; c != vend; ++c) {
        if (!is_field_vchar((unsigned char)*c)) {
            *why = "control character in a header value";
            return -1;
        }
    }
    h->value = v;
    h->value_len = vend - v;
    return 0;
}

int kve_http1_parse_response(char *buf, size_t len, size_t max_size, kve_http1_header_t *headers, size_t max_headers,
                             kve_http1_response_t *res, const char **why)
{
    const char *end = buf + KVE_MIN(len, max_size);
    char *p = buf;
    const char *eol;
    int bad;

    *why = NULL;
    res->num_headers = 0;
    res->headers = headers;
    if ((eol = line_end(p, end, &bad)) == NULL)
        goto Incomplete;
    if (bad || parse_status_line(p, eol, res, why) != 0) {
        if (*why == NULL)
            *why = "status line not ended by CRLF";
        return KVE_HTTP1_BAD;
    }
    for (p = (char *)eol + 1;; p = (char *)eol + 1) {
        if ((eol = line_end(p, end, &bad)) == NULL)
            goto Incomplete;
        if (bad) {
            *why = "header line not ended by CRLF";
            return KVE_HTTP1_BAD;
        }
        if (eol == p + 1) /* the empty line */
            return (int)(eol + 1 - buf);
        if (res->num_headers == max_headers) {
            *why = "too many headers";
            return KVE_HTTP1_TOO_LARGE;
        }
        if (parse_header_line(p, eol - 1, headers + res->num_headers, why) != 0)
            return KVE_HTTP1_BAD;
        ++res->num_headers;
    }

Incomplete:
    if (len >= max_size) {
        *why = "response head too large";
        return KVE_HTTP1_TOO_LARGE;
    }
    return KVE_HTTP1_INCOMPLETE;
}

/* --- body framing --- */

static int header_is(const kve_http1_header_t *h, const char *name, size_t len)
{
    return h->name_len == len && memcmp(h->name, name, len) == 0;
}

/* whether the comma-separated list `v` contains `token` (case-insensitive) */
static int list_has_token(const char *v, size_t len, const char *token, size_t token_len)
{
    const char *end = v + len;
    while (v < end) {
        const char *comma = memchr(v, ',', end - v), *e = comma != NULL ? comma : end;
        const char *s = v;
        while (s != e && is_ows(*s))
            ++s;
        const char *t = e;
        while (t != s && is_ows(t[-1]))
            --t;
        if ((size_t)(t - s) == token_len && strncasecmp(s, token, token_len) == 0)
            return 1;
        v = e + 1;
    }
    return 0;
}

static int parse_length(const char *v, size_t len, uint64_t *out)
{
    uint64_t n = 0;
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i != len; ++i) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    *out = n;
    return 0;
}

int kve_http1_response_body(const kve_http1_response_t *res, int is_head, kve_http1_body_t *body, const char **why)
{
    int has_cl = 0, has_te = 0, conn_close = 0;
    uint64_t cl = 0;

    for (size_t i = 0; i != res->num_headers; ++i) {
        const kve_http1_header_t *h = res->headers + i;
        if (header_is(h, KVE_STRLIT("content-length"))) {
            uint64_t n;
            if (parse_length(h->value, h->value_len, &n) != 0 || (has_cl && n != cl)) {
                *why = has_cl ? "conflicting Content-Length headers" : "invalid Content-Length";
                return -1;
            }
            has_cl = 1, cl = n;
        } else if (header_is(h, KVE_STRLIT("transfer-encoding"))) {
            if (has_te || h->value_len != 7 || strncasecmp(h->value, "chunked", 7) != 0) {
                *why = "unsupported Transfer-Encoding";
                return -1;
            }
            has_te = 1;
        } else if (header_is(h, KVE_STRLIT("connection"))) {
            conn_close |= list_has_token(h->value, h->value_len, KVE_STRLIT("close"));
        }
    }
    if (res->status == 101 || res->status < 200) {
        *why = "unexpected informational or 101 response";
        return -1;
    }
    if (has_te && has_cl) {
        *why = "both Transfer-Encoding and Content-Length";
        return -1;
    }
    body->keepalive = res->minor_version >= 1 && !conn_close;
    body->content_length = has_cl ? cl : UINT64_MAX;
    if (is_head || res->status == 204 || res->status == 304) {
        body->framing = KVE_HTTP1_BODY_NONE;
    } else if (has_te) {
        body->framing = KVE_HTTP1_BODY_CHUNKED;
    } else if (has_cl) {
        body->framing = cl == 0 ? KVE_HTTP1_BODY_NONE : KVE_HTTP1_BODY_LENGTH;
    } else {
        body->framing = KVE_HTTP1_BODY_CLOSE;
        body->keepalive = 0;
    }
    return 0;
}

/* --- chunked decoder --- */

enum { CH_SIZE = 0, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

/* parses a complete chunk-size line [p, lf]; returns 0 and the size, or -1 */
static int parse_chunk_size(const char *p, const char *lf, uint64_t *size, const char **why)
{
    const char *c = p;
    uint64_t n = 0;
    int d;

    if (lf == p || lf[-1] != '\r') {
        *why = "chunk-size line not ended by CRLF";
        return -1;
    }
    for (; c != lf - 1 && (d = kve_hex_digit(*c)) >= 0; ++c) {
        if (n > (KVE_HTTP1_MAX_CHUNK_SIZE >> 4)) {
            *why = "chunk size too large";
            return -1;
        }
        n = (n << 4) | (uint64_t)d;
    }
    if (c == p) {
        *why = "malformed chunk size";
        return -1;
    }
    while (c != lf - 1 && is_ows(*c))
        ++c;
    if (c != lf - 1) { /* chunk extensions: ignored, but no controls */
        if (*c != ';') {
            *why = "malformed chunk size";
            return -1;
        }
        for (; c != lf - 1; ++c) {
            if (!is_field_vchar((unsigned char)*c)) {
                *why = "control character in a chunk extension";
                return -1;
            }
        }
    }
    if (n > KVE_HTTP1_MAX_CHUNK_SIZE) {
        *why = "chunk size too large";
        return -1;
    }
    *size = n;
    return 0;
}

/* one step over framing bytes at `p`; returns bytes consumed, 0 if more input is needed, -1 on error */
static long framing_step(kve_http1_chunked_t *d, const char *p, size_t avail, const char **why)
{
    const char *lf;
    uint64_t size;

    switch (d->state) {
    case CH_SIZE:
        if ((lf = memchr(p, '\n', KVE_MIN(avail, (size_t)KVE_HTTP1_MAX_CHUNK_LINE))) == NULL) {
            if (avail >= KVE_HTTP1_MAX_CHUNK_LINE) {
                *why = "chunk-size line too long";
                return -1;
            }
            return 0;
        }
        if (parse_chunk_size(p, lf, &size, why) != 0)
            return -1;
        d->left = size;
        d->state = size == 0 ? CH_TRAILER : CH_DATA;
        return lf + 1 - p;
    case CH_DATA_CRLF:
        if (avail < 2)
            return avail == 1 && p[0] != '\r' ? (*why = "chunk data not followed by CRLF", -1) : 0;
        if (p[0] != '\r' || p[1] != '\n') {
            *why = "chunk data not followed by CRLF";
            return -1;
        }
        d->state = CH_SIZE;
        return 2;
    case CH_TRAILER: {
        size_t room = KVE_HTTP1_MAX_TRAILERS - d->trailer_bytes;
        if ((lf = memchr(p, '\n', KVE_MIN(avail, room))) == NULL) {
            if (avail >= room) {
                *why = "trailer section too large";
                return -1;
            }
            return 0;
        }
        if (lf == p || lf[-1] != '\r') {
            *why = "trailer line not ended by CRLF";
            return -1;
        }
        d->trailer_bytes += lf + 1 - p;
        if (lf == p + 1)
            d->done = 1;
        return lf + 1 - p;
    }
    default:
        KVE_ASSERT(!"unreachable chunked state");
        return -1;
    }
}

long kve_http1_chunked_decode(kve_http1_chunked_t *d, const char *buf, size_t len, size_t *data_off, size_t *data_len,
                              const char **why)
{
    size_t pos = 0;

    *data_off = 0;
    *data_len = 0;
    while (!d->done && pos != len) {
        if (d->state == CH_DATA) {
            size_t n = (size_t)KVE_MIN(d->left, (uint64_t)(len - pos));
            *data_off = pos;
            *data_len = n;
            d->left -= n;
            if (d->left == 0)
                d->state = CH_DATA_CRLF;
            return (long)(pos + n);
        }
        long n = framing_step(d, buf + pos, len - pos, why);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        pos += (size_t)n;
    }
    return (long)pos;
}

/* --- request head --- */

static int check_token(const char *s, size_t len)
{
    if (len == 0)
        return -1;
    for (size_t i = 0; i != len; ++i)
        if (!is_tchar((unsigned char)s[i]))
            return -1;
    return 0;
}

static int check_value(const char *s, size_t len)
{
    for (size_t i = 0; i != len; ++i)
        if (!is_field_vchar((unsigned char)s[i]))
            return -1;
    return 0;
}

static int is_owned_field(const char *name, size_t len)
{
#define OWNED(s)                                                                                                                   \
    {                                                                                                                              \
        s, sizeof(s) - 1                                                                                                           \
    }
    static const struct {
        const char *name;
        size_t len;
    } owned[] = {OWNED("content-length"), OWNED("transfer-encoding"), OWNED("connection"),      OWNED("keep-alive"), OWNED("te"),
                 OWNED("upgrade"),        OWNED("trailer"),           OWNED("proxy-connection")};
#undef OWNED
    for (size_t i = 0; i != KVE_ARRAY_SIZE(owned); ++i)
        if (owned[i].len == len && strncasecmp(owned[i].name, name, len) == 0)
            return 1;
    return 0;
}

static int check_request(const char *method, size_t method_len, const char *path, size_t path_len, const char *host,
                         size_t host_len, const kve_http1_field_t *fields, size_t num_fields, const char **why)
{
    if (check_token(method, method_len) != 0)
        return *why = "invalid method", -1;
    if (path_len == 0 || (path[0] != '/' && !(path_len == 1 && path[0] == '*')))
        return *why = "request target must be a path", -1;
    for (size_t i = 0; i != path_len; ++i)
        if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f)
            return *why = "invalid character in the request target", -1;
    if (host_len == 0 || check_value(host, host_len) != 0)
        return *why = "invalid host", -1;
    for (size_t i = 0; i != num_fields; ++i) {
        if (check_token(fields[i].name, fields[i].name_len) != 0)
            return *why = "invalid header name", -1;
        if (check_value(fields[i].value, fields[i].value_len) != 0)
            return *why = "invalid header value", -1;
        if (is_owned_field(fields[i].name, fields[i].name_len))
            return *why = "header set by the client itself (framing or connection)", -1;
    }
    return 0;
}

static void append_field(kve_buf_t *out, const char *name, size_t name_len, const char *value, size_t value_len)
{
    char *p = kve_buf_reserve(out, name_len + value_len + 4);
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, value_len);
    p += value_len;
    *p++ = '\r';
    *p++ = '\n';
    out->len += name_len + value_len + 4;
}

int kve_http1_write_request(kve_buf_t *out, const char *method, size_t method_len, const char *path, size_t path_len,
                            const char *host, size_t host_len, const kve_http1_field_t *fields, size_t num_fields, uint64_t body,
                            const char **why)
{
    int has_host = 0;

    size_t size = method_len + path_len + host_len + 80; /* request line, Host, framing, CRLFs */

    if (check_request(method, method_len, path, path_len, host, host_len, fields, num_fields, why) != 0)
        return -1;
    for (size_t i = 0; i != num_fields; ++i)
        size += fields[i].name_len + fields[i].value_len + 4;
    kve_buf_reserve(out, size); /* one allocation */
    kve_buf_append(out, method, method_len);
    kve_buf_putc(out, ' ');
    kve_buf_append(out, path, path_len);
    kve_buf_append(out, KVE_STRLIT(" HTTP/1.1\r\n"));
    for (size_t i = 0; i != num_fields; ++i)
        has_host |= fields[i].name_len == 4 && strncasecmp(fields[i].name, "host", 4) == 0;
    if (!has_host)
        append_field(out, KVE_STRLIT("Host"), host, host_len);
    for (size_t i = 0; i != num_fields; ++i)
        append_field(out, fields[i].name, fields[i].name_len, fields[i].value, fields[i].value_len);
    if (body == KVE_HTTP1_REQ_CHUNKED) {
        kve_buf_append(out, KVE_STRLIT("Transfer-Encoding: chunked\r\n"));
    } else if (body != KVE_HTTP1_REQ_NO_BODY) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)body);
        append_field(out, KVE_STRLIT("Content-Length"), num, (size_t)n);
    }
    kve_buf_append(out, KVE_STRLIT("\r\n"));
    return 0;
}

size_t kve_http1_chunk_header(char *dst, uint64_t len)
{
    static const char hex[] = "0123456789abcdef";
    int shift = 60;
    size_t n = 0;

    while (shift > 0 && ((len >> shift) & 0xf) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        dst[n++] = hex[(len >> shift) & 0xf];
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}
