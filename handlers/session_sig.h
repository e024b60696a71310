/* SPDX-License-Identifier: MIT */
/*
 * The strict-signature mode of the session commands (issue 10, S12; docs/sessions.md §7). With a route's
 * session.command_key set, the X-Session-* commands of a response apply only when the response also carries
 * X-Session-Sig: base64url (no padding) of HMAC-SHA256(command_key, canonical), where canonical is, for each command
 * present in the fixed order login, set, rotate, logout, "x-session-<name>:<value>\n" (the value as received). A header
 * the upstream merely echoes (a request header reflected into the response) then cannot act.
 */
#ifndef KVE_HANDLERS_SESSION_SIG_H
#define KVE_HANDLERS_SESSION_SIG_H

#include <stddef.h>
#include "h2o.h"

/** The shortest command_key accepted (bytes). */
#define KVE_SESSION_SIG_MIN_KEY 32
/** The length of a valid X-Session-Sig: base64url of a SHA-256 HMAC, no padding. */
#define KVE_SESSION_SIG_LEN 43

/** The commands a signature covers, in their canonical order (base NULL: absent). Borrowed. */
typedef struct st_kve_session_sig_cmds_t {
    h2o_iovec_t login, set, rotate, logout;
} kve_session_sig_cmds_t;

/**
 * Whether `sig` is the X-Session-Sig of `cmds` under `key` (`klen` bytes). The canonical text is built in `pool`;
 * the comparison takes the same time whatever the bytes of `sig` (its length is not secret). 1: valid, 0: not.
 */
int kve_session_sig_valid(h2o_mem_pool_t *pool, const void *key, size_t klen, const kve_session_sig_cmds_t *cmds, h2o_iovec_t sig);

#endif
