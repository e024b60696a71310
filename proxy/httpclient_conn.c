/* SPDX-License-Identifier: MIT */
/*
 * HTTP client connections: the per-thread keep-alive pool and the making of new connections (resolve,
 * connect, TLS handshake, all under the connect timeout). See httpclient_internal.h for the invariants.
 *
 * Idle sockets stay registered in the thread's loop and keep reading with a watcher: an idle
 * connection must not receive anything, so any event (the upstream's close, an error, stray bytes)
 * closes it at once, and a request never picks a connection the upstream has already given up.
 * Reuse is LIFO so surplus connections age out through the idle timeout.
 */
#include "proxy/httpclient_internal.h"
#include "proxy/common.h"
#include "proxy/err.h"

#include <netdb.h>
#include <sys/socket.h>
#include <stdio.h>

static void on_socket_close(void *data)
{
    kve_httpclient_t *client = data;
    KVE_ASSERT(client->num_sockets != 0);
    --client->num_sockets;
}

static void watch_socket(kve_httpclient_t *client, h2o_socket_t *sock)
{
    ++client->num_sockets;
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = client;
}

/* --- the pool --- */

static void unlink_idle(kve_httpclient__conn_t *conn)
{
    kve_httpclient_t *client = conn->client;
    h2o_linklist_unlink(&conn->link);
    --client->num_idle;
    if (h2o_timeout_is_linked(&conn->idle_entry))
        h2o_timeout_unlink(&conn->idle_entry);
}

void kve_httpclient__conn_close(kve_httpclient__conn_t *conn)
{
    if (h2o_linklist_is_linked(&conn->link))
        unlink_idle(conn);
    if (conn->client->closing) /* no TLS close_notify that could wait for the peer: the write fails at once */
        shutdown(h2o_socket_get_fd(conn->sock), SHUT_RDWR);
    h2o_socket_close(conn->sock); /* h2o frees it later (TLS: after close_notify); on_socket_close counts it */
    free(conn);
}

static void on_idle_event(h2o_socket_t *sock, const char *err)
{
    kve_httpclient__conn_close(sock->data); /* closed by the upstream, or bytes nobody asked for */
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    kve_httpclient__conn_close(H2O_STRUCT_FROM_MEMBER(kve_httpclient__conn_t, idle_entry, entry));
}

kve_httpclient__conn_t *kve_httpclient__conn_take_idle(kve_httpclient_t *client)
{
    kve_httpclient__conn_t *conn;

    if (h2o_linklist_is_empty(&client->idle))
        return NULL;
    conn = H2O_STRUCT_FROM_MEMBER(kve_httpclient__conn_t, link, client->idle.next);
    unlink_idle(conn);
    return conn;
}

void kve_httpclient__conn_release(kve_httpclient__conn_t *conn)
{
    kve_httpclient_t *client = conn->client;
    const kve_httpclient_conf_t *conf = &client->up->conf;

    conn->req = NULL;
    if (client->closing || conf->idle_timeout_ms == 0 || conf->max_idle == 0 || conn->sock->input->size != 0) {
        kve_httpclient__conn_close(conn);
        return;
    }
    if (client->num_idle == conf->max_idle) /* make room: the oldest goes */
        kve_httpclient__conn_close(H2O_STRUCT_FROM_MEMBER(kve_httpclient__conn_t, link, client->idle.prev));
    h2o_linklist_insert(client->idle.next, &conn->link);
    ++client->num_idle;
    conn->idle_entry.cb = on_idle_timeout;
    h2o_timeout_link(client->loop, &client->idle_timeout, &conn->idle_entry);
    h2o_socket_read_start(conn->sock, on_idle_event);
}

/* --- new connections --- */

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    kve_httpclient_req_t *req = H2O_STRUCT_FROM_MEMBER(kve_httpclient_req_t, timer, entry);
    kve_httpclient__fail(req, KVE_EUPSTREAM_CONNECT_TIMEOUT, req->getaddr != NULL ? "resolving the host" : "connecting");
}

void kve_httpclient__connect_abort(kve_httpclient_req_t *req)
{
    if (req->getaddr != NULL) {
        h2o_hostinfo_getaddr_cancel(req->getaddr);
        req->getaddr = NULL;
    }
    if (req->connecting != NULL) {
        h2o_socket_close(req->connecting);
        req->connecting = NULL;
    }
}

static void on_ready(kve_httpclient_req_t *req, h2o_socket_t *sock)
{
    kve_httpclient__conn_t *conn = kve_zalloc(sizeof(*conn));

    req->connecting = NULL;
    conn->sock = sock;
    conn->client = req->client;
    sock->data = conn;
    req->conn = conn;
    conn->req = req;
    ++req->client->stats.connections;
    h2o_timeout_unlink(&req->timer);
    kve_httpclient__on_connected(req);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    kve_httpclient_req_t *req = sock->data;

    /*
     * h2o's own name check (TLS 1.2 only, h2o-notes §9) knows no IP entries. OpenSSL has already checked the
     * name or address (SSL_VERIFY_PEER with it in the context's X509_VERIFY_PARAM, tls_client.h): a mismatch
     * would have failed the handshake itself, so h2o's second opinion is ignored.
     */
    if (err != NULL && err != h2o_socket_error_ssl_cert_name_mismatch) {
        kve_httpclient__fail(req, KVE_EUPSTREAM_TLS, err); /* closes req->connecting */
        return;
    }
    on_ready(req, sock);
}

static void try_next_address(kve_httpclient_req_t *req, const char *last_err);

static void on_connect(h2o_socket_t *sock, const char *err)
{
    kve_httpclient_req_t *req = sock->data;

    if (err != NULL) {
        h2o_socket_close(sock);
        req->connecting = NULL;
        try_next_address(req, err);
        return;
    }
    if (req->client->up->is_tls) {
        h2o_socket_ssl_handshake(sock, req->client->up->ssl_ctx, req->client->up->server_name, on_handshake);
        return;
    }
    on_ready(req, sock);
}

/* connects to the next address (several when a name resolves to several); a refused one moves on */
static void try_next_address(kve_httpclient_req_t *req, const char *last_err)
{
    while (req->next_addr != req->num_addrs) {
        size_t i = req->next_addr++;
        h2o_socket_t *sock = h2o_socket_connect(req->client->loop, (void *)&req->addrs[i], req->addrlens[i], on_connect);
        if (sock != NULL) {
            watch_socket(req->client, sock);
            sock->data = req;
            req->connecting = sock;
            return;
        }
        last_err = "connect failed";
    }
    /* from a socket callback or the resolver: no callback of the caller is on the stack */
    kve_httpclient__fail_deferred(req, KVE_EUPSTREAM_CONNECT, last_err);
}

static void on_resolved(h2o_hostinfo_getaddr_req_t *getaddr, const char *err, struct addrinfo *res, void *data)
{
    kve_httpclient_req_t *req = data;

    req->getaddr = NULL;
    if (err != NULL) {
        kve_httpclient__fail(req, KVE_EUPSTREAM_RESOLVE, err);
        return;
    }
    for (; res != NULL && req->num_addrs != KVE_HTTPCLIENT_MAX_ADDRS; res = res->ai_next) {
        if (res->ai_addrlen > sizeof(req->addrs[0]))
            continue;
        memcpy(&req->addrs[req->num_addrs], res->ai_addr, res->ai_addrlen);
        req->addrlens[req->num_addrs++] = res->ai_addrlen;
    }
    try_next_address(req, "no address");
}

void kve_httpclient__connect(kve_httpclient_req_t *req)
{
    kve_httpclient_t *client = req->client;
    kve_httpclient_upstream_t *up = client->up;
    char port[8];

    req->timer.cb = on_connect_timeout;
    h2o_timeout_link(client->loop, &client->connect_timeout, &req->timer);
    req->num_addrs = req->next_addr = 0;
    if (up->addrlen != 0) {
        memcpy(&req->addrs[0], &up->addr, up->addrlen);
        req->addrlens[0] = up->addrlen;
        req->num_addrs = 1;
        try_next_address(req, NULL);
        return;
    }
    snprintf(port, sizeof(port), "%u", (unsigned)up->port);
    req->getaddr =
        h2o_hostinfo_getaddr(client->resolver, h2o_iovec_init(up->host, strlen(up->host)), h2o_iovec_init(port, strlen(port)),
                             AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP, AI_ADDRCONFIG | AI_NUMERICSERV, on_resolved, req);
}
