/* SPDX-License-Identifier: MIT */
/*
 * What configuration errors must not show: the source text of hidden values (KVE_F_SECRET, KVE_F_HIDDEN).
 *
 * Once the tree exists, the engine records where each hidden value is (kve_conf__hide_lines). An error on
 * one of those lines shows the line with every one-line hidden value replaced by "<hidden>" and the caret
 * moved to match, so the position stays readable; a line holding part of a value that spans lines (a
 * block scalar, a quoted scalar broken over lines) is not shown at all.
 *
 * A YAML syntax error leaves no tree, so which lines may hold a secret is judged from the text alone
 * (kve_conf__secret_lines), erring on hiding too much: a line is suspect when one of its words looks like
 * the key of a secret (token, password, jwt_key, ..., close typos of them, url) or it holds a URL with
 * credentials, and so is every line that may continue that value (more indented lines, lines inside a
 * quote or flow collection opened on a suspect line, lines that do not look like a new entry). A suspect
 * line is never quoted; it shows "(not shown: may hold a secret)".
 */
#include "conf/conf.h"

#include <ctype.h>
#include <string.h>
#include "conf/conf_internal.h"
#include "conf/value.h"
#include "proxy/buf.h"
#include "proxy/common.h"

#define MASK "<hidden>"
#define MAX_SPANS 16

static void add_hidden(kve_conf_t *conf, struct st_kve_conf_hidden_t h)
{
    conf->hidden = kve_realloc(conf->hidden, (conf->num_hidden + 1) * sizeof(*conf->hidden));
    conf->hidden[conf->num_hidden++] = h;
}

void kve_conf__hide_lines(kve_conf_t *conf, const kve_node_t *node)
{
    struct st_kve_conf_hidden_t h = {node->file, node->line, KVE_MAX(node->line, node->end_line)};
    if (node->file == NULL)
        return;
    if (node->end_column > node->column && node->end_line <= node->line) { /* one line: only its columns */
        h.first_col = node->column;
        h.end_col = node->end_column;
    }
    add_hidden(conf, h);
}

void kve_conf__hide_suspect_line(kve_conf_t *conf, const char *file, unsigned line)
{
    add_hidden(conf, (struct st_kve_conf_hidden_t){file, line, line, 0, 0, 1});
}

static int is_continuation(char c)
{
    return ((unsigned char)c & 0xc0) == 0x80;
}

/* the spans [first_col, end_col) hidden on `line`, sorted and merged; -1 when the whole line is hidden (*suspect:
 * only a guess) */
static int find_spans(const kve_conf_t *conf, const char *file, unsigned line, unsigned (*spans)[2], int *suspect)
{
    int n = 0, i, merged = 0;
    for (size_t k = 0; k != conf->num_hidden; ++k) {
        const struct st_kve_conf_hidden_t *h = conf->hidden + k;
        if (line < h->first || line > h->last || strcmp(h->file, file) != 0)
            continue;
        if (h->end_col == 0 || n == MAX_SPANS) {
            *suspect = h->suspect;
            return -1;
        }
        for (i = n++; i > 0 && spans[i - 1][0] > h->first_col; --i) /* insertion sort: a few spans at most */
            spans[i][0] = spans[i - 1][0], spans[i][1] = spans[i - 1][1];
        spans[i][0] = h->first_col, spans[i][1] = h->end_col;
    }
    for (i = 0; i != n; ++i) {
        if (merged != 0 && spans[i][0] <= spans[merged - 1][1]) {
            spans[merged - 1][1] = KVE_MAX(spans[merged - 1][1], spans[i][1]);
        } else {
            spans[merged][0] = spans[i][0], spans[merged][1] = spans[i][1];
            ++merged;
        }
    }
    return merged;
}

char *kve_conf__shown_line(const kve_conf_t *conf, const char *file, unsigned line, const char *source, unsigned col,
                           unsigned *shown_col, const char **why)
{
    unsigned spans[MAX_SPANS][2], c = 1, out_col = 1;
    int n, si = 0, suspect = 0;
    const char *p = source;
    kve_buf_t out = KVE_BUF_INIT;

    if ((n = file != NULL ? find_spans(conf, file, line, spans, &suspect) : 0) < 0) {
        *why = suspect ? "may hold a secret" : "holds a secret";
        return NULL;
    }
    *shown_col = 0;
    for (;;) {
        if (si != n && c == spans[si][0]) { /* a hidden value: the mask, the caret at it if it pointed inside */
            if (col >= spans[si][0] && col < spans[si][1])
                *shown_col = out_col;
            kve_buf_append(&out, MASK, sizeof(MASK) - 1);
            out_col += sizeof(MASK) - 1;
            for (; c < spans[si][1] && *p != '\0'; ++c)
                while (is_continuation(*++p))
                    ;
            c = spans[si++][1];
            continue;
        }
        if (c == col)
            *shown_col = out_col;
        if (*p == '\0')
            break;
        do
            kve_buf_putc(&out, *p++);
        while (is_continuation(*p));
        ++c, ++out_col;
    }
    if (*shown_col == 0) /* past the end of the line */
        *shown_col = out_col + (col > c ? col - c : 0);
    kve_buf_putc(&out, '\0');
    return out.base;
}

/* --- judging lines without a tree (syntax errors) --- */

/* whether a word (lowercased) of a line looks like the key of a secret, or a close typo of one */
static int secret_word(const char *w)
{
    static const char *const parts[] = {"token", "secret", "passw", "jwt", "key", "auth", "credential", "private", "cookie"};
    static const char *const words[] = {"url", "uri", "redis", "pass", "pw", "pwd"};
    static const char *const typos[] = {"token", "password", "secret", "jwt_key"};
    size_t i, len = strlen(w);

    for (i = 0; i != KVE_ARRAY_SIZE(parts); ++i)
        if (strstr(w, parts[i]) != NULL)
            return 1;
    for (i = 0; i != KVE_ARRAY_SIZE(words); ++i)
        if (strcmp(w, words[i]) == 0 ||
            (len > strlen(words[i]) && strcmp(w + len - strlen(words[i]), words[i]) == 0 && w[len - strlen(words[i]) - 1] == '_'))
            return 1;
    for (i = 0; i != KVE_ARRAY_SIZE(typos); ++i)
        if (len >= 4 && kve_value_edit_distance(w, typos[i]) <= 2)
            return 1;
    return 0;
}

/* a word of the line looks like a secret's key, or the line has a URL with credentials ("scheme://user:pass@") */
static int suspect_line(const char *line)
{
    const char *p = line, *url;
    char word[64];

    while (*p != '\0') {
        size_t n = 0;
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-')) {
            ++p;
            continue;
        }
        for (; isalnum((unsigned char)*p) || *p == '_' || *p == '-'; ++p)
            if (n != sizeof(word) - 1)
                word[n++] = (char)tolower((unsigned char)*p);
        word[n] = '\0';
        if (secret_word(word))
            return 1;
    }
    for (url = strstr(line, "://"); url != NULL; url = strstr(url + 3, "://"))
        if (strcspn(url + 3, " \t/") > strcspn(url + 3, "@"))
            return 1;
    return 0;
}

/* the open quote and flow depth after `line`, given those before it */
static void scan_flow(const char *line, char *quote, int *depth)
{
    const char *p;
    for (p = line; *p != '\0'; ++p) {
        char prev = p == line ? ' ' : p[-1];
        if (*quote == '"' && *p == '\\' && p[1] != '\0') {
            ++p;
        } else if (*quote != '\0') {
            if (*p == *quote)
                *quote = '\0';
        } else if (*p == '#' && (prev == ' ' || prev == '\t')) {
            return; /* a comment */
        } else if ((*p == '"' || *p == '\'') && strchr(" \t[{,:-", prev) != NULL) {
            *quote = *p;
        } else if (*p == '[' || *p == '{') {
            ++*depth;
        } else if ((*p == ']' || *p == '}') && *depth > 0) {
            --*depth;
        }
    }
}

/* a line that starts a new entry ("key: ...", "- ...", a comment, a document marker), not a value's continuation */
static int starts_entry(const char *line)
{
    const char *p = line + strspn(line, " ");
    size_t key = strcspn(p, ":");
    if (*p == '#' || *p == '\0' || strncmp(p, "- ", 2) == 0 || strcmp(p, "-") == 0 || strncmp(p, "---", 3) == 0 ||
        strncmp(p, "...", 3) == 0)
        return 1;
    return p[key] == ':' && (p[key + 1] == ' ' || p[key + 1] == '\0') && strcspn(p, " \t\"'{[") >= key;
}

unsigned char *kve_conf__secret_lines(char *const *lines, size_t num_lines)
{
    unsigned char *flags = kve_zalloc(KVE_MAX(num_lines, 1));
    size_t indent, extent_indent = 0;
    int in_extent = 0, depth = 0;
    char quote = '\0';

    for (size_t i = 0; i != num_lines; ++i) {
        const char *line = lines[i];
        int blank = line[strspn(line, " \t")] == '\0';
        indent = strspn(line, " ");
        if (in_extent &&
            !(quote != '\0' || depth > 0 || blank || line[indent] == '\t' || indent > extent_indent || !starts_entry(line)))
            in_extent = 0;
        if (!in_extent && suspect_line(line)) {
            in_extent = 1;
            extent_indent = indent, depth = 0, quote = '\0';
        }
        if (in_extent) {
            flags[i] = 1;
            scan_flow(line, &quote, &depth);
        }
    }
    return flags;
}
