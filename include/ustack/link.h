/*
 * link.h: the one small interface between the stack and a device.
 *
 * A link sends frames; frames it receives reach the stack through whoever
 * drives it (the wire, or the TAP loop), via us_stack_input(). Two drivers
 * exist: the in-memory wire (ustack/wire.h) and a Linux TAP (ustack/tap.h).
 */
#ifndef USTACK_LINK_H
#define USTACK_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "ustack/stack.h"

/* The link delivers frames intact (no corruption possible), so receivers may
 * skip verifying checksums it vouches for. */
#define US_LINK_F_CSUM_TRUSTED 0x1u
/* The link finishes TCP checksums itself (a TAP with the virtio-net header,
 * a NIC with checksum offload): the stack hands it frames whose checksum
 * field holds only the pseudo-header sum, through send_offload(). */
#define US_LINK_F_TX_CSUM 0x2u

struct us_link;

/* What the stack asks of the link for one frame, in the virtio-net
 * header's terms (virtio spec §5.1.6.2). */
struct us_tx_offload {
    /* Nonzero: the frame is one TCP segment larger than the MTU, and the
     * link cuts it into segments of gso_size payload bytes (TSO/GSO). */
    uint16_t gso_size;
    /* Nonzero: the checksum is partial. The link sums the frame from byte
     * csum_start to the end (the field already holds the pseudo-header
     * sum) and stores the result at csum_start + csum_offset. */
    uint16_t csum_start, csum_offset;
};

struct us_link_ops {
    /* Sends one Ethernet frame (no FCS). Returns 0 or a negative errno; the
     * link copies what it keeps. */
    int (*send)(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now);
    /* Optional, for links with US_LINK_F_TX_CSUM or gso_max: sends one
     * frame with the offloads `o` asks for. */
    int (*send_offload)(struct us_link *link, const uint8_t *frame, size_t len,
                        const struct us_tx_offload *o, us_time_t now);
    /* Optional: frees the link. */
    void (*close)(struct us_link *link);
};

struct us_link {
    const struct us_link_ops *ops;
    unsigned mtu;            /* IP MTU: the largest payload of one frame */
    unsigned flags;          /* US_LINK_F_* */
    /* Nonzero: the largest IP packet of one TCP frame the link segments
     * itself (send_offload with gso_size), and the largest it may deliver
     * (a peer's GSO frame, not yet cut). 0: nothing above the MTU. */
    unsigned gso_max;
    const char *name;
};

static inline int us_link_send(struct us_link *link, const uint8_t *frame, size_t len,
                               us_time_t now)
{
    return link->ops->send(link, frame, len, now);
}

#endif
