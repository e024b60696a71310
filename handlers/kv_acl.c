/* SPDX-License-Identifier: MIT */
/*
 * ACL users that mirror the KV policy (see kv_acl.h). Each command and subcommand of the table is judged by
 * the policy exactly as a request naming it would be (without arguments), so the ACL can never be more
 * generous than the policy by name. A container (CONFIG, OBJECT, ...) whose subcommands all get the same
 * answer becomes one rule; otherwise each subcommand gets its own.
 */
#include "handlers/kv_acl.h"
#include "handlers/kv_policy.h"
#include "proxy/kv_commands.h"

#include <stdio.h>

/* what kvedge's own connections send whatever the policy says (see kv_acl.h) */
static int needed_by_kvedge(const char *name, int read_only, unsigned store)
{
    /* a cluster store's map and migrations (kv_cluster.h); CLUSTER SHARDS is not `noscript`: a token holder's script
     * may read the cluster's topology (addresses, roles, offsets), never data */
    static const char *const cluster[] = {"cluster|shards", "cluster|slots", "asking"};
    /* role: the sync position of writes, and a replica's position before it serves reads (kv_replicas.h); ROLE is
     * `noscript`, so granting it lets no script of a token holder read it */
    static const char *const both[] = {"ping", "multi", "exec", "discard", "role"};
    /* wait: min_replicas_ack's WAIT (kv_ack.h; `noscript` too); its PUBLISH needs publish, which the policy allows by
     * default (docs/scale-out.md) */
    static const char *const rw[] = {"script|kill", "function|kill", "wait"};
    size_t i;

    for (i = 0; i != KVE_ARRAY_SIZE(both); ++i)
        if (strcmp(name, both[i]) == 0)
            return 1;
    for (i = 0; !read_only && i != KVE_ARRAY_SIZE(rw); ++i)
        if (strcmp(name, rw[i]) == 0)
            return 1;
    for (i = 0; (store & KVE_ACL_CLUSTER) != 0 && i != KVE_ARRAY_SIZE(cluster); ++i)
        if (strcmp(name, cluster[i]) == 0)
            return 1;
    return (store & KVE_ACL_SELECT_DB) != 0 && strcmp(name, "select") == 0;
}

/* a streaming endpoint's command (SUBSCRIBE, PSUBSCRIBE, MONITOR) counts as allowed when its endpoint is */
static int allowed(const kve_rest_policy_t *policy, int read_only, unsigned store, const kve_cmd_info_t *info)
{
    unsigned flags = read_only ? KVE_POLICY_F_READ_ONLY : 0;
    return needed_by_kvedge(info->name, read_only, store) || kve_rest_policy_name_allowed(policy, flags, info) ||
           kve_rest_policy_name_allowed(policy, flags | KVE_POLICY_F_STREAM, info);
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

/* `container`'s subcommands: one rule when they all get the same answer, else one each */
static void add_container(kve_acl_user_t *out, const kve_rest_policy_t *policy, int read_only, unsigned store,
                          const kve_cmd_info_t *container)
{
    size_t n, i, nsubs = 0, nok = 0;
    const kve_cmd_info_t *table = kve_cmd_table(&n);

    for (i = 0; i != n; ++i) {
        if (table + i == container || kve_cmd_container(table + i) != container)
            continue;
        ++nsubs;
        nok += allowed(policy, read_only, store, table + i);
    }
    if (nok != 0 && nok != nsubs) { /* mixed: a rule per subcommand */
        for (i = 0; i != n; ++i)
            if (table + i != container && kve_cmd_container(table + i) == container)
                add_name(out, read_only, allowed(policy, read_only, store, table + i), table[i].name);
        return;
    }
    push_rule(out, read_only, nok != 0, container->name); /* one answer for all: one rule */
    for (i = 0; nok == 0 && i != n; ++i)
        if (table + i != container && kve_cmd_container(table + i) == container)
            push_refused(out, table[i].name); /* the check asks about each subcommand */
}

void kve_rest_acl_build(const kve_rest_conf_t *conf, int read_only, unsigned store, kve_acl_user_t *out)
{
    kve_rest_policy_t policy;
    size_t n, i;
    const kve_cmd_info_t *table = kve_cmd_table(&n);

    kve_rest_policy_of(conf, &policy);
    kve_rest_policy_init();
    kve_strv_push(&out->rules, "resetkeys");
    kve_strv_push(&out->rules, "~*");
    kve_strv_push(&out->rules, "resetchannels");
    kve_strv_push(&out->rules, "&*");
    kve_strv_push(&out->rules, read_only ? "-@all" : "+@all");
    for (i = 0; i != n; ++i) {
        if ((table[i].flags & KVE_CMDF_CONTAINER) != 0)
            add_container(out, &policy, read_only, store, table + i);
        else if (kve_cmd_container(table + i) == table + i) /* subcommands come with their container */
            add_name(out, read_only, allowed(&policy, read_only, store, table + i), table[i].name);
    }
}

void kve_rest_acl_dispose(kve_acl_user_t *user)
{
    kve_strv_dispose(&user->rules);
    kve_strv_dispose(&user->refused);
}
