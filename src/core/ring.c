/*
 * ring.c: see ring.h.
 */
#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

struct ring *ring_new(uint32_t cap)
{
    cap = ring_round_cap(cap);
    struct ring *r = malloc(sizeof(*r) + cap);
    if (!r) return NULL;
    r->cap = cap;
    r->head = 0;
    r->len = 0;
    r->pad = 0;
    return r;
}

void ring_write_at(struct ring *r, uint32_t off, const void *src, uint32_t n)
{
    uint32_t pos = (r->head + off) & (r->cap - 1);
    uint32_t first = r->cap - pos;
    if (first > n) first = n;
    memcpy(r->data + pos, src, first);
    if (n > first) memcpy(r->data, (const uint8_t *)src + first, n - first);
}

uint32_t ring_append(struct ring *r, const void *src, uint32_t n)
{
    if (n > ring_free(r)) n = ring_free(r);
    ring_write_at(r, r->len, src, n);
    r->len += n;
    return n;
}

void ring_copy_out(const struct ring *r, uint32_t off, void *dst, uint32_t n)
{
    uint32_t pos = (r->head + off) & (r->cap - 1);
    uint32_t first = r->cap - pos;
    if (first > n) first = n;
    memcpy(dst, r->data + pos, first);
    if (n > first) memcpy((uint8_t *)dst + first, r->data, n - first); /* wrapped */
}

void ring_consume(struct ring *r, uint32_t n)
{
    if (n > r->len) n = r->len;
    r->head = (r->head + n) & (r->cap - 1);
    r->len -= n;
    /* head is not reset when empty: out-of-order data may lie beyond it. */
}

uint32_t ring_read(struct ring *r, void *dst, uint32_t n)
{
    if (n > r->len) n = r->len;
    ring_copy_out(r, 0, dst, n);
    ring_consume(r, n);
    return n;
}
