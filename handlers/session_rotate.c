/* SPDX-License-Identifier: MIT */
/* X-Session-Rotate (see session_rotate.h). */
#include "handlers/session_rotate.h"
#include "handlers/session_renew.h"
#include "handlers/session_script.h"

#include <stdio.h>
#include <string.h>

int kve_session__rotate_valid(h2o_iovec_t v)
{
    return h2o_memis(v.base, v.len, H2O_STRLIT("1"));
}

void kve_session__rotate_command(kve_session_req_t *st, kve_kv_command_t *cmd)
{
    h2o_mem_pool_t *pool = &st->req->pool;
    const char **argv = h2o_mem_alloc_pool(pool, 7 * sizeof(*argv));
    size_t *argvlen = h2o_mem_alloc_pool(pool, 7 * sizeof(*argvlen)), n = 2;
    const char *index = st->uid != NULL ? kve_session__index_key(pool, st->key, st->uid) : NULL;
    char now[24];

    /* the same slot tag as the live key (a user's sessions share it; an anonymous one keeps its own) */
    kve_session_new_handle(st->new_handle, NULL);
    memcpy(st->new_handle, st->key + 6, KVE_SESSION_TAG_CHARS);
    kve_session_key(st->new_key, st->new_handle);
    kve_kv_script_argv(&kve_session_scripts()->rotate, 0, argv, argvlen);
    argv[n] = index != NULL ? "3" : "2", argvlen[n++] = 1;
    argv[n] = st->key, argvlen[n++] = strlen(st->key);
    argv[n] = st->new_key, argvlen[n++] = strlen(st->new_key);
    if (index != NULL)
        argv[n] = index, argvlen[n++] = strlen(index);
    argvlen[n] = (size_t)snprintf(now, sizeof(now), "%lld", (long long)kve_session__now_ms());
    argv[n] = h2o_strdup(pool, now, argvlen[n]).base, ++n;
    *cmd = KVE_KV_COMMAND(n, argv, argvlen);
    cmd->script = &kve_session_scripts()->rotate;
}
