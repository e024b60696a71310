/* SPDX-License-Identifier: MIT */
/*
 * Error codes of kvedge, one X-macro table (libuv UV_ERRNO_MAP). Functions return 0 or a negative
 * KVE_E* code; async callbacks receive the same `int err`. The table also fixes, in one place, the
 * HTTP status a handler answers with when the error reaches a client.
 *
 * The KV interface's kinds (proxy/kv.h): CONN, UNAVAIL, TIMEDOUT, PROTO, SHUTDOWN are the link's; AUTH (the store
 * refused kvedge's own credentials: a configuration problem, so 503 and not the client's 401), TOO_LARGE (a request
 * or reply the store or a driver refuses for its size), RATE_LIMITED (a store that meters requests, e.g. a KV REST
 * endpoint answering 429) are for every driver; ABORTED is an atomic batch that was not applied (a command failed to
 * queue: the client's error, 400) and NOTSENT a command of a batch the caller stopped (kve_kv_batch_stop). NOACK: a
 * batch's writes were applied on the primary but fewer replicas than min_replicas_ack confirmed them in time (kv_ack.h).
 */
#ifndef KVE_PROXY_ERR_H
#define KVE_PROXY_ERR_H

/* X(name, http status, message) */
#define KVE_ERRNO_MAP(X)                                                                                                           \
    X(CONN, 503, "kv store connection failed")                                                                                     \
    X(UNAVAIL, 503, "kv store unavailable")                                                                                        \
    X(TIMEDOUT, 504, "kv command timed out")                                                                                       \
    X(PROTO, 503, "kv store protocol error")                                                                                       \
    X(INVAL, 400, "invalid argument")                                                                                              \
    X(SHUTDOWN, 503, "server is shutting down")                                                                                    \
    X(AUTH, 503, "kv store refused the credentials")                                                                               \
    X(TOO_LARGE, 413, "kv request or reply too large for the store")                                                               \
    X(RATE_LIMITED, 429, "kv store rate limit exceeded")                                                                           \
    X(ABORTED, 400, "transaction discarded")                                                                                       \
    X(NOTSENT, 503, "kv command not sent")                                                                                         \
    X(NOTSUP, 501, "not supported by this kv store (subscribe and monitor streams need a Redis store)")                            \
    X(UPSTREAM_CONNECT, 502, "upstream connection failed")                                                                         \
    X(UPSTREAM_CONNECT_TIMEOUT, 504, "upstream connect timed out")                                                                 \
    X(UPSTREAM_IO_TIMEOUT, 504, "upstream I/O timed out")                                                                          \
    X(UPSTREAM_DEADLINE, 504, "upstream request deadline exceeded")                                                                \
    X(UPSTREAM_TLS, 502, "upstream TLS handshake or certificate verification failed")                                              \
    X(UPSTREAM_PROTO, 502, "upstream sent an invalid response")                                                                    \
    X(UPSTREAM_TOO_LARGE, 502, "upstream response head over the limits")                                                           \
    X(UPSTREAM_CLOSED, 502, "upstream closed the connection before the response was complete")                                     \
    X(UPSTREAM_IO, 502, "upstream I/O error")                                                                                      \
    X(UPSTREAM_BUSY, 503, "upstream busy: too many requests waiting")                                                              \
    X(UPSTREAM_RESOLVE, 502, "cannot resolve the upstream host")                                                                   \
    X(NOACK, 503, "write not acknowledged by enough replicas (may still be on the primary: not rolled back)")

enum {
    KVE_OK = 0,
    KVE_E__BASE = -1000,
#define KVE_ERR_ENUM(name, status, msg) KVE_E##name,
    KVE_ERRNO_MAP(KVE_ERR_ENUM)
#undef KVE_ERR_ENUM
        KVE_E__END
};

/** Static message for an error code ("unknown error" for anything else). */
const char *kve_strerror(int err);
/** HTTP status a client sees for an error code (500 for anything unknown). */
int kve_err_http_status(int err);
/** The code's name without the KVE_E prefix ("UPSTREAM_IO_TIMEOUT"), "OK" for 0, "UNKNOWN" for anything else. */
const char *kve_err_name(int err);

#endif
