/* SPDX-License-Identifier: MIT */
/*
 * /readyz across threads (see readyz.h). One check per request, shared by reference count: the request holds one
 * reference (dropped when its pool goes) and each mail holds one until it is back on the request's thread or
 * dropped because that thread is stopping. Everything but the counter is touched on the request's thread only;
 * a mail's PINGs and failures are touched only on the thread that holds the mail.
 */
#include "handlers/readyz.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/server.h"
#include "proxy/stores.h"

#include <stdio.h>
#include <string.h>

#define CHECK_MAGIC 0x7264796b
#define MAIL_MAGIC 0x7264796d

/* the links that failed on one thread or overall, and the first of them: lowest (thread, store, read-only) */
struct st_failure_t {
    size_t count;
    size_t thread, store;
    int ro;
    /** the store's name (borrowed from the configuration); NULL: the whole thread failed (it is stopping) */
    const char *store_name;
    char why[128];
};

struct st_check_t {
    uint32_t magic;
    /** the request's reference and one per mail not back yet (atomic) */
    size_t refs;
    /* the rest: the request's thread only */
    h2o_req_t *req; /* NULL once the request is gone */
    kve_thread_t *origin;
    size_t outstanding;
    struct st_failure_t failure;
};

struct st_mail_t;

struct st_ping_t {
    struct st_mail_t *mail;
    kve_kv_batch_t *cmd;
    size_t store;
    int ro;
    /** the store's name (borrowed from the configuration) */
    const char *name;
};

/* one worker's part: goes there, PINGs its links, comes back */
struct st_mail_t {
    kve_mail_t super;
    uint32_t magic;
    struct st_check_t *check;
    size_t thread;
    uint64_t timeout_ms;
    size_t pending;
    struct st_failure_t failure;
    struct st_ping_t pings[2 * KVE_STORES_MAX];
};

static void release(struct st_check_t *check)
{
    if (__atomic_sub_fetch(&check->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        check->magic = 0;
        free(check);
    }
}

static int comes_first(const struct st_failure_t *a, size_t thread, size_t store, int ro)
{
    if (a->thread != thread)
        return thread < a->thread;
    return store != a->store ? store < a->store : ro < a->ro;
}

/* counts a failed link into `f`, keeping it if it is the first */
static void add_failure(struct st_failure_t *f, size_t thread, size_t store, int ro, const char *name, const char *why)
{
    if (f->count++ == 0 || comes_first(f, thread, store, ro)) {
        f->thread = thread, f->store = store, f->ro = ro, f->store_name = name;
        snprintf(f->why, sizeof(f->why), "%s", why);
    }
}

static void respond(h2o_req_t *req, int status, const char *reason, const char *body, size_t len)
{
    static const char content_type[] = "text/plain; charset=utf-8";
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

static void finish(struct st_check_t *check)
{
    const struct st_failure_t *f = &check->failure;
    char body[512], more[64] = "";
    int n;

    if (f->count == 0) {
        respond(check->req, 200, "OK", H2O_STRLIT("ready\n"));
        return;
    }
    if (f->count > 1)
        snprintf(more, sizeof(more), "; %zu more link%s not ready", f->count - 1, f->count == 2 ? "" : "s");
    if (f->store_name != NULL)
        n = snprintf(body, sizeof(body), "not ready: store %s%s, thread %zu: %s%s\n", f->store_name,
                     f->ro ? " (read-only user)" : "", f->thread, f->why, more);
    else
        n = snprintf(body, sizeof(body), "not ready: thread %zu: %s%s\n", f->thread, f->why, more);
    n = KVE_MIN(n, (int)sizeof(body) - 1);
    respond(check->req, 503, "Service Unavailable", h2o_strdup(&check->req->pool, body, (size_t)n).base, (size_t)n);
}

/* on the request's thread: a mail is back */
static void on_result(kve_mail_t *_mail, void *owner, int closing)
{
    struct st_mail_t *mail = H2O_STRUCT_FROM_MEMBER(struct st_mail_t, super, _mail);
    struct st_check_t *check = mail->check;
    const struct st_failure_t *f = &mail->failure;

    KVE_CHECK_OBJ(mail, MAIL_MAGIC);
    KVE_CHECK_OBJ(check, CHECK_MAGIC);
    if (f->count != 0) {
        size_t others = f->count - 1;
        add_failure(&check->failure, f->thread, f->store, f->ro, f->store_name, f->why);
        check->failure.count += others;
    }
    if (--check->outstanding == 0 && check->req != NULL)
        finish(check);
    mail->magic = 0;
    free(mail);
    release(check);
}

/* on the worker: sends the mail back to the request's thread, or drops it when that thread is stopping */
static void send_back(struct st_mail_t *mail)
{
    struct st_check_t *check = mail->check;

    mail->super.on_deliver = on_result;
    if (kve_mailbox_post(&check->origin->mailbox, &mail->super) == 0)
        return;
    mail->magic = 0;
    free(mail);
    release(check);
}

static void on_pong(void *data, size_t index, int err, const kve_kv_reply_t *reply)
{
    struct st_ping_t *ping = data;
    struct st_mail_t *mail = ping->mail;
    const char *why = NULL;

    KVE_CHECK_OBJ(mail, MAIL_MAGIC);
    ping->cmd = NULL;
    if (err != 0)
        why = kve_strerror(err);
    /* a KV REST store cannot tell a status reply from a string (JSON has strings only): either is PONG */
    else if (!((reply->type == KVE_REPLY_STATUS || reply->type == KVE_REPLY_STRING) && reply->len == 4 &&
               memcmp(reply->str, "PONG", 4) == 0))
        why = reply->type == KVE_REPLY_ERROR ? reply->str : "unexpected reply";
    if (why != NULL)
        add_failure(&mail->failure, mail->thread, ping->store, ping->ro, ping->name, why);
    if (--mail->pending == 0)
        send_back(mail);
}

/* PINGs one link (NULL: none, a failure at once) */
static void ping_link(struct st_mail_t *mail, kve_kv_t *kv, size_t store, int ro, const char *name)
{
    static const char *const argv[] = {"PING"};
    static const size_t argvlen[] = {4};
    kve_kv_batch_opts_t opts = {mail->timeout_ms};
    struct st_ping_t *ping = mail->pings + (2 * store + ro);
    int err = KVE_EUNAVAIL;

    *ping = (struct st_ping_t){mail, NULL, store, ro, name};
    if (kv != NULL && (ping->cmd = kve_kv_call(kv, 1, argv, argvlen, &opts, on_pong, ping, &err)) != NULL)
        ++mail->pending;
    else
        add_failure(&mail->failure, mail->thread, store, ro, name, kve_strerror(err));
}

/* on the worker: PINGs each link of each store, then (once all answered) sends the mail back */
static void on_ping_request(kve_mail_t *_mail, void *owner, int closing)
{
    struct st_mail_t *mail = H2O_STRUCT_FROM_MEMBER(struct st_mail_t, super, _mail);
    kve_thread_t *thread = owner;

    KVE_CHECK_OBJ(mail, MAIL_MAGIC);
    if (closing) { /* its links are about to go: nothing would answer */
        add_failure(&mail->failure, mail->thread, 0, 0, NULL, "the thread is stopping");
        send_back(mail);
        return;
    }
    mail->pending = 1; /* held while sending, so the last answer cannot send the mail back early */
    for (size_t i = 0; i != thread->num_stores && i != KVE_STORES_MAX; ++i) {
        const kve_thread_store_t *s = thread->stores + i;
        kve_kv_t *rw = __atomic_load_n(&s->rw, __ATOMIC_ACQUIRE), *ro = __atomic_load_n(&s->ro, __ATOMIC_ACQUIRE);
        ping_link(mail, rw, i, 0, s->name);
        if (ro != NULL)
            ping_link(mail, ro, i, 1, s->name);
    }
    if (--mail->pending == 0)
        send_back(mail);
}

static void on_req_dispose(void *p)
{
    struct st_check_t *check = *(struct st_check_t **)p;
    check->req = NULL;
    release(check);
}

void kve_readyz_serve(h2o_req_t *req, uint64_t timeout_ms)
{
    kve_thread_t *thread = kve_server_thread(req->conn->ctx);
    size_t i, n = kve_server_num_threads(thread->server);
    struct st_check_t *check = kve_zalloc(sizeof(*check)), **ref;

    *check = (struct st_check_t){CHECK_MAGIC, 1 + n, req, thread, n};
    ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_req_dispose);
    *ref = check;
    for (i = 0; i != n; ++i) {
        struct st_mail_t *mail = kve_zalloc(sizeof(*mail));
        kve_thread_t *worker = kve_server_get_thread(thread->server, i);
        mail->magic = MAIL_MAGIC, mail->check = check, mail->thread = i, mail->timeout_ms = timeout_ms;
        mail->super.on_deliver = on_ping_request;
        if (kve_mailbox_post(&worker->mailbox, &mail->super) != 0) { /* that thread is stopping */
            add_failure(&mail->failure, i, 0, 0, NULL, "the thread is stopping");
            on_result(&mail->super, thread, 0);
        }
    }
}
