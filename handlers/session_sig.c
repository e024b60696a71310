/* SPDX-License-Identifier: MIT */
/* The X-Session-Sig check of the strict-signature mode (see session_sig.h). */
#include "handlers/session_sig.h"
#include "handlers/session_cookie.h"
#include "handlers/session_hash.h"

#include <string.h>
#include <openssl/crypto.h>

/* appends "x-session-<name>:<value>\n" at `p` when the command is present; returns the end */
static char *put(char *p, const char *name, h2o_iovec_t v)
{
    size_t n = strlen(name);
    if (v.base == NULL)
        return p;
    memcpy(p, "x-session-", 10), p += 10;
    memcpy(p, name, n), p += n;
    *p++ = ':';
    memcpy(p, v.base, v.len), p += v.len;
    *p++ = '\n';
    return p;
}

int kve_session_sig_valid(h2o_mem_pool_t *pool, const void *key, size_t klen, const kve_session_sig_cmds_t *cmds, h2o_iovec_t sig)
{
    /* "x-session-" + the longest name ("rotate", "logout") + ':' + '\n' per command */
    size_t cap = cmds->login.len + cmds->set.len + cmds->rotate.len + cmds->logout.len + 4 * (10 + 6 + 2);
    char *canonical = h2o_mem_alloc_pool(pool, cap), *end = canonical;
    uint8_t mac[KVE_SHA256_LEN];
    char want[KVE_SESSION_SIG_LEN + 2];

    if (sig.base == NULL || sig.len != KVE_SESSION_SIG_LEN)
        return 0;
    end = put(end, "login", cmds->login);
    end = put(end, "set", cmds->set);
    end = put(end, "rotate", cmds->rotate);
    end = put(end, "logout", cmds->logout);
    kve_session_hmac_sha256(key, klen, canonical, (size_t)(end - canonical), mac);
    if (kve_base64url_encode(want, mac, sizeof(mac)) != KVE_SESSION_SIG_LEN)
        return 0;
    return CRYPTO_memcmp(want, sig.base, KVE_SESSION_SIG_LEN) == 0;
}
