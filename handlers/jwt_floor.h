/* SPDX-License-Identifier: MIT */
/*
 * The libjwt floor (issue 10, S16; the research note's §2.3 and §2.4 item 8): kvedge needs Debian's libjwt0
 * 1.10.2-1+deb12u1 or later, the first build with the fix of CVE-2024-25189 (HMAC signatures compared with strcmp,
 * a timing side channel). libjwt 1.10.2 has no version call; the fixed builds, Debian's and upstream's from 1.17.0,
 * export `jwt_strcmp` (the constant-time compare), the older ones do not. kvedge looks that symbol up at start-up
 * and refuses to run without it. The CI side of the check is scripts/check-libjwt.sh (ctest lint.libjwt_floor).
 */
#ifndef KVE_HANDLERS_JWT_FLOOR_H
#define KVE_HANDLERS_JWT_FLOOR_H

#include <stdio.h>

/** The symbol whose presence marks a libjwt with the CVE-2024-25189 fix. */
#define KVE_JWT_FLOOR_SYMBOL "jwt_strcmp"

/** Looks a symbol up in the process's global scope (dlsym(RTLD_DEFAULT, name)); tests pass their own. */
typedef void *(*kve_jwt_symbol_lookup_t)(const char *name);

/**
 * Whether the loaded libjwt has the fix: 0 when `lookup` (NULL: dlsym(RTLD_DEFAULT, ...)) finds
 * KVE_JWT_FLOOR_SYMBOL; else -1 and one line on `err` (NULL: nothing written) naming the package version needed.
 */
int kve_jwt_floor_check(kve_jwt_symbol_lookup_t lookup, FILE *err);

#endif
