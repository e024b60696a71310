/* SPDX-License-Identifier: MIT */
/* The sessions' Lua scripts (see session_script.h). */
#include "handlers/session_script.h"

#include <pthread.h>
#include <string.h>

static const char load_lua[] =
    "local k = KEYS[1]\n"
    "local s = redis.call('HGETALL', k)\n"
    /* a renewed handle in its grace window (RENEW's forwarder): the session lives on at `nxt`, on the same slot; one hop */
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

static const char create_lua[] =
    "local total = 0\n"
    "for i = 9, #ARGV, 2 do total = total + #ARGV[i] + #ARGV[i + 1] end\n"
    "if total > tonumber(ARGV[5]) then return redis.error_reply('ERR session data too large') end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('ERR session exists') end\n"
    "local f = {'v', '1', 'crt', ARGV[1], 'abs', ARGV[2], 'last', ARGV[1], 'ver', '1'}\n"
    "if ARGV[4] ~= '' then\n"
    "  f[#f + 1] = 'uid'; f[#f + 1] = ARGV[4]; f[#f + 1] = 'auth'; f[#f + 1] = ARGV[1]\n"
    "end\n"
    "if ARGV[7] ~= '' then f[#f + 1] = 'ua'; f[#f + 1] = ARGV[7] end\n"
    "if ARGV[8] ~= '' then f[#f + 1] = 'ip'; f[#f + 1] = ARGV[8] end\n"
    "for i = 9, #ARGV, 2 do\n"
    "  if ARGV[i + 1] ~= '' then f[#f + 1] = 'd:' .. ARGV[i]; f[#f + 1] = ARGV[i + 1] end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], unpack(f))\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
    "if KEYS[2] == nil then return 1 end\n"
    /* the user's index: prune the ended members, add this one, evict the oldest past max_sessions (never this one) */
    "local h = string.sub(KEYS[1], -64)\n"
    "local prefix = string.sub(KEYS[1], 1, #KEYS[1] - 64)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])\n"
    "local m = redis.call('ZRANGE', KEYS[2], 0, -1)\n"
    "local live = {}\n"
    "for i = 1, #m do\n"
    "  if redis.call('EXISTS', prefix .. m[i]) == 1 then live[#live + 1] = m[i] else redis.call('ZREM', KEYS[2], m[i]) end\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], ARGV[2], h)\n"
    "local max, n = tonumber(ARGV[6]), #live + 1\n"
    "for i = 1, #live do\n"
    "  if max == 0 or n <= max then break end\n"
    "  redis.call('DEL', prefix .. live[i]); redis.call('ZREM', KEYS[2], live[i]); n = n - 1\n"
    "end\n"
    "local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')\n"
    "redis.call('PEXPIREAT', KEYS[2], top[2])\n"
    "return 1\n";

static const char patch_lua[] =
    "local key = KEYS[1]\n"
    "local s = redis.call('HGETALL', key)\n"
    /* a handle renewed after this request's LOAD: the session moved (RENEW's forwarder), on the same slot */
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

/* a handle renewed after the caller's LOAD is a forwarder (RENEW): the session it names (same slot) ends with it */
static const char destroy_lua[] = "local nxt = redis.call('HGET', KEYS[1], 'nxt')\n"
                                  "redis.call('DEL', KEYS[1])\n"
                                  "if nxt then redis.call('DEL', nxt) end\n"
                                  "if KEYS[2] ~= nil then\n"
                                  "  redis.call('ZREM', KEYS[2], string.sub(KEYS[1], -64))\n"
                                  "  if nxt then redis.call('ZREM', KEYS[2], string.sub(nxt, -64)) end\n"
                                  "end\n"
                                  "return 1\n";

static const char revoke_all_lua[] = "local prefix = string.sub(KEYS[2], 1, #KEYS[2] - 64)\n"
                                     "local m = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
                                     "for i = 1, #m do redis.call('DEL', prefix .. m[i]) end\n"
                                     "redis.call('DEL', KEYS[2], KEYS[1])\n"
                                     "return #m\n";

static const char list_lua[] = "local prefix = string.sub(KEYS[2], 1, #KEYS[2] - 64)\n"
                               "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])\n"
                               "local m = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
                               "local out = {}\n"
                               "for i = 1, #m do\n"
                               "  local f = redis.call('HMGET', prefix .. m[i], 'crt', 'last', 'auth', 'ua', 'ip')\n"
                               "  if f[1] then\n"
                               "    out[#out + 1] = m[i]\n"
                               "    for j = 1, 5 do out[#out + 1] = f[j] or '' end\n"
                               "  else redis.call('ZREM', KEYS[1], m[i]) end\n"
                               "end\n"
                               "return out\n";

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
    kve_kv_script_init(&scripts.destroy, destroy_lua, strlen(destroy_lua));
    kve_kv_script_init(&scripts.revoke_all, revoke_all_lua, strlen(revoke_all_lua));
    kve_kv_script_init(&scripts.list, list_lua, strlen(list_lua));
    kve_kv_script_init(&scripts.renew, renew_lua, strlen(renew_lua));
    kve_kv_script_init(&scripts.rotate, rotate_lua, strlen(rotate_lua));
}

const kve_session_scripts_t *kve_session_scripts(void)
{
    pthread_once(&once, init);
    return &scripts;
}
