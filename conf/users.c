/* SPDX-License-Identifier: MIT */
/*
 * The Redis users of the KV API's links (see config.h), on the store kv.store names: one per token access
 * class, with ACL rules computed from the KV policy (handlers/kv_acl.c). For the embedded Redis kvedge creates them itself at every
 * start, with fresh random passwords passed to redis-server as SHA-256 hashes (its command line is visible to local users; a hash
 * of 256 random bits reveals nothing). For an external Redis `kvedge acl` prints the same rules as ACL SETUSER commands for the
 * operator.
 */
#include "conf/config.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define RW_USER "kvedge-rw"
#define RO_USER "kvedge-ro"

static void hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i != n; ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static void random_password(char out[65])
{
    unsigned char bytes[32];
    KVE_ASSERT(RAND_bytes(bytes, sizeof(bytes)) == 1);
    hex(bytes, sizeof(bytes), out);
    OPENSSL_cleanse(bytes, sizeof(bytes));
}

/* "#<sha256 of password>": how Redis takes a password it never sees in clear */
static void password_hash_rule(const char *password, char out[66])
{
    unsigned char md[32];
    unsigned int mdlen = sizeof(md);
    KVE_ASSERT(EVP_Digest(password, strlen(password), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == sizeof(md));
    out[0] = '#';
    hex(md, sizeof(md), out + 1);
}

static void push_user(kve_strv_t *args, const char *name, const char *password, const kve_acl_user_t *user)
{
    char hash[66];
    password_hash_rule(password, hash);
    kve_strv_push(args, "--user");
    kve_strv_push(args, name);
    kve_strv_push(args, "on");
    kve_strv_push(args, hash);
    for (size_t i = 0; i != user->rules.n; ++i)
        kve_strv_push(args, user->rules.v[i]);
}

static int kv_store_embedded(const kve_config_t *cfg)
{
    return strcmp(kve_config_kv_store(cfg)->redis->url, "embedded") == 0 &&
           kve_config_kv_store(cfg)->redis->sentinel.master == NULL && kve_config_kv_store(cfg)->redis->cluster.nodes.size == 0;
}

/* whether the KV API's links send SELECT: its store is an external Redis on a database other than 0 */
static int selects_db(const kve_config_t *cfg)
{
    kve_redis_target_t target;
    char err[256];
    int db;

    if (kve_config_kv_store(cfg)->redis->sentinel.master != NULL)
        return kve_config_kv_store(cfg)->redis->sentinel.db != 0;
    if (kve_config_kv_store(cfg)->redis->cluster.nodes.size != 0)
        return 0; /* Cluster has db 0 only */
    if (kv_store_embedded(cfg) || kve_redis_parse_url(kve_config_kv_store(cfg)->redis->url, &target, err, sizeof(err)) != 0)
        return 0;
    db = target.db;
    kve_redis_target_dispose(&target);
    return db != 0;
}

void kve_config_users_build(const kve_config_t *cfg, kve_redis_users_t *out)
{
    kve_config_users_build_keeping(cfg, out, NULL);
}

void kve_config_users_build_keeping(const kve_config_t *cfg, kve_redis_users_t *out, const kve_redis_users_t *running)
{
    unsigned store = (selects_db(cfg) ? KVE_ACL_SELECT_DB : 0) |
                     (kve_config_kv_store(cfg)->redis->cluster.nodes.size != 0 ? KVE_ACL_CLUSTER : 0);
    char threshold[24];

    KVE_ASSERT(cfg->kv_enabled);
    kve_rest_acl_build(&cfg->kv, 0, store, &out->rw);
    kve_rest_acl_build(&cfg->kv, 1, store, &out->ro);
    if (!kv_store_embedded(cfg))
        return;
    snprintf(out->rw_name, sizeof(out->rw_name), "%s", RW_USER);
    snprintf(out->ro_name, sizeof(out->ro_name), "%s", RO_USER);
    if (running != NULL && running->rw_password[0] != '\0') { /* the embedded Redis knows these (a reload keeps it) */
        memcpy(out->rw_password, running->rw_password, sizeof(out->rw_password));
        memcpy(out->ro_password, running->ro_password, sizeof(out->ro_password));
    } else {
        random_password(out->rw_password);
        random_password(out->ro_password);
    }
    push_user(&out->embedded_args, out->rw_name, out->rw_password, &out->rw);
    push_user(&out->embedded_args, out->ro_name, out->ro_password, &out->ro);
    /* Redis serves other clients during a script (SCRIPT KILL among them) only after this long: when kvedge's
     * script watchdog acts */
    snprintf(threshold, sizeof(threshold), "%llu", (unsigned long long)cfg->kv.script_timeout_ms);
    kve_strv_push(&out->embedded_args, "--busy-reply-threshold");
    kve_strv_push(&out->embedded_args, threshold);
}

void kve_config_users_dispose(kve_redis_users_t *users)
{
    kve_rest_acl_dispose(&users->rw);
    kve_rest_acl_dispose(&users->ro);
    kve_strv_dispose(&users->embedded_args);
    OPENSSL_cleanse(users->rw_password, sizeof(users->rw_password));
    OPENSSL_cleanse(users->ro_password, sizeof(users->ro_password));
}

static void print_user(FILE *out, const char *name, const kve_acl_user_t *user)
{
    fprintf(out, "ACL SETUSER %s reset on ><password>", name);
    for (size_t i = 0; i != user->rules.n; ++i)
        fprintf(out, " %s", user->rules.v[i]);
    fputc('\n', out);
}

void kve_config_print_acl(const kve_config_t *cfg, FILE *out)
{
    kve_acl_user_t rw = {0}, ro = {0};
    const kve_store_conf_t *store = kve_config_kv_store(cfg);
    const char *rw_name = store->redis->username != NULL ? store->redis->username : RW_USER;
    const char *ro_name = store->redis->read_only_username != NULL ? store->redis->read_only_username : RO_USER;
    int select_db = selects_db(cfg);
    char where[64];

    kve_rest_acl_build(&cfg->kv, 0, select_db, &rw);
    kve_rest_acl_build(&cfg->kv, 1, select_db, &ro);
    /* the settings to write: redis.* for the store redis: sets, stores.<name>.* for a named one */
    if (store->redis == &cfg->redis)
        snprintf(where, sizeof(where), "redis");
    else
        snprintf(where, sizeof(where), "stores.%s", store->name);
    fprintf(out,
            "# Redis ACL users for kvedge's KV API on store \"%s\", computed from its command policy (kvedge %s). Run these\n"
            "# with redis-cli as an admin user, with passwords of your own in place of <password>, then set %s.username /\n"
            "# %s.password and %s.read_only_username / %s.read_only_password (docs/security.md). Scripts\n"
            "# (EVAL, FCALL) run with these rights, so they cannot do what the policy refuses. Re-run after changing\n"
            "# kv.allow_commands, kv.deny_commands, kv.allow_keys or kv.allow_flush.\n",
            store->name, KVE_VERSION, where, where, where, where);
    print_user(out, rw_name, &rw);
    print_user(out, ro_name, &ro);
    kve_rest_acl_dispose(&rw);
    kve_rest_acl_dispose(&ro);
}
