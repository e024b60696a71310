/* SPDX-License-Identifier: MIT */
/*
 * Redis ACL users that mirror the KV REST policy, so that what the policy refuses by command name is
 * refused by Redis too, inside scripts (EVAL, EVAL_RO, FCALL...) where kvedge cannot see: Redis checks
 * every redis.call() against the ACL of the user that runs the script. kvedge's connections authenticate
 * as one user per token access class (read-write, read-only).
 *
 * The rules are computed from the policy itself (kve_rest_policy_apply on each command name of Redis'
 * command table, with and without the streaming-endpoint flag), plus what kvedge's own connections need
 * whatever the policy says: PING (handshake), MULTI/EXEC/DISCARD (/multi-exec), SELECT when the store
 * uses a database other than 0, and for the read-write user SCRIPT KILL and FUNCTION KILL (the script
 * watchdog) and ROLE (the sync position read after writes, kv_sync.h). Argument-dependent rules (XREAD ... BLOCK, COPY ... DB n,
 * SCAN COUNT) cannot be expressed in Redis 7.0's ACLs and stay kvedge's own checks; docs/security.md says what that leaves to
 * scripts.
 */
#ifndef KVE_HANDLERS_KV_ACL_H
#define KVE_HANDLERS_KV_ACL_H

#include <stddef.h>
#include "handlers/kv_rest.h"
#include "proxy/common.h"

typedef struct st_kve_acl_user_t {
    /** ACL SETUSER rules after the user name and its password: "on", "resetkeys", "~*", ..., "+@all", "-keys", ... */
    kve_strv_t rules;
    /**
     * Command names the policy refuses for this class and the user must not be able to run ("config|get" for a
     * subcommand), except those scripts cannot call anyway (NOSCRIPT): what the check at connect asks Redis about
     * (redis.acl_check_cmd).
     */
    kve_strv_t refused;
} kve_acl_user_t;

/** kve_rest_acl_build()'s `store` bits: what the store's links send besides the tokens' commands */
enum {
    KVE_ACL_SELECT_DB = 1, /* SELECT (the store's database is not 0) */
    KVE_ACL_CLUSTER = 2    /* a Redis Cluster store: CLUSTER SHARDS / SLOTS (the slot map) and ASKING (a migration) */
};

/**
 * Computes the user for tokens of one class (`read_only`) under `conf`'s policy; `store`: KVE_ACL_* bits. `out` is
 * zeroed by the caller; free it with kve_rest_acl_dispose().
 */
void kve_rest_acl_build(const kve_rest_conf_t *conf, int read_only, unsigned store, kve_acl_user_t *out);

/** Frees what kve_rest_acl_build() stored. */
void kve_rest_acl_dispose(kve_acl_user_t *user);

#endif
