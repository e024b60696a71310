/* SPDX-License-Identifier: MIT */
/*
 * The console's static files (console/ in the source tree), built into the binary: console/embed.cmake turns them
 * into C arrays at build time (console_assets.c in the build folder), with their Content-Type and an ETag from the
 * SHA-256 of their bytes.
 */
#ifndef KVE_HANDLERS_CONSOLE_ASSETS_H
#define KVE_HANDLERS_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct st_kve_console_asset_t {
    /** the file's name, e.g. "index.html" */
    const char *name;
    const char *content_type;
    /** a strong ETag, quoted */
    const char *etag;
    const unsigned char *data;
    size_t len;
} kve_console_asset_t;

extern const kve_console_asset_t kve_console_assets[];
extern const size_t kve_console_num_assets;

#endif
