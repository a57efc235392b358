/*
 * frame.h: the bytes the script runner puts on the wire and reads from it.
 *
 * The runner plays the remote host. A `<` packet becomes an Ethernet + IPv4
 * + TCP frame addressed from the remote host to the stack (correct
 * checksums, zero-filled payload); every frame the stack sends is parsed
 * into a struct pkt_seg that the matcher compares with the script.
 *
 * Addresses (struct pkt_addrs) are parameters. The defaults are
 * packetdrill's: the stack under test ("local") is 192.168.0.1, port 8080
 * (packetdrill's bind and connect port), and the remote host is 192.0.2.1
 * (TEST-NET-1), port 40000. The remote host is not on the stack's subnet,
 * as with packetdrill, so the executor gives the stack a gateway
 * (PKT_DEFAULT_GATEWAY, 192.168.0.2) and answers ARP for it with the remote
 * MAC.
 */
#ifndef USTACK_TOOLS_PKT_FRAME_H
#define USTACK_TOOLS_PKT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "pkt/pkt.h"

#define PKT_DEFAULT_LOCAL_IP    0xc0a80001u /* 192.168.0.1: the stack */
#define PKT_DEFAULT_GATEWAY     0xc0a80002u /* 192.168.0.2: the runner's router */
#define PKT_DEFAULT_PREFIX      24
#define PKT_DEFAULT_REMOTE_IP   0xc0000201u /* 192.0.2.1: the scripted peer */
#define PKT_DEFAULT_LOCAL_PORT  8080
#define PKT_DEFAULT_REMOTE_PORT 40000

/* Largest frame we build or accept: Ethernet + a 64 KiB IPv4 packet. */
#define PKT_FRAME_MAX (14 + 65535)

struct pkt_addrs {
    uint8_t local_mac[6];  /* the stack's */
    uint8_t remote_mac[6]; /* the runner's (the gateway's, as the stack sees it) */
    uint32_t local_ip;     /* host byte order */
    uint32_t remote_ip;
    uint16_t local_port;
    uint16_t remote_port;
};
/* The defaults above, with locally administered MACs 02:00:00:00:00:01
 * (stack) and 02:00:00:00:00:02 (runner). */
void pkt_addrs_default(struct pkt_addrs *a);

/* One TCP segment, comparable: header fields in host order, options in wire
 * form, the payload only as a length. */
struct pkt_seg {
    uint32_t src_ip, dst_ip;
    uint16_t src_port, dst_port;
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t win, urg;
    uint32_t len;
    struct pkt_opts opts;
};

/* The segment a script packet describes, in script space: the fields as
 * written (absent ack/win/urg are 0), addressed remote -> local for `<` and
 * local -> remote for `>`. */
void pkt_seg_from_packet(struct pkt_seg *s, const struct pkt_packet *p, const struct pkt_addrs *a);

/* Writes an Ethernet + IPv4 + TCP frame for `s` (payload zeros, options
 * padded with EOL to a multiple of 4 bytes, IPv4 DF set, TTL 64). Returns
 * the frame's length, or -1 when it does not fit in `cap` or in an IPv4
 * packet. */
int pkt_frame_build(uint8_t *buf, size_t cap, const struct pkt_seg *s, const uint8_t src_mac[6],
                    const uint8_t dst_mac[6], uint16_t ip_id);

enum pkt_frame_kind {
    PKT_FRAME_TCP, /* `seg` filled */
    PKT_FRAME_ARP,
    PKT_FRAME_OTHER, /* IPv4 but not TCP (ICMP, UDP), or another ethertype */
};
/* Reads a frame the stack sent. Returns its kind, or -1 when it is
 * malformed (truncated headers, bad IPv4 or TCP checksum, IPv4 options,
 * fragments, bad TCP options) with the reason in err. A stack must never
 * send such a frame, so the runner reports it as a failure. */
int pkt_frame_parse(const uint8_t *frame, size_t len, struct pkt_seg *seg, char *err,
                    size_t errlen);

#endif
