/* SPDX-License-Identifier: MIT */
/* The commands of the cache's own writes (see cache_store_cmds.h): pure builders, no I/O. */
#include "handlers/cache_store_cmds.h"
#include "proxy/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void kve_cache_cmd_arg(kve_cache_cmd_t *cmd, const char *p, size_t len)
{
    KVE_ASSERT(cmd->argc < KVE_CACHE_CMD_ARGS);
    cmd->argv[cmd->argc] = p, cmd->argvlen[cmd->argc++] = len;
}

/* the next command of `c`, empty */
static kve_cache_cmd_t *next(kve_cache_cmds_t *c)
{
    KVE_ASSERT(c->n < KVE_CACHE_CMDS_MAX);
    c->cmd[c->n].argc = 0;
    return &c->cmd[c->n++];
}

static void args2(kve_cache_cmd_t *cmd, const char *a, const char *b)
{
    kve_cache_cmd_arg(cmd, a, strlen(a)), kve_cache_cmd_arg(cmd, b, strlen(b));
}

static size_t init(kve_cache_cmds_t *c, uint64_t ttl_ms)
{
    c->n = 0;
    return (size_t)snprintf(c->_ttl, sizeof(c->_ttl), "%" PRIu64, ttl_ms);
}

void kve_cache_cmds_object(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant,
                           h2o_iovec_t index, h2o_iovec_t head, h2o_iovec_t body, uint64_t ttl_ms)
{
    size_t ttl_len = init(c, ttl_ms);
    kve_cache_cmd_t *cmd;

    kve_cache_key_name(c->_v, sizeof(c->_v), ns, primary, NULL, "v");
    kve_cache_key_name(c->_h, sizeof(c->_h), ns, primary, variant, "h");
    kve_cache_key_name(c->_b, sizeof(c->_b), ns, primary, variant, "b");
    if (variant != NULL) {
        /* the index lives as long as its longest variant: its TTL is set if it has none, extended if shorter */
        cmd = next(c), args2(cmd, "SET", c->_v), kve_cache_cmd_arg(cmd, index.base, index.len),
        kve_cache_cmd_arg(cmd, "KEEPTTL", 7);
        cmd = next(c), args2(cmd, "PEXPIRE", c->_v), kve_cache_cmd_arg(cmd, c->_ttl, ttl_len), kve_cache_cmd_arg(cmd, "NX", 2);
        cmd = next(c), args2(cmd, "PEXPIRE", c->_v), kve_cache_cmd_arg(cmd, c->_ttl, ttl_len), kve_cache_cmd_arg(cmd, "GT", 2);
        kve_cache_key_name(c->_ph, sizeof(c->_ph), ns, primary, NULL, "h");
        kve_cache_key_name(c->_pb, sizeof(c->_pb), ns, primary, NULL, "b");
        cmd = next(c), args2(cmd, "DEL", c->_ph), kve_cache_cmd_arg(cmd, c->_pb, strlen(c->_pb));
    } else {
        cmd = next(c), args2(cmd, "DEL", c->_v);
    }
    cmd = next(c), args2(cmd, "SET", c->_b), kve_cache_cmd_arg(cmd, body.base, body.len), kve_cache_cmd_arg(cmd, "PX", 2),
    kve_cache_cmd_arg(cmd, c->_ttl, ttl_len);
    cmd = next(c), args2(cmd, "SET", c->_h), kve_cache_cmd_arg(cmd, head.base, head.len), kve_cache_cmd_arg(cmd, "PX", 2),
    kve_cache_cmd_arg(cmd, c->_ttl, ttl_len);
}

void kve_cache_cmds_head(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant,
                         h2o_iovec_t head, uint64_t ttl_ms)
{
    size_t ttl_len = init(c, ttl_ms);
    kve_cache_cmd_t *cmd;

    kve_cache_key_name(c->_v, sizeof(c->_v), ns, primary, NULL, "v");
    kve_cache_key_name(c->_h, sizeof(c->_h), ns, primary, variant, "h");
    kve_cache_key_name(c->_b, sizeof(c->_b), ns, primary, variant, "b");
    cmd = next(c), args2(cmd, "SET", c->_h), kve_cache_cmd_arg(cmd, head.base, head.len), kve_cache_cmd_arg(cmd, "PX", 2),
    kve_cache_cmd_arg(cmd, c->_ttl, ttl_len);
    cmd = next(c), args2(cmd, "PEXPIRE", c->_b), kve_cache_cmd_arg(cmd, c->_ttl, ttl_len);
    if (variant != NULL)
        cmd = next(c), args2(cmd, "PEXPIRE", c->_v), kve_cache_cmd_arg(cmd, c->_ttl, ttl_len), kve_cache_cmd_arg(cmd, "GT", 2);
}

void kve_cache_cmds_invalidate(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN])
{
    kve_cache_cmd_t *cmd;

    init(c, 0);
    kve_cache_key_name(c->_v, sizeof(c->_v), ns, primary, NULL, "v");
    kve_cache_key_name(c->_h, sizeof(c->_h), ns, primary, NULL, "h");
    kve_cache_key_name(c->_b, sizeof(c->_b), ns, primary, NULL, "b");
    kve_cache_key_name(c->_s, sizeof(c->_s), ns, primary, NULL, "s");
    /* without the index no variant is reachable, and the next index gets a new generation */
    cmd = next(c), args2(cmd, "DEL", c->_v), args2(cmd, c->_h, c->_b), kve_cache_cmd_arg(cmd, c->_s, strlen(c->_s));
}

void kve_cache_cmds_purge_url(kve_cache_cmds_t *c, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN])
{
    kve_cache_cmd_t *cmd;

    init(c, 0);
    kve_cache_key_name(c->_v, sizeof(c->_v), ns, primary, NULL, "v");
    kve_cache_key_name(c->_s, sizeof(c->_s), ns, primary, NULL, "s");
    cmd = next(c), args2(cmd, "DEL", c->_v), kve_cache_cmd_arg(cmd, c->_s, strlen(c->_s));
}

void kve_cache_cmds_lock(kve_cache_cmds_t *c, const char *lock_key, const char *owner, uint64_t ttl_ms)
{
    size_t ttl_len = init(c, ttl_ms);
    kve_cache_cmd_t *cmd;

    cmd = next(c), args2(cmd, "SET", lock_key), kve_cache_cmd_arg(cmd, owner, KVE_CACHE_ID_LEN), args2(cmd, "NX", "PX"),
    kve_cache_cmd_arg(cmd, c->_ttl, ttl_len);
    cmd = next(c), args2(cmd, "GET", lock_key);
}

size_t kve_cache_cmds_to_kv(const kve_cache_cmds_t *c, kve_kv_command_t *out)
{
    for (size_t i = 0; i != c->n; ++i)
        out[i] = KVE_KV_COMMAND(c->cmd[i].argc, c->cmd[i].argv, c->cmd[i].argvlen);
    return c->n;
}
