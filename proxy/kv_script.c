/* SPDX-License-Identifier: MIT */
/*
 * Scripts of the KV interface (kv.h: kve_kv_script_t): the SHA1 a script is called by, and the EVAL form kv.c sends
 * when the store answers an EVALSHA with NOSCRIPT (kv_internal.h).
 */
#include "proxy/common.h"
#include "proxy/kv_internal.h"

#include <openssl/sha.h>
#include <string.h>

struct st_kve_kv_script_eval_t {
    kve_kv_command_t cmd;
    const char **argv;
    size_t *argvlen;
};

void kve_kv_script_init(kve_kv_script_t *script, const char *body, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA_DIGEST_LENGTH];

    SHA1((const unsigned char *)body, len, md);
    for (size_t i = 0; i != sizeof(md); ++i) {
        script->sha[2 * i] = hex[md[i] >> 4];
        script->sha[2 * i + 1] = hex[md[i] & 15];
    }
    script->sha[40] = '\0';
    script->body = body;
    script->len = len;
}

void kve_kv_script_argv(const kve_kv_script_t *script, int read_only, const char **argv, size_t *argvlen)
{
    argv[0] = read_only ? "EVALSHA_RO" : "EVALSHA";
    argvlen[0] = read_only ? 10 : 7;
    argv[1] = script->sha;
    argvlen[1] = 40;
}

kve_kv_script_eval_t *kve_kv__script_eval(const kve_kv_command_t *cmd)
{
    size_t argc = cmd->argc, bytes = 0, i;
    kve_kv_script_eval_t *e;
    char *p;
    int ro = cmd->argvlen[0] == 10; /* EVALSHA_RO */

    KVE_ASSERT(cmd->script != NULL && argc >= 2);
    for (i = 2; i != argc; ++i)
        bytes += cmd->argvlen[i] + 1;
    e = kve_malloc(sizeof(*e) + (sizeof(*e->argv) + sizeof(*e->argvlen)) * argc + bytes);
    e->argv = (const char **)(e + 1);
    e->argvlen = (size_t *)(e->argv + argc);
    p = (char *)(e->argvlen + argc);
    e->argv[0] = ro ? "EVAL_RO" : "EVAL";
    e->argvlen[0] = ro ? 7 : 4;
    e->argv[1] = cmd->script->body;
    e->argvlen[1] = cmd->script->len;
    for (i = 2; i != argc; ++i) { /* the caller's arguments may be gone by the time NOSCRIPT comes */
        memcpy(p, cmd->argv[i], cmd->argvlen[i]);
        p[cmd->argvlen[i]] = '\0';
        e->argv[i] = p;
        e->argvlen[i] = cmd->argvlen[i];
        p += cmd->argvlen[i] + 1;
    }
    e->cmd = *cmd;
    e->cmd.argv = e->argv;
    e->cmd.argvlen = e->argvlen;
    e->cmd.script = NULL;
    return e;
}

const kve_kv_command_t *kve_kv__script_eval_cmd(const kve_kv_script_eval_t *eval)
{
    return &eval->cmd;
}

int kve_kv__is_noscript(const kve_kv_reply_t *reply)
{
    return reply != NULL && reply->type == KVE_REPLY_ERROR && reply->len >= 8 && memcmp(reply->str, "NOSCRIPT", 8) == 0;
}
