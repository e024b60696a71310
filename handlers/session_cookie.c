/* SPDX-License-Identifier: MIT */
/* The session cookie, handles and store keys (see session_cookie.h). */
#include "handlers/session_cookie.h"
#include "handlers/session_hash.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t kve_base64url_encode(char *dst, const uint8_t *src, size_t len)
{
    size_t i, n = 0;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[n++] = b64url[v >> 18 & 63], dst[n++] = b64url[v >> 12 & 63], dst[n++] = b64url[v >> 6 & 63], dst[n++] = b64url[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        dst[n++] = b64url[v >> 18 & 63], dst[n++] = b64url[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        dst[n++] = b64url[v >> 18 & 63], dst[n++] = b64url[v >> 12 & 63], dst[n++] = b64url[v >> 6 & 63];
    }
    return n;
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int kve_session_handle_shape(const char *v, size_t len)
{
    if (len != KVE_SESSION_HANDLE_LEN)
        return 0;
    for (size_t i = 0; i != len; ++i)
        if (!is_b64url(v[i]))
            return 0;
    return 1;
}

/* the next "name=value" pair of a Cookie header at *p (before end): 2, or 1 for a pair without '=', 0 when there is none */
static int next_pair(const char **p, const char *end, h2o_iovec_t *name, h2o_iovec_t *value)
{
    const char *s = *p, *semi, *eq;
    while (s < end && (*s == ' ' || *s == '\t' || *s == ';'))
        ++s;
    if (s == end)
        return 0;
    if ((semi = memchr(s, ';', (size_t)(end - s))) == NULL)
        semi = end;
    *p = semi;
    if ((eq = memchr(s, '=', (size_t)(semi - s))) == NULL) {
        *name = h2o_iovec_init(s, (size_t)(semi - s));
        *value = h2o_iovec_init(semi, 0);
    } else {
        *name = h2o_iovec_init(s, (size_t)(eq - s));
        *value = h2o_iovec_init(eq + 1, (size_t)(semi - eq - 1));
    }
    int ret = eq != NULL ? 2 : 1;
    while (name->len != 0 && (name->base[name->len - 1] == ' ' || name->base[name->len - 1] == '\t'))
        --name->len;
    while (value->len != 0 && (value->base[value->len - 1] == ' ' || value->base[value->len - 1] == '\t'))
        --value->len;
    while (value->len != 0 && (value->base[0] == ' ' || value->base[0] == '\t'))
        ++value->base, --value->len;
    return ret;
}

kve_session_cookie_t kve_session_cookie_find(const h2o_header_t *headers, size_t num, const char *name, size_t namelen,
                                             h2o_iovec_t *value)
{
    size_t found = 0;
    h2o_iovec_t first = {NULL, 0};

    for (size_t i = 0; i != num; ++i) {
        const char *p, *end;
        h2o_iovec_t n, v;
        if (headers[i].name != &H2O_TOKEN_COOKIE->buf)
            continue;
        p = headers[i].value.base, end = p + headers[i].value.len;
        while (next_pair(&p, end, &n, &v)) {
            if (n.len == namelen && memcmp(n.base, name, namelen) == 0) {
                if (found++ == 0)
                    first = v;
            }
        }
    }
    if (found == 0)
        return KVE_SESSION_COOKIE_NONE;
    if (found > 1 || !kve_session_handle_shape(first.base, first.len))
        return KVE_SESSION_COOKIE_INVALID;
    *value = first;
    return KVE_SESSION_COOKIE_OK;
}

size_t kve_session_cookie_strip(h2o_mem_pool_t *pool, h2o_headers_t *headers, const char *name, size_t namelen)
{
    size_t removed = 0;
    for (ssize_t i = 0; i < (ssize_t)headers->size; ++i) {
        h2o_header_t *h = headers->entries + i;
        const char *p, *end;
        h2o_iovec_t n, v;
        char *out;
        size_t len = 0, here = 0;
        int kind;
        if (h->name != &H2O_TOKEN_COOKIE->buf)
            continue;
        out = h2o_mem_alloc_pool(pool, 2 * h->value.len + 2); /* "a;b" is written "a; b" */
        p = h->value.base, end = p + h->value.len;
        while ((kind = next_pair(&p, end, &n, &v)) != 0) {
            if (n.len == namelen && memcmp(n.base, name, namelen) == 0) {
                ++here;
                continue;
            }
            if (len != 0)
                out[len++] = ';', out[len++] = ' ';
            memcpy(out + len, n.base, n.len), len += n.len;
            if (kind == 2) {
                out[len++] = '=';
                memcpy(out + len, v.base, v.len), len += v.len;
            }
        }
        if (here == 0)
            continue;
        removed += here;
        if (len == 0) {
            h2o_delete_header(headers, i--);
        } else {
            h->value = h2o_iovec_init(out, len);
        }
    }
    return removed;
}

void kve_session_user_tag(const uint8_t *k_tag, size_t klen, const char *uid, size_t uidlen, uint8_t tag[KVE_SESSION_TAG_BYTES])
{
    uint8_t md[KVE_SHA256_LEN], buf[2 + KVE_SESSION_UID_MAX];
    KVE_ASSERT(uidlen <= KVE_SESSION_UID_MAX);
    memcpy(buf, "u:", 2);
    memcpy(buf + 2, uid, uidlen);
    kve_session_hmac_sha256(k_tag, klen, buf, 2 + uidlen, md);
    memcpy(tag, md, KVE_SESSION_TAG_BYTES);
}

void kve_session_new_handle(char out[KVE_SESSION_HANDLE_LEN + 1], const uint8_t *tag)
{
    uint8_t rnd[KVE_SESSION_TAG_BYTES + KVE_SESSION_SECRET_BYTES];
    KVE_ASSERT(RAND_bytes(rnd, sizeof(rnd)) == 1);
    if (tag != NULL)
        memcpy(rnd, tag, KVE_SESSION_TAG_BYTES);
    KVE_ASSERT(kve_base64url_encode(out, rnd, KVE_SESSION_TAG_BYTES) == KVE_SESSION_TAG_CHARS);
    KVE_ASSERT(kve_base64url_encode(out + KVE_SESSION_TAG_CHARS, rnd + KVE_SESSION_TAG_BYTES, KVE_SESSION_SECRET_BYTES) ==
               KVE_SESSION_SECRET_CHARS);
    out[KVE_SESSION_HANDLE_LEN] = '\0';
}

static void hex(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i != len; ++i)
        out[2 * i] = digits[in[i] >> 4], out[2 * i + 1] = digits[in[i] & 15];
    out[2 * len] = '\0';
}

void kve_session_key(char out[KVE_SESSION_KEY_SIZE], const char *handle)
{
    uint8_t md[KVE_SHA256_LEN];
    size_t n = 0;
    kve_session_sha256(handle, KVE_SESSION_HANDLE_LEN, md);
    memcpy(out, "kvs1:{", 6), n = 6;
    memcpy(out + n, handle, KVE_SESSION_TAG_CHARS), n += KVE_SESSION_TAG_CHARS;
    memcpy(out + n, "}:s:", 4), n += 4;
    hex(out + n, md, sizeof(md));
}

void kve_session_pid(char out[KVE_SESSION_PID_SIZE], const uint8_t *k_pid, size_t klen, const char *handle)
{
    uint8_t h[KVE_SHA256_LEN], md[KVE_SHA256_LEN];
    kve_session_sha256(handle, KVE_SESSION_HANDLE_LEN, h);
    kve_session_hmac_sha256(k_pid, klen, h, sizeof(h), md);
    hex(out, md, 16);
}

h2o_iovec_t kve_session_set_cookie(h2o_mem_pool_t *pool, const char *name, const char *handle, int same_site, int secure)
{
    static const char *const ss[] = {"Lax", "Strict", "None"};
    size_t cap = strlen(name) + KVE_SESSION_HANDLE_LEN + 96;
    char *buf = h2o_mem_alloc_pool(pool, cap);
    int n =
        snprintf(buf, cap, "%s=%s; Path=/;%s HttpOnly; SameSite=%s%s", name, handle != NULL ? handle : "", secure ? " Secure;" : "",
                 ss[same_site >= 0 && same_site <= 2 ? same_site : 0], handle != NULL ? "" : "; Max-Age=0");
    KVE_ASSERT(n > 0 && (size_t)n < cap);
    return h2o_iovec_init(buf, (size_t)n);
}
