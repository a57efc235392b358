/*
 * udp.c: UDP (RFC 768): datagram sockets, checksums, port unreachable.
 *
 * Sockets are found by local port (a small hash), preferring one connected
 * to the datagram's source. Each has a receive queue bounded in bytes
 * (SO_RCVBUF); a datagram that does not fit is dropped and counted. A
 * datagram for no socket gets ICMP port unreachable (RFC 1122 §4.1.3.1); an
 * ICMP error about a datagram a connected socket sent becomes that socket's
 * pending error, returned by its next call (ECONNREFUSED for "port
 * unreachable"), as on Linux.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/csum.h"
#include "core/util.h"
#include "net/net.h"
#include "udp/udp.h"

#define UDP_HLEN 8
#define UDP_BUCKETS 256
#define UDP_DEFAULT_RCVBUF 212992 /* Linux's default */

struct udp_dgram {
    struct udp_dgram *next;
    uint32_t src;
    uint16_t sport;
    uint32_t len;
    uint8_t data[];
};

struct udp_sock {
    struct udp_sock *hnext;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    bool hashed;
    bool reuse;
    int err;
    struct udp_dgram *qhead, *qtail;
    uint32_t qbytes, qcount, rcvbuf;
};

struct udp_stack {
    struct udp_sock *b[UDP_BUCKETS];
    unsigned socks;
    unsigned dgrams;
};

static struct udp_stack *us(struct us_stack *s) { return s->udp; }
static unsigned bucket(uint16_t port) { return (port * 2654435761u >> 16) & (UDP_BUCKETS - 1); }

int udp_init(struct us_stack *s)
{
    s->udp = calloc(1, sizeof(struct udp_stack));
    return s->udp ? 0 : -ENOMEM;
}

static void unhash(struct us_stack *s, struct udp_sock *u)
{
    if (!u->hashed) return;
    struct udp_sock **pp = &us(s)->b[bucket(u->lport)];
    while (*pp && *pp != u) pp = &(*pp)->hnext;
    if (*pp) *pp = u->hnext;
    u->hashed = false;
}

static void hash(struct us_stack *s, struct udp_sock *u)
{
    struct udp_sock **head = &us(s)->b[bucket(u->lport)];
    u->hnext = *head;
    *head = u;
    u->hashed = true;
}

struct udp_sock *udp_sock_new(struct us_stack *s)
{
    struct udp_sock *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->rcvbuf = UDP_DEFAULT_RCVBUF;
    us(s)->socks++;
    return u;
}

void udp_sock_close(struct us_stack *s, struct udp_sock *u)
{
    unhash(s, u);
    while (u->qhead) {
        struct udp_dgram *d = u->qhead;
        u->qhead = d->next;
        free(d);
        us(s)->dgrams--;
    }
    us(s)->socks--;
    free(u);
}

unsigned udp_destroy(struct us_stack *s)
{
    struct udp_stack *ut = us(s);
    return ut ? ut->socks + ut->dgrams : 0;
}

void udp_free_all(struct us_stack *s)
{
    free(s->udp);
    s->udp = NULL;
}

static bool port_taken(struct us_stack *s, uint32_t addr, uint16_t port, bool reuse)
{
    for (struct udp_sock *u = us(s)->b[bucket(port)]; u; u = u->hnext)
        if (u->lport == port && (!u->laddr || !addr || u->laddr == addr) && !(reuse && u->reuse))
            return true;
    return false;
}

static uint16_t pick_port(struct us_stack *s, uint32_t addr)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    uint32_t num = (uint32_t)c->ephemeral_hi - c->ephemeral_lo + 1;
    uint32_t start = (uint32_t)rng_below(&s->rng, num);
    for (uint32_t i = 0; i < num; i++) {
        uint16_t port = (uint16_t)(c->ephemeral_lo + (start + i) % num);
        if (!port_taken(s, addr, port, false)) return port;
    }
    return 0;
}

int udp_bind(struct us_stack *s, struct udp_sock *u, uint32_t addr, uint16_t port, bool reuse)
{
    if (u->lport) return -EINVAL;
    if (!port) {
        port = pick_port(s, addr);
        if (!port) return -EADDRINUSE;
    } else if (port_taken(s, addr, port, reuse)) {
        return -EADDRINUSE;
    }
    u->laddr = addr;
    u->lport = port;
    u->reuse = reuse;
    hash(s, u);
    return 0;
}

int udp_connect(struct us_stack *s, struct udp_sock *u, uint32_t addr, uint16_t port)
{
    if (!addr && !port) {
        u->raddr = 0;
        u->rport = 0;
        return 0;
    }
    if (!port) return -EINVAL;
    if (!u->lport) {
        int rc = udp_bind(s, u, 0, 0, false);
        if (rc < 0) return rc;
    }
    if (!ip_source_for(s, addr) && addr != 0xffffffffu) return -ENETUNREACH;
    u->raddr = addr;
    u->rport = port;
    u->err = 0;
    return 0;
}

ssize_t udp_sendto(struct us_stack *s, struct udp_sock *u, const void *buf, size_t len,
                   uint32_t dst, uint16_t dport)
{
    if (!dst && !dport) {
        if (!u->rport) return -EDESTADDRREQ;
        dst = u->raddr;
        dport = u->rport;
    }
    if (!u->lport) {
        int rc = udp_bind(s, u, 0, 0, false);
        if (rc < 0) return rc;
    }
    unsigned mtu = ip_route_mtu(s, dst);
    if (!mtu) return -ENETUNREACH;
    /* We send with DF and never fragment (docs/DESIGN.md). */
    if (len + UDP_HLEN + IP_HLEN > mtu) return -EMSGSIZE;
    struct pbuf *p = pbuf_alloc(&s->pool);
    if (!p) {
        stat_inc(s, US_C_drop_no_pbuf);
        return -ENOBUFS;
    }
    uint32_t src = u->laddr ? u->laddr : ip_source_for(s, dst);
    uint8_t *h = pbuf_data(p);
    wr16(h, u->lport);
    wr16(h + 2, dport);
    wr16(h + 4, (uint16_t)(UDP_HLEN + len));
    wr16(h + 6, 0);
    memcpy(h + UDP_HLEN, buf, len);
    p->len = (uint32_t)(UDP_HLEN + len);
    uint32_t sum = csum_pseudo(src, dst, IPPROTO_UDP_, (uint16_t)p->len);
    uint16_t c = csum_fold(csum_add(sum, h, p->len));
    wr16(h + 6, c ? c : 0xffff); /* RFC 768: zero means "no checksum" */
    stat_inc(s, US_C_udp_tx);
    int rc = ip_output(s, p, src, dst, IPPROTO_UDP_);
    return rc < 0 && rc != -EHOSTUNREACH ? rc : (ssize_t)len;
}

ssize_t udp_recvfrom(struct us_stack *s, struct udp_sock *u, void *buf, size_t len, int flags,
                     uint32_t *src, uint16_t *sport)
{
    struct udp_dgram *d = u->qhead;
    if (!d) return -EAGAIN;
    size_t n = min_size(len, d->len);
    memcpy(buf, d->data, n);
    *src = d->src;
    *sport = d->sport;
    ssize_t ret = (flags & MSG_TRUNC) ? (ssize_t)d->len : (ssize_t)n;
    if (!(flags & MSG_PEEK)) {
        /* A datagram is read whole or not at all: the rest of it is gone. */
        u->qhead = d->next;
        if (!u->qhead) u->qtail = NULL;
        u->qbytes -= d->len;
        u->qcount--;
        us(s)->dgrams--;
        free(d);
    }
    return ret;
}

int udp_take_error(struct udp_sock *u)
{
    int e = u->err;
    u->err = 0;
    return e;
}

int udp_peek_error(const struct udp_sock *u) { return u->err; }
bool udp_readable(const struct udp_sock *u) { return u->qhead != NULL; }
uint32_t udp_next_len(const struct udp_sock *u) { return u->qhead ? u->qhead->len : 0; }
void udp_set_rcvbuf(struct udp_sock *u, uint32_t bytes) { u->rcvbuf = bytes; }
uint32_t udp_rcvbuf(const struct udp_sock *u) { return u->rcvbuf; }
uint32_t udp_queued_bytes(const struct udp_sock *u) { return u->qbytes; }

void udp_name(const struct udp_sock *u, uint32_t *laddr, uint16_t *lport, uint32_t *raddr,
              uint16_t *rport)
{
    *laddr = u->laddr;
    *lport = u->lport;
    *raddr = u->raddr;
    *rport = u->rport;
}

static struct udp_sock *find(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                             uint16_t rport)
{
    struct udp_sock *best = NULL;
    int best_score = -1;
    for (struct udp_sock *u = us(s)->b[bucket(lport)]; u; u = u->hnext) {
        if (u->lport != lport) continue;
        if (u->laddr && u->laddr != laddr) continue;
        if (u->rport && (u->raddr != raddr || u->rport != rport)) continue;
        int score = (u->laddr ? 1 : 0) + (u->rport ? 2 : 0);
        if (score > best_score) {
            best = u;
            best_score = score;
        }
    }
    return best;
}

void udp_input(struct us_stack *s, const struct ip_pkt *ip)
{
    stat_inc(s, US_C_udp_rx);
    const uint8_t *h = ip->payload;
    if (ip->payload_len < UDP_HLEN) {
        stat_inc(s, US_C_drop_udp_short);
        return;
    }
    size_t ulen = rd16(h + 4);
    if (ulen < UDP_HLEN || ulen > ip->payload_len) {
        stat_inc(s, US_C_drop_udp_bad_len);
        return;
    }
    /* A link may vouch for the checksum (ustack/link.h): the wire, or a
     * TAP whose kernel left it partial (NEEDS_CSUM) -- then the field holds
     * only the pseudo-header sum and checking it would drop good data. */
    bool trusted = s->ifaces[ip->iface].link->flags & US_LINK_F_CSUM_TRUSTED;
    if (rd16(h + 6) != 0 && !trusted) {
        uint32_t sum = csum_pseudo(ip->src, ip->dst, IPPROTO_UDP_, (uint16_t)ulen);
        if (csum_fold(csum_add(sum, h, ulen)) != 0) {
            stat_inc(s, US_C_drop_udp_bad_csum);
            return;
        }
    }
    uint16_t sport = rd16(h), dport = rd16(h + 2);
    struct udp_sock *u = find(s, ip->dst, dport, ip->src, sport);
    if (!u) {
        stat_inc(s, US_C_drop_udp_no_port);
        icmp_send_unreach(s, ip, 3); /* port unreachable */
        return;
    }
    uint32_t len = (uint32_t)(ulen - UDP_HLEN);
    if (u->qbytes + len > u->rcvbuf) {
        stat_inc(s, US_C_drop_udp_rcvbuf);
        return;
    }
    struct udp_dgram *d = malloc(sizeof(*d) + len);
    if (!d) {
        stat_inc(s, US_C_drop_udp_rcvbuf);
        return;
    }
    d->next = NULL;
    d->src = ip->src;
    d->sport = sport;
    d->len = len;
    memcpy(d->data, h + UDP_HLEN, len);
    if (u->qtail)
        u->qtail->next = d;
    else
        u->qhead = d;
    u->qtail = d;
    u->qbytes += len;
    u->qcount++;
    us(s)->dgrams++;
}

void udp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                    const uint8_t *l4, size_t l4len)
{
    if (l4len < 4 || type != 3) return;
    uint16_t sport = rd16(l4), dport = rd16(l4 + 2);
    struct udp_sock *u = find(s, src, sport, dst, dport);
    /* Linux reports errors only to connected sockets (without IP_RECVERR). */
    if (!u || !u->rport) return;
    switch (code) {
    case 3:
        u->err = ECONNREFUSED;
        break;
    case 2:
        u->err = ENOPROTOOPT;
        break;
    case 4:
        u->err = EMSGSIZE;
        break;
    default:
        u->err = EHOSTUNREACH;
        break;
    }
}
