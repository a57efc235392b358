/*
 * pbuf.c: the packet buffer pool (see pbuf.h).
 */
#include "core/pbuf.h"

#include <stdlib.h>

void pbuf_pool_init(struct pbuf_pool *pool, uint32_t cap, unsigned max)
{
    pool->free = NULL;
    pool->cap = cap;
    pool->max = max;
    pool->allocated = 0;
    pool->in_use = 0;
}

void pbuf_pool_destroy(struct pbuf_pool *pool)
{
    while (pool->free) {
        struct pbuf *p = pool->free;
        pool->free = p->next;
        free(p);
    }
    pool->allocated = 0;
}

struct pbuf *pbuf_alloc(struct pbuf_pool *pool)
{
    struct pbuf *p = pool->free;
    if (p) {
        pool->free = p->next;
    } else {
        if (pool->allocated >= pool->max) return NULL;
        p = malloc(sizeof(*p) + pool->cap);
        if (!p) return NULL;
        pool->allocated++;
    }
    pool->in_use++;
    p->next = NULL;
    p->off = PBUF_HEADROOM;
    p->len = 0;
    p->tag = 0;
    p->gso_size = 0;
    p->csum_off = 0;
    p->csum_start = 0;
    return p;
}

void pbuf_free(struct pbuf_pool *pool, struct pbuf *p)
{
    if (!p) return;
    pool->in_use--;
    p->next = pool->free;
    pool->free = p;
}
