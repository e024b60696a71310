/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 and HMAC-SHA256 for the sessions' per-request hashing (a handle's store key and public id): OpenSSL 3's
 * one-shot SHA256() and HMAC() fetch the algorithm on every call, which made them most of a session request's added
 * CPU (callgrind: ~26 k instructions of ~32 k for the public id). These use SHA-256 fetched once; same results. The
 * HMAC also signs HS256 session tokens (session_jwt.c).
 */
#ifndef KVE_HANDLERS_SESSION_HASH_H
#define KVE_HANDLERS_SESSION_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KVE_SHA256_LEN 32

/** SHA-256 of `len` bytes of `data`. */
void kve_session_sha256(const void *data, size_t len, uint8_t out[KVE_SHA256_LEN]);

/** HMAC-SHA256 (RFC 2104) of `len` bytes of `msg` under `key` (`klen` bytes, any length). */
void kve_session_hmac_sha256(const void *key, size_t klen, const void *msg, size_t len, uint8_t out[KVE_SHA256_LEN]);

#endif
