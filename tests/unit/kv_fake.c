/* SPDX-License-Identifier: MIT */
/*
 * A fake driver of the KV interface for the conformance suite (test_kv_batch.c): an in-memory store of a few
 * commands (ECHO, SET, GET, INCR, BLPOP that only waits, FAIL that loses the "connection", scripts that return their
 * last argument: EVAL, EVAL_RO and, once the store has seen the body, EVALSHA, EVALSHA_RO; SCRIPT FLUSH; anything else
 * an unknown command) that answers from a 1 ms timer, completing what is due in REVERSE order of sending, so kv.c's
 * in-order delivery is exercised on every batch. Atomic batches are refused whole at "queue time" when a command
 * is unknown (EXECABORT), else applied in one step. The sync position is the number of writes applied.
 */
#include "kv_fake.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"

#include <stdio.h>
#include <strings.h>

#define MAX_KEYS 64
#define MAX_PENDING 4096

/* what is due: commands run when they are sent (a driver reads a command only in send(), kv_internal.h), their
 * results are handed over later */
struct st_pending_t {
    kve_kv_op_t *op;      /* one op, or the first of an atomic batch's */
    size_t atomic_n;      /* 0: a single op */
    kve_kv_batch_t *sync; /* a sync request instead of an op */
    uint64_t due;
    int aborted; /* atomic: refused at queue time */
    int *err;    /* per op (one for a single op) */
    kve_kv_reply_t *reply;
};

typedef struct st_fake_t {
    kve_kv_t super;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    struct st_pending_t pending[MAX_PENDING];
    size_t num_pending;
    char *keys[MAX_KEYS];
    char *values[MAX_KEYS];
    char scripts[MAX_KEYS][41]; /* the script cache: SHA1s */
    size_t num_scripts;
    uint64_t writes;
    kve_kv_fake_stats_t stats;
    int refuse_sends;
} fake_t;

static int is(const kve_kv_command_t *cmd, const char *name)
{
    return cmd->argvlen[0] == strlen(name) && strncasecmp(cmd->argv[0], name, cmd->argvlen[0]) == 0;
}

static int is_eval(const kve_kv_command_t *cmd)
{
    return (is(cmd, "EVAL") || is(cmd, "EVAL_RO") || is(cmd, "EVALSHA") || is(cmd, "EVALSHA_RO")) && cmd->argc >= 4;
}

static int known(const kve_kv_command_t *cmd)
{
    return is_eval(cmd) || (is(cmd, "SCRIPT") && cmd->argc == 2) || (is(cmd, "ECHO") && cmd->argc == 2) ||
           (is(cmd, "SET") && cmd->argc == 3) || (is(cmd, "GET") && cmd->argc == 2) || (is(cmd, "INCR") && cmd->argc == 2) ||
           (is(cmd, "BLPOP") && cmd->argc == 3) || is(cmd, "FAIL");
}

static size_t slot_of(fake_t *f, const char *key, size_t len, int create)
{
    size_t i;
    for (i = 0; i != MAX_KEYS && f->keys[i] != NULL; ++i)
        if (strlen(f->keys[i]) == len && memcmp(f->keys[i], key, len) == 0)
            return i;
    KVE_ASSERT(i != MAX_KEYS);
    if (!create)
        return SIZE_MAX;
    f->keys[i] = kve_strndup(key, len);
    return i;
}

static void reply_str(kve_kv_reply_t *r, int type, const char *s, size_t len)
{
    *r = (kve_kv_reply_t){.type = type, .len = len, .str = kve_malloc(len + 1), ._mem = KVE_KV_REPLY_OWNS_STR};
    memcpy(r->str, s, len);
    r->str[len] = '\0';
}

/* a script returns its last argument; EVALSHA needs the body seen by an EVAL before */
static void run_script(fake_t *f, const kve_kv_command_t *cmd, kve_kv_reply_t *r)
{
    size_t i;

    if (cmd->argvlen[0] >= 7 && strncasecmp(cmd->argv[0], "EVALSHA", 7) == 0) {
        for (i = 0; i != f->num_scripts; ++i)
            if (cmd->argvlen[1] == 40 && memcmp(f->scripts[i], cmd->argv[1], 40) == 0)
                break;
        if (i == f->num_scripts) {
            reply_str(r, KVE_REPLY_ERROR, KVE_STRLIT("NOSCRIPT No matching script. Please use EVAL."));
            return;
        }
    } else if (f->num_scripts != MAX_KEYS) {
        kve_kv_script_t s;
        kve_kv_script_init(&s, cmd->argv[1], cmd->argvlen[1]);
        memcpy(f->scripts[f->num_scripts++], s.sha, 41);
    }
    reply_str(r, KVE_REPLY_STRING, cmd->argv[cmd->argc - 1], cmd->argvlen[cmd->argc - 1]);
}

/* runs `cmd` on the store; returns 0 with *r set (free its string with free_reply), or a KVE_E* */
static int run(fake_t *f, const kve_kv_command_t *cmd, kve_kv_reply_t *r)
{
    size_t i;
    char buf[32];

    if (is(cmd, "FAIL"))
        return KVE_ECONN;
    if (!known(cmd)) {
        reply_str(r, KVE_REPLY_ERROR, KVE_STRLIT("ERR unknown command"));
    } else if (is_eval(cmd)) {
        run_script(f, cmd, r);
    } else if (is(cmd, "SCRIPT")) { /* FLUSH */
        f->num_scripts = 0;
        reply_str(r, KVE_REPLY_STATUS, KVE_STRLIT("OK"));
    } else if (is(cmd, "ECHO")) {
        reply_str(r, KVE_REPLY_STRING, cmd->argv[1], cmd->argvlen[1]);
    } else if (is(cmd, "BLPOP")) {
        *r = (kve_kv_reply_t){.type = KVE_REPLY_NIL};
    } else if (is(cmd, "GET")) {
        if ((i = slot_of(f, cmd->argv[1], cmd->argvlen[1], 0)) == SIZE_MAX || f->values[i] == NULL)
            *r = (kve_kv_reply_t){.type = KVE_REPLY_NIL};
        else
            reply_str(r, KVE_REPLY_STRING, f->values[i], strlen(f->values[i]));
    } else if (is(cmd, "SET")) {
        i = slot_of(f, cmd->argv[1], cmd->argvlen[1], 1);
        free(f->values[i]);
        f->values[i] = kve_strndup(cmd->argv[2], cmd->argvlen[2]);
        ++f->writes;
        reply_str(r, KVE_REPLY_STATUS, KVE_STRLIT("OK"));
    } else { /* INCR */
        long long v;
        i = slot_of(f, cmd->argv[1], cmd->argvlen[1], 1);
        v = f->values[i] != NULL ? strtoll(f->values[i], NULL, 10) + 1 : 1;
        free(f->values[i]);
        snprintf(buf, sizeof(buf), "%lld", v);
        f->values[i] = kve_strdup(buf);
        ++f->writes;
        *r = (kve_kv_reply_t){.type = KVE_REPLY_INTEGER, .integer = v};
    }
    return 0;
}

static void free_reply(kve_kv_reply_t *r)
{
    if ((r->_mem & KVE_KV_REPLY_OWNS_STR) != 0) /* not when the callback took it */
        free(r->str);
}

/* runs the commands of `p` now (applied at once, or not at all when an atomic batch has an unknown command) */
static void run_pending(fake_t *f, struct st_pending_t *p)
{
    size_t i, n = KVE_MAX(p->atomic_n, 1);

    p->err = kve_malloc(sizeof(*p->err) * n);
    p->reply = kve_malloc(sizeof(*p->reply) * n);
    for (i = 0; p->atomic_n != 0 && i != n; ++i)
        if (!known(p->op[i].cmd))
            p->aborted = 1;
    for (i = 0; i != n; ++i)
        p->err[i] = p->aborted ? KVE_EABORTED : run(f, p->op[i].cmd, p->reply + i);
}

/* hands the results over, the last first */
static void complete_pending(fake_t *f, struct st_pending_t *p, int fail)
{
    size_t i, n = KVE_MAX(p->atomic_n, 1);

    if (p->aborted && !fail) {
        kve_kv_reply_t e = {.type = KVE_REPLY_ERROR, .len = 19, .str = (char *)"ERR unknown command"};
        kve_kv__set_abort_reply(p->op[0].batch, &e);
    }
    for (i = n; i-- != 0;) {
        int err = fail ? KVE_ECONN : p->err[i];
        kve_kv__complete(p->op + i, err, err == 0 ? p->reply + i : NULL);
    }
    for (i = 0; i != n; ++i)
        if (p->err[i] == 0)
            free_reply(p->reply + i);
    f->stats.completed += n;
    free(p->err);
    free(p->reply);
}

static void arm(fake_t *f)
{
    if (!h2o_timeout_is_linked(&f->tick_entry))
        h2o_timeout_link(f->super.loop, &f->tick, &f->tick_entry);
}

/* completes everything due, the last sent first */
static void on_tick(h2o_timeout_entry_t *entry)
{
    fake_t *f = H2O_STRUCT_FROM_MEMBER(fake_t, tick_entry, entry);
    uint64_t now = h2o_now(f->super.loop);
    size_t i;

    for (i = f->num_pending; i-- != 0;) {
        struct st_pending_t p = f->pending[i];
        if (p.due > now)
            continue;
        memmove(f->pending + i, f->pending + i + 1, sizeof(p) * (f->num_pending - i - 1));
        --f->num_pending;
        if (p.sync != NULL)
            kve_kv__sync_done(p.sync, 1, f->writes);
        else
            complete_pending(f, &p, 0);
        i = KVE_MIN(i, f->num_pending); /* callbacks may have queued more */
    }
    if (f->num_pending != 0)
        arm(f);
}

static void push(fake_t *f, struct st_pending_t p)
{
    KVE_ASSERT(f->num_pending != MAX_PENDING);
    if (p.sync == NULL)
        run_pending(f, &p);
    f->pending[f->num_pending++] = p;
    arm(f);
}

static uint64_t due_of(fake_t *f, const kve_kv_command_t *cmd)
{
    uint64_t delay = 0;
    if (is(cmd, "BLPOP"))
        delay = (uint64_t)(strtod(cmd->argv[2], NULL) * 1000);
    return h2o_now(f->super.loop) + delay;
}

static int fake_send(kve_kv_t *kv, kve_kv_op_t *op)
{
    fake_t *f = (void *)kv;
    if (f->refuse_sends)
        return KVE_EUNAVAIL;
    ++f->stats.sent;
    push(f, (struct st_pending_t){op, 0, NULL, due_of(f, op->cmd)});
    return 0;
}

static int fake_send_atomic(kve_kv_t *kv, kve_kv_op_t *ops, size_t n)
{
    fake_t *f = (void *)kv;
    if (f->refuse_sends)
        return KVE_EUNAVAIL;
    f->stats.sent += n;
    ++f->stats.atomic;
    push(f, (struct st_pending_t){ops, n, NULL, h2o_now(kv->loop)});
    return 0;
}

static void fake_sync(kve_kv_t *kv, kve_kv_batch_t *batch)
{
    fake_t *f = (void *)kv;
    ++f->stats.syncs;
    push(f, (struct st_pending_t){NULL, 0, batch, h2o_now(kv->loop)});
}

static void fake_on_timeout(kve_kv_t *kv)
{
    ++((fake_t *)kv)->stats.timeouts_counted;
}

static void fake_on_reply(kve_kv_t *kv)
{
}

static void fake_destroy(kve_kv_t *kv)
{
    fake_t *f = (void *)kv;
    size_t i;

    /* the transport closes: everything still queued fails (kv.c reports KVE_ESHUTDOWN while closing) */
    while (f->num_pending != 0) {
        struct st_pending_t p = f->pending[--f->num_pending];
        if (p.sync != NULL)
            kve_kv__sync_done(p.sync, 0, 0);
        else
            complete_pending(f, &p, 1);
    }
    if (h2o_timeout_is_linked(&f->tick_entry))
        h2o_timeout_unlink(&f->tick_entry);
    h2o_timeout_dispose(kv->loop, &f->tick);
    for (i = 0; i != MAX_KEYS; ++i) {
        free(f->keys[i]);
        free(f->values[i]);
    }
    kve_kv__dispose(kv);
    free(f);
}

static kve_kv_stream_t *fake_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen,
                                         kve_kv_stream_cb cb, void *data, int *err)
{
    *err = KVE_EINVAL;
    return NULL;
}

static void fake_stream_close(kve_kv_stream_t *stream)
{
}

static const kve_kv_driver_t fake_driver = {"fake",        fake_send,    fake_send_atomic, fake_sync,         fake_on_timeout,
                                            fake_on_reply, fake_destroy, fake_stream_open, fake_stream_close, NULL};

kve_kv_t *kve_kv_fake_create(h2o_loop_t *loop, uint64_t default_timeout_ms)
{
    fake_t *f = kve_zalloc(sizeof(*f));
    kve_kv__init(&f->super, &fake_driver, loop, default_timeout_ms);
    h2o_timeout_init(loop, &f->tick, 1);
    f->tick_entry.cb = on_tick;
    kve_kv__set_state(&f->super, KVE_KV_UP);
    return &f->super;
}

void kve_kv_fake_get_stats(kve_kv_t *kv, kve_kv_fake_stats_t *out)
{
    *out = ((fake_t *)kv)->stats;
}

void kve_kv_fake_refuse_sends(kve_kv_t *kv, int refuse)
{
    ((fake_t *)kv)->refuse_sends = refuse;
}
