/* SPDX-License-Identifier: MIT */
/* Refusing ambiguous HTTP/1 request framing (see framing.h). */
#include "handlers/framing.h"
#include "proxy/common.h"
#include "proxy/h2o_private.h"

/* a continuation line (obs-fold) reaches req->headers as a header with an empty name */
static int has_folded_line(const h2o_req_t *req)
{
    for (size_t i = 0; i != req->headers.size; ++i)
        if (req->headers.entries[i].name->len == 0)
            return 1;
    return 0;
}

/* whether the line at `line` (`left` bytes to the end of the head) starts with the header name `name` and its colon */
static int is_header(const char *line, size_t left, const char *name, size_t len)
{
    return left > len && (line[0] | 0x20) == name[0] && line[len] == ':' && h2o_lcstris(line, len, name, len);
}

/*
 * The framing headers of a raw head that picohttpparser (inside h2o) has accepted, so its shape is known: a
 * request line, then lines that are either "name:value" (no space before the colon) or, for obs-fold, start
 * with a space or tab, each ending in LF (CRLF or a bare LF), then an empty line. Counting line starts is
 * enough: a value never holds a LF. (A second picohttpparser pass over the head costs ~1,900 instructions
 * per POST, measured with bench/callgrind.sh; this scan ~570.) h2o itself refuses a single Transfer-Encoding other
 * than "chunked".
 */
static const char *scan_head(const char *head, size_t len)
{
    const char *end = head + len, *line = memchr(head, '\n', len);
    size_t content_length = 0, transfer_encoding = 0;

    while (line != NULL && ++line < end) {
        size_t left = (size_t)(end - line);
        if (*line == ' ' || *line == '\t')
            return "obsolete line folding";
        if (is_header(line, left, H2O_STRLIT("content-length")))
            ++content_length;
        else if (is_header(line, left, H2O_STRLIT("transfer-encoding")))
            ++transfer_encoding;
        line = memchr(line, '\n', left);
    }
    if (content_length > 1)
        return "several Content-Length headers";
    if (transfer_encoding > 1)
        return "several Transfer-Encoding headers";
    if (content_length != 0 && transfer_encoding != 0)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

/* the raw head of an HTTP/1 request with a body: where it is, and what that relies on, is h2o_private.h's */
static const char *check_raw_head(h2o_req_t *req)
{
    h2o_iovec_t head;

    switch (kve_h2o_http1_raw_head(req, &head)) {
    case 0:
        return NULL; /* not a socket (loopback connections in tests): nothing was framed by a peer */
    case 1:
        return scan_head(head.base, head.len);
    default: /* the buffer is not what h2o_private.h expects: refuse rather than guess */
        return "request head not found in the input buffer";
    }
}

const char *kve_framing_check(h2o_req_t *req)
{
    if (req->version >= 0x200)
        return NULL; /* HTTP/2 frames a body with DATA frames and END_STREAM, not with these headers */
    if (req->entity.base != NULL)
        return check_raw_head(req);
    return has_folded_line(req) ? "obsolete line folding" : NULL;
}
