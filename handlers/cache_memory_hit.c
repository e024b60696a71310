/* SPDX-License-Identifier: MIT */
/*
 * The cache handler's side of the memory tier (see cache_memory.h): answering a fresh hit from memory, and keeping
 * objects the store path read or the fill stored. A memory hit costs about what a static response does: no store,
 * no copy of the header fields or the body (h2o is pointed at the object's bytes, which the request holds a
 * reference on until its pool is disposed), no formatting with printf.
 */
#include "handlers/cache_internal.h"
#include "handlers/cache_conditional.h"
#include "handlers/cache_enc.h"
#include "handlers/cache_vary.h"
#include "handlers/cache_memory_sync.h"
#include "proxy/common.h"

#include <string.h>
#include <time.h>

static const h2o_generator_t mem_generator = {NULL, NULL};
/* not an h2o token: a name of our own, as kve_cache__add_status() adds it */
static const h2o_iovec_t cache_status_name = {"cache-status", sizeof("cache-status") - 1};

/* the fields a 304 carries from the stored response (RFC 9110 §15.4.5; the names are tokens in the tier) */
static int sent_with_304(const h2o_iovec_t *name)
{
    return name == &H2O_TOKEN_ETAG->buf || name == &H2O_TOKEN_LAST_MODIFIED->buf || name == &H2O_TOKEN_CACHE_CONTROL->buf ||
           name == &H2O_TOKEN_EXPIRES->buf || name == &H2O_TOKEN_VARY->buf || name == &H2O_TOKEN_DATE->buf ||
           name == &H2O_TOKEN_CONTENT_LOCATION->buf;
}

/* writes `v` (>= 0) in decimal ending at `end`; returns where it starts */
static char *put_uint(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

static void add_headers(h2o_req_t *req, const kve_cache_mem_obj_t *obj, int only_304, int64_t age, int64_t ttl)
{
    static const char status_pre[] = "kvedge; hit; ttl=", status_post[] = "; detail=memory";
    h2o_headers_t *hs = &req->res.headers;
    /* Age: up to 20 digits before `end`; Cache-Status after it: 17 + up to 20 digits + 15 bytes */
    char *buf = h2o_mem_alloc_pool(&req->pool, 24 + sizeof(status_pre) + 20 + sizeof(status_post)), *end = buf + 24, *p;
    h2o_iovec_t age_v, status_v;

    h2o_vector_reserve(&req->pool, hs, hs->size + obj->num_headers + 2);
    if (!only_304) {
        memcpy(hs->entries + hs->size, obj->headers, sizeof(h2o_header_t) * obj->num_headers);
        hs->size += obj->num_headers;
    } else {
        for (size_t i = 0; i != obj->num_headers; ++i)
            if (sent_with_304(obj->headers[i].name))
                hs->entries[hs->size++] = obj->headers[i];
    }
    p = put_uint(end, (uint64_t)age);
    age_v = h2o_iovec_init(p, (size_t)(end - p));
    /* Cache-Status after the Age digits: "kvedge; hit; ttl=<ttl>; detail=memory" */
    p = end;
    memcpy(p, status_pre, sizeof(status_pre) - 1);
    p += sizeof(status_pre) - 1;
    {
        char num[24], *q = put_uint(num + sizeof(num), (uint64_t)ttl);
        memcpy(p, q, (size_t)(num + sizeof(num) - q));
        p += num + sizeof(num) - q;
    }
    memcpy(p, status_post, sizeof(status_post) - 1);
    p += sizeof(status_post) - 1;
    status_v = h2o_iovec_init(end, (size_t)(p - end));
    hs->entries[hs->size++] = (h2o_header_t){&H2O_TOKEN_AGE->buf, NULL, age_v};
    hs->entries[hs->size++] = (h2o_header_t){(h2o_iovec_t *)&cache_status_name, NULL, status_v};
}

static int has_conditionals(h2o_req_t *req)
{
    for (size_t i = 0; i != req->headers.size; ++i) {
        const h2o_iovec_t *n = req->headers.entries[i].name;
        if (n == &H2O_TOKEN_IF_NONE_MATCH->buf || n == &H2O_TOKEN_IF_MODIFIED_SINCE->buf)
            return 1;
    }
    return 0;
}

static void serve(kve_cache_req_t *st, const kve_cache_mem_obj_t *obj, int64_t age, int64_t now)
{
    h2o_req_t *req = st->req;
    int not_modified = has_conditionals(req) && kve_cache_not_modified(req->headers.entries, req->headers.size, obj->etag,
                                                                       obj->last_modified, obj->date, now);
    h2o_iovec_t body = obj->body;

    st->phase = KVE_CACHE_PHASE_HIT;
    req->res.status = not_modified ? 304 : obj->status;
    req->res.reason = kve_cache__reason(req->res.status);
    add_headers(req, obj, not_modified, age, kve_cache_ttl(&obj->fresh, age));
    if (!not_modified)
        req->res.content_length = body.len;
    h2o_start_response(req, (h2o_generator_t *)&mem_generator);
    if (not_modified || h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

int kve_cache__mem_key(kve_cache_req_t *st, h2o_iovec_t *key)
{
    h2o_req_t *req = st->req;
    const kve_cache_key_conf_t *conf = &st->self->key;
    h2o_iovec_t parts[3] = {req->input.scheme->name, req->input.authority, req->input.path};
    kve_buf_t *buf;
    char *p;

    if (conf->num_headers != 0 || conf->num_cookies != 0)
        return kve_cache__key(st->self, req, req->input.path, key);
    /* "R" and each part with its length: injective, and never an encoding (those start with a 'V' field) */
    buf = kve_cache__thread_buf(0);
    p = kve_buf_reserve(buf, 1 + 3 * sizeof(uint32_t) + parts[0].len + parts[1].len + parts[2].len);
    *p++ = 'R';
    for (size_t i = 0; i != 3; ++i) {
        uint32_t n = (uint32_t)parts[i].len;
        memcpy(p, &n, sizeof(n));
        memcpy(p + sizeof(n), parts[i].base, parts[i].len);
        p += sizeof(n) + parts[i].len;
    }
    *key = h2o_iovec_init(buf->base, (size_t)(p - buf->base));
    return 0;
}

/* the variant's key of the request under index `gen`/`vary`: the bytes the store's variant hash is made of
 * (kve_cache__variant), in kve_cache__thread_buf(1) */
static kve_cache_mem_key_t variant_key(kve_cache_req_t *st, const char *gen, h2o_iovec_t vary)
{
    kve_buf_t *buf = kve_cache__thread_buf(1);
    kve_cache_enc_field(buf, 'G', gen, KVE_CACHE_ID_LEN);
    kve_vary_secondary_key(vary, st->req->headers.entries, st->req->headers.size, buf);
    return (kve_cache_mem_key_t){h2o_iovec_init(buf->base, buf->len), kve_cache_mem_hash(st->self->mem, buf->base, buf->len)};
}

int kve_cache__mem_serve(kve_cache_req_t *st)
{
    kve_cache_mem_t *mem = st->self->mem;
    kve_cache_mem_obj_t *obj = kve_cache_mem_lookup(mem, &st->mem_key, NULL);
    int64_t now, age;

    if (obj == NULL)
        return 0;
    if (obj->is_index) {
        kve_cache_mem_obj_t *index = obj;
        kve_cache_mem_key_t variant = variant_key(st, index->gen, index->vary);
        obj = kve_cache_mem_lookup(mem, &st->mem_key, &variant);
        kve_cache_mem_release(index);
        if (obj == NULL)
            return 0;
    }
    now = (int64_t)time(NULL);
    age = kve_cache_current_age(obj->initial_age, obj->response_time, now);
    /* only fresh: anything else (stale, a request asking for validation) is the store path's */
    if (kve_cache_use(&obj->fresh, age, &st->req_cc) != KVE_CACHE_USE_FRESH || kve_cache_ttl(&obj->fresh, age) <= 0) {
        kve_cache_mem_release(obj);
        return 0;
    }
    st->mem_obj = obj; /* released by the request state's dispose, after the response went out */
    serve(st, obj, age, now);
    return 1;
}

void kve_cache__mem_keep(kve_cache_req_t *st, const kve_cache_head_t *head, h2o_iovec_t body, const char *gen, h2o_iovec_t vary,
                         int is_variant)
{
    kve_cache_mem_t *mem = st->self->mem;
    int64_t now = (int64_t)time(NULL);
    kve_cache_mem_key_t variant;
    kve_cache_mem_obj_t *obj;

    if (mem == NULL || kve_cache_ttl(&head->fresh, kve_cache_current_age(head->initial_age, head->response_time, now)) <= 0)
        return;
    if (st->self->targeted.len != 0) { /* the route's targeted field is for kvedge: memory hits never send it */
        kve_cache_head_t *own = h2o_mem_alloc_pool(&st->req->pool, sizeof(*own));
        *own = *head;
        own->headers = h2o_mem_alloc_pool(&st->req->pool, sizeof(h2o_header_t) * (head->num_headers + 1));
        own->num_headers = 0;
        for (size_t i = 0; i != head->num_headers; ++i)
            if (!kve_cache__own_field(st->self, *head->headers[i].name))
                own->headers[own->num_headers++] = head->headers[i];
        head = own;
    }
    if (is_variant)
        variant = variant_key(st, gen, vary);
    if ((obj = kve_cache_mem_obj_new(mem, &st->mem_key, st->primary, is_variant ? &variant : NULL, gen, head, body, now)) == NULL)
        return;
    /* the index first (an identical one is kept as it is); a variant whose index did not go in is refused */
    if (is_variant)
        kve_cache_mem_insert(mem, kve_cache_mem_index_new(&st->mem_key, st->primary, gen, vary), st->mem_epoch);
    kve_cache_mem_insert(mem, obj, st->mem_epoch);
}
