/* SPDX-License-Identifier: MIT */
/* Process-wide and per-token caps on open SSE streams (see kv_stream_slots.h). */
#include "handlers/kv_stream_slots.h"
#include "proxy/common.h"

#include <pthread.h>
#include <string.h>
#include <openssl/sha.h>

struct st_token_slots_t {
    uint64_t id;
    size_t open;
    int warned; /* a refusal was reported since `open` was last below the cap */
};

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
    size_t open;
    int warned;
    struct st_token_slots_t *tokens; /* the tokens with open streams, unordered */
    size_t num_tokens, cap_tokens;
} slots;

uint64_t kve_stream_slots_token_id(const char *token, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    uint64_t id = 0;
    size_t i;

    SHA256((const unsigned char *)token, len, md);
    for (i = 0; i != sizeof(id); ++i)
        id = id << 8 | md[i];
    return id != 0 ? id : 1;
}

/* the entry of `id`, or NULL */
static struct st_token_slots_t *find(uint64_t id)
{
    size_t i;
    for (i = 0; i != slots.num_tokens; ++i)
        if (slots.tokens[i].id == id)
            return slots.tokens + i;
    return NULL;
}

static struct st_token_slots_t *add(uint64_t id)
{
    if (slots.num_tokens == slots.cap_tokens) {
        slots.cap_tokens = slots.cap_tokens == 0 ? 16 : slots.cap_tokens * 2;
        slots.tokens = kve_realloc(slots.tokens, slots.cap_tokens * sizeof(*slots.tokens));
    }
    slots.tokens[slots.num_tokens] = (struct st_token_slots_t){id, 0, 0};
    return slots.tokens + slots.num_tokens++;
}

/* the caller's refusal: whether it is the first since the cap was last below it */
static int refuse(int *warned)
{
    int first = !*warned;
    *warned = 1;
    return first;
}

int kve_stream_slots_acquire(uint64_t id, size_t max_total, size_t max_per_token, int *first_refusal)
{
    struct st_token_slots_t *t;
    int ret = KVE_STREAM_SLOT_OK;

    pthread_mutex_lock(&mutex);
    t = find(id);
    if (slots.open >= max_total) {
        *first_refusal = refuse(&slots.warned);
        ret = KVE_STREAM_SLOT_TOTAL;
    } else if (t != NULL && t->open >= max_per_token) {
        *first_refusal = refuse(&t->warned);
        ret = KVE_STREAM_SLOT_TOKEN;
    } else {
        if (t == NULL)
            t = add(id);
        ++t->open;
        ++slots.open;
    }
    pthread_mutex_unlock(&mutex);
    return ret;
}

void kve_stream_slots_release(uint64_t id)
{
    struct st_token_slots_t *t;

    pthread_mutex_lock(&mutex);
    t = find(id);
    KVE_ASSERT(t != NULL && t->open != 0 && slots.open != 0);
    --slots.open;
    slots.warned = 0;
    t->warned = 0;
    if (--t->open == 0) {
        *t = slots.tokens[--slots.num_tokens];
        if (slots.num_tokens == 0) { /* nothing left behind at exit */
            free(slots.tokens);
            slots.tokens = NULL;
            slots.cap_tokens = 0;
        }
    }
    pthread_mutex_unlock(&mutex);
}

size_t kve_stream_slots_open(void)
{
    size_t n;
    pthread_mutex_lock(&mutex);
    n = slots.open;
    pthread_mutex_unlock(&mutex);
    return n;
}
