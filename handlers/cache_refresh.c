/* SPDX-License-Identifier: MIT */
/*
 * The stale-while-revalidate background refresh (see cache_refresh.h). A refresh_t is malloc'd when a request
 * starts one and lives on that request's thread until its fetch ends (answer, error, or the client's destruction
 * at shutdown, which reports KVE_ESHUTDOWN); everything it needs is copied into its own pool.
 */
#include "handlers/cache_refresh.h"
#include "handlers/cache_surrogate.h"
#include "handlers/cache_coalesce.h"
#include "handlers/cache_headers.h"
#include "handlers/cache_internal.h"
#include "handlers/cache_response.h"
#include "handlers/cache_storable.h"
#include "handlers/cache_vary.h"
#include "handlers/session_cache.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/httpclient.h"
#include "proxy/log.h"
#include "proxy/server.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/** the most request header fields a refresh sends */
#define MAX_FIELDS 64

struct st_kve_cache_fill_t {
    kve_cache_handler_t *self;
    h2o_context_t *ctx;
    /** the refresh lock is ours (released at the end) */
    int locked;
    /** a fill handed over by a coalescing leader whose client went away: its group, released at the end */
    kve_coal_entry_t *coal;
    h2o_mem_pool_t pool;
    /** the object: keys, the stored head, its Vary list (empty: none) and index generation */
    uint8_t primary[KVE_CACHE_HASH_LEN];
    uint8_t variant[KVE_CACHE_HASH_LEN];
    int has_variant;
    char gen[KVE_CACHE_ID_LEN];
    h2o_iovec_t vary;
    kve_cache_head_t head;
    /** the count the variant index gets (cache.max_variants; 0: no variant), and whether the variant is a new one */
    uint64_t variants;
    int new_variant;
    /** the refresh lock */
    char lock_key[128];
    char owner[KVE_CACHE_ID_LEN];
    /** the request */
    kve_cc_t req_cc;
    int has_authorization;
    h2o_iovec_t path;
    kve_http1_field_t fields[MAX_FIELDS];
    size_t num_fields;
    int64_t request_time;
    /** the response being stored */
    kve_cache_head_t fill;
    kve_buf_t body;
    uint64_t ttl_ms;
    int storing, stored;
};
typedef struct st_kve_cache_fill_t refresh_t;

static const char unlock_script[] = "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) end return 0";
/* sent as EVALSHA with the EVAL fallback (proxy/kv.h); its SHA1 is computed once */
static kve_kv_script_t unlock;
static pthread_once_t unlock_once = PTHREAD_ONCE_INIT;

static void init_unlock(void)
{
    kve_kv_script_init(&unlock, unlock_script, sizeof(unlock_script) - 1);
}

static void on_ignored_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
}

/* the store's link on the refresh's thread, looked up when used (NULL once the thread's links are gone) */
static kve_kv_t *link_of(refresh_t *r)
{
    return kve_thread_link(kve_server_thread(r->ctx), r->self->conf->store_id, 0);
}

/* after a store the lock lives one more second; after a failure its owner deletes it */
static void finish(refresh_t *r)
{
    const char *argv[5];
    size_t argvlen[5];
    kve_kv_t *kv = r->locked ? link_of(r) : NULL;
    int err;

    if (r->coal != NULL) /* not stored: the group goes upstream itself */
        kve_cache__coalesce_finish(r->coal, KVE_COAL_FAILED);
    if (kv != NULL) {
        if (r->stored) {
            argv[0] = "PEXPIRE", argv[1] = r->lock_key, argv[2] = "1000";
            argvlen[0] = 7, argvlen[1] = strlen(r->lock_key), argvlen[2] = 4;
            (void)kve_kv_call(kv, 3, argv, argvlen, NULL, on_ignored_reply, NULL, &err);
        } else {
            kve_kv_command_t cmd = KVE_KV_COMMAND(5, argv, argvlen);
            pthread_once(&unlock_once, init_unlock);
            kve_kv_script_argv(&unlock, 0, argv, argvlen);
            argv[2] = "1", argv[3] = r->lock_key, argv[4] = r->owner;
            argvlen[2] = 1, argvlen[3] = strlen(r->lock_key), argvlen[4] = KVE_CACHE_ID_LEN;
            cmd.script = &unlock;
            (void)kve_kv_batch(kv, &cmd, 1, NULL, on_ignored_reply, NULL, NULL, &err);
        }
    }
    kve_buf_dispose(&r->body);
    h2o_mem_clear_pool(&r->pool);
    free(r);
}

/* --- the answer --- */

/* response fields that h2o's proxy does not pass on (framing, hop-by-hop): never stored */
static int hop_field(const char *name, size_t len)
{
    static const char *const names[] = {
        "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(names); ++i)
        if (h2o_lcstris(name, len, names[i], strlen(names[i])))
            return 1;
    return 0;
}

/* the response's fields, copied into the refresh's pool */
static void copy_headers(refresh_t *r, const kve_httpclient_response_t *res, h2o_headers_t *out)
{
    for (size_t i = 0; i != res->num_headers; ++i) {
        const kve_http1_header_t *h = res->headers + i;
        if (hop_field(h->name, h->name_len))
            continue;
        h2o_iovec_t name = h2o_strdup(&r->pool, h->name, h->name_len), value = h2o_strdup(&r->pool, h->value, h->value_len);
        h2o_add_header_by_str(&r->pool, out, name.base, name.len, 1, NULL, value.base, value.len);
    }
}

/* 304: the stored head updated with the 304's fields */
static void on_not_modified(refresh_t *r, const h2o_headers_t *up, int64_t now)
{
    kve_cache_head_t head = r->head;
    kve_cache_resp_t resp;
    uint64_t ttl_ms;
    kve_kv_t *kv = link_of(r);

    kve_cache__merge_headers(&r->pool, &r->head, up, &head);
    kve_cache_resp_parse(&resp, head.status, head.headers, head.num_headers, r->self->targeted, now);
    kve_cache_fresh_compute(&head.fresh, &resp, &r->self->rules, now);
    head.request_time = r->request_time;
    head.response_time = now;
    head.initial_age = kve_cache_initial_age(&resp, r->request_time, now);
    if ((ttl_ms = kve_cache__ttl_ms(&head.fresh, head.initial_age, 1, r->self->conf->keep_ms)) == 0 || kv == NULL)
        return;
    kve_cache__store_head(kv, r->coal, r->primary, r->has_variant ? r->variant : NULL, &head, ttl_ms, r->self,
                          kve_server_thread(r->ctx)->metrics);
    r->coal = NULL; /* the batch releases the group */
    r->stored = 1;
}

/* a new response: whether it replaces the object (then the body is collected) */
static int prepare_store(refresh_t *r, int status, const h2o_headers_t *hs, uint64_t content_length, int64_t now)
{
    const kve_cache_handler_t *self = r->self;
    kve_cache_resp_t resp;
    kve_cache_fresh_t f;
    kve_buf_t vary = KVE_BUF_INIT;
    int same_vary;

    kve_cache_resp_parse(&resp, status, hs->entries, hs->size, r->self->targeted, now);
    kve_cache_fresh_compute(&f, &resp, &self->rules, now);
    if (kve_cache_storable(h2o_iovec_init(H2O_STRLIT("GET")), &r->req_cc, r->has_authorization, &resp, &f, &self->rules) !=
            KVE_CACHE_STORE_OK ||
        hs->size > KVE_CACHE_MAX_HEADERS || (content_length != UINT64_MAX && content_length > self->conf->max_object_size))
        return 0;
    same_vary = kve_vary_normalize(hs->entries, hs->size, &vary) == 0 && h2o_memis(vary.base, vary.len, r->vary.base, r->vary.len);
    kve_buf_dispose(&vary);
    if (!same_vary) /* another Vary list: left to the next miss */
        return 0;
    if (r->new_variant && r->variants > (uint64_t)self->conf->max_variants) /* cache.max_variants (cache_fill.c) */
        return 0;
    r->fill.status = status;
    r->fill.request_time = r->request_time;
    r->fill.response_time = now;
    r->fill.initial_age = kve_cache_initial_age(&resp, r->request_time, now);
    r->fill.fresh = f;
    if ((r->ttl_ms = kve_cache__ttl_ms(&f, r->fill.initial_age, kve_cache_resp_has_validator(&resp), self->conf->keep_ms)) == 0)
        return 0;
    kve_cache_new_id(r->fill.id);
    r->fill.headers = h2o_mem_alloc_pool(&r->pool, sizeof(h2o_header_t) * (hs->size + 1));
    for (size_t i = 0; i != hs->size; ++i) {
        const h2o_header_t *hd = hs->entries + i;
        if ((kve_cache_response_header(hd->name->base, hd->name->len, hs->entries, hs->size, &resp.cc) & KVE_CACHE_HDR_NO_STORE) ==
            0)
            r->fill.headers[r->fill.num_headers++] = *hd;
    }
    kve_buf_append(&r->body, r->fill.id, KVE_CACHE_ID_LEN);
    return 1;
}

static int on_head(kve_httpclient_req_t *req, void *data, const kve_httpclient_response_t *res)
{
    refresh_t *r = data;
    int64_t now = (int64_t)time(NULL);
    h2o_headers_t hs = {NULL, 0, 0};
    const char *tags_refused;

    copy_headers(r, res, &hs);
    /* the tag field is never stored with the other fields; a 304's is ignored (the object keeps its tags) */
    tags_refused = kve_cache__tags_from(r->self, &r->pool, &hs, res->status != 304, &r->fill.tags);
    if (res->status == 304) {
        on_not_modified(r, &hs, now);
        return 0; /* the (empty) body ends it */
    }
    if (tags_refused != NULL ||
        (r->self->conf->session_cookie != NULL && kve_session_response_owned(hs.entries, hs.size, r->self->conf->session_cookie)) ||
        !prepare_store(r, res->status, &hs, res->content_length, now)) {
        kve_log(KVE_LOG_DEBUG, "cache", "background refresh: status %d not stored", res->status);
        if (r->coal != NULL && res->status < 500 && res->status != 304) { /* uncacheable: hit-for-pass */
            kve_cache__coalesce_finish(r->coal, KVE_COAL_PASS);
            r->coal = NULL;
        }
        finish(r);
        return 1;
    }
    r->storing = 1;
    return 0;
}

static void on_body(kve_httpclient_req_t *req, void *data, const char *bytes, size_t len, int is_final)
{
    refresh_t *r = data;

    if (r->storing && r->body.len - KVE_CACHE_ID_LEN + len > r->self->conf->max_object_size) {
        kve_httpclient_cancel(req); /* too big: the stale object stays for its windows */
        finish(r);
        return;
    }
    if (r->storing)
        kve_buf_append(&r->body, bytes, len);
    if (is_final && r->storing && link_of(r) != NULL) {
        kve_cache_object_t o = {r->primary, r->has_variant ? r->variant : NULL,        r->gen,    r->vary,
                                &r->fill,   h2o_iovec_init(r->body.base, r->body.len), r->ttl_ms, r->variants,
                                r->self,    kve_server_thread(r->ctx)->metrics};
        r->fill.body_len = r->body.len - KVE_CACHE_ID_LEN;
        kve_cache__store_object(link_of(r), r->coal, &o);
        r->coal = NULL; /* the batch releases the group */
        r->stored = 1;
    }
    kve_httpclient_proceed(req);
    if (is_final)
        finish(r);
}

static void on_error(kve_httpclient_req_t *req, void *data, int err, const char *detail)
{
    refresh_t *r = data;
    kve_log(KVE_LOG_DEBUG, "cache", "background refresh failed: %s", kve_strerror(err));
    finish(r);
}

static const kve_httpclient_callbacks_t callbacks = {on_head, on_body, on_error, NULL};

/* --- the fetch --- */

static void fetch(refresh_t *r)
{
    kve_cache_thread_t *t = h2o_context_get_handler_context(r->ctx, &r->self->super);
    kve_httpclient_request_t spec = {h2o_iovec_init(H2O_STRLIT("GET")), r->path, r->fields, r->num_fields, KVE_HTTPCLIENT_NO_BODY,
                                     h2o_iovec_init(NULL, 0),           0};
    kve_httpclient_req_t *hreq;
    int err;

    if (t->client == NULL && (t->client = kve_httpclient_create(r->ctx, r->self->upstream)) == NULL) {
        finish(r);
        return;
    }
    if ((err = kve_httpclient_request(t->client, &spec, &callbacks, r, &hreq)) != 0) {
        kve_log(KVE_LOG_DEBUG, "cache", "background refresh not started: %s", kve_strerror(err));
        finish(r);
    }
}

static void on_lock_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    refresh_t *r = data;
    if (err == 0 && reply->type == KVE_REPLY_STATUS) {
        r->locked = 1;
        fetch(r);
    } else {
        finish(r); /* not ours (or the store cannot tell): nothing to release */
    }
}

/* --- the start, from the request --- */

/* request fields a refresh does not send (framing, hop-by-hop, conditionals: it sends the stored validators) */
static int skipped_field(const h2o_iovec_t *name)
{
    static const char *const names[] = {"host",
                                        "content-length",
                                        "transfer-encoding",
                                        "connection",
                                        "keep-alive",
                                        "proxy-connection",
                                        "te",
                                        "trailer",
                                        "upgrade",
                                        "expect",
                                        "http2-settings",
                                        "if-none-match",
                                        "if-modified-since",
                                        "if-match",
                                        "if-unmodified-since",
                                        "if-range",
                                        "range"};
    for (size_t i = 0; i != KVE_ARRAY_SIZE(names); ++i)
        if (h2o_lcstris(name->base, name->len, names[i], strlen(names[i])))
            return 1;
    return 0;
}

static void add_field(refresh_t *r, const char *name, size_t name_len, h2o_iovec_t value)
{
    if (r->num_fields == MAX_FIELDS || value.base == NULL)
        return;
    value = h2o_strdup(&r->pool, value.base, value.len);
    r->fields[r->num_fields++] = (kve_http1_field_t){h2o_strdup(&r->pool, name, name_len).base, name_len, value.base, value.len};
}

static h2o_iovec_t stored_field(const kve_cache_head_t *head, const char *name, size_t len)
{
    for (size_t i = 0; i != head->num_headers; ++i)
        if (h2o_lcstris(head->headers[i].name->base, head->headers[i].name->len, name, len))
            return head->headers[i].value;
    return h2o_iovec_init(NULL, 0);
}

static int copy_request(refresh_t *r, kve_cache_req_t *st)
{
    h2o_req_t *req = st->req;
    h2o_iovec_t raw;

    if (st->have_head) { /* a stale object: its validators go with the request */
        raw = h2o_strdup(&r->pool, st->raw[KVE_CACHE_RAW_HEAD], st->raw_len[KVE_CACHE_RAW_HEAD]);
        if (kve_cache_head_decode(&r->pool, raw.base, raw.len, &r->head) != 0)
            return -1;
    }
    memcpy(r->primary, st->primary, KVE_CACHE_HASH_LEN);
    if ((r->has_variant = st->has_index) != 0) {
        memcpy(r->variant, st->variant, KVE_CACHE_HASH_LEN);
        memcpy(r->gen, st->gen, KVE_CACHE_ID_LEN);
        r->vary = h2o_strdup(&r->pool, st->vary.base, st->vary.len);
        r->new_variant = !st->have_head;
        r->variants = st->index_count + (r->new_variant ? 1 : 0);
    } else {
        r->vary = h2o_iovec_init("", 0);
    }
    r->req_cc = st->req_cc;
    r->has_authorization = st->has_authorization;
    r->path = h2o_build_destination(req, r->self->upstream_path.base, r->self->upstream_path.len, 0);
    r->path = h2o_strdup(&r->pool, r->path.base, r->path.len);
    if (r->self->preserve_host)
        add_field(r, H2O_STRLIT("host"), req->input.authority);
    for (size_t i = 0; i != req->headers.size; ++i)
        if (!skipped_field(req->headers.entries[i].name))
            add_field(r, req->headers.entries[i].name->base, req->headers.entries[i].name->len, req->headers.entries[i].value);
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("surrogate-capability"), -1) == -1) /* as forwards (cache.c) */
        add_field(r, H2O_STRLIT("surrogate-capability"), h2o_iovec_init(H2O_STRLIT(KVE_SURROGATE_CAPABILITY)));
    add_field(r, H2O_STRLIT("if-none-match"), stored_field(&r->head, H2O_STRLIT("etag")));
    add_field(r, H2O_STRLIT("if-modified-since"), stored_field(&r->head, H2O_STRLIT("last-modified")));
    return 0;
}

int kve_cache__can_refresh(const kve_cache_handler_t *self)
{
    return self->upstream != NULL;
}

void kve_cache__refresh(kve_cache_req_t *st)
{
    kve_cache_handler_t *self = st->self;
    refresh_t *r;
    h2o_iovec_t ns = h2o_iovec_init("", 0);
    char ttl[24];
    const char *argv[6];
    size_t argvlen[6];
    kve_kv_t *kv;
    int err, ttl_len;

    if (self->upstream == NULL || (r = calloc(1, sizeof(*r))) == NULL)
        return;
    r->self = self;
    r->ctx = st->req->conn->ctx;
    h2o_mem_init_pool(&r->pool);
    r->request_time = (int64_t)time(NULL);
    if ((kv = link_of(r)) == NULL || copy_request(r, st) != 0) {
        finish(r);
        return;
    }
    kve_cache_key_name(r->lock_key, sizeof(r->lock_key), ns, r->primary, r->has_variant ? r->variant : NULL, "r");
    kve_cache_new_id(r->owner);
    ttl_len = snprintf(ttl, sizeof(ttl), "%" PRIu64, self->refresh_lock_ms);
    argv[0] = "SET", argv[1] = r->lock_key, argv[2] = r->owner, argv[3] = "NX", argv[4] = "PX", argv[5] = ttl;
    argvlen[0] = 3, argvlen[1] = strlen(r->lock_key), argvlen[2] = KVE_CACHE_ID_LEN, argvlen[3] = 2, argvlen[4] = 2;
    argvlen[5] = (size_t)ttl_len;
    if (kve_kv_call(kv, 6, argv, argvlen, NULL, on_lock_reply, r, &err) == NULL)
        finish(r);
}

kve_cache_fill_t *kve_cache__fill_prepare(kve_cache_req_t *st)
{
    refresh_t *r;

    if (st->self->upstream == NULL || (r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->self = st->self;
    r->ctx = st->req->conn->ctx;
    h2o_mem_init_pool(&r->pool);
    r->request_time = (int64_t)time(NULL);
    if (copy_request(r, st) != 0) {
        finish(r);
        return NULL;
    }
    return r;
}

void kve_cache__fill_start(kve_cache_fill_t *r, kve_coal_entry_t *e)
{
    r->coal = e; /* from here on released by the fetch */
    r->request_time = (int64_t)time(NULL);
    fetch(r);
}

void kve_cache__fill_discard(kve_cache_fill_t *r)
{
    if (r != NULL)
        finish(r);
}

void kve_cache__refresh_init(kve_cache_handler_t *self, const kve_cache_upstream_t *upstream)
{
    kve_httpclient_conf_t hc;
    h2o_url_t url;
    char base[512], err[256];

    if (upstream == NULL || upstream->url == NULL || h2o_url_parse(upstream->url, SIZE_MAX, &url) != 0)
        return;
    snprintf(base, sizeof(base), "%s://%.*s/", url.scheme->name.base, (int)url.authority.len, url.authority.base);
    kve_httpclient_conf_defaults(&hc);
    hc.url = base;
    hc.ca_file = upstream->ca_file;
    if (upstream->timeout_ms != 0)
        hc.io_timeout_ms = upstream->timeout_ms;
    hc.deadline_ms = hc.connect_timeout_ms + hc.io_timeout_ms;
    hc.max_inflight = 16;
    hc.max_queue = 256;
    if ((self->upstream = kve_httpclient_upstream_create(&hc, err, sizeof(err))) == NULL) {
        kve_log(KVE_LOG_ERROR, "cache", "%s: no background refresh (stale-while-revalidate validates in line): %s", upstream->url,
                err);
        return;
    }
    self->upstream_path = h2o_strdup(NULL, url.path.base, url.path.len);
    self->preserve_host = upstream->preserve_host;
    self->refresh_lock_ms = hc.deadline_ms;
}

void kve_cache__refresh_dispose(kve_cache_handler_t *self)
{
    kve_httpclient_upstream_destroy(self->upstream);
    self->upstream = NULL;
    free(self->upstream_path.base);
    self->upstream_path = h2o_iovec_init(NULL, 0);
}
