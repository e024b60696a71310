/* SPDX-License-Identifier: MIT */
/* The sessions' Lua scripts (see session_script.h). */
#include "handlers/session_script.h"

#include <pthread.h>
#include <string.h>

static const char load_lua[] =
    "local k = KEYS[1]\n"
    "local s = redis.call('HGETALL', k)\n"
    /* a renewed handle in its grace window (RENEW's stub): the session lives on at `nxt`, on the same slot; one hop */
    "for i = 1, #s, 2 do if s[i] == 'nxt' then k = s[i + 1] end end\n"
    "if k ~= KEYS[1] then\n"
    "  s = redis.call('HGETALL', k)\n"
    "  for i = 1, #s, 2 do if s[i] == 'nxt' then return false end end\n"
    "end\n"
    "if #s == 0 then return false end\n"
    "local now = tonumber(ARGV[1])\n"
    "local abs, last\n"
    "for i = 1, #s, 2 do\n"
    "  if s[i] == 'abs' then abs = tonumber(s[i + 1]) elseif s[i] == 'last' then last = tonumber(s[i + 1]) end\n"
    "end\n"
    "if abs == nil or abs <= now then redis.call('DEL', k) return false end\n"
    "if last == nil or now - last >= tonumber(ARGV[3]) then\n"
    "  redis.call('HSET', k, 'last', ARGV[1])\n"
    "  redis.call('PEXPIRE', k, math.min(tonumber(ARGV[2]), abs - now))\n"
    "end\n"
    "if k ~= KEYS[1] then s[#s + 1] = '@key'; s[#s + 1] = k end\n"
    "return s\n";

static const char create_lua[] = "local total = 0\n"
                                 "for i = 6, #ARGV, 2 do total = total + #ARGV[i] + #ARGV[i + 1] end\n"
                                 "if total > tonumber(ARGV[5]) then return redis.error_reply('ERR session data too large') end\n"
                                 "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('ERR session exists') end\n"
                                 "local f = {'v', '1', 'crt', ARGV[1], 'abs', ARGV[2], 'last', ARGV[1], 'ver', '1'}\n"
                                 "if ARGV[4] ~= '' then\n"
                                 "  f[#f + 1] = 'uid'; f[#f + 1] = ARGV[4]; f[#f + 1] = 'auth'; f[#f + 1] = ARGV[1]\n"
                                 "end\n"
                                 "for i = 6, #ARGV, 2 do\n"
                                 "  if ARGV[i + 1] ~= '' then f[#f + 1] = 'd:' .. ARGV[i]; f[#f + 1] = ARGV[i + 1] end\n"
                                 "end\n"
                                 "redis.call('HSET', KEYS[1], unpack(f))\n"
                                 "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
                                 "return 1\n";

static const char patch_lua[] =
    "local key = KEYS[1]\n"
    "local s = redis.call('HGETALL', key)\n"
    /* a handle renewed after this request's LOAD: the session moved (RENEW's stub), on the same slot */
    "for i = 1, #s, 2 do if s[i] == 'nxt' then key = s[i + 1] end end\n"
    "if key ~= KEYS[1] then s = redis.call('HGETALL', key) end\n"
    "if #s == 0 then return redis.error_reply('ERR no session') end\n"
    "local f = {}\n"
    "for i = 1, #s, 2 do f[s[i]] = s[i + 1] end\n"
    "local now = tonumber(ARGV[1])\n"
    "local abs = tonumber(f['abs'])\n"
    "if abs == nil or abs <= now then redis.call('DEL', key) return redis.error_reply('ERR no session') end\n"
    "for i = 4, #ARGV, 2 do\n"
    "  if ARGV[i + 1] == '' then f['d:' .. ARGV[i]] = nil else f['d:' .. ARGV[i]] = ARGV[i + 1] end\n"
    "end\n"
    "local total = 0\n"
    "for k, v in pairs(f) do\n"
    "  if string.sub(k, 1, 2) == 'd:' then total = total + #k - 2 + #v end\n"
    "end\n"
    "if total > tonumber(ARGV[3]) then return redis.error_reply('ERR session data too large') end\n"
    "for i = 4, #ARGV, 2 do\n"
    "  if ARGV[i + 1] == '' then redis.call('HDEL', key, 'd:' .. ARGV[i])\n"
    "  else redis.call('HSET', key, 'd:' .. ARGV[i], ARGV[i + 1]) end\n"
    "end\n"
    "redis.call('HSET', key, 'last', ARGV[1])\n"
    "local ver = redis.call('HINCRBY', key, 'ver', 1)\n"
    "redis.call('PEXPIRE', key, math.min(tonumber(ARGV[2]), abs - now))\n"
    "return ver\n";

/* the handle change of RENEW and ROTATE: KEYS[1] renamed to KEYS[2] (the same slot tag: one slot), the user's index
 * member (the session's hash, the last 64 characters of its key) replaced when KEYS[3] is given and lists it */
#define MOVE_LUA                                                                                                                   \
    "local function move(now)\n"                                                                                                   \
    "  if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('ERR session exists') end\n"                            \
    "  redis.call('RENAME', KEYS[1], KEYS[2])\n"                                                                                   \
    "  redis.call('HSET', KEYS[2], 'rnw', now)\n"                                                                                  \
    "  if KEYS[3] then\n"                                                                                                          \
    "    local old, new = string.sub(KEYS[1], -64), string.sub(KEYS[2], -64)\n"                                                    \
    "    local score = redis.call('ZSCORE', KEYS[3], old)\n"                                                                       \
    "    if score then redis.call('ZREM', KEYS[3], old) redis.call('ZADD', KEYS[3], score, new) end\n"                             \
    "  end\n"                                                                                                                      \
    "end\n"                                                                                                                        \
    "local s = redis.call('HGETALL', KEYS[1])\n"                                                                                   \
    "local f = {}\n"                                                                                                               \
    "for i = 1, #s, 2 do f[s[i]] = s[i + 1] end\n"                                                                                 \
    "local now = tonumber(ARGV[1])\n"

static const char renew_lua[] =
    MOVE_LUA "if #s == 0 then return {0} end\n"
             "if f['nxt'] then return {0, f['nxt']} end\n"
             "local abs, since = tonumber(f['abs']), tonumber(f['rnw'] or f['crt'])\n"
             "if abs == nil or abs <= now or since == nil or now - since < tonumber(ARGV[2]) then return {0} end\n"
             "local err = move(ARGV[1])\n"
             "if err then return err end\n"
             "if tonumber(ARGV[3]) > 0 then\n"
             "  redis.call('HSET', KEYS[1], 'nxt', KEYS[2], 'rot', ARGV[1])\n"
             "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
             "end\n"
             "return {1}\n";

static const char rotate_lua[] =
    MOVE_LUA "local abs = tonumber(f['abs'])\n"
             "if #s == 0 or f['nxt'] or abs == nil then return redis.error_reply('ERR no session') end\n"
             "if abs <= now then redis.call('DEL', KEYS[1]) return redis.error_reply('ERR no session') end\n"
             "local err = move(ARGV[1])\n"
             "if err then return err end\n"
             "return 1\n";

static kve_session_scripts_t scripts;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    kve_kv_script_init(&scripts.load, load_lua, strlen(load_lua));
    kve_kv_script_init(&scripts.create, create_lua, strlen(create_lua));
    kve_kv_script_init(&scripts.patch, patch_lua, strlen(patch_lua));
    kve_kv_script_init(&scripts.renew, renew_lua, strlen(renew_lua));
    kve_kv_script_init(&scripts.rotate, rotate_lua, strlen(rotate_lua));
}

const kve_session_scripts_t *kve_session_scripts(void)
{
    pthread_once(&once, init);
    return &scripts;
}
