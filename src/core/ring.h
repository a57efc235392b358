/*
 * ring.h: a byte ring for TCP's send and receive buffers.
 *
 * Capacity is a power of two so positions wrap with a mask. The ring holds
 * `len` bytes from `head`; the receive side also writes out-of-order data
 * beyond `len` (ring_write_at) and later makes it part of the stream
 * (ring_commit). Rings are allocated when a connection first needs one and
 * given back when empty (see tcp's buffer cache), so an idle connection
 * holds none.
 */
#ifndef USTACK_CORE_RING_H
#define USTACK_CORE_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring {
    uint32_t cap;    /* power of two */
    uint32_t head;   /* position of the first byte */
    uint32_t len;    /* bytes in the stream */
    uint32_t pad;
    uint8_t data[];
};

struct ring *ring_new(uint32_t cap);
static inline uint32_t ring_free(const struct ring *r) { return r->cap - r->len; }
/* Appends up to n bytes; returns how many. */
uint32_t ring_append(struct ring *r, const void *src, uint32_t n);
/* Copies n bytes starting `off` bytes after the head (off + n <= cap). */
void ring_copy_out(const struct ring *r, uint32_t off, void *dst, uint32_t n);
/* Writes n bytes `off` bytes after the head without changing len
 * (out-of-order data; off + n <= cap). */
void ring_write_at(struct ring *r, uint32_t off, const void *src, uint32_t n);
/* Extends len by n (bytes already written with ring_write_at). */
static inline void ring_commit(struct ring *r, uint32_t n) { r->len += n; }
/* Drops n bytes from the head. */
void ring_consume(struct ring *r, uint32_t n);
/* Copies out and consumes up to n bytes; returns how many. */
uint32_t ring_read(struct ring *r, void *dst, uint32_t n);
/* Smallest power of two >= n (n <= 2^31), at least 64. Inline: it runs
 * on every ring taken from the cache and on every window computed for a
 * connection without a receive ring. */
static inline uint32_t ring_round_cap(uint32_t n)
{
    if (n <= 64) return 64;
    return 1u << (32 - __builtin_clz(n - 1));
}

#endif
