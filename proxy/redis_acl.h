/* SPDX-License-Identifier: MIT */
/*
 * The check a KV link makes once connected: can its Redis user run commands the KV policy refuses to the
 * tokens it serves? Redis runs every redis.call() of a script with the rights of the user that runs the
 * script, so such rights would let a token do inside EVAL or FCALL what the policy refuses outside. The
 * check asks Redis itself (redis.acl_check_cmd, Redis 7.0+) in one read-only script over the refused names
 * (kve_redis_target_t.acl_refused), and logs one warning per role per process when any is allowed. It
 * changes nothing and needs no admin right. Internal to the Redis driver.
 */
#ifndef KVE_PROXY_REDIS_ACL_H
#define KVE_PROXY_REDIS_ACL_H

#include "proxy/kv.h"
#include "proxy/redis_target.h"

/**
 * Sends the check on `kv` (a link to `target` whose handshake just completed) when `target` has names to check;
 * the reply is handled here. `target` must outlive the link.
 */
void kve_redis_acl_check(kve_kv_t *kv, const kve_redis_target_t *target);

#endif
