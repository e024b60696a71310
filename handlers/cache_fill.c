/* SPDX-License-Identifier: MIT */
/*
 * The HTTP cache's output filter (see cache.h, cache_internal.h). It sees every response of a cached route:
 * - hits were answered by the handler: nothing to do;
 * - forwarded GETs: decides storability from the final status and header fields (cache_storable.h), adds
 *   Cache-Status, and when the response is storable tees its body into a buffer while it streams to the client;
 *   at the end the head record, the body and (with Vary) the variant index are written in ONE atomic batch, every
 *   key with a TTL (a failed batch leaves nothing half-written); the object's tag and route set entries go in the same
 *   batch on one Redis, and before it on a sharded store (cache_store.c). A body past max_object_size abandons the copy and
 *   keeps streaming. The client never waits for the store;
 * - a 304 to a revalidation: the stored head is updated with the 304's fields (RFC 9111 §4.3.4) and written back,
 *   and the client gets the stored response (or its own 304) in place of the upstream's;
 * - unsafe methods: a 2xx/3xx invalidates the URL, and Location / Content-Location on the same origin (§4.4).
 */
#include "handlers/cache_internal.h"
#include "handlers/cache_conditional.h"
#include "handlers/cache_headers.h"
#include "handlers/cache_invalidate.h"
#include "handlers/cache_memory_sync.h"
#include "handlers/cache_response.h"
#include "handlers/cache_stats.h"
#include "handlers/cache_storable.h"
#include "handlers/cache_store_cmds.h"
#include "handlers/cache_tags.h"
#include "handlers/cache_upstream.h"
#include "handlers/cache_vary.h"
#include "handlers/session_cache.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"
#include "proxy/server.h"

#include <string.h>
#include <time.h>

typedef struct st_cache_ostream_t {
    h2o_ostream_t super;
    kve_cache_req_t *st;
} cache_ostream_t;

/* --- writes (fire and forget: the batch copies every argument, the request may be gone when it ends) --- */

/* `bytes`: the body bytes of the object the batch stores (counted when it succeeds), UINT64_MAX for other writes */
static void send_writes(h2o_req_t *req, kve_cache_req_t *st, const kve_cache_cmds_t *c, const char *what, uint64_t bytes)
{
    kve_kv_command_t kc[KVE_CACHE_CMDS_MAX];
    size_t n = kve_cache_cmds_to_kv(c, kc);
    /* a leader's group waits for this batch */
    kve_cache__send_store(kve_cache__link(st->self, req), kve_cache__coalesce_take(st), kc, n, NULL, 0,
                          kve_cache__store_ctx(kve_server_thread(req->conn->ctx)->metrics, st->self->metrics_route, what, bytes));
}

/* --- storing --- */

void kve_cache__store_object(kve_kv_t *kv, kve_coal_entry_t *coal, const kve_cache_object_t *o)
{
    h2o_iovec_t ns = h2o_iovec_init("", 0);
    kve_buf_t head = KVE_BUF_INIT, index = KVE_BUF_INIT;
    kve_cache_set_writes_t sets;
    kve_cache_cmds_t c;
    kve_kv_command_t kc[KVE_CACHE_CMDS_MAX];

    kve_cache_head_encode(o->head, &head);
    if (o->variant != NULL) {
        if (o->variants != 0)
            kve_cache_index_encode_count(o->gen, o->vary, o->variants, &index);
        else
            kve_cache_index_encode(o->gen, o->vary, &index);
    }
    kve_cache_cmds_object(&c, ns, o->primary, o->variant, h2o_iovec_init(index.base, index.len),
                          h2o_iovec_init(head.base, head.len), o->body, o->ttl_ms);
    /* the object's tag, route and variant sets, in the same atomic batch on one Redis (cache_tags.h) */
    kve_cache_set_writes_init(&sets, ns, o->primary, o->variant, o->ttl_ms, o->self->conf->route, o->head->tags);
    kve_cache__send_store(kv, coal, kc, kve_cache_cmds_to_kv(&c, kc), &sets, KVE_KV_BATCH_ATOMIC,
                          kve_cache__store_ctx(o->metrics, o->self->metrics_route, "cache store", o->head->body_len));
    kve_cache_set_writes_dispose(&sets);
    kve_buf_dispose(&head);
    kve_buf_dispose(&index);
}

static void commit(h2o_req_t *req, kve_cache_req_t *st)
{
    kve_cache_object_t o = {st->primary,     st->fill_vary.len != 0 ? st->fill_variant : NULL,
                            st->fill_gen,    h2o_iovec_init(st->fill_vary.base, st->fill_vary.len),
                            &st->fill,       h2o_iovec_init(st->fill_body.base, st->fill_body.len),
                            st->fill_ttl_ms, st->fill_vary.len != 0 ? st->fill_count : 0,
                            st->self,        kve_server_thread(req->conn->ctx)->metrics};

    st->fill.body_len = st->fill_body.len - KVE_CACHE_ID_LEN;
    kve_cache__store_object(kve_cache__link(st->self, req), kve_cache__coalesce_take(st), &o);
    if (st->self->mem != NULL)
        kve_cache__mem_keep(st, &st->fill, h2o_iovec_init(st->fill_body.base + KVE_CACHE_ID_LEN, st->fill.body_len), st->fill_gen,
                            o.vary, o.variant != NULL);
    kve_buf_dispose(&st->fill_body);
}

static void on_tee_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    cache_ostream_t *self = (void *)_self;
    kve_cache_req_t *st = self->st;
    uint64_t max = st->self->conf->max_object_size;

    for (size_t i = 0; i != n && !st->fill_abandoned; ++i) {
        if (st->fill_body.len - KVE_CACHE_ID_LEN + bufs[i].len > max) {
            st->fill_abandoned = 1; /* too big: streams through unstored */
            kve_buf_dispose(&st->fill_body);
            kve_cache__coalesce_release(st, KVE_COAL_PASS);
            break;
        }
        kve_buf_append(&st->fill_body, bufs[i].base, bufs[i].len);
    }
    if (state == H2O_SEND_STATE_ERROR && !st->fill_abandoned) {
        st->fill_abandoned = 1;
        kve_buf_dispose(&st->fill_body);
        kve_cache__coalesce_release(st, KVE_COAL_FAILED);
    }
    if (state == H2O_SEND_STATE_FINAL && !st->fill_abandoned)
        commit(req, st);
    h2o_ostream_send_next(&self->super, req, bufs, n, state);
}

/* the fields stored with the response (pool memory: they live as long as the request) */
static void collect_stored_headers(h2o_req_t *req, kve_cache_req_t *st, const kve_cc_t *cc)
{
    h2o_headers_t *res = &req->res.headers;
    st->fill.headers = h2o_mem_alloc_pool(&req->pool, sizeof(h2o_header_t) * (res->size + 1));
    for (size_t i = 0; i != res->size; ++i) {
        const h2o_header_t *hd = res->entries + i;
        if ((kve_cache_response_header(hd->name->base, hd->name->len, res->entries, res->size, cc) & KVE_CACHE_HDR_NO_STORE) == 0)
            st->fill.headers[st->fill.num_headers++] = *hd;
    }
}

/*
 * cache.max_variants: a new variant of a URL whose index (same Vary list) counts that many already is not stored,
 * so a client cycling Accept-Language cannot fill the store; the index expires with its longest-lived variant and
 * the next one starts over. Decided from the index the lookup read anyway: nothing more on the hit path.
 */
static int too_many_variants(const kve_cache_req_t *st)
{
    return st->fill_vary.len != 0 && st->has_index && !st->have_head &&
           h2o_memis(st->vary.base, st->vary.len, st->fill_vary.base, st->fill_vary.len) &&
           st->index_count >= (uint64_t)st->self->conf->max_variants;
}

/* whether the forwarded response is stored (sets up the fill), else st->detail says why not */
static int prepare_fill(h2o_req_t *req, kve_cache_req_t *st)
{
    const kve_cache_handler_t *self = st->self;
    int64_t now = (int64_t)time(NULL);
    kve_cache_resp_t r;
    kve_cache_fresh_t f;
    kve_cache_store_t verdict;

    if (!st->may_store)
        return 0;
    /* one user's: a request with a session (or a cookie the response clears), or a response with session commands */
    if (self->conf->session_cookie != NULL &&
        (kve_session_private(req) ||
         kve_session_response_owned(req->res.headers.entries, req->res.headers.size, self->conf->session_cookie))) {
        st->detail = "session";
        return 0;
    }
    kve_cache_resp_parse(&r, req->res.status, req->res.headers.entries, req->res.headers.size, self->targeted, now);
    if (r.date == KVE_CACHE_TIME_NONE)
        r.date = st->upstream_date; /* h2o's proxy drops Date */
    kve_cache_fresh_compute(&f, &r, &self->rules, now);
    verdict = kve_cache_storable(req->method, &st->req_cc, st->has_authorization, &r, &f, &self->rules);
    if (verdict != KVE_CACHE_STORE_OK) {
        st->detail = kve_cache_store_reason(verdict);
        return 0;
    }
    if (kve_vary_normalize(req->res.headers.entries, req->res.headers.size, &st->fill_vary) != 0) {
        st->detail = "vary";
        return 0;
    }
    if (req->res.content_length != SIZE_MAX && req->res.content_length > self->conf->max_object_size) {
        st->detail = "too-big";
        return 0;
    }
    if (req->res.headers.size > KVE_CACHE_MAX_HEADERS) {
        st->detail = "too-many-fields";
        return 0;
    }
    if (st->tags_refused != NULL) {
        st->detail = st->tags_refused;
        return 0;
    }
    if (too_many_variants(st)) {
        st->detail = "too-many-variants";
        return 0;
    }
    st->fill.status = req->res.status;
    st->fill.request_time = st->request_time;
    st->fill.response_time = now;
    st->fill.initial_age = kve_cache_initial_age(&r, st->request_time, now);
    st->fill.fresh = f;
    if ((st->fill_ttl_ms = kve_cache__ttl_ms(&f, st->fill.initial_age, kve_cache_resp_has_validator(&r), self->conf->keep_ms)) ==
        0) {
        st->detail = "stale";
        return 0;
    }
    kve_cache_new_id(st->fill.id);
    if (st->fill_vary.len != 0) {
        h2o_iovec_t list = h2o_iovec_init(st->fill_vary.base, st->fill_vary.len);
        /* the generation of the index found, when it lists the same fields (one more variant, unless this one
         * replaces a stored one); a new one otherwise */
        int same = st->has_index && h2o_memis(st->vary.base, st->vary.len, list.base, list.len);
        st->fill_count = same ? st->index_count + (st->have_head ? 0 : 1) : 1;
        st->fill_gen = same ? st->gen : st->fill.id;
        kve_cache__variant(req, st->fill_gen, list, st->fill_variant);
    }
    collect_stored_headers(req, st, &r.cc);
    kve_buf_append(&st->fill_body, st->fill.id, KVE_CACHE_ID_LEN);
    st->filling = 1;
    return 1;
}

/* the fields meant for this cache (its targeted field, Surrogate-Control) are not passed downstream */
static void drop_own_fields(h2o_req_t *req, kve_cache_req_t *st)
{
    size_t i, kept = 0;
    for (i = 0; i != req->res.headers.size; ++i)
        if (!kve_cache__own_field(st->self, *req->res.headers.entries[i].name))
            req->res.headers.entries[kept++] = req->res.headers.entries[i];
    req->res.headers.size = kept;
}

static void on_forwarded(h2o_req_t *req, kve_cache_req_t *st, h2o_ostream_t ***slot)
{
    int stored;
    if (kve_cache_upstream_failed(st)) { /* h2o's own 502 / 504 (connect error, timeout, refused head): nothing to store */
        kve_cache__coalesce_release(st, KVE_COAL_FAILED);
        kve_cache__add_status(req, "fwd=%s; fwd-status=%d; detail=upstream-error", st->fwd, req->res.status);
        return;
    }
    kve_cache__take_tags(req, st, st->may_store);
    stored = prepare_fill(req, st);
    drop_own_fields(req, st);
    if (stored) {
        cache_ostream_t *tee = (void *)h2o_add_ostream(req, sizeof(*tee), *slot);
        if (st->passed)
            kve_cache__coalesce_unpass(st->self, st->primary);
        tee->super.do_send = on_tee_send;
        tee->st = st;
        *slot = &tee->super.next;
        kve_cache__add_status(req, "fwd=%s; fwd-status=%d; stored", st->fwd, req->res.status);
    } else {
        /* a coalescing group: an error (or a 304 to the leader's own conditional) sends it upstream itself, an
         * uncacheable answer is remembered (hit-for-pass) */
        if (req->res.status >= 500 || req->res.status == 304)
            kve_cache__coalesce_release(st, KVE_COAL_FAILED);
        else
            kve_cache__coalesce_release_pass(st, !st->has_index && h2o_find_header(&req->res.headers, H2O_TOKEN_VARY, -1) == -1);
        if (st->detail != NULL)
            kve_cache__add_status(req, "fwd=%s; fwd-status=%d; detail=%s", st->fwd, req->res.status, st->detail);
        else
            kve_cache__add_status(req, "fwd=%s; fwd-status=%d", st->fwd, req->res.status);
    }
}

/* --- revalidation: a 304 from upstream --- */

static void on_replace_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    cache_ostream_t *self = (void *)_self;
    kve_cache_req_t *st = self->st;
    h2o_iovec_t body = h2o_iovec_init(st->raw[KVE_CACHE_RAW_BODY] + KVE_CACHE_ID_LEN, st->head.body_len);
    int send_body = state == H2O_SEND_STATE_FINAL && req->res.status != 304 &&
                    !h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
    h2o_ostream_send_next(&self->super, req, send_body ? &body : NULL, send_body ? 1 : 0, state);
}

/*
 * Fields of the 304 that do not replace the stored ones: those the stored body depends on (its coding, digest and
 * range, and the entity-tag it was selected by; RFC 9111 §3.2 lets a cache keep them, and cache-tests requires it).
 */
static int kept_on_update(h2o_iovec_t name)
{
    static const char *const names[] = {"content-encoding", "content-md5", "content-range", "etag"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(names); ++i)
        if (h2o_lcstris(name.base, name.len, names[i], strlen(names[i])))
            return 1;
    return 0;
}

/* whether the 304's field `hd` updates the stored response */
static int updates(const h2o_header_t *hd, const h2o_headers_t *up, const kve_cc_t *cc)
{
    return !kept_on_update(*hd->name) && (kve_cache_response_header(hd->name->base, hd->name->len, up->entries, up->size, cc) &
                                          (KVE_CACHE_HDR_NO_UPDATE | KVE_CACHE_HDR_NO_STORE)) == 0;
}

void kve_cache__merge_headers(h2o_mem_pool_t *pool, const kve_cache_head_t *stored, const h2o_headers_t *up, kve_cache_head_t *out)
{
    kve_cc_t cc;
    size_t i, j;

    kve_cc_init(&cc);
    kve_cc_parse_response(&cc, up->entries, up->size, h2o_iovec_init(NULL, 0));
    out->headers = h2o_mem_alloc_pool(pool, sizeof(h2o_header_t) * (stored->num_headers + up->size));
    out->num_headers = 0;
    for (i = 0; i != stored->num_headers; ++i) {
        const h2o_header_t *hd = stored->headers + i;
        for (j = 0; j != up->size; ++j)
            if (h2o_lcstris(up->entries[j].name->base, up->entries[j].name->len, hd->name->base, hd->name->len) &&
                updates(up->entries + j, up, &cc))
                break;
        if (j == up->size)
            out->headers[out->num_headers++] = *hd;
    }
    for (j = 0; j != up->size; ++j) {
        const h2o_header_t *hd = up->entries + j;
        if (updates(hd, up, &cc) && out->num_headers < KVE_CACHE_MAX_HEADERS)
            out->headers[out->num_headers++] = *hd;
    }
}

void kve_cache__store_head(kve_kv_t *kv, kve_coal_entry_t *coal, const uint8_t *primary, const uint8_t *variant,
                           const kve_cache_head_t *head, uint64_t ttl_ms, const kve_cache_handler_t *self,
                           kve_metrics_thread_t *metrics)
{
    h2o_iovec_t ns = h2o_iovec_init("", 0);
    kve_buf_t enc = KVE_BUF_INIT;
    kve_cache_set_writes_t sets;
    kve_cache_cmds_t c;
    kve_kv_command_t kc[KVE_CACHE_CMDS_MAX];

    kve_cache_head_encode(head, &enc);
    kve_cache_cmds_head(&c, ns, primary, variant, h2o_iovec_init(enc.base, enc.len), ttl_ms);
    /* the sets must outlive the object they find: its TTL was extended, so is theirs (re-adding is harmless) */
    kve_cache_set_writes_init(&sets, ns, primary, variant, ttl_ms, self->conf->route, head->tags);
    kve_cache__send_store(kv, coal, kc, kve_cache_cmds_to_kv(&c, kc), &sets, KVE_KV_BATCH_ATOMIC,
                          kve_cache__store_ctx(metrics, self->metrics_route, "cache update", UINT64_MAX));
    kve_cache_set_writes_dispose(&sets);
    kve_buf_dispose(&enc);
}

/* the response's fields become the updated stored ones (less those never passed downstream) */
static void replace_response_headers(h2o_req_t *req, kve_cache_req_t *st, const kve_cache_head_t *head, const kve_cc_t *cc)
{
    req->res.headers = (h2o_headers_t){NULL, 0, 0};
    for (size_t i = 0; i != head->num_headers; ++i) {
        const h2o_header_t *hd = head->headers + i;
        if ((kve_cache_response_header(hd->name->base, hd->name->len, head->headers, head->num_headers, cc) &
             KVE_CACHE_HDR_NO_FORWARD) == 0 &&
            !kve_cache__own_field(st->self, *hd->name))
            h2o_add_header_by_str(&req->pool, &req->res.headers, hd->name->base, hd->name->len, 1, NULL, hd->value.base,
                                  hd->value.len);
    }
}

static void on_revalidated(h2o_req_t *req, kve_cache_req_t *st, h2o_ostream_t ***slot)
{
    int64_t now = (int64_t)time(NULL);
    kve_cache_head_t head = st->head;
    kve_cache_resp_t r;
    cache_ostream_t *o;
    uint64_t ttl_ms;
    int not_modified;

    kve_cache__take_tags(req, st, 0); /* the stored object keeps the tags it was stored with */
    kve_cache__merge_headers(&req->pool, &st->head, &req->res.headers, &head);
    kve_cache_resp_parse(&r, head.status, head.headers, head.num_headers, st->self->targeted, now);
    if (r.date == KVE_CACHE_TIME_NONE)
        r.date = st->upstream_date; /* the 304's, which h2o's proxy drops */
    kve_cache_fresh_compute(&head.fresh, &r, &st->self->rules, now);
    head.request_time = st->request_time;
    head.response_time = now;
    head.initial_age = kve_cache_initial_age(&r, st->request_time, now);
    if ((ttl_ms = kve_cache__ttl_ms(&head.fresh, head.initial_age, 1, st->self->conf->keep_ms)) != 0)
        kve_cache__store_head(kve_cache__link(st->self, req), kve_cache__coalesce_take(st), st->primary,
                              st->has_index ? st->variant : NULL, &head, ttl_ms, st->self,
                              kve_server_thread(req->conn->ctx)->metrics);
    else
        kve_cache__coalesce_release(st, KVE_COAL_FAILED);
    if (st->self->mem != NULL && ttl_ms != 0)
        kve_cache__mem_keep(st, &head, h2o_iovec_init(st->raw[KVE_CACHE_RAW_BODY] + KVE_CACHE_ID_LEN, st->head.body_len), st->gen,
                            st->vary, st->has_index);
    not_modified = st->num_client_cond != 0 &&
                   kve_cache_not_modified(st->client_cond, st->num_client_cond, r.etag, r.last_modified, r.date, now);
    req->res.status = not_modified ? 304 : head.status;
    req->res.reason = kve_cache__reason(req->res.status);
    replace_response_headers(req, st, &head, &r.cc);
    kve_cache__add_age(req, head.initial_age);
    kve_cache__add_status(req, "fwd=stale; fwd-status=304; ttl=%lld%s", (long long)kve_cache_ttl(&head.fresh, head.initial_age),
                          ttl_ms != 0 ? "; stored" : "");
    req->res.content_length = not_modified ? SIZE_MAX : head.body_len;
    o = (void *)h2o_add_ostream(req, sizeof(*o), *slot);
    o->super.do_send = on_replace_send;
    o->st = st;
    *slot = &o->super.next;
}

/* --- stale-if-error (RFC 5861 §4): the upstream failed, a stale object within its window answers instead --- */

static int on_upstream_error(h2o_req_t *req, kve_cache_req_t *st, h2o_ostream_t ***slot)
{
    int64_t now = (int64_t)time(NULL), age;
    int upstream_status = req->res.status, not_modified;
    kve_cache_resp_t r;
    cache_ostream_t *o;

    /* 5xx from upstream, or h2o's own 502/503/504 for a connect error or a timeout */
    if (!st->have_head || req->res.status < 500 || req->res.status > 599)
        return 0;
    age = kve_cache_current_age(st->head.initial_age, st->head.response_time, now);
    if (!kve_cache_use_on_error(&st->head.fresh, age, &st->req_cc))
        return 0;
    kve_cache__coalesce_release(st, KVE_COAL_FAILED);
    st->stale_on_error = 1;
    kve_cache_resp_parse(&r, st->head.status, st->head.headers, st->head.num_headers, st->self->targeted, now);
    if (st->revalidating) /* the client's own conditionals were set aside for the stored validators */
        not_modified = st->num_client_cond != 0 &&
                       kve_cache_not_modified(st->client_cond, st->num_client_cond, r.etag, r.last_modified, r.date, now);
    else
        not_modified = kve_cache_not_modified(req->headers.entries, req->headers.size, r.etag, r.last_modified, r.date, now);
    req->res.status = not_modified ? 304 : st->head.status;
    req->res.reason = kve_cache__reason(req->res.status);
    replace_response_headers(req, st, &st->head, &r.cc);
    kve_cache__add_age(req, age);
    kve_cache__add_status(req, "fwd=%s; fwd-status=%d; ttl=%lld; detail=stale-if-error", st->fwd, upstream_status,
                          (long long)kve_cache_ttl(&st->head.fresh, age));
    req->res.content_length = not_modified ? SIZE_MAX : st->head.body_len;
    o = (void *)h2o_add_ostream(req, sizeof(*o), *slot);
    o->super.do_send = on_replace_send;
    o->st = st;
    *slot = &o->super.next;
    return 1;
}

/* --- invalidation (RFC 9111 §4.4) --- */

static void invalidate_path(h2o_req_t *req, kve_cache_req_t *st, h2o_iovec_t path)
{
    uint8_t primary[KVE_CACHE_HASH_LEN];
    h2o_iovec_t ns = h2o_iovec_init("", 0);
    char msg[KVE_CACHE_MEM_KEY_MSG_LEN];
    kve_cache_cmds_t c;

    if (kve_cache__primary(st->self, req, path, primary) != 0)
        return;
    kve_cache_cmds_invalidate(&c, ns, primary);
    /* memory tiers: evicted here at once, and in every instance (this one again) once the DEL has run */
    if (kve_cache_mem_evict_key_local(st->self->conf->store_id, primary, msg)) {
        kve_cache_cmd_t *pub = &c.cmd[c.n++];
        pub->argc = 0;
        kve_cache_cmd_arg(pub, KVE_STRLIT("PUBLISH")), kve_cache_cmd_arg(pub, KVE_STRLIT(KVE_CACHE_MEM_CHANNEL));
        kve_cache_cmd_arg(pub, msg, sizeof(msg));
    }
    send_writes(req, st, &c, "cache invalidation", UINT64_MAX);
}

static void on_unsafe(h2o_req_t *req, kve_cache_req_t *st)
{
    static const h2o_token_t *const fields[] = {H2O_TOKEN_LOCATION, H2O_TOKEN_CONTENT_LOCATION};
    h2o_iovec_t path;
    ssize_t i;

    kve_cache__take_tags(req, st, 0);
    if (kve_cache_upstream_failed(st)) {
        kve_cache__add_status(req, "fwd=method; fwd-status=%d; detail=upstream-error", req->res.status);
        return;
    }
    kve_cache__add_status(req, "fwd=method; fwd-status=%d", req->res.status);
    if (!kve_cache_invalidates(req->method, req->res.status))
        return;
    invalidate_path(req, st, req->input.path);
    for (size_t f = 0; f != KVE_ARRAY_SIZE(fields); ++f)
        if ((i = h2o_find_header(&req->res.headers, fields[f], -1)) != -1 &&
            kve_cache_same_origin_path(req->res.headers.entries[i].value, req->input.scheme->name, req->input.authority, &path) ==
                0)
            invalidate_path(req, st, path);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    kve_cache_req_t *st = kve_cache__state(req);

    if (st != NULL) {
        switch (st->phase) {
        case KVE_CACHE_PHASE_FORWARD:
            /* RFC 9110 §7.6.1: the fields the upstream's Connection lists are neither forwarded nor stored */
            kve_cache_drop_connection_listed(&req->res.headers, st->upstream_connection);
            if (st->revalidating && req->res.status == 304) {
                kve_cache__outcome(req, st->self->metrics_route, KVE_CACHE_OUTCOME_REVALIDATED);
                on_revalidated(req, st, &slot);
            } else if (on_upstream_error(req, st, &slot)) {
                kve_cache__outcome(req, st->self->metrics_route, KVE_CACHE_OUTCOME_STALE);
            } else {
                kve_cache__outcome(req, st->self->metrics_route,
                                   st->fwd != NULL && strcmp(st->fwd, "bypass") == 0 ? KVE_CACHE_OUTCOME_BYPASS
                                                                                     : KVE_CACHE_OUTCOME_MISS);
                on_forwarded(req, st, &slot);
            }
            break;
        case KVE_CACHE_PHASE_UNSAFE:
            kve_cache_drop_connection_listed(&req->res.headers, st->upstream_connection);
            drop_own_fields(req, st);
            kve_cache__outcome(req, st->self->metrics_route, KVE_CACHE_OUTCOME_PASS);
            on_unsafe(req, st);
            break;
        default:
            break;
        }
    }
    h2o_setup_next_ostream(req, slot);
}

void kve_cache__register_filter(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}
