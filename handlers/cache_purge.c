/* SPDX-License-Identifier: MIT */
/*
 * The purge endpoint (see cache_purge.h). A purge is a walk over sets: the URL's variant set (after the URL's own
 * object), a tag's set in every store a cached route uses, or a route's set. Each set is read a page at a time with
 * SSCAN; a hard purge deletes each member's head and body and removes the page's members from the set, a soft purge
 * reads each member's head, ends its freshness now and writes it back (SET XX KEEPTTL: never a key without its TTL,
 * never a key the store no longer has). A hard URL purge then deletes the URL's variant index and variant set.
 */
#include "handlers/cache_purge.h"
#include "handlers/bearer.h"
#include "handlers/cache_memory_sync.h"
#include "handlers/cache_record.h"
#include "handlers/cache_stats.h"
#include "handlers/cache_store_cmds.h"
#include "handlers/cache_tags.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/stores.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PURGE_MAGIC 0x6b767067
/** SSCAN's COUNT, and the most bytes one reply may take (a page of members, or one head record) */
#define PAGE_COUNT "256"
#define MAX_REPLY (1024 * 1024)

struct st_kve_cache_purger_t {
    const kve_route_conf_t *routes;
    size_t num_routes;
    /** the metrics series of each route (looked up while configuring: the registry is not for worker threads) */
    size_t *route_series;
    size_t metrics_route;
    /** the distinct stores of the cached routes (where a tag is looked for) */
    size_t stores[KVE_STORES_MAX];
    size_t num_stores;
};
typedef kve_cache_purger_t purger_t;

typedef struct st_purge_handler_t {
    h2o_handler_t super;
    char *token;
    size_t token_len;
    purger_t *purger;
} purge_handler_t;

typedef struct st_target_t {
    size_t store;
    char key[KVE_CACHE_SET_KEY_MAX];
} target_t;

typedef struct st_member_t {
    uint8_t primary[KVE_CACHE_HASH_LEN], variant[KVE_CACHE_HASH_LEN];
    int has_variant;
    char text[KVE_CACHE_MEMBER_MAX];
    size_t text_len;
    char head[KVE_CACHE_SET_KEY_MAX], body[KVE_CACHE_SET_KEY_MAX];
    /** soft: the rewritten head record (empty: none to write) */
    kve_buf_t rewritten;
} member_t;

typedef struct st_purge_t {
    uint32_t magic;
    h2o_req_t *req;
    purger_t *self;
    int soft;
    /** where the purged objects are counted */
    size_t metrics_route;
    kve_metrics_cache_t counter;
    /** the sets to walk, the current one and its SSCAN cursor */
    target_t *targets;
    size_t num_targets, cur;
    char cursor[32];
    /** the page of members being purged, in store `store` */
    member_t *page;
    size_t num_page, cap_page, store;
    /** the route of a URL or route purge (NULL: a tag purge), for the memory tiers */
    const kve_route_conf_t *route;
    /** a URL purge: the URL's key and store; whether its index and variant set are gone (hard) */
    int is_url, url_done;
    /** the page came from SSCAN on targets[cur] (else it is the URL's own object) */
    int scanning;
    uint8_t primary[KVE_CACHE_HASH_LEN];
    kve_kv_batch_t *batch;
    uint64_t purged;
    int err;
    h2o_mem_pool_t pool;
} purge_t;

static void next_step(purge_t *p);

void kve_cache__purged(size_t store, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant, int soft)
{
    /* the memory tier (handlers/cache_memory) drops or marks its copy here */
}

/* --- answers --- */

static void send_json(h2o_req_t *req, int status, const char *reason, const char *body)
{
    size_t len = strlen(body);
    char *copy = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(copy, body, len);
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, copy, len);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 414:
        return "URI Too Long";
    case 503:
        return "Service Unavailable";
    default:
        return "Bad Request";
    }
}

/* {"error":"<msg>"}: messages are ours (no quotes or backslashes), never the client's bytes */
static int send_error(h2o_req_t *req, int status, const char *msg)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
    send_json(req, status, reason_of(status), body);
    return 0;
}

/* the memory tiers (handlers/cache_memory_sync.h), once the store's objects are gone or marked: their copies are fresh */
static void evict_memory(purge_t *p)
{
    kve_thread_t *thread = kve_server_thread(p->req->conn->ctx);
    if (p->is_url)
        kve_cache_mem_evict_key(thread, p->route->cache.store_id, p->primary);
    else if (p->route != NULL)
        kve_cache_mem_evict_route(thread, &p->route->cache);
    else
        for (size_t s = 0; s != p->self->num_stores; ++s)
            kve_cache_mem_evict_store(thread, p->self->stores[s]);
}

static void finish(purge_t *p)
{
    char body[256];
    evict_memory(p);
    if (p->purged != 0)
        kve_cache__count(p->req, p->metrics_route, p->counter, p->purged);
    if (p->err != 0) {
        kve_log(KVE_LOG_WARN, "cache", "purge failed after %llu objects: %s", (unsigned long long)p->purged, kve_strerror(p->err));
        snprintf(body, sizeof(body), "{\"error\":\"the store failed: %s\",\"purged\":%llu}\n", kve_strerror(p->err),
                 (unsigned long long)p->purged);
        send_json(p->req, 503, "Service Unavailable", body);
        return;
    }
    snprintf(body, sizeof(body), "{\"purged\":%llu,\"soft\":%s}\n", (unsigned long long)p->purged, p->soft ? "true" : "false");
    send_json(p->req, 200, "OK", body);
}

/* --- batches --- */

/* `flags`: KVE_KV_BATCH_ACK for the batches that delete or rewrite: on a store with min_replicas_ack a purge is answered
 * 200 only once the replicas have it (a purge lost in a failover would bring the objects back); else 503, and the purge,
 * which can be repeated, is the caller's to send again */
static kve_kv_batch_t *send_batch(purge_t *p, size_t store, const kve_kv_command_t *cmds, size_t n, kve_kv_reply_cb on_reply,
                                  kve_kv_done_cb on_done, unsigned flags)
{
    kve_kv_t *kv = kve_thread_link(kve_server_thread(p->req->conn->ctx), store, 0);
    kve_kv_batch_opts_t opts = {.max_reply_size = MAX_REPLY, .flags = flags};
    int err = KVE_EUNAVAIL;

    /* no window: the batch copies every argument before it returns */
    if (kv == NULL || (p->batch = kve_kv_batch(kv, cmds, n, &opts, on_reply, on_done, p, &err)) == NULL) {
        p->err = err;
        finish(p);
        return NULL;
    }
    return p->batch;
}

static int batch_failed(purge_t *p, const kve_kv_batch_result_t *result)
{
    KVE_CHECK_OBJ(p, PURGE_MAGIC);
    p->batch = NULL;
    if (result->err != 0 && p->err == 0)
        p->err = result->err;
    if (p->err == 0)
        return 0;
    finish(p);
    return 1;
}

/* --- a page of members --- */

static member_t *add_member(purge_t *p)
{
    member_t *m;
    if (p->num_page == p->cap_page) {
        p->cap_page = p->cap_page * 2 + 16;
        p->page = kve_realloc(p->page, p->cap_page * sizeof(*p->page));
    }
    m = p->page + p->num_page++;
    memset(m, 0, sizeof(*m));
    return m;
}

/* the member's key names, from its identity */
static void name_member(member_t *m)
{
    h2o_iovec_t ns = h2o_iovec_init("", 0);
    const uint8_t *v = m->has_variant ? m->variant : NULL;
    m->text_len = kve_cache_member(m->text, m->primary, v);
    kve_cache_key_name(m->head, sizeof(m->head), ns, m->primary, v, "h");
    kve_cache_key_name(m->body, sizeof(m->body), ns, m->primary, v, "b");
}

static void clear_page(purge_t *p)
{
    for (size_t i = 0; i != p->num_page; ++i)
        kve_buf_dispose(&p->page[i].rewritten);
    p->num_page = 0;
    h2o_mem_clear_pool(&p->pool);
}

static void page_done(purge_t *p)
{
    clear_page(p);
    if (p->scanning && strcmp(p->cursor, "0") == 0)
        ++p->cur; /* the set was walked: the next one starts at cursor 0 too */
    p->scanning = 0;
    next_step(p);
}

static void on_count_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    purge_t *p = data;
    KVE_CHECK_OBJ(p, PURGE_MAGIC);
    if (err != 0 || i >= p->num_page)
        return; /* the SREM, or a failure on_done reports */
    if (reply->type == KVE_REPLY_ERROR) {
        if (p->err == 0)
            p->err = KVE_EPROTO;
    } else if ((reply->type == KVE_REPLY_INTEGER && reply->integer > 0) || reply->type == KVE_REPLY_STATUS) {
        ++p->purged; /* DEL removed something, or SET XX wrote */
    }
}

static void on_page_done(void *data, const kve_kv_batch_result_t *result)
{
    purge_t *p = data;
    if (!batch_failed(p, result))
        page_done(p);
}

/* hard: DEL head body for each member, then SREM the set's members (`set`: NULL for the URL's own object) */
static void delete_page(purge_t *p, const char *set)
{
    size_t n = p->num_page, i;
    kve_kv_command_t *cmds = kve_malloc((n + 1) * sizeof(*cmds));
    const char **argv = kve_malloc((3 * n + 2 + n) * sizeof(*argv));
    size_t *argvlen = kve_malloc((3 * n + 2 + n) * sizeof(*argvlen));
    const char **a = argv, **srem;
    size_t *l = argvlen, *sremlen;

    for (i = 0; i != n; ++i, a += 3, l += 3) {
        member_t *m = p->page + i;
        a[0] = "DEL", l[0] = 3;
        a[1] = m->head, l[1] = strlen(m->head);
        a[2] = m->body, l[2] = strlen(m->body);
        cmds[i] = KVE_KV_COMMAND(3, a, l);
        kve_cache__purged(p->store, m->primary, m->has_variant ? m->variant : NULL, 0);
    }
    srem = a, sremlen = l;
    srem[0] = "SREM", sremlen[0] = 4;
    srem[1] = set, sremlen[1] = set != NULL ? strlen(set) : 0;
    for (i = 0; i != n; ++i)
        srem[2 + i] = p->page[i].text, sremlen[2 + i] = p->page[i].text_len;
    if (set != NULL)
        cmds[n] = KVE_KV_COMMAND(2 + n, srem, sremlen);
    send_batch(p, p->store, cmds, set != NULL ? n + 1 : n, on_count_reply, on_page_done, KVE_KV_BATCH_ACK);
    free(cmds);
    free(argv);
    free(argvlen);
}

/* soft: the head with its freshness ending now (RFC 9111 age arithmetic, as a lookup does it) */
static void mark_stale(member_t *m, h2o_mem_pool_t *pool, const kve_kv_reply_t *reply)
{
    kve_cache_head_t head;
    int64_t age;

    if (reply->type != KVE_REPLY_STRING || kve_cache_head_decode(pool, reply->str, reply->len, &head) != 0)
        return; /* gone, or not ours: nothing to mark */
    age = kve_cache_current_age(head.initial_age, head.response_time, (int64_t)time(NULL));
    if (head.fresh.lifetime > age)
        head.fresh.lifetime = KVE_MAX(age, 0);
    kve_cache_head_encode(&head, &m->rewritten);
}

static void on_head_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    purge_t *p = data;
    KVE_CHECK_OBJ(p, PURGE_MAGIC);
    if (err == 0 && i < p->num_page)
        mark_stale(p->page + i, &p->pool, reply);
}

/* soft, second half: SET head <rewritten> XX KEEPTTL for each head read */
static void on_heads_done(void *data, const kve_kv_batch_result_t *result)
{
    purge_t *p = data;
    size_t n = 0, i;
    kve_kv_command_t *cmds;
    const char **argv;
    size_t *argvlen;
    member_t *kept;

    if (batch_failed(p, result))
        return;
    cmds = kve_malloc(p->num_page * sizeof(*cmds));
    argv = kve_malloc(5 * p->num_page * sizeof(*argv));
    argvlen = kve_malloc(5 * p->num_page * sizeof(*argvlen));
    kept = kve_malloc(p->num_page * sizeof(*kept));
    for (i = 0; i != p->num_page; ++i) {
        member_t *m = p->page + i;
        const char **a = argv + 5 * n;
        size_t *l = argvlen + 5 * n;
        kve_cache__purged(p->store, m->primary, m->has_variant ? m->variant : NULL, 1);
        if (m->rewritten.len == 0)
            continue;
        a[0] = "SET", l[0] = 3;
        a[1] = m->head, l[1] = strlen(m->head);
        a[2] = m->rewritten.base, l[2] = m->rewritten.len;
        a[3] = "XX", l[3] = 2;
        a[4] = "KEEPTTL", l[4] = 7;
        cmds[n] = KVE_KV_COMMAND(5, a, l);
        kept[n++] = *m;
    }
    /* the replies count against the members written: keep only those in the page */
    memcpy(p->page, kept, n * sizeof(*kept));
    for (i = n; i != p->num_page; ++i)
        p->page[i] = (member_t){0};
    p->num_page = n;
    free(kept);
    if (n == 0)
        page_done(p);
    else
        send_batch(p, p->store, cmds, n, on_count_reply, on_page_done, KVE_KV_BATCH_ACK);
    free(cmds);
    free(argv);
    free(argvlen);
}

static void soft_page(purge_t *p)
{
    kve_kv_command_t *cmds = kve_malloc(p->num_page * sizeof(*cmds));
    const char **argv = kve_malloc(2 * p->num_page * sizeof(*argv));
    size_t *argvlen = kve_malloc(2 * p->num_page * sizeof(*argvlen));

    for (size_t i = 0; i != p->num_page; ++i) {
        argv[2 * i] = "GET", argvlen[2 * i] = 3;
        argv[2 * i + 1] = p->page[i].head, argvlen[2 * i + 1] = strlen(p->page[i].head);
        cmds[i] = KVE_KV_COMMAND(2, argv + 2 * i, argvlen + 2 * i);
        cmds[i].flags = KVE_KV_CMD_READ_ONLY;
    }
    send_batch(p, p->store, cmds, p->num_page, on_head_reply, on_heads_done, 0);
    free(cmds);
    free(argv);
    free(argvlen);
}

static void purge_page(purge_t *p, const char *set)
{
    if (p->num_page == 0)
        page_done(p);
    else if (p->soft)
        soft_page(p);
    else
        delete_page(p, set);
}

/* --- walking the sets --- */

static void on_scan_reply(void *data, size_t i, int err, const kve_kv_reply_t *reply)
{
    purge_t *p = data;
    const kve_kv_reply_t *members;

    KVE_CHECK_OBJ(p, PURGE_MAGIC);
    if (err != 0)
        return;
    if (reply->type != KVE_REPLY_ARRAY || reply->elements != 2 || reply->element[0]->type != KVE_REPLY_STRING ||
        reply->element[0]->len >= sizeof(p->cursor) || reply->element[1]->type != KVE_REPLY_ARRAY) {
        p->err = reply->type == KVE_REPLY_TOO_BIG ? KVE_ETOO_LARGE : KVE_EPROTO;
        return;
    }
    memcpy(p->cursor, reply->element[0]->str, reply->element[0]->len);
    p->cursor[reply->element[0]->len] = '\0';
    members = reply->element[1];
    for (size_t j = 0; j != members->elements; ++j) {
        const kve_kv_reply_t *e = members->element[j];
        uint8_t pr[KVE_CACHE_HASH_LEN], v[KVE_CACHE_HASH_LEN];
        int has_variant;
        member_t *m;
        /* anything else in the set is not ours: left for its TTL */
        if (e->type != KVE_REPLY_STRING || kve_cache_member_parse(e->str, e->len, pr, v, &has_variant) != 0)
            continue;
        m = add_member(p);
        memcpy(m->primary, pr, sizeof(pr));
        memcpy(m->variant, v, sizeof(v));
        m->has_variant = has_variant;
        name_member(m);
    }
}

static void on_scan_done(void *data, const kve_kv_batch_result_t *result)
{
    purge_t *p = data;
    if (!batch_failed(p, result))
        purge_page(p, p->targets[p->cur].key);
}

static void scan(purge_t *p)
{
    const target_t *t = p->targets + p->cur;
    const char *argv[] = {"SSCAN", t->key, p->cursor, "COUNT", PAGE_COUNT};
    size_t argvlen[] = {5, strlen(t->key), strlen(p->cursor), 5, sizeof(PAGE_COUNT) - 1};
    kve_kv_command_t cmd = KVE_KV_COMMAND(5, argv, argvlen);

    cmd.flags = KVE_KV_CMD_READ_ONLY;
    p->store = t->store;
    p->scanning = 1;
    send_batch(p, t->store, &cmd, 1, on_scan_reply, on_scan_done, 0);
}

static void on_url_done(void *data, const kve_kv_batch_result_t *result)
{
    purge_t *p = data;
    if (!batch_failed(p, result))
        next_step(p);
}

/* hard URL purge, last: the variant index and the variant set (no variant is reachable without the index) */
static void delete_url_index(purge_t *p)
{
    kve_cache_cmds_t c;
    kve_kv_command_t cmd;

    kve_cache_cmds_purge_url(&c, h2o_iovec_init("", 0), p->primary);
    kve_cache_cmds_to_kv(&c, &cmd);
    p->url_done = 1;
    send_batch(p, p->store, &cmd, 1, on_count_reply, on_url_done, KVE_KV_BATCH_ACK);
}

static void next_step(purge_t *p)
{
    if (p->cur < p->num_targets) {
        scan(p);
    } else if (p->is_url && !p->soft && !p->url_done) {
        delete_url_index(p);
    } else {
        finish(p);
    }
}

/* --- the request --- */

static void on_dispose(void *_p)
{
    purge_t *p = _p;
    if (p->batch != NULL)
        kve_kv_batch_cancel(p->batch);
    clear_page(p);
    free(p->page);
    free(p->targets);
    p->magic = 0;
}

static purge_t *new_purge(purger_t *self, h2o_req_t *req, int soft, size_t num_targets)
{
    purge_t *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_dispose);
    memset(p, 0, sizeof(*p));
    p->magic = PURGE_MAGIC;
    p->req = req;
    p->self = self;
    p->soft = soft;
    p->counter = KVE_METRICS_CACHE_PURGED;
    strcpy(p->cursor, "0");
    h2o_mem_init_pool(&p->pool);
    p->targets = kve_zalloc(KVE_MAX(num_targets, 1) * sizeof(*p->targets));
    p->num_targets = num_targets;
    return p;
}

const kve_route_conf_t *kve_cache_route_for_path(const kve_route_conf_t *routes, size_t num_routes, h2o_iovec_t path)
{
    const char *q = memchr(path.base, '?', path.len);
    size_t plen = q != NULL ? (size_t)(q - path.base) : path.len, best_len = 0;
    const kve_route_conf_t *best = NULL;

    for (size_t i = 0; i != num_routes; ++i) {
        const char *rp = routes[i].path;
        size_t rlen = strlen(rp);
        if (rlen <= plen && memcmp(path.base, rp, rlen) == 0 && (rlen == plen || rp[rlen - 1] == '/' || path.base[rlen] == '/') &&
            (best == NULL || rlen > best_len))
            best = routes + i, best_len = rlen;
    }
    return best;
}

int kve_cache_route_caches(const kve_route_conf_t *r)
{
    return r->cache.present && r->cache.enabled;
}

static kve_cache_key_conf_t key_conf(const kve_cache_conf_t *c)
{
    return (kve_cache_key_conf_t){(kve_cache_query_t)c->key.query,
                                  (const char *const *)c->key.exclude_query.entries,
                                  c->key.exclude_query.size,
                                  (const char *const *)c->key.headers.entries,
                                  c->key.headers.size,
                                  (const char *const *)c->key.cookies.entries,
                                  c->key.cookies.size};
}

const char *kve_cache_url_resolve(const kve_route_conf_t *routes, size_t num_routes, h2o_iovec_t url, const h2o_header_t *headers,
                                  size_t num_headers, const kve_route_conf_t **route, kve_buf_t *enc, int *status)
{
    kve_cache_key_conf_t kc;
    kve_cache_key_req_t kr;
    h2o_url_t u;

    *route = NULL;
    *status = 400;
    if (h2o_url_parse(url.base, url.len, &u) != 0 || memchr(url.base, '#', url.len) != NULL)
        return "url: expected an absolute http:// or https:// URL without a fragment";
    if ((*route = kve_cache_route_for_path(routes, num_routes, u.path)) == NULL)
        return *status = 404, "no cached route serves the URL's path (no route serves it)";
    if (!kve_cache_route_caches(*route))
        return *status = 404, "no cached route serves the URL's path (its route does not cache)";
    kc = key_conf(&(*route)->cache);
    kr = (kve_cache_key_req_t){h2o_iovec_init(H2O_STRLIT("GET")), u.scheme->name, u.authority, u.path, headers, num_headers};
    if (kve_cache_key_encode(&kc, &kr, enc) != 0)
        return "url: the host is not a host name or IP literal with an optional port";
    return NULL;
}

static int start_url(purger_t *self, h2o_req_t *req, const kve_cache_purge_query_t *q)
{
    const kve_route_conf_t *route;
    kve_buf_t enc = KVE_BUF_INIT;
    const char *err;
    purge_t *p;
    member_t *m;
    int status;

    /* key headers and cookies come from the purge request's own fields */
    if ((err = kve_cache_url_resolve(self->routes, self->num_routes, q->url, req->headers.entries, req->headers.size, &route, &enc,
                                     &status)) != NULL) {
        kve_buf_dispose(&enc);
        return send_error(req, status, err);
    }
    p = new_purge(self, req, q->soft, 1);
    kve_cache_key_hash(enc.base, enc.len, p->primary);
    kve_buf_dispose(&enc);
    p->is_url = 1;
    p->route = route;
    p->metrics_route = self->route_series[route - self->routes];
    p->store = p->targets[0].store = route->cache.store_id;
    kve_cache_key_name(p->targets[0].key, sizeof(p->targets[0].key), h2o_iovec_init("", 0), p->primary, NULL, "s");
    /* the URL's own object first (a page of one, not in any set of its own), then its variants */
    m = add_member(p);
    memcpy(m->primary, p->primary, sizeof(p->primary));
    name_member(m);
    purge_page(p, NULL);
    return 0;
}

/* a route= value names a route as the configuration does (a trailing '/' does not matter) */
static int same_path(const char *a, h2o_iovec_t b)
{
    size_t alen = strlen(a);
    if (alen > 1 && a[alen - 1] == '/')
        --alen;
    if (b.len > 1 && b.base[b.len - 1] == '/')
        --b.len;
    return h2o_memis(a, alen, b.base, b.len);
}

static int start_route(purger_t *self, h2o_req_t *req, const kve_cache_purge_query_t *q)
{
    const kve_route_conf_t *route = NULL;
    purge_t *p;

    for (size_t i = 0; i != self->num_routes && route == NULL; ++i)
        if (same_path(self->routes[i].path, q->route) && kve_cache_route_caches(self->routes + i))
            route = self->routes + i;
    if (route == NULL)
        return send_error(req, 404, "route: no cached route has this path");
    p = new_purge(self, req, q->soft, 1);
    p->route = route;
    p->metrics_route = self->route_series[route - self->routes];
    p->targets[0].store = route->cache.store_id;
    kve_cache_set_key(p->targets[0].key, sizeof(p->targets[0].key), h2o_iovec_init("", 0), KVE_CACHE_SET_ROUTE, route->path,
                      strlen(route->path));
    next_step(p);
    return 0;
}

static int start_tags(purger_t *self, h2o_req_t *req, const kve_cache_purge_query_t *q)
{
    purge_t *p = new_purge(self, req, q->soft, q->num_tags * self->num_stores);
    size_t n = 0;

    p->metrics_route = self->metrics_route;
    p->counter = KVE_METRICS_CACHE_TAG_PURGED;
    for (size_t t = 0; t != q->num_tags; ++t) {
        for (size_t s = 0; s != self->num_stores; ++s, ++n) {
            p->targets[n].store = self->stores[s];
            kve_cache_set_key(p->targets[n].key, sizeof(p->targets[n].key), h2o_iovec_init("", 0), KVE_CACHE_SET_TAG,
                              q->tags[t].base, q->tags[t].len);
        }
    }
    next_step(p);
    return 0;
}

void kve_cache_purge_start(kve_cache_purger_t *purger, h2o_req_t *req, const kve_cache_purge_query_t *q)
{
    switch (q->kind) {
    case KVE_CACHE_PURGE_URL:
        start_url(purger, req, q);
        break;
    case KVE_CACHE_PURGE_ROUTE:
        start_route(purger, req, q);
        break;
    default:
        start_tags(purger, req, q);
        break;
    }
}

static int authorized(purge_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t token = kve_bearer_token(req);
    return token.base != NULL && kve_secure_equal(token.base, token.len, self->token, self->token_len);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    purge_handler_t *self = (void *)_self;
    kve_cache_purge_query_t q;
    const char *err;
    int status;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PURGE"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST, PURGE"));
        return send_error(req, 405, "use POST (or PURGE)");
    }
    if (self->token == NULL)
        return send_error(req, 403, "purging needs admin.token to be configured");
    if (!authorized(self, req)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
        return send_error(req, 401, "admin token required");
    }
    if ((err = kve_cache_purge_parse(&req->pool,
                                     req->query_at != SIZE_MAX
                                         ? h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1)
                                         : h2o_iovec_init("", 0),
                                     &q, &status)) != NULL)
        return send_error(req, status, err);
    kve_cache_purge_start(self->purger, req, &q);
    return 0;
}

static void on_handler_dispose(h2o_handler_t *_self)
{
    purge_handler_t *self = (void *)_self;
    if (self->token != NULL) {
        OPENSSL_cleanse(self->token, self->token_len);
        free(self->token);
    }
    kve_cache_purger_free(self->purger);
}

kve_cache_purger_t *kve_cache_purger_new(const kve_route_conf_t *routes, size_t num_routes, size_t metrics_route)
{
    purger_t *self = kve_zalloc(sizeof(*self));

    self->routes = routes;
    self->num_routes = num_routes;
    self->metrics_route = metrics_route;
    self->route_series = kve_zalloc(KVE_MAX(num_routes, 1) * sizeof(*self->route_series));
    for (size_t i = 0; i != num_routes; ++i) {
        size_t s, id = routes[i].cache.store_id;
        if (!kve_cache_route_caches(routes + i))
            continue;
        self->route_series[i] = kve_cache__metrics_route(routes[i].path);
        for (s = 0; s != self->num_stores && self->stores[s] != id; ++s)
            ;
        if (s == self->num_stores && s != KVE_ARRAY_SIZE(self->stores))
            self->stores[self->num_stores++] = id;
    }
    return self;
}

void kve_cache_purger_free(kve_cache_purger_t *purger)
{
    if (purger == NULL)
        return;
    free(purger->route_series);
    free(purger);
}

void kve_cache_purge_register(h2o_pathconf_t *pathconf, const char *token, const kve_route_conf_t *routes, size_t num_routes,
                              size_t metrics_route)
{
    purge_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->super.dispose = on_handler_dispose;
    if (token != NULL && token[0] != '\0') {
        self->token = kve_strdup(token);
        self->token_len = strlen(token);
    }
    self->purger = kve_cache_purger_new(routes, num_routes, metrics_route);
}
