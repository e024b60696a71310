/* SPDX-License-Identifier: MIT */
/*
 * Redis' per-connection output buffer limit (`client-output-buffer-limit normal <hard> <soft> <seconds>`):
 * unlimited by default, so a client that asks for more than it reads makes Redis grow without bound.
 * kvedge sets it on the embedded server (embedded_redis.client_output_buffer_limit) and checks it once per store on
 * an external one: the link sends CONFIG GET when it first comes up, warns when the normal class is
 * unlimited, and says once that it could not check when the user may not run CONFIG GET (an ACL, a
 * renamed command). Never fatal.
 */
#ifndef KVE_PROXY_REDIS_LIMITS_H
#define KVE_PROXY_REDIS_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/**
 * Finds the normal class in the value of CONFIG GET client-output-buffer-limit ("normal 0 0 0 replica
 * 268435456 67108864 60 pubsub ..."; bytes as plain numbers). Returns 0 with the hard and soft limits
 * (0 = none), or -1 when the value has no well-formed normal class.
 */
int kve_redis_parse_output_limit(const char *value, size_t len, uint64_t *hard, uint64_t *soft);

#endif
