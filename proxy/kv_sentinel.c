/* SPDX-License-Identifier: MIT */
/*
 * The sentinel topology (see kv_sentinel.h). Everything that changes the link's structure (a generation made or
 * destroyed, the sentinel's link replaced, the subscription opened or closed) happens in step(), run from the link's
 * own timers, never from a callback of the links it changes: the callbacks only record what they learnt.
 */
#include "proxy/kv_sentinel.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"
#include "proxy/kv_redis.h"
#include "proxy/kv_replicas.h"
#include "proxy/log.h"
#include "proxy/sentinel_reply.h"

#include <stdio.h>
#include <string.h>

/* how often step() looks at the primary's connection (a dead primary is noticed within this) */
#define POLL_MS 100
/* how often the sentinel is asked again while everything is fine (a missed +switch-master is found by then) */
#define REFRESH_MS 2000
/* a primary whose connection went down is connected to again (when the sentinel still names it) after this */
#define RETRY_SAME_MS 500
#define FAILS_PER_SENTINEL 2

/* one view of the sentinel: the link over the primary and replicas it named, and what that link borrows */
typedef struct st_generation_t {
    kve_kv_t *kv;
    kve_sentinel_addr_t primary;
    size_t num_replicas;
    kve_kv_node_stats_t *nodes;   /* [0] the primary, [1 + i] replica i (for the replicas link) */
    kve_redis_target_t *kill;     /* the primary with the read-write user, for a read-only link's script kills, or NULL */
    kve_redis_target_t targets[]; /* [0] the primary, [1 + i] replica i */
} generation_t;

typedef struct st_sentinel_link_t {
    kve_kv_t super;
    const kve_redis_conf_t *conf;
    const kve_redis_target_t *sentinels;
    size_t num_sentinels;
    const kve_redis_target_t *data;
    /** the sentinel asked now, its link, and the subscription on it */
    size_t cur;
    kve_kv_t *skv;
    kve_kv_stats_t skv_stats;
    kve_kv_stream_t *sub;
    /** the question in flight, and the answer it brought (for step()) */
    kve_kv_batch_t *asking;
    int answered, answer_ok;
    kve_sentinel_addr_t found;
    kve_sentinel_addr_t found_replicas[KVE_KV_MAX_REPLICAS];
    size_t num_found_replicas;
    char why[200];
    /** step() must move to the next sentinel / ask again */
    unsigned move_on : 1;
    unsigned ask : 1;
    unsigned logged_no_primary : 1;
    /** a primary was left and none came up since (one warning per outage) */
    unsigned in_outage : 1;
    /** primaries this sentinel named whose connection went down (or never came up) since one was up: at
     * FAILS_PER_SENTINEL the next sentinel is asked (one whose view is stale, e.g. cut off from the others, is left) */
    unsigned fails_here;
    uint64_t refresh_at;
    /** the primary whose connection went down last, not connected to again before failed_until */
    kve_sentinel_addr_t failed;
    uint64_t failed_until;
    /** the primary last logged */
    kve_sentinel_addr_t announced;
    generation_t *gen;
    h2o_timeout_t poll, soon;
    h2o_timeout_entry_t poll_entry, soon_entry;
} sentinel_link_t;

static void step(sentinel_link_t *link);

/* --- generations --- */

static void node_target(kve_redis_target_t *t, const kve_redis_target_t *users, const kve_sentinel_addr_t *addr, int db)
{
    memset(t, 0, sizeof(*t));
    t->host = kve_strdup(addr->host);
    t->port = addr->port;
    t->db = db;
    t->username = users->username != NULL ? kve_strdup(users->username) : NULL;
    t->password = users->password != NULL ? kve_strdup(users->password) : NULL;
    t->role = users->role;
    t->store = users->store;
    t->store_name = users->store_name;
    t->acl_refused = users->acl_refused;
}

static generation_t *gen_create(sentinel_link_t *link)
{
    size_t i, n = link->num_found_replicas;
    int db = (int)link->conf->sentinel.db;
    generation_t *g = kve_zalloc(offsetof(generation_t, targets) + sizeof(kve_redis_target_t) * (n + 1));

    g->primary = link->found;
    g->num_replicas = n;
    node_target(g->targets, link->data, &link->found, db);
    g->targets[0].require_master = 1;
    if (link->data->kill_via != NULL) { /* a read-only link: scripts are stopped as the read-write user, on this primary */
        g->kill = kve_zalloc(sizeof(*g->kill));
        node_target(g->kill, link->data->kill_via, &link->found, db);
        g->kill->limit_checked = 1;
        g->targets[0].kill_via = g->kill;
    }
    for (i = 0; i != n; ++i) {
        node_target(g->targets + 1 + i, link->data, link->found_replicas + i, db);
        g->targets[1 + i].kill_via = g->kill != NULL ? g->kill : g->targets;
    }
    if (n == 0) {
        g->kv = kve_kv_redis_create(link->super.loop, g->targets, link->conf, link->super.stats);
    } else {
        g->nodes = kve_zalloc(sizeof(*g->nodes) * (n + 1));
        g->kv = kve_kv_replicas_create(link->super.loop, g->targets, g->targets + 1, n, link->conf, link->super.stats, g->nodes);
    }
    return g;
}

static void gen_destroy(generation_t *g)
{
    kve_kv_destroy(g->kv); /* fails what it still holds */
    for (size_t i = 0; i != g->num_replicas + 1; ++i)
        kve_redis_target_dispose(g->targets + i);
    if (g->kill != NULL) {
        kve_redis_target_dispose(g->kill);
        free(g->kill);
    }
    free(g->nodes);
    free(g);
}

static int same_addr(const kve_sentinel_addr_t *a, const kve_sentinel_addr_t *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void drop_generation(sentinel_link_t *link, const char *why)
{
    if (link->gen == NULL)
        return;
    kve_log(link->in_outage ? KVE_LOG_DEBUG : KVE_LOG_WARN, "redis",
            "sentinel store %s: leaving primary %s:%d: %s; requests get 503 until the sentinels name a primary that says so",
            link->super.peer, link->gen->primary.host, link->gen->primary.port, why);
    link->in_outage = 1;
    ++link->fails_here;
    link->failed = link->gen->primary;
    link->failed_until = h2o_now(link->super.loop) + RETRY_SAME_MS;
    gen_destroy(link->gen);
    link->gen = NULL;
    kve_kv__set_state(&link->super, KVE_KV_DOWN);
}

/* --- asking the sentinel --- */

static void on_answer(void *data, size_t index, int err, const kve_kv_reply_t *reply)
{
    sentinel_link_t *link = data;
    int n;

    if (!link->answer_ok)
        return;
    if (err != 0) {
        snprintf(link->why, sizeof(link->why), "%s", kve_strerror(err));
        link->answer_ok = 0;
    } else if (index == 0) {
        link->answer_ok = kve_sentinel_parse_master(reply, &link->found, link->why, sizeof(link->why)) == 0;
    } else if ((n = kve_sentinel_parse_replicas(reply, link->found_replicas, KVE_KV_MAX_REPLICAS, link->why, sizeof(link->why))) <
               0) {
        link->answer_ok = 0;
    } else {
        link->num_found_replicas = 0;
        for (int i = 0; i != n; ++i) /* never the primary itself (a sentinel's view in the middle of a switch) */
            if (strcmp(link->found_replicas[i].host, link->found.host) != 0 || link->found_replicas[i].port != link->found.port)
                link->found_replicas[link->num_found_replicas++] = link->found_replicas[i];
    }
}

static void on_answered(void *data, const kve_kv_batch_result_t *result)
{
    sentinel_link_t *link = data;

    link->asking = NULL;
    link->answered = 1;
    if (result->err != 0 && link->answer_ok) {
        snprintf(link->why, sizeof(link->why), "%s", kve_strerror(result->err));
        link->answer_ok = 0;
    }
    if (!h2o_timeout_is_linked(&link->soon_entry))
        h2o_timeout_link(link->super.loop, &link->soon, &link->soon_entry);
}

static void ask_sentinel(sentinel_link_t *link)
{
    static const char *sentinel = "SENTINEL", *master_q = "get-master-addr-by-name", *replicas_q = "replicas";
    const char *master = link->conf->sentinel.master;
    const char *a0[] = {sentinel, master_q, master}, *a1[] = {sentinel, replicas_q, master};
    size_t l0[] = {8, strlen(master_q), strlen(master)}, l1[] = {8, strlen(replicas_q), strlen(master)};
    kve_kv_command_t cmds[] = {KVE_KV_COMMAND(3, a0, l0), KVE_KV_COMMAND(3, a1, l1)};
    kve_kv_batch_opts_t opts = {.timeout_ms = link->conf->connect_timeout_ms + link->conf->command_timeout_ms,
                                .max_reply_size = 1024 * 1024};
    int err;

    link->answer_ok = 1;
    link->answered = 0;
    link->num_found_replicas = 0;
    if ((link->asking = kve_kv_batch(link->skv, cmds, 2, &opts, on_answer, on_answered, link, &err)) == NULL) {
        snprintf(link->why, sizeof(link->why), "%s", kve_strerror(err));
        link->answer_ok = 0;
        link->answered = 1;
    }
}

static void on_subscription(void *data, int err, const kve_kv_reply_t *reply)
{
    sentinel_link_t *link = data;

    if (err != 0) { /* the sentinel went away: the next one, and ask it (a switch may have been missed) */
        link->move_on = 1;
        link->ask = 1;
    } else if (kve_sentinel_is_switch(reply, link->conf->sentinel.master)) {
        kve_log(KVE_LOG_INFO, "redis", "sentinel store %s: +switch-master: %.*s", link->super.peer,
                (int)KVE_MIN(reply->element[2]->len, 200), reply->element[2]->str);
        link->ask = 1;
    } else {
        return;
    }
    if (!h2o_timeout_is_linked(&link->soon_entry))
        h2o_timeout_link(link->super.loop, &link->soon, &link->soon_entry);
}

static void close_sentinel(sentinel_link_t *link)
{
    if (link->sub != NULL)
        kve_kv_stream_close(link->sub);
    link->sub = NULL;
    if (link->asking != NULL)
        kve_kv_batch_cancel(link->asking);
    link->asking = NULL;
    if (link->skv != NULL)
        kve_kv_destroy(link->skv);
    link->skv = NULL;
}

/* the sentinel's answer: keep the generation, or make one for the primary it named */
static void take_answer(sentinel_link_t *link)
{
    const kve_redis_target_t *s = link->sentinels + link->cur;

    link->answered = 0;
    if (!link->answer_ok) {
        kve_log(link->gen == NULL && !link->logged_no_primary ? KVE_LOG_WARN : KVE_LOG_DEBUG, "redis",
                "sentinel store %s: sentinel %s:%d: %s; asking the next one", link->super.peer, s->host, s->port, link->why);
        link->logged_no_primary = link->gen == NULL;
        link->move_on = 1;
        return;
    }
    link->refresh_at = h2o_now(link->super.loop) + REFRESH_MS;
    if (link->gen != NULL && same_addr(&link->gen->primary, &link->found))
        return;
    if (link->gen == NULL && same_addr(&link->failed, &link->found) && h2o_now(link->super.loop) < link->failed_until) {
        link->refresh_at = link->failed_until; /* the one that just failed: not again at once */
        return;
    }
    if (link->gen != NULL)
        drop_generation(link, "the sentinel names another primary");
    kve_log(same_addr(&link->announced, &link->found) ? KVE_LOG_DEBUG : KVE_LOG_INFO, "redis",
            "sentinel store %s: primary %s:%d and %zu replicas (from sentinel %s:%d)", link->super.peer, link->found.host,
            link->found.port, link->num_found_replicas, s->host, s->port);
    link->announced = link->found;
    link->logged_no_primary = 0;
    link->gen = gen_create(link);
}

static void step(sentinel_link_t *link)
{
    uint64_t now = h2o_now(link->super.loop);

    if (link->super.closing)
        return;
    if (link->move_on) {
        close_sentinel(link);
        link->cur = (link->cur + 1) % link->num_sentinels;
        link->move_on = 0;
        link->ask = 1;
    }
    if (link->skv == NULL)
        link->skv = kve_kv_redis_create(link->super.loop, link->sentinels + link->cur, link->conf, &link->skv_stats);
    if (link->sub == NULL && KVE_STAT_GET(link->skv->stats->state) == KVE_KV_UP) {
        static const char *const argv[] = {"SUBSCRIBE", "+switch-master"};
        static const size_t argvlen[] = {9, 14};
        int err;
        link->sub = kve_kv_stream_open(link->skv, 2, argv, argvlen, on_subscription, link, &err);
    }
    if (link->gen != NULL && KVE_STAT_GET(link->super.stats->state) == KVE_KV_DOWN)
        drop_generation(link, "its connection is down");
    else if (link->gen != NULL && link->in_outage && KVE_STAT_GET(link->super.stats->state) == KVE_KV_UP)
        link->in_outage = 0, link->fails_here = 0;
    if (link->fails_here >= FAILS_PER_SENTINEL) { /* at the next poll */
        link->fails_here = 0;
        link->move_on = 1;
        return;
    }
    if (link->answered)
        take_answer(link);
    if (link->move_on) { /* at the next poll: a sentinel that is down is not hammered */
        link->refresh_at = 0;
        return;
    }
    if ((link->gen == NULL && now >= link->failed_until) || now >= link->refresh_at)
        link->ask = 1;
    if (link->ask && link->asking == NULL && !link->answered) {
        link->ask = 0;
        ask_sentinel(link);
    }
}

static void on_poll(h2o_timeout_entry_t *entry)
{
    sentinel_link_t *link = H2O_STRUCT_FROM_MEMBER(sentinel_link_t, poll_entry, entry);
    step(link);
    if (!link->super.closing)
        h2o_timeout_link(link->super.loop, &link->poll, &link->poll_entry);
}

static void on_soon(h2o_timeout_entry_t *entry)
{
    step(H2O_STRUCT_FROM_MEMBER(sentinel_link_t, soon_entry, entry));
}

/* --- the driver --- */

static kve_kv_t *sentinel_route(kve_kv_t *kv, const kve_kv_command_t *cmds, size_t n, const kve_kv_batch_opts_t *opts)
{
    sentinel_link_t *link = (void *)kv;
    kve_kv_t *inner;

    if (link->gen == NULL || KVE_STAT_GET(kv->stats->state) != KVE_KV_UP)
        return kv; /* no primary that said it is one: send() fails the batch at once */
    inner = link->gen->kv;
    return inner->driver->route != NULL ? inner->driver->route(inner, cmds, n, opts) : inner;
}

static int sentinel_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    return KVE_EUNAVAIL;
}

static int sentinel_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    return KVE_EUNAVAIL;
}

static void sentinel_on_timeout(kve_kv_t *kv)
{
}

static void sentinel_on_reply(kve_kv_t *kv)
{
}

static kve_kv_stream_t *sentinel_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                             kve_kv_stream_cb cb, void *data, int *err)
{
    *err = KVE_ENOTSUP;
    return NULL;
}

static void sentinel_destroy(kve_kv_t *kv)
{
    sentinel_link_t *link = (void *)kv;

    if (h2o_timeout_is_linked(&link->poll_entry))
        h2o_timeout_unlink(&link->poll_entry);
    if (h2o_timeout_is_linked(&link->soon_entry))
        h2o_timeout_unlink(&link->soon_entry);
    close_sentinel(link);
    if (link->gen != NULL)
        gen_destroy(link->gen);
    h2o_timeout_dispose(kv->loop, &link->poll);
    h2o_timeout_dispose(kv->loop, &link->soon);
    kve_kv__dispose(kv);
    free(link);
}

static const kve_kv_driver_t sentinel_driver = {.name = "redis-sentinel",
                                                .send = sentinel_send,
                                                .send_atomic = sentinel_send_atomic,
                                                .on_timeout = sentinel_on_timeout,
                                                .on_reply = sentinel_on_reply,
                                                .destroy = sentinel_destroy,
                                                .stream_open = sentinel_stream_open,
                                                .route = sentinel_route};

kve_kv_t *kve_kv_sentinel_create(h2o_loop_t *loop, const kve_redis_target_t *sentinels, size_t n, const kve_redis_target_t *data,
                                 const kve_redis_conf_t *conf, kve_kv_stats_t *stats)
{
    sentinel_link_t *link = kve_zalloc(sizeof(*link));

    KVE_ASSERT(n != 0 && n <= KVE_KV_MAX_SENTINELS && stats != NULL && conf->sentinel.master != NULL);
    kve_kv__init(&link->super, &sentinel_driver, loop, conf->command_timeout_ms);
    kve_kv__use_stats(&link->super, stats);
    kve_kv__set_state(&link->super, KVE_KV_CONNECTING);
    link->conf = conf;
    link->sentinels = sentinels;
    link->num_sentinels = n;
    link->data = data;
    snprintf(link->super.peer, sizeof(link->super.peer), "%s%s%s", conf->sentinel.master, data->store != NULL ? " of store " : "",
             data->store != NULL ? data->store : "");
    h2o_timeout_init(loop, &link->poll, POLL_MS);
    h2o_timeout_init(loop, &link->soon, 0);
    link->poll_entry.cb = on_poll;
    link->soon_entry.cb = on_soon;
    link->ask = 1;
    step(link);
    h2o_timeout_link(loop, &link->poll, &link->poll_entry);
    return &link->super;
}
