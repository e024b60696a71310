/* SPDX-License-Identifier: MIT */
/*
 * The keys page's APIs (issue 13; docs/console.md "Keys"): browse and edit the data of a store through the console
 * session. The client never names a command: it names a store, a key, a page and, for a change, an operation of a fixed
 * table (console_kv_edit.c) that maps to one command. Reads: SCAN (never KEYS) with a pattern and cursor paging, TYPE
 * and PTTL of every key of a page in one pipelined batch, and per type a paged view (GETRANGE, HSCAN, LRANGE, SSCAN,
 * ZRANGE, XRANGE). Read-only sessions use the store's read-only link when it has one; their changes are refused by the
 * router (KVE_CONSOLE_WRITE) before a handler runs.
 *
 * Requests are application/x-www-form-urlencoded (the query string of a GET, the body of a POST), so any byte of a key
 * or value (NUL, non-UTF-8) travels as %XX; answers write byte strings as console_kv_codec.h says.
 */
#ifndef KVE_HANDLERS_CONSOLE_KV_H
#define KVE_HANDLERS_CONSOLE_KV_H

#include "handlers/console_routes.h"

/** The most bytes one store reply of the keys page may take while it is read (a page of keys or items). */
#define KVE_CONSOLE_KV_MAX_REPLY (16 * 1024 * 1024)
/** The longest body of a change (a value of KVE_CONSOLE_KV_MAX_VALUE bytes, every byte %XX, and the other fields). */
#define KVE_CONSOLE_KV_MAX_BODY (3 * (512 * 1024) + 64 * 1024)

/** GET api/kv/stores: {"stores":[{"name","kv"}],"default":NAME,"read_only":bool,"limits":{...}} */
void kve_console_kv_stores(kve_console_call_t *call);
/** GET api/kv/keys?store&pattern&cursor&count&type: a SCAN page with each key's type and TTL */
void kve_console_kv_keys(kve_console_call_t *call);
/** GET api/kv/key?store&key&cursor&count: one key, its TTL, length, and a page of its contents */
void kve_console_kv_key(kve_console_call_t *call);
/** POST api/kv/change (KVE_CONSOLE_WRITE): op=<set|hset|...|expire|persist|delete>, key, and the op's fields */
void kve_console_kv_change(kve_console_call_t *call);

#endif
