/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the logs' handling of client bytes (issue 11): the token redaction of both access log formats
 * (kve_access_redact_tokens, handlers/access.c), the JSON access log line (handlers/access_json.c) and the bounded
 * escaper of the JSON error log (kve_json_escape_into, proxy/json.c).
 *
 * Input: bytes 0-1 a room for the bounded escaper (0..65535), then fields separated by '\n': path, referer, user agent,
 * request id, method, host (each in an exact-size malloc'd block, so ASan sees any read past one).
 *
 * Oracles: redaction keeps the part before '?' and the number of '&'-separated parameters, gives every parameter whose
 * name decodes (%XX, '+') to "_token" the value "REDACTED" and leaves every other parameter as it was (names decoded by
 * a reference written here, not by the code under test). The JSON line is one line ending in "}\n" that jansson
 * parses (it refuses invalid UTF-8) as an object of 14 members; a field of ASCII bytes reads back as exactly its bytes
 * (up to KVE_ACCESS_JSON_MAX_FIELD), NULs included. The bounded escaper writes at most its room, a prefix of
 * kve_json_string()'s output, which parses as a JSON string when quoted.
 */
#include "fuzz.h"
#include "handlers/access.h"
#include "handlers/access_json.h"
#include "proxy/json.h"

#include <jansson.h>

#define NUM_FIELDS 6

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* the reference: whether [p, p + len) decodes to "_token" (an invalid %-escape is no match) */
static int names_token(const char *p, size_t len)
{
    char dec[8];
    size_t n = 0;
    for (size_t i = 0; i < len; ++i) {
        char c = p[i];
        if (c == '%') {
            if (len - i < 3)
                return 0;
            int hi = hexval(p[i + 1]), lo = hexval(p[i + 2]);
            if (hi < 0 || lo < 0)
                return 0;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (n == 6)
            return 0;
        dec[n++] = c;
    }
    return n == 6 && memcmp(dec, "_token", 6) == 0;
}

/* the next '&'-separated parameter of [*p, end): its bounds; *p moves past it */
static h2o_iovec_t next_param(const char **p, const char *end)
{
    const char *amp = memchr(*p, '&', (size_t)(end - *p)), *stop = amp != NULL ? amp : end;
    h2o_iovec_t param = h2o_iovec_init(*p, (size_t)(stop - *p));
    *p = amp != NULL ? amp + 1 : NULL;
    return param;
}

static void check_redaction(h2o_iovec_t in, h2o_iovec_t out)
{
    const char *q_in, *q_out, *pi, *po, *end_in, *end_out;

    if (in.base == NULL) {
        FUZZ_CHECK(out.base == NULL, "no field: none");
        return;
    }
    q_in = memchr(in.base, '?', in.len), end_in = in.base + in.len, end_out = out.base + out.len;
    if (q_in == NULL) {
        FUZZ_CHECK(out.base == in.base && out.len == in.len, "no query: the input itself");
        return;
    }
    q_out = memchr(out.base, '?', out.len);
    FUZZ_CHECK(q_out != NULL && q_out - out.base == q_in - in.base && memcmp(out.base, in.base, (size_t)(q_in - in.base)) == 0,
               "the part before the query is kept");
    pi = q_in + 1, po = q_out + 1;
    while (pi != NULL) {
        h2o_iovec_t a = next_param(&pi, end_in), b;
        const char *eq;
        FUZZ_CHECK(po != NULL, "as many parameters out as in");
        b = next_param(&po, end_out);
        eq = memchr(a.base, '=', a.len);
        if (eq != NULL && names_token(a.base, (size_t)(eq - a.base))) {
            size_t name = (size_t)(eq - a.base) + 1;
            FUZZ_CHECK(b.len == name + 8 && memcmp(b.base, a.base, name) == 0 && memcmp(b.base + name, "REDACTED", 8) == 0,
                       "a token parameter is redacted: %.*s -> %.*s", (int)a.len, a.base, (int)b.len, b.base);
        } else {
            FUZZ_CHECK(a.len == b.len && memcmp(a.base, b.base, a.len) == 0, "another parameter is kept");
        }
    }
    FUZZ_CHECK(po == NULL, "as many parameters out as in");
}

static int ascii(h2o_iovec_t v)
{
    for (size_t i = 0; i != v.len; ++i)
        if ((unsigned char)v.base[i] >= 0x80)
            return 0;
    return 1;
}

static void check_string_member(json_t *obj, const char *name, h2o_iovec_t v)
{
    json_t *m = json_object_get(obj, name);
    size_t len = v.len < KVE_ACCESS_JSON_MAX_FIELD ? v.len : KVE_ACCESS_JSON_MAX_FIELD;
    FUZZ_CHECK(m != NULL, "member %s", name);
    if (v.base == NULL) {
        FUZZ_CHECK(json_is_null(m), "%s is null", name);
        return;
    }
    FUZZ_CHECK(json_is_string(m), "%s is a string", name);
    if (ascii(v))
        FUZZ_CHECK(json_string_length(m) == len && memcmp(json_string_value(m), v.base, len) == 0, "%s reads back", name);
}

static void check_line(const kve_access_fields_t *f)
{
    kve_buf_t line = KVE_BUF_INIT;
    json_error_t error;
    json_t *obj;

    kve_access_json_format(&line, f);
    FUZZ_CHECK(line.len >= 3 && memcmp(line.base + line.len - 2, "}\n", 2) == 0, "ends with }\\n");
    FUZZ_CHECK(memchr(line.base, '\n', line.len - 1) == NULL, "one line");
    obj = json_loadb(line.base, line.len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &error);
    FUZZ_CHECK(obj != NULL, "parses: %s: %.*s", error.text, (int)line.len, line.base);
    FUZZ_CHECK(json_is_object(obj) && json_object_size(obj) == 14, "an object of 14 members");
    check_string_member(obj, "path", f->path);
    check_string_member(obj, "referer", f->referer);
    check_string_member(obj, "user_agent", f->user_agent);
    check_string_member(obj, "request_id", f->request_id);
    check_string_member(obj, "method", f->method);
    check_string_member(obj, "host", f->host);
    json_decref(obj);
    kve_buf_dispose(&line);
}

static void check_bounded(const char *s, size_t len, size_t room)
{
    kve_buf_t full = KVE_BUF_INIT, quoted = KVE_BUF_INIT;
    char *out = malloc(room + 1);
    size_t n, consumed;
    json_error_t error;
    json_t *v;

    if (out == NULL)
        abort();
    n = kve_json_escape_into(out, room, s, len, &consumed);
    FUZZ_CHECK(n <= room && consumed <= len, "within its room");
    FUZZ_CHECK(consumed == len || room - n < 6, "stops only for lack of room");
    kve_json_string(&full, s, len);
    FUZZ_CHECK(n <= full.len - 2 && memcmp(out, full.base + 1, n) == 0, "a prefix of kve_json_string's output");
    kve_buf_putc(&quoted, '"');
    kve_buf_append(&quoted, out, n);
    kve_buf_putc(&quoted, '"');
    v = json_loadb(quoted.base, quoted.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    FUZZ_CHECK(v != NULL && json_is_string(v), "parses when quoted: %s", error.text);
    json_decref(v);
    kve_buf_dispose(&full);
    kve_buf_dispose(&quoted);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    size_t room = fuzz_u16(&in), n = 0;
    char *blocks[NUM_FIELDS] = {NULL};
    h2o_iovec_t fields[NUM_FIELDS];
    h2o_mem_pool_t pool;

    for (; n != NUM_FIELDS; ++n) {
        const uint8_t *p = in.p, *nl;
        if (n != 0 && fuzz_left(&in) == 0)
            break;
        nl = memchr(p, '\n', fuzz_left(&in));
        size_t len = nl != NULL ? (size_t)(nl - p) : fuzz_left(&in);
        blocks[n] = fuzz_exact_copy(p, len);
        fields[n] = h2o_iovec_init(blocks[n] != NULL ? blocks[n] : "", len);
        in.p += len + (nl != NULL);
    }
    for (size_t i = n; i != NUM_FIELDS; ++i)
        fields[i] = h2o_iovec_init(NULL, 0);

    h2o_mem_init_pool(&pool);
    kve_access_fields_t f = {.time = {(time_t)room * 86400, 0},
                             .path = kve_access_redact_tokens(&pool, fields[0]),
                             .referer = kve_access_redact_tokens(&pool, fields[1]),
                             .user_agent = fields[2],
                             .request_id = fields[3],
                             .method = fields[4],
                             .host = fields[5],
                             .version = 0x101,
                             .status = 200};
    check_redaction(fields[0], f.path);
    check_redaction(fields[1], f.referer);
    check_line(&f);
    check_bounded(fields[0].base != NULL ? fields[0].base : "", fields[0].len, room);
    h2o_mem_clear_pool(&pool);
    for (size_t i = 0; i != NUM_FIELDS; ++i)
        free(blocks[i]);
    return 0;
}
