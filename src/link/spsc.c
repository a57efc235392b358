/*
 * spsc.c: two lock-free single-producer/single-consumer rings as a link
 * between stacks on two threads (ustack/spsc.h).
 *
 * A ring is a power-of-two byte array and two 64-bit positions that only
 * grow: `tail` (written by the producer) and `head` (written by the
 * consumer); position p lives at byte p & (cap - 1). A record is an 8-byte
 * header (the frame length) and the frame, padded to 8 bytes. A record never
 * wraps: when it does not fit before the end of the array the producer
 * writes a WRAP header and continues at offset 0. The producer stores the
 * new tail with release order after writing the record; the consumer loads
 * it with acquire order before reading it, and the reverse for head, so the
 * bytes are always seen whole. Each side caches the other's position and
 * reloads it only when the cached one says "full" or "empty": the shared
 * cache lines then move once per batch instead of once per frame.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ustack/spsc.h"

#define REC_HDR   8u
#define WRAP      UINT32_MAX
#define FRAME_MAX (65535u + 14u)

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* consumer's position */
    uint64_t tail_cache;                /* consumer's copy of tail */
    _Alignas(64) _Atomic uint64_t tail; /* producer's position */
    uint64_t head_cache;                /* producer's copy of head */
    unsigned long drops;                /* written by the producer */
    _Alignas(64) uint8_t *buf;
    uint64_t cap;
};

struct end {
    struct us_link link;
    struct us_spsc *q;
    int idx;
};

struct us_spsc {
    struct ring r[2]; /* r[i]: frames toward end i */
    struct end e[2];
};

static uint64_t pad8(uint64_t n)
{
    return (n + 7u) & ~(uint64_t)7u;
}

static int ring_push(struct ring *r, const uint8_t *frame, size_t len)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t need = REC_HDR + pad8(len);
    uint64_t off = tail & (r->cap - 1);
    uint64_t room_to_end = r->cap - off;
    uint64_t total = room_to_end < need ? room_to_end + need : need;
    if (r->cap - (tail - r->head_cache) < total) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (r->cap - (tail - r->head_cache) < total) {
            r->drops++;
            return -ENOBUFS;
        }
    }
    if (room_to_end < need) {
        /* Positions and records are 8-aligned, so a header always fits. */
        uint32_t wrap = WRAP;
        memcpy(r->buf + off, &wrap, sizeof(wrap));
        tail += room_to_end;
        off = 0;
    }
    uint32_t l32 = (uint32_t)len;
    memcpy(r->buf + off, &l32, sizeof(l32));
    memcpy(r->buf + off + REC_HDR, frame, len);
    atomic_store_explicit(&r->tail, tail + need, memory_order_release);
    return 0;
}

static int end_send(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now)
{
    struct end *e = container_of(link, struct end, link);
    if (len > FRAME_MAX) return -EMSGSIZE;
    return ring_push(&e->q->r[1 - e->idx], frame, len);
}

static const struct us_link_ops spsc_ops = {.send = end_send};

struct us_spsc *us_spsc_new(size_t bytes, unsigned mtu)
{
    uint64_t cap = 1u << 16;
    while (cap < bytes || cap < 2 * (FRAME_MAX + REC_HDR)) cap <<= 1;
    struct us_spsc *q = aligned_alloc(64, sizeof(*q));
    if (!q) return NULL;
    memset(q, 0, sizeof(*q));
    for (int i = 0; i < 2; i++) {
        q->r[i].cap = cap;
        q->r[i].buf = malloc(cap);
        if (!q->r[i].buf) {
            us_spsc_free(q);
            return NULL;
        }
        atomic_init(&q->r[i].head, 0);
        atomic_init(&q->r[i].tail, 0);
        q->e[i].q = q;
        q->e[i].idx = i;
        q->e[i].link.ops = &spsc_ops;
        q->e[i].link.mtu = mtu ? mtu : 1500;
        q->e[i].link.flags = US_LINK_F_CSUM_TRUSTED;
        q->e[i].link.name = i ? "spsc1" : "spsc0";
    }
    return q;
}

void us_spsc_free(struct us_spsc *q)
{
    if (!q) return;
    free(q->r[0].buf);
    free(q->r[1].buf);
    free(q);
}

struct us_link *us_spsc_link(struct us_spsc *q, int end)
{
    return &q->e[end & 1].link;
}

unsigned us_spsc_poll(struct us_spsc *q, int end, struct us_stack *s, int iface, us_time_t now,
                      unsigned max)
{
    struct ring *r = &q->r[end & 1];
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    unsigned n = 0;
    while (n < max) {
        if (head == r->tail_cache) {
            r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (head == r->tail_cache) break;
        }
        uint64_t off = head & (r->cap - 1);
        uint32_t len;
        memcpy(&len, r->buf + off, sizeof(len));
        if (len == WRAP) {
            head += r->cap - off;
            continue;
        }
        /* The stack copies what it keeps, so the frame is read in place; the
         * slot is released only after the input returns. */
        us_stack_input(s, iface, r->buf + off + REC_HDR, len, now);
        head += REC_HDR + pad8(len);
        n++;
        /* Release in batches of 16: frees room for the producer without
         * touching the shared line for every frame. */
        if ((n & 15u) == 0) atomic_store_explicit(&r->head, head, memory_order_release);
    }
    atomic_store_explicit(&r->head, head, memory_order_release);
    return n;
}

unsigned long us_spsc_drops(const struct us_spsc *q, int end)
{
    return q->r[1 - (end & 1)].drops;
}
