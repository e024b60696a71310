/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the HTTP cache: `cache:` in a route, and the top-level `cache:`, a block of defaults every
 * route's `cache:` inherits key by key (the same keys, less `key`, which is per route). A route is cached only when
 * it gives `cache:` (a mapping, or `cache: true`); the top-level block alone caches nothing. Each cached route's
 * `store` is resolved to a store id once the stores are built (kve_config__resolve_cache_stores).
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "handlers/cache_key.h"

#include <ctype.h>
#include <string.h>

#define DAY (24LL * HOUR)

static const char *const query_modes[] = {"as_sent", "sorted", "ignore", NULL};

/* the settings a route's cache may inherit from the top-level cache:, for a struct `type` with these field names */
/* clang-format off */
#define CACHE_SETTINGS(type)                                                                                         \
    {"enabled", KVE_T_BOOL, KVE_FIELD(type, enabled), .dflt = "true",                                                \
     .doc = "cache this route (a route is cached only when it has a cache: section)"},                               \
    {"default_ttl", KVE_T_DURATION, KVE_FIELD(type, default_ttl_ms), 0, 0, 365 * DAY, "0s",                          \
     .doc = "lifetime of 200/203/204/300/301/308 responses without freshness information (0s: not stored)"},         \
    {"heuristic", KVE_T_BOOL, KVE_FIELD(type, heuristic), .dflt = "false",                                           \
     .doc = "RFC 9111 heuristic freshness: 10 % of the Last-Modified age, at most one day"},                         \
    {"keep", KVE_T_DURATION, KVE_FIELD(type, keep_ms), 0, 0, 365 * DAY, "1h",                                        \
     .doc = "how long a stale object with a validator stays stored for revalidation"},                               \
    {"max_object_size", KVE_T_SIZE, KVE_FIELD(type, max_object_size), 0, 0, 256 * MIB, "8MiB",                      \
     .doc = "larger responses stream through unstored"},                                                             \
    {"store_timeout", KVE_T_DURATION, KVE_FIELD(type, store_timeout_ms), 0, 1, 60 * SEC, "250ms",                    \
     .doc = "a lookup the store has not answered by then goes upstream (Cache-Status detail=store-timeout)"},        \
    {"store_set_cookie", KVE_T_BOOL, KVE_FIELD(type, store_set_cookie), .dflt = "false",                             \
     .doc = "store responses with Set-Cookie (stored and served without the cookie)"},                               \
    {"store", KVE_T_STRING, KVE_FIELD(type, store), 0, 1, KVE_CONF_MAX_NAME, "default",                              \
     .doc = "the named store that holds the route's objects"},                                                       \
    {"targeted_field", KVE_T_STRING, KVE_FIELD(type, targeted_field), 0, 0, 64,                                      \
     .doc = "RFC 9213 targeted field of kvedge's own (e.g. Kvedge-Cache-Control): beats CDN-Cache-Control and "      \
            "Cache-Control, never sent to clients (empty: only CDN-Cache-Control)"},                                 \
    {"debug", KVE_T_BOOL, KVE_FIELD(type, debug), .dflt = "false",                                                   \
     .doc = "Cache-Status carries key= (the hash of the cache key; for debugging)"},                                 \
    {"max_variants", KVE_T_INT, KVE_FIELD(type, max_variants), 0, 1, 4096, "64",                                     \
     .doc = "Vary variants stored per URL (a Vary list); past it new variants are served but not stored"},            \
    {"coalesce_timeout", KVE_T_DURATION, KVE_FIELD(type, coalesce_timeout_ms), 0, 0, 60 * SEC, "5s",                \
     .doc = "concurrent misses for one object (in this process and in every instance on the store) make one upstream "\
            "request; the others wait at most this long for it, then go upstream themselves (0s: off)"},            \
    {"stale_while_revalidate", KVE_T_DURATION, KVE_FIELD(type, stale_while_revalidate_ms), 0, 0, 365 * DAY, "0s",   \
     .doc = "grace on top of a response's stale-while-revalidate: a stale object is served while one background "   \
            "refresh runs"},                                                                                         \
    {"stale_if_error", KVE_T_DURATION, KVE_FIELD(type, stale_if_error_ms), 0, 0, 365 * DAY, "0s",                   \
     .doc = "grace on top of a response's stale-if-error: a stale object is served when the upstream fails "         \
            "(connect error, timeout, 5xx)"},                                                                                                 \
    {"memory", KVE_T_SIZE, KVE_FIELD(type, memory), 0, 0, 64 * GIB, "0",                                             \
     .doc = "bytes of the route's in-process tier of hot objects, shared by the threads (0: off; see docs)"}
/* clang-format on */

static const kve_directive_t key_directives[] = {
    {"query", KVE_T_ENUM, KVE_FIELD(kve_cache_key_cfg_t, query), .dflt = "as_sent", .choices = query_modes,
     .doc = "the query in the key: as_sent, sorted (parameters sorted by name, empty ones dropped) or ignore"},
    {"exclude_query", KVE_T_STRING_LIST, KVE_FIELD(kve_cache_key_cfg_t, exclude_query), 0, 0, 64,
     .doc = "parameter name globs left out of the key (\"utm_*\"); still forwarded, so they must not change the response"},
    {"headers", KVE_T_STRING_LIST, KVE_FIELD(kve_cache_key_cfg_t, headers), 0, 0, 16,
     .doc = "request header fields that are part of the key"},
    {"cookies", KVE_T_STRING_LIST, KVE_FIELD(kve_cache_key_cfg_t, cookies), 0, 0, 16,
     .doc = "cookies (by name, case-sensitive) that are part of the key"},
    {NULL}};

/* header field names: tokens, compared in lower case */
static int check_key(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_cache_key_cfg_t *key = obj;
    for (size_t i = 0; i != key->headers.size; ++i) {
        char *name = key->headers.entries[i];
        if (name[0] == '\0' ||
            strspn(name, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(name)) {
            kve_conf_error(conf, kve_config__at_key(node, "headers"), "headers: \"%s\" is not a header field name", name);
            return -1;
        }
        for (char *p = name; *p != '\0'; ++p)
            *p = (char)tolower((unsigned char)*p);
    }
    for (size_t i = 0; i != key->cookies.size; ++i) {
        if (key->cookies.entries[i][0] == '\0') {
            kve_conf_error(conf, kve_config__at_key(node, "cookies"), "cookies: a cookie name cannot be empty");
            return -1;
        }
    }
    return 0;
}

/* whether `name` is a header field name (a token); lower-cases it */
static int field_name(char *name)
{
    if (name[0] == '\0' ||
        strspn(name, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(name))
        return 0;
    for (char *p = name; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    return 1;
}

static const kve_directive_t bypass_directives[] = {
    {"header", KVE_T_STRING, KVE_FIELD(kve_cache_bypass_t, header), 0, 1, 128,
     .doc = "a request with this header field (any value) bypasses the cache"},
    {"cookie", KVE_T_STRING, KVE_FIELD(kve_cache_bypass_t, cookie), 0, 1, 128,
     .doc = "a request with this cookie (by name, case-sensitive) bypasses the cache"},
    {NULL}};

/* one bypass rule: exactly one of header / cookie, a valid name */
static int check_bypass(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_cache_bypass_t *b = obj;
    if ((b->header != NULL) == (b->cookie != NULL)) {
        kve_conf_error(conf, node, "bypass: each rule is either { header: Name } or { cookie: name }");
        return -1;
    }
    if (b->header != NULL && !field_name(b->header)) {
        kve_conf_error(conf, kve_config__at_key(node, "header"), "bypass: \"%s\" is not a header field name", b->header);
        return -1;
    }
    if (b->cookie != NULL && strpbrk(b->cookie, "=; \t,\"") != NULL) {
        kve_conf_error(conf, kve_config__at_key(node, "cookie"), "bypass: \"%s\" is not a cookie name", b->cookie);
        return -1;
    }
    return 0;
}

/* a route gave cache: when its mapping (or shorthand) is there; an absent one still inherits, but caches nothing */
int kve_config__check_cache(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_cache_conf_t *cache = obj;
    cache->present = node != NULL;
    if (node == NULL)
        return 0;
    if (cache->targeted_field != NULL && cache->targeted_field[0] != '\0') {
        if (!field_name(cache->targeted_field)) {
            kve_conf_error(conf, kve_config__at_key(node, "targeted_field"), "targeted_field: \"%s\" is not a header field name",
                           cache->targeted_field);
            return -1;
        }
        if (strcmp(cache->targeted_field, "cache-control") == 0 || strcmp(cache->targeted_field, "cdn-cache-control") == 0 ||
            strcmp(cache->targeted_field, "surrogate-control") == 0) {
            kve_conf_error(conf, kve_config__at_key(node, "targeted_field"),
                           "targeted_field: \"%s\" is already read by the cache; name a field of kvedge's own",
                           cache->targeted_field);
            return -1;
        }
    }
    return 0;
}

const kve_directive_t kve_config__cache_directives[] = {
    CACHE_SETTINGS(kve_cache_conf_t),
    {"key", KVE_T_MAP, KVE_FIELD(kve_cache_conf_t, key), .children = key_directives, .check = check_key,
     .doc = "how the cache key is made (besides method, scheme, host and path)"},
    {"bypass", KVE_T_LIST, KVE_FIELD(kve_cache_conf_t, bypass), 0, 0, 32, .children = bypass_directives,
     .elem_size = sizeof(kve_cache_bypass_t), .check = check_bypass,
     .doc = "requests that go upstream uncached and whose responses are not stored: [{header: Authorization}, {cookie: session}]"},
    {NULL}};

const kve_directive_t kve_config__cache_defaults_directives[] = {CACHE_SETTINGS(kve_cache_conf_t), {NULL}};

int kve_config__resolve_cache_stores(kve_conf_t *conf, kve_config_t *cfg)
{
    const kve_node_t *routes = kve_yaml_get(kve_conf_root(conf), "routes");
    int ret = 0;

    for (size_t i = 0; i != cfg->routes.size; ++i) {
        kve_cache_conf_t *cache = &cfg->routes.entries[i].cache;
        const kve_node_t *at = NULL;
        char what[64];
        if (!cache->present || !cache->enabled)
            continue;
        if (routes != NULL && routes->type == KVE_NODE_SEQUENCE && i < routes->u.sequence.size)
            at = kve_config__at_key(routes->u.sequence.items[i], "cache");
        snprintf(what, sizeof(what), "routes[%zu].cache.store", i);
        if (kve_config__resolve_store(conf, cfg, kve_conf_origin_node(conf, &cache->store, at), what, cache->store,
                                      &cache->store_id) != 0)
            ret = -1;
    }
    return ret;
}
