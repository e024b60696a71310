/* SPDX-License-Identifier: MIT */
/*
 * Wire format of the KV REST driver (see kv_rest_codec.h). Responses are parsed by jansson (strict RFC 8259,
 * duplicate keys refused, NUL bytes allowed in strings, depth bounded by jansson) and then converted: a reply
 * over its limit stops being built as soon as the limit is passed (the JSON document itself is bounded by the
 * driver, which reads at most a limit derived from the same numbers).
 */
#include "proxy/kv_rest_codec.h"
#include "proxy/base64.h"
#include "proxy/common.h"
#include "proxy/err.h"
#include "proxy/json.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* what one reply object costs against max_reply_size (kv.h: ~176 bytes per element) */
#define ELEMENT_COST 176

int kve_rest_cmd_is_utf8(const kve_kv_command_t *cmd)
{
    for (size_t i = 0; i != cmd->argc; ++i) {
        const unsigned char *s = (const unsigned char *)cmd->argv[i];
        size_t len = cmd->argvlen[i], j = 0, seq, bad;
        while (j < len) {
            if (s[j] < 0x80) {
                ++j;
                continue;
            }
            if ((seq = kve_json_utf8_sequence(s + j, len - j, &bad)) == 0)
                return 0;
            j += seq;
        }
    }
    return 1;
}

void kve_rest_encode_json(kve_buf_t *out, const kve_kv_command_t *cmd)
{
    kve_buf_putc(out, '[');
    for (size_t i = 0; i != cmd->argc; ++i) {
        if (i != 0)
            kve_buf_putc(out, ',');
        kve_json_string(out, cmd->argv[i], cmd->argvlen[i]);
    }
    kve_buf_putc(out, ']');
}

static void percent_encode(kve_buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~') {
            kve_buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            kve_buf_append(out, esc, 3);
        }
    }
}

int kve_rest_encode_path(kve_buf_t *out, const char *prefix, const kve_kv_command_t *cmd, h2o_iovec_t *body)
{
    size_t last = cmd->argc - 1;

    if (cmd->argc >= 2 && cmd->argvlen[last] == 0)
        return -1;
    kve_buf_append(out, prefix, strlen(prefix));
    for (size_t i = 0; i != (cmd->argc >= 2 ? last : cmd->argc); ++i) {
        kve_buf_putc(out, '/');
        percent_encode(out, cmd->argv[i], cmd->argvlen[i]);
    }
    *body = cmd->argc >= 2 ? h2o_iovec_init(cmd->argv[last], cmd->argvlen[last]) : h2o_iovec_init(NULL, 0);
    return 0;
}

/* --- transactions as a script (see kv_rest_codec.h) --- */

static const char tx_script[] =
    "local t = {} for i = 0, 255 do t[string.format('%02x', i)] = string.char(i) end "
    "local staged = {} "
    "local function arg(s) local k = string.byte(s, 1) "
    "if k == 120 then return (string.gsub(string.sub(s, 2), '%x%x', t)) end "
    "if k == 107 then local key = string.sub(s, 2) staged[#staged + 1] = key return redis.call('GET', key) end "
    "return string.sub(s, 2) end "
    "local cmds, i = {}, 2 "
    "for c = 1, tonumber(ARGV[1]) do "
    "local n, a = tonumber(ARGV[i]), {} "
    "for j = 1, n do a[j] = arg(ARGV[i + j]) "
    "if a[j] == false then return redis.error_reply('ERR kvedge: a staged argument of the transaction is gone') end end "
    "i = i + n + 1 cmds[c] = a end "
    "if #staged > 0 then redis.call('DEL', unpack(staged)) end "
    "local out = {} "
    "for c = 1, #cmds do local r = redis.pcall(unpack(cmds[c])) "
    "if type(r) == 'table' and r.err then out[c] = {'e', r.err} "
    "elseif type(r) == 'table' and r.ok then out[c] = {'s', r.ok} "
    "else out[c] = {'v', r} end "
    "end return out";

static void put_number(kve_buf_t *out, size_t v)
{
    char num[32];
    int len = snprintf(num, sizeof(num), "\"%zu\"", v);
    kve_buf_append(out, num, (size_t)len);
}

static void put_tx_arg(kve_buf_t *out, const char *s, size_t len, kve_rest_stage_fn stage, void *ctx)
{
    static const char hex[] = "0123456789abcdef";
    kve_kv_command_t one = {.argc = 1, .argv = &s, .argvlen = &len};
    const char *key;
    char *d;

    if (!kve_rest_cmd_is_utf8(&one) && (key = stage(ctx, s, len)) != NULL) { /* "k" + the key the store holds it under */
        size_t at = out->len;
        kve_json_string(out, key, strlen(key));
        kve_buf_reserve(out, 1);
        memmove(out->base + at + 2, out->base + at + 1, out->len - at - 1);
        out->base[at + 1] = 'k';
        ++out->len;
        return;
    }
    if (kve_rest_cmd_is_utf8(&one)) { /* "r" in front of the string's first byte */
        size_t at = out->len;
        kve_json_string(out, s, len);
        kve_buf_reserve(out, 1);
        memmove(out->base + at + 2, out->base + at + 1, out->len - at - 1);
        out->base[at + 1] = 'r';
        ++out->len;
        return;
    }
    d = kve_buf_reserve(out, 2 * len + 3);
    *d++ = '"', *d++ = 'x';
    for (size_t i = 0; i != len; ++i) {
        *d++ = hex[(unsigned char)s[i] >> 4];
        *d++ = hex[(unsigned char)s[i] & 15];
    }
    *d = '"';
    out->len += 2 * len + 3;
}

void kve_rest_encode_tx_script(kve_buf_t *out, const kve_kv_command_t *const *cmds, size_t n, kve_rest_stage_fn stage, void *ctx)
{
    kve_buf_append(out, "[\"EVAL\",", 8);
    kve_json_string(out, tx_script, sizeof(tx_script) - 1);
    kve_buf_append(out, ",\"0\",", 5);
    put_number(out, n);
    for (size_t c = 0; c != n; ++c) {
        kve_buf_putc(out, ',');
        put_number(out, cmds[c]->argc);
        for (size_t i = 0; i != cmds[c]->argc; ++i) {
            kve_buf_putc(out, ',');
            put_tx_arg(out, cmds[c]->argv[i], cmds[c]->argvlen[i], stage, ctx);
        }
    }
    kve_buf_putc(out, ']');
}

int kve_rest_decode_tx_result(const kve_kv_reply_t *reply, size_t i, kve_kv_reply_t *scratch, const kve_kv_reply_t **out)
{
    const kve_kv_reply_t *pair, *tag, *v;

    if (reply->type != KVE_REPLY_ARRAY || i >= reply->elements)
        return -1;
    pair = reply->element[i];
    if (pair->type != KVE_REPLY_ARRAY || pair->elements != 2 || (tag = pair->element[0])->type != KVE_REPLY_STRING || tag->len != 1)
        return -1;
    v = pair->element[1];
    switch (tag->str[0]) {
    case 'v':
        *out = v;
        return 0;
    case 'e':
    case 's':
        if (v->type != KVE_REPLY_STRING)
            return -1;
        *scratch = (kve_kv_reply_t){.type = tag->str[0] == 'e' ? KVE_REPLY_ERROR : KVE_REPLY_STATUS, .len = v->len, .str = v->str};
        *out = scratch;
        return 0;
    default:
        return -1;
    }
}

/* --- replies --- */

void kve_rest_reply_free(kve_kv_reply_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i != r->elements; ++i)
        kve_rest_reply_free(r->element[i]);
    free(r->element);
    if ((r->_mem & KVE_KV_REPLY_OWNS_STR) != 0)
        free(r->str);
    free(r);
}

static kve_kv_reply_t *new_reply(int type)
{
    kve_kv_reply_t *r = kve_zalloc(sizeof(*r));
    r->type = type;
    return r;
}

static kve_kv_reply_t *new_string(int type, const char *s, size_t len)
{
    kve_kv_reply_t *r = new_reply(type);
    r->str = kve_malloc(len + 1);
    memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
    r->_mem = KVE_KV_REPLY_OWNS_STR;
    return r;
}

/* a base64 string (or, at the top, the "OK" a server may leave raw); a string that is not base64 is kept as sent,
 * as the SDKs do */
static kve_kv_reply_t *decode_string(const char *s, size_t len, int top)
{
    kve_kv_reply_t *r;
    size_t n;

    if (top && len == 2 && memcmp(s, "OK", 2) == 0)
        return new_string(KVE_REPLY_STATUS, s, len);
    r = new_reply(KVE_REPLY_STRING);
    r->str = kve_malloc(len / 4 * 3 + 1);
    r->_mem = KVE_KV_REPLY_OWNS_STR;
    if (len % 4 != 0 || kve_base64_decode(r->str, s, len, &n) != 0) {
        kve_rest_reply_free(r);
        return new_string(KVE_REPLY_STRING, s, len);
    }
    r->str[n] = '\0';
    r->len = n;
    return r;
}

/* converts `v` while *budget allows (0 left: *too_big); NULL with *bad for a value RESP2 has no form for */
static kve_kv_reply_t *convert(json_t *v, int top, size_t *budget, int limited, int *too_big, int *bad)
{
    kve_kv_reply_t *r;
    size_t cost = ELEMENT_COST + (json_is_string(v) ? json_string_length(v) / 4 * 3 : 0);

    if (limited && cost > *budget) {
        *too_big = 1;
        return NULL;
    }
    *budget -= limited ? cost : 0;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return new_reply(KVE_REPLY_NIL);
    case JSON_INTEGER:
        r = new_reply(KVE_REPLY_INTEGER);
        r->integer = (long long)json_integer_value(v);
        return r;
    case JSON_STRING:
        return decode_string(json_string_value(v), json_string_length(v), top);
    case JSON_ARRAY:
        r = new_reply(KVE_REPLY_ARRAY);
        r->element = kve_malloc(sizeof(*r->element) * KVE_MAX(json_array_size(v), 1));
        for (size_t i = 0; i != json_array_size(v); ++i) {
            if ((r->element[i] = convert(json_array_get(v, i), 0, budget, limited, too_big, bad)) == NULL) {
                kve_rest_reply_free(r);
                return NULL;
            }
            r->elements = i + 1;
        }
        return r;
    default: /* reals, booleans, objects: not a RESP2 reply */
        *bad = 1;
        return NULL;
    }
}

static void decode_entry(json_t *e, size_t limit, kve_rest_entry_t *out)
{
    json_t *result = json_object_get(e, "result"), *error = json_object_get(e, "error");
    size_t budget = limit;
    int too_big = 0, bad = 0;

    *out = (kve_rest_entry_t){KVE_EPROTO, NULL};
    if (!json_is_object(e) || json_object_size(e) != 1 || (result == NULL) == (error == NULL))
        return;
    if (error != NULL) {
        if (json_is_string(error))
            *out = (kve_rest_entry_t){0, new_string(KVE_REPLY_ERROR, json_string_value(error), json_string_length(error))};
        return;
    }
    out->reply = convert(result, 1, &budget, limit != 0, &too_big, &bad);
    if (out->reply != NULL)
        out->err = 0;
    else if (too_big && !bad)
        *out = (kve_rest_entry_t){0, new_reply(KVE_REPLY_TOO_BIG)};
}

static json_t *parse(const char *body, size_t len)
{
    json_error_t jerr;
    return json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
}

int kve_rest_decode_entries(const char *body, size_t len, size_t n, const size_t *limits, kve_rest_entry_t *out)
{
    json_t *doc = parse(body, len);

    if (doc == NULL || !json_is_array(doc) || json_array_size(doc) != n) {
        json_decref(doc);
        return -1;
    }
    for (size_t i = 0; i != n; ++i)
        decode_entry(json_array_get(doc, i), limits[i], out + i);
    json_decref(doc);
    return 0;
}

int kve_rest_decode_envelope(const char *body, size_t len, size_t limit, kve_rest_entry_t *out)
{
    json_t *doc = parse(body, len);

    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }
    decode_entry(doc, limit, out);
    json_decref(doc);
    return 0;
}
