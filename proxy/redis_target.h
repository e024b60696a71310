/* SPDX-License-Identifier: MIT */
/*
 * Where the Redis link connects: the `redis:` configuration and its URL, resolved once at startup into a
 * target (unix socket path, or numeric host and port, database, credentials). Parsing is pure and
 * unit-tested; resolution is the only blocking step and runs on the main thread before workers start.
 */
#ifndef KVE_PROXY_REDIS_TARGET_H
#define KVE_PROXY_REDIS_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

struct st_kve_kv_op_t;    /* kv_internal.h */
struct st_kve_kv_reply_t; /* kv.h */

typedef struct st_kve_redis_conf_t {
    /**
     * "embedded", redis://[user:pass@]host[:port][/db] or unix:///path[?db=N]; or http:// / https:// for a store
     * reached over the KV REST protocol (Upstash, Vercel KV, another kvedge's /kv: proxy/kv_rest_driver.h)
     */
    char *url;
    /** a KV REST store: the bearer token (a secret; required) and, for https and rediss, the CA bundle (NULL: the system's) */
    char *token;
    char *ca_file;
    /** rediss://: a client certificate chain and its key (PEM; mutual TLS), both or neither */
    char *tls_cert_file;
    char *tls_key_file;
    /** rediss://: the name (or address) to verify the certificate against and to send as SNI (NULL: the URL's host) */
    char *tls_server_name;
    /** override the URL's credentials when set (password is a secret) */
    char *username;
    char *password;
    /** the user for read-only tokens' commands (external Redis; NULL: they share the read-write user) */
    char *read_only_username;
    char *read_only_password;
    uint64_t connect_timeout_ms;
    uint64_t command_timeout_ms;
    uint64_t reconnect_max_delay_ms;
    int64_t breaker_threshold;
    /**
     * the replicas topology (proxy/kv_replicas.h): redis:// or unix:// URLs of the primary's replicas, read-only
     * commands go to them when the request's sync position allows; laid out as conf/conf.h's kve_conf_strings_t
     * (the configuration fills it), size 0: a standalone store
     */
    struct st_kve_redis_urls_t {
        char **entries;
        size_t size;
    } replicas;
    /**
     * the sentinel topology (proxy/kv_sentinel.h): the primary and its replicas come from Sentinel; `master` NULL: not
     * a sentinel store (then `url` says where the store is). With it, `url` is left out (its "embedded" default is
     * never used: conf/stores.c and the links test `sentinel.master` first).
     */
    struct st_kve_redis_sentinel_conf_t {
        /** the name Sentinel monitors the primary under (`sentinel monitor <master> ...`) */
        char *master;
        /** host:port of each sentinel (laid out as kve_conf_strings_t), asked in turn */
        struct st_kve_redis_urls_t addresses;
        /** the sentinels' own user and password (Sentinel's requirepass / ACL), not the data nodes' */
        char *username;
        char *password;
        /** the data nodes' database */
        int64_t db;
    } sentinel;
    /**
     * the Redis Cluster topology (docs/scale-out.md, "Cluster"): host:port of seed nodes (laid out as
     * kve_conf_strings_t), size 0: not a cluster store. With it, `url` is left out. `tls`: every node is reached over
     * TLS (its tls-port, as the slot map names it), verified with ca_file against tls_server_name or, without it, the
     * node's address (the certificate's IP entries); tls_cert_file/tls_key_file as on a rediss:// store.
     */
    struct st_kve_redis_cluster_conf_t {
        struct st_kve_redis_urls_t nodes;
        int tls;
    } cluster;
    /**
     * min_replicas_ack (proxy/kv_ack.h): a batch that asks for it (KVE_KV_BATCH_ACK) is answered only once at least this
     * many replicas acknowledged its writes (WAIT), else with KVE_ENOACK after min_replicas_ack_timeout_ms; 0: off
     */
    int64_t min_replicas_ack;
    uint64_t min_replicas_ack_timeout_ms;
} kve_redis_conf_t;

/**
 * The name a template TLS context verifies when it is never used as is (a cluster store without tls_server_name: each
 * node's context is derived from it with the node's address, kve_tls_client_ctx_derive). Under .invalid (RFC 6761): no
 * certificate can name it.
 */
#define KVE_REDIS_TLS_TEMPLATE_NAME "template.kvedge.invalid"

/** Where and how to connect; produced by kve_redis_target_init(). All strings owned. */
typedef struct st_kve_redis_target_t {
    /** non-NULL for a unix socket */
    char *path;
    /** numeric address (a host name is resolved once, at startup) */
    char *host;
    int port;
    int db;
    /** rediss:// (set by the parser) */
    int tls;
    /** rediss://: the verifying client context (owned; built by kve_redis_target_init) and the name it verifies */
    SSL_CTX *ssl_ctx;
    char *tls_server_name;
    char *username;
    char *password;
    /** which token access class the links to this target serve ("read-write", "read-only"), for logs */
    const char *role;
    /** the store's name, for logs (borrowed; NULL: not named, as the configuration has one store) */
    const char *store;
    /** the store's name whatever the number of stores (borrowed; NULL: a link made outside a stores set) */
    const char *store_name;
    /**
     * The output buffer limit check of an external Redis (redis_limits.c) was started: 0 or 1, read and written
     * atomically by the links of every thread, so one link per target asks. Set by the driver, not by callers.
     */
    int limit_checked;
    /**
     * Borrowed, NULL-terminated (may be NULL): commands the KV policy refuses to this role, which the user must
     * not be able to run either (inside scripts); each connection checks that once its handshake is done.
     */
    char *const *acl_refused;
    /**
     * Borrowed (may be NULL: this target itself): where the script watchdog connects to stop a script, as a user
     * that may run SCRIPT KILL and FUNCTION KILL (the read-only user may not: the read-write target).
     */
    const struct st_kve_redis_target_t *kill_via;
    /**
     * The primary of a sentinel store (kv_sentinel.h): each connection asks ROLE in its handshake and comes up only when
     * the node says `master` (else it is dropped and reported down); a -READONLY or -LOADING reply fails its command
     * with KVE_EUNAVAIL (503) and drops the connection (a failover is in progress: the owner finds the primary again).
     */
    int require_master;
    /**
     * A node of a cluster store (docs/scale-out.md, "Cluster: design"): its connections never send SELECT (Cluster has
     * db 0 only; `db` is ignored), and a -MOVED, -ASK, -TRYAGAIN, -CLUSTERDOWN or -READONLY (a write that reached a node
     * that became a replica) error reply to a command sent alone (not in a transaction) is handed to
     * redirect(redirect_data, op, reply) instead of completing the op. The callee owns the op from then on: it sends
     * it again (another node's driver send(), or kve_kv_redis_send_asking()) or completes it (kve_kv__complete), once;
     * `reply` is borrowed for the call. It runs inside the link's reply callback: it must not destroy this link.
     * NULL: not a cluster node (a sentinel primary's -READONLY then follows require_master).
     */
    void (*redirect)(void *redirect_data, struct st_kve_kv_op_t *op, const struct st_kve_kv_reply_t *reply);
    /**
     * A transaction (an atomic batch: MULTI, its n commands, EXEC) that a cluster node (`redirect` set) refused with one
     * of those cluster errors, on a queued command (EXEC then says EXECABORT) or on EXEC itself: nothing ran, and at
     * EXEC's reply the whole transaction, ops[0..n-1] (n = the batch's n), is handed to redirect_atomic(redirect_data,
     * ops, n, reply) instead of being completed; `reply` is the FIRST such error (a copy that lives for the call only:
     * never stored in the batch's abort_reply). The callee owns the ops from then on: it sends them again (another
     * node's send_atomic(), or kve_kv_redis_send_atomic_asking()) or completes every one of them (kve_kv__complete,
     * e.g. KVE_EABORTED after kve_kv__set_abort_reply, or KVE_EUNAVAIL), once; the batch may be freed inside the call
     * once they are all completed. Same context rule as redirect(). A transaction with any other error among its
     * queued replies is completed as on every link (KVE_EABORTED, that error the abort reply: it would fail on the
     * right node too). NULL: a transaction's cluster error becomes its abort reply, as any other error.
     */
    void (*redirect_atomic)(void *redirect_data, struct st_kve_kv_op_t *ops, size_t n, const struct st_kve_kv_reply_t *reply);
    void *redirect_data;
} kve_redis_target_t;

/** Whether `url` names a KV REST store (http:// or https://, case-insensitive scheme). */
int kve_redis_url_is_rest(const char *url);

/**
 * Parses a redis://, rediss:// (TLS: `tls` set) or unix:// URL (pure; no resolution). Returns 0, or -1 with a message
 * in `err`. Percent-escapes in user and password are decoded. The default port is 6379, the default db 0.
 */
int kve_redis_parse_url(const char *url, kve_redis_target_t *out, char *err, size_t errlen);

/**
 * The verifying TLS client context of a rediss:// store whose URL names `url_host`: the certificate is checked
 * against conf->ca_file (NULL: the system's store) and conf->tls_server_name (NULL: `url_host`), and the client
 * certificate is conf->tls_cert_file/tls_key_file when set. Returns the context (owned by the caller), or NULL with a
 * message in `err` (a file that cannot be loaded, a certificate without its key). Also what `kvedge -t` checks.
 */
SSL_CTX *kve_redis_tls_ctx_create(const kve_redis_conf_t *conf, const char *url_host, char *err, size_t errlen);

/**
 * Builds the target for `conf`: the embedded server's socket when url is "embedded" (`embedded_path`),
 * else the parsed URL with its host resolved to a numeric address (blocking; call at startup), with the
 * conf's username/password overriding the URL's; a rediss:// URL also gets its TLS context (kve_redis_tls_ctx_create)
 * and the name it verifies (the URL's host as written, before resolution). Returns 0 or -1 with a message in `err`.
 */
int kve_redis_target_init(kve_redis_target_t *target, const kve_redis_conf_t *conf, const char *embedded_path, char *err,
                          size_t errlen);
/** Wipes and frees the target's password (it then authenticates without one). */
void kve_redis_target_forget_password(kve_redis_target_t *target);
/** Frees the target's strings. */
void kve_redis_target_dispose(kve_redis_target_t *target);

#endif
