/*
 * frame.c: Ethernet + IPv4 + TCP frames for the script runner: built from
 * script packets (inbound) and parsed from what the stack sends (outbound).
 *
 * Parsing is strict on purpose. The stack's output is the thing under test,
 * so a bad checksum, IPv4 options or a malformed TCP option list are
 * reported, not tolerated.
 */
#include <stdio.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "pkt/frame.h"

#define ETH_HLEN        14
#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_ARP   0x0806
#define IPV4_HLEN       20
#define TCP_HLEN        20
#define IPPROTO_TCP_NUM 6
#define IPV4_DF         0x4000

void pkt_addrs_default(struct pkt_addrs *a)
{
    static const uint8_t local_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    static const uint8_t remote_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    memcpy(a->local_mac, local_mac, 6);
    memcpy(a->remote_mac, remote_mac, 6);
    a->local_ip = PKT_DEFAULT_LOCAL_IP;
    a->remote_ip = PKT_DEFAULT_REMOTE_IP;
    a->local_port = PKT_DEFAULT_LOCAL_PORT;
    a->remote_port = PKT_DEFAULT_REMOTE_PORT;
}

void pkt_seg_from_packet(struct pkt_seg *s, const struct pkt_packet *p, const struct pkt_addrs *a)
{
    memset(s, 0, sizeof(*s));
    bool in = p->dir == PKT_INBOUND;
    s->src_ip = in ? a->remote_ip : a->local_ip;
    s->dst_ip = in ? a->local_ip : a->remote_ip;
    s->src_port = in ? a->remote_port : a->local_port;
    s->dst_port = in ? a->local_port : a->remote_port;
    s->flags = p->flags;
    s->seq = p->seq;
    s->ack = p->has_ack ? p->ack : 0;
    s->win = p->has_win ? p->win : 0;
    s->urg = p->has_urg ? p->urg : 0;
    s->len = p->len;
    s->opts = p->opts;
    s->opts.any = false;
}

int pkt_frame_build(uint8_t *buf, size_t cap, const struct pkt_seg *s, const uint8_t src_mac[6],
                    const uint8_t dst_mac[6], uint16_t ip_id)
{
    size_t optlen = (s->opts.len + 3u) & ~3u; /* EOL padding to a 32-bit boundary */
    size_t tcplen = TCP_HLEN + optlen + s->len;
    size_t iplen = IPV4_HLEN + tcplen;
    if (iplen > 65535 || ETH_HLEN + iplen > cap) return -1;

    uint8_t *eth = buf;
    memcpy(eth, dst_mac, 6);
    memcpy(eth + 6, src_mac, 6);
    wr16(eth + 12, ETHERTYPE_IPV4);

    uint8_t *ip = eth + ETH_HLEN;
    memset(ip, 0, IPV4_HLEN);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)iplen);
    wr16(ip + 4, ip_id);
    wr16(ip + 6, IPV4_DF);
    ip[8] = 64;
    ip[9] = IPPROTO_TCP_NUM;
    wr32(ip + 12, s->src_ip);
    wr32(ip + 16, s->dst_ip);
    wr16(ip + 10, csum(ip, IPV4_HLEN));

    uint8_t *tcp = ip + IPV4_HLEN;
    memset(tcp, 0, tcplen);
    wr16(tcp, s->src_port);
    wr16(tcp + 2, s->dst_port);
    wr32(tcp + 4, s->seq);
    wr32(tcp + 8, s->ack);
    tcp[12] = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
    tcp[13] = s->flags;
    wr16(tcp + 14, s->win);
    wr16(tcp + 18, s->urg);
    memcpy(tcp + TCP_HLEN, s->opts.bytes, s->opts.len);
    uint32_t sum = csum_pseudo(s->src_ip, s->dst_ip, IPPROTO_TCP_NUM, (uint16_t)tcplen);
    wr16(tcp + 16, csum_fold(csum_add(sum, tcp, tcplen)));
    return (int)(ETH_HLEN + iplen);
}

static int bad(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int pkt_frame_parse(const uint8_t *f, size_t len, struct pkt_seg *s, char *err, size_t errlen)
{
    if (errlen) err[0] = 0;
    if (len < ETH_HLEN) return bad(err, errlen, "frame shorter than an Ethernet header");
    uint16_t type = rd16(f + 12);
    if (type == ETHERTYPE_ARP) return PKT_FRAME_ARP;
    if (type != ETHERTYPE_IPV4) return PKT_FRAME_OTHER;

    const uint8_t *ip = f + ETH_HLEN;
    size_t iplen_avail = len - ETH_HLEN;
    if (iplen_avail < IPV4_HLEN || ip[0] >> 4 != 4)
        return bad(err, errlen, "truncated IPv4 header");
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    size_t total = rd16(ip + 2);
    if (ihl < IPV4_HLEN || total < ihl || total > iplen_avail)
        return bad(err, errlen, "bad IPv4 header or total length");
    if (csum(ip, ihl) != 0) return bad(err, errlen, "bad IPv4 header checksum");
    if (ip[9] != IPPROTO_TCP_NUM) return PKT_FRAME_OTHER;
    if (ihl != IPV4_HLEN) return bad(err, errlen, "IPv4 options on a TCP segment");
    if (rd16(ip + 6) & 0x3fff) return bad(err, errlen, "fragmented TCP segment");

    const uint8_t *tcp = ip + ihl;
    size_t tcplen = total - ihl;
    if (tcplen < TCP_HLEN) return bad(err, errlen, "truncated TCP header");
    size_t off = (size_t)(tcp[12] >> 4) * 4;
    if (off < TCP_HLEN || off > tcplen) return bad(err, errlen, "bad TCP data offset");
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    uint32_t sum = csum_pseudo(src, dst, IPPROTO_TCP_NUM, (uint16_t)tcplen);
    if (csum_fold(csum_add(sum, tcp, tcplen)) != 0) return bad(err, errlen, "bad TCP checksum");

    memset(s, 0, sizeof(*s));
    s->src_ip = src;
    s->dst_ip = dst;
    s->src_port = rd16(tcp);
    s->dst_port = rd16(tcp + 2);
    s->seq = rd32(tcp + 4);
    s->ack = rd32(tcp + 8);
    s->flags = tcp[13];
    s->win = rd16(tcp + 14);
    s->urg = rd16(tcp + 18);
    s->len = (uint32_t)(tcplen - off);
    s->opts.len = (uint8_t)(off - TCP_HLEN);
    memcpy(s->opts.bytes, tcp + TCP_HLEN, s->opts.len);
    size_t o = 0;
    struct pkt_opt opt;
    int r;
    while ((r = pkt_opts_next(&s->opts, &o, &opt)) == 1) continue;
    if (r < 0) return bad(err, errlen, "malformed TCP options");
    return PKT_FRAME_TCP;
}
