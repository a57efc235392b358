/*
 * ipv4.c: IPv4 (RFC 791, host requirements of RFC 1122 §3).
 *
 * Input validates the whole header before anything reads it, dropping by
 * named reason: version, header length, total length, checksum, options (not
 * supported), fragments (no reassembly), destination, source. Output adds a
 * header with DF set (RFC 1191 path MTU discovery style: we never fragment),
 * routes on-link by prefix or through the default gateway, and hands the
 * packet to ARP.
 */
#include <errno.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "net/net.h"

#define IP_FLAG_DF 0x4000
#define IP_FLAG_MF 0x2000
#define IP_OFFMASK 0x1fff

bool ip_is_local(const struct us_stack *s, uint32_t addr)
{
    for (unsigned i = 0; i < s->n_ifaces; i++)
        if (s->ifaces[i].addr == addr) return true;
    return false;
}

static bool is_bcast_on(const struct iface *ifc, uint32_t a)
{
    return ifc->prefix_len < 31 && a == (ifc->addr | ~ifc->netmask);
}

static bool is_martian_src(const struct us_stack *s, int iface, uint32_t src)
{
    if (src == 0xffffffffu) return true;
    if ((src & 0xf0000000u) == 0xe0000000u) return true; /* multicast */
    if ((src & 0xff000000u) == 0x7f000000u) return true; /* loopback from a wire */
    if (is_bcast_on(&s->ifaces[iface], src)) return true;
    return ip_is_local(s, src);
}

void ipv4_input(struct us_stack *s, int iface, const uint8_t *p, size_t len)
{
    stat_inc(s, US_C_ip_rx);
    if (len < IP_HLEN) {
        stat_inc(s, US_C_drop_ip_short);
        return;
    }
    if (p[0] >> 4 != 4) {
        stat_inc(s, US_C_drop_ip_version);
        return;
    }
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < IP_HLEN || ihl > len) {
        stat_inc(s, US_C_drop_ip_bad_ihl);
        return;
    }
    size_t total = rd16(p + 2);
    if (total < ihl || total > len) {
        stat_inc(s, US_C_drop_ip_bad_len);
        return;
    }
    if ((ihl == IP_HLEN ? csum_ip20(p) : csum(p, ihl)) != 0) {
        stat_inc(s, US_C_drop_ip_bad_csum);
        return;
    }
    if (ihl != IP_HLEN) {
        stat_inc(s, US_C_drop_ip_options);
        return;
    }
    uint16_t frag = rd16(p + 6);
    if (frag & (IP_FLAG_MF | IP_OFFMASK)) {
        stat_inc(s, US_C_drop_ip_fragment);
        return;
    }
    struct ip_pkt ip = {
        .iface = iface,
        .tos = p[1],
        .ttl = p[8],
        .proto = p[9],
        .src = rd32(p + 12),
        .dst = rd32(p + 16),
        .hdr = p,
        .hdr_len = ihl,
        .payload = p + ihl,
        .payload_len = total - ihl, /* link padding beyond total is not data */
    };
    const struct iface *ifc = &s->ifaces[iface];
    ip.to_broadcast = ip.dst == 0xffffffffu || is_bcast_on(ifc, ip.dst);
    if (!ip.to_broadcast && !ip_is_local(s, ip.dst)) {
        stat_inc(s, US_C_drop_ip_not_for_us);
        return;
    }
    if (ip.src != ifc->src_ok) {
        if (is_martian_src(s, iface, ip.src)) {
            stat_inc(s, US_C_drop_ip_bad_src);
            return;
        }
        s->ifaces[iface].src_ok = ip.src;
    }
    if (ip.ttl == 0) {
        stat_inc(s, US_C_drop_ip_ttl);
        return;
    }
    switch (ip.proto) {
    case IPPROTO_ICMP_:
        icmp_input(s, &ip);
        break;
    case IPPROTO_TCP_:
        tcp_input(s, &ip);
        break;
    case IPPROTO_UDP_:
        udp_input(s, &ip);
        break;
    default:
        /* RFC 1122 §3.2.2.1: protocol unreachable. */
        icmp_send_unreach(s, &ip, 2);
        break;
    }
}

int ip_route(const struct us_stack *s, uint32_t dst, int *iface, uint32_t *nexthop)
{
    for (unsigned i = 0; i < s->n_ifaces; i++) {
        const struct iface *ifc = &s->ifaces[i];
        if (dst == 0xffffffffu || (dst & ifc->netmask) == (ifc->addr & ifc->netmask)) {
            *iface = (int)i;
            *nexthop = dst;
            return 0;
        }
    }
    if (s->gateway) {
        for (unsigned i = 0; i < s->n_ifaces; i++) {
            const struct iface *ifc = &s->ifaces[i];
            if ((s->gateway & ifc->netmask) == (ifc->addr & ifc->netmask)) {
                *iface = (int)i;
                *nexthop = s->gateway;
                return 0;
            }
        }
    }
    return -ENETUNREACH;
}

uint32_t ip_source_for(const struct us_stack *s, uint32_t dst)
{
    int iface;
    uint32_t nh;
    if (ip_route(s, dst, &iface, &nh) < 0) return 0;
    return s->ifaces[iface].addr;
}

unsigned ip_route_mtu(const struct us_stack *s, uint32_t dst)
{
    int iface;
    uint32_t nh;
    if (ip_route(s, dst, &iface, &nh) < 0) return 0;
    return s->ifaces[iface].mtu;
}

unsigned ip_route_gso(const struct us_stack *s, uint32_t dst)
{
    int iface;
    uint32_t nh;
    if (!s->gso_links || ip_route(s, dst, &iface, &nh) < 0) return 0;
    const struct iface *ifc = &s->ifaces[iface];
    unsigned gso = ifc->link->gso_max;
    if (!gso || !ifc->link->ops->send_offload) return 0;
    gso = gso < s->cfg.max_mtu ? gso : s->cfg.max_mtu;
    return gso > ifc->mtu ? gso : 0;
}

int ip_output(struct us_stack *s, struct pbuf *p, uint32_t src, uint32_t dst, uint8_t proto)
{
    int iface;
    uint32_t nexthop;
    if (ip_route(s, dst, &iface, &nexthop) < 0) {
        stat_inc(s, US_C_drop_ip_no_route);
        pbuf_free(&s->pool, p);
        return -ENETUNREACH;
    }
    const struct iface *ifc = &s->ifaces[iface];
    unsigned limit = ifc->mtu;
    if (p->gso_size) {
        /* A GSO frame: the link cuts it into segments that fit the MTU. */
        limit = ifc->link->gso_max && ifc->link->ops->send_offload ? ifc->link->gso_max : 0;
        limit = limit < s->cfg.max_mtu ? limit : s->cfg.max_mtu;
    }
    if (p->len + IP_HLEN > limit) {
        stat_inc(s, US_C_drop_ip_too_big);
        pbuf_free(&s->pool, p);
        return -EMSGSIZE;
    }
    if (!src) src = ifc->addr;
    uint8_t *h = pbuf_push(p, IP_HLEN);
    h[0] = 0x45;
    h[1] = 0;
    wr16(h + 2, (uint16_t)p->len);
    wr16(h + 4, s->ip_id++);
    wr16(h + 6, IP_FLAG_DF);
    h[8] = IP_DEFAULT_TTL;
    h[9] = proto;
    wr16(h + 10, 0);
    wr32(h + 12, src);
    wr32(h + 16, dst);
    wr16(h + 10, csum_ip20(h));
    stat_inc(s, US_C_ip_tx);
    return arp_output(s, iface, nexthop, p);
}
