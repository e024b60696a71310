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

typedef struct st_kve_redis_conf_t {
    /** "embedded", redis://[user:pass@]host[:port][/db] or unix:///path[?db=N] */
    char *url;
    /** override the URL's credentials when set (password is a secret) */
    char *username;
    char *password;
    uint64_t connect_timeout_ms;
    uint64_t command_timeout_ms;
    uint64_t reconnect_max_delay_ms;
    int64_t breaker_threshold;
} kve_redis_conf_t;

/** Where and how to connect; produced by kve_redis_target_init(). All strings owned. */
typedef struct st_kve_redis_target_t {
    /** non-NULL for a unix socket */
    char *path;
    /** numeric address (a host name is resolved once, at startup) */
    char *host;
    int port;
    int db;
    char *username;
    char *password;
} kve_redis_target_t;

/**
 * Parses a redis:// or unix:// URL (pure; no resolution). Returns 0, or -1 with a message in `err`.
 * Percent-escapes in user and password are decoded. The default port is 6379, the default db 0.
 */
int kve_redis_parse_url(const char *url, kve_redis_target_t *out, char *err, size_t errlen);

/**
 * Builds the target for `conf`: the embedded server's socket when url is "embedded" (`embedded_path`),
 * else the parsed URL with its host resolved to a numeric address (blocking; call at startup), with the
 * conf's username/password overriding the URL's. Returns 0 or -1 with a message in `err`.
 */
int kve_redis_target_init(kve_redis_target_t *target, const kve_redis_conf_t *conf, const char *embedded_path, char *err,
                          size_t errlen);
/** Frees the target's strings. */
void kve_redis_target_dispose(kve_redis_target_t *target);

#endif
