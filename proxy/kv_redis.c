/* SPDX-License-Identifier: MIT */
/*
 * Redis driver of the KV interface (see kv_redis.h). States: DOWN (no context; a tick timer waits for the
 * next attempt and commands fail fast), CONNECTING (context exists, handshake AUTH/SELECT/PING queued;
 * commands queue behind it), UP. Any transport error, a failed handshake, the connect timeout or
 * `breaker_threshold` consecutive command timeouts free the context (hiredis then fails every queued
 * command with a NULL reply) and go DOWN with exponential backoff. Timeouts of commands queued behind a running
 * script do not count while the script watchdog has its part to play (link_on_timeout). A handshake the store
 * refuses for the credentials (WRONGPASS, NOAUTH, NOPERM) fails commands with KVE_EAUTH until the link comes up.
 * Replies are kve_kv_reply_t objects built by redis_reply.c's reader functions as hiredis parses (recycled per
 * thread), handed to kv.c as they are. An atomic batch is MULTI, its commands, EXEC; a batch that asks for the
 * sync position shares the ROLE written at the end of the loop iteration's flush with every other batch of that
 * flush (before_flush). The reader holds each reply to its command's max_reply_size as it is read,
 * and refuses a reply when no command waits for one (the connection is out of step, e.g. a server that
 * answers more than it was asked): that, like a parse error, rebuilds the connection. Late replies (their
 * command timed out) never reset the breaker's count (kv.c).
 */
#include "proxy/kv_redis.h"
#include "proxy/kv_ack.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_redis_internal.h"
#include "proxy/log.h"
#include "proxy/redis_acl.h"
#include "proxy/redis_reply.h"
#include "proxy/redis_send.h"

#include <stdio.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#define RECONNECT_MIN_MS 50
#define TICK_MS 50

static void start_connect(kve_redis_link_t *link);

static void sync_answer(kve_kv_batch_t *b, int known, uint64_t offset);

static void schedule_reconnect(kve_redis_link_t *link, const char *why)
{
    kve_kv_batch_t *waiting = link->sync_waiting;

    kve_kv__set_state(&link->super, KVE_KV_DOWN);
    link->auth_refused = 0;    /* refuse_credentials() sets it again after this */
    link->sync_waiting = NULL; /* no ROLE will be written for them */
    sync_answer(waiting, 0, 0);
    if (h2o_timeout_is_linked(&link->connect_entry))
        h2o_timeout_unlink(&link->connect_entry);
    if (link->super.closing)
        return;
    if (!link->logged_down) { /* one line per outage, not one per attempt */
        kve_log(KVE_LOG_WARN, "redis", "link to %s is down: %s; reconnecting", link->super.peer, why);
        link->logged_down = 1;
    } else {
        kve_log(KVE_LOG_DEBUG, "redis", "reconnect to %s failed: %s", link->super.peer, why);
    }
    link->backoff_ms = link->backoff_ms == 0 ? RECONNECT_MIN_MS : KVE_MIN(link->backoff_ms * 2, link->reconnect_max_ms);
    link->next_attempt_at = h2o_now(link->super.loop) + link->backoff_ms;
    if (!h2o_timeout_is_linked(&link->tick_entry))
        h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
}

/* frees the context (deferred by hiredis when inside one of its callbacks); queued commands complete with
 * KVE_ECONN */
static void drop_link(kve_redis_link_t *link, const char *why)
{
    redisAsyncContext *ac = link->adapter.ac;
    if (ac == NULL)
        return;
    ac->onDisconnect = NULL; /* the state change happens here, not in on_disconnect */
    redisAsyncFree(ac);
    schedule_reconnect(link, why);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    kve_redis_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, tick_entry, entry);
    if (link->adapter.ac != NULL || link->super.closing)
        return;
    if (h2o_now(link->super.loop) >= link->next_attempt_at) {
        start_connect(link);
    } else {
        h2o_timeout_link(link->super.loop, &link->tick, &link->tick_entry);
    }
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    kve_redis_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, connect_entry, entry);
    drop_link(link, "connect or handshake timed out");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    kve_redis_link_t *link = ac->data;
    if (status != REDIS_OK)
        schedule_reconnect(link, ac->errstr); /* hiredis frees the context after this returns */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    kve_redis_link_t *link = ac->data;
    const char *why = "connection closed";
    if (status != REDIS_OK)
        kve_redis_adapter_failure(ac, &why);
    schedule_reconnect(link, why);
}

/*
 * The store refused kvedge's credentials (a configuration problem, not an outage): the commands queued behind the
 * handshake and those sent while the link stays down fail with KVE_EAUTH, and one error line per episode (until the
 * link comes up) names the store. `why` is Redis' error, which never holds the password.
 */
static void refuse_credentials(kve_redis_link_t *link, const char *why)
{
    const kve_redis_target_t *t = link->target;

    if (!link->logged_auth)
        kve_log(KVE_LOG_ERROR, "redis", "store %s: %s refused the credentials of kvedge's %s user %s (%s); retrying",
                t->store_name != NULL ? t->store_name : "default", link->super.peer, t->role != NULL ? t->role : "read-write",
                t->username != NULL ? t->username : "default", why);
    link->logged_auth = 1;
    link->logged_down = 1; /* this line instead of the outage's */
    drop_link(link, why);  /* inside hiredis' callback: the queued commands fail once it returns */
    link->auth_refused = 1;
}

static void handshake_step_done(kve_redis_link_t *link);

static void on_handshake_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    kve_redis_link_t *link = privdata;
    char why[160];

    if (reply == NULL || link->adapter.ac != ac)
        return; /* the context is going away; its disconnect path handles the state */
    if (kve_redis_adapter_handshake_failed(reply, why, sizeof(why)) != 0) {
        if (kve_redis_adapter_auth_refused(reply))
            refuse_credentials(link, why);
        else
            drop_link(link, why);
        return;
    }
    handshake_step_done(link);
}

/* ROLE in the handshake of a sentinel store's primary (target->require_master): only a node that says master comes up */
static void on_handshake_role(redisAsyncContext *ac, void *reply, void *privdata)
{
    kve_redis_link_t *link = privdata;
    const kve_kv_reply_t *r = reply, *role;
    char why[160];

    if (r == NULL || link->adapter.ac != ac)
        return;
    role = r->type == KVE_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == KVE_REPLY_STRING ? r->element[0] : NULL;
    if (role == NULL || role->len != 6 || memcmp(role->str, "master", 6) != 0) {
        /* the node's word (bounded: it is the node's) or why there is none */
        snprintf(why, sizeof(why), "ROLE says %.*s, not master: no write goes there",
                 role != NULL                 ? (int)KVE_MIN(role->len, 32)
                 : r->type == KVE_REPLY_ERROR ? (int)KVE_MIN(r->len, 64)
                                              : 7,
                 role != NULL                 ? role->str
                 : r->type == KVE_REPLY_ERROR ? r->str
                                              : "nothing");
        drop_link(link, why);
        return;
    }
    handshake_step_done(link);
}

static void handshake_step_done(kve_redis_link_t *link)
{
    if (--link->handshake_pending != 0)
        return;
    h2o_timeout_unlink(&link->connect_entry);
    if (link->ever_up)
        KVE_STAT_ADD(link->super.stats->reconnects, 1);
    kve_log(link->logged_down || !link->ever_up ? KVE_LOG_INFO : KVE_LOG_DEBUG, "redis", "link to %s is up", link->super.peer);
    link->ever_up = 1;
    link->logged_down = 0;
    link->logged_auth = 0;
    link->backoff_ms = 0;
    link->consecutive_timeouts = 0;
    kve_kv__set_state(&link->super, KVE_KV_UP);
    kve_redis_acl_check(&link->super, link->target);
    if (link->check_output_limit)
        kve_redis__check_output_limit(link);
}

static void on_command_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_exec_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_script_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_exec_script_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* the reader asks at the start of each reply: the limit of the command it answers */
static size_t next_reply_limit(kve_redis_reader_t *reader, int *split)
{
    kve_redis_link_t *link = H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, reader, reader);
    const redisCallback *head = link->adapter.ac->replies.head;

    *split = 0;
    if (head == NULL)
        return KVE_REDIS_REPLY_UNEXPECTED;
    if (head->fn == on_command_reply || head->fn == on_script_reply)
        return kve_kv__max_reply_size(((kve_kv_op_t *)head->privdata)->batch);
    if (head->fn == on_exec_reply || head->fn == on_exec_script_reply) {
        *split = 1; /* EXEC's results are held to the limit one by one */
        return kve_kv__max_reply_size(((kve_kv_op_t *)head->privdata)->batch);
    }
    return 0; /* the handshake's, MULTI's, QUEUED, ASKING's, ROLE and the output limit check's */
}

static void start_connect(kve_redis_link_t *link)
{
    char err[160];

    link->reader.next_limit = next_reply_limit;
    link->reader.waiting = NULL;
    /* a cluster node never gets SELECT: Cluster has db 0 only (it refuses SELECT, even SELECT 0) */
    if ((link->handshake_pending =
             kve_redis_adapter_connect(&link->adapter, link->super.loop, link->target, link->target->redirect == NULL,
                                       &link->reader, on_handshake_reply, link, err, sizeof(err))) == 0) {
        schedule_reconnect(link, err);
        return;
    }
    if (link->target->require_master) { /* behind the handshake, before any command queued while connecting */
        static const char *const role[] = {"ROLE"};
        static const size_t role_len[] = {4};
        if (kve_redis_send(link->adapter.ac, 1, role, role_len, on_handshake_role, link) != REDIS_OK) {
            drop_link(link, "cannot queue ROLE"); /* never up without it */
            return;
        }
        ++link->handshake_pending;
    }
    link->reader.waiting = (void *const *)&link->adapter.ac->replies.head; /* stable while the context lives */
    redisAsyncSetConnectCallback(link->adapter.ac, on_connect);
    redisAsyncSetDisconnectCallback(link->adapter.ac, on_disconnect);
    kve_kv__set_state(&link->super, KVE_KV_CONNECTING);
    h2o_timeout_link(link->super.loop, &link->connect_timeout, &link->connect_entry);
}

/* --- the driver vtable --- */

static const kve_kv_reply_t too_big = {KVE_REPLY_TOO_BIG};

/* why a command queued on `ac` got no reply: the handshake's refusal of the credentials, or the connection's end */
static int connection_failure(const redisAsyncContext *ac)
{
    int err = kve_redis_adapter_failure(ac, NULL);
    return err == KVE_ECONN && ((const kve_redis_link_t *)ac->data)->auth_refused ? KVE_EAUTH : err;
}

/* a script command (or a transaction running one) is answered, or failed with the connection */
static void script_ended(const redisAsyncContext *ac)
{
    kve_redis_link_t *link = ac->data;
    KVE_ASSERT(link->script_commands != 0);
    if (--link->script_commands == 0)
        link->script_expired = 0;
}

/* a sentinel store's primary answered -READONLY (it is a replica now) or -LOADING (it restarted): a failover */
static int failover_reply(redisAsyncContext *ac, const kve_kv_reply_t *r)
{
    kve_redis_link_t *link = ac->data;

    if (r == NULL || r->type != KVE_REPLY_ERROR || !link->target->require_master ||
        !((r->len >= 8 && memcmp(r->str, "READONLY", 8) == 0) || (r->len >= 7 && memcmp(r->str, "LOADING", 7) == 0)))
        return 0;
    if (link->adapter.ac == ac) /* the first one drops the link; the owner finds the primary again */
        drop_link(link, r->str[0] == 'R' ? "-READONLY: the node is a replica now (failover in progress)"
                                         : "-LOADING: the node restarted (failover in progress)");
    return 1;
}

/*
 * Whether `r` is a cluster node's redirection or cluster error: -MOVED, -ASK, -TRYAGAIN, -CLUSTERDOWN, or -READONLY (a
 * write reached a node that became a replica: the cluster link refreshes its map). Only for a link whose target has
 * `redirect` set: the callers test that first, so other links pay no memcmp here.
 */
static int is_cluster_error(const kve_kv_reply_t *r)
{
    static const struct {
        const char *prefix;
        size_t len;
    } errors[] = {{"MOVED ", 6}, {"ASK ", 4}, {"TRYAGAIN", 8}, {"CLUSTERDOWN", 11}, {"READONLY", 8}};

    if (r == NULL || r->type != KVE_REPLY_ERROR)
        return 0;
    for (size_t i = 0; i != sizeof(errors) / sizeof(errors[0]); ++i)
        if (r->len >= errors[i].len && memcmp(r->str, errors[i].prefix, errors[i].len) == 0)
            return 1;
    return 0;
}

/* a cluster node's redirection or cluster error (target->redirect set): handed over to the cluster link */
static int cluster_reply(redisAsyncContext *ac, const kve_kv_reply_t *r, kve_kv_op_t *op)
{
    kve_redis_link_t *link = ac->data;

    if (r == NULL || r->type != KVE_REPLY_ERROR || link->target->redirect == NULL || !is_cluster_error(r))
        return 0;
    link->target->redirect(link->target->redirect_data, op, r);
    return 1;
}

static void on_command_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    const kve_kv_reply_t *r = reply;

    if (cluster_reply(ac, r, privdata))
        return;
    /* NULL: the connection ended (every command queued on it fails, not only the one whose reply was bad) */
    if (failover_reply(ac, r))
        kve_kv__complete(privdata, KVE_EUNAVAIL, NULL);
    else if (r == NULL)
        kve_kv__complete(privdata, connection_failure(ac), NULL);
    else
        kve_kv__complete(privdata, 0, r->type == KVE_REPLY_TOO_BIG ? &too_big : r); /* the partial tree is hiredis' to free */
}

static int queue(kve_redis_link_t *link, redisCallbackFn *fn, void *privdata, const kve_kv_command_t *cmd)
{
    /* straight into hiredis' output buffer, which hiredis empties once written (redis_send.h) */
    return kve_redis_send(link->adapter.ac, cmd->argc, cmd->argv, cmd->argvlen, fn, privdata) == REDIS_OK ? 0 : KVE_ECONN;
}

static void on_script_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    script_ended(ac);
    on_command_reply(ac, reply, privdata);
}

/* a script command: counted while outstanding (see link_on_timeout) */
static int send_script(kve_redis_link_t *link, kve_kv_op_t *op)
{
    if (queue(link, on_script_reply, op, op->cmd) != 0)
        return KVE_ECONN;
    ++link->script_commands;
    return 0;
}

/* why nothing can be sent on `link` now (0: it has a connection) */
static int no_connection(const kve_redis_link_t *link)
{
    if (link->adapter.ac != NULL)
        return 0;
    return link->auth_refused ? KVE_EAUTH : KVE_EUNAVAIL;
}

static int link_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    kve_redis_link_t *link = (void *)kv;
    if (link->adapter.ac == NULL)
        return link->auth_refused ? KVE_EAUTH : KVE_EUNAVAIL;
    if (op->batch->scripts != 0 && kve_kv_script_kind(op->cmd->argv[0], op->cmd->argvlen[0]) != KVE_KV_SCRIPT_NONE)
        return send_script(link, op);
    return queue(link, on_command_reply, op, op->cmd);
}

/* a transaction on a cluster node whose cluster errors go to the cluster link (redirect_atomic set) */
static int redirects_atomic(const redisAsyncContext *ac)
{
    return ((const kve_redis_link_t *)ac->data)->target->redirect_atomic != NULL;
}

/*
 * MULTI's and each QUEUED reply: an error means EXEC will abort; its first one is the reason. A cluster node's cluster
 * error is kept apart instead (the batch's redirect_reply, the first one), for EXEC's reply to hand the transaction over.
 */
static void on_queued_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    const kve_kv_reply_t *r = reply;
    kve_kv_batch_t *b = privdata;

    if (r == NULL || r->type != KVE_REPLY_ERROR)
        return;
    if (redirects_atomic(ac) && is_cluster_error(r)) {
        if (b->redirect_reply == NULL)
            b->redirect_reply = kve_kv__reply_copy(r);
        return;
    }
    kve_kv__set_abort_reply(b, r);
}

/*
 * EXEC's reply on a cluster node: a cluster error on a queued command (then EXECABORT) or on EXEC itself, and no other
 * error, means nothing ran: the transaction goes to target->redirect_atomic with the first such error, and 1 is returned
 * (the ops and their batch are the callee's: not touched after). 0: completed as usual (the held error, if any, freed).
 */
static int cluster_exec_reply(redisAsyncContext *ac, const kve_kv_reply_t *r, kve_kv_op_t *ops)
{
    kve_kv_batch_t *b = ops[0].batch;
    kve_kv_reply_t *first = b->redirect_reply;
    const kve_redis_target_t *t;

    if (first == NULL && (r == NULL || r->type != KVE_REPLY_ERROR || !redirects_atomic(ac) || !is_cluster_error(r)))
        return 0;
    b->redirect_reply = NULL;
    /* the connection ended (nothing known), EXEC ran (cannot be, after a queued error), or another error decides */
    if (r == NULL || r->type != KVE_REPLY_ERROR || b->abort_reply != NULL) {
        kve_kv__reply_free(first);
        return 0;
    }
    t = ((kve_redis_link_t *)ac->data)->target;
    t->redirect_atomic(t->redirect_data, ops, b->n, first != NULL ? first : r);
    kve_kv__reply_free(first);
    return 1;
}

/* EXEC's reply completes every op of the transaction: its results, or KVE_EABORTED (EXECABORT, or a nil EXEC) */
static void on_exec_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    kve_kv_op_t *ops = privdata;
    kve_kv_batch_t *b = ops[0].batch;
    const kve_kv_reply_t *r = reply;
    size_t i, n = b->n;
    int err = 0;

    if (cluster_exec_reply(ac, r, ops))
        return;
    if (r == NULL)
        err = connection_failure(ac);
    else if (failover_reply(ac, b->abort_reply) || failover_reply(ac, r))
        err = KVE_EUNAVAIL; /* a command refused with -READONLY: nothing ran */
    else if (r->type == KVE_REPLY_TOO_BIG && r->elements == 0)
        err = 0; /* the root alone passed the limit: every result is too big */
    else if (r->type != KVE_REPLY_ARRAY || r->elements != n)
        err = KVE_EABORTED;
    if (err == KVE_EABORTED) {
        if (r->type == KVE_REPLY_ERROR)
            kve_kv__set_abort_reply(b, r); /* after the QUEUED error it names (kept first) */
        else
            kve_kv__set_abort_reply(
                b, &(kve_kv_reply_t){.type = KVE_REPLY_ERROR, .len = 29, .str = (char *)"EXECABORT transaction aborted"});
    }
    for (i = 0; i != n; ++i) {
        const kve_kv_reply_t *e = NULL;
        if (err == 0)
            e = r->type == KVE_REPLY_ARRAY && r->element[i]->type != KVE_REPLY_TOO_BIG ? r->element[i] : &too_big;
        kve_kv__complete(ops + i, err, e); /* `b` stays valid: kv.c frees it after the last op comes back */
    }
}

/* a transaction that runs a script: it runs at EXEC */
static void on_exec_script_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    script_ended(ac);
    on_exec_reply(ac, reply, privdata);
}

static int link_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    static const char *const multi[] = {"MULTI"}, *const exec[] = {"EXEC"};
    static const size_t multi_len[] = {5}, exec_len[] = {4};
    static const kve_kv_command_t multi_cmd = {1, multi, multi_len}, exec_cmd = {1, exec, exec_len};
    kve_redis_link_t *link = (void *)kv;
    size_t i;
    int err;

    if ((err = no_connection(link)) != 0)
        return err;
    /* queuing writes nothing and a link changes state only from the event loop, so either the first fails and
     * nothing was queued, or all are: a MULTI is never left open on the shared connection */
    if (queue(link, on_queued_reply, ops[0].batch, &multi_cmd) != 0)
        return KVE_ECONN;
    for (i = 0; i != n; ++i)
        KVE_ASSERT(queue(link, on_queued_reply, ops[0].batch, ops[i].cmd) == 0);
    if (ops[0].batch->scripts != 0) {
        KVE_ASSERT(queue(link, on_exec_script_reply, ops, &exec_cmd) == 0);
        ++link->script_commands;
    } else {
        KVE_ASSERT(queue(link, on_exec_reply, ops, &exec_cmd) == 0);
    }
    return 0;
}

/* --- ASKING: a command (or a transaction) for a slot being imported by this node (a cluster's ASK redirection) --- */

static const kve_kv_driver_t redis_driver;

/* ASKING's +OK is dropped; an error is logged and ignored: the command's own reply (e.g. MOVED) tells what happened */
static void on_asking_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    const kve_kv_reply_t *r = reply;
    kve_redis_link_t *link = privdata;

    if (r != NULL && r->type == KVE_REPLY_ERROR) /* a reply: the context, hence the link, is alive */
        kve_log(KVE_LOG_DEBUG, "redis", "%s answered ASKING with %.*s", link->super.peer, (int)KVE_MIN(r->len, 120), r->str);
}

/* queues ASKING (for the command queued right after it); 0, or a KVE_E* with nothing queued */
static int queue_asking(kve_redis_link_t *link)
{
    static const char *const asking[] = {"ASKING"};
    static const size_t asking_len[] = {6};
    static const kve_kv_command_t asking_cmd = {1, asking, asking_len};
    int err;

    if ((err = no_connection(link)) != 0)
        return err;
    return queue(link, on_asking_reply, link, &asking_cmd);
}

int kve_kv_redis_send_asking(kve_kv_t *kv, kve_kv_op_t *op)
{
    int err;

    KVE_ASSERT(kv->driver == &redis_driver);
    if ((err = queue_asking((kve_redis_link_t *)kv)) != 0)
        return err;
    /* queuing writes nothing and the link's state cannot change in between: the op goes right behind ASKING */
    KVE_ASSERT(link_send(kv, op) == 0);
    return 0;
}

int kve_kv_redis_send_atomic_asking(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    int err;

    KVE_ASSERT(kv->driver == &redis_driver);
    if ((err = queue_asking((kve_redis_link_t *)kv)) != 0)
        return err;
    KVE_ASSERT(link_send_atomic(kv, ops, n) == 0); /* ASKING before MULTI holds through EXEC (measured) */
    return 0;
}

/* --- the sync position: one ROLE per flush, shared by the batches that asked during the loop iteration --- */

/* the replication offset in ROLE's reply: a primary's master_repl_offset, or a replica's processed offset */
static int role_offset(const kve_kv_reply_t *r, uint64_t *offset)
{
    const kve_kv_reply_t *e;
    if (r == NULL || r->type != KVE_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != KVE_REPLY_STRING)
        return 0;
    if (r->element[0]->len == 6 && memcmp(r->element[0]->str, "master", 6) == 0)
        e = r->element[1];
    else if (r->element[0]->len == 5 && memcmp(r->element[0]->str, "slave", 5) == 0 && r->elements >= 5)
        e = r->element[4];
    else
        return 0;
    if (e->type != KVE_REPLY_INTEGER || e->integer < 0)
        return 0;
    *offset = (uint64_t)e->integer;
    return 1;
}

static void sync_answer(kve_kv_batch_t *b, int known, uint64_t offset)
{
    while (b != NULL) {
        kve_kv_batch_t *next = b->driver_next;
        b->driver_next = NULL;
        kve_kv__sync_done(b, known, offset);
        b = next;
    }
}

static void on_role_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    uint64_t offset = 0;
    int known = role_offset(reply, &offset);
    sync_answer(privdata, known, offset);
}

/* queues ROLE for the batches waiting (after their commands); without a connection they learn nothing */
static void send_role(kve_redis_link_t *link)
{
    static const char *const role[] = {"ROLE"};
    static const size_t role_len[] = {4};
    static const kve_kv_command_t role_cmd = {1, role, role_len};
    kve_kv_batch_t *waiting = link->sync_waiting;

    if (waiting == NULL)
        return;
    link->sync_waiting = NULL;
    if (link->adapter.ac == NULL || queue(link, on_role_reply, waiting, &role_cmd) != 0) {
        sync_answer(waiting, 0, 0);
        return;
    }
    KVE_STAT_ADD(link->super.stats->syncs, 1);
}

/* the adapter is about to write what was queued this iteration: ROLE goes last */
static void before_flush(kve_redis_adapter_t *adapter)
{
    send_role(H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, adapter, adapter));
}

/* no flush came (the link is connecting or down): send or answer now */
static void on_sync_entry(h2o_timeout_entry_t *entry)
{
    send_role(H2O_STRUCT_FROM_MEMBER(kve_redis_link_t, sync_entry, entry));
}

/* a ROLE for `b` alone, right after its commands (kve_kv_redis_role_per_batch); 0, or -1 when it cannot be queued */
static int send_own_role(kve_redis_link_t *link, kve_kv_batch_t *b)
{
    static const char *const role[] = {"ROLE"};
    static const size_t role_len[] = {4};
    static const kve_kv_command_t role_cmd = {1, role, role_len};

    if (link->adapter.ac == NULL || queue(link, on_role_reply, b, &role_cmd) != 0)
        return -1; /* answered from the loop by the shared path */
    b->driver_next = NULL;
    KVE_STAT_ADD(link->super.stats->syncs, 1);
    return 0;
}

int kve_kv_redis_idle(kve_kv_t *kv)
{
    kve_redis_link_t *link = (void *)kv;
    return (link->adapter.ac == NULL || link->adapter.ac->replies.head == NULL) && link->num_streams == 0 && link->kill == NULL &&
           link->sync_waiting == NULL && KVE_STAT_GET(kv->stats->inflight) == 0 && link->ack == NULL;
}

void kve_kv_redis_role_per_batch(kve_kv_t *kv)
{
    ((kve_redis_link_t *)kv)->role_per_batch = 1;
}

static void link_sync(kve_kv_t *kv, kve_kv_batch_t *b)
{
    kve_redis_link_t *link = (void *)kv;
    if (link->role_per_batch && send_own_role(link, b) == 0)
        return;
    b->driver_next = link->sync_waiting;
    link->sync_waiting = b;
    /* the adapter's flush at the end of this iteration sends it (before_flush); without one coming (connecting),
     * an entry of our own does */
    if (!h2o_timeout_is_linked(&link->adapter.flush_entry) && !h2o_timeout_is_linked(&link->sync_entry))
        h2o_timeout_link(kv->loop, &link->flush_timeout, &link->sync_entry);
}

/*
 * A command, or a group of them, timed out: the breaker counts groups in a row without a reply on time. Not while a
 * script runs on the connection and its watchdog has not given up: the commands queued behind it wait for it (Redis
 * runs one command at a time per connection), so their timeouts say nothing about the store; dropping the link then
 * would fail the script's request with 503 and leave the script running with nobody to stop it. The script's own
 * timeout (kv.script_timeout) makes the watchdog kill it; once its kill is over (the script ended, or the attempts
 * failed), timeouts count again.
 */
static void link_on_timeout(kve_kv_t *kv)
{
    kve_redis_link_t *link = (void *)kv;
    char why[96];
    if (link->script_commands != 0 && (!link->script_expired || link->kill != NULL))
        return;
    if (++link->consecutive_timeouts < link->breaker_threshold || link->adapter.ac == NULL)
        return;
    snprintf(why, sizeof(why), "%llu commands timed out in a row (a request counts once)",
             (unsigned long long)link->consecutive_timeouts);
    link->consecutive_timeouts = 0;
    drop_link(link, why);
}

static void link_on_reply(kve_kv_t *kv)
{
    kve_redis_link_t *link = (void *)kv;
    link->consecutive_timeouts = 0;
    link->kill_attempts = 0;
}

/* a script's batch timed out: from now on, the breaker waits only for the watchdog's kill (link_on_timeout) */
static void link_kill_script(kve_kv_t *kv, int kind)
{
    kve_redis_link_t *link = (void *)kv;
    if (link->script_commands != 0)
        link->script_expired = 1;
    kve_redis__kill_script(kv, kind);
}

/* KVE_KV_BATCH_ACK: the batch's writes were answered; the waiter confirms them (kv_ack.h) */
static int link_ack(kve_kv_t *kv, kve_kv_batch_t *b)
{
    kve_redis_link_t *link = (void *)kv;
    if (link->ack_conf.min_replicas_ack == 0)
        return -1;
    if (link->ack == NULL)
        link->ack = kve_kv_ack_create(kv->loop, link->target, &link->ack_conf);
    kve_kv_ack_wait(link->ack, b);
    return 0;
}

static void link_destroy(kve_kv_t *kv)
{
    kve_redis_link_t *link = (void *)kv;
    if (link->ack != NULL) /* answers the batches waiting for their acknowledgement */
        kve_kv_ack_destroy(link->ack);
    link->ack = NULL;
    drop_link(link, "shutting down"); /* completes queued commands with KVE_ESHUTDOWN */
    if (h2o_timeout_is_linked(&link->sync_entry))
        h2o_timeout_unlink(&link->sync_entry);
    sync_answer(link->sync_waiting, 0, 0);
    link->sync_waiting = NULL;
    kve_redis__kill_dispose(link);
    KVE_ASSERT(link->num_streams == 0);
    if (h2o_timeout_is_linked(&link->tick_entry))
        h2o_timeout_unlink(&link->tick_entry);
    if (h2o_timeout_is_linked(&link->connect_entry))
        h2o_timeout_unlink(&link->connect_entry);
    h2o_timeout_dispose(kv->loop, &link->tick);
    h2o_timeout_dispose(kv->loop, &link->connect_timeout);
    h2o_timeout_dispose(kv->loop, &link->flush_timeout);
    kve_kv__dispose(kv);
    free(link);
    kve_redis_reply_release_thread(); /* the thread's last connection is gone */
}

static const kve_kv_driver_t redis_driver = {"redis",
                                             link_send,
                                             link_send_atomic,
                                             link_sync,
                                             link_on_timeout,
                                             link_on_reply,
                                             link_destroy,
                                             kve_redis__stream_open,
                                             kve_redis__stream_close,
                                             link_kill_script,
                                             .ack = link_ack};

kve_kv_t *kve_kv_redis_create(h2o_loop_t *loop, const kve_redis_target_t *target, const kve_redis_conf_t *conf,
                              kve_kv_stats_t *stats)
{
    kve_redis_link_t *link = kve_zalloc(sizeof(*link));

    kve_kv__init(&link->super, &redis_driver, loop, conf->command_timeout_ms);
    if (stats != NULL)
        kve_kv__use_stats(&link->super, stats);
    link->target = target;
    link->reconnect_max_ms = conf->reconnect_max_delay_ms; /* the configuration enforces >= 50 ms and >= 1 */
    link->breaker_threshold = (uint64_t)conf->breaker_threshold;
    if (conf->min_replicas_ack > 0) { /* the numbers only: the strings belong to the configuration */
        link->ack_conf = (kve_redis_conf_t){.url = (char *)"redis",
                                            .connect_timeout_ms = conf->connect_timeout_ms,
                                            .command_timeout_ms = conf->command_timeout_ms,
                                            .reconnect_max_delay_ms = conf->reconnect_max_delay_ms,
                                            .breaker_threshold = conf->breaker_threshold,
                                            .min_replicas_ack = conf->min_replicas_ack,
                                            .min_replicas_ack_timeout_ms = conf->min_replicas_ack_timeout_ms};
    }
    link->check_output_limit = strcmp(conf->url, "embedded") != 0 || conf->sentinel.master != NULL ||
                               conf->cluster.nodes.size != 0; /* kvedge sets the embedded one's */
    if (target->path != NULL)
        snprintf(link->super.peer, sizeof(link->super.peer), "unix:%s", target->path);
    else
        snprintf(link->super.peer, sizeof(link->super.peer), "%s:%d", target->host, target->port);
    if (target->username != NULL) /* two links (two users) per thread: say which */
        snprintf(link->super.peer + strlen(link->super.peer), sizeof(link->super.peer) - strlen(link->super.peer), " as %s",
                 target->username);
    if (target->store != NULL) /* several stores: say which */
        snprintf(link->super.peer + strlen(link->super.peer), sizeof(link->super.peer) - strlen(link->super.peer), " (store %s)",
                 target->store);
    h2o_timeout_init(loop, &link->tick, TICK_MS);
    link->tick_entry.cb = on_tick;
    h2o_timeout_init(loop, &link->connect_timeout, conf->connect_timeout_ms);
    link->connect_entry.cb = on_connect_timeout;
    h2o_timeout_init(loop, &link->flush_timeout, 0);
    link->adapter.flush_timeout = &link->flush_timeout;
    link->adapter.before_flush = before_flush;
    link->sync_entry.cb = on_sync_entry;
    start_connect(link);
    return &link->super;
}
