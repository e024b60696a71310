/* SPDX-License-Identifier: MIT */
/*
 * Driver-neutral half of the KV interface: command records, per-command timeouts and counters. Timeouts
 * use h2o's fixed-duration timeout lists, one per distinct duration (a handful at most), so linking a
 * command costs O(1). A command's record lives until the driver completes it, even after its callback
 * ran for a timeout, so a late reply always finds valid memory and is dropped (and does not tell the
 * driver the link is healthy). Groups (kv.h) time out together and count once towards the breaker.
 */
#include "proxy/kv.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/kv_internal.h"

#include <strings.h>

void kve_kv__init(kve_kv_t *kv, const kve_kv_driver_t *driver, h2o_loop_t *loop, uint64_t default_timeout_ms)
{
    kv->magic = KVE_KV_MAGIC;
    kv->driver = driver;
    kv->loop = loop;
    kv->default_timeout_ms = default_timeout_ms;
    kv->stats.state = KVE_KV_DOWN;
}

#define MAX_FREE_CMDS 1024

static kve_kv_cmd_t *alloc_cmd(kve_kv_t *kv)
{
    kve_kv_cmd_t *cmd = kv->free_cmds;
    if (cmd == NULL)
        return kve_malloc(sizeof(*cmd));
    kv->free_cmds = cmd->data;
    --kv->num_free_cmds;
    return cmd;
}

static void free_cmd(kve_kv_t *kv, kve_kv_cmd_t *cmd)
{
    cmd->magic = 0;
    if (kv->num_free_cmds == MAX_FREE_CMDS) {
        free(cmd);
        return;
    }
    cmd->data = kv->free_cmds; /* the free list is linked through `data` */
    kv->free_cmds = cmd;
    ++kv->num_free_cmds;
}

void kve_kv__dispose(kve_kv_t *kv)
{
    size_t i;
    KVE_ASSERT(KVE_STAT_GET(kv->stats.inflight) == 0);
    while (kv->free_cmds != NULL) {
        kve_kv_cmd_t *next = kv->free_cmds->data;
        free(kv->free_cmds);
        kv->free_cmds = next;
    }
    for (i = 0; i != kv->num_timeouts; ++i)
        h2o_timeout_dispose(kv->loop, &kv->timeouts[i].timeout);
    kv->num_timeouts = 0;
    kv->magic = 0;
}

static h2o_timeout_t *timeout_class(kve_kv_t *kv, uint64_t ms)
{
    size_t i;
    for (i = 0; i != kv->num_timeouts; ++i)
        if (kv->timeouts[i].ms == ms)
            return &kv->timeouts[i].timeout;
    if (kv->num_timeouts == KVE_KV_MAX_TIMEOUT_CLASSES)
        return NULL;
    kv->timeouts[i].ms = ms;
    h2o_timeout_init(kv->loop, &kv->timeouts[i].timeout, ms);
    ++kv->num_timeouts;
    return &kv->timeouts[i].timeout;
}

/* --- groups: a doubly linked list through the records, for the commands whose callback is due --- */

static void group_add(kve_kv_group_t *group, kve_kv_cmd_t *cmd)
{
    cmd->group = group;
    if ((cmd->group_next = group->_waiting) != NULL)
        cmd->group_next->group_prev = &cmd->group_next;
    cmd->group_prev = &group->_waiting;
    group->_waiting = cmd;
}

static void group_remove(kve_kv_cmd_t *cmd)
{
    if (cmd->group == NULL)
        return;
    if ((*cmd->group_prev = cmd->group_next) != NULL)
        cmd->group_next->group_prev = cmd->group_prev;
    cmd->group = NULL;
}

/* the caller's interest in `cmd` ends with a timeout: its callback runs now, a reply that still comes is late;
 * returns the bit (1 << KVE_KV_SCRIPT_*) of a script it runs, else 0 */
static unsigned expire(kve_kv_cmd_t *cmd)
{
    kve_kv_cb cb = cmd->cb;
    unsigned script = cmd->script != KVE_KV_SCRIPT_NONE ? 1u << cmd->script : 0;
    if (cb == NULL) /* cancelled meanwhile */
        return script;
    if (h2o_timeout_is_linked(&cmd->timeout_entry))
        h2o_timeout_unlink(&cmd->timeout_entry);
    cmd->cb = NULL; /* the record stays until the driver completes it */
    cmd->timed_out = 1;
    KVE_STAT_ADD(cmd->kv->stats.timeouts, 1);
    cb(cmd->data, KVE_ETIMEDOUT, NULL);
    return script;
}

/*
 * A command timed out, and with it every command of its group still waiting. Their records are taken off
 * the group first (callbacks may end the caller, and the group's memory with it) and stay valid while the
 * callbacks run: only the driver frees a record, and nothing here hands control to it before the end.
 */
static void on_command_timeout(h2o_timeout_entry_t *entry)
{
    kve_kv_cmd_t *cmd = H2O_STRUCT_FROM_MEMBER(kve_kv_cmd_t, timeout_entry, entry), *next;
    kve_kv_t *kv = cmd->kv;
    kve_kv_group_t *group = cmd->group;
    int counts = 1;
    unsigned scripts = 0;

    KVE_CHECK_OBJ(cmd, KVE_KV_CMD_MAGIC);
    if (group != NULL) {
        counts = !group->_timed_out;
        group->_timed_out = 1;
        cmd = group->_waiting; /* includes the one whose timer fired */
        group->_waiting = NULL;
        for (next = cmd; next != NULL; next = next->group_next)
            next->group = NULL;
    } else {
        cmd->group_next = NULL;
    }
    for (; cmd != NULL; cmd = next) {
        next = cmd->group_next;
        scripts |= expire(cmd);
    }
    /* a script that outlived its caller would hold the store for everyone: stop it (Redis runs one at a time) */
    for (int kind = KVE_KV_SCRIPT_EVAL; kind <= KVE_KV_SCRIPT_FUNCTION; ++kind)
        if ((scripts & (1u << kind)) != 0 && kv->driver->kill_script != NULL)
            kv->driver->kill_script(kv, kind);
    if (counts)
        kv->driver->on_timeout(kv); /* may drop the link, which completes (and frees) the records */
}

kve_kv_cmd_t *kve_kv_command(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, const kve_kv_opts_t *opts,
                             kve_kv_cb cb, void *data, int *err)
{
    static const kve_kv_opts_t defaults = {0};
    kve_kv_cmd_t *cmd;
    h2o_timeout_t *timeout;
    int ret;

    KVE_CHECK_OBJ(kv, KVE_KV_MAGIC);
    KVE_ASSERT(argc != 0 && cb != NULL);
    if (opts == NULL)
        opts = &defaults;
    if (kv->closing) {
        *err = KVE_ESHUTDOWN;
        return NULL;
    }
    if ((timeout = timeout_class(kv, opts->timeout_ms != 0 ? opts->timeout_ms : kv->default_timeout_ms)) == NULL) {
        *err = KVE_EINVAL; /* more distinct timeouts than classes: a programming error in a handler */
        return NULL;
    }
    cmd = alloc_cmd(kv); /* field by field: a compound literal would also zero what is set below */
    cmd->magic = KVE_KV_CMD_MAGIC;
    cmd->timed_out = 0;
    cmd->kv = kv;
    cmd->cb = cb;
    cmd->data = data;
    cmd->max_reply_size = opts->max_reply_size;
    cmd->split_array = opts->split_array;
    cmd->script = kve_kv_script_kind(argv[0], argvlen[0]);
    cmd->group = NULL;
    memset(&cmd->timeout_entry, 0, sizeof(cmd->timeout_entry));
    if ((ret = kv->driver->send(kv, cmd, argc, argv, argvlen)) != 0) {
        KVE_STAT_ADD(kv->stats.failures, 1);
        free_cmd(kv, cmd);
        *err = ret;
        return NULL;
    }
    if (opts->group != NULL)
        group_add(opts->group, cmd);
    cmd->timeout_entry.cb = on_command_timeout;
    h2o_timeout_link(kv->loop, timeout, &cmd->timeout_entry);
    KVE_STAT_ADD(kv->stats.commands, 1);
    KVE_STAT_ADD(kv->stats.inflight, 1);
    return cmd;
}

void kve_kv_cancel(kve_kv_cmd_t *cmd)
{
    KVE_CHECK_OBJ(cmd, KVE_KV_CMD_MAGIC);
    cmd->cb = NULL;
    group_remove(cmd);
    if (h2o_timeout_is_linked(&cmd->timeout_entry))
        h2o_timeout_unlink(&cmd->timeout_entry);
}

void kve_kv__complete(kve_kv_cmd_t *cmd, int err, const kve_kv_reply_t *reply)
{
    kve_kv_t *kv = cmd->kv;
    kve_kv_cb cb = cmd->cb;
    void *data = cmd->data;
    int late = cmd->timed_out;

    KVE_CHECK_OBJ(cmd, KVE_KV_CMD_MAGIC);
    if (h2o_timeout_is_linked(&cmd->timeout_entry))
        h2o_timeout_unlink(&cmd->timeout_entry);
    group_remove(cmd);
    free_cmd(kv, cmd);
    KVE_STAT_ADD(kv->stats.inflight, (uint64_t)-1);
    if (err == 0) {
        KVE_STAT_ADD(kv->stats.replies, 1);
        if (reply->type == KVE_REPLY_ERROR)
            KVE_STAT_ADD(kv->stats.error_replies, 1);
        if (late)
            KVE_STAT_ADD(kv->stats.late_replies, 1);
        else
            kv->driver->on_reply(kv);
    } else if (cb != NULL) {
        KVE_STAT_ADD(kv->stats.failures, 1);
        if (kv->closing)
            err = KVE_ESHUTDOWN;
    }
    if (cb != NULL)
        cb(data, err, reply);
}

void kve_kv__set_state(kve_kv_t *kv, int state)
{
    KVE_STAT_SET(kv->stats.state, state);
}

void kve_kv_get_stats(const kve_kv_t *kv, kve_kv_stats_t *out)
{
    out->commands = KVE_STAT_GET(kv->stats.commands);
    out->replies = KVE_STAT_GET(kv->stats.replies);
    out->error_replies = KVE_STAT_GET(kv->stats.error_replies);
    out->timeouts = KVE_STAT_GET(kv->stats.timeouts);
    out->late_replies = KVE_STAT_GET(kv->stats.late_replies);
    out->failures = KVE_STAT_GET(kv->stats.failures);
    out->reconnects = KVE_STAT_GET(kv->stats.reconnects);
    out->inflight = KVE_STAT_GET(kv->stats.inflight);
    out->state = KVE_STAT_GET(kv->stats.state);
}

kve_kv_stream_t *kve_kv_stream_open(kve_kv_t *kv, size_t argc, const char *const *argv, const size_t *argvlen, kve_kv_stream_cb cb,
                                    void *data, int *err)
{
    KVE_CHECK_OBJ(kv, KVE_KV_MAGIC);
    if (kv->closing) {
        *err = KVE_ESHUTDOWN;
        return NULL;
    }
    return kv->driver->stream_open(kv, argc, argv, argvlen, cb, data, err);
}

void kve_kv_stream_close(kve_kv_stream_t *stream)
{
    /* every stream starts with a pointer to its link (drivers keep that layout) */
    kve_kv_t *kv = *(kve_kv_t **)stream;
    kv->driver->stream_close(stream);
}

void kve_kv_destroy(kve_kv_t *kv)
{
    KVE_CHECK_OBJ(kv, KVE_KV_MAGIC);
    kv->closing = 1;
    kv->driver->destroy(kv); /* completes what is queued, then kve_kv__dispose and free */
}

int kve_kv_script_kind(const char *name, size_t len)
{
    if (len < 4)
        return KVE_KV_SCRIPT_NONE;
    /* first a cheap look at the first byte: every command passes here */
    switch (name[0] | 0x20) {
    case 'e':
        if ((len == 4 && strncasecmp(name, "eval", 4) == 0) || (len == 7 && strncasecmp(name, "evalsha", 7) == 0) ||
            (len == 7 && strncasecmp(name, "eval_ro", 7) == 0) || (len == 10 && strncasecmp(name, "evalsha_ro", 10) == 0))
            return KVE_KV_SCRIPT_EVAL;
        return KVE_KV_SCRIPT_NONE;
    case 'f':
        if ((len == 5 && strncasecmp(name, "fcall", 5) == 0) || (len == 8 && strncasecmp(name, "fcall_ro", 8) == 0))
            return KVE_KV_SCRIPT_FUNCTION;
        return KVE_KV_SCRIPT_NONE;
    default:
        return KVE_KV_SCRIPT_NONE;
    }
}
