/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 wire format of the HTTP client (httpclient.h), as pure functions over caller buffers so
 * they can be tested without sockets: the request head writer, the response head parser, the body
 * framing rules (RFC 9112 §6.3) and a streaming chunked decoder.
 *
 * Everything read from an upstream is bounded: the head by the caller's size and header-count limits,
 * a chunk-size line and the trailer section by KVE_HTTP1_MAX_CHUNK_LINE / KVE_HTTP1_MAX_TRAILERS, chunk
 * sizes by KVE_HTTP1_MAX_CHUNK_SIZE. The parsers are strict where leniency would let the client and the
 * upstream disagree on where a response ends: lines end with CRLF, no obs-fold, one Content-Length
 * value, Transfer-Encoding only "chunked" and never together with Content-Length.
 */
#ifndef KVE_PROXY_HTTP1_CODEC_H
#define KVE_PROXY_HTTP1_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/buf.h"

/** Longest chunk-size line (size, extensions, CRLF) accepted. */
#define KVE_HTTP1_MAX_CHUNK_LINE 4096
/** Largest trailer section (all lines) accepted after the last chunk. */
#define KVE_HTTP1_MAX_TRAILERS 16384
/** Largest single chunk accepted (its size only; the data streams through). */
#define KVE_HTTP1_MAX_CHUNK_SIZE ((uint64_t)1 << 48)

/** A header as parsed: name lower-cased in place, both pointing into the parsed buffer. */
typedef struct st_kve_http1_header_t {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kve_http1_header_t;

/** A response head as parsed (pointers into the parsed buffer). */
typedef struct st_kve_http1_response_t {
    int minor_version;
    int status;
    const char *reason;
    size_t reason_len;
    kve_http1_header_t *headers;
    size_t num_headers;
} kve_http1_response_t;

enum {
    /** the head is not complete yet */
    KVE_HTTP1_INCOMPLETE = -2,
    /** malformed */
    KVE_HTTP1_BAD = -1,
    /** over the size or header-count limit */
    KVE_HTTP1_TOO_LARGE = -3,
};

/**
 * Parses a response head at the start of `buf` (`len` bytes; header names are lower-cased in place).
 * `headers` has room for `max_headers` entries; the head may be at most `max_size` bytes. Returns the
 * head's length (> 0) with `res` filled, or KVE_HTTP1_INCOMPLETE, KVE_HTTP1_BAD or KVE_HTTP1_TOO_LARGE
 * with a static reason in `*why`.
 */
int kve_http1_parse_response(char *buf, size_t len, size_t max_size, kve_http1_header_t *headers, size_t max_headers,
                             kve_http1_response_t *res, const char **why);

/** How a response body is delimited. */
typedef enum en_kve_http1_framing_t {
    KVE_HTTP1_BODY_NONE,
    KVE_HTTP1_BODY_LENGTH,
    KVE_HTTP1_BODY_CHUNKED,
    /** until the upstream closes (HTTP/1.0 style; the connection cannot be reused) */
    KVE_HTTP1_BODY_CLOSE,
} kve_http1_framing_t;

/** The framing of a response and whether the connection may carry another request afterwards. */
typedef struct st_kve_http1_body_t {
    kve_http1_framing_t framing;
    /** the Content-Length value (also for HEAD, 204 and 304, whose body is empty), or UINT64_MAX without one */
    uint64_t content_length;
    int keepalive;
} kve_http1_body_t;

/**
 * Works out the framing of `res`, the response to a request with method HEAD when `is_head`. Returns 0,
 * or -1 with a static reason in `*why` (several or bad Content-Length values, a Transfer-Encoding other
 * than "chunked", both headers, a 101 Switching Protocols the client did not ask for).
 */
int kve_http1_response_body(const kve_http1_response_t *res, int is_head, kve_http1_body_t *body, const char **why);

/** Streaming chunked decoder (zero it, or use kve_http1_chunked_init). */
typedef struct st_kve_http1_chunked_t {
    /** payload bytes left in the current chunk */
    uint64_t left;
    /** trailer bytes seen so far */
    size_t trailer_bytes;
    unsigned char state;
    /** set once the last chunk and the trailers are consumed */
    unsigned char done;
} kve_http1_chunked_t;

static inline void kve_http1_chunked_init(kve_http1_chunked_t *d)
{
    *d = (kve_http1_chunked_t){0};
}

/**
 * Decodes from `buf` (`len` bytes, the undecoded input). Returns how many bytes of `buf` it has consumed
 * (framing, and at most one run of payload), or -1 on malformed input with a static reason in `*why`.
 * The payload found, if any, is `buf[*data_off .. *data_off + *data_len)`, inside the consumed bytes.
 * 0 with no payload means more input is needed. `d->done` is set once the whole body has been consumed;
 * bytes after that belong to the next response.
 */
long kve_http1_chunked_decode(kve_http1_chunked_t *d, const char *buf, size_t len, size_t *data_off, size_t *data_len,
                              const char **why);

/** A request header given by the caller. */
typedef struct st_kve_http1_field_t {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kve_http1_field_t;

/** Request body framing: none, a Content-Length, or chunked. */
#define KVE_HTTP1_REQ_NO_BODY UINT64_MAX
#define KVE_HTTP1_REQ_CHUNKED (UINT64_MAX - 1)

/**
 * Appends a request head to `out`: request line, Host (`host` unless a "host" field is given), the fields,
 * then Content-Length or Transfer-Encoding from `body` (a length, KVE_HTTP1_REQ_NO_BODY or
 * KVE_HTTP1_REQ_CHUNKED). Returns 0, or -1 with a static reason in `*why` (nothing appended) when the
 * method is not a token, the target is not an origin-form path without controls or spaces, a name is not a
 * token, a value holds CR, LF or NUL, or a field is one the client owns (content-length,
 * transfer-encoding, connection, keep-alive, te, upgrade, trailer).
 */
int kve_http1_write_request(kve_buf_t *out, const char *method, size_t method_len, const char *path, size_t path_len,
                            const char *host, size_t host_len, const kve_http1_field_t *fields, size_t num_fields, uint64_t body,
                            const char **why);

/** Appends a chunk-size line for `len` payload bytes ("<hex>\r\n") to `dst` (room for 18 bytes); returns its length. */
size_t kve_http1_chunk_header(char *dst, uint64_t len);

#endif
