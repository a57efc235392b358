/*
 * map.h: between script space and the stack's sequence and timestamp space.
 *
 * A script writes numbers as if both hosts started at the values it shows.
 * The runner's own side (the remote host) really does: its sequence numbers
 * and TS vals are sent exactly as written. The stack picks its own ISN and
 * TS clock, so the numbers that refer to the stack's side are offset:
 *
 *   what                          inbound (`<`, injected)   outbound (`>`, compared)
 *   seq                           as written                stack seq - local_isn
 *   ack                           written + local_isn       as sent
 *   SACK blocks                   written + local_isn       as sent
 *   TS val                        as written                stack val - ts_offset
 *   TS ecr                        written + ts_offset       as sent
 *
 * where local_isn = (stack seq) - (script seq) of the first outbound segment
 * carrying SYN (a SYN or SYN-ACK; scripts write it as 0, so local_isn is the
 * stack's ISN), learned once per connection, and ts_offset = (stack TS val)
 * - (script TS val) of the first outbound segment whose script line gives a
 * TS val (not `<...>`). Until they are learned both offsets are 0, which is
 * what a script means when it talks to a port with no connection (an ACK to
 * a listener, answered by a RST whose seq is that ack).
 *
 * The ack is translated whenever the script gives one, with or without the
 * ACK flag (`< F 1:1(0) ack 2`): the script writes every ack number in the
 * stack's relative space, and a receiver ignores the field without the
 * flag. TS ecr is translated whatever its value (also 0), for the same
 * reason: a script's ecr always names a script-space TS val.
 *
 * A later SYN-ACK with a fresh ISN on the same connection (a new handshake
 * from TIME-WAIT) is still compared against the first ISN. The FreeBSD
 * scripts assume exactly that: where they expect one, they write `...(0)`
 * for its seq. An executor that wants a fresh mapping for a new connection
 * calls pkt_map_init() for it.
 */
#ifndef USTACK_TOOLS_PKT_MAP_H
#define USTACK_TOOLS_PKT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt/frame.h"
#include "pkt/pkt.h"

/* Per-connection mapping state. */
struct pkt_map {
    bool have_local_isn;
    uint32_t local_isn; /* stack seq = script seq + local_isn */
    bool have_remote_isn;
    uint32_t remote_isn; /* the script's ISN, from its first `<` SYN (sent as is) */
    bool have_ts;
    uint32_t ts_script; /* the first outbound TS val pair: script ... */
    uint32_t ts_live;   /* ... and stack */
};

void pkt_map_init(struct pkt_map *m);

/* stack TS val - script TS val (0 until learned). */
uint32_t pkt_map_ts_offset(const struct pkt_map *m);

/* Translates an inbound segment built from `p` (pkt_seg_from_packet) from
 * script space to the stack's, in place: ack, SACK blocks, TS ecr. Records
 * the script's ISN from a SYN. */
void pkt_map_inbound(struct pkt_map *m, const struct pkt_packet *p, struct pkt_seg *s);

/* Learns local_isn and ts_offset from a segment the stack sent, matched
 * against the script's expectation `expected`. Call before
 * pkt_map_outbound() for every outbound segment; it learns each offset only
 * once. With `expected` NULL (a segment nobody expected) nothing is
 * learned. */
void pkt_map_learn(struct pkt_map *m, const struct pkt_seg *actual,
                   const struct pkt_packet *expected);

/* Translates an outbound segment from the stack's space to script space, in
 * place: seq and TS val. */
void pkt_map_outbound(const struct pkt_map *m, struct pkt_seg *s);

/* The frame for a `<` packet, in the stack's space: pkt_seg_from_packet(),
 * pkt_map_inbound(), pkt_frame_build() from the remote MAC to the stack's.
 * Returns the frame's length or -1 (see pkt_frame_build). */
int pkt_map_inbound_frame(uint8_t *buf, size_t cap, struct pkt_map *m, const struct pkt_packet *p,
                          const struct pkt_addrs *a, uint16_t ip_id);

#endif
