/* SPDX-License-Identifier: MIT */
/*
 * A real second kvedge for unit tests of the KV REST driver: the kvedge binary named by $KVEDGE_BIN (ctest sets it
 * for the suites that need it) serving its KV API at /kv on a free 127.0.0.1 port, its store a redis-server the
 * caller started (a unix socket). Started with PR_SET_PDEATHSIG, stopped by its PID (SIGTERM, then waited for).
 */
#ifndef KVE_TESTS_UNIT_KVEDGE_SERVER_H
#define KVE_TESTS_UNIT_KVEDGE_SERVER_H

#include <stddef.h>

/** The token of its KV API (read-write). */
#define KVE_TEST_KVEDGE_TOKEN "rw-token-0123456789abcdef"

typedef struct st_kve_test_kvedge_t kve_test_kvedge_t;

/**
 * Starts kvedge on `redis_socket` with `extra_kv` appended to its kv: section (each line indented by 2 spaces,
 * may be ""), and waits (up to 20 s) until its port accepts connections. Returns NULL with a message in `err`.
 */
kve_test_kvedge_t *kve_test_kvedge_start(const char *redis_socket, const char *extra_kv, char *err, size_t errlen);
/** Its KV API's base URL, "http://127.0.0.1:PORT/kv" (owned by `k`). */
const char *kve_test_kvedge_url(const kve_test_kvedge_t *k);
/** Stops it (SIGTERM, waits), removes its directory, frees `k` (NULL is fine). Returns its exit status (-1 if killed). */
int kve_test_kvedge_free(kve_test_kvedge_t *k);

#endif
