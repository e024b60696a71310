/* SPDX-License-Identifier: MIT */
/* Test-only handlers that drive the HTTP client from HTTP requests (see hc_forward.h). */
#include "hc_forward.h"
#include "proxy/common.h"
#include "proxy/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <openssl/evp.h>

#define FWD_MAGIC 0x68634677
#define PATTERN_PERIOD 251
#define MAX_PIECE (256 * 1024)

typedef struct st_hc_handler_t {
    h2o_handler_t super;
    size_t index;
    kve_hc_lookup_cb lookup;
} hc_handler_t;

typedef struct st_fwd_t {
    uint32_t magic;
    h2o_req_t *req;
    h2o_loop_t *loop;
    kve_httpclient_req_t *hreq;
    h2o_generator_t gen;
    int started;
    /* the final piece went to h2o: hreq is only kept until the request is disposed (h2o may still write it) */
    int done;
    /* generated request body */
    uint64_t gen_total, gen_sent;
    size_t gen_piece;
    /* sink mode */
    int sink;
    int status;
    uint64_t bytes;
    EVP_MD_CTX *sha;
    /* an h2o_send is in flight (h2o calls proceed when it is done) */
    int sending;
    /* cancelled while sending: abort the response at the proceed */
    int abort_pending;
    /* cancellation */
    int cancel_in; /* 1: in on_head, 2: in the first on_body */
    uint64_t cancel_at;
    h2o_timeout_entry_t cancel_entry;
} fwd_t;

/* one 10 ms tick per thread drives the x-hc-cancel-after-ms timers (an h2o_timeout_t per request would be
 * disposed from inside its own run when the request ends synchronously) */
static __thread h2o_timeout_t *tick;

static char pattern[MAX_PIECE + PATTERN_PERIOD];

static void init_pattern(void)
{
    if (pattern[1] == 1)
        return;
    for (size_t i = 0; i != sizeof(pattern); ++i)
        pattern[i] = (char)(i % PATTERN_PERIOD);
}

static h2o_iovec_t find_header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static uint64_t header_u64(h2o_req_t *req, const char *name, uint64_t dflt)
{
    h2o_iovec_t v = find_header(req, name);
    char buf[32];
    if (v.base == NULL || v.len >= sizeof(buf))
        return dflt;
    memcpy(buf, v.base, v.len);
    buf[v.len] = '\0';
    return strtoull(buf, NULL, 10);
}

static void send_text(h2o_req_t *req, int status, const char *reason, const char *error_name, const char *body)
{
    req->res.status = status;
    req->res.reason = reason;
    if (error_name != NULL)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-hc-error"), 0, NULL, error_name, strlen(error_name));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    h2o_iovec_t b = h2o_strdup(&req->pool, body, SIZE_MAX);
    req->res.content_length = b.len;
    h2o_send_inline(req, b.base, b.len);
}

/* --- the client's callbacks --- */

static int is_hop_by_hop(const char *name, size_t len)
{
    static const char *const names[] = {"connection", "keep-alive", "transfer-encoding", "content-length",
                                        "te",         "trailer",    "upgrade",           "proxy-connection"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(names); ++i)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

static void on_gen_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    fwd_t *f = H2O_STRUCT_FROM_MEMBER(fwd_t, gen, gen);
    f->sending = 0;
    if (f->abort_pending) {
        f->abort_pending = 0;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    if (f->hreq != NULL && !f->done)
        kve_httpclient_proceed(f->hreq);
}

static void on_gen_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    fwd_t *f = H2O_STRUCT_FROM_MEMBER(fwd_t, gen, gen);
    if (f->hreq != NULL) {
        kve_httpclient_cancel(f->hreq);
        f->hreq = NULL;
    }
}

static int on_head(kve_httpclient_req_t *hreq, void *data, const kve_httpclient_response_t *res)
{
    fwd_t *f = data;
    h2o_req_t *req = f->req;

    KVE_CHECK_OBJ(f, FWD_MAGIC);
    if (f->cancel_in == 1) {
        f->hreq = NULL;
        send_text(req, 499, "Client Closed Request", "CANCELLED", "cancelled in on_head\n");
        return 1;
    }
    f->status = res->status;
    if (f->sink)
        return 0;
    req->res.status = res->status;
    req->res.reason = h2o_strdup(&req->pool, res->reason.base, res->reason.len).base;
    for (size_t i = 0; i != res->num_headers; ++i) {
        const kve_http1_header_t *h = res->headers + i;
        if (is_hop_by_hop(h->name, h->name_len))
            continue;
        h2o_iovec_t name = h2o_strdup(&req->pool, h->name, h->name_len);
        h2o_iovec_t value = h2o_strdup(&req->pool, h->value, h->value_len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL, value.base, value.len);
    }
    if (res->content_length != UINT64_MAX)
        req->res.content_length = res->content_length;
    f->gen.proceed = on_gen_proceed;
    f->gen.stop = on_gen_stop;
    h2o_start_response(req, &f->gen);
    f->started = 1;
    return 0;
}

static void sink_done(fwd_t *f)
{
    unsigned char md[32];
    char hex[65], body[256];
    unsigned len = 0;

    EVP_DigestFinal_ex(f->sha, md, &len);
    for (unsigned i = 0; i != len; ++i)
        sprintf(hex + 2 * i, "%02x", md[i]);
    hex[2 * len] = '\0';
    snprintf(body, sizeof(body), "{\"status\":%d,\"bytes\":%llu,\"sha256\":\"%s\"}", f->status, (unsigned long long)f->bytes, hex);
    f->req->res.status = 200;
    f->req->res.reason = "OK";
    h2o_add_header(&f->req->pool, &f->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_iovec_t b = h2o_strdup(&f->req->pool, body, SIZE_MAX);
    f->req->res.content_length = b.len;
    h2o_send_inline(f->req, b.base, b.len);
}

static void on_body(kve_httpclient_req_t *hreq, void *data, const char *bytes, size_t len, int is_final)
{
    fwd_t *f = data;

    KVE_CHECK_OBJ(f, FWD_MAGIC);
    if (f->cancel_in == 2) {
        kve_httpclient_cancel(hreq); /* from inside the callback: must be safe */
        f->hreq = NULL;
        if (f->started)
            h2o_send(f->req, NULL, 0, H2O_SEND_STATE_ERROR);
        else
            send_text(f->req, 499, "Client Closed Request", "CANCELLED", "cancelled in on_body\n");
        return;
    }
    if (f->sink) {
        f->bytes += len;
        EVP_DigestUpdate(f->sha, bytes, len);
        kve_httpclient_proceed(hreq); /* from inside the callback: the next piece comes after this returns */
        if (is_final)
            f->hreq = NULL, sink_done(f);
        return;
    }
    /* the final piece's bytes stay valid until the request is freed: h2o may still be writing them */
    h2o_iovec_t buf = h2o_iovec_init(bytes, len);
    f->done = is_final;
    f->sending = !is_final;
    h2o_send(f->req, &buf, len != 0 ? 1 : 0, is_final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_error(kve_httpclient_req_t *hreq, void *data, int err, const char *detail)
{
    fwd_t *f = data;
    char body[512];

    KVE_CHECK_OBJ(f, FWD_MAGIC);
    f->hreq = NULL;
    if (f->started) {
        h2o_send(f->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    snprintf(body, sizeof(body), "%s: %s\n", kve_strerror(err), detail != NULL ? detail : "");
    send_text(f->req, kve_err_http_status(err), "Upstream Error", kve_err_name(err), body);
}

static void write_gen_piece(fwd_t *f)
{
    uint64_t left = f->gen_total - f->gen_sent;
    size_t n = (size_t)KVE_MIN(left, (uint64_t)f->gen_piece);
    h2o_iovec_t buf = h2o_iovec_init(pattern + f->gen_sent % PATTERN_PERIOD, n);
    f->gen_sent += n;
    KVE_ASSERT(kve_httpclient_write(f->hreq, &buf, 1, f->gen_sent == f->gen_total) == 0);
}

static void on_write_ready(kve_httpclient_req_t *hreq, void *data)
{
    fwd_t *f = data;
    KVE_CHECK_OBJ(f, FWD_MAGIC);
    write_gen_piece(f);
}

static const kve_httpclient_callbacks_t callbacks = {on_head, on_body, on_error, on_write_ready};

/* --- the handler --- */

static void on_fwd_dispose(void *p)
{
    fwd_t *f = p;
    if (f->hreq != NULL)
        kve_httpclient_cancel(f->hreq);
    if (h2o_timeout_is_linked(&f->cancel_entry))
        h2o_timeout_unlink(&f->cancel_entry);
    if (f->sha != NULL)
        EVP_MD_CTX_free(f->sha);
    f->magic = 0;
}

static void on_cancel_timer(h2o_timeout_entry_t *entry)
{
    fwd_t *f = H2O_STRUCT_FROM_MEMBER(fwd_t, cancel_entry, entry);
    if (f->hreq == NULL || f->done)
        return;
    if (h2o_now(f->loop) < f->cancel_at) {
        h2o_timeout_link(f->loop, tick, &f->cancel_entry);
        return;
    }
    kve_httpclient_cancel(f->hreq);
    f->hreq = NULL;
    if (f->started && f->sending)
        f->abort_pending = 1; /* h2o still writes the last piece: abort when it is done */
    else if (f->started)
        h2o_send(f->req, NULL, 0, H2O_SEND_STATE_ERROR);
    else
        send_text(f->req, 499, "Client Closed Request", "CANCELLED", "cancelled by x-hc-cancel-after-ms\n");
}

/* request headers to forward: all but hop-by-hop ones, host, expect and the x-hc-* controls */
static kve_http1_field_t *forward_headers(h2o_req_t *req, size_t *n)
{
    kve_http1_field_t *fields = h2o_mem_alloc_pool(&req->pool, sizeof(*fields) * (req->headers.size + 2));
    size_t i, k = 0;
    for (i = 0; i != req->headers.size; ++i) {
        const h2o_header_t *h = req->headers.entries + i;
        if (is_hop_by_hop(h->name->base, h->name->len) || h2o_memis(h->name->base, h->name->len, H2O_STRLIT("host")) ||
            h2o_memis(h->name->base, h->name->len, H2O_STRLIT("expect")) ||
            (h->name->len > 5 && memcmp(h->name->base, "x-hc-", 5) == 0))
            continue;
        fields[k++] = (kve_http1_field_t){h->name->base, h->name->len, h->value.base, h->value.len};
    }
    fields[k++] = (kve_http1_field_t){H2O_STRLIT("x-forwarded-for"), H2O_STRLIT("127.0.0.1")};
    fields[k++] = (kve_http1_field_t){H2O_STRLIT("via"), H2O_STRLIT("1.1 kve-hc-driver")};
    *n = k;
    return fields;
}

static void setup_controls(fwd_t *f, h2o_req_t *req, kve_httpclient_request_t *spec)
{
    h2o_iovec_t v;
    uint64_t ms;

    f->sink = find_header(req, "x-hc-sink").base != NULL;
    if (f->sink) {
        f->sha = EVP_MD_CTX_new();
        EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL);
    }
    v = find_header(req, "x-hc-cancel-in");
    f->cancel_in = v.base == NULL ? 0 : h2o_memis(v.base, v.len, H2O_STRLIT("head")) ? 1 : 2;
    spec->retry_safe = find_header(req, "x-hc-retry-safe").base != NULL;
    if ((ms = header_u64(req, "x-hc-cancel-after-ms", 0)) != 0) {
        if (tick == NULL) {
            tick = kve_zalloc(sizeof(*tick));
            h2o_timeout_init(f->loop, tick, 10);
        }
        f->cancel_at = h2o_now(f->loop) + ms;
        f->cancel_entry.cb = on_cancel_timer;
        h2o_timeout_link(f->loop, tick, &f->cancel_entry);
    }
    if ((f->gen_total = header_u64(req, "x-hc-gen-body", 0)) != 0) {
        f->gen_piece = (size_t)KVE_MIN(header_u64(req, "x-hc-gen-piece", 65536), (uint64_t)MAX_PIECE);
        if (f->gen_piece == 0)
            f->gen_piece = 65536;
        spec->body_size = find_header(req, "x-hc-gen-chunked").base != NULL ? KVE_HTTPCLIENT_CHUNKED : f->gen_total;
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    hc_handler_t *h = (void *)self;
    kve_httpclient_t *client = h->lookup(req, h->index);
    size_t prefix = req->pathconf->path.len;
    kve_httpclient_request_t spec = {req->method, h2o_iovec_init(NULL, 0)};
    fwd_t *f;
    int ret;

    spec.path = req->path.len > prefix ? h2o_iovec_init(req->path.base + prefix, req->path.len - prefix) : h2o_iovec_init("/", 1);
    if (spec.path.base[0] != '/')
        return -1;
    spec.headers = forward_headers(req, &spec.num_headers);
    spec.body_size = req->entity.base != NULL ? req->entity.len : KVE_HTTPCLIENT_NO_BODY;
    spec.body = req->entity.base != NULL ? req->entity : h2o_iovec_init(NULL, 0);
    f = h2o_mem_alloc_shared(&req->pool, sizeof(*f), on_fwd_dispose);
    *f = (fwd_t){FWD_MAGIC, req, req->conn->ctx->loop};
    setup_controls(f, req, &spec);
    if (f->gen_total != 0)
        spec.body = h2o_iovec_init(NULL, 0);
    if ((ret = kve_httpclient_request(client, &spec, &callbacks, f, &f->hreq)) != 0) {
        char body[256];
        snprintf(body, sizeof(body), "%s\n", kve_strerror(ret));
        send_text(req, kve_err_http_status(ret), "Refused", kve_err_name(ret), body);
        return 0;
    }
    if (f->gen_total != 0)
        write_gen_piece(f);
    return 0;
}

static int on_stats(h2o_handler_t *self, h2o_req_t *req)
{
    hc_handler_t *h = (void *)self;
    kve_httpclient_stats_t s;
    char body[512];

    kve_httpclient_get_stats(h->lookup(req, h->index), &s);
    snprintf(body, sizeof(body),
             "{\"requests\":%llu,\"rejected\":%llu,\"completed\":%llu,\"failed\":%llu,\"cancelled\":%llu,\"connections\":%llu,"
             "\"reused\":%llu,\"retries\":%llu,\"inflight\":%zu,\"queued\":%zu,\"idle\":%zu}",
             (unsigned long long)s.requests, (unsigned long long)s.rejected, (unsigned long long)s.completed,
             (unsigned long long)s.failed, (unsigned long long)s.cancelled, (unsigned long long)s.connections,
             (unsigned long long)s.reused, (unsigned long long)s.retries, s.inflight, s.queued, s.idle);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_iovec_t b = h2o_strdup(&req->pool, body, SIZE_MAX);
    req->res.content_length = b.len;
    h2o_send_inline(req, b.base, b.len);
    return 0;
}

static void register_handler(h2o_pathconf_t *pathconf, size_t index, kve_hc_lookup_cb lookup,
                             int (*cb)(h2o_handler_t *, h2o_req_t *))
{
    hc_handler_t *h = (void *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = cb;
    h->index = index;
    h->lookup = lookup;
}

void kve_hc_register_forward(h2o_pathconf_t *pathconf, size_t index, kve_hc_lookup_cb lookup)
{
    init_pattern();
    register_handler(pathconf, index, lookup, on_req);
}

void kve_hc_register_stats(h2o_pathconf_t *pathconf, size_t index, kve_hc_lookup_cb lookup)
{
    register_handler(pathconf, index, lookup, on_stats);
}

void kve_hc_thread_dispose(h2o_loop_t *loop)
{
    if (tick == NULL)
        return;
    h2o_timeout_dispose(loop, tick);
    free(tick);
    tick = NULL;
}
