/* SPDX-License-Identifier: MIT */
/*
 * Cache tags (surrogate keys) of stored objects, and the sets in KV that find an object by tag, by route and by URL.
 * Pure: parsing, key and member names, and the commands that add an object to its sets; no I/O.
 *
 * The origin names an object's tags in the route's `tag_header` (Fastly's `Surrogate-Key`, space-separated, by
 * default; a field whose name ends in "cache-tag", such as Cloudflare's `Cache-Tag`, Akamai's `Edge-Cache-Tag` or
 * Vercel's `Vercel-Cache-Tag`, is comma-separated). The field is never passed to clients. A response whose tags
 * break a limit (more than KVE_CACHE_MAX_TAGS distinct tags, a tag longer than KVE_CACHE_TAG_MAX_LEN, the field's
 * lines longer than KVE_CACHE_TAG_FIELD_MAX together or more than 16 of them, a control byte) is not stored: storing it without
 * some of its tags would make a purge by those tags miss it.
 *
 * Sets (every one with a TTL that covers its longest member: PEXPIRE NX then GT, as the variant index):
 * - "<ns>kvc1:t:{<hash of the tag>}"   the objects tagged with it (purge by tag);
 * - "<ns>kvc1:r:{<hash of the route path>}"  every object of the route (the implicit route tag: purge a route);
 * - "<ns>kvc1:{<P>}:s"   the variants of a URL that varies (purge a URL, soft or hard), under the URL's own hash tag.
 * A member is an object's identity: "<P hex>" (the URL's own object) or "<P hex>:<V hex>" (a variant), enough to name
 * its head and body keys (cache_record.h). A tag or route set is in its own Redis Cluster slot, never the object's:
 * on Cluster a purge reads the set, then deletes object by object in each object's slot (handlers/cache_purge.c), and
 * a store adds the object to its sets before it writes the object (a set member whose object is missing is harmless: a
 * purge skips it; an object missing from its sets could not be purged). On one Redis the object and its set entries
 * are written in ONE atomic batch (handlers/cache_store.c, kve_cache__send_store).
 */
#ifndef KVE_HANDLERS_CACHE_TAGS_H
#define KVE_HANDLERS_CACHE_TAGS_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"
#include "handlers/cache_key.h"
#include "proxy/buf.h"
#include "proxy/kv.h"

/** The most distinct tags one response may carry. */
#define KVE_CACHE_MAX_TAGS 128
/** The longest tag, in bytes. */
#define KVE_CACHE_TAG_MAX_LEN 256
/** The most bytes of the tag field's lines together (Fastly's limit for Surrogate-Key). */
#define KVE_CACHE_TAG_FIELD_MAX 16384
/** Bytes of a set key name (namespace up to 64 bytes) and of a member, NUL included. */
#define KVE_CACHE_SET_KEY_MAX 128
#define KVE_CACHE_MEMBER_MAX (2 * KVE_CACHE_HASH_HEX + 2)

/** Why a tag field is refused (kve_cache_tags_parse). */
typedef enum en_kve_cache_tags_err_t {
    KVE_CACHE_TAGS_OK = 0,
    KVE_CACHE_TAGS_TOO_MANY,   /* more than KVE_CACHE_MAX_TAGS distinct tags */
    KVE_CACHE_TAGS_TOO_LONG,   /* a tag longer than KVE_CACHE_TAG_MAX_LEN */
    KVE_CACHE_TAGS_FIELD_SIZE, /* the lines longer than KVE_CACHE_TAG_FIELD_MAX together */
    KVE_CACHE_TAGS_BAD_BYTE    /* a control byte (other than HTAB) or DEL */
} kve_cache_tags_err_t;

/** Whether field `name` lists its tags with commas (a name ending in "cache-tag", any case) rather than spaces. */
int kve_cache_tags_comma(const char *name, size_t len);

/**
 * Parses the `n` lines `values` of a tag field (`comma`: comma-separated, items trimmed of spaces and tabs; else
 * separated by spaces and tabs) and appends the distinct non-empty tags to `out`, joined by '\n' (the stored form,
 * kept in the head record). Returns KVE_CACHE_TAGS_OK with *count set, or the reason it refused (then `out` may hold
 * part of the list: the caller drops it).
 */
kve_cache_tags_err_t kve_cache_tags_parse(const h2o_iovec_t *values, size_t n, int comma, kve_buf_t *out, size_t *count);

/** The Cache-Status `detail` for `err` ("tags-too-many", ...). */
const char *kve_cache_tags_strerror(kve_cache_tags_err_t err);

/** The next tag of a stored list from `*pos` (0 at the start): 1 with `*tag` (pointing into `list`), or 0 at the end. */
int kve_cache_tags_next(h2o_iovec_t list, size_t *pos, h2o_iovec_t *tag);

/** Set kinds of kve_cache_set_key(). */
#define KVE_CACHE_SET_TAG 't'
#define KVE_CACHE_SET_ROUTE 'r'

/**
 * Writes the key name of the set of kind `kind` (KVE_CACHE_SET_TAG with a tag, KVE_CACHE_SET_ROUTE with a route's
 * path) for `name` (`len` bytes) under namespace `ns` into `buf` (`cap` bytes, NUL-terminated). Returns the length, or
 * the length needed if >= cap.
 */
size_t kve_cache_set_key(char *buf, size_t cap, h2o_iovec_t ns, char kind, const char *name, size_t len);

/** Writes the member naming object (`primary`, `variant` or NULL) into `buf` (KVE_CACHE_MEMBER_MAX); returns its length. */
size_t kve_cache_member(char *buf, const uint8_t primary[KVE_CACHE_HASH_LEN], const uint8_t *variant);

/** Reads a member: 0 with `primary` and `*has_variant` (and `variant` when set), or -1 when it is not one. */
int kve_cache_member_parse(const char *p, size_t len, uint8_t primary[KVE_CACHE_HASH_LEN], uint8_t variant[KVE_CACHE_HASH_LEN],
                           int *has_variant);

/**
 * The commands that add one object to its sets: SADD, PEXPIRE NX and PEXPIRE GT on each of the tag sets of `tags` (the
 * stored form), the route set of `route` (NULL: none) and, for a variant, the URL's variant set. Everything the commands
 * point to is owned by this struct. Re-adding is harmless, so a revalidation that extends an object's TTL calls it too.
 */
typedef struct st_kve_cache_set_writes_t {
    kve_kv_command_t *cmds;
    size_t n;
    /* private */
    char ttl[24];
    char member[KVE_CACHE_MEMBER_MAX];
    char (*keys)[KVE_CACHE_SET_KEY_MAX];
    struct st_kve_cache_set_argv_t *argv;
} kve_cache_set_writes_t;

void kve_cache_set_writes_init(kve_cache_set_writes_t *w, h2o_iovec_t ns, const uint8_t primary[KVE_CACHE_HASH_LEN],
                               const uint8_t *variant, uint64_t ttl_ms, const char *route, h2o_iovec_t tags);
void kve_cache_set_writes_dispose(kve_cache_set_writes_t *w);

#endif
