/* SPDX-License-Identifier: MIT */
/* The sessions' Lua scripts (see session_script.h). */
#include "handlers/session_script.h"

#include <pthread.h>
#include <string.h>

static const char load_lua[] =
    "local s = redis.call('HGETALL', KEYS[1])\n"
    "if #s == 0 then return false end\n"
    "local now = tonumber(ARGV[1])\n"
    "local abs, last\n"
    "for i = 1, #s, 2 do\n"
    "  if s[i] == 'abs' then abs = tonumber(s[i + 1]) elseif s[i] == 'last' then last = tonumber(s[i + 1]) end\n"
    "end\n"
    "if abs == nil or abs <= now then redis.call('DEL', KEYS[1]) return false end\n"
    "if last == nil or now - last >= tonumber(ARGV[3]) then\n"
    "  redis.call('HSET', KEYS[1], 'last', ARGV[1])\n"
    "  redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[2]), abs - now))\n"
    "end\n"
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
    "local s = redis.call('HGETALL', KEYS[1])\n"
    "if #s == 0 then return redis.error_reply('ERR no session') end\n"
    "local f = {}\n"
    "for i = 1, #s, 2 do f[s[i]] = s[i + 1] end\n"
    "local now = tonumber(ARGV[1])\n"
    "local abs = tonumber(f['abs'])\n"
    "if abs == nil or abs <= now then redis.call('DEL', KEYS[1]) return redis.error_reply('ERR no session') end\n"
    "for i = 4, #ARGV, 2 do\n"
    "  if ARGV[i + 1] == '' then f['d:' .. ARGV[i]] = nil else f['d:' .. ARGV[i]] = ARGV[i + 1] end\n"
    "end\n"
    "local total = 0\n"
    "for k, v in pairs(f) do\n"
    "  if string.sub(k, 1, 2) == 'd:' then total = total + #k - 2 + #v end\n"
    "end\n"
    "if total > tonumber(ARGV[3]) then return redis.error_reply('ERR session data too large') end\n"
    "for i = 4, #ARGV, 2 do\n"
    "  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], 'd:' .. ARGV[i])\n"
    "  else redis.call('HSET', KEYS[1], 'd:' .. ARGV[i], ARGV[i + 1]) end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'last', ARGV[1])\n"
    "local ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)\n"
    "redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[2]), abs - now))\n"
    "return ver\n";

static kve_session_scripts_t scripts;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    kve_kv_script_init(&scripts.load, load_lua, strlen(load_lua));
    kve_kv_script_init(&scripts.create, create_lua, strlen(create_lua));
    kve_kv_script_init(&scripts.patch, patch_lua, strlen(patch_lua));
}

const kve_session_scripts_t *kve_session_scripts(void)
{
    pthread_once(&once, init);
    return &scripts;
}
