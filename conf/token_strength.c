/* SPDX-License-Identifier: MIT */
/*
 * Tokens an attacker would try first (docs/configuration.md, "Warnings"): kvedge -t and startup warn about a token
 * that is short, uses few different characters, is all digits, or is made only of common words and short numbers
 * ("changeme", "kvedge-quickstart-token", "password123"). Random tokens of 16 bytes or more never match: the rule
 * looks for what people type, not for a measure of randomness.
 */
#include "conf/config_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* the tokens under this many bytes are short (the KV API and admin tokens must be this long anyway) */
#define MIN_LEN 16
/* fewer different bytes than this: "aaaa...", "abababab..." */
#define MIN_DISTINCT 6
/* a run of at most this many digits is a "short number" (a year, "123") */
#define SHORT_NUMBER 4

/* words of guessable tokens: placeholders, product and protocol names, and what people name a token */
static const char *const common_words[] = {
    "abc",     "abcdef",  "access",  "admin",      "api",     "auth",   "bar",     "baz",     "bearer",   "change", "changeme",
    "default", "demo",    "dev",     "edge",       "example", "foo",    "guest",   "hello",   "insecure", "key",    "kv",
    "kvedge",  "letmein", "local",   "localhost",  "master",  "me",     "my",      "only",    "pass",     "passwd", "password",
    "please",  "prod",    "qwerty",  "quickstart", "read",    "redis",  "replace", "ro",      "root",     "rw",     "sample",
    "secret",  "server",  "session", "staging",    "store",   "stores", "test",    "testing", "this",     "token",  "upstash",
    "user",    "vercel",  "welcome", "write",      "your",    "x",      "xyz",     NULL};

static int is_common_word(const char *word, size_t len)
{
    for (const char *const *w = common_words; *w != NULL; ++w)
        if (strlen(*w) == len && strncasecmp(*w, word, len) == 0)
            return 1;
    return 0;
}

/* made only of common words and short numbers, between any separators (and at least one word) */
static int only_common_words(const char *token)
{
    const char *p = token, *start;
    int words = 0;

    while (*p != '\0') {
        if (isalpha((unsigned char)*p)) {
            for (start = p; isalpha((unsigned char)*p); ++p)
                ;
            if (!is_common_word(start, (size_t)(p - start)))
                return 0;
            ++words;
        } else if (isdigit((unsigned char)*p)) {
            for (start = p; isdigit((unsigned char)*p); ++p)
                ;
            if (p - start > SHORT_NUMBER)
                return 0;
        } else {
            ++p;
        }
    }
    return words != 0;
}

static size_t distinct_bytes(const char *token)
{
    unsigned char seen[256] = {0};
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)token; *p != '\0'; ++p)
        if (!seen[*p]++)
            ++n;
    return n;
}

const char *kve_config__weak_token(const char *token)
{
    size_t len = strlen(token), digits = strspn(token, "0123456789");

    if (len < MIN_LEN)
        return "it is shorter than 16 bytes";
    if (distinct_bytes(token) == 1)
        return "it is one character repeated";
    if (distinct_bytes(token) < MIN_DISTINCT)
        return "it uses fewer than 6 different characters";
    if (digits == len)
        return "it is all digits";
    if (only_common_words(token))
        return "it is made of common words";
    return NULL;
}
