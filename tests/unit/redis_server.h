/* SPDX-License-Identifier: MIT */
/*
 * A real redis-server for unit tests that need one (the loopback harness's KV link): started from PATH on a
 * unix socket in a private temporary directory (no TCP port: `--port 0`), without persistence, and stopped by its
 * PID. The child gets PR_SET_PDEATHSIG, so it never outlives a test binary that crashed. Not thread-safe; one
 * server per suite is plenty (tests use keys of their own).
 */
#ifndef KVE_TESTS_UNIT_REDIS_SERVER_H
#define KVE_TESTS_UNIT_REDIS_SERVER_H

#include <stddef.h>

typedef struct st_kve_test_redis_t kve_test_redis_t;

/** Starts redis-server and waits (up to 10 s) until it answers PING. Returns NULL with a message in `err`. */
kve_test_redis_t *kve_test_redis_start(char *err, size_t errlen);
/**
 * The same with more redis-server arguments (`extra`, NULL-terminated, at most 8, borrowed for the call), e.g. a TCP
 * port on 127.0.0.1 for replicas to reach it, or --replicaof.
 */
kve_test_redis_t *kve_test_redis_start_args(const char *const *extra, char *err, size_t errlen);
/** A TCP port on 127.0.0.1 free right now (0 when none could be found). */
int kve_test_free_port(void);
/** The server's unix socket (owned by `r`). */
const char *kve_test_redis_socket(const kve_test_redis_t *r);
/** Stops the server (SIGTERM, waiting for it to exit) but keeps `r` (its socket path stays known). Idempotent. */
void kve_test_redis_stop(kve_test_redis_t *r);
/** Stops the server if it runs, removes its directory and frees `r` (NULL is fine). */
void kve_test_redis_free(kve_test_redis_t *r);

#endif
