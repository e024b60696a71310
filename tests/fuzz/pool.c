/* SPDX-License-Identifier: MIT */
/*
 * Exact-size pool allocations for the fuzz targets. h2o carves pool allocations out of 4 KiB chunks, where
 * AddressSanitizer cannot see a write or read past one allocation into the next. The targets link with
 * -Wl,--wrap=h2o_mem_alloc_pool,--wrap=h2o_mem_clear_pool, so every pool allocation kvedge's code makes
 * becomes its own malloc'd block (ASan reports any access past its end), freed when the pool is cleared.
 * Calls made inside libh2o itself are not wrapped and keep using the real pool.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include "h2o.h"

struct st_block_t {
    struct st_block_t *next;
    h2o_mem_pool_t *pool;
    alignas(max_align_t) char data[]; /* exactly the size asked for */
};

static struct st_block_t *blocks;

void *__real_h2o_mem_alloc_pool(h2o_mem_pool_t *pool, size_t sz);
void __real_h2o_mem_clear_pool(h2o_mem_pool_t *pool);
void *__wrap_h2o_mem_alloc_pool(h2o_mem_pool_t *pool, size_t sz);
void __wrap_h2o_mem_clear_pool(h2o_mem_pool_t *pool);

void *__wrap_h2o_mem_alloc_pool(h2o_mem_pool_t *pool, size_t sz)
{
    struct st_block_t *b = malloc(offsetof(struct st_block_t, data) + sz);
    if (b == NULL)
        abort();
    b->next = blocks;
    b->pool = pool;
    blocks = b;
    return b->data;
}

void __wrap_h2o_mem_clear_pool(h2o_mem_pool_t *pool)
{
    struct st_block_t **p = &blocks;
    while (*p != NULL) {
        struct st_block_t *b = *p;
        if (b->pool == pool) {
            *p = b->next;
            free(b);
        } else {
            p = &b->next;
        }
    }
    __real_h2o_mem_clear_pool(pool);
}
