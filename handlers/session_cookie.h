/* SPDX-License-Identifier: MIT */
/*
 * The session cookie and the store keys it maps to (docs/sessions.md §2, §3); pure functions, no I/O but the CSPRNG.
 *
 * A handle is 54 base64url characters: an 11-character slot tag (8 bytes: random for an anonymous session, a keyed
 * HMAC of the user id for a logged-in one) and a 43-character secret (32 bytes from RAND_bytes). Its session lives at
 * "kvs1:{<tag>}:s:<hex SHA-256 of the whole handle>", so every key of one user shares a Redis Cluster slot.
 */
#ifndef KVE_HANDLERS_SESSION_COOKIE_H
#define KVE_HANDLERS_SESSION_COOKIE_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"

#define KVE_SESSION_TAG_BYTES 8
#define KVE_SESSION_TAG_CHARS 11
#define KVE_SESSION_SECRET_BYTES 32
#define KVE_SESSION_SECRET_CHARS 43
#define KVE_SESSION_HANDLE_LEN (KVE_SESSION_TAG_CHARS + KVE_SESSION_SECRET_CHARS)
/** "kvs1:{" tag "}:s:" 64 hex digits, and a NUL */
#define KVE_SESSION_KEY_SIZE (6 + KVE_SESSION_TAG_CHARS + 4 + 64 + 1)
/** The longest user id (X-Session-Login's "sub"), in bytes. */
#define KVE_SESSION_UID_MAX 256
/** hex of the first 16 bytes of HMAC-SHA256(k_pid, storage hash), and a NUL */
#define KVE_SESSION_PID_SIZE 33

/** What kve_session_cookie_find() saw. */
typedef enum { KVE_SESSION_COOKIE_NONE = 0, KVE_SESSION_COOKIE_OK, KVE_SESSION_COOKIE_INVALID } kve_session_cookie_t;

/** The cookie's SameSite attribute (the configuration's enum order). */
typedef enum { KVE_SAME_SITE_LAX = 0, KVE_SAME_SITE_STRICT, KVE_SAME_SITE_NONE } kve_same_site_t;

/** Whether `v` (`len` bytes) has the shape of a handle: KVE_SESSION_HANDLE_LEN base64url characters. */
int kve_session_handle_shape(const char *v, size_t len);

/**
 * Looks for the cookie `name` in every Cookie header of `headers`. OK: exactly one pair with that name, of a
 * handle's shape (*value points into the header). INVALID: a malformed value, or the name more than once (never
 * "pick one"). NONE: absent.
 */
kve_session_cookie_t kve_session_cookie_find(const h2o_header_t *headers, size_t num, const char *name, size_t namelen,
                                             h2o_iovec_t *value);

/**
 * Removes every `name` pair from the Cookie headers of `headers` (rewritten in `pool`; a header left empty is
 * deleted). Returns the number of pairs removed.
 */
size_t kve_session_cookie_strip(h2o_mem_pool_t *pool, h2o_headers_t *headers, const char *name, size_t namelen);

/** The slot tag of user `uid` (at most KVE_SESSION_UID_MAX bytes) under `k_tag`: the first KVE_SESSION_TAG_BYTES of
 * HMAC-SHA256(k_tag, "u:" uid). */
void kve_session_user_tag(const uint8_t *k_tag, size_t klen, const char *uid, size_t uidlen, uint8_t tag[KVE_SESSION_TAG_BYTES]);

/** Writes a new handle (KVE_SESSION_HANDLE_LEN chars and a NUL) to `out`: `tag`, or a random one when NULL. */
void kve_session_new_handle(char out[KVE_SESSION_HANDLE_LEN + 1], const uint8_t *tag);

/** The store key of `handle` (a valid shape): KVE_SESSION_KEY_SIZE bytes with the NUL. */
void kve_session_key(char out[KVE_SESSION_KEY_SIZE], const char *handle);

/** The public id of `handle` under `k_pid` (32 hex digits and a NUL). */
void kve_session_pid(char out[KVE_SESSION_PID_SIZE], const uint8_t *k_pid, size_t klen, const char *handle);

/**
 * The Set-Cookie value for `handle` (NULL: the clearing cookie, empty with Max-Age=0), allocated in `pool`:
 * "<name>=<v>; Path=/; Secure; HttpOnly; SameSite=Lax" (Secure only when `secure`).
 */
h2o_iovec_t kve_session_set_cookie(h2o_mem_pool_t *pool, const char *name, const char *handle, int same_site, int secure);

/** base64url without padding of `len` bytes into `dst` (room for (len * 4 + 2) / 3 chars); returns the length. */
size_t kve_base64url_encode(char *dst, const uint8_t *src, size_t len);

#endif
