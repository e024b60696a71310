/* SPDX-License-Identifier: MIT */
/*
 * Checks that several directive tables share: where a key is written, URL prefixes, files kvedge will open.
 */
#include "conf/config.h"
#include "conf/config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the value node of `key` in a mapping, for pointing at it (the mapping itself if absent or a _file form) */
const kve_node_t *kve_config__at_key(const kve_node_t *mapping, const char *key)
{
    const kve_node_t *n = kve_yaml_get(mapping, key);
    return n != NULL ? n : mapping;
}

/*
 * The `path` of an object whose mapping is `node`: a URL prefix, starting with "/", of printable ASCII
 * without space, '"', '\\', '?' or '#' (a query or fragment can never match). One trailing "/" is dropped:
 * "/ops/" and "/ops" are the same prefix.
 */
int kve_config__check_path(kve_conf_t *conf, const kve_node_t *node, char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = path[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"\\?#", c) != NULL) {
            kve_conf_error(conf, kve_config__at_key(node, "path"),
                           "path must be printable ASCII without spaces, '\"', '\\', '?' or '#' (byte %zu is 0x%02x)", i, c);
            return -1;
        }
    }
    if (path[0] != '/') {
        kve_conf_error(conf, kve_config__at_key(node, "path"), "path must start with \"/\", got \"%s\"", path);
        return -1;
    }
    if (len > 1 && path[len - 1] == '/')
        path[len - 1] = '\0';
    return 0;
}

/* a file kvedge will open: it exists, is readable and is not a directory */
int kve_config__check_readable(kve_conf_t *conf, const kve_node_t *node, const char *key, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), err = fd == -1              ? errno
                                                     : fstat(fd, &st) != 0 ? errno
                                                     : S_ISDIR(st.st_mode) ? EISDIR
                                                                           : 0;
    if (fd != -1)
        close(fd);
    if (err != 0) {
        kve_conf_error(conf, node, "%s: cannot read %s: %s", key, path, strerror(err));
        return -1;
    }
    return 0;
}
