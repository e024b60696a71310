/* SPDX-License-Identifier: MIT */
/* The libjwt floor (see jwt_floor.h). */
#include "handlers/jwt_floor.h"

#include <dlfcn.h>

static void *default_lookup(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

int kve_jwt_floor_check(kve_jwt_symbol_lookup_t lookup, FILE *err)
{
    if ((lookup != NULL ? lookup : default_lookup)(KVE_JWT_FLOOR_SYMBOL) != NULL)
        return 0;
    if (err != NULL)
        fprintf(err,
                "kvedge: the libjwt loaded lacks the fix of CVE-2024-25189 (no symbol %s): install libjwt0 "
                "1.10.2-1+deb12u1 or later\n",
                KVE_JWT_FLOOR_SYMBOL);
    return -1;
}
