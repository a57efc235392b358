/*
 * objpool.c: see objpool.h.
 */
#include "core/objpool.h"

#include <stdlib.h>
#include <string.h>

#define SLAB_HDR 16

void objpool_init(struct objpool *p, size_t size, unsigned per_slab, size_t limit)
{
    memset(p, 0, sizeof(*p));
    p->size = (size + 15) & ~(size_t)15;
    p->per_slab = per_slab ? per_slab : 64;
    p->limit = limit;
}

void objpool_destroy(struct objpool *p)
{
    while (p->slabs) {
        void *next;
        memcpy(&next, p->slabs, sizeof(next));
        free(p->slabs);
        p->slabs = next;
    }
    p->free = NULL;
    p->allocated = 0;
    p->in_use = 0;
}

static int grow(struct objpool *p)
{
    char *slab = malloc(SLAB_HDR + p->size * p->per_slab);
    if (!slab) return -1;
    memcpy(slab, &p->slabs, sizeof(void *));
    p->slabs = slab;
    for (unsigned i = 0; i < p->per_slab; i++) {
        char *obj = slab + SLAB_HDR + (size_t)i * p->size;
        memcpy(obj, &p->free, sizeof(void *));
        p->free = obj;
    }
    p->allocated += p->per_slab;
    return 0;
}

void *objpool_get(struct objpool *p)
{
    if (p->limit && p->in_use >= p->limit) return NULL;
    if (!p->free && grow(p) < 0) return NULL;
    void *obj = p->free;
    memcpy(&p->free, obj, sizeof(void *));
    memset(obj, 0, p->size);
    p->in_use++;
    return obj;
}

void objpool_put(struct objpool *p, void *obj)
{
    if (!obj) return;
    memcpy(obj, &p->free, sizeof(void *));
    p->free = obj;
    p->in_use--;
}
