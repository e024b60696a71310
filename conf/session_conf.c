/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the sessions (issue 10; docs/sessions.md §14): `session:` in a route, and the top-level
 * `session:`, a block of defaults every route's `session:` inherits key by key. A route has sessions only when it
 * gives `session:` (a mapping, or the shorthand `session: required`) with a mode other than off. Each such route's
 * `store` is resolved to a store id once the stores are built (kve_config__resolve_session_stores), which also tells a
 * route's cache (when it has one) the session cookie's name, so that what belongs to a session is never shared.
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "handlers/session_es256.h"
#include "handlers/session_csrf.h"
#include "handlers/session_jwt.h"
#include "handlers/session_sig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY (24LL * HOUR)

static const char *const modes[] = {"off", "optional", "required", NULL};
static const char *const same_sites[] = {"Lax", "Strict", "None", NULL};
static const char *const set_failures[] = {"ignore", "error", NULL};
static const char *const jwt_algs[] = {"HS256", "ES256", NULL};

/* clang-format off */
#define SESSION_SETTINGS(type)                                                                                       \
    {"mode", KVE_T_ENUM, KVE_FIELD(type, mode), .dflt = "optional", .choices = modes,                                \
     .doc = "required (no session: 401, store down: 503, upstream not called), optional (forwarded anonymous) or off"}, \
    {"write", KVE_T_BOOL, KVE_FIELD(type, write), .dflt = "false",                                                   \
     .doc = "the upstream may change sessions with X-Session-Login / -Set / -Logout response headers"},              \
    {"cookie_name", KVE_T_STRING, KVE_FIELD(type, cookie_name), 0, 1, 64, "__Host-sid",                              \
     .doc = "the session cookie (a __Host- name needs secure: true)"},                                               \
    {"same_site", KVE_T_ENUM, KVE_FIELD(type, same_site), .dflt = "Lax", .choices = same_sites,                      \
     .doc = "the cookie's SameSite attribute"},                                                                      \
    {"secure", KVE_T_BOOL, KVE_FIELD(type, secure), .dflt = "true",                                                  \
     .doc = "the cookie's Secure attribute (false only for plain-http development, with a name without __Host-)"},   \
    {"idle", KVE_T_DURATION, KVE_FIELD(type, idle_ms), 0, SEC, 30 * DAY, "30m",                                      \
     .doc = "a session unused this long ends (enforced by the store's TTL)"},                                        \
    {"absolute", KVE_T_DURATION, KVE_FIELD(type, absolute_ms), 0, SEC, 365 * DAY, "8h",                              \
     .doc = "a session ends this long after it was created, used or not"},                                           \
    {"touch_threshold", KVE_T_DURATION, KVE_FIELD(type, touch_threshold_ms), 0, 0, HOUR, "60s",                      \
     .doc = "a session's idle TTL is refreshed at most this often (fewer store writes)"},                            \
    {"jwt_key", KVE_T_STRING, KVE_FIELD(type, jwt_key), KVE_F_SECRET, 0, 4096,                                       \
     .doc = "the HS256 key of X-Session-JWT, at least 32 bytes (or jwt_key_file)"},                                  \
    {"jwt_ttl", KVE_T_DURATION, KVE_FIELD(type, jwt_ttl_ms), 0, SEC, HOUR, "60s",                                    \
     .doc = "the lifetime of each X-Session-JWT (whole seconds)"},                                                   \
    {"audience", KVE_T_STRING, KVE_FIELD(type, audience), 0, 0, 256,                                                 \
     .doc = "the JWTs' aud (default: the route's path)"},                                                            \
    {"max_data", KVE_T_SIZE, KVE_FIELD(type, max_data), 0, 0, 5 * KIB, "4KiB",                                       \
     .doc = "the most bytes of data (keys and JSON values) one session holds (the JWT must stay under 8 KiB)"},      \
    {"store", KVE_T_STRING, KVE_FIELD(type, store), 0, 1, KVE_CONF_MAX_NAME, "default",                              \
     .doc = "the named store that holds the sessions"},                                                              \
    {"store_timeout", KVE_T_DURATION, KVE_FIELD(type, store_timeout_ms), 0, 1, 60 * SEC, "150ms",                    \
     .doc = "a session read or write the store has not answered by then fails (required routes: 503)"},             \
    {"forward_cookie", KVE_T_BOOL, KVE_FIELD(type, forward_cookie), .dflt = "false",                                 \
     .doc = "send the session cookie on to the upstream (default: removed from Cookie)"},                            \
    {"max_sessions", KVE_T_INT, KVE_FIELD(type, max_sessions), 0, 1, 1000, "100",                                    \
     .doc = "the most sessions one user holds at once: a login past it ends the user's oldest (bounds each login's " \
            "work on the user's index)"},                                                                            \
    {"endpoint", KVE_T_STRING, KVE_FIELD(type, endpoint), 0, 0, 256, "/_session",                                    \
     .doc = "the path of kvedge's own session endpoints: POST /logout[?all=1], GET /list, DELETE /<pid>, GET /auth "  \
            "(\"\": none; routes sharing one must share cookie_name, jwt_key and store)"}, \
    {"renew_after", KVE_T_DURATION, KVE_FIELD(type, renew_after_ms), 0, 0, 30 * DAY, "15m",                          \
     .doc = "a session this old (since creation or its last renewal) gets a new handle on its next request; 0: never"}, \
    {"renew_grace", KVE_T_DURATION, KVE_FIELD(type, renew_grace_ms), 0, 0, HOUR, "10s",                              \
     .doc = "a renewed handle keeps working this long (below renew_after), without a cookie, for parallel requests"}, \
    {"set_failure", KVE_T_ENUM, KVE_FIELD(type, set_failure), .dflt = "ignore", .choices = set_failures,             \
     .doc = "an X-Session-Set that is not applied: ignore (logged, the response goes on) or error (503, JSON body)"}, \
    {"jwt_alg", KVE_T_ENUM, KVE_FIELD(type, jwt_alg), .dflt = "HS256", .choices = jwt_algs,                          \
     .doc = "the X-Session-JWT algorithm: HS256 (jwt_key) or ES256 (jwt_private_key, public key at jwks_path)"},      \
    {"jwt_private_key", KVE_T_STRING, KVE_FIELD(type, jwt_private_key), KVE_F_SECRET, 0, KVE_ES256_PEM_MAX,          \
     .doc = "ES256: the P-256 private key, unencrypted PEM (or jwt_private_key_file)"},                              \
    {"jwks_path", KVE_T_STRING, KVE_FIELD(type, jwks_path), 0, 1, 256, "/_session/.well-known/jwks.json",            \
     .doc = "ES256: the path serving the public keys as a JWKS (routes sharing it are listed together)"},            \
    {"jwt_cache_entries", KVE_T_INT, KVE_FIELD(type, jwt_cache_entries), 0, 0, 1 << 20, "1024",                      \
     .doc = "JWTs kept per thread and route, reused for the same session version until 80% of jwt_ttl (0: sign every request)"}, \
    {"command_key", KVE_T_STRING, KVE_FIELD(type, command_key), KVE_F_SECRET, 0, 4096,                               \
     .doc = "strict-signature mode: X-Session-* commands apply only with X-Session-Sig, their HMAC-SHA256 under this "  \
            "key (at least 32 bytes; or command_key_file; unset: off)"}
/* clang-format on */

static const kve_directive_t header_directives[] = {
    {"user", KVE_T_STRING, KVE_FIELD(kve_session_headers_t, user), 0, 1, 64,
     .doc = "send the session's user id (visible ASCII only) in this header, e.g. X-Session-User"},
    {"sid", KVE_T_STRING, KVE_FIELD(kve_session_headers_t, sid), 0, 1, 64,
     .doc = "send the session's public id in this header, e.g. X-Session-Id"},
    {NULL}};

static int secure_prefix(const char *name)
{
    return strncmp(name, "__Host-", 7) == 0 || strncmp(name, "__Secure-", 9) == 0;
}

/* a plain identity header: an x-session-* name (stripped from every request, so a client cannot send it), not one of
 * kvedge's own */
static int check_header(kve_conf_t *conf, const kve_node_t *node, char *const *field)
{
    const char *name = *field;
    if (name == NULL)
        return 0;
    if (strncasecmp(name, "x-session-", 10) != 0 || strcasecmp(name, "x-session-jwt") == 0 ||
        strcasecmp(name, "x-session-status") == 0 || strpbrk(name, "()<>@,;:\\\"/[]?={} \t_") != NULL) {
        kve_conf_error(conf, kve_conf_origin_node(conf, field, node),
                       "headers: \"%s\" must be an X-Session-<name> header (kvedge strips those from every request) other "
                       "than X-Session-JWT and X-Session-Status, without '_'",
                       name);
        return -1;
    }
    return 0;
}

/* ES256: a loadable P-256 key, a path for the JWKS */
static int check_es256(kve_conf_t *conf, const kve_node_t *node, kve_session_conf_t *s)
{
    char err[256];
    kve_es256_key_t *key;

    if (s->jwt_private_key == NULL) {
        kve_conf_error(conf, node, "jwt_alg: ES256 needs jwt_private_key (or jwt_private_key_file): a P-256 private key in PEM");
        return -1;
    }
    if ((key = kve_es256_key_load(s->jwt_private_key, strlen(s->jwt_private_key), err, sizeof(err))) == NULL) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->jwt_private_key, node), "jwt_private_key: %s", err);
        return -1;
    }
    kve_es256_key_free(key);
    if (s->jwks_path[0] != '/' || strpbrk(s->jwks_path, "\"\\?# \t") != NULL) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->jwks_path, node),
                       "jwks_path must start with \"/\", without spaces, '\"', '\\', '?' or '#'");
        return -1;
    }
    return 0;
}

int kve_config__check_session(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_session_conf_t *s = obj;
    s->present = node != NULL;
    if (node == NULL || s->mode == KVE_SESSION_OFF)
        return 0;
    if (check_header(conf, node, &s->headers.user) != 0 || check_header(conf, node, &s->headers.sid) != 0)
        return -1;
    if (s->jwt_alg == KVE_SESSION_JWT_ES256 && check_es256(conf, node, s) != 0)
        return -1;
    if (s->jwt_alg == KVE_SESSION_JWT_HS256 && s->jwt_private_key != NULL && s->jwt_key == NULL) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->jwt_alg, node),
                       "jwt_private_key is given but jwt_alg is HS256 (the default): set jwt_alg: ES256, or give jwt_key");
        return -1;
    }
    if (s->jwt_key != NULL && s->jwt_alg == KVE_SESSION_JWT_ES256 && strlen(s->jwt_key) < KVE_SESSION_JWT_MIN_KEY) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->jwt_key, node), "jwt_key must be at least %d bytes",
                       KVE_SESSION_JWT_MIN_KEY);
        return -1;
    }
    if (s->jwt_alg == KVE_SESSION_JWT_HS256 && (s->jwt_key == NULL || strlen(s->jwt_key) < KVE_SESSION_JWT_MIN_KEY)) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->jwt_key, node),
                       "jwt_key must be at least %d bytes (e.g. the output of openssl rand -hex 32)", KVE_SESSION_JWT_MIN_KEY);
        return -1;
    }
    if (strpbrk(s->cookie_name, "=; \t,\"()<>@:\\/[]?{}") != NULL) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->cookie_name, node), "cookie_name: \"%s\" is not a cookie name",
                       s->cookie_name);
        return -1;
    }
    if (!s->secure && (secure_prefix(s->cookie_name) || s->same_site == 2)) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->secure, node),
                       "secure: false is not allowed with a __Host-/__Secure- cookie name or same_site: None");
        return -1;
    }
    if (s->jwt_ttl_ms % 1000 != 0) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->jwt_ttl_ms, node), "jwt_ttl: whole seconds only");
        return -1;
    }
    if (s->renew_after_ms != 0 && s->renew_grace_ms >= s->renew_after_ms) {
        /* a grace shorter than the renewal age keeps RENEW's forwarders one hop deep (LOAD follows one) */
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->renew_grace_ms, node), "renew_grace must be shorter than renew_after");
        return -1;
    }
    if (s->command_key != NULL && strlen(s->command_key) < KVE_SESSION_SIG_MIN_KEY) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->command_key, node),
                       "command_key must be at least %d bytes (e.g. the output of openssl rand -hex 32)", KVE_SESSION_SIG_MIN_KEY);
        return -1;
    }
    if (kve_config__check_session_carry(conf, node, s) != 0)
        return -1;
    return kve_config__check_session_endpoint(conf, node, s);
}

/* csrf.origins in the form the gate compares (kve_session_csrf_origin): lower case, no default port */
static int check_csrf(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_session_csrf_conf_t *c = obj;
    char canon[KVE_SESSION_CSRF_ORIGIN_MAX + 1];
    for (size_t i = 0; i != c->origins.size; ++i) {
        char *o = c->origins.entries[i];
        int n = kve_session_csrf_origin(h2o_iovec_init(o, strlen(o)), 0, canon);
        if (n < 0) {
            kve_conf_error(conf, kve_conf_origin_node(conf, &c->origins, node),
                           "csrf.origins: \"%s\" is not an origin like https://app.example (http or https, a host, an optional "
                           "port; no path)",
                           o);
            return -1;
        }
        free(o);
        c->origins.entries[i] = kve_strdup(canon);
    }
    return 0;
}

static const kve_directive_t csrf_directives[] = {
    {"enabled", KVE_T_BOOL, KVE_FIELD(kve_session_csrf_conf_t, enabled), .dflt = "true",
     .doc = "refuse POST/PUT/PATCH/DELETE (any method but GET, HEAD, OPTIONS, TRACE) sent by a browser from another origin: "
            "403, not forwarded"},
    {"origins", KVE_T_STRING_LIST, KVE_FIELD(kve_session_csrf_conf_t, origins), 0, 0, 64,
     .doc = "other origins allowed to send them, e.g. https://app.example (a sibling subdomain is refused unless listed)"},
    {NULL}};

const kve_directive_t kve_config__session_directives[] = {
    SESSION_SETTINGS(kve_session_conf_t),
    {"csrf", KVE_T_MAP, KVE_FIELD(kve_session_conf_t, csrf), .children = csrf_directives, .shorthand = "enabled",
     .check = check_csrf,
     .doc = "the CSRF gate of unsafe methods (docs/sessions.md §9; on by default; `csrf: off` turns it off); routes only"},
    {"headers", KVE_T_MAP, KVE_FIELD(kve_session_conf_t, headers), .children = header_directives,
     .doc = "plain identity headers next to X-Session-JWT (route level; names must be X-Session-*)"},
    {"login_carry", KVE_T_STRING_LIST, KVE_FIELD(kve_session_conf_t, login_carry), 0, 0, 64,
     .doc = "data keys a Login from an anonymous session carries over into the new session ([\"*\"]: all; default none; "
            "the Login's own data wins; past max_data nothing is carried); route level"},
    {NULL}};

const kve_directive_t kve_config__session_defaults_directives[] = {SESSION_SETTINGS(kve_session_conf_t), {NULL}};

int kve_config__resolve_session_stores(kve_conf_t *conf, kve_config_t *cfg)
{
    const kve_node_t *routes = kve_yaml_get(kve_conf_root(conf), "routes");
    int ret = 0;

    for (size_t i = 0; i != cfg->routes.size; ++i) {
        kve_route_conf_t *route = &cfg->routes.entries[i];
        kve_session_conf_t *s = &route->session;
        const kve_node_t *at = NULL;
        char what[64];
        if (!s->present || s->mode == KVE_SESSION_OFF)
            continue;
        s->route = route->path;
        if (routes != NULL && routes->type == KVE_NODE_SEQUENCE && i < routes->u.sequence.size)
            at = kve_config__at_key(routes->u.sequence.items[i], "session");
        /* with the cache on the route: what belongs to a session is neither served from nor stored in it (§13) */
        if (route->cache.present && route->cache.enabled)
            route->cache.session_cookie = s->cookie_name;
        snprintf(what, sizeof(what), "routes[%zu].session.store", i);
        if (kve_config__resolve_store(conf, cfg, kve_conf_origin_node(conf, &s->store, at), what, s->store, &s->store_id) != 0)
            ret = -1;
    }
    return ret == 0 ? kve_config__check_session_endpoints(conf, cfg) : ret;
}
