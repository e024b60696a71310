/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the KV REST reply encoders (proxy/json.c, handlers/kv_reply.c): the JSON envelope with and without base64,
 * the bare JSON value, and RESP2, each also under a size limit.
 *
 * Input: byte 0 says how many bytes the buffer holds before the reply (bit 0 set: 1 + the other bits), bytes
 * 1-2 the limit; then a reply tree, one node per step: a type byte, then for strings a length (1 byte, or 2 with
 * the type byte's bit 7) and the bytes, for integers 8 bytes, for arrays a count byte (up to 16 elements).
 * Arrays nest at most 7 levels (hiredis 0.14's own limit, so every tree is one Redis could send) and a
 * tree has at most 512 nodes. Status and error lines never hold "\r\n" (RESP2 cannot carry it).
 *
 * kve_json_error() gets the tree's first string as its message.
 *
 * Oracles: the JSON parses with jansson and holds exactly the tree: every string either base64 of the
 * bytes or the bytes with each maximal invalid UTF-8 subsequence replaced by U+FFFD (a reference decoder
 * written from Unicode §3.9), the top-level status "OK" and error texts never base64, integers exact, nil
 * as null; the RESP2 output reads back through hiredis (with kvedge's reply functions) as the same tree;
 * a limited encoding succeeds exactly when the unlimited output fits, and then is the same bytes.
 */
#include "fuzz.h"
#include "handlers/kv_reply.h"
#include "proxy/json.h"
#include "proxy/redis_reply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <jansson.h>
#include <limits.h>

#define MAX_DEPTH 7
#define MAX_NODES 512

static kve_kv_reply_t *build(fuzz_in_t *in, int depth, size_t *budget);

static char *take_string(fuzz_in_t *in, int wide, int type, size_t *len)
{
    size_t want = wide ? fuzz_u16(in) : fuzz_u8(in);
    const uint8_t *p = fuzz_bytes(in, want, len);
    char *s = malloc(*len + 1);
    if (s == NULL)
        abort();
    memcpy(s, p, *len);
    s[*len] = '\0';
    if (type != KVE_REPLY_STRING) /* a status or error line: no CRLF inside */
        for (size_t i = 0; i + 1 < *len; ++i)
            if (s[i] == '\r' && s[i + 1] == '\n')
                s[i + 1] = 'n';
    return s;
}

static kve_kv_reply_t *build(fuzz_in_t *in, int depth, size_t *budget)
{
    kve_kv_reply_t *r = calloc(1, sizeof(*r));
    uint8_t b = fuzz_u8(in);

    if (r == NULL)
        abort();
    r->type = b % 6 + 1;
    if (*budget == 0 || (r->type == KVE_REPLY_ARRAY && depth == MAX_DEPTH - 1))
        r->type = KVE_REPLY_NIL;
    else
        --*budget;
    switch (r->type) {
    case KVE_REPLY_STRING:
    case KVE_REPLY_STATUS:
    case KVE_REPLY_ERROR:
        r->str = take_string(in, (b & 0x80) != 0, r->type, &r->len);
        break;
    case KVE_REPLY_INTEGER:
        r->integer = (long long)fuzz_u64(in);
        break;
    case KVE_REPLY_ARRAY:
        r->elements = fuzz_u8(in) % 17;
        r->element = calloc(r->elements + 1, sizeof(*r->element));
        if (r->element == NULL)
            abort();
        for (size_t i = 0; i != r->elements; ++i)
            r->element[i] = build(in, depth + 1, budget);
        break;
    default:
        break;
    }
    return r;
}

static void free_tree(kve_kv_reply_t *r)
{
    for (size_t i = 0; i != r->elements; ++i)
        free_tree(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* ---- references ---- */

/* the bytes with each maximal invalid subsequence replaced by U+FFFD (Unicode §3.9, table 3-7) */
static char *ref_utf8(const char *s, size_t len, size_t *outlen)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out = malloc(len * 3 + 1);
    size_t i = 0, n = 0;

    if (out == NULL)
        abort();
    while (i < len) {
        unsigned char c = u[i], lo = 0x80, hi = 0xbf;
        int need;
        if (c < 0x80) {
            out[n++] = (char)c, ++i;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c == 0xe0)
            need = 2, lo = 0xa0;
        else if (c == 0xed)
            need = 2, hi = 0x9f;
        else if (c >= 0xe1 && c <= 0xef)
            need = 2;
        else if (c == 0xf0)
            need = 3, lo = 0x90;
        else if (c == 0xf4)
            need = 3, hi = 0x8f;
        else if (c >= 0xf1 && c <= 0xf3)
            need = 3;
        else
            need = 0;
        size_t j = i + 1;
        int k = 0;
        for (; need != 0 && k != need && j < len; ++k, ++j) {
            unsigned char l = k == 0 ? lo : 0x80, h = k == 0 ? hi : 0xbf;
            if (u[j] < l || u[j] > h)
                break;
        }
        if (need != 0 && k == need) {
            memcpy(out + n, s + i, j - i);
            n += j - i;
        } else {
            memcpy(out + n, "\xef\xbf\xbd", 3);
            n += 3;
        }
        i = j;
    }
    *outlen = n;
    return out;
}

static int b64_value(char c)
{
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '+'             ? 62
           : c == '/'             ? 63
                                  : -1;
}

/* strict standard base64 with padding; returns the decoded length or -1 */
static long ref_unbase64(const char *s, size_t len, unsigned char *out)
{
    long n = 0;
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i != len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k != 4; ++k) {
            if (s[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0, ++pad;
            } else if (pad != 0 || (v[k] = b64_value(s[i + k])) < 0) {
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[n++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)w;
    }
    return n;
}

/* ---- comparisons ---- */

static void compare_json(const json_t *j, const kve_kv_reply_t *r, int base64, int top)
{
    switch (r->type) {
    case KVE_REPLY_STRING:
    case KVE_REPLY_STATUS:
    case KVE_REPLY_ERROR: {
        int ok_status = top && r->type == KVE_REPLY_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
        FUZZ_CHECK(json_is_string(j), "a string became JSON type %d", (int)json_typeof(j));
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        if (base64 && r->type != KVE_REPLY_ERROR && !ok_status) {
            unsigned char *dec = malloc(n + 1);
            long got = ref_unbase64(s, n, dec);
            FUZZ_CHECK(got == (long)r->len && memcmp(dec, r->str, r->len) == 0, "base64 does not round-trip");
            free(dec);
        } else {
            size_t want_len;
            char *want = ref_utf8(r->str, r->len, &want_len);
            FUZZ_CHECK(n == want_len && memcmp(s, want, n) == 0, "string of %zu bytes does not round-trip", r->len);
            free(want);
        }
    } break;
    case KVE_REPLY_INTEGER:
        FUZZ_CHECK(json_is_integer(j) && json_integer_value(j) == r->integer, "integer %lld does not round-trip", r->integer);
        break;
    case KVE_REPLY_NIL:
        FUZZ_CHECK(json_is_null(j), "nil is not null");
        break;
    case KVE_REPLY_ARRAY:
        FUZZ_CHECK(json_is_array(j) && json_array_size(j) == r->elements, "array of %zu does not round-trip", r->elements);
        for (size_t i = 0; i != r->elements; ++i)
            compare_json(json_array_get(j, i), r->element[i], base64, 0);
        break;
    default:
        abort();
    }
}

static json_t *parse_json(const kve_buf_t *out, size_t from, size_t flags)
{
    json_error_t err;
    json_t *j = json_loadb(out->base + from, out->len - from, flags | JSON_ALLOW_NUL, &err);
    FUZZ_CHECK(j != NULL, "invalid JSON output: %s at byte %d: %.*s", err.text, err.position, (int)(out->len - from),
               out->base + from);
    return j;
}

static void compare_resp(const redisReply *got, const kve_kv_reply_t *r)
{
    FUZZ_CHECK(got->type == r->type, "RESP2 type %d read back as %d", r->type, got->type);
    switch (r->type) {
    case KVE_REPLY_STRING:
    case KVE_REPLY_STATUS:
    case KVE_REPLY_ERROR:
        FUZZ_CHECK(got->len == r->len && memcmp(got->str, r->str, r->len) == 0, "RESP2 string does not round-trip");
        break;
    case KVE_REPLY_INTEGER:
        FUZZ_CHECK(got->integer == r->integer, "RESP2 integer %lld read back as %lld", r->integer, got->integer);
        break;
    case KVE_REPLY_ARRAY:
        FUZZ_CHECK(got->elements == r->elements, "RESP2 array of %zu read back with %zu", r->elements, got->elements);
        for (size_t i = 0; i != r->elements; ++i)
            compare_resp(got->element[i], r->element[i]);
        break;
    default:
        break;
    }
}

static void check_resp_roundtrip(const kve_buf_t *out, size_t from, const kve_kv_reply_t *r)
{
    redisReader *reader = redisReaderCreateWithFunctions(&kve_redis_reply_functions);
    void *got = NULL;

    FUZZ_CHECK(reader != NULL, "redisReaderCreateWithFunctions");
    redisReaderFeed(reader, out->base + from, out->len - from);
    FUZZ_CHECK(redisReaderGetReply(reader, &got) == REDIS_OK && got != NULL, "RESP2 output does not read back: %s", reader->errstr);
    compare_resp(got, r);
    reader->fn->freeObject(got);
    FUZZ_CHECK(redisReaderGetReply(reader, &got) == REDIS_OK && got == NULL, "RESP2 output holds more than one reply");
    redisReaderFree(reader);
}

/* ---- encoders ---- */

enum { ENC_ENVELOPE, ENC_VALUE, ENC_RESP2 };

static int encode(int enc, kve_buf_t *out, const kve_kv_reply_t *r, int base64, size_t limit)
{
    switch (enc) {
    case ENC_ENVELOPE:
        return kve_json_envelope(out, r, base64, limit);
    case ENC_VALUE:
        kve_json_value(out, r, base64, 1);
        return 0;
    default:
        return kve_rest_resp2(out, r, limit);
    }
}

static void check_json(const kve_buf_t *out, size_t from, const kve_kv_reply_t *r, int base64, int envelope)
{
    json_t *j = parse_json(out, from, envelope ? 0 : JSON_DECODE_ANY);
    if (envelope) {
        const char *key = r->type == KVE_REPLY_ERROR ? "error" : "result";
        FUZZ_CHECK(json_is_object(j) && json_object_size(j) == 1 && json_object_get(j, key) != NULL, "envelope without \"%s\"",
                   key);
        compare_json(json_object_get(j, key), r, r->type == KVE_REPLY_ERROR ? 0 : base64, 1);
    } else {
        compare_json(j, r, base64, 1);
    }
    json_decref(j);
}

/* one encoder: unlimited (checked), then with `limit` after `prefix` bytes already in the buffer */
static void run_encoder(int enc, const kve_kv_reply_t *r, int base64, size_t prefix, size_t limit)
{
    kve_buf_t full = KVE_BUF_INIT, lim = KVE_BUF_INIT;
    int rc;

    FUZZ_CHECK(encode(enc, &full, r, base64, SIZE_MAX) == 0, "an unlimited encoding failed");
    if (enc == ENC_RESP2)
        check_resp_roundtrip(&full, 0, r);
    else
        check_json(&full, 0, r, base64, enc == ENC_ENVELOPE);
    if (enc == ENC_VALUE)
        goto Exit;
    for (size_t i = 0; i != prefix; ++i)
        kve_buf_putc(&lim, 'x');
    rc = encode(enc, &lim, r, base64, limit);
    FUZZ_CHECK((rc == 0) == (prefix + full.len <= limit), "limit %zu, %zu + %zu bytes: returned %d", limit, prefix, full.len, rc);
    if (rc == 0)
        FUZZ_CHECK(lim.len == prefix + full.len && memcmp(lim.base + prefix, full.base, full.len) == 0,
                   "the limited output differs from the unlimited one");
Exit:
    kve_buf_dispose(&full);
    kve_buf_dispose(&lim);
}

/* kve_json_error() with the first string of the tree (up to a NUL) as the message */
static void run_error(const kve_kv_reply_t *r)
{
    kve_buf_t out = KVE_BUF_INIT;
    json_t *j, *e;

    while (r->type == KVE_REPLY_ARRAY && r->elements != 0)
        r = r->element[0];
    if (r->str == NULL)
        return;
    kve_json_error(&out, r->str);
    j = parse_json(&out, 0, 0);
    e = json_object_get(j, "error");
    FUZZ_CHECK(json_is_object(j) && json_object_size(j) == 1 && json_is_string(e), "kve_json_error wrote another shape");
    size_t want_len;
    char *want = ref_utf8(r->str, strlen(r->str), &want_len);
    FUZZ_CHECK(json_string_length(e) == want_len && memcmp(json_string_value(e), want, want_len) == 0,
               "error text does not round-trip");
    free(want);
    json_decref(j);
    kve_buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t opts = fuzz_u8(&in);
    size_t limit = fuzz_u16(&in), budget = MAX_NODES, prefix = (opts & 1) ? 1 + (opts >> 1) : 0;
    kve_kv_reply_t *r = build(&in, 0, &budget);

    for (int base64 = 0; base64 != 2; ++base64) {
        run_encoder(ENC_ENVELOPE, r, base64, prefix, limit);
        run_encoder(ENC_VALUE, r, base64, prefix, limit);
    }
    run_encoder(ENC_RESP2, r, 0, prefix, limit);
    run_error(r);
    free_tree(r);
    kve_redis_reply_release_thread();
    return 0;
}
