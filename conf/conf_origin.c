/* SPDX-License-Identifier: MIT */
/*
 * Where each value came from (conf.h, "Inheritance"): the engine records every value given in the file and every
 * value inherited from a block of defaults, keyed by the address of its field; a field without a record holds its
 * default. Records point at nodes of the session's documents, so they live as long as the session. Lookups are
 * linear: a configuration has a few hundred values, and only load-time checks ask.
 */
#include "conf/conf.h"

#include <stdio.h>
#include "conf/conf_internal.h"
#include "proxy/common.h"

void kve_conf__record_origin(kve_conf_t *conf, const void *field, const kve_directive_t *d, kve_conf_origin_kind_t kind,
                             const kve_node_t *node, const char *block, int via_file)
{
    /* a MAP shares its address with its first child: only leaves and collections are recorded */
    KVE_ASSERT(d->type != KVE_T_MAP && kind != KVE_CONF_DEFAULT && node != NULL);
    if (conf->num_origins == conf->origins_cap) {
        conf->origins_cap = conf->origins_cap == 0 ? 64 : conf->origins_cap * 2;
        conf->origins = kve_realloc(conf->origins, conf->origins_cap * sizeof(*conf->origins));
    }
    conf->origins[conf->num_origins++] = (struct st_kve_conf_origin_rec_t){field, d, {kind, node, block}, via_file};
}

const struct st_kve_conf_origin_rec_t *kve_conf__find_origin(const kve_conf_t *conf, const void *field)
{
    for (size_t i = conf->num_origins; i-- != 0;)
        if (conf->origins[i].field == field)
            return conf->origins + i;
    return NULL;
}

kve_conf_origin_t kve_conf_origin(const kve_conf_t *conf, const void *field)
{
    const struct st_kve_conf_origin_rec_t *rec = kve_conf__find_origin(conf, field);
    return rec != NULL ? rec->origin : (kve_conf_origin_t){KVE_CONF_DEFAULT, NULL, NULL};
}

const char *kve_conf_describe_origin(const kve_conf_t *conf, const void *field, char *buf, size_t size)
{
    const struct st_kve_conf_origin_rec_t *rec = kve_conf__find_origin(conf, field);
    if (rec == NULL)
        snprintf(buf, size, "the default");
    else if (rec->origin.kind == KVE_CONF_INHERITED)
        snprintf(buf, size, "from %s.%s, line %u", rec->origin.block, rec->d->key, rec->origin.node->line);
    else
        snprintf(buf, size, "line %u", rec->origin.node->line);
    return buf;
}

const kve_node_t *kve_conf_origin_node(const kve_conf_t *conf, const void *field, const kve_node_t *fallback)
{
    const struct st_kve_conf_origin_rec_t *rec = kve_conf__find_origin(conf, field);
    return rec != NULL ? rec->origin.node : fallback;
}
