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

struct us_link;

struct us_link_ops {
    /* Sends one Ethernet frame (no FCS). Returns 0 or a negative errno; the
     * link copies what it keeps. */
    int (*send)(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now);
    /* Optional: frees the link. */
    void (*close)(struct us_link *link);
};

struct us_link {
    const struct us_link_ops *ops;
    unsigned mtu;            /* IP MTU: the largest payload of one frame */
    unsigned flags;          /* US_LINK_F_* */
    const char *name;
};

static inline int us_link_send(struct us_link *link, const uint8_t *frame, size_t len,
                               us_time_t now)
{
    return link->ops->send(link, frame, len, now);
}

#endif
