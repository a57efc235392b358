/*
 * pbuf.h: packet buffers from a per-stack pool.
 *
 * A pbuf holds one frame being built or held (an output frame, a frame
 * waiting for ARP). Buffers are allocated on first use up to the pool's limit
 * and then recycled through a free list, so the hot path never calls malloc
 * once warm. Headers are prepended in the headroom (pbuf_push), so upper
 * layers write their payload first and each layer below adds its header.
 */
#ifndef USTACK_CORE_PBUF_H
#define USTACK_CORE_PBUF_H

#include <stddef.h>
#include <stdint.h>

#define PBUF_HEADROOM 128u /* Ethernet 14 + IPv4 20 + TCP 60, rounded up */

struct pbuf {
    struct pbuf *next;   /* free list, or whichever queue holds the pbuf */
    uint32_t off;        /* start of data within buf */
    uint32_t len;        /* bytes of data */
    uint64_t tag;        /* owner's use (e.g. the next hop address) */
    /* Offloads for the link (struct us_tx_offload): gso_size, and where a
     * partial checksum starts as an offset into buf (0: complete). */
    uint16_t gso_size;
    uint16_t csum_off;   /* checksum field, from csum_start */
    uint32_t csum_start; /* offset into buf where a partial checksum's
                            coverage starts; 0: the checksum is complete */
    uint8_t buf[];       /* cap bytes */
};

struct pbuf_pool {
    struct pbuf *free;
    uint32_t cap;        /* bytes per buffer */
    unsigned max;        /* buffers allowed */
    unsigned allocated;  /* buffers malloc'd so far */
    unsigned in_use;     /* buffers taken and not yet returned */
};

void pbuf_pool_init(struct pbuf_pool *pool, uint32_t cap, unsigned max);
void pbuf_pool_destroy(struct pbuf_pool *pool);

/* A buffer with `PBUF_HEADROOM` headroom and no data; NULL when the pool is
 * exhausted. */
struct pbuf *pbuf_alloc(struct pbuf_pool *pool);
void pbuf_free(struct pbuf_pool *pool, struct pbuf *p);

static inline uint8_t *pbuf_data(struct pbuf *p) { return p->buf + p->off; }
/* Room for payload after the data. */
static inline uint32_t pbuf_tailroom(const struct pbuf_pool *pool, const struct pbuf *p)
{
    return pool->cap - p->off - p->len;
}
/* Prepends n bytes; returns their start. The caller checks headroom. */
static inline uint8_t *pbuf_push(struct pbuf *p, uint32_t n)
{
    p->off -= n;
    p->len += n;
    return p->buf + p->off;
}

#endif
