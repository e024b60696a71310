/* SPDX-License-Identifier: MIT */
/*
 * Error codes of kvedge, one X-macro table (libuv UV_ERRNO_MAP). Functions return 0 or a negative
 * KVE_E* code; async callbacks receive the same `int err`. The table also fixes, in one place, the
 * HTTP status a handler answers with when the error reaches a client.
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
    X(SHUTDOWN, 503, "server is shutting down")

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

#endif
