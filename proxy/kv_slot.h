/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster's key slots: CRC16 (XMODEM) of the key, or of the part between the first '{' and the next '}'
 * when that part is not empty (a hash tag), modulo 16384. A driver routes a command to the node that serves
 * the slot of its keys; a command whose keys hash to different slots cannot go to one node (Redis' CROSSSLOT).
 * Pure functions over the caller's bytes: no state, any thread.
 */
#ifndef KVE_PROXY_KV_SLOT_H
#define KVE_PROXY_KV_SLOT_H

#include "proxy/kv_commands.h"

#include <stddef.h>
#include <stdint.h>

/** The number of slots of Redis Cluster. */
#define KVE_SLOT_COUNT 16384

/** kve_slot_of_keys()'s answers besides a slot (0 .. KVE_SLOT_COUNT - 1) */
enum {
    KVE_SLOT_NONE = -1, /* the command has no keys: any node can run it */
    KVE_SLOT_CROSS = -2 /* its keys are in more than one slot: no single node can run it */
};

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis' crc16.c; "123456789" gives 0x31c3. */
uint16_t kve_slot_crc16(const void *buf, size_t len);

/** The slot of the key `len` bytes at `key` (any bytes, NULs included), hash tags applied as Redis does. */
unsigned kve_slot_of_key(const char *key, size_t len);

/**
 * The slot shared by every key that `keys` (kve_cmd_keys() over the same argv) names, KVE_SLOT_NONE when it
 * names none, or KVE_SLOT_CROSS when they are in different slots. Reads argv only at the positions in `keys`
 * (which kve_cmd_keys() keeps below argc).
 */
int kve_slot_of_keys(const kve_cmd_keys_t *keys, const char *const *argv, const size_t *argvlen);

/** The most bytes kve_slot_tag() writes, its NUL included. */
#define KVE_SLOT_TAG_MAX 8

/**
 * The shortest string over [0-9a-z] (at most 4 characters: every slot has one) whose slot is `slot`, written into `out`
 * (KVE_SLOT_TAG_MAX bytes, NUL-terminated); returns its length. A key `prefix{<tag>}` then lands in `slot` (a cluster
 * node's marker key, kv_ack.h). A search of up to ~1.7 million CRC16s of 4 bytes: call it once per slot and keep it.
 */
size_t kve_slot_tag(unsigned slot, char *out);

#endif
