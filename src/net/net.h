/*
 * net.h: the network layer inside the stack: Ethernet, ARP, IPv4, ICMP.
 *
 * Input runs upward: eth_input -> arp_input | ipv4_input -> icmp/tcp/udp.
 * Output runs downward: ip_output -> arp_output -> eth_output -> link.
 * A packet is parsed once into struct ip_pkt; transports work on that.
 */
#ifndef USTACK_NET_H
#define USTACK_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define ETH_HLEN 14
#define ETH_ALEN 6
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define IP_HLEN 20
#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IP_DEFAULT_TTL 64

extern const uint8_t eth_broadcast[ETH_ALEN];

/* A validated IPv4 packet. */
struct ip_pkt {
    int iface;
    uint32_t src, dst;      /* host order */
    uint8_t proto, ttl, tos;
    bool to_broadcast;      /* limited or subnet-directed broadcast */
    const uint8_t *hdr;     /* the IP header */
    size_t hdr_len;
    const uint8_t *payload;
    size_t payload_len;
};

/* Ethernet */
void eth_input(struct us_stack *s, int iface, const uint8_t *frame, size_t len);
/* Prepends the Ethernet header to p and sends it; always consumes p. */
int eth_output(struct us_stack *s, int iface, const uint8_t dst[ETH_ALEN], uint16_t type,
               struct pbuf *p);

/* ARP */
void arp_init(struct us_stack *s);
void arp_destroy(struct us_stack *s);
void arp_input(struct us_stack *s, int iface, const uint8_t *pkt, size_t len);
/* Sends the IPv4 packet p to `nexthop` on `iface`, resolving first if needed;
 * consumes p. */
int arp_output(struct us_stack *s, int iface, uint32_t nexthop, struct pbuf *p);
void arp_announce(struct us_stack *s, int iface);
/* For tests: the cache entry for ip, or NULL. */
const struct arp_entry *arp_lookup(const struct us_stack *s, uint32_t ip);

/* IPv4 */
void ipv4_input(struct us_stack *s, int iface, const uint8_t *pkt, size_t len);
/* Route to dst: the interface and next hop. 0 or -ENETUNREACH. */
int ip_route(const struct us_stack *s, uint32_t dst, int *iface, uint32_t *nexthop);
/* The source address we would use towards dst (0 if no route). */
uint32_t ip_source_for(const struct us_stack *s, uint32_t dst);
/* The MTU of the route to dst (0 if no route). */
unsigned ip_route_mtu(const struct us_stack *s, uint32_t dst);
/* The largest IP packet of one TCP frame the route's link cuts into
 * segments itself (bounded by the packet buffers); 0 when it does not. */
unsigned ip_route_gso(const struct us_stack *s, uint32_t dst);
bool ip_is_local(const struct us_stack *s, uint32_t addr);
/* Prepends an IPv4 header (DF set) to the transport segment in p and sends
 * it; consumes p. src 0 picks the route's address. */
int ip_output(struct us_stack *s, struct pbuf *p, uint32_t src, uint32_t dst, uint8_t proto);

/* ICMP */
void icmp_input(struct us_stack *s, const struct ip_pkt *ip);
/* Destination unreachable (RFC 792) about the packet `ip`; code 2 protocol,
 * 3 port. Follows RFC 1122 §3.2.2's "never in reply to" rules and a rate limit. */
void icmp_send_unreach(struct us_stack *s, const struct ip_pkt *ip, uint8_t code);

/* Transport entry points (tcp/, udp/). */
void tcp_input(struct us_stack *s, const struct ip_pkt *ip);
void udp_input(struct us_stack *s, const struct ip_pkt *ip);
/* An ICMP error quoting one of our datagrams (RFC 1122 §4.2.3.9, §4.1.3.3). */
void tcp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                    const uint8_t *l4, size_t l4len);
void udp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                    const uint8_t *l4, size_t l4len);

#endif
