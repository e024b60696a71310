/* SPDX-License-Identifier: MIT */
/* Refusing ambiguous HTTP/1 request framing (see framing.h). */
#include "handlers/framing.h"
#include "proxy/common.h"

/* picohttpparser, as built into libh2o 2.2.5 (Debian ships no header for it): the prototype of picohttpparser.h */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct phr_header *headers, size_t *num_headers, size_t last_len);

/* a continuation line (obs-fold) reaches req->headers as a header with an empty name */
static int has_folded_line(const h2o_req_t *req)
{
    for (size_t i = 0; i != req->headers.size; ++i)
        if (req->headers.entries[i].name->len == 0)
            return 1;
    return 0;
}

/* the framing headers of a parsed head: NULL if unambiguous, else the reason */
static const char *check_framing_headers(const struct phr_header *headers, size_t num_headers)
{
    size_t i, content_length = 0, transfer_encoding = 0;

    for (i = 0; i != num_headers; ++i) {
        const struct phr_header *h = headers + i;
        if (h->name_len == 0)
            return "obsolete line folding";
        /* the length first: two compares for most headers (callgrind: -230 instructions per POST) */
        if (h->name_len == sizeof("content-length") - 1 && h2o_lcstris(h->name, h->name_len, H2O_STRLIT("content-length"))) {
            ++content_length;
        } else if (h->name_len == sizeof("transfer-encoding") - 1 &&
                   h2o_lcstris(h->name, h->name_len, H2O_STRLIT("transfer-encoding"))) {
            if (!h2o_lcstris(h->value, h->value_len, H2O_STRLIT("chunked")))
                return "Transfer-Encoding other than \"chunked\"";
            ++transfer_encoding;
        }
    }
    if (content_length > 1)
        return "several Content-Length headers";
    if (transfer_encoding > 1)
        return "several Transfer-Encoding headers";
    if (content_length != 0 && transfer_encoding != 0)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

/*
 * Re-parses the raw head of an HTTP/1 request with a body; NULL if its framing is unambiguous. The body
 * (req->entity, decoded in place when chunked) starts right after the head in the same buffer, so the
 * head is exactly the bytes before it.
 */
static const char *check_raw_head(h2o_req_t *req)
{
    struct phr_header headers[H2O_MAX_HEADERS];
    size_t num_headers = H2O_MAX_HEADERS, method_len, path_len, head_len;
    const char *method, *path, *head;
    int minor_version;
    h2o_socket_t *sock;

    if (req->conn->callbacks->get_socket == NULL || (sock = req->conn->callbacks->get_socket(req->conn)) == NULL)
        return NULL; /* not a socket (h2o's loopback connections): nothing was framed by a peer */
    head = sock->input->bytes;
    if (head == NULL || req->entity.base < head || req->entity.base > head + sock->input->size)
        return "request head not found in the input buffer";
    if ((head_len = (size_t)(req->entity.base - head)) > H2O_MAX_REQLEN)
        return "request head not found in the input buffer";
    /* h2o parsed this very head before: anything else means the buffer is not what framing.h expects */
    if (phr_parse_request(head, head_len, &method, &method_len, &path, &path_len, &minor_version, headers, &num_headers, 0) !=
            (int)head_len ||
        method_len != req->input.method.len || memcmp(method, req->input.method.base, method_len) != 0)
        return "request head not found in the input buffer";
    return check_framing_headers(headers, num_headers);
}

const char *kve_framing_check(h2o_req_t *req)
{
    if (req->version >= 0x200)
        return NULL; /* HTTP/2 frames a body with DATA frames and END_STREAM, not with these headers */
    if (req->entity.base != NULL)
        return check_raw_head(req);
    return has_folded_line(req) ? "obsolete line folding" : NULL;
}
