/*
 * arena.c: the memory of one parsed script. A script is built once and
 * freed once, so its allocations come from a list of blocks released
 * together; error paths in the parser then never need to unwind.
 */
#include <stdlib.h>
#include <string.h>

#include "pkt/internal.h"

#define ARENA_BLOCK 16384

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[]; /* aligned for anything */
};

struct pkt_arena {
    struct arena_block *head;
};

struct pkt_arena *arena_new(void)
{
    return calloc(1, sizeof(struct pkt_arena));
}

void arena_free(struct pkt_arena *a)
{
    if (!a) return;
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *arena_alloc(struct pkt_arena *a, size_t size)
{
    const size_t align = sizeof(max_align_t);
    if (size > SIZE_MAX / 2) return NULL;
    size = (size + align - 1) / align * align;
    if (size == 0) size = align;
    struct arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        /* Big requests get a block of their own, behind the current one, so
         * the current block's free space is not wasted. */
        size_t cap = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
        struct arena_block *nb = malloc(sizeof(*nb) + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && cap != ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct pkt_arena *a, const char *s, size_t len)
{
    char *d = arena_alloc(a, len + 1);
    if (!d) return NULL;
    if (len) memcpy(d, s, len);
    d[len] = 0;
    return d;
}

void *arena_grow(struct pkt_arena *a, void *array, uint32_t count, uint32_t *cap, size_t size)
{
    if (count < *cap) return array;
    uint32_t ncap = *cap ? *cap * 2 : 8;
    if (ncap < *cap || (size_t)ncap > SIZE_MAX / size) return NULL;
    void *n = arena_alloc(a, (size_t)ncap * size);
    if (!n) return NULL;
    if (count) memcpy(n, array, (size_t)count * size);
    *cap = ncap;
    return n;
}
