/* SPDX-License-Identifier: MIT */
/*
 * ACL users that mirror the KV policy (see kv_acl.h). Each command and subcommand of the table is judged by
 * the policy exactly as a request naming it would be (without arguments), so the ACL can never be more
 * generous than the policy by name. A container (CONFIG, OBJECT, ...) whose subcommands all get the same
 * answer becomes one rule; otherwise each subcommand gets its own.
 */
#include "handlers/kv_acl.h"
#include "handlers/kv_policy.h"

#include <stdio.h>

static const char *const table[] = {
#define KVE_CMD(name, arity, first, last, step, flags) name,
#include "handlers/kv_commands.def"
#undef KVE_CMD
};

/* what kvedge's own connections send whatever the policy says (see kv_acl.h) */
static int needed_by_kvedge(const char *name, int read_only, int select_db)
{
    static const char *const both[] = {"ping", "multi", "exec", "discard"};
    static const char *const rw[] = {"script|kill", "function|kill"};
    size_t i;

    for (i = 0; i != KVE_ARRAY_SIZE(both); ++i)
        if (strcmp(name, both[i]) == 0)
            return 1;
    for (i = 0; !read_only && i != KVE_ARRAY_SIZE(rw); ++i)
        if (strcmp(name, rw[i]) == 0)
            return 1;
    return select_db && strcmp(name, "select") == 0;
}

/* the policy's verdict on a request that names `name` ("container|sub" for a subcommand) and nothing else;
 * a streaming endpoint's command (SUBSCRIBE, PSUBSCRIBE, MONITOR) counts as allowed when its endpoint is */
static int policy_allows(const kve_rest_policy_t *policy, unsigned flags, const char *name, h2o_mem_pool_t *pool)
{
    const char *bar = strchr(name, '|'), *argv[2];
    size_t argvlen[2];
    kve_rest_cmd_t cmd = {bar != NULL ? 2 : 1, argv, argvlen};
    kve_policy_result_t res;

    argv[0] = name, argvlen[0] = bar != NULL ? (size_t)(bar - name) : strlen(name);
    if (bar != NULL)
        argv[1] = bar + 1, argvlen[1] = strlen(bar + 1);
    kve_rest_policy_apply(policy, flags, &cmd, pool, &res);
    if (res.verdict != KVE_POLICY_DENY)
        return 1;
    cmd.argc = bar != NULL ? 2 : 1; /* the policy may have rewritten it */
    argv[0] = name, argvlen[0] = bar != NULL ? (size_t)(bar - name) : strlen(name);
    kve_rest_policy_apply(policy, flags | KVE_POLICY_F_STREAM, &cmd, pool, &res);
    return res.verdict != KVE_POLICY_DENY;
}

static int allowed(const kve_rest_policy_t *policy, int read_only, int select_db, const char *name, h2o_mem_pool_t *pool)
{
    return needed_by_kvedge(name, read_only, select_db) ||
           policy_allows(policy, read_only ? KVE_POLICY_F_READ_ONLY : 0, name, pool);
}

static int is_sub_of(const char *name, const char *container, size_t clen)
{
    return strncmp(name, container, clen) == 0 && name[clen] == '|';
}

/* the rule for one name, if one is needed: read-write users start from +@all and remove, read-only ones start
 * from -@all and add */
static void push_rule(kve_acl_user_t *out, int read_only, int ok, const char *name)
{
    char rule[160];
    if (ok != read_only)
        return;
    snprintf(rule, sizeof(rule), "%c%s", ok ? '+' : '-', name);
    kve_strv_push(&out->rules, rule);
}

/* a refused name the check at connect asks about: scripts cannot call NOSCRIPT commands whatever the ACL
 * says (and Redis lets every user run AUTH, HELLO, QUIT and RESET, which are among them) */
static void push_refused(kve_acl_user_t *out, const char *name)
{
    const kve_cmd_info_t *info = kve_cmd_lookup(name, strlen(name));
    if (info == NULL || (info->flags & KVE_CMDF_NOSCRIPT) == 0)
        kve_strv_push(&out->refused, name);
}

static void add_name(kve_acl_user_t *out, int read_only, int ok, const char *name)
{
    push_rule(out, read_only, ok, name);
    if (!ok)
        push_refused(out, name);
}

/* a container's subcommands start at table[first]; returns the index after them */
static size_t add_container(kve_acl_user_t *out, const kve_rest_policy_t *policy, int read_only, int select_db, size_t first,
                            h2o_mem_pool_t *pool)
{
    const char *container = table[first - 1];
    size_t clen = strlen(container), end, i, nok = 0;

    for (end = first; end != KVE_ARRAY_SIZE(table) && is_sub_of(table[end], container, clen); ++end)
        nok += allowed(policy, read_only, select_db, table[end], pool);
    if (nok != 0 && nok != end - first) { /* mixed: a rule per subcommand */
        for (i = first; i != end; ++i)
            add_name(out, read_only, allowed(policy, read_only, select_db, table[i], pool), table[i]);
        return end;
    }
    push_rule(out, read_only, nok != 0, container); /* one answer for all: one rule */
    for (i = first; nok == 0 && i != end; ++i)
        push_refused(out, table[i]); /* the check asks about each subcommand */
    return end;
}

void kve_rest_acl_build(const kve_rest_conf_t *conf, int read_only, int select_db, kve_acl_user_t *out)
{
    kve_rest_policy_t policy = {conf->allow_keys, conf->allow_flush, conf->max_key_size, conf->scan_max_count};
    h2o_mem_pool_t pool;
    size_t i = 0;

    policy.deny.entries = conf->deny_commands.entries, policy.deny.size = conf->deny_commands.size;
    policy.allow.entries = conf->allow_commands.entries, policy.allow.size = conf->allow_commands.size;
    kve_rest_policy_init();
    h2o_mem_init_pool(&pool);
    kve_strv_push(&out->rules, "resetkeys");
    kve_strv_push(&out->rules, "~*");
    kve_strv_push(&out->rules, "resetchannels");
    kve_strv_push(&out->rules, "&*");
    kve_strv_push(&out->rules, read_only ? "-@all" : "+@all");
    while (i != KVE_ARRAY_SIZE(table)) {
        const kve_cmd_info_t *info = kve_cmd_lookup(table[i], strlen(table[i]));
        if (info != NULL && (info->flags & KVE_CMDF_CONTAINER) != 0) {
            i = add_container(out, &policy, read_only, select_db, i + 1, &pool);
        } else {
            add_name(out, read_only, allowed(&policy, read_only, select_db, table[i], &pool), table[i]);
            ++i;
        }
        h2o_mem_clear_pool(&pool);
    }
}

void kve_rest_acl_dispose(kve_acl_user_t *user)
{
    kve_strv_dispose(&user->rules);
    kve_strv_dispose(&user->refused);
}
