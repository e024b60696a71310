/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (see base64.h). The encoder sits on the hot path of base64 replies: it writes two digits
 * per lookup from a table of every 12-bit value, built by the preprocessor so there is no start-up code.
 */
#include "proxy/base64.h"

#include <stdint.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define B64_DIGIT(i) ((i) < 26 ? 'A' + (i) : (i) < 52 ? 'a' + (i)-26 : (i) < 62 ? '0' + (i)-52 : (i) == 62 ? '+' : '/')
#define B64_PAIR(i) B64_DIGIT((i) >> 6), B64_DIGIT((i)&0x3f)
#define B64_PAIRS4(i) B64_PAIR(i), B64_PAIR((i) + 1), B64_PAIR((i) + 2), B64_PAIR((i) + 3)
#define B64_PAIRS16(i) B64_PAIRS4(i), B64_PAIRS4((i) + 4), B64_PAIRS4((i) + 8), B64_PAIRS4((i) + 12)
#define B64_PAIRS64(i) B64_PAIRS16(i), B64_PAIRS16((i) + 16), B64_PAIRS16((i) + 32), B64_PAIRS16((i) + 48)
#define B64_PAIRS256(i) B64_PAIRS64(i), B64_PAIRS64((i) + 64), B64_PAIRS64((i) + 128), B64_PAIRS64((i) + 192)
#define B64_PAIRS1024(i) B64_PAIRS256(i), B64_PAIRS256((i) + 256), B64_PAIRS256((i) + 512), B64_PAIRS256((i) + 768)
static const char pairs[4096 * 2] = {B64_PAIRS1024(0), B64_PAIRS1024(1024), B64_PAIRS1024(2048), B64_PAIRS1024(3072)};

size_t kve_base64_encode(char *dst, const void *src, size_t len)
{
    const unsigned char *p = src;
    size_t full = len / 3, rest = len % 3, i;
    char *d = dst;

    for (i = 0; i != full; ++i, p += 3, d += 4) {
        uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        memcpy(d, pairs + (v >> 12) * 2, 2);
        memcpy(d + 2, pairs + (v & 0xfff) * 2, 2);
    }
    if (rest != 0) {
        uint32_t v = (uint32_t)p[0] << 16 | (rest == 2 ? (uint32_t)p[1] << 8 : 0);
        d[0] = alphabet[v >> 18];
        d[1] = alphabet[v >> 12 & 0x3f];
        d[2] = rest == 2 ? alphabet[v >> 6 & 0x3f] : '=';
        d[3] = '=';
        d += 4;
    }
    return (size_t)(d - dst);
}

/* the value of a base64 digit, or -1 */
static int digit_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int kve_base64_decode(void *dst, const char *src, size_t len, size_t *decoded)
{
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = dst;
    size_t i, k, pad = 0;

    if (len % 4 != 0)
        return -1;
    if (len != 0 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    for (i = 0; i != len; i += 4) {
        size_t digits = i + 4 == len ? 4 - pad : 4;
        uint32_t acc = 0;
        for (k = 0; k != digits; ++k) {
            int v = digit_value(s[i + k]);
            if (v < 0)
                return -1; /* also a '=' before the end */
            acc = acc << 6 | (uint32_t)v;
        }
        acc <<= 6 * (4 - digits);
        /* 4 digits: 3 bytes; 3: 2 bytes; 2: 1 byte; the bits after the last byte must be 0 (canonical) */
        if ((acc & (0xffffffu >> (8 * (digits - 1)))) != 0)
            return -1;
        d[0] = (unsigned char)(acc >> 16);
        if (digits > 2)
            d[1] = (unsigned char)(acc >> 8);
        if (digits > 3)
            d[2] = (unsigned char)acc;
        d += digits - 1;
    }
    *decoded = (size_t)(d - (unsigned char *)dst);
    return 0;
}
