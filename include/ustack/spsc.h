/*
 * spsc.h: a link made of two lock-free single-producer/single-consumer rings,
 * for two stacks that run on two threads of one process.
 *
 * Each end has a us_link: the stack on end 0 sends into the ring end 1
 * reads, and the reverse. A frame is copied once into the ring when sent
 * (as a NIC would DMA it) and handed to the receiving stack straight from
 * the ring by us_spsc_poll(), which that end's thread calls. Nothing locks:
 * each ring has one writer and one reader, which publish their positions
 * with release stores and read the other's with acquire loads, each keeping
 * a cached copy so the shared cache lines move only when needed. A full ring
 * drops the frame (-ENOBUFS), like a full transmit queue.
 *
 * Frames cross memory only, never a wire, so the links vouch for checksums
 * (US_LINK_F_CSUM_TRUSTED).
 */
#ifndef USTACK_SPSC_H
#define USTACK_SPSC_H

#include <stddef.h>

#include "ustack/link.h"
#include "ustack/stack.h"

struct us_spsc;

/* `bytes` per direction (rounded up to a power of two, at least 64 KiB
 * plus a frame); `mtu` of both links. NULL on allocation failure. */
struct us_spsc *us_spsc_new(size_t bytes, unsigned mtu);
void us_spsc_free(struct us_spsc *q);

/* The link of end 0 or 1, to give to us_stack_add_iface(). */
struct us_link *us_spsc_link(struct us_spsc *q, int end);

/* Hands up to `max` frames waiting for `end` to stack `s` (interface
 * `iface`) at `now`. Only end's thread may call it. Returns how many. */
unsigned us_spsc_poll(struct us_spsc *q, int end, struct us_stack *s, int iface, us_time_t now,
                      unsigned max);

/* Frames dropped because the ring toward the other end was full. */
unsigned long us_spsc_drops(const struct us_spsc *q, int end);

#endif
