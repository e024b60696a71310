/* SPDX-License-Identifier: MIT */
/*
 * Request decoding for the KV REST API (see kv_json.h). The JSON reader is one forward pass with no
 * recursion: the grammar is at most two array levels deep, so kve_rest_parse_commands() walks the outer
 * level and read_command() the arguments; a deeper value is reported as "argument N is an array" without
 * being read. Strings are unescaped in place (an escape never decodes to more bytes than it is written
 * with), numbers are checked against the RFC 8259 grammar and passed on as their literal text. Every read
 * is bounded by `end`, so a truncated body is an error and never an over-read.
 *
 * All the arguments of a request live in one growing pair of arrays; a pipeline's commands are
 * consecutive slices of it, pointed at once parsing is over (the arrays may move while they grow).
 */
#include "handlers/kv_json.h"
#include "proxy/json.h"
#include "proxy/common.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define NOT_ARRAY_ERROR "ERR the request body must be a JSON array, like [\"SET\",\"key\",\"value\"]"
#define NOT_PIPELINE_ERROR                                                                                                         \
    "ERR the request body must be a JSON array of commands, like [[\"SET\",\"key\",\"value\"],[\"GET\",\"key\"]]"
#define BAD_PERCENT_ERROR "ERR invalid percent-encoding in the URL"

struct st_args_t {
    const char **argv;
    size_t *argvlen;
    size_t n, cap;
};

struct st_parser_t {
    char *base, *p, *end;
    h2o_mem_pool_t *pool;
    struct st_args_t args;
    const char *err;
};

/* bytes a string's fast path copies as they are: printable ASCII except '"' and '\\' */
static const unsigned char plain_char[256] = {[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1};

static const char *format_error(h2o_mem_pool_t *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *format_error(h2o_mem_pool_t *pool, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    KVE_ASSERT(n >= 0);
    msg = h2o_mem_alloc_pool(pool, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return msg;
}

static int syntax_error(struct st_parser_t *ps, const char *at, const char *what)
{
    ps->err = format_error(ps->pool, "ERR invalid JSON at byte %zu: %s", (size_t)(at - ps->base), what);
    return -1;
}

static int escape_error(struct st_parser_t *ps, const char *at)
{
    ps->err = format_error(ps->pool, "ERR invalid escape in a JSON string at byte %zu", (size_t)(at - ps->base));
    return -1;
}

static void push_arg(h2o_mem_pool_t *pool, struct st_args_t *args, const char *s, size_t len)
{
    if (args->n == args->cap) {
        size_t cap = args->cap == 0 ? 8 : args->cap * 2;
        KVE_ASSERT(cap <= SIZE_MAX / 2 / (sizeof(*args->argv) + sizeof(*args->argvlen)));
        /* both arrays in one block: pointers and size_t have the same alignment */
        const char **argv = h2o_mem_alloc_pool(pool, cap * (sizeof(*args->argv) + sizeof(*args->argvlen)));
        size_t *argvlen = (size_t *)(argv + cap);
        if (args->n != 0) {
            memcpy(argv, args->argv, args->n * sizeof(*argv));
            memcpy(argvlen, args->argvlen, args->n * sizeof(*argvlen));
        }
        args->argv = argv;
        args->argvlen = argvlen;
        args->cap = cap;
    }
    args->argv[args->n] = s;
    args->argvlen[args->n++] = len;
}

static void skip_ws(struct st_parser_t *ps)
{
    while (ps->p != ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ++ps->p;
}

/* the 4 hex digits at p (the caller checked they are there), or -1 */
static int32_t hex4(const char *p)
{
    int32_t v = 0;
    for (int i = 0; i != 4; ++i) {
        int d = kve_hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static char *put_utf8(char *w, uint32_t cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xc0 | cp >> 6);
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xe0 | cp >> 12);
        *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *w++ = (char)(0xf0 | cp >> 18);
        *w++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    }
    return w;
}

/* \uHHHH at *rp, with its low surrogate if it is a high one; writes the UTF-8 at *wp and advances both */
static int unescape_unicode(struct st_parser_t *ps, char **rp, char **wp)
{
    char *r = *rp;
    int32_t hi, lo;
    uint32_t cp;

    if (ps->end - r < 6 || (hi = hex4(r + 2)) < 0)
        return escape_error(ps, *rp);
    r += 6;
    cp = (uint32_t)hi;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return escape_error(ps, *rp);
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (ps->end - r < 6 || r[0] != '\\' || r[1] != 'u' || (lo = hex4(r + 2)) < 0xdc00 || lo > 0xdfff)
            return escape_error(ps, *rp);
        cp = 0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
        r += 6;
    }
    *wp = put_utf8(*wp, cp);
    *rp = r;
    return 0;
}

static int unescape(struct st_parser_t *ps, char **rp, char **wp)
{
    static const char simple[256] = {
        ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t'};
    char *r = *rp;

    if (ps->end - r < 2)
        return escape_error(ps, r);
    if (r[1] == 'u')
        return unescape_unicode(ps, rp, wp);
    if (simple[(unsigned char)r[1]] == 0)
        return escape_error(ps, r);
    *(*wp)++ = simple[(unsigned char)r[1]];
    *rp = r + 2;
    return 0;
}

/* the rest of a string from `r` on, once something needs decoding; the output goes to `w` (<= r) */
static int read_string_slow(struct st_parser_t *ps, char *start, char *r)
{
    char *w = r;
    size_t n, bad;

    for (;;) {
        if (r == ps->end)
            return syntax_error(ps, start - 1, "unterminated string");
        unsigned char c = (unsigned char)*r;
        if (c == '"') {
            break;
        } else if (c == '\\') {
            if (unescape(ps, &r, &w) != 0)
                return -1;
        } else if (c < 0x20) {
            return syntax_error(ps, r, "control character in string");
        } else if (c < 0x80) {
            *w++ = *r++;
        } else if ((n = kve_json_utf8_sequence((const unsigned char *)r, (size_t)(ps->end - r), &bad)) != 0) {
            memmove(w, r, n);
            w += n;
            r += n;
        } else {
            ps->err = format_error(ps->pool, "ERR invalid UTF-8 in a JSON string at byte %zu", (size_t)(r - ps->base));
            return -1;
        }
    }
    push_arg(ps->pool, &ps->args, start, (size_t)(w - start));
    ps->p = r + 1;
    return 0;
}

static int read_string(struct st_parser_t *ps)
{
    char *start = ps->p + 1, *r = start;

    while (r != ps->end && plain_char[(unsigned char)*r])
        ++r;
    if (r == ps->end || *r != '"')
        return read_string_slow(ps, start, r);
    push_arg(ps->pool, &ps->args, start, (size_t)(r - start));
    ps->p = r + 1;
    return 0;
}

static const char *skip_digits(const char *p, const char *end)
{
    while (p != end && *p >= '0' && *p <= '9')
        ++p;
    return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, followed by something that cannot continue a number */
static int read_number(struct st_parser_t *ps)
{
    const char *start = ps->p, *p = start, *end = ps->end, *q;

    if (*p == '-')
        ++p;
    if (p != end && *p == '0')
        q = p + 1;
    else if ((q = skip_digits(p, end)) == p)
        goto Error;
    p = q;
    if (p != end && *p == '.') {
        if ((q = skip_digits(p + 1, end)) == p + 1)
            goto Error;
        p = q;
    }
    if (p != end && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p != end && (*p == '+' || *p == '-'))
            ++p;
        if ((q = skip_digits(p, end)) == p)
            goto Error;
        p = q;
    }
    if (p != end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-'))
        goto Error;
    push_arg(ps->pool, &ps->args, start, (size_t)(p - start));
    ps->p = (char *)p;
    return 0;
Error:
    return syntax_error(ps, start, "invalid number");
}

static int match_literal(struct st_parser_t *ps, const char *lit, size_t len)
{
    return (size_t)(ps->end - ps->p) >= len && memcmp(ps->p, lit, len) == 0;
}

static int read_literal(struct st_parser_t *ps, const char *lit, size_t len)
{
    if (!match_literal(ps, lit, len))
        return syntax_error(ps, ps->p, "expected a value");
    push_arg(ps->pool, &ps->args, ps->p, len);
    ps->p += len;
    return 0;
}

/* one argument; `index` is its 1-based position in the command, for messages */
static int read_arg(struct st_parser_t *ps, size_t index)
{
    if (ps->p == ps->end)
        return syntax_error(ps, ps->p, "unexpected end of input");
    switch (*ps->p) {
    case '"':
        return read_string(ps);
    case 't':
        return read_literal(ps, "true", 4);
    case 'f':
        return read_literal(ps, "false", 5);
    case 'n':
        if (!match_literal(ps, "null", 4))
            return syntax_error(ps, ps->p, "expected a value");
        ps->err = format_error(ps->pool, "ERR argument %zu is null", index);
        return -1;
    case '[':
    case '{':
        ps->err = format_error(ps->pool, "ERR argument %zu is %s; arguments must be strings, numbers or booleans", index,
                               *ps->p == '[' ? "an array" : "an object");
        return -1;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return read_number(ps);
        return syntax_error(ps, ps->p, "expected a value");
    }
}

/* after a list element: 1 and past the ',' if another follows, 0 and past the ']' at the end of the list,
 * -1 on anything else */
static int next_element(struct st_parser_t *ps)
{
    skip_ws(ps);
    if (ps->p == ps->end)
        return syntax_error(ps, ps->p, "unexpected end of input");
    if (*ps->p != ']' && *ps->p != ',')
        return syntax_error(ps, ps->p, "expected ',' or ']'");
    return *ps->p++ == ',';
}

/* a command array from the '[' at ps->p through its ']'; its arguments are appended to ps->args */
static int read_command(struct st_parser_t *ps, size_t *argc)
{
    size_t start = ps->args.n;

    ++ps->p;
    skip_ws(ps);
    if (ps->p != ps->end && *ps->p == ']') {
        ++ps->p;
        *argc = 0;
        return 0;
    }
    for (;;) {
        int more;
        if (read_arg(ps, ps->args.n - start + 1) != 0 || (more = next_element(ps)) < 0)
            return -1;
        if (!more)
            break;
        skip_ws(ps);
    }
    *argc = ps->args.n - start;
    return 0;
}

static void init_parser(struct st_parser_t *ps, char *body, size_t len, h2o_mem_pool_t *pool)
{
    *ps = (struct st_parser_t){body, body, len != 0 ? body + len : body, pool, {NULL, NULL, 0, 0}, NULL};
    skip_ws(ps);
}

/* whitespace only up to the end of the body */
static int finish(struct st_parser_t *ps)
{
    skip_ws(ps);
    if (ps->p == ps->end)
        return 0;
    ps->err = format_error(ps->pool, "ERR unexpected data after the JSON value at byte %zu", (size_t)(ps->p - ps->base));
    return -1;
}

int kve_rest_parse_command(char *body, size_t len, h2o_mem_pool_t *pool, kve_rest_cmd_t *out, const char **err)
{
    struct st_parser_t ps;
    size_t argc;

    init_parser(&ps, body, len, pool);
    if (ps.p == ps.end || *ps.p != '[') {
        *err = NOT_ARRAY_ERROR;
        return -1;
    }
    if (read_command(&ps, &argc) != 0 || finish(&ps) != 0) {
        *err = ps.err;
        return -1;
    }
    if (argc == 0) {
        *err = "ERR empty command";
        return -1;
    }
    *out = (kve_rest_cmd_t){argc, ps.args.argv, ps.args.argvlen};
    return 0;
}

static int starts_value(char c)
{
    return c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n' || c == '{';
}

/* the next command of a pipeline (ps->p is at a value); `index` is 1-based */
static int read_pipeline_entry(struct st_parser_t *ps, size_t index, size_t *argc)
{
    if (*ps->p != '[') {
        if (!starts_value(*ps->p))
            return syntax_error(ps, ps->p, "expected a value");
        ps->err = format_error(ps->pool, "ERR command %zu must be a JSON array", index);
        return -1;
    }
    if (read_command(ps, argc) != 0) {
        ps->err = format_error(ps->pool, "ERR command %zu: %s", index, ps->err + sizeof("ERR ") - 1);
        return -1;
    }
    if (*argc == 0) {
        ps->err = format_error(ps->pool, "ERR command %zu is empty", index);
        return -1;
    }
    return 0;
}

static void push_cmd(h2o_mem_pool_t *pool, kve_rest_cmd_t **cmds, size_t *n, size_t *cap, size_t argc)
{
    if (*n == *cap) {
        size_t newcap = *cap == 0 ? 8 : *cap * 2;
        KVE_ASSERT(newcap <= SIZE_MAX / 2 / sizeof(**cmds));
        kve_rest_cmd_t *grown = h2o_mem_alloc_pool(pool, newcap * sizeof(**cmds));
        if (*n != 0)
            memcpy(grown, *cmds, *n * sizeof(**cmds));
        *cmds = grown;
        *cap = newcap;
    }
    (*cmds)[(*n)++] = (kve_rest_cmd_t){argc, NULL, NULL};
}

/* the entries after the outer '[' up to its ']'; *ncmds counts them */
static int read_pipeline(struct st_parser_t *ps, size_t max_commands, kve_rest_cmd_t **cmds, size_t *ncmds)
{
    size_t cap = 0, argc;
    int more;

    for (;;) {
        skip_ws(ps);
        if (ps->p == ps->end)
            return syntax_error(ps, ps->p, "unexpected end of input");
        if (*ncmds == 0 && *ps->p == ']')
            break;
        if (*ncmds == max_commands && *ps->p == '[') {
            ps->err = format_error(ps->pool, "ERR too many commands in one request: more than %zu", max_commands);
            return -1;
        }
        if (read_pipeline_entry(ps, *ncmds + 1, &argc) != 0)
            return -1;
        push_cmd(ps->pool, cmds, ncmds, &cap, argc);
        if ((more = next_element(ps)) <= 0)
            return more;
    }
    ++ps->p;
    return 0;
}

int kve_rest_parse_commands(char *body, size_t len, h2o_mem_pool_t *pool, size_t max_commands, kve_rest_cmd_t **cmds, size_t *ncmds,
                            const char **err)
{
    struct st_parser_t ps;
    kve_rest_cmd_t *list = NULL;
    size_t n = 0, i, off = 0;

    init_parser(&ps, body, len, pool);
    if (ps.p == ps.end || *ps.p != '[') {
        *err = NOT_PIPELINE_ERROR;
        return -1;
    }
    ++ps.p;
    if (read_pipeline(&ps, max_commands, &list, &n) != 0 || finish(&ps) != 0) {
        *err = ps.err;
        return -1;
    }
    if (n == 0) {
        *err = "ERR empty pipeline";
        return -1;
    }
    /* the argument arrays have stopped moving: point every command at its slice */
    for (i = 0; i != n; ++i) {
        list[i].argv = ps.args.argv + off;
        list[i].argvlen = ps.args.argvlen + off;
        off += list[i].argc;
    }
    *cmds = list;
    *ncmds = n;
    return 0;
}

/* One byte of percent-encoded text at *p ('+' is a space if `plus_is_space`), or -1 for a '%' not followed by
 * two hex digits. */
static int decode_char(const char **p, const char *end, int plus_is_space)
{
    const char *s = *p;
    int hi, lo;

    if (*s != '%') {
        *p = s + 1;
        return *s == '+' && plus_is_space ? ' ' : (unsigned char)*s;
    }
    if (end - s < 3 || (hi = kve_hex_digit(s[1])) < 0 || (lo = kve_hex_digit(s[2])) < 0)
        return -1;
    *p = s + 3;
    return hi << 4 | lo;
}

/* Percent-decodes `len` bytes of src into dst. Returns the decoded length, or SIZE_MAX on a bad escape. */
static size_t percent_decode(char *dst, const char *src, size_t len, int plus_is_space)
{
    const char *end = src + len;
    char *w = dst;
    int c;

    while (src != end) {
        if ((c = decode_char(&src, end, plus_is_space)) < 0)
            return SIZE_MAX;
        *w++ = (char)c;
    }
    return (size_t)(w - dst);
}

/* the path segments, decoded into buf; returns the end of what was written, or NULL on a bad escape */
static char *append_segments(h2o_mem_pool_t *pool, struct st_args_t *args, const char *path, size_t len, char *buf)
{
    const char *p = path, *end = path + len;

    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p)), *seg_end = slash != NULL ? slash : end;
        size_t n = percent_decode(buf, p, (size_t)(seg_end - p), 0);
        if (n == SIZE_MAX)
            return NULL;
        push_arg(pool, args, buf, n);
        buf += n;
        if (slash == NULL)
            return buf;
        p = slash + 1;
    }
}

/* the query pairs except _token, decoded into buf */
static int append_query(h2o_mem_pool_t *pool, struct st_args_t *args, const char *query, size_t len, char *buf)
{
    const char *p = query, *end = query + len;

    while (p != end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p)), *key_end = eq != NULL ? eq : pair_end;
        size_t klen, vlen;
        if (pair_end != p) {
            if ((klen = percent_decode(buf, p, (size_t)(key_end - p), 1)) == SIZE_MAX)
                return -1;
            if (!(klen == 6 && memcmp(buf, "_token", 6) == 0)) {
                push_arg(pool, args, buf, klen);
                buf += klen;
                if (eq != NULL) {
                    if ((vlen = percent_decode(buf, eq + 1, (size_t)(pair_end - eq - 1), 1)) == SIZE_MAX)
                        return -1;
                    push_arg(pool, args, buf, vlen);
                    buf += vlen;
                }
            }
        }
        p = amp != NULL ? amp + 1 : end;
    }
    return 0;
}

int kve_rest_parse_path(const char *path, size_t path_len, const char *query, size_t query_len, const char *body, size_t body_len,
                        h2o_mem_pool_t *pool, kve_rest_cmd_t *out, const char **err)
{
    struct st_args_t args = {NULL, NULL, 0, 0};
    char *buf;

    if (path_len != 0 && path[0] == '/') {
        ++path;
        --path_len;
    }
    if (path_len != 0 && path[path_len - 1] == '/')
        --path_len;
    if (path_len == 0) {
        *err = "ERR empty command";
        return -1;
    }
    if (query == NULL)
        query_len = 0;
    KVE_ASSERT(query_len < SIZE_MAX - path_len);
    /* decoding never lengthens: one block holds every decoded segment and pair */
    buf = h2o_mem_alloc_pool(pool, path_len + query_len);
    if ((buf = append_segments(pool, &args, path, path_len, buf)) == NULL)
        goto BadPercent;
    if (body_len != 0)
        push_arg(pool, &args, body, body_len);
    if (query_len != 0 && append_query(pool, &args, query, query_len, buf) != 0)
        goto BadPercent;
    *out = (kve_rest_cmd_t){args.n, args.argv, args.argvlen};
    return 0;
BadPercent:
    *err = BAD_PERCENT_ERROR;
    return -1;
}

/* whether the percent-decoded form of `raw` ('+' read as a space) is exactly `name` */
static int decoded_equals(const char *raw, size_t raw_len, const char *name, size_t name_len)
{
    const char *end = raw + raw_len;
    size_t i = 0;
    int c;

    while (raw != end) {
        if ((c = decode_char(&raw, end, 1)) < 0 || i == name_len || (unsigned char)name[i++] != c)
            return 0;
    }
    return i == name_len;
}

int kve_rest_query_param(const char *query, size_t query_len, const char *name, h2o_mem_pool_t *pool, h2o_iovec_t *value)
{
    const char *p = query, *end;
    size_t name_len = strlen(name);

    if (query == NULL)
        return -1;
    for (end = query + query_len; p != end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p)), *key_end = eq != NULL ? eq : pair_end;
        if (decoded_equals(p, (size_t)(key_end - p), name, name_len)) {
            const char *v = eq != NULL ? eq + 1 : pair_end;
            size_t raw_len = (size_t)(pair_end - v);
            char *dst = h2o_mem_alloc_pool(pool, raw_len + 1);
            size_t n = percent_decode(dst, v, raw_len, 0);
            if (n == SIZE_MAX)
                return -1;
            dst[n] = '\0';
            *value = h2o_iovec_init(dst, n);
            return 0;
        }
        p = amp != NULL ? amp + 1 : end;
    }
    return -1;
}
