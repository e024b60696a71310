/* SPDX-License-Identifier: MIT */
/*
 * The HTTP cache's handler (see cache.h): strips the request fields the cache must not trust, computes the key,
 * reads the object with one batch (variant index, head, body; a second batch for a variant), and then answers a
 * fresh hit from the store, revalidates a stale object that has validators, or delegates to the proxy. Whatever
 * goes wrong with the store (down, slow past store_timeout, a record that does not decode) sends the request
 * upstream: the cache never fails a request. The filter (cache_fill.c) does the rest on forwarded responses.
 */
#include "handlers/cache_internal.h"
#include "handlers/cache_conditional.h"
#include "handlers/cache_headers.h"
#include "handlers/cache_response.h"
#include "handlers/cache_stats.h"
#include "handlers/cache_tags.h"
#include "handlers/cache_vary.h"
#include "handlers/cache_enc.h"
#include "handlers/cache_surrogate.h"
#include "handlers/cache_upstream.h"
#include "handlers/cache_bypass.h"
#include "handlers/session_cache.h"
#include "handlers/cache_status.h"
#include "handlers/cache_memory_sync.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/server.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const h2o_generator_t hit_generator = {NULL, NULL};

kve_cache_req_t *kve_cache__state(h2o_req_t *req)
{
    h2o_iovec_t *env = h2o_req_getenv(req, H2O_STRLIT(KVE_CACHE_ENV), 0);
    kve_cache_req_t *st;
    if (env == NULL || env->base == NULL)
        return NULL;
    st = (void *)env->base;
    KVE_CHECK_OBJ(st, KVE_CACHE_REQ_MAGIC);
    return st;
}

kve_kv_t *kve_cache__link(kve_cache_handler_t *self, h2o_req_t *req)
{
    return kve_thread_link(kve_server_thread(req->conn->ctx), self->conf->store_id, 0);
}

/* a buffer per thread for key encodings (no allocation per request once it has grown) */
static pthread_key_t enc_key;
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;

static void free_enc(void *p)
{
    kve_buf_t *bufs = p;
    kve_buf_dispose(bufs + 0);
    kve_buf_dispose(bufs + 1);
    free(p);
}

static void make_enc_key(void)
{
    KVE_ASSERT(pthread_key_create(&enc_key, free_enc) == 0);
}

kve_buf_t *kve_cache__thread_buf(int which)
{
    kve_buf_t *bufs;

    KVE_ASSERT(which == 0 || which == 1);
    pthread_once(&enc_once, make_enc_key);
    if ((bufs = pthread_getspecific(enc_key)) == NULL) {
        bufs = kve_zalloc(2 * sizeof(*bufs));
        pthread_setspecific(enc_key, bufs);
    }
    bufs[which].len = 0;
    return bufs + which;
}

int kve_cache__key(kve_cache_handler_t *self, h2o_req_t *req, h2o_iovec_t path, h2o_iovec_t *enc)
{
    kve_cache_key_req_t kr = {h2o_iovec_init(H2O_STRLIT("GET")),
                              req->input.scheme->name,
                              req->input.authority,
                              path,
                              req->headers.entries,
                              req->headers.size};
    kve_buf_t *buf = kve_cache__thread_buf(0);

    if (kve_cache_key_encode(&self->key, &kr, buf) != 0)
        return -1;
    *enc = h2o_iovec_init(buf->base, buf->len);
    return 0;
}

int kve_cache__primary(kve_cache_handler_t *self, h2o_req_t *req, h2o_iovec_t path, uint8_t out[KVE_CACHE_HASH_LEN])
{
    h2o_iovec_t enc;
    if (kve_cache__key(self, req, path, &enc) != 0)
        return -1;
    kve_cache_key_hash(enc.base, enc.len, out);
    return 0;
}

void kve_cache__variant(h2o_req_t *req, const char *gen, h2o_iovec_t vary, uint8_t out[KVE_CACHE_HASH_LEN])
{
    kve_buf_t enc = KVE_BUF_INIT;
    kve_cache_enc_field(&enc, 'G', gen, KVE_CACHE_ID_LEN);
    kve_vary_secondary_key(vary, req->headers.entries, req->headers.size, &enc);
    kve_cache_key_hash(enc.base, enc.len, out);
    kve_buf_dispose(&enc);
}

uint64_t kve_cache__ttl_ms(const kve_cache_fresh_t *f, int64_t age, int has_validator, uint64_t keep_ms)
{
    int64_t s = f->lifetime + KVE_MAX(f->swr, f->sie) - age;
    int64_t ms = KVE_MAX(s, 0) * 1000 + (has_validator ? (int64_t)keep_ms : 0);
    return ms > 0 ? (uint64_t)ms : 0;
}

void kve_cache__add_status(h2o_req_t *req, const char *fmt, ...)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "kvedge; ");
    kve_cache_req_t *st = kve_cache__state(req);
    h2o_iovec_t key = st != NULL ? st->status_key : h2o_iovec_init(NULL, 0), v;
    va_list args;
    va_start(args, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, args);
    va_end(args);
    if (n >= (int)sizeof(buf))
        n = sizeof(buf) - 1;
    /* `key` (cache.debug) last: an sf-string escaped by kve_cache_status_key() */
    v = h2o_iovec_init(h2o_mem_alloc_pool(&req->pool, (size_t)n + key.len + sizeof("; key=")), 0);
    memcpy(v.base, buf, (size_t)n), v.len = (size_t)n;
    if (key.len != 0) {
        memcpy(v.base + v.len, "; key=", 6), v.len += 6;
        memcpy(v.base + v.len, key.base, key.len), v.len += key.len;
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("cache-status"), 0, NULL, v.base, v.len);
}

int kve_cache__own_field(const kve_cache_handler_t *self, h2o_iovec_t name)
{
    return (self->targeted.len != 0 && h2o_lcstris(name.base, name.len, self->targeted.base, self->targeted.len)) ||
           h2o_lcstris(name.base, name.len, H2O_STRLIT("surrogate-control"));
}

const char *kve_cache__reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 308:
        return "Permanent Redirect";
    case 404:
        return "Not Found";
    case 410:
        return "Gone";
    default:
        return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

static void on_dispose(void *p)
{
    kve_cache_req_t *st = p;
    if (st->batch != NULL)
        kve_kv_batch_cancel(st->batch);
    st->batch = NULL;
    kve_cache__coalesce_dispose(st);
    for (size_t i = 0; i != KVE_ARRAY_SIZE(st->raw); ++i)
        free(st->raw[i]);
    kve_buf_dispose(&st->fill_body);
    kve_buf_dispose(&st->fill_vary);
    kve_cache_mem_release(st->mem_obj);
    st->magic = 0;
}

/* --- forwarding --- */

/* the request goes to the proxy: synchronously (from on_req, returns -1) or by delegation (from a callback) */
static int forward(kve_cache_req_t *st, const char *fwd, const char *detail, int from_on_req)
{
    st->phase = KVE_CACHE_PHASE_FORWARD;
    /* the device token Surrogate-Control may target (handlers/cache_surrogate.h) */
    h2o_add_header_by_str(&st->req->pool, &st->req->headers, H2O_STRLIT("surrogate-capability"), 0, NULL,
                          H2O_STRLIT(KVE_SURROGATE_CAPABILITY));
    st->fwd = fwd;
    st->detail = detail;
    st->request_time = (int64_t)time(NULL);
    if (from_on_req)
        return -1;
    h2o_delegate_request(st->req, &st->self->super);
    return 0;
}

/* why the store could not answer, for Cache-Status `detail` */
static const char *store_failure(int err)
{
    return err == KVE_ETIMEDOUT ? "store-timeout" : "store-unavailable";
}

/* --- hits --- */

/* the fields a 304 carries from the stored response (RFC 9110 §15.4.5) */
static int sent_with_304(h2o_iovec_t name)
{
    static const char *const names[] = {"etag", "last-modified", "cache-control", "expires", "vary", "date", "content-location"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(names); ++i)
        if (h2o_lcstris(name.base, name.len, names[i], strlen(names[i])))
            return 1;
    return 0;
}

static void add_stored_headers(kve_cache_req_t *st, h2o_req_t *req, const kve_cache_head_t *head, int only_304)
{
    for (size_t i = 0; i != head->num_headers; ++i) {
        const h2o_header_t *h = head->headers + i;
        if ((only_304 && !sent_with_304(*h->name)) || kve_cache__own_field(st->self, *h->name))
            continue;
        h2o_add_header_by_str(&req->pool, &req->res.headers, h->name->base, h->name->len, 1, NULL, h->value.base, h->value.len);
    }
}

void kve_cache__add_age(h2o_req_t *req, int64_t age)
{
    /* on every hit: digits written by hand, not snprintf */
    char buf[24], *p = buf + sizeof(buf);
    uint64_t v = age > 0 ? (uint64_t)age : 0;
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    h2o_iovec_t s = h2o_strdup(&req->pool, p, (size_t)(buf + sizeof(buf) - p));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_AGE, NULL, s.base, s.len);
}

static void serve_hit(kve_cache_req_t *st, int64_t age, int64_t now)
{
    h2o_req_t *req = st->req;
    kve_cache_resp_t r;
    int not_modified;
    h2o_iovec_t body = h2o_iovec_init(st->raw[KVE_CACHE_RAW_BODY] + KVE_CACHE_ID_LEN, st->head.body_len);

    kve_cache_resp_parse(&r, st->head.status, st->head.headers, st->head.num_headers, st->self->targeted, now);
    not_modified = kve_cache_not_modified(req->headers.entries, req->headers.size, r.etag, r.last_modified, r.date, now);
    st->phase = KVE_CACHE_PHASE_HIT;
    kve_cache__outcome(req, st->self->metrics_route,
                       st->coal_relookup                          ? KVE_CACHE_OUTCOME_COALESCED
                       : kve_cache_ttl(&st->head.fresh, age) <= 0 ? KVE_CACHE_OUTCOME_STALE
                                                                  : KVE_CACHE_OUTCOME_HIT);
    req->res.status = not_modified ? 304 : st->head.status;
    req->res.reason = kve_cache__reason(req->res.status);
    add_stored_headers(st, req, &st->head, not_modified);
    kve_cache__add_age(req, age);
    if (st->coal_relookup) { /* another request's fetch answered it (RFC 9211: collapsed goes with fwd) */
        st->collapsed = 1;
        kve_cache__add_status(req, "fwd=%s; fwd-status=%d; ttl=%lld; collapsed", st->coal_fwd, st->head.status,
                              (long long)kve_cache_ttl(&st->head.fresh, age));
    } else if (st->stale_served) { /* RFC 9211: a hit (this request was not forwarded), stale: a negative ttl */
        kve_cache__add_status(req, "hit; ttl=%lld; detail=stale-while-revalidate", (long long)kve_cache_ttl(&st->head.fresh, age));
    } else {
        kve_cache__add_status(req, "hit; ttl=%lld", (long long)kve_cache_ttl(&st->head.fresh, age));
    }
    /* before the response starts: h2o's filters decide on chunked encoding then */
    if (!not_modified)
        req->res.content_length = body.len;
    h2o_start_response(req, (h2o_generator_t *)&hit_generator);
    if (not_modified) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* RFC 9111 §5.2.1.7: only-if-cached and no stored response to use: 504, the origin is not contacted */
static int only_if_cached(kve_cache_req_t *st, const char *why)
{
    h2o_req_t *req = st->req;
    st->phase = KVE_CACHE_PHASE_HIT; /* answered here: the filter leaves it alone */
    kve_cache__add_status(req, "detail=%s", why);
    h2o_send_error_generic(req, 504, "Gateway Timeout", "no stored response (the request said only-if-cached)\n",
                           H2O_SEND_ERROR_KEEP_HEADERS);
    return 0;
}

static int wants_only_cached(const kve_cache_req_t *st)
{
    return (st->req_cc.flags & KVE_CC_ONLY_IF_CACHED) != 0;
}

/* --- revalidation --- */

/* the stored value of field `name`, or {NULL, 0} */
static h2o_iovec_t stored_field(const kve_cache_head_t *head, const char *name, size_t len)
{
    for (size_t i = 0; i != head->num_headers; ++i)
        if (h2o_lcstris(head->headers[i].name->base, head->headers[i].name->len, name, len))
            return head->headers[i].value;
    return h2o_iovec_init(NULL, 0);
}

/* moves the client's If-None-Match / If-Modified-Since aside (answered after the upstream's 304) */
static void take_client_conditionals(kve_cache_req_t *st, h2o_req_t *req)
{
    ssize_t i;
    st->client_cond = h2o_mem_alloc_pool(&req->pool, sizeof(*st->client_cond) * req->headers.size);
    for (i = 0; i < (ssize_t)req->headers.size; ++i) {
        h2o_header_t *h = req->headers.entries + i;
        if (h->name == &H2O_TOKEN_IF_NONE_MATCH->buf || h->name == &H2O_TOKEN_IF_MODIFIED_SINCE->buf) {
            st->client_cond[st->num_client_cond++] = *h;
            h2o_delete_header(&req->headers, i--);
        }
    }
}

/* a stale object: upstream with its validators, or a plain miss when it has none */
static void revalidate(kve_cache_req_t *st)
{
    h2o_req_t *req = st->req;
    h2o_iovec_t etag = stored_field(&st->head, H2O_STRLIT("etag")), lm = stored_field(&st->head, H2O_STRLIT("last-modified"));

    if (etag.base == NULL && lm.base == NULL) {
        forward(st, "stale", NULL, 0);
        return;
    }
    take_client_conditionals(st, req);
    if (etag.base != NULL)
        h2o_add_header(&req->pool, &req->headers, H2O_TOKEN_IF_NONE_MATCH, NULL, etag.base, etag.len);
    if (lm.base != NULL)
        h2o_add_header(&req->pool, &req->headers, H2O_TOKEN_IF_MODIFIED_SINCE, NULL, lm.base, lm.len);
    st->revalidating = 1;
    forward(st, "stale", NULL, 0);
}

/* --- lookup --- */

static int start_batch(kve_cache_req_t *st, const char *const *keys, size_t n);
static int lookup(kve_cache_req_t *st);

void kve_cache__proceed(kve_cache_req_t *st)
{
    if (st->have_head)
        revalidate(st);
    else
        forward(st, st->coal_fwd, NULL, 0);
}

void kve_cache__lookup_again(kve_cache_req_t *st)
{
    for (size_t i = 0; i != KVE_ARRAY_SIZE(st->raw); ++i)
        free(st->raw[i]), st->raw[i] = NULL;
    st->stage = 0;
    st->lookup_err = 0;
    st->has_index = 0;
    st->have_head = 0;
    st->coal_relookup = 1;
    if (lookup(st) != 0)
        forward(st, "bypass", "store-unavailable", 0);
}

/* whether the head and body read belong to one object */
static int read_object(kve_cache_req_t *st)
{
    const char *body = st->raw[KVE_CACHE_RAW_BODY];
    if (st->raw[KVE_CACHE_RAW_HEAD] == NULL || body == NULL ||
        kve_cache_head_decode(&st->req->pool, st->raw[KVE_CACHE_RAW_HEAD], st->raw_len[KVE_CACHE_RAW_HEAD], &st->head) != 0)
        return 0;
    return st->raw_len[KVE_CACHE_RAW_BODY] == KVE_CACHE_ID_LEN + st->head.body_len &&
           memcmp(body, st->head.id, KVE_CACHE_ID_LEN) == 0;
}

/* the URL varies: read the request's variant */
static int lookup_variant(kve_cache_req_t *st)
{
    char h[128], b[128];
    const char *keys[] = {h, b};
    h2o_iovec_t ns = h2o_iovec_init("", 0);

    kve_cache__variant(st->req, st->gen, st->vary, st->variant);
    kve_cache_key_name(h, sizeof(h), ns, st->primary, st->variant, "h");
    kve_cache_key_name(b, sizeof(b), ns, st->primary, st->variant, "b");
    for (size_t i = KVE_CACHE_RAW_HEAD; i <= KVE_CACHE_RAW_BODY; ++i)
        free(st->raw[i]), st->raw[i] = NULL;
    st->stage = 1;
    return start_batch(st, keys, 2);
}

static void decide(kve_cache_req_t *st)
{
    int64_t now = (int64_t)time(NULL), age;

    st->may_store = 1;
    if (st->stage == 0 && st->raw[KVE_CACHE_RAW_INDEX] != NULL &&
        kve_cache_index_decode(st->raw[KVE_CACHE_RAW_INDEX], st->raw_len[KVE_CACHE_RAW_INDEX], &st->gen, &st->vary) == 0) {
        st->has_index = 1;
        st->index_count = kve_cache_index_count(st->raw[KVE_CACHE_RAW_INDEX], st->raw_len[KVE_CACHE_RAW_INDEX]);
        if (lookup_variant(st) != 0) {
            kve_cache__count(st->req, st->self->metrics_route, KVE_METRICS_CACHE_STORE_ERRORS, 1);
            st->may_store = 0;
            if (wants_only_cached(st))
                only_if_cached(st, "store-unavailable");
            else
                forward(st, "bypass", "store-unavailable", 0);
        }
        return;
    }
    if (!read_object(st)) {
        const char *fwd = st->has_index ? "vary-miss" : "uri-miss";
        if (wants_only_cached(st))
            only_if_cached(st, fwd);
        else if (kve_cache__coalesce(st, fwd) != 0)
            forward(st, fwd, NULL, 0);
        return;
    }
    st->have_head = 1;
    if (st->self->mem != NULL)
        kve_cache__mem_keep(st, &st->head, h2o_iovec_init(st->raw[KVE_CACHE_RAW_BODY] + KVE_CACHE_ID_LEN, st->head.body_len),
                            st->gen, st->vary, st->has_index);
    age = kve_cache_current_age(st->head.initial_age, st->head.response_time, now);
    switch (kve_cache_use(&st->head.fresh, age, &st->req_cc)) {
    case KVE_CACHE_USE_FRESH:
    case KVE_CACHE_USE_STALE:
        serve_hit(st, age, now);
        break;
    case KVE_CACHE_USE_STALE_REVALIDATE:
        if (kve_cache__can_refresh(st->self)) { /* served now; one refresh in the background (cache_refresh.h) */
            kve_cache__refresh(st);
            st->stale_served = 1;
            serve_hit(st, age, now);
            break;
        }
        /* fallthrough */
    default: /* stale-while-revalidate's background refresh comes later: validate now */
        if (wants_only_cached(st))
            only_if_cached(st, "stale");
        else if (kve_cache__coalesce(st, "stale") != 0)
            revalidate(st);
        break;
    }
}

/* the one MGET's reply: an array of the keys' values (a string, or nil when absent) */
static void on_lookup_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    kve_cache_req_t *st = data;
    size_t first = st->stage == 0 ? 0 : 1;

    KVE_CHECK_OBJ(st, KVE_CACHE_REQ_MAGIC);
    if (err != 0) {
        if (st->lookup_err == 0)
            st->lookup_err = err;
        return;
    }
    if (reply->type != KVE_REPLY_ARRAY) /* an error reply, or one over max_reply_size: nothing usable (a miss) */
        return;
    for (size_t j = 0; j != reply->elements && first + j < KVE_ARRAY_SIZE(st->raw); ++j)
        if (reply->element[j]->type == KVE_REPLY_STRING)
            st->raw[first + j] = kve_kv_reply_take_str(reply->element[j], &st->raw_len[first + j]);
}

static void on_lookup_done(void *data, const kve_kv_batch_result_t *result)
{
    kve_cache_req_t *st = data;

    KVE_CHECK_OBJ(st, KVE_CACHE_REQ_MAGIC);
    st->batch = NULL;
    if (st->lookup_err != 0 || result->err != 0) {
        const char *why = store_failure(st->lookup_err != 0 ? st->lookup_err : result->err);
        kve_cache__count(st->req, st->self->metrics_route, KVE_METRICS_CACHE_STORE_ERRORS, 1);
        if (wants_only_cached(st))
            only_if_cached(st, why);
        else
            forward(st, "bypass", why, 0);
        return;
    }
    decide(st);
}

/* reads `keys` (at most 3, all in the object's hash-tag slot) with one MGET: one command for the store to run */
static int start_batch(kve_cache_req_t *st, const char *const *keys, size_t n)
{
    const char *argv[4] = {"MGET"};
    size_t argvlen[4] = {4};
    kve_kv_command_t cmd;
    kve_kv_batch_opts_t opts = {st->self->conf->store_timeout_ms, NULL, st->self->conf->max_object_size + KVE_CACHE_REPLY_SLACK};
    kve_kv_t *kv = kve_cache__link(st->self, st->req);
    int err;

    KVE_ASSERT(n < KVE_ARRAY_SIZE(argv));
    for (size_t i = 0; i != n; ++i)
        argv[i + 1] = keys[i], argvlen[i + 1] = strlen(keys[i]);
    cmd = KVE_KV_COMMAND(n + 1, argv, argvlen);
    cmd.flags = KVE_KV_CMD_READ_ONLY;
    if (kv == NULL || (st->batch = kve_kv_batch(kv, &cmd, 1, &opts, on_lookup_reply, on_lookup_done, st, &err)) == NULL)
        return -1;
    return 0;
}

/* the first read: the variant index and the URL's own object */
static int lookup(kve_cache_req_t *st)
{
    char v[128], h[128], b[128];
    const char *keys[] = {v, h, b};
    h2o_iovec_t ns = h2o_iovec_init("", 0);

    kve_cache_key_name(v, sizeof(v), ns, st->primary, NULL, "v");
    kve_cache_key_name(h, sizeof(h), ns, st->primary, NULL, "h");
    kve_cache_key_name(b, sizeof(b), ns, st->primary, NULL, "b");
    return start_batch(st, keys, 3);
}

/* Accept-Encoding reduced to the codings the cache knows, so the origin picks one every request of the key accepts */
static void reduce_accept_encoding(h2o_req_t *req)
{
    kve_buf_t ae = KVE_BUF_INIT;
    ssize_t i;
    if (kve_vary_accept_encoding(req->headers.entries, req->headers.size, &ae)) {
        h2o_iovec_t v = h2o_strdup(&req->pool, ae.base != NULL ? ae.base : "", ae.len);
        while ((i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT_ENCODING, -1)) != -1)
            h2o_delete_header(&req->headers, i);
        h2o_add_header(&req->pool, &req->headers, H2O_TOKEN_ACCEPT_ENCODING, NULL, v.base, v.len);
    }
    kve_buf_dispose(&ae);
}

static void on_context_init(h2o_handler_t *self, h2o_context_t *ctx)
{
    kve_cache__thread_init((kve_cache_handler_t *)self, ctx);
}

static void on_context_dispose(h2o_handler_t *self, h2o_context_t *ctx)
{
    kve_cache__thread_dispose((kve_cache_handler_t *)self, ctx);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    kve_cache_handler_t *self = (void *)_self;
    const kve_cache_bypass_t *rule;
    kve_cache_req_t *st = h2o_mem_alloc_shared(&req->pool, sizeof(*st), on_dispose);
    h2o_iovec_t enc;

    memset(st, 0, sizeof(*st));
    st->magic = KVE_CACHE_REQ_MAGIC;
    st->upstream_date = KVE_CACHE_TIME_NONE;
    st->req = req;
    st->self = self;
    *h2o_req_getenv(req, H2O_STRLIT(KVE_CACHE_ENV), 1) = h2o_iovec_init((char *)st, 0);
    /* poisoning (http-cache.md §6): what the key does not cover must not reach the origin */
    req->headers.size = kve_cache_request_headers_strip(req->headers.entries, req->headers.size);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        st->phase = KVE_CACHE_PHASE_UNSAFE;
        st->fwd = "method";
        return -1;
    }
    kve_cc_parse_request(&st->req_cc, req->headers.entries, req->headers.size);
    if (self->conf->session_cookie != NULL && kve_session_private(req)) /* one user's: never shared (sessions.md §13) */
        return wants_only_cached(st) ? only_if_cached(st, "session") : forward(st, "bypass", "session", 1);
    if (self->conf->bypass.size != 0 && (rule = kve_cache_bypass_match(self->conf->bypass.entries, self->conf->bypass.size,
                                                                       req->headers.entries, req->headers.size)) != NULL) {
        kve_cache_bypass_detail(rule, st->detail_buf, sizeof(st->detail_buf));
        if (wants_only_cached(st)) /* no stored response may be used, and the client wants no upstream request */
            return only_if_cached(st, st->detail_buf);
        return forward(st, "bypass", st->detail_buf, 1); /* may_store stays 0: the response is not stored */
    }
    st->has_authorization = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) != -1;
    reduce_accept_encoding(req);
    if (self->mem != NULL) {
        kve_cache_mem_route_start(self->mem_route, kve_server_thread(req->conn->ctx));
        st->mem_epoch = kve_cache_mem_epoch(self->mem);
        if (kve_cache__mem_key(st, &st->mem_key.enc) != 0)
            return wants_only_cached(st) ? only_if_cached(st, "key") : forward(st, "bypass", "key", 1);
        st->mem_key.hash = kve_cache_mem_hash(self->mem, st->mem_key.enc.base, st->mem_key.enc.len);
        if (kve_cache__mem_serve(st))
            return 0;
        st->mem_key.enc = h2o_strdup(&req->pool, st->mem_key.enc.base, st->mem_key.enc.len); /* for the inserts to come */
    }
    if (kve_cache__key(self, req, req->input.path, &enc) != 0)
        return wants_only_cached(st) ? only_if_cached(st, "key") : forward(st, "bypass", "key", 1);
    kve_cache_key_hash(enc.base, enc.len, st->primary);
    if (self->conf->debug) /* Cache-Status key= (cache.debug) */
        st->status_key = kve_cache_status_key(&req->pool, enc.base, enc.len);
    /* hit-for-pass: the object was uncacheable a moment ago; a cacheable answer is still stored (and ends it) */
    if (self->conf->coalesce_timeout_ms != 0 && !wants_only_cached(st) && kve_cache__coalesce_passing(self, st->primary)) {
        st->passed = st->may_store = st->coal_done = 1;
        return forward(st, "uri-miss", NULL, 1);
    }
    if (lookup(st) != 0) {
        kve_cache__count(req, self->metrics_route, KVE_METRICS_CACHE_STORE_ERRORS, 1);
        return wants_only_cached(st) ? only_if_cached(st, "store-unavailable") : forward(st, "bypass", "store-unavailable", 1);
    }
    return 0;
}

static void on_handler_dispose(h2o_handler_t *_self)
{
    kve_cache_handler_t *self = (void *)_self;
    kve_cache__refresh_dispose(self);
    if (self->mem_route != NULL)
        kve_cache_mem_route_dispose(self->mem_route);
}

void kve_cache_register(h2o_pathconf_t *pathconf, const kve_cache_conf_t *conf, const kve_cache_upstream_t *upstream)
{
    kve_cache_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->super.on_context_init = on_context_init;
    self->super.on_context_dispose = on_context_dispose;
    self->super.dispose = on_handler_dispose;
    self->conf = conf;
    self->key = (kve_cache_key_conf_t){(kve_cache_query_t)conf->key.query,
                                       (const char *const *)conf->key.exclude_query.entries,
                                       conf->key.exclude_query.size,
                                       (const char *const *)conf->key.headers.entries,
                                       conf->key.headers.size,
                                       (const char *const *)conf->key.cookies.entries,
                                       conf->key.cookies.size};
    /* the operator's grace windows (seconds) join the responses' own stale-while-revalidate / stale-if-error */
    self->rules = (kve_cache_rules_t){.default_ttl = (int64_t)(conf->default_ttl_ms / 1000),
                                      .heuristic = conf->heuristic,
                                      .stale_while_revalidate = (int64_t)(conf->stale_while_revalidate_ms / 1000),
                                      .stale_if_error = (int64_t)(conf->stale_if_error_ms / 1000),
                                      .store_set_cookie = conf->store_set_cookie};
    if (conf->targeted_field != NULL && conf->targeted_field[0] != '\0')
        self->targeted = h2o_iovec_init(conf->targeted_field, strlen(conf->targeted_field));
    kve_cache_upstream_observe();
    self->metrics_route = kve_cache__metrics_route(conf->route != NULL ? conf->route : "?");
    if (conf->tag_header != NULL && conf->tag_header[0] != '\0') {
        /* h2o_lcstris() wants the name it compares with in lower case */
        size_t len = KVE_MIN(strlen(conf->tag_header), sizeof(self->tag_header_lc));
        memcpy(self->tag_header_lc, conf->tag_header, len);
        h2o_strtolower(self->tag_header_lc, len);
        self->tag_header = h2o_iovec_init(self->tag_header_lc, len);
        self->tag_comma = kve_cache_tags_comma(self->tag_header.base, self->tag_header.len);
    }
    kve_cache__refresh_init(self, upstream);
    if (conf->memory != 0) {
        self->mem_route = kve_cache_mem_route_register(conf, pathconf->path);
        self->mem = kve_cache_mem_route_tier(self->mem_route);
    }
    kve_cache__register_filter(pathconf);
}
