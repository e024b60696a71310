/* SPDX-License-Identifier: MIT */
/*
 * Relative file paths in a configuration are relative to the folder of the file they are written in, as nginx's
 * certificate paths are to its configuration's: `kvedge -c /etc/kvedge/kvedge.yaml` with `cert_file: tls/cert.pem`
 * opens /etc/kvedge/tls/cert.pem whatever the working directory (docs/configuration.md, "File paths"). The path is
 * joined, not made absolute: `-c examples/x.yaml` gives examples/..., as short in messages as the user wrote it.
 */
#include "conf/conf.h"

#include <string.h>
#include "proxy/common.h"

char *kve_conf_resolve_path(const char *config_file, const char *path)
{
    const char *slash = config_file != NULL ? strrchr(config_file, '/') : NULL;
    size_t dir_len, path_len = strlen(path);
    char *joined;

    if (slash == NULL || path[0] == '/' || path[0] == '\0' || strcmp(path, "-") == 0)
        return kve_strdup(path);
    dir_len = (size_t)(slash - config_file) + 1; /* with its "/": "/" for a file in the root folder */
    joined = kve_malloc(dir_len + path_len + 1);
    memcpy(joined, config_file, dir_len);
    memcpy(joined + dir_len, path, path_len + 1);
    return joined;
}
