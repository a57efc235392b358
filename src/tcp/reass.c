/*
 * reass.c: out-of-order data, as ranges over the receive ring.
 *
 * The bytes themselves are written straight into the receive ring at their
 * place beyond the in-order data (input.c); this module only remembers which
 * ranges above RCV.NXT are filled: at most REASS_MAX_RANGES, sorted and
 * disjoint, adjacent ranges merged. So reassembly needs no per-segment
 * allocation, duplicates and overlaps cost nothing, and the out-of-order
 * data is bounded by the window in bytes. It also gives the SACK blocks to
 * send (RFC 2018 §4: the block of the most recent segment first).
 */
#include <string.h>

#include "tcp/tcp.h"

static void remove_at(struct reass *r, unsigned i)
{
    memmove(&r->r[i], &r->r[i + 1], (r->n - i - 1) * sizeof(r->r[0]));
    r->n--;
    if (r->recent > i) r->recent--;
    else if (r->recent == i) r->recent = 0;
}

bool reass_add(struct reass *r, seq_t seq, uint32_t len)
{
    seq_t lo = seq, hi = seq + len;
    unsigned i = 0;
    /* Find the first range that ends at or after lo. */
    while (i < r->n && seq_lt(r->r[i].right, lo)) i++;
    if (i < r->n && seq_leq(r->r[i].left, hi)) {
        /* Overlaps or touches range i: grow it, then swallow followers. */
        r->r[i].left = seq_min(r->r[i].left, lo);
        r->r[i].right = seq_max(r->r[i].right, hi);
        while (i + 1 < r->n && seq_leq(r->r[i + 1].left, r->r[i].right)) {
            r->r[i].right = seq_max(r->r[i].right, r->r[i + 1].right);
            remove_at(r, i + 1);
        }
        r->recent = (uint8_t)i;
        return true;
    }
    if (r->n == REASS_MAX_RANGES) return false;
    memmove(&r->r[i + 1], &r->r[i], (r->n - i) * sizeof(r->r[0]));
    r->r[i].left = lo;
    r->r[i].right = hi;
    r->n++;
    r->recent = (uint8_t)i;
    return true;
}

uint32_t reass_advance(struct reass *r, seq_t rcv_nxt)
{
    uint32_t more = 0;
    while (r->n && seq_leq(r->r[0].left, rcv_nxt)) {
        if (seq_gt(r->r[0].right, rcv_nxt)) {
            more = r->r[0].right - rcv_nxt;
            remove_at(r, 0);
            break;
        }
        remove_at(r, 0);
    }
    return more;
}

uint32_t reass_bytes(const struct reass *r)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < r->n; i++) n += r->r[i].right - r->r[i].left;
    return n;
}

unsigned reass_sack_blocks(const struct reass *r, struct sack_block *out, unsigned max)
{
    unsigned n = 0;
    if (!r->n || !max) return 0;
    out[n++] = r->r[r->recent];
    for (unsigned i = 0; i < r->n && n < max; i++)
        if (i != r->recent) out[n++] = r->r[i];
    return n;
}
