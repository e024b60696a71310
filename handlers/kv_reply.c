/* SPDX-License-Identifier: MIT */
/*
 * The REST API's RESP2 response format (see kv_reply.h). Like the JSON encoders it only appends to the
 * output buffer, reserving each piece once.
 */
#include "handlers/kv_reply.h"
#include "proxy/common.h"
#include "proxy/json.h"
#include "proxy/resp.h"

#include <limits.h>

static const char too_big_text[] = KVE_JSON_TOO_BIG_TEXT;

/* `prefix`, the decimal digits of v, then CRLF */
static void put_number(kve_buf_t *out, char prefix, long long v)
{
    char *d = kve_buf_reserve(out, 2 + 20 + 2), *p = d;

    *p++ = prefix;
    if (v < 0)
        *p++ = '-';
    p += kve_u64toa(v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, p);
    memcpy(p, "\r\n", 2);
    out->len += (size_t)(p - d) + 2;
}

/* whether appending `more` bytes would take `out` past `limit` */
static int past(const kve_buf_t *out, size_t more, size_t limit)
{
    return more > limit || out->len > limit - more;
}

/* a status or error line: the marker, the text as it is, CRLF */
static void put_line(kve_buf_t *out, char marker, const char *s, size_t len)
{
    char *d;

    KVE_ASSERT(len <= SIZE_MAX - 3);
    d = kve_buf_reserve(out, len + 3);
    d[0] = marker;
    if (len != 0)
        memcpy(d + 1, s, len);
    memcpy(d + 1 + len, "\r\n", 2);
    out->len += len + 3;
}

int kve_rest_resp2(kve_buf_t *out, const kve_kv_reply_t *reply, size_t limit)
{
    size_t i;

    switch (reply->type) {
    case KVE_REPLY_STRING:
        if (past(out, reply->len, limit))
            return -1;
        KVE_ASSERT(reply->len <= (size_t)LLONG_MAX);
        put_number(out, '$', (long long)reply->len);
        kve_buf_append(out, reply->str, reply->len);
        kve_buf_append(out, "\r\n", 2);
        break;
    case KVE_REPLY_STATUS:
    case KVE_REPLY_ERROR:
        if (past(out, reply->len, limit))
            return -1;
        put_line(out, reply->type == KVE_REPLY_STATUS ? '+' : '-', reply->str, reply->len);
        break;
    case KVE_REPLY_INTEGER:
        put_number(out, ':', reply->integer);
        break;
    case KVE_REPLY_TOO_BIG:
        put_line(out, '-', too_big_text, sizeof(too_big_text) - 1);
        break;
    case KVE_REPLY_NIL:
        kve_buf_append(out, KVE_STRLIT("$-1\r\n"));
        break;
    case KVE_REPLY_ARRAY:
        KVE_ASSERT(reply->elements <= (size_t)LLONG_MAX);
        put_number(out, '*', (long long)reply->elements);
        for (i = 0; i != reply->elements; ++i)
            if (kve_rest_resp2(out, reply->element[i], limit) != 0)
                return -1;
        break;
    default:
        KVE_ASSERT(!"unknown reply type");
    }
    return out->len > limit ? -1 : 0;
}
