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

/* the UTF-8 sequence at s[*i] (at most `len` bytes) as a code point, advancing *i past it; 0 for an invalid one */
static unsigned decode_utf8(const unsigned char *s, size_t len, size_t *i)
{
    unsigned c = s[*i], cp, n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;

    ++*i;
    if (n == 0 || c >= 0xf8 || *i + n > len)
        return 0;
    cp = c & (0x3f >> n);
    for (; n != 0; --n, ++*i) {
        if ((s[*i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[*i] & 0x3f);
    }
    return cp;
}

/* `s` as roff text: a backslash is written \e, other than ASCII as \[uXXXX] (groff reads bytes, not UTF-8) */
static void put_roff(FILE *out, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (s[i] >= 0x80) {
            unsigned cp = decode_utf8(s, len, &i);
            if (cp >= 0xa0)
                fprintf(out, "\\[u%04X]", cp);
            else
                fputc('?', out);
            continue;
        }
        if (s[i] == '\\')
            fputs("\\e", out);
        else if (s[i] == '\n' || s[i] < 0x20)
            fputc(' ', out);
        else
            fputc(s[i], out);
        ++i;
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
