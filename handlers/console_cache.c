/* SPDX-License-Identifier: MIT */
/*
 * The console's cache page (see console_cache.h). A lookup is two read-only batches on the route's store, both under
 * the URL's hash tag (one Redis Cluster slot): first the variant index, the URL's own head, its body's length, the
 * head's PTTL and one SSCAN page of the URL's variant set; then the head, body length and PTTL of each variant found.
 * Nothing is written and nothing is kept: the replies are copied into the lookup (freed with the request).
 */
#include "handlers/console_cache.h"
#include "handlers/console_cache_render.h"
#include "handlers/cache_internal.h" /* kve_cache__variant: the variant a request gets, as a lookup computes it */
#include "handlers/cache_purge.h"
#include "handlers/cache_tags.h"
#include "handlers/console_routes.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/json.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOOKUP_MAGIC 0x6b76636c
/** the most bytes one reply may take (a head record, or a page of the variant set): a bigger head is shown as too large */
#define MAX_REPLY (256 * 1024)
/** the answer stops listing objects past this many bytes ("objects_truncated") */
#define MAX_ANSWER (4 * 1024 * 1024)
#define SCAN_COUNT "1024"

struct st_kve_console_cache_t {
    const kve_route_conf_t *routes;
    size_t num_routes;
    kve_cache_purger_t *purger;
};

/* one stored object: the URL's own (no variant) or a variant */
typedef struct st_object_t {
    int has_variant;
    uint8_t variant[KVE_CACHE_HASH_LEN];
    char head_key[KVE_CACHE_SET_KEY_MAX], body_key[KVE_CACHE_SET_KEY_MAX];
    /** the head record (malloc'd; NULL: none stored), the body's length (-1: none), the head's PTTL (ms; < 0: none) */
    char *head;
    size_t head_len;
    int64_t body_len, pttl;
    /** the head record was larger than MAX_REPLY */
    int too_large;
} object_t;

typedef struct st_lookup_t {
    uint32_t magic;
    h2o_req_t *req;
    const kve_route_conf_t *route;
    kve_kv_batch_t *batch;
    int err, stage;
    h2o_iovec_t url, key; /* key: the primary key's encoding (in the request's pool) */
    uint8_t primary[KVE_CACHE_HASH_LEN];
    char *index; /* the variant index (malloc'd; NULL: the URL does not vary) */
    size_t index_len;
    object_t objects[1 + KVE_CONSOLE_CACHE_MAX_VARIANTS];
    size_t num_objects;
    int truncated;
} lookup_t;

kve_console_cache_t *kve_console_cache_new(const kve_route_conf_t *routes, size_t num_routes)
{
    kve_console_cache_t *c = kve_zalloc(sizeof(*c));
    c->routes = routes;
    c->num_routes = num_routes;
    c->purger = kve_cache_purger_new(routes, num_routes, kve_metrics_route_id("admin"));
    return c;
}

void kve_console_cache_free(kve_console_cache_t *c)
{
    if (c == NULL)
        return;
    kve_cache_purger_free(c->purger);
    free(c);
}

/* --- the answer --- */

/* "request_variant": the variant the console's own request (the operator's browser, with its Vary fields) would get */
static void render_request_variant(kve_buf_t *out, const lookup_t *l)
{
    const char *gen;
    h2o_iovec_t vary;
    uint8_t v[KVE_CACHE_HASH_LEN];

    if (l->index == NULL || kve_cache_index_decode(l->index, l->index_len, &gen, &vary) != 0) {
        kve_buf_printf(out, ",\"request_variant\":null");
        return;
    }
    kve_cache__variant(l->req, gen, vary, v);
    kve_buf_printf(out, ",\"request_variant\":\"");
    for (size_t i = 0; i != sizeof(v); ++i)
        kve_buf_printf(out, "%02x", v[i]);
    kve_buf_putc(out, '"');
}

static void send_found(lookup_t *l)
{
    kve_buf_t out = KVE_BUF_INIT;
    const kve_thread_t *t = kve_server_thread(l->req->conn->ctx);
    size_t store = l->route->cache.store_id, n = 0;
    int64_t now = (int64_t)time(NULL);
    int truncated = 0;
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    kve_buf_printf(&out, "{\"url\":");
    kve_json_string(&out, l->url.base, l->url.len);
    kve_buf_printf(&out, ",\"route\":");
    kve_json_string(&out, l->route->path, strlen(l->route->path));
    kve_buf_printf(&out, ",\"route_caches\":true,\"store\":");
    kve_json_string(&out, store < t->num_stores ? t->stores[store].name : "?",
                    strlen(store < t->num_stores ? t->stores[store].name : "?"));
    kve_buf_putc(&out, ',');
    kve_console_cache_render_key(&out, l->primary, l->key.base, l->key.len);
    kve_buf_putc(&out, ',');
    kve_console_cache_render_vary(&out, l->index, l->index_len);
    render_request_variant(&out, l);
    kve_buf_printf(&out, ",\"variants_truncated\":%s,\"objects\":[", l->truncated ? "true" : "false");
    for (size_t i = 0; i != l->num_objects && !truncated; ++i) {
        const object_t *o = l->objects + i;
        n += kve_console_cache_render_object(&out, &pool, o->has_variant ? o->variant : NULL, o->head, o->head_len, o->too_large,
                                             o->body_len, o->pttl, now, n == 0);
        truncated = out.len > MAX_ANSWER && i + 1 != l->num_objects;
    }
    kve_buf_printf(&out, "],\"objects_truncated\":%s,\"cached\":%s}", truncated ? "true" : "false", n != 0 ? "true" : "false");
    h2o_mem_clear_pool(&pool);
    kve_console_send_json(l->req, 200, out.base, out.len);
    kve_buf_dispose(&out);
}

static void send_store_error(lookup_t *l)
{
    char msg[160];
    kve_log(KVE_LOG_WARN, "console", "cache lookup failed: %s", kve_strerror(l->err));
    snprintf(msg, sizeof(msg), "the store failed: %s", kve_strerror(l->err));
    kve_console_send_error(l->req, 503, msg);
}

/* --- the store --- */

static char *take(const kve_kv_reply_t *r, size_t *len)
{
    char *copy = kve_malloc(r->len + 1);
    memcpy(copy, r->str, r->len);
    copy[r->len] = '\0';
    *len = r->len;
    return copy;
}

/* a reply to GET head, STRLEN body or PTTL head (`which` 0, 1, 2) of object `o` */
static void object_reply(lookup_t *l, object_t *o, size_t which, const kve_kv_reply_t *r)
{
    if (which == 0 && r->type == KVE_REPLY_STRING)
        o->head = take(r, &o->head_len);
    else if (which == 1 && r->type == KVE_REPLY_INTEGER)
        o->body_len = r->integer > 0 ? r->integer : -1; /* STRLEN of a missing key is 0 */
    else if (which == 2 && r->type == KVE_REPLY_INTEGER)
        o->pttl = r->integer;
}

static void add_variant(lookup_t *l, const kve_kv_reply_t *e)
{
    uint8_t pr[KVE_CACHE_HASH_LEN], v[KVE_CACHE_HASH_LEN];
    int has_variant;
    object_t *o;

    /* anything else in the set (the URL's own member, another URL's, not ours) is not one of its variants */
    if (e->type != KVE_REPLY_STRING || kve_cache_member_parse(e->str, e->len, pr, v, &has_variant) != 0 || !has_variant ||
        memcmp(pr, l->primary, sizeof(pr)) != 0)
        return;
    if (l->num_objects == KVE_ARRAY_SIZE(l->objects)) {
        l->truncated = 1;
        return;
    }
    o = l->objects + l->num_objects++;
    o->has_variant = 1;
    memcpy(o->variant, v, sizeof(v));
}

static void scan_reply(lookup_t *l, const kve_kv_reply_t *r)
{
    if (r->type != KVE_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != KVE_REPLY_STRING ||
        r->element[1]->type != KVE_REPLY_ARRAY) {
        l->err = r->type == KVE_REPLY_TOO_BIG ? KVE_ETOO_LARGE : KVE_EPROTO;
        return;
    }
    if (!h2o_memis(r->element[0]->str, r->element[0]->len, H2O_STRLIT("0")))
        l->truncated = 1; /* more than one page: the first KVE_CONSOLE_CACHE_MAX_VARIANTS are enough to show */
    for (size_t j = 0; j != r->element[1]->elements; ++j)
        add_variant(l, r->element[1]->element[j]);
}

static void on_reply(void *data, size_t i, int err, const kve_kv_reply_t *r)
{
    lookup_t *l = data;

    KVE_CHECK_OBJ(l, LOOKUP_MAGIC);
    if (err == 0 && r->type == KVE_REPLY_TOO_BIG && (l->stage != 0 || i == 2)) {
        l->objects[l->stage == 0 ? 0 : 1 + i / 3].too_large = 1; /* only a GET of a head can be this big */
        return;
    }
    if (err != 0 || r->type == KVE_REPLY_ERROR || r->type == KVE_REPLY_TOO_BIG) {
        if (l->err == 0)
            l->err = err != 0 ? err : r->type == KVE_REPLY_TOO_BIG ? KVE_ETOO_LARGE : KVE_EPROTO;
        return;
    }
    if (l->stage == 0 && i == 0) {
        if (r->type == KVE_REPLY_STRING)
            l->index = take(r, &l->index_len);
    } else if (l->stage == 0 && i == 1) {
        scan_reply(l, r);
    } else if (l->stage == 0) {
        object_reply(l, l->objects, i - 2, r);
    } else {
        object_reply(l, l->objects + 1 + i / 3, i % 3, r);
    }
}

static void on_done(void *data, const kve_kv_batch_result_t *result);

/* GET head, STRLEN body, PTTL head of objects [from, num_objects) (stage 1: after `extra` commands) */
static void send_batch(lookup_t *l, const kve_kv_command_t *extra, size_t num_extra, size_t from)
{
    size_t n = num_extra + 3 * (l->num_objects - from), c = 0;
    kve_kv_command_t *cmds = kve_malloc(n * sizeof(*cmds));
    const char **argv = kve_malloc(2 * n * sizeof(*argv));
    size_t *argvlen = kve_malloc(2 * n * sizeof(*argvlen));
    kve_kv_t *kv = kve_thread_link(kve_server_thread(l->req->conn->ctx), l->route->cache.store_id, 0);
    kve_kv_batch_opts_t opts = {.max_reply_size = MAX_REPLY};
    int err = KVE_EUNAVAIL;

    for (; c != num_extra; ++c)
        cmds[c] = extra[c];
    for (size_t i = from; i != l->num_objects; ++i) {
        object_t *o = l->objects + i;
        static const char *const names[3] = {"GET", "STRLEN", "PTTL"};
        const char *keys[3] = {o->head_key, o->body_key, o->head_key};
        for (size_t j = 0; j != 3; ++j, ++c) {
            argv[2 * c] = names[j], argvlen[2 * c] = strlen(names[j]);
            argv[2 * c + 1] = keys[j], argvlen[2 * c + 1] = strlen(keys[j]);
            cmds[c] = KVE_KV_COMMAND(2, argv + 2 * c, argvlen + 2 * c);
        }
    }
    for (c = 0; c != n; ++c)
        cmds[c].flags = KVE_KV_CMD_READ_ONLY;
    /* no window: the batch copies every argument before it returns */
    if (kv == NULL || (l->batch = kve_kv_batch(kv, cmds, n, &opts, on_reply, on_done, l, &err)) == NULL) {
        l->err = err;
        send_store_error(l);
    }
    free(cmds);
    free(argv);
    free(argvlen);
}

static void name_object(lookup_t *l, object_t *o)
{
    h2o_iovec_t ns = h2o_iovec_init("", 0);
    const uint8_t *v = o->has_variant ? o->variant : NULL;
    kve_cache_key_name(o->head_key, sizeof(o->head_key), ns, l->primary, v, "h");
    kve_cache_key_name(o->body_key, sizeof(o->body_key), ns, l->primary, v, "b");
    o->body_len = -1;
    o->pttl = -2;
}

static void on_done(void *data, const kve_kv_batch_result_t *result)
{
    lookup_t *l = data;

    KVE_CHECK_OBJ(l, LOOKUP_MAGIC);
    l->batch = NULL;
    if (result->err != 0 && l->err == 0)
        l->err = result->err;
    if (l->err != 0) {
        send_store_error(l);
    } else if (l->stage == 0 && l->num_objects > 1) {
        l->stage = 1;
        for (size_t i = 1; i != l->num_objects; ++i)
            name_object(l, l->objects + i);
        send_batch(l, NULL, 0, 1);
    } else {
        send_found(l);
    }
}

static void on_dispose(void *_l)
{
    lookup_t *l = _l;
    if (l->batch != NULL)
        kve_kv_batch_cancel(l->batch);
    free(l->index);
    for (size_t i = 0; i != l->num_objects; ++i)
        free(l->objects[i].head);
    l->magic = 0;
}

/* stage 0: the index, a page of the variant set, and the URL's own object */
static void start_lookup(lookup_t *l)
{
    h2o_iovec_t ns = h2o_iovec_init("", 0);
    char v[KVE_CACHE_SET_KEY_MAX], s[KVE_CACHE_SET_KEY_MAX];
    const char *get_argv[] = {"GET", v}, *scan_argv[] = {"SSCAN", s, "0", "COUNT", SCAN_COUNT};
    size_t get_len[2], scan_len[] = {5, 0, 1, 5, sizeof(SCAN_COUNT) - 1};
    kve_kv_command_t extra[2] = {KVE_KV_COMMAND(2, get_argv, get_len), KVE_KV_COMMAND(5, scan_argv, scan_len)};

    kve_cache_key_name(v, sizeof(v), ns, l->primary, NULL, "v");
    kve_cache_key_name(s, sizeof(s), ns, l->primary, NULL, "s");
    get_len[0] = 3, get_len[1] = strlen(v), scan_len[1] = strlen(s);
    l->num_objects = 1;
    name_object(l, l->objects);
    /* the order on_reply expects: 0 the index, 1 the SSCAN, 2-4 the URL's own object */
    send_batch(l, extra, 2, 0);
}

/* --- the handlers --- */

/* the request's parameters (the query of a GET, the form body of a POST) parsed as <admin>/purge's; NULL and `q`, or the
 * error sent */
static const char *parse(h2o_req_t *req, h2o_iovec_t params, kve_cache_purge_query_t *q)
{
    int status;
    const char *err = kve_cache_purge_parse(&req->pool, params, q, &status);
    if (err != NULL) /* 414 is for a request line: here a too-long url or body is a bad parameter */
        kve_console_send_error(req, 400, err);
    return err;
}

static void send_not_caching(h2o_req_t *req, h2o_iovec_t url, const kve_route_conf_t *route)
{
    kve_buf_t out = KVE_BUF_INIT;
    kve_buf_printf(&out, "{\"url\":");
    kve_json_string(&out, url.base, url.len);
    kve_buf_printf(&out, ",\"route\":");
    kve_json_string(&out, route->path, strlen(route->path));
    kve_buf_printf(&out, ",\"route_caches\":false,\"cached\":false,\"objects\":[]}");
    kve_console_send_json(req, 200, out.base, out.len);
    kve_buf_dispose(&out);
}

void kve_console_cache_lookup(kve_console_call_t *call)
{
    h2o_req_t *req = call->req;
    kve_console_cache_t *self = call->console->cache;
    kve_cache_purge_query_t q;
    const kve_route_conf_t *route;
    kve_buf_t enc = KVE_BUF_INIT;
    const char *err;
    lookup_t *l;
    int status;

    if (parse(req,
              req->query_at != SIZE_MAX ? h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1)
                                        : h2o_iovec_init("", 0),
              &q) != NULL)
        return;
    if (q.kind != KVE_CACHE_PURGE_URL || q.soft) {
        kve_console_send_error(req, 400, "a lookup takes url=<absolute http(s) URL> only");
        return;
    }
    err = self != NULL ? kve_cache_url_resolve(self->routes, self->num_routes, q.url, req->headers.entries, req->headers.size,
                                               &route, &enc, &status)
                       : (route = NULL, status = 404, "no route serves the URL's path");
    if (err != NULL) {
        kve_buf_dispose(&enc);
        if (status == 404 && route != NULL)
            send_not_caching(req, q.url, route);
        else
            kve_console_send_error(req, status, status == 404 ? "no route serves the URL's path" : err);
        return;
    }
    l = h2o_mem_alloc_shared(&req->pool, sizeof(*l), on_dispose);
    memset(l, 0, sizeof(*l));
    l->magic = LOOKUP_MAGIC;
    l->req = req;
    l->route = route;
    l->url = q.url;
    l->key = h2o_strdup(&req->pool, enc.base, enc.len);
    kve_cache_key_hash(enc.base, enc.len, l->primary);
    kve_buf_dispose(&enc);
    start_lookup(l);
}

static const char *kind_name(kve_cache_purge_kind_t kind)
{
    return kind == KVE_CACHE_PURGE_URL ? "url" : kind == KVE_CACHE_PURGE_TAG ? "tag" : "route";
}

void kve_console_cache_purge(kve_console_call_t *call)
{
    h2o_req_t *req = call->req;
    kve_console_cache_t *self = call->console->cache;
    kve_cache_purge_query_t q;

    if (parse(req, h2o_iovec_init(req->entity.base != NULL ? req->entity.base : "", req->entity.len), &q) != NULL)
        return;
    if (self == NULL) {
        kve_console_send_error(req, 404, "no cached route");
        return;
    }
    /* who purged what kind, never the URL or tag (they may carry what the operator would not log) */
    kve_log(KVE_LOG_INFO, "console", "%s purge by %s from a console session", q.soft ? "soft" : "hard", kind_name(q.kind));
    kve_cache_purge_start(self->purger, req, &q);
}
