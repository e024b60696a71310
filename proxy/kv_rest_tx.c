/* SPDX-License-Identifier: MIT */
/*
 * Transactions the KV REST protocol's /multi-exec cannot carry (an argument that is not UTF-8: the cache's binary
 * bodies) sent as one EVAL of a script that runs the commands atomically (kv_rest_codec.h, kve_rest_encode_tx_script);
 * large such arguments are put aside first with PSETEX in the path form (raw bytes) and read by the script.
 */
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_commands.h"
#include "proxy/kv_rest_codec.h"
#include "proxy/kv_rest_internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a transaction sent as a script: non-UTF-8 arguments from this size on are put aside first (not hex-decoded by Lua) */
#define TX_STAGE_MIN 4096
#define TX_STAGE_TTL_MS "60000"

/* whether MULTI would queue `cmd` (a known command with a valid arity), and the script can take it */
static int tx_can_run(const kve_kv_command_t *cmd)
{
    kve_cmd_ref_t ref;

    if (cmd->argc > KVE_REST_TX_MAX_ARGS || !kve_cmd_find(cmd->argc, cmd->argv, cmd->argvlen, &ref) || ref.info == NULL)
        return 0;
    return ref.info->arity >= 0 ? cmd->argc == (size_t)ref.info->arity : cmd->argc >= (size_t)-ref.info->arity;
}

/* what a transaction sent as a script puts aside: its large non-UTF-8 arguments, each with PSETEX in the path form */
typedef struct st_stage_ctx_t {
    rest_link_t *link;
    /** "{tag}" of the transaction's first key (so that the staged keys share its slot), or "" */
    char tag[64];
    char key[160];
    size_t staged;
} stage_ctx_t;

/* the hash tag of `key` (Redis' rule: the first '{', then the first '}' after it, not empty), when short and printable */
static void stage_tag(stage_ctx_t *sc, const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;
    size_t n;

    sc->tag[0] = '\0';
    if (open == NULL || (close = memchr(open + 1, '}', len - (size_t)(open + 1 - key))) == NULL ||
        (n = (size_t)(close - open - 1)) == 0 || n + 3 > sizeof(sc->tag))
        return;
    for (size_t i = 0; i != n; ++i)
        if (open[1 + i] < 0x21 || open[1 + i] > 0x7e)
            return;
    snprintf(sc->tag, sizeof(sc->tag), "{%.*s}", (int)n, open + 1);
}

static const char *stage_arg(void *ctx, const char *bytes, size_t len)
{
    stage_ctx_t *sc = ctx;
    unsigned char rnd[12];
    char hex[25];
    rest_req_t *r;
    kve_kv_command_t cmd;
    const char *argv[4];
    size_t argvlen[4];
    h2o_iovec_t body;

    if (len < TX_STAGE_MIN)
        return NULL;
    KVE_ASSERT(RAND_bytes(rnd, sizeof(rnd)) == 1);
    for (size_t i = 0; i != sizeof(rnd); ++i)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(sc->key, sizeof(sc->key), "kvedge:tx:%s:%s", sc->tag, hex);
    argv[0] = "PSETEX", argv[1] = sc->key, argv[2] = TX_STAGE_TTL_MS, argv[3] = bytes;
    argvlen[0] = 6, argvlen[1] = strlen(sc->key), argvlen[2] = strlen(TX_STAGE_TTL_MS), argvlen[3] = len;
    cmd = KVE_KV_COMMAND(4, argv, argvlen);
    r = kve_kv_rest__req_new(sc->link, REQ_PATH); /* no op: the transaction's script reads it */
    KVE_ASSERT(kve_rest_encode_path(&r->target, sc->link->conf.prefix, &cmd, &body) == 0);
    kve_buf_append(&r->body, body.base, body.len);
    kve_kv_rest__push_ready(sc->link, r);
    ++sc->staged;
    return sc->key;
}

/* an atomic batch with bytes JSON cannot carry: one EVAL that runs the commands (kve_rest_encode_tx_script), after
 * the requests that put its large arguments aside (the requests of a turn run one after the other) */
int kve_kv_rest__send_tx(rest_link_t *link, kve_kv_op_t *ops, size_t n)
{
    const kve_kv_command_t **cmds = kve_malloc(sizeof(*cmds) * n);
    stage_ctx_t sc = {link};
    rest_req_t *r;

    for (size_t i = 0; i != n; ++i) {
        if (!tx_can_run(ops[i].cmd)) { /* what MULTI refuses at queue time: refused whole, nothing sent */
            free(cmds);
            return KVE_EINVAL;
        }
        cmds[i] = ops[i].cmd;
    }
    r = kve_kv_rest__req_new(link, REQ_TX);
    if (cmds[0]->argc >= 2)
        stage_tag(&sc, cmds[0]->argv[1], cmds[0]->argvlen[1]);
    kve_buf_putc(&r->body, '[');
    kve_rest_encode_tx_script(&r->body, cmds, n, stage_arg, &sc);
    kve_buf_putc(&r->body, ']');
    /* a script that read its staged arguments deleted them: sent twice, it would find them gone */
    for (size_t i = 0; i != n; ++i)
        kve_kv_rest__req_add_op(r, ops + i, 0, 0, sc.staged == 0 && kve_kv_rest__cmd_is_safe(ops[i].cmd));
    free(cmds);
    kve_kv_rest__push_ready(link, r);
    return 0;
}

/* the results of a transaction sent as a script: its reply is one array of tagged results (kv_rest_codec.h) */
static void complete_tx_results(rest_req_t *r, const kve_kv_reply_t *reply)
{
    kve_kv_batch_t *waiting = r->sync_waiting;

    r->sync_waiting = NULL;
    for (size_t i = 0; i != r->n; ++i) {
        kve_kv_reply_t scratch;
        const kve_kv_reply_t *v;
        if (kve_rest_decode_tx_result(reply, i, &scratch, &v) == 0)
            kve_kv__complete(r->ops[i], 0, v);
        else
            kve_kv__complete(r->ops[i], KVE_EPROTO, NULL);
    }
    kve_kv_rest__sync_answer_now(r->link, waiting, 1);
    kve_kv_rest__req_free(r);
}

void kve_kv_rest__complete_tx(rest_req_t *r)
{
    size_t limit = kve_kv__max_reply_size(r->ops[0]->batch); /* the results share the batch's bound (kv.h) */
    kve_rest_entry_t e;

    if (kve_rest_decode_entries(r->resp.base, r->resp.len, 1, &limit, &e) != 0) {
        KVE_STAT_ADD(r->link->super.stats->pipeline_errors, 1);
        kve_kv_rest__req_finish(r, KVE_EPROTO, NULL);
        return;
    }
    if (e.err != 0) {
        kve_kv_rest__req_finish(r, e.err, NULL);
    } else if (e.reply->type == KVE_REPLY_ERROR) { /* the script did not run (refused, or the store cannot run it) */
        kve_kv__set_abort_reply(r->ops[0]->batch, e.reply);
        kve_kv_rest__req_finish(r, KVE_EABORTED, NULL);
    } else if (e.reply->type == KVE_REPLY_TOO_BIG) {
        kve_kv_rest__req_finish(r, 0, e.reply);
    } else if (e.reply->type != KVE_REPLY_ARRAY || e.reply->elements != r->n) {
        kve_kv_rest__req_finish(r, KVE_EPROTO, NULL);
    } else {
        complete_tx_results(r, e.reply);
    }
    kve_rest_reply_free(e.reply);
}
