/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the configuration loader (conf/): kve_config_load() on a file holding the fuzz input, exactly
 * as `kvedge -c FILE` reads it (the file is a memfd, reached through /proc/self/fd). Errors are the expected
 * outcome for most inputs; the oracle is the absence of crashes, leaks and undefined behaviour, that a
 * loaded configuration is usable (listeners present and in range, a Redis URL, the derived body limit, every
 * route's settings in range whether given, inherited from proxy: or defaulted), and
 * that kve_config_dispose() frees everything either way. Error messages go to /dev/null, after being
 * formatted: the reporting code (quoted lines, carets, hidden secrets) runs for every error.
 *
 * The environment holds a few variables for ${VAR} and ${VAR:-default} substitution; stdin is /dev/null (a
 * token_file of /dev/stdin must not block).
 */
#include "fuzz.h"
#include "conf/config.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;
static char path[64];
static FILE *errout;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int null_fd = open("/dev/null", O_RDONLY);

    /* a *_file directive may name /dev/stdin: reading it must end at once, not wait for a terminal */
    FUZZ_CHECK(null_fd >= 0 && dup2(null_fd, 0) == 0, "stdin from /dev/null");
    close(null_fd);
    FUZZ_CHECK((fd = memfd_create("kvedge-fuzz-config", MFD_CLOEXEC)) >= 0, "memfd_create");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FUZZ_CHECK((errout = fopen("/dev/null", "w")) != NULL, "/dev/null");
    setenv("KVE_FUZZ_TOKEN", "fuzz-token-from-the-environment", 1);
    setenv("KVE_FUZZ_PORT", "8080", 1);
    setenv("KVE_FUZZ_EMPTY", "", 1);
    return 0;
}

static void check_loaded(const kve_config_t *cfg)
{
    FUZZ_CHECK(cfg->all_listeners.size >= 1, "a configuration without listeners loaded");
    for (size_t i = 0; i != cfg->all_listeners.size; ++i) {
        const kve_listen_conf_t *l = cfg->all_listeners.entries + i;
        FUZZ_CHECK(l->port >= 1 && l->port <= 65535 && l->host != NULL, "listener %zu: port %lld", i, (long long)l->port);
    }
    /* whether a route's setting is its own, inherited from proxy: or the default, it is within the route's range */
    for (size_t i = 0; i != cfg->routes.size; ++i) {
        const kve_route_conf_t *r = cfg->routes.entries + i;
        FUZZ_CHECK(r->timeout_ms >= 10 && r->timeout_ms <= 3600 * 1000 && r->keepalive_timeout_ms <= 3600 * 1000,
                   "route %zu: timeout %llu ms, keepalive_timeout %llu ms", i, (unsigned long long)r->timeout_ms,
                   (unsigned long long)r->keepalive_timeout_ms);
        FUZZ_CHECK(r->path != NULL && r->upstream != NULL && (r->preserve_host == 0 || r->preserve_host == 1), "route %zu", i);
    }
    FUZZ_CHECK(cfg->redis.url != NULL, "no Redis URL");
    FUZZ_CHECK(kve_config_h2o_body_limit(cfg) >= 1, "no request body limit");
    (void)kve_config_uses_embedded_redis(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kve_config_t cfg;

    if (size > 64 * 1024)
        return 0;
    FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size, "writing the memfd");
    memset(&cfg, 0, sizeof(cfg));
    if (kve_config_load(&cfg, path, errout) == 0)
        check_loaded(&cfg);
    kve_config_dispose(&cfg);
    return 0;
}
