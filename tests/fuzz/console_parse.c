/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the web console's parsers of client bytes (issue 13; handlers/console_parse.c): the login form's
 * application/x-www-form-urlencoded body and the Cookie header.
 *
 * Input: a mode byte (bit 0: the cookie parser, else the form parser), a room byte (the output buffer's size for the
 * form, 0..255), then the name up to a 0xff byte, then the body or header (each copied into a block of exactly its
 * size, so ASan sees a read past either).
 *
 * Oracles: form: a value found fits its room with its NUL, is no longer than the body, and holds no byte the body
 * could not have given; cookie: a value found lies inside the header, holds no ';', and asking again gives the same.
 */
#include "fuzz.h"
#include "handlers/console_parse.h"
#include "proxy/common.h"

static void fuzz_form(const char *name, const char *body, size_t len, size_t room)
{
    char *out = kve_malloc(room != 0 ? room : 1);
    long n = kve_console_form_value(body, len, name, out, room);
    if (n >= 0) {
        FUZZ_CHECK(room != 0 && (size_t)n < room, "value of %ld bytes in a room of %zu", n, room);
        FUZZ_CHECK((size_t)n <= len, "value longer than the body");
        FUZZ_CHECK(out[n] == '\0', "not NUL-terminated");
    }
    free(out);
}

static void fuzz_cookie(const char *name, const char *header, size_t len)
{
    const char *value = NULL, *again = NULL;
    size_t vlen = 0, alen = 0;
    int r = kve_console_cookie_value(header, len, name, &value, &vlen);
    FUZZ_CHECK(r >= -1 && r <= 1, "result %d", r);
    if (r == 1) {
        FUZZ_CHECK(value >= header && value + vlen <= header + len, "value outside the header");
        FUZZ_CHECK(memchr(value, ';', vlen) == NULL, "a ';' in the value");
        FUZZ_CHECK(kve_console_cookie_value(header, len, name, &again, &alen) == 1 && again == value && alen == vlen, "unstable");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t mode = fuzz_u8(&in), room = fuzz_u8(&in);
    const uint8_t *start = in.p;
    size_t name_len, body_len;
    char *name, *body;

    while (in.p != in.end && *in.p != 0xff)
        ++in.p;
    name_len = (size_t)(in.p - start);
    name = kve_strndup((const char *)start, name_len); /* a name is kvedge's own: a C string */
    if (in.p != in.end)
        ++in.p;
    body_len = fuzz_left(&in);
    body = fuzz_exact_copy(in.p, body_len);
    if (strlen(name) != 0) {
        if (mode & 1)
            fuzz_cookie(name, body, body_len);
        else
            fuzz_form(name, body, body_len, room);
    }
    free(body);
    free(name);
    return 0;
}
