/* SPDX-License-Identifier: MIT */
/* Generations, the embedded Redis, signals and the reload (see daemon.h). */
#include "proxy/daemon.h"
#include "conf/config.h"
#include "handlers/cache_memory_sync.h"
#include "proxy/common.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/notify.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 100

typedef struct st_daemon_t daemon_t;

typedef struct st_generation_t {
    unsigned id;
    kve_config_t cfg;
    kve_server_conf_t server_conf;
    /** the Redis users of the KV API's links (built only when the KV API is served) */
    kve_redis_users_t users;
    /** the stores' targets and per-thread links */
    kve_stores_t *stores;
    kve_access_log_t *access_log;
    kve_server_t *server;
    kve_server_hooks_t hooks;
    /** the next newer generation (the successor of a draining one) */
    struct st_generation_t *newer;
} generation_t;

struct st_daemon_t {
    const char *config_path;
    /** the serving generation */
    generation_t *current;
    /** the oldest draining generation (then its `newer`, up to `current`); NULL when none drains */
    generation_t *oldest;
    unsigned num_generations;
    kve_embedded_t *embedded;
    /** the users the embedded Redis was started with (their passwords; NULL fields when it has none) */
    kve_redis_users_t embedded_users;
    /** the pid file written (a copy; NULL: none) */
    char *pid_file;
};

/* --- a generation's threads --- */

static void on_thread_start(kve_thread_t *thread, void *data)
{
    generation_t *gen = data;
    kve_mailbox_open(&thread->mailbox, thread->ctx.queue, thread->ctx.loop, thread);
    kve_stores_thread_start(gen->stores, thread);
}

/* the mailbox first: mail still on its way is answered while the links exist */
static void on_thread_stop(kve_thread_t *thread, void *data)
{
    generation_t *gen = data;
    kve_mailbox_close(&thread->mailbox);
    kve_stores_thread_stop(gen->stores, thread);
}

/* --- building and freeing a generation --- */

static void generation_destroy(generation_t *gen)
{
    if (gen == NULL)
        return;
    for (size_t i = 0; gen->server != NULL && i != kve_server_num_threads(gen->server); ++i)
        kve_mailbox_dispose(&kve_server_get_thread(gen->server, i)->mailbox);
    kve_server_destroy(gen->server);
    kve_stores_destroy(gen->stores);
    kve_access_log_close(gen->access_log);
    kve_config_users_dispose(&gen->users);
    kve_config_dispose(&gen->cfg);
    free(gen);
}

/* the embedded Redis `gen` needs: the running one when its command line is the same, else started (or refused) */
static int attach_embedded(daemon_t *d, generation_t *gen, char *err, size_t errlen)
{
    char *const *args = gen->users.embedded_args.v;

    if (!kve_config_uses_embedded_redis(&gen->cfg))
        return 0;
    if (d->embedded != NULL) {
        if (kve_embedded_matches(d->embedded, &gen->cfg.embedded, args))
            return 0;
        kve_log(KVE_LOG_WARN, "reload",
                "the embedded Redis' settings changed (embedded_redis, or the KV policy its users follow): restarting it; "
                "requests that reach it meanwhile get 503");
        return kve_embedded_reconfigure(d->embedded, &gen->cfg.embedded, args, err, errlen);
    }
    if ((d->embedded = kve_embedded_start(&gen->cfg.embedded, args, err, errlen)) == NULL)
        return -1;
    kve_config_users_dispose(&d->embedded_users);
    memset(&d->embedded_users, 0, sizeof(d->embedded_users));
    memcpy(d->embedded_users.rw_password, gen->users.rw_password, sizeof(gen->users.rw_password));
    memcpy(d->embedded_users.ro_password, gen->users.ro_password, sizeof(gen->users.ro_password));
    return 0;
}

static int init_stores(daemon_t *d, generation_t *gen, char *err, size_t errlen)
{
    kve_store_spec_t specs[KVE_STORES_MAX];

    kve_config_store_specs(&gen->cfg, &gen->users, specs);
    gen->stores = kve_stores_create(specs, gen->cfg.stores.size, d->embedded != NULL ? kve_embedded_socket_path(d->embedded) : NULL,
                                    kve_server_num_threads(gen->server), err, errlen);
    return gen->stores != NULL ? 0 : -1;
}

/*
 * Builds a generation from `gen->cfg` (loaded) and starts its workers. The listeners are bound (or taken over from
 * `predecessor`) and the certificates loaded before the embedded Redis is started, so a bad certificate or a port in
 * use leaves nothing behind.
 */
static int generation_start(daemon_t *d, generation_t *gen, generation_t *predecessor, char *err, size_t errlen)
{
    const kve_log_conf_t *lc = &gen->cfg.log;
    kve_admin_sources_t sources;

    if (lc->access_log != NULL && lc->access_log[0] != '\0' &&
        (gen->access_log = kve_access_log_open(lc->access_log, lc->access_log_format, err, errlen)) == NULL)
        return -1;
    if (gen->cfg.kv_enabled)
        kve_config_users_build_keeping(&gen->cfg, &gen->users, d->embedded != NULL ? &d->embedded_users : NULL);
    gen->server_conf = gen->cfg.server;
    gen->server_conf.listen.entries = gen->cfg.all_listeners.entries; /* main listeners + the KV API's own */
    gen->server_conf.listen.size = gen->cfg.all_listeners.size;
    gen->server_conf.limits.max_body_size = kve_config_h2o_body_limit(&gen->cfg);
    if ((gen->server = kve_server_create(&gen->server_conf, predecessor != NULL ? predecessor->server : NULL, err, errlen)) == NULL)
        return -1;
    if (attach_embedded(d, gen, err, errlen) != 0 || init_stores(d, gen, err, errlen) != 0)
        return -1;
    sources = (kve_admin_sources_t){gen->server, d->embedded};
    kve_cache_mem_set_generation(gen->id);
    if (kve_config_register_paths(&gen->cfg, gen->server, &sources, gen->access_log, err, errlen) != 0)
        return -1;
    gen->hooks = (kve_server_hooks_t){on_thread_start, on_thread_stop, gen};
    kve_server_start(gen->server, &gen->hooks);
    return 0;
}

/* --- the pid file --- */

static void remove_pid_file(daemon_t *d)
{
    if (d->pid_file != NULL && unlink(d->pid_file) != 0 && errno != ENOENT)
        kve_log(KVE_LOG_WARN, "main", "cannot remove pid_file %s: %s", d->pid_file, strerror(errno));
    free(d->pid_file);
    d->pid_file = NULL;
}

static void write_pid_file(daemon_t *d, const char *path)
{
    FILE *fp;

    if (path == NULL || (d->pid_file != NULL && strcmp(d->pid_file, path) == 0))
        return;
    remove_pid_file(d);
    if ((fp = fopen(path, "w")) == NULL || fprintf(fp, "%d\n", (int)getpid()) < 0 || fclose(fp) != 0) {
        kve_log(KVE_LOG_ERROR, "main", "cannot write pid_file %s: %s", path, strerror(errno));
        return;
    }
    d->pid_file = kve_strdup(path);
}

/* --- logs --- */

static int apply_log_conf(const kve_log_conf_t *lc, char *err, size_t errlen)
{
    kve_log_set_level(lc->level);
    kve_log_set_format(lc->format);
    return kve_log_open(lc->error_log, err, errlen);
}

static void reopen_logs(daemon_t *d)
{
    kve_log(KVE_LOG_INFO, "main", "received SIGUSR1, reopening log files");
    kve_log_reopen();
    for (generation_t *gen = d->oldest != NULL ? d->oldest : d->current; gen != NULL; gen = gen->newer)
        if (gen->access_log != NULL)
            kve_access_log_reopen(gen->access_log);
}

/* --- the reload --- */

/* loads the file, sending its errors (compiler-style lines) to the log; 0 when valid */
static int load_logging_errors(const char *path, kve_config_t *cfg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *errs = open_memstream(&text, &size);
    int ret;

    if (errs == NULL)
        return kve_config_load(cfg, path, stderr);
    ret = kve_config_load(cfg, path, errs);
    fclose(errs);
    for (char *line = text, *end; line != NULL && *line != '\0'; line = end != NULL ? end + 1 : NULL) {
        if ((end = strchr(line, '\n')) != NULL)
            *end = '\0';
        if (*line != '\0')
            kve_log(ret == 0 ? KVE_LOG_WARN : KVE_LOG_ERROR, "reload", "%s", line);
    }
    free(text);
    return ret;
}

static void reload(daemon_t *d)
{
    generation_t *gen = kve_zalloc(sizeof(*gen)), *old = d->current;
    char err[1024];

    kve_log(KVE_LOG_INFO, "reload", "received SIGHUP, reloading %s", d->config_path);
    gen->id = ++d->num_generations;
    if (load_logging_errors(d->config_path, &gen->cfg) != 0) {
        kve_log(KVE_LOG_ERROR, "reload", "%s has errors: still serving the previous configuration", d->config_path);
        generation_destroy(gen);
        return;
    }
    if (generation_start(d, gen, old, err, sizeof(err)) != 0) {
        kve_log(KVE_LOG_ERROR, "reload", "%s: %s; still serving the previous configuration", d->config_path, err);
        generation_destroy(gen);
        return;
    }
    if (apply_log_conf(&gen->cfg.log, err, sizeof(err)) != 0)
        kve_log(KVE_LOG_ERROR, "reload", "error_log: %s (logging stays where it was)", err);
    write_pid_file(d, gen->cfg.pid_file);
    old->newer = gen;
    if (d->oldest == NULL)
        d->oldest = old;
    d->current = gen;
    kve_server_stop(old->server, gen->server);
    kve_log(KVE_LOG_INFO, "reload", "configuration %u serving with %zu threads; the previous one drains", gen->id,
            kve_server_num_threads(gen->server));
}

/* frees the draining generations whose workers have all returned, oldest first */
static void reap(daemon_t *d, int wait)
{
    while (d->oldest != NULL && (wait || kve_server_stopped(d->oldest->server))) {
        generation_t *gen = d->oldest;
        kve_server_join(gen->server);
        kve_server_predecessor_done(gen->newer->server);
        d->oldest = gen->newer != d->current ? gen->newer : NULL;
        kve_log(KVE_LOG_INFO, "reload", "configuration %u drained", gen->id);
        generation_destroy(gen);
    }
}

/* --- running --- */

static void serve(daemon_t *d)
{
    for (;;) {
        uint64_t wait = d->embedded != NULL ? KVE_MIN(kve_embedded_poll(d->embedded), (uint64_t)TICK_MS) : TICK_MS;
        int sig = kve_server_wait_signal(wait);
        if (sig == SIGTERM || sig == SIGINT) {
            kve_log(KVE_LOG_INFO, "server", "received %s, draining connections (up to %llums)",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)d->current->cfg.server.limits.drain_timeout_ms);
            break;
        }
        if (sig == SIGHUP) {
            kve_notify_reloading(); /* systemd: a reload, done (applied or refused) at the next READY=1 */
            reload(d);
            kve_notify_ready("serving");
        } else if (sig == SIGUSR1)
            reopen_logs(d);
        reap(d, 0);
    }
}

static void shutdown_daemon(daemon_t *d)
{
    kve_notify_stopping(); /* the drain starts */
    kve_server_stop(d->current->server, NULL);
    reap(d, 1);
    kve_server_join(d->current->server);
}

/*
 * Large allocations (request bodies being received, replies) always get their own mapping, given back to the
 * system when freed. glibc's default raises this threshold after each large free, so the next large buffers
 * come from the heap and stay in the process after an attack: measured with 40 clients x 10 MiB against
 * limits.max_pending_size 64MiB, RSS peaked ~50 MiB higher with the default.
 */
static void tune_malloc(void)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

int kve_daemon_run(const char *config_path)
{
    daemon_t d = {config_path};
    generation_t *gen = kve_zalloc(sizeof(*gen));
    char err[1024];
    int status = 0;

    gen->id = ++d.num_generations;
    d.current = gen;
    if (kve_config_load(&gen->cfg, config_path, stderr) != 0) {
        status = 1;
        goto Exit;
    }
    kve_server_block_signals();
    tune_malloc();
    if (apply_log_conf(&gen->cfg.log, err, sizeof(err)) != 0 || generation_start(&d, gen, NULL, err, sizeof(err)) != 0) {
        kve_log(KVE_LOG_ERROR, "main", "%s", err);
        status = 1;
        goto Exit;
    }
    write_pid_file(&d, gen->cfg.pid_file);
    kve_config_log_warnings(&gen->cfg); /* (printed while loading; into the error log when it is a file) */
    kve_log(KVE_LOG_INFO, "main", "kvedge %s started (config %s, %zu store%s%s)", KVE_VERSION, config_path, gen->cfg.stores.size,
            gen->cfg.stores.size == 1 ? "" : "s", d.embedded != NULL ? ", one of them the embedded redis-server" : "");
    kve_log(KVE_LOG_INFO, "server", "serving with %zu threads", kve_server_num_threads(gen->server));
    kve_notify_ready("serving"); /* systemd Type=notify: listeners open, workers running */
    serve(&d);
    shutdown_daemon(&d);
    kve_log(KVE_LOG_INFO, "main", "stopped");
Exit:
    generation_destroy(d.current);
    remove_pid_file(&d);
    kve_embedded_stop(d.embedded);
    kve_config_users_dispose(&d.embedded_users);
    kve_metrics_reset_routes();
    kve_log_close();
    return status;
}
