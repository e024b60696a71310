/* SPDX-License-Identifier: MIT */
/*
 * kve_cmd_route() (see kv_route.h): the table lookup, the kind, the key finder and the slot, composed for a
 * driver that wants them all. Callers that need only one part (the REST policy wants the kind and the keys,
 * never the slot) call the parts themselves.
 */
#include "proxy/kv_route.h"

int kve_cmd_route(size_t argc, const char *const *argv, const size_t *argvlen, unsigned options, kve_cmd_route_t *route)
{
    if (!kve_cmd_find(argc, argv, argvlen, &route->ref))
        return -1;
    route->kind = kve_cmd_kind(route->ref.info);
    route->keys.count = route->keys.nranges = 0;
    if (route->ref.info != NULL)
        kve_cmd_keys(route->ref.info, argc, argv, argvlen, options, &route->keys);
    route->slot = kve_slot_of_keys(&route->keys, argv, argvlen);
    return 0;
}
