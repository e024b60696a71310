/* SPDX-License-Identifier: MIT */
/* The console's session table (see console_session.h). */
#include "handlers/console_session.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include "proxy/common.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kve_console_session_t table[KVE_CONSOLE_MAX_SESSIONS]; /* a free slot has expires_ms 0 */

static int random_hex(char *out)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[KVE_CONSOLE_SECRET_HEX / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    for (size_t i = 0; i != sizeof(raw); ++i)
        out[2 * i] = digits[raw[i] >> 4], out[2 * i + 1] = digits[raw[i] & 15];
    out[KVE_CONSOLE_SECRET_HEX] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

/* frees expired slots (lock held) */
static void drop_expired(uint64_t now)
{
    for (size_t i = 0; i != KVE_CONSOLE_MAX_SESSIONS; ++i)
        if (table[i].expires_ms != 0 && table[i].expires_ms <= now)
            OPENSSL_cleanse(table + i, sizeof(table[i]));
}

/* a free slot, else the one closest to expiring (lock held) */
static kve_console_session_t *take_slot(void)
{
    kve_console_session_t *victim = table;
    for (size_t i = 0; i != KVE_CONSOLE_MAX_SESSIONS; ++i) {
        if (table[i].expires_ms == 0)
            return table + i;
        if (table[i].expires_ms < victim->expires_ms)
            victim = table + i;
    }
    return victim;
}

int kve_console_session_create(int read_only, uint64_t ttl_ms, kve_console_session_t *out)
{
    uint64_t now = kve_now_ms();
    kve_console_session_t s = {.read_only = read_only, .expires_ms = now + ttl_ms};

    if (random_hex(s.id) != 0 || random_hex(s.csrf) != 0)
        return -1;
    pthread_mutex_lock(&lock);
    drop_expired(now);
    *take_slot() = s;
    pthread_mutex_unlock(&lock);
    *out = s;
    OPENSSL_cleanse(&s, sizeof(s));
    return 0;
}

/* the slot of `id` (lock held), or NULL */
static kve_console_session_t *lookup(const char *id, size_t len)
{
    kve_console_session_t *found = NULL;
    if (len != KVE_CONSOLE_SECRET_HEX)
        return NULL;
    for (size_t i = 0; i != KVE_CONSOLE_MAX_SESSIONS; ++i) /* every slot compared, in constant time each */
        if (table[i].expires_ms != 0 && kve_secure_equal(table[i].id, KVE_CONSOLE_SECRET_HEX, id, len))
            found = table + i;
    return found;
}

int kve_console_session_find(const char *id, size_t len, kve_console_session_t *out)
{
    kve_console_session_t *s;
    int ret = 0;

    pthread_mutex_lock(&lock);
    drop_expired(kve_now_ms());
    if ((s = lookup(id, len)) != NULL) {
        *out = *s;
        ret = 1;
    }
    pthread_mutex_unlock(&lock);
    return ret;
}

void kve_console_session_end(const char *id, size_t len)
{
    kve_console_session_t *s;
    pthread_mutex_lock(&lock);
    if ((s = lookup(id, len)) != NULL)
        OPENSSL_cleanse(s, sizeof(*s));
    pthread_mutex_unlock(&lock);
}

size_t kve_console_session_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&lock);
    drop_expired(kve_now_ms());
    for (size_t i = 0; i != KVE_CONSOLE_MAX_SESSIONS; ++i)
        n += table[i].expires_ms != 0;
    pthread_mutex_unlock(&lock);
    return n;
}

void kve_console_session_end_all(void)
{
    pthread_mutex_lock(&lock);
    OPENSSL_cleanse(table, sizeof(table));
    pthread_mutex_unlock(&lock);
}
