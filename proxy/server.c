/* SPDX-License-Identifier: MIT */
/*
 * Worker threads, accepting, connection accounting and the graceful stop (see server.h).
 *
 * Stop sequence: the main thread takes SIGTERM/SIGINT, sets `stop` and wakes every worker through its
 * h2o message queue. A worker closes its listeners, asks h2o to shut down (HTTP/2 GOAWAY; HTTP/1 answers
 * carry "Connection: close"), and waits for its connections to end, closing idle HTTP/1 keep-alive
 * connections as it goes (h2o 2.2.5 would otherwise keep them until their idle timeout). At the drain
 * deadline it shuts down the sockets still open, which makes h2o close them through its normal error
 * path. Then it runs its stop hook and disposes its context. The main thread joins the workers, disposes
 * the shared configuration while every loop still exists (the proxy's socket pool keeps a timer on the
 * first loop), then destroys the loops.
 *
 * Each connection record carries its charge in the budget of request bytes no handler has seen yet
 * (pending.h); the record is the socket's on_close.data, which the HTTP/1 read hook (h1read.h) relies on.
 * The sweep timer also makes a thread whose clients went quiet refuse its share of an excess.
 */
#include "proxy/server.h"
#include "proxy/common.h"
#include "proxy/h1read.h"
#include "proxy/h2o_private.h"
#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/notify.h"
#include "proxy/park.h"
#include "proxy/pending.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define SWEEP_MS 100
#define FORCED_CLOSE_GRACE_MS 5000

typedef struct st_worker_t worker_t;

struct st_worker_listener_t {
    h2o_socket_t *sock;
    h2o_accept_ctx_t accept_ctx;
    worker_t *worker;
};

struct st_conn_t {
    kve_pending_conn_t pending; /* first: the socket's on_close.data points here (pending.h) */
    h2o_linklist_t link;
    h2o_socket_t *sock;
    worker_t *worker;
};

struct st_worker_t {
    kve_thread_t super; /* first: h2o_context_t converts to it */
    pthread_t tid;
    struct st_worker_listener_t *listeners;
    h2o_linklist_t conns;
    size_t num_conns;
    int stopping;
    int paused;
    h2o_multithread_receiver_t notify;
    h2o_timeout_t sweep;
    h2o_timeout_entry_t sweep_entry;
    kve_metrics_thread_t metrics;
    kve_pending_thread_t pending;
};

struct st_kve_server_t {
    const kve_server_conf_t *conf;
    h2o_globalconf_t globalconf;
    /* per listener group, a NULL-terminated host list for h2o_accept_ctx_t */
    h2o_hostconf_t *hosts[KVE_SERVER_MAX_GROUPS][2];
    kve_listener_t *listeners;
    size_t num_listeners;
    worker_t *workers;
    size_t num_threads;
    size_t num_connections; /* atomic */
    int stop;               /* atomic */
    kve_pending_t pending;
    h2o_barrier_t startup;
    const kve_server_hooks_t *hooks;
    uint64_t (*tick)(void *data);
    void *tick_data;
};

/* --- accepting and connection accounting --- */

static void on_accept(h2o_socket_t *listener, const char *err);

static int over_limit(kve_server_t *s)
{
    return __atomic_load_n(&s->num_connections, __ATOMIC_RELAXED) >= (size_t)s->conf->limits.max_connections;
}

static void update_listeners(worker_t *w)
{
    kve_server_t *s = w->super.server;
    int pause = over_limit(s);
    size_t i;

    if (w->listeners == NULL || w->stopping || pause == w->paused)
        return;
    if (pause)
        kve_log(KVE_LOG_WARN, "server", "max_connections (%lld) reached; not accepting until a connection closes",
                (long long)s->conf->limits.max_connections);
    w->paused = pause;
    for (i = 0; i != s->num_listeners; ++i) {
        if (pause)
            h2o_socket_read_stop(w->listeners[i].sock);
        else
            h2o_socket_read_start(w->listeners[i].sock, on_accept);
    }
}

static void on_conn_close(void *data)
{
    struct st_conn_t *conn = data;
    worker_t *w = conn->worker;

    kve_pending_release(&conn->pending);
    h2o_linklist_unlink(&conn->link);
    --w->num_conns;
    __atomic_fetch_sub(&w->super.server->num_connections, 1, __ATOMIC_RELAXED);
    free(conn);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct st_worker_listener_t *wl = listener->data;
    worker_t *w = wl->worker;
    kve_server_t *s = w->super.server;
    size_t n;

    if (err != NULL)
        return;
    for (n = 0; n != 16 && !w->stopping; ++n) {
        h2o_socket_t *sock;
        struct st_conn_t *conn;
        if (over_limit(s)) {
            update_listeners(w);
            break;
        }
        if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
            break;
        __atomic_fetch_add(&s->num_connections, 1, __ATOMIC_RELAXED);
        conn = kve_zalloc(sizeof(*conn));
        kve_pending_conn_init(&conn->pending, &w->pending, sock);
        conn->sock = sock;
        conn->worker = w;
        h2o_linklist_insert(&w->conns, &conn->link);
        ++w->num_conns;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = conn;
        h2o_accept(&wl->accept_ctx, sock);
    }
}

static void on_sweep(h2o_timeout_entry_t *entry)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, sweep_entry, entry);
    update_listeners(w);
    kve_h1read_enforce(&w->pending);
    h2o_timeout_link(w->super.ctx.loop, &w->sweep, &w->sweep_entry);
}

static void open_worker_listeners(worker_t *w)
{
    kve_server_t *s = w->super.server;
    size_t i;

    w->listeners = kve_zalloc(sizeof(*w->listeners) * KVE_MAX(s->num_listeners, 1));
    for (i = 0; i != s->num_listeners; ++i) {
        struct st_worker_listener_t *wl = w->listeners + i;
        int fd = fcntl(s->listeners[i].fd, F_DUPFD_CLOEXEC, 0);
        KVE_ASSERT(fd != -1);
        wl->worker = w;
        wl->accept_ctx.ctx = &w->super.ctx;
        wl->accept_ctx.hosts = s->hosts[s->conf->listen.entries[i].group];
        wl->accept_ctx.ssl_ctx = s->listeners[i].ssl_ctx;
        wl->sock = h2o_evloop_socket_create(w->super.ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        wl->sock->data = wl;
    }
}

static void close_worker_listeners(worker_t *w)
{
    size_t i;
    if (w->listeners == NULL)
        return;
    for (i = 0; i != w->super.server->num_listeners; ++i)
        h2o_socket_close(w->listeners[i].sock);
    free(w->listeners);
    w->listeners = NULL;
}

/* --- draining --- */

/* an HTTP/1 connection waiting for its next request (h2o_private.h), and not parked by a handler (then a request is
 * in flight, see park.h) */
static int is_idle(h2o_socket_t *sock)
{
    return kve_h2o_http1_awaits_request(sock) && !kve_is_parked(sock);
}

static size_t shutdown_conns(worker_t *w, int idle_only)
{
    h2o_linklist_t *node;
    size_t n = 0;
    for (node = w->conns.next; node != &w->conns; node = node->next) {
        struct st_conn_t *conn = H2O_STRUCT_FROM_MEMBER(struct st_conn_t, link, node);
        if (idle_only && !is_idle(conn->sock))
            continue;
        /* h2o sees EOF or an error on its next read or write and closes the connection itself */
        shutdown(h2o_socket_get_fd(conn->sock), SHUT_RDWR);
        ++n;
    }
    return n;
}

static void run_until_closed(worker_t *w, uint64_t deadline, int close_idle)
{
    h2o_loop_t *loop = w->super.ctx.loop;
    while (w->num_conns != 0 && h2o_now(loop) < deadline) {
        if (close_idle)
            shutdown_conns(w, 1);
        h2o_evloop_run(loop, SWEEP_MS);
    }
}

static void force_close(worker_t *w)
{
    h2o_loop_t *loop = w->super.ctx.loop;
    uint64_t deadline = h2o_now(loop) + FORCED_CLOSE_GRACE_MS;

    kve_log(KVE_LOG_WARN, "server", "drain timeout (%llums): closing %zu connections with requests in flight",
            (unsigned long long)w->super.server->conf->limits.drain_timeout_ms, w->num_conns);
    shutdown_conns(w, 0);
    while (w->num_conns != 0 && h2o_now(loop) < deadline) {
        kve_h2o_loop_expire_timeouts(loop); /* each request in flight ends through its own timeout path */
        h2o_evloop_run(loop, 10);
    }
    if (w->num_conns != 0)
        kve_log(KVE_LOG_ERROR, "server", "%zu connections did not close after the drain", w->num_conns);
}

static void drain(worker_t *w)
{
    kve_server_t *s = w->super.server;
    h2o_loop_t *loop = w->super.ctx.loop;

    close_worker_listeners(w);
    h2o_timeout_unlink(&w->sweep_entry);
    h2o_context_request_shutdown(&w->super.ctx);
    while (!h2o_linklist_is_empty(&w->super.drain_watchers)) {
        kve_drain_watcher_t *watcher = H2O_STRUCT_FROM_MEMBER(kve_drain_watcher_t, link, w->super.drain_watchers.next);
        watcher->on_drain(watcher);
        KVE_ASSERT(!h2o_linklist_is_linked(&watcher->link));
    }
    /* with HTTP/2 enabled an idle-looking socket may carry streams in flight; GOAWAY handles those */
    run_until_closed(w, h2o_now(loop) + s->conf->limits.drain_timeout_ms, !s->conf->http2);
    if (w->num_conns != 0)
        force_close(w);
    kve_h2o_context_cancel_goaway_timer(&w->super.ctx); /* linked even without HTTP/2 connections */
}

/* --- worker threads --- */

static void on_notify(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, notify, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        free(msg);
    }
    w->stopping = __atomic_load_n(&w->super.server->stop, __ATOMIC_ACQUIRE);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    kve_server_t *s = w->super.server;

    h2o_context_init(&w->super.ctx, h2o_evloop_create(), &s->globalconf);
    h2o_multithread_register_receiver(w->super.ctx.queue, &w->notify, on_notify);
    h2o_timeout_init(w->super.ctx.loop, &w->sweep, SWEEP_MS);
    w->sweep_entry.cb = on_sweep;
    h2o_timeout_link(w->super.ctx.loop, &w->sweep, &w->sweep_entry);
    open_worker_listeners(w);
    if (s->hooks != NULL && s->hooks->on_thread_start != NULL)
        s->hooks->on_thread_start(&w->super, s->hooks->data);
    h2o_barrier_wait(&s->startup);
    for (size_t i = 0; i != s->num_listeners; ++i)
        h2o_socket_read_start(w->listeners[i].sock, on_accept);

    while (!w->stopping)
        h2o_evloop_run(w->super.ctx.loop, INT32_MAX);

    drain(w);
    if (s->hooks != NULL && s->hooks->on_thread_stop != NULL)
        s->hooks->on_thread_stop(&w->super, s->hooks->data);
    h2o_timeout_dispose(w->super.ctx.loop, &w->sweep);
    h2o_multithread_unregister_receiver(w->super.ctx.queue, &w->notify);
    kve_h2o_context_dispose(&w->super.ctx);
    kve_h2o_release_thread_buffers();
    return NULL;
}

/* --- the main thread --- */

static void notify_workers(kve_server_t *s)
{
    size_t i;
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    for (i = 0; i != s->num_threads; ++i) {
        h2o_multithread_message_t *msg = kve_zalloc(sizeof(*msg));
        h2o_multithread_send_message(&s->workers[i].notify, msg);
    }
}

static void wait_for_signals(kve_server_t *s, void (*on_reopen)(void *), void *reopen_data)
{
    sigset_t set;
    siginfo_t info;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        uint64_t wait_ms = s->tick != NULL ? KVE_MIN(s->tick(s->tick_data), (uint64_t)SWEEP_MS) : SWEEP_MS;
        struct timespec ts = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000};
        int sig = sigtimedwait(&set, &info, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            kve_log(KVE_LOG_INFO, "server", "received %s, draining connections (up to %llums)",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)s->conf->limits.drain_timeout_ms);
            break;
        } else if (sig == SIGHUP) {
            kve_log(KVE_LOG_INFO, "server", "received SIGHUP, reopening log files");
            if (on_reopen != NULL)
                on_reopen(reopen_data);
        }
    }
}

int kve_server_run(kve_server_t *s, const kve_server_hooks_t *hooks, void (*on_reopen)(void *), void *reopen_data)
{
    size_t i;

    s->hooks = hooks;
    h2o_barrier_init(&s->startup, s->num_threads + 1);
    for (i = 0; i != s->num_threads; ++i) {
        worker_t *w = s->workers + i;
        w->super.index = i;
        w->super.server = s;
        w->super.metrics = &w->metrics;
        kve_pending_thread_init(&w->pending, &s->pending);
        h2o_linklist_init_anchor(&w->conns);
        h2o_linklist_init_anchor(&w->super.drain_watchers);
        h2o_multithread_create_thread(&w->tid, NULL, worker_main, w);
    }
    h2o_barrier_wait(&s->startup);
    kve_log(KVE_LOG_INFO, "server", "serving with %zu threads", s->num_threads);
    kve_notify_ready("serving"); /* systemd Type=notify: listeners open, workers running */
    wait_for_signals(s, on_reopen, reopen_data);
    kve_notify_stopping(); /* the drain starts */
    notify_workers(s);
    for (i = 0; i != s->num_threads; ++i)
        pthread_join(s->workers[i].tid, NULL);
    return 0;
}

/* --- creation and destruction --- */

static void init_globalconf(kve_server_t *s)
{
    const kve_server_limits_t *l = &s->conf->limits;
    h2o_globalconf_t *g = &s->globalconf;

    h2o_config_init(g);
    g->server_name = h2o_iovec_init(H2O_STRLIT("kvedge"));
    g->max_request_entity_size = l->max_body_size;
    g->handshake_timeout = l->handshake_timeout_ms;
    g->http1.req_timeout = l->request_timeout_ms;
    g->http1.upgrade_to_http2 = s->conf->http2; /* off: no h2c upgrade, no prior knowledge */
    g->http2.idle_timeout = l->request_timeout_ms;
    g->http2.graceful_shutdown_timeout = l->drain_timeout_ms;
    s->hosts[0][0] = h2o_config_register_host(g, h2o_iovec_init(H2O_STRLIT("default")), 65535);
}

/* installs the HTTP/1 read hook of the pending-bytes budget, on a throwaway context (h1read.h) */
static int check_read_hook(kve_server_t *s, char *err, size_t errlen)
{
    h2o_context_t ctx;
    h2o_loop_t *loop = h2o_evloop_create();
    int ret;

    h2o_context_init(&ctx, loop, &s->globalconf);
    ret = kve_h1read_init(&ctx, err, errlen);
    if (ret == 0)
        ret = kve_h2o_http1client_guard(loop, err, errlen);
    kve_h2o_context_dispose(&ctx);
    h2o_evloop_destroy(loop);
    return ret;
}

kve_server_t *kve_server_create(const kve_server_conf_t *conf, char *err, size_t errlen)
{
    kve_server_t *s = kve_zalloc(sizeof(*s));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    s->conf = conf;
    s->num_threads = conf->threads > 0 ? (size_t)conf->threads : (size_t)(ncpu > 0 ? ncpu : 1);
    s->listeners = kve_zalloc(sizeof(*s->listeners) * KVE_MAX(conf->listen.size, 1));
    for (; s->num_listeners != conf->listen.size; ++s->num_listeners) {
        if (kve_listener_open(s->listeners + s->num_listeners, conf->listen.entries + s->num_listeners, conf->http2, err, errlen) !=
            0)
            goto Error;
    }
    s->workers = kve_zalloc(sizeof(*s->workers) * s->num_threads);
    init_globalconf(s);
    kve_pending_init(&s->pending, conf->limits.max_pending_size, s->num_threads);
    if (conf->limits.max_pending_size != 0 && check_read_hook(s, err, errlen) != 0) {
        h2o_config_dispose(&s->globalconf);
        free(s->workers);
        goto Error;
    }
    return s;
Error:
    while (s->num_listeners != 0)
        kve_listener_close(s->listeners + --s->num_listeners);
    free(s->listeners);
    free(s);
    return NULL;
}

void kve_server_destroy(kve_server_t *s)
{
    size_t i;

    if (s == NULL)
        return;
    /* handlers' dispose may touch loops (socket pool timer on the first loop): dispose before the loops */
    h2o_config_dispose(&s->globalconf);
    for (i = 0; i != s->num_threads; ++i)
        if (s->workers[i].super.ctx.loop != NULL)
            h2o_evloop_destroy(s->workers[i].super.ctx.loop);
    for (i = 0; i != s->num_listeners; ++i)
        kve_listener_close(s->listeners + i);
    free(s->listeners);
    free(s->workers);
    kve_h2o_release_thread_buffers();
    free(s);
}

h2o_hostconf_t *kve_server_hostconf(kve_server_t *s, int group)
{
    static const char *const names[KVE_SERVER_MAX_GROUPS] = {"default", "kv"};
    KVE_ASSERT(group >= 0 && group < KVE_SERVER_MAX_GROUPS);
    if (s->hosts[group][0] == NULL) /* a separate host: its listeners see only its paths */
        s->hosts[group][0] = h2o_config_register_host(&s->globalconf, h2o_iovec_init(names[group], strlen(names[group])), 65535);
    return s->hosts[group][0];
}

size_t kve_server_num_threads(const kve_server_t *s)
{
    return s->num_threads;
}

kve_thread_t *kve_server_get_thread(kve_server_t *s, size_t i)
{
    return &s->workers[i].super;
}

size_t kve_server_num_connections(const kve_server_t *s)
{
    return __atomic_load_n(&s->num_connections, __ATOMIC_RELAXED);
}

void kve_server_set_tick(kve_server_t *s, uint64_t (*tick)(void *data), void *data)
{
    s->tick = tick;
    s->tick_data = data;
}
