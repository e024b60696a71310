/* SPDX-License-Identifier: MIT */
/*
 * What the web console (handlers/console.h) needs from the configuration:
 *
 *   - the running configuration as JSON, rendered from the directive tables and the loaded values (not from the
 *     file's text): every KVE_F_SECRET and KVE_F_HIDDEN value is "<redacted>" (tokens, JWT keys, passwords, URLs
 *     that may carry credentials; a `<key>_file` secret was read into its key and is redacted with it), any other
 *     string holding a URL with userinfo too, and CUSTOM values (parsed by code of their own) are "<not shown>";
 *   - the `kvedge -t` check of a pasted configuration: kve_config_load_string() under a name in the running
 *     configuration's folder (so relative paths resolve as they would for the running file), never applied, and
 *     without reading the environment (`${NAME}` gives a placeholder, `${NAME:-x}` its default: kve_value_set_no_env),
 *     so no environment value, a secret held there included, can come back in a message.
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "conf/value.h"
#include "handlers/console.h"
#include "proxy/common.h"
#include "proxy/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDACTED "<redacted>"

static void render_object(kve_buf_t *buf, const kve_directive_t *table, const void *obj);

/* "scheme://user:pass@host": userinfo before the host */
static int has_userinfo(const char *s)
{
    const char *url = strstr(s, "://");
    return url != NULL && strcspn(url + 3, "/?#") > strcspn(url + 3, "@");
}

static void render_string(kve_buf_t *buf, const char *s, unsigned flags)
{
    if (s == NULL)
        kve_buf_printf(buf, "null");
    else if ((flags & (KVE_F_SECRET | KVE_F_HIDDEN)) || has_userinfo(s))
        kve_buf_printf(buf, "\"" REDACTED "\"");
    else
        kve_json_string(buf, s, strlen(s));
}

static void render_value(kve_buf_t *buf, const kve_directive_t *d, const void *field)
{
    size_t i;
    switch (d->type) {
    case KVE_T_STRING:
    case KVE_T_URL:
        render_string(buf, *(char *const *)field, d->flags);
        break;
    case KVE_T_INT:
        kve_buf_printf(buf, "%lld", (long long)*(const int64_t *)field);
        break;
    case KVE_T_BOOL:
        kve_buf_printf(buf, "%s", *(const int *)field ? "true" : "false");
        break;
    case KVE_T_DURATION:
    case KVE_T_SIZE:
        kve_buf_printf(buf, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case KVE_T_ENUM: {
        int v = *(const int *)field, n = 0;
        while (d->choices != NULL && d->choices[n] != NULL)
            ++n;
        if (v >= 0 && v < n)
            kve_json_string(buf, d->choices[v], strlen(d->choices[v]));
        else
            kve_buf_printf(buf, "%d", v);
        break;
    }
    case KVE_T_STRING_LIST: {
        const kve_conf_strings_t *l = field;
        kve_buf_putc(buf, '[');
        for (i = 0; i != l->size; ++i) {
            if (i != 0)
                kve_buf_putc(buf, ',');
            render_string(buf, l->entries[i], d->flags);
        }
        kve_buf_putc(buf, ']');
        break;
    }
    case KVE_T_MAP:
        render_object(buf, d->children, field);
        break;
    case KVE_T_LIST: {
        const kve_conf_list_t *l = field;
        kve_buf_putc(buf, '[');
        for (i = 0; i != l->size; ++i) {
            if (i != 0)
                kve_buf_putc(buf, ',');
            render_object(buf, d->children, (const char *)l->entries + i * d->elem_size);
        }
        kve_buf_putc(buf, ']');
        break;
    }
    case KVE_T_DICT: {
        const kve_conf_dict_t *dict = field;
        kve_buf_putc(buf, '{');
        for (i = 0; i != dict->size; ++i) {
            kve_buf_printf(buf, "%s", i != 0 ? "," : "");
            render_string(buf, dict->names[i], 0);
            kve_buf_putc(buf, ':');
            render_object(buf, d->children, (const char *)dict->entries + i * d->elem_size);
        }
        kve_buf_putc(buf, '}');
        break;
    }
    case KVE_T_CUSTOM:
        kve_buf_printf(buf, "\"<not shown>\"");
        break;
    }
}

static void render_object(kve_buf_t *buf, const kve_directive_t *table, const void *obj)
{
    kve_buf_putc(buf, '{');
    for (const kve_directive_t *d = table; d->key != NULL; ++d) {
        if (d != table)
            kve_buf_putc(buf, ',');
        kve_json_string(buf, d->key, strlen(d->key));
        kve_buf_putc(buf, ':');
        render_value(buf, d, (const char *)obj + d->offset);
    }
    kve_buf_putc(buf, '}');
}

static char *config_json(const kve_config_t *cfg)
{
    kve_buf_t buf = KVE_BUF_INIT;
    render_object(&buf, kve_config__top_directives(), cfg);
    kve_buf_putc(&buf, '\0');
    return buf.base;
}

/* --- the check --- */

/* appends the lines of `text` that contain `marker` as a JSON array */
static void json_lines(kve_buf_t *out, const char *text, const char *marker)
{
    int first = 1;
    kve_buf_putc(out, '[');
    for (const char *line = text; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        char *copy = kve_strndup(line, len);
        if (strstr(copy, marker) != NULL) {
            if (!first)
                kve_buf_putc(out, ',');
            kve_json_string(out, copy, len);
            first = 0;
        }
        free(copy);
        line += len + (line[len] == '\n');
    }
    kve_buf_putc(out, ']');
}

static void check(void *ctx, const char *text, size_t len, kve_buf_t *out)
{
    const char *name = ctx;
    kve_config_t cfg = {0};
    char *errors = NULL;
    size_t errors_len = 0;
    FILE *errout = open_memstream(&errors, &errors_len);
    int ret;

    (void)len;
    KVE_ASSERT(errout != NULL);
    kve_value_set_no_env(1); /* the daemon's environment never reaches the answer */
    ret = kve_config_load_string(&cfg, name, text, errout);
    kve_value_set_no_env(0);
    kve_config_dispose(&cfg);
    fclose(errout);
    kve_buf_printf(out, "{\"valid\":%s,\"errors\":", ret == 0 ? "true" : "false");
    json_lines(out, errors, ": error: ");
    kve_buf_printf(out, ",\"warnings\":");
    json_lines(out, errors, ": warning: ");
    kve_buf_printf(out, ",\"output\":");
    kve_json_string(out, errors, errors_len);
    kve_buf_putc(out, '}');
    free(errors);
}

/* "<folder of the running file>/console-check.yaml" (malloc'd) */
static char *check_name(const kve_config_t *cfg)
{
    return kve_conf_resolve_path(cfg->file != NULL ? cfg->file : "kvedge.yaml", "console-check.yaml");
}

void kve_config__console_register(const kve_config_t *cfg, h2o_pathconf_t *pathconf, const kve_admin_sources_t *sources)
{
    kve_console_hooks_t hooks = {config_json(cfg), check, check_name(cfg), free};
    hooks.routes = cfg->routes.entries;
    hooks.num_routes = cfg->routes.size;
    hooks.kv_store = cfg->kv_enabled ? (int)cfg->kv.store_id : -1;
    kve_console_register(pathconf, &cfg->admin, sources, &hooks);
}
