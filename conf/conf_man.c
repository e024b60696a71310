/* SPDX-License-Identifier: MIT */
/*
 * The directive tables as roff (man(7) macros) for kvedge.yaml(5): the page is generated from the same tables that
 * parse the file and print `kvedge --help-config`, at build time (man/gen_config_man.c), so it cannot drift.
 */
#include "conf/conf.h"
#include "conf/conf_internal.h"
#include "proxy/common.h"

#include <stdlib.h>
#include <string.h>

/* how deep tables nest at most (the deepest today is 4: routes[].session.users.<name>...) */
#define MAX_DEPTH 8
#define MAX_PATH 512

/* `s` as roff text: a backslash is written \e, and a line never starts with a control character ('.' or '\'') */
static void put_roff(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i != len; ++i) {
        if (s[i] == '\\')
            fputs("\\e", out);
        else if (s[i] == '\n')
            fputs(" ", out);
        else
            fputc(s[i], out);
    }
}

static void put_line(FILE *out, const char *s, size_t len)
{
    fputs("\\&", out); /* zero-width: a leading '.' or '\'' stays text */
    put_roff(out, s, len);
    fputc('\n', out);
}

/* the summary, "(type, ..., default ...)", as --help-config prints it */
static void put_summary(FILE *out, const kve_directive_t *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    KVE_ASSERT(mem != NULL);
    kve_conf__print_summary(mem, d);
    KVE_ASSERT(fclose(mem) == 0);
    put_line(out, text, len);
    free(text);
}

/* a subsection per top-level key with keys under it; the plain ones share "top level" */
static void put_section(FILE *out, const kve_directive_t *d, int *in_top)
{
    if (d->children != NULL) {
        fputs(".SS ", out), put_line(out, d->key, strlen(d->key));
        *in_top = 0;
    } else if (!*in_top) {
        fputs(".SS top level\n", out);
        *in_top = 1;
    }
}

static void print_table(FILE *out, const kve_directive_t *table, char *path, size_t pathlen, int depth)
{
    int in_top = 0;

    KVE_ASSERT(depth < MAX_DEPTH);
    for (; table->key != NULL; ++table) {
        int n = snprintf(path + pathlen, MAX_PATH - pathlen, "%s%s", pathlen != 0 ? "." : "", table->key);
        size_t len;

        KVE_ASSERT(n > 0 && (size_t)n < MAX_PATH - pathlen);
        len = pathlen + (size_t)n;
        if (depth == 0)
            put_section(out, table, &in_top);
        fputs(".TP\n.B ", out);
        put_line(out, path, len);
        put_summary(out, table);
        if (table->doc != NULL)
            put_line(out, table->doc, strlen(table->doc));
        if (table->children != NULL) {
            const char *suffix = table->type == KVE_T_LIST ? "[]" : table->type == KVE_T_DICT ? ".<name>" : "";
            KVE_ASSERT(len + strlen(suffix) < MAX_PATH);
            strcpy(path + len, suffix);
            print_table(out, table->children, path, len + strlen(suffix), depth + 1);
        }
        path[pathlen] = '\0';
    }
}

void kve_conf_print_man(FILE *out, const kve_directive_t *table)
{
    char path[MAX_PATH] = "";
    print_table(out, table, path, 0, 0);
}
