/*
 * objpool.h: fixed-size objects from slabs, per stack.
 *
 * Control blocks, TIME-WAIT entries, SYN-RECEIVED entries and sockets come
 * from pools: one malloc per slab of objects instead of one per object (less
 * memory per connection, no allocator overhead on the hot path once warm),
 * and an exact count of what is in use, so tests can assert nothing leaked.
 * Slabs are kept until the pool is destroyed.
 */
#ifndef USTACK_CORE_OBJPOOL_H
#define USTACK_CORE_OBJPOOL_H

#include <stddef.h>
#include <stdint.h>

struct objpool {
    size_t size;          /* object size, rounded up to 16 */
    unsigned per_slab;
    void *free;           /* free objects, linked through their first word */
    void *slabs;          /* slabs, linked through their first word */
    size_t in_use;
    size_t allocated;     /* objects in all slabs */
    size_t limit;         /* 0: unlimited */
};

void objpool_init(struct objpool *p, size_t size, unsigned per_slab, size_t limit);
void objpool_destroy(struct objpool *p);
/* Zeroed object, or NULL when the limit is reached or memory runs out. */
void *objpool_get(struct objpool *p);
void objpool_put(struct objpool *p, void *obj);

#endif
