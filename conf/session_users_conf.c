/* SPDX-License-Identifier: MIT */
/*
 * The checks of `session.endpoint` (issue 10; docs/sessions.md §10): each route with sessions names the path of
 * kvedge's own session endpoints (default "/_session"; "" for none). Routes that name the same one share it: it is
 * served once, with the settings of the first such route, so they must agree on what finds and keys a session (the
 * cookie, the JWT key, the store).
 */
#include "conf/config.h"
#include "conf/config_internal.h"

#include <string.h>

static int same_str(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int has_endpoint(const kve_route_conf_t *r)
{
    return r->session.present && r->session.mode != KVE_SESSION_OFF && r->session.endpoint != NULL &&
           r->session.endpoint[0] != '\0';
}

int kve_config__check_session_endpoint(kve_conf_t *conf, const kve_node_t *node, kve_session_conf_t *s)
{
    char *p = s->endpoint;
    size_t len = p != NULL ? strlen(p) : 0;

    if (len == 0)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)p[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"\\?#%", c) != NULL) {
            kve_conf_error(conf, kve_conf_origin_node(conf, &s->endpoint, node),
                           "endpoint must be printable ASCII without spaces, '\"', '\\', '?', '#' or '%%' (byte %zu is 0x%02x)", i,
                           c);
            return -1;
        }
    }
    if (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    if (p[0] != '/' || len == 1) {
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->endpoint, node),
                       "endpoint must be a path below \"/\" (e.g. /_session), or \"\" for none; got \"%s\"", p);
        return -1;
    }
    return 0;
}

/* the first route before `i` with the same endpoint, or `i` */
static size_t first_with_endpoint(const kve_config_t *cfg, size_t i)
{
    for (size_t j = 0; j != i; ++j)
        if (has_endpoint(&cfg->routes.entries[j]) &&
            kve_config__same_path(cfg->routes.entries[j].session.endpoint, cfg->routes.entries[i].session.endpoint))
            return j;
    return i;
}

int kve_config__session_endpoint_owner(const kve_config_t *cfg, size_t i)
{
    return has_endpoint(&cfg->routes.entries[i]) && first_with_endpoint(cfg, i) == i;
}

int kve_config__check_session_endpoints(kve_conf_t *conf, const kve_config_t *cfg)
{
    const kve_node_t *routes = kve_yaml_get(kve_conf_root(conf), "routes");
    int ret = 0;

    for (size_t i = 0; i != cfg->routes.size; ++i) {
        const kve_session_conf_t *s = &cfg->routes.entries[i].session, *f;
        size_t j;
        const kve_node_t *at = NULL;
        if (!has_endpoint(&cfg->routes.entries[i]) || (j = first_with_endpoint(cfg, i)) == i)
            continue;
        f = &cfg->routes.entries[j].session;
        /* ES256 routes without jwt_key derive their slot tags and public ids from the private key (session_es256.h) */
        if (same_str(s->cookie_name, f->cookie_name) && same_str(s->jwt_key, f->jwt_key) && s->store_id == f->store_id &&
            (s->jwt_key != NULL || same_str(s->jwt_private_key, f->jwt_private_key)))
            continue;
        if (routes != NULL && routes->type == KVE_NODE_SEQUENCE && i < routes->u.sequence.size)
            at = kve_config__at_key(routes->u.sequence.items[i], "session");
        kve_conf_error(conf, kve_conf_origin_node(conf, &s->endpoint, at),
                       "routes[%zu].session.endpoint \"%s\" is also routes[%zu]'s, whose cookie_name, jwt_key (or, without one, "
                       "jwt_private_key) or store differ: "
                       "give one of them another endpoint (or \"\" for none)",
                       i, s->endpoint, j);
        ret = -1;
    }
    return ret;
}
