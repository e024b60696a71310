/* SPDX-License-Identifier: MIT */
/* The console's form and cookie parsers (see console_parse.h). */
#include "handlers/console_parse.h"

#include <string.h>
#include "proxy/common.h"

/* decodes a form value into out (cap bytes); -1 on a bad escape or when it does not fit */
static long decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = kve_hex_digit(s[i + 1])) < 0 || (lo = kve_hex_digit(s[i + 2])) < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return (long)n;
}

long kve_console_form_value(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    size_t name_len = strlen(name), pos = 0;
    const char *found = NULL;
    size_t found_len = 0;

    if (cap == 0)
        return -1;
    while (pos <= len && len != 0) {
        const char *field = body + pos, *amp = memchr(field, '&', len - pos);
        size_t field_len = amp != NULL ? (size_t)(amp - field) : len - pos;
        if (field_len > name_len && field[name_len] == '=' && memcmp(field, name, name_len) == 0) {
            if (found != NULL)
                return -1;
            found = field + name_len + 1, found_len = field_len - name_len - 1;
        }
        pos += field_len + 1;
    }
    if (found == NULL)
        return -1;
    return decode(found, found_len, out, cap);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int kve_console_cookie_value(const char *header, size_t len, const char *name, const char **value, size_t *value_len)
{
    size_t name_len = strlen(name), pos = 0;
    int found = 0;

    while (pos < len) {
        const char *pair = header + pos, *semi = memchr(pair, ';', len - pos);
        size_t pair_len = semi != NULL ? (size_t)(semi - pair) : len - pos;
        pos += pair_len + 1;
        while (pair_len != 0 && is_space(*pair))
            ++pair, --pair_len;
        while (pair_len != 0 && is_space(pair[pair_len - 1]))
            --pair_len;
        if (pair_len <= name_len || pair[name_len] != '=' || memcmp(pair, name, name_len) != 0)
            continue;
        if (found++)
            return -1;
        *value = pair + name_len + 1, *value_len = pair_len - name_len - 1;
        if (*value_len >= 2 && (*value)[0] == '"' && (*value)[*value_len - 1] == '"')
            ++*value, *value_len -= 2;
    }
    return found;
}
