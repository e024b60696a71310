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
 *
 * Reload: the caller creates a second server (a generation) with the new configuration, taking over the listening
 * sockets of the addresses both have (kve_server_create's `predecessor`), starts it, then stops the old one with the
 * new one as its successor. The old workers stop accepting (the new ones already accept on the same sockets, so no
 * connection waits or is refused), send GOAWAY on HTTP/2 connections, and hand every HTTP/1 connection that waits for
 * its next request to a worker of the successor (kve_h2o_http1_detach: the client keeps its connection, TLS
 * included, and its next request runs on the new configuration), connections with a request in flight as soon as
 * that request is answered. A worker that receives connections from a predecessor does not end its own drain until
 * that predecessor has been joined (kve_server_predecessor_done) and every connection on its way has arrived.
 */
#include "proxy/server.h"
#include "h2o/http1.h"
#include "proxy/common.h"
#include "proxy/h1read.h"
#include "proxy/h2o_private.h"
#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/park.h"
#include "proxy/pending.h"
#include "proxy/streams.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define SWEEP_MS 100
#define FORCED_CLOSE_GRACE_MS 5000
#define STOP_WAIT_MS 2000

typedef struct st_worker_t worker_t;

struct st_worker_listener_t {
    h2o_socket_t *sock;
    h2o_accept_ctx_t accept_ctx;
    worker_t *worker;
    int group;
};

struct st_conn_t {
    kve_pending_conn_t pending; /* first: the socket's on_close.data points here (pending.h) */
    h2o_linklist_t link;
    h2o_socket_t *sock;
    worker_t *worker;
    /** the listener group it came in on (which set of paths serves it, kept when it moves to a successor) */
    int group;
    struct timeval connected_at;
};

/** An idle HTTP/1 connection on its way to a successor's worker (kve_h2o_http1_detach). */
typedef struct st_migrant_t {
    h2o_multithread_message_t super; /* first: the message converts back */
    h2o_socket_export_t info;
    int group;
    struct timeval connected_at;
} migrant_t;

struct st_worker_t {
    kve_thread_t super; /* first: h2o_context_t converts to it */
    pthread_t tid;
    struct st_worker_listener_t *listeners;
    h2o_linklist_t conns;
    size_t num_conns;
    int stopping;
    int paused;
    h2o_multithread_receiver_t notify;
    /** connections handed over by a predecessor's workers (migrant_t) */
    h2o_multithread_receiver_t adopt;
    /** for those connections, per listener group: this worker's context and the group's hosts */
    h2o_accept_ctx_t adopt_ctx[KVE_SERVER_MAX_GROUPS];
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
    int stop; /* atomic */
    /** where idle connections go when this server drains (set with `stop`; NULL: a plain stop) */
    kve_server_t *successor;
    /** 1 while a predecessor may still hand connections over (atomic; cleared by kve_server_predecessor_done) */
    int predecessor_alive;
    /** connections sent to this server's workers and not yet taken in (atomic) */
    size_t inbound;
    /** workers that have returned (atomic) */
    size_t num_exited;
    /** workers that have closed their listening sockets after a stop (atomic) */
    size_t num_unlistened;
    kve_pending_t pending;
    h2o_barrier_t startup;
    const kve_server_hooks_t *hooks;
};

/* --- accepting and connection accounting --- */

/* every client connection of the process, whichever server (generation) serves it: limits.max_connections holds
 * across a reload */
static size_t num_connections;

static void on_accept(h2o_socket_t *listener, const char *err);

static int over_limit(kve_server_t *s)
{
    return __atomic_load_n(&num_connections, __ATOMIC_RELAXED) >= (size_t)s->conf->limits.max_connections;
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
    kve_streams_conn_closed(&conn->pending);
    h2o_linklist_unlink(&conn->link);
    --w->num_conns;
    __atomic_fetch_sub(&num_connections, 1, __ATOMIC_RELAXED);
    free(conn);
}

/* the worker's record of a connection it serves (counted in num_connections by the caller) */
static struct st_conn_t *track_conn(worker_t *w, h2o_socket_t *sock, int group, struct timeval connected_at)
{
    struct st_conn_t *conn = kve_zalloc(sizeof(*conn));
    kve_pending_conn_init(&conn->pending, &w->pending, sock);
    conn->sock = sock;
    conn->worker = w;
    conn->group = group;
    conn->connected_at = connected_at;
    h2o_linklist_insert(&w->conns, &conn->link);
    ++w->num_conns;
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = conn;
    return conn;
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
        if (over_limit(s)) {
            update_listeners(w);
            break;
        }
        if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
            break;
        __atomic_fetch_add(&num_connections, 1, __ATOMIC_RELAXED);
        track_conn(w, sock, wl->group, *h2o_get_timestamp(&w->super.ctx, NULL, NULL));
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
        wl->group = s->conf->listen.entries[i].group;
        wl->accept_ctx.ctx = &w->super.ctx;
        wl->accept_ctx.hosts = s->hosts[wl->group];
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

/* --- handing connections to a successor (reload) --- */

/* the successor's worker that takes this worker's connections */
static worker_t *heir_of(worker_t *w)
{
    kve_server_t *to = w->super.server->successor;
    return to->workers + w->super.index % to->num_threads;
}

static void send_migrant(worker_t *heir, migrant_t *m)
{
    __atomic_fetch_add(&heir->super.server->inbound, 1, __ATOMIC_ACQ_REL);
    h2o_multithread_send_message(&heir->adopt, &m->super);
}

/* an HTTP/1 connection waiting for its next request, read by h2o's reader (through the hook of h1read.h) */
static int is_movable(h2o_socket_t *sock)
{
    return kve_h1read_is_hooked(sock) && kve_h2o_http1_awaits_request(sock) && !kve_is_parked(sock);
}

/* hands every idle HTTP/1 connection to the successor; the others follow once their request is answered */
static void migrate_idle(worker_t *w)
{
    h2o_linklist_t *node, *next;

    for (node = w->conns.next; node != &w->conns; node = next) {
        struct st_conn_t *conn = H2O_STRUCT_FROM_MEMBER(struct st_conn_t, link, node);
        migrant_t *m;
        next = node->next;
        if (!is_movable(conn->sock))
            continue;
        m = kve_zalloc(sizeof(*m));
        m->group = conn->group;
        m->connected_at = conn->connected_at;
        /* closes h2o's side: on_conn_close frees `conn` (and only it: `next` stays valid) */
        if (kve_h2o_http1_detach(conn->sock, w->super.ctx.loop, &m->info) != 0) {
            free(m);
            continue;
        }
        __atomic_fetch_add(&num_connections, 1, __ATOMIC_RELAXED); /* counted again until the heir takes it */
        send_migrant(heir_of(w), m);
    }
}

/* takes in connections a predecessor's worker handed over; a worker that is itself draining passes them on */
static void on_adopt(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, adopt, receiver);
    kve_server_t *s = w->super.server;

    while (!h2o_linklist_is_empty(messages)) {
        migrant_t *m = H2O_STRUCT_FROM_MEMBER(migrant_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (w->stopping && s->successor != NULL) {
            send_migrant(heir_of(w), m);
        } else if (w->stopping || s->hosts[m->group][0] == NULL) { /* a plain stop, or its paths are gone: close it */
            h2o_socket_dispose_export(&m->info);
            __atomic_fetch_sub(&num_connections, 1, __ATOMIC_RELAXED);
            free(m);
        } else {
            h2o_socket_t *sock = h2o_socket_import(w->super.ctx.loop, &m->info);
            track_conn(w, sock, m->group, m->connected_at);
            h2o_http1_accept(&w->adopt_ctx[m->group], sock, m->connected_at);
            free(m);
        }
        __atomic_fetch_sub(&s->inbound, 1, __ATOMIC_ACQ_REL);
    }
}

/* whether connections may still arrive from a predecessor */
static int expects_migrants(kve_server_t *s)
{
    return __atomic_load_n(&s->predecessor_alive, __ATOMIC_ACQUIRE) || __atomic_load_n(&s->inbound, __ATOMIC_ACQUIRE) != 0;
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

/*
 * Runs the loop until the connections are gone or `deadline`. Idle HTTP/1 connections move to the successor when
 * there is one (checked after each turn of the loop: a response completes within a turn, and the client's next
 * request can only come in a later one), else they are closed when `close_idle`.
 */
static void run_until_closed(worker_t *w, uint64_t deadline, int close_idle)
{
    h2o_loop_t *loop = w->super.ctx.loop;
    kve_server_t *s = w->super.server;
    while ((w->num_conns != 0 || expects_migrants(s)) && h2o_now(loop) < deadline) {
        if (s->successor != NULL)
            migrate_idle(w);
        else if (close_idle)
            shutdown_conns(w, 1);
        if (w->num_conns == 0 && !expects_migrants(s))
            break;
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

/* connections still on their way from a predecessor (it has its own deadline): taken in and closed, or passed on */
static void await_migrants(worker_t *w)
{
    h2o_loop_t *loop = w->super.ctx.loop;
    while (expects_migrants(w->super.server)) {
        h2o_evloop_run(loop, 10);
        if (w->num_conns != 0)
            force_close(w);
    }
}

static void drain(worker_t *w)
{
    kve_server_t *s = w->super.server;
    h2o_loop_t *loop = w->super.ctx.loop;

    close_worker_listeners(w);
    __atomic_fetch_add(&s->num_unlistened, 1, __ATOMIC_RELEASE);
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
    await_migrants(w);
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

static void init_adopt_ctx(worker_t *w)
{
    kve_server_t *s = w->super.server;
    for (int g = 0; g != KVE_SERVER_MAX_GROUPS; ++g) {
        w->adopt_ctx[g].ctx = &w->super.ctx;
        w->adopt_ctx[g].hosts = s->hosts[g];
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    kve_server_t *s = w->super.server;

    h2o_context_init(&w->super.ctx, h2o_evloop_create(), &s->globalconf);
    h2o_multithread_register_receiver(w->super.ctx.queue, &w->notify, on_notify);
    h2o_multithread_register_receiver(w->super.ctx.queue, &w->adopt, on_adopt);
    init_adopt_ctx(w);
    h2o_timeout_init(w->super.ctx.loop, &w->sweep, SWEEP_MS);
    w->sweep_entry.cb = on_sweep;
    h2o_timeout_link(w->super.ctx.loop, &w->sweep, &w->sweep_entry);
    open_worker_listeners(w);
    kve_metrics_thread_attach(&w->metrics);
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
    h2o_multithread_unregister_receiver(w->super.ctx.queue, &w->adopt);
    h2o_multithread_unregister_receiver(w->super.ctx.queue, &w->notify);
    kve_h2o_context_dispose(&w->super.ctx);
    kve_h2o_release_thread_buffers();
    kve_metrics_thread_detach(&w->metrics);
    __atomic_fetch_add(&s->num_exited, 1, __ATOMIC_RELEASE);
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

/* the signals the main thread takes */
static void main_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGCHLD);
}

void kve_server_block_signals(void)
{
    sigset_t set;
    signal(SIGPIPE, SIG_IGN);
    main_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* taken with sigtimedwait by the main thread only */
}

int kve_server_wait_signal(uint64_t wait_ms)
{
    sigset_t set;
    siginfo_t info;
    struct timespec ts = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000};
    int sig;

    main_signals(&set);
    sig = sigtimedwait(&set, &info, &ts);
    return sig > 0 ? sig : 0;
}

void kve_server_start(kve_server_t *s, const kve_server_hooks_t *hooks)
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
}

void kve_server_stop(kve_server_t *s, kve_server_t *successor)
{
    /* the listening sockets: a successor has its own copies of those it kept; the others (an address the new
     * configuration dropped) close as soon as the workers have closed theirs, so a client is refused rather than left
     * waiting in a backlog nobody accepts from. The TLS contexts stay until destroy: a worker may still be accepting. */
    for (size_t i = 0; i != s->num_listeners; ++i) {
        if (s->listeners[i].fd != -1)
            close(s->listeners[i].fd);
        s->listeners[i].fd = -1;
    }
    s->successor = successor;
    notify_workers(s);
    /* until every worker has closed its copies, a dropped address still accepts (on the old configuration): wait for
     * that, so that once this returns the old configuration takes no new connection (a worker answers its mail within a
     * turn of its loop; the bound only matters for one stuck in a long callback) */
    for (int i = 0; i != STOP_WAIT_MS && __atomic_load_n(&s->num_unlistened, __ATOMIC_ACQUIRE) != s->num_threads; ++i)
        usleep(1000);
}

int kve_server_stopped(const kve_server_t *s)
{
    return __atomic_load_n(&s->num_exited, __ATOMIC_ACQUIRE) == s->num_threads;
}

void kve_server_join(kve_server_t *s)
{
    for (size_t i = 0; i != s->num_threads; ++i)
        pthread_join(s->workers[i].tid, NULL);
}

void kve_server_predecessor_done(kve_server_t *s)
{
    __atomic_store_n(&s->predecessor_alive, 0, __ATOMIC_RELEASE);
}

int kve_server_run(kve_server_t *s, const kve_server_hooks_t *hooks)
{
    int sig;

    kve_server_start(s, hooks);
    kve_log(KVE_LOG_INFO, "server", "serving with %zu threads", s->num_threads);
    while ((sig = kve_server_wait_signal(SWEEP_MS)) != SIGTERM && sig != SIGINT)
        ;
    kve_server_stop(s, NULL);
    kve_server_join(s);
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
    if (ret == 0) /* the proxy's backpressure: body readers are recognised in the guard's wrapper of on_head */
        kve_h2o_proxy_backpressure((size_t)s->conf->limits.max_proxy_buffer);
    kve_h2o_context_dispose(&ctx);
    h2o_evloop_destroy(loop);
    return ret;
}

/* the listening socket `predecessor` has for the address of `lc` (-1: none) */
static int inherited_fd(const kve_server_t *predecessor, const kve_listen_conf_t *lc)
{
    for (size_t i = 0; predecessor != NULL && i != predecessor->num_listeners; ++i) {
        const kve_listen_conf_t *old = predecessor->conf->listen.entries + i;
        if (old->port == lc->port && strcmp(old->host, lc->host) == 0)
            return predecessor->listeners[i].fd;
    }
    return -1;
}

static int open_listener(kve_server_t *s, const kve_server_t *predecessor, size_t i, char *err, size_t errlen)
{
    const kve_listen_conf_t *lc = s->conf->listen.entries + i;
    int fd = inherited_fd(predecessor, lc);
    if (fd != -1)
        return kve_listener_adopt(s->listeners + i, lc, s->conf->http2, fd, err, errlen);
    return kve_listener_open(s->listeners + i, lc, s->conf->http2, err, errlen);
}

kve_server_t *kve_server_create(const kve_server_conf_t *conf, const kve_server_t *predecessor, char *err, size_t errlen)
{
    kve_server_t *s = kve_zalloc(sizeof(*s));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    s->conf = conf;
    s->num_threads = conf->threads > 0 ? (size_t)conf->threads : (size_t)(ncpu > 0 ? ncpu : 1);
    s->predecessor_alive = predecessor != NULL;
    s->listeners = kve_zalloc(sizeof(*s->listeners) * KVE_MAX(conf->listen.size, 1));
    for (; s->num_listeners != conf->listen.size; ++s->num_listeners) {
        if (open_listener(s, predecessor, s->num_listeners, err, errlen) != 0)
            goto Error;
    }
    s->workers = kve_zalloc(sizeof(*s->workers) * s->num_threads);
    init_globalconf(s);
    kve_pending_init(&s->pending, conf->limits.max_pending_size, s->num_threads);
    /* the read hook also tells idle HTTP/1 connections apart for the reload (migrate_idle), so it is always on */
    if (check_read_hook(s, err, errlen) != 0) {
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
    (void)s;
    return __atomic_load_n(&num_connections, __ATOMIC_RELAXED);
}
