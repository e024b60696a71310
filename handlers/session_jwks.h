/* SPDX-License-Identifier: MIT */
/*
 * The public JWKS of the sessions' ES256 keys (docs/sessions.md §8): GET or HEAD of exactly the registered path
 * answers {"keys":[<jwk>, ...]} (RFC 7517 §5), one entry per distinct kid, so an upstream verifies X-Session-JWT with
 * any JOSE library (e.g. jose's createRemoteJWKSet, or node's crypto.createPublicKey({format: "jwk"})). Public data:
 * no authentication; cacheable for a few minutes.
 */
#ifndef KVE_HANDLERS_SESSION_JWKS_H
#define KVE_HANDLERS_SESSION_JWKS_H

#include <stddef.h>
#include "h2o.h"
#include "handlers/session_es256.h"

/** How long clients may cache the JWKS (seconds; Cache-Control: max-age). */
#define KVE_SESSION_JWKS_MAX_AGE 300

/**
 * The JWKS document of `keys` (`n` keys, borrowed for the call; a kid seen twice is listed once), malloc'd for the
 * caller to free().
 */
char *kve_session_jwks_document(const kve_es256_key_t *const *keys, size_t n);

/** Registers on `pathconf` the handler serving `document` (copied; kve_session_jwks_document's output). */
void kve_session_jwks_register(h2o_pathconf_t *pathconf, const char *document);

#endif
