/* SPDX-License-Identifier: MIT */
/*
 * Internals of the HTTP client (httpclient.h), shared by its files: httpclient_upstream.c (configuration,
 * URL, TLS context), httpclient_conn.c (connections: pool, resolve, connect, handshake) and httpclient.c
 * (requests: queue, writing, reading, callbacks).
 *
 * Invariants: a connection (kve_httpclient__conn_t) is either idle (in client->idle, socket reading with
 * the idle watcher, `req` NULL) or attached to one request (`req` set, socket callbacks of the request).
 * A request holds a slot (counted in client->num_inflight, linked in client->active) from the moment it
 * leaves the queue until it releases its connection: at the final piece, an error or a cancellation.
 * Every socket the client opened is counted in client->num_sockets until h2o disposes it.
 */
#ifndef KVE_PROXY_HTTPCLIENT_INTERNAL_H
#define KVE_PROXY_HTTPCLIENT_INTERNAL_H

#include <sys/socket.h>
#include "proxy/httpclient.h"

#define KVE_HTTPCLIENT_MAX_ADDRS 4

struct st_kve_httpclient_upstream_t {
    kve_httpclient_conf_t conf; /* strings below are owned copies */
    /* host to connect to (NUL-terminated; no brackets), port, and the Host header value */
    char *host;
    uint16_t port;
    char *authority;
    int is_tls;
    /* the address when the host is a literal (IPv4, IPv6, unix socket); else resolved per connection */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *ssl_ctx;
    /* the name verified and sent as SNI */
    char *server_name;
};

typedef struct st_kve_httpclient__conn_t {
    h2o_linklist_t link; /* in client->idle while idle */
    h2o_socket_t *sock;
    kve_httpclient_t *client;
    kve_httpclient_req_t *req;
    h2o_timeout_entry_t idle_entry;
} kve_httpclient__conn_t;

struct st_kve_httpclient_t {
    h2o_loop_t *loop;
    h2o_multithread_receiver_t *resolver;
    kve_httpclient_upstream_t *up;
    h2o_linklist_t idle; /* most recently used first */
    size_t num_idle;
    h2o_linklist_t queue;
    size_t num_queued;
    h2o_linklist_t active;
    size_t num_inflight;
    size_t num_sockets;
    int closing;
    h2o_timeout_t connect_timeout, io_timeout, deadline_timeout, idle_timeout, zero_timeout;
    kve_httpclient_stats_t stats;
};

enum {
    KVE_HTTPCLIENT_QUEUED,
    KVE_HTTPCLIENT_CONNECTING, /* resolving, connecting or in the TLS handshake */
    KVE_HTTPCLIENT_EXCHANGE,   /* connected: sending the request, receiving the response */
    KVE_HTTPCLIENT_DONE,       /* final piece delivered; the connection is released */
};

struct st_kve_httpclient_req_t {
    kve_httpclient_t *client;
    const kve_httpclient_callbacks_t *cb;
    void *data;
    h2o_linklist_t link; /* client->queue or client->active */
    int state;
    kve_httpclient__conn_t *conn;
    /* connecting */
    h2o_hostinfo_getaddr_req_t *getaddr;
    struct sockaddr_storage addrs[KVE_HTTPCLIENT_MAX_ADDRS];
    socklen_t addrlens[KVE_HTTPCLIENT_MAX_ADDRS];
    size_t num_addrs, next_addr;
    h2o_socket_t *connecting; /* the socket before it is a connection */
    /* timers: connect or I/O (one at a time), the deadline, deferred work */
    h2o_timeout_entry_t timer;
    h2o_timeout_entry_t deadline;
    h2o_timeout_entry_t deferred;
    int deferred_err;
    const char *deferred_detail;
    /* request */
    kve_buf_t head;
    h2o_iovec_t inline_body;
    uint64_t body_size;
    uint64_t body_given; /* streamed bytes handed over by the caller */
    h2o_iovec_t piece[KVE_HTTPCLIENT_MAX_WRITE_BUFS];
    size_t piece_cnt;
    char chunk_head[20];
    /* response */
    kve_http1_body_t body;
    kve_http1_chunked_t chunked;
    uint64_t body_left;
    size_t held;              /* bytes at the front of the socket's input the caller holds */
    h2o_buffer_t *final_buf;  /* the input detached with the final piece */
    unsigned head_sent : 1;   /* the request head has been handed to the socket */
    unsigned piece_ready : 1; /* piece[] holds a write not sent yet */
    unsigned piece_sent : 1;  /* piece[] is being written */
    unsigned body_final : 1;  /* the caller has given its last piece */
    unsigned sent_all : 1;    /* the whole request is written */
    unsigned writing : 1;
    unsigned got_head : 1;
    unsigned got_bytes : 1; /* some response byte arrived on this connection */
    unsigned reused : 1;    /* the connection came from the pool */
    unsigned retry_safe : 1;
    unsigned retried : 1;
    unsigned new_connection : 1; /* never an idle connection from the pool */
    unsigned is_head : 1;        /* HEAD request: no body in the response */
    unsigned in_callback : 1;
    unsigned cancelled : 1;    /* cancelled from inside a callback */
    unsigned proceeded : 1;    /* proceed called from inside on_body */
    unsigned deadline_hit : 1; /* the deadline passed while the caller held a piece: failed at its proceed */
};

/* --- httpclient_conn.c --- */

/** Takes an idle connection (NULL if none); the caller attaches it to a request. */
kve_httpclient__conn_t *kve_httpclient__conn_take_idle(kve_httpclient_t *client);
/** Puts a connection whose response is complete back in the pool (or closes it: pool full, no keep-alive). */
void kve_httpclient__conn_release(kve_httpclient__conn_t *conn);
/** Closes a connection (idle or attached) and frees it. */
void kve_httpclient__conn_close(kve_httpclient__conn_t *conn);
/** Starts connecting `req` (resolve, connect, handshake); ends in kve_httpclient__on_connected or __fail. */
void kve_httpclient__connect(kve_httpclient_req_t *req);
/** Abandons a connection attempt in progress (getaddr, socket, timer). */
void kve_httpclient__connect_abort(kve_httpclient_req_t *req);

/* --- httpclient.c --- */

/** `req` has a connection (`req->conn` set): send the request. */
void kve_httpclient__on_connected(kve_httpclient_req_t *req);
/** Ends `req` with an error (callback unless cancelled); frees it. Not from inside its own callbacks. */
void kve_httpclient__fail(kve_httpclient_req_t *req, int err, const char *detail);
/** Fails `req` from the loop's next turn (for failures found inside a call made by the caller). */
void kve_httpclient__fail_deferred(kve_httpclient_req_t *req, int err, const char *detail);

#endif
