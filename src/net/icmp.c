/*
 * icmp.c: ICMP (RFC 792, RFC 1122 §3.2.2): echo replies, destination
 * unreachable generation with a rate limit, and delivery of errors that quote
 * our own datagrams to the transport that sent them.
 */
#include <errno.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "net/net.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_HLEN 8

/* Errors: 1000 per second with a burst of 50, as Linux's defaults. */
#define ICMP_RATE_PER_SEC 1000
#define ICMP_BURST 50

static void echo_reply(struct us_stack *s, const struct ip_pkt *ip)
{
    if (ip->to_broadcast) return; /* like Linux's icmp_echo_ignore_broadcasts */
    struct pbuf *p = pbuf_alloc(&s->pool);
    if (!p) {
        stat_inc(s, US_C_drop_no_pbuf);
        return;
    }
    uint8_t *m = pbuf_data(p);
    memcpy(m, ip->payload, ip->payload_len);
    p->len = (uint32_t)ip->payload_len;
    /* Only the type changes (8 -> 0), so the checksum is updated in place
     * (RFC 1624) rather than recomputed over the whole payload. */
    uint16_t old = rd16(m);
    m[0] = ICMP_ECHO_REPLY;
    wr16(m + 2, csum_update16(rd16(m + 2), old, rd16(m)));
    stat_inc(s, US_C_icmp_echo_reply_tx);
    ip_output(s, p, ip->dst, ip->src, IPPROTO_ICMP_);
}

static void echo_reply_rx(struct us_stack *s, const struct ip_pkt *ip)
{
    stat_inc(s, US_C_icmp_echo_reply_rx);
    if (s->ping_count == PING_RING) {
        stat_inc(s, US_C_drop_icmp_reply_queue);
        return;
    }
    struct us_echo_reply *r = &s->pings[(s->ping_head + s->ping_count) % PING_RING];
    r->from = ip->src;
    r->id = rd16(ip->payload + 4);
    r->seq = rd16(ip->payload + 6);
    r->len = ip->payload_len - ICMP_HLEN;
    r->time = s->now;
    s->ping_count++;
}

static void unreach_rx(struct us_stack *s, const struct ip_pkt *ip)
{
    stat_inc(s, US_C_icmp_unreach_rx);
    const uint8_t *in = ip->payload + ICMP_HLEN;
    size_t len = ip->payload_len - ICMP_HLEN;
    /* The quoted datagram: its IP header and at least 8 bytes (RFC 792). */
    if (len < IP_HLEN || in[0] >> 4 != 4) {
        stat_inc(s, US_C_drop_icmp_short);
        return;
    }
    size_t ihl = (size_t)(in[0] & 0x0f) * 4;
    if (ihl < IP_HLEN || len < ihl + 8) {
        stat_inc(s, US_C_drop_icmp_short);
        return;
    }
    uint8_t type = ip->payload[0], code = ip->payload[1];
    uint32_t src = rd32(in + 12), dst = rd32(in + 16);
    if (!ip_is_local(s, src)) return; /* not about anything we sent */
    switch (in[9]) {
    case IPPROTO_TCP_:
        tcp_icmp_error(s, type, code, src, dst, in + ihl, len - ihl);
        break;
    case IPPROTO_UDP_:
        udp_icmp_error(s, type, code, src, dst, in + ihl, len - ihl);
        break;
    default:
        break;
    }
}

void icmp_input(struct us_stack *s, const struct ip_pkt *ip)
{
    stat_inc(s, US_C_icmp_rx);
    if (ip->payload_len < ICMP_HLEN) {
        stat_inc(s, US_C_drop_icmp_short);
        return;
    }
    if (csum(ip->payload, ip->payload_len) != 0) {
        stat_inc(s, US_C_drop_icmp_bad_csum);
        return;
    }
    switch (ip->payload[0]) {
    case ICMP_ECHO:
        echo_reply(s, ip);
        break;
    case ICMP_ECHO_REPLY:
        echo_reply_rx(s, ip);
        break;
    case ICMP_UNREACH:
        unreach_rx(s, ip);
        break;
    default:
        stat_inc(s, US_C_drop_icmp_type);
        break;
    }
}

static bool ratelimit_ok(struct us_stack *s)
{
    us_time_t elapsed = s->now - s->icmp_refill;
    uint64_t add = elapsed * ICMP_RATE_PER_SEC / 1000000u;
    if (add) {
        s->icmp_tokens = (uint32_t)min_u64(ICMP_BURST, s->icmp_tokens + add);
        s->icmp_refill += add * 1000000u / ICMP_RATE_PER_SEC;
    }
    if (!s->icmp_tokens) return false;
    s->icmp_tokens--;
    return true;
}

void icmp_send_unreach(struct us_stack *s, const struct ip_pkt *ip, uint8_t code)
{
    /* RFC 1122 §3.2.2: never about a broadcast, an ICMP error, or a
     * datagram whose source is not a unicast host. */
    if (ip->to_broadcast) return;
    if (ip->proto == IPPROTO_ICMP_ && ip->payload_len >= 1 && ip->payload[0] != ICMP_ECHO &&
        ip->payload[0] != ICMP_ECHO_REPLY)
        return;
    if (!ratelimit_ok(s)) {
        stat_inc(s, US_C_icmp_ratelimited);
        return;
    }
    struct pbuf *p = pbuf_alloc(&s->pool);
    if (!p) {
        stat_inc(s, US_C_drop_no_pbuf);
        return;
    }
    size_t quote = ip->hdr_len + min_size(ip->payload_len, 8);
    uint8_t *m = pbuf_data(p);
    m[0] = ICMP_UNREACH;
    m[1] = code;
    wr16(m + 2, 0);
    wr32(m + 4, 0);
    memcpy(m + ICMP_HLEN, ip->hdr, quote);
    p->len = (uint32_t)(ICMP_HLEN + quote);
    wr16(m + 2, csum(m, p->len));
    stat_inc(s, US_C_icmp_unreach_tx);
    ip_output(s, p, ip->dst, ip->src, IPPROTO_ICMP_);
}

int us_ping_send(struct us_stack *s, uint32_t dst, uint16_t id, uint16_t seq, size_t len)
{
    stack_sync_time(s);
    timer_wheel_run(&s->timers, s->now);
    struct pbuf *p = pbuf_alloc(&s->pool);
    if (!p) {
        stat_inc(s, US_C_drop_no_pbuf);
        return -ENOBUFS;
    }
    if (len > pbuf_tailroom(&s->pool, p) - ICMP_HLEN - IP_HLEN - ETH_HLEN) {
        pbuf_free(&s->pool, p);
        return -EMSGSIZE;
    }
    uint8_t *m = pbuf_data(p);
    m[0] = ICMP_ECHO;
    m[1] = 0;
    wr16(m + 2, 0);
    wr16(m + 4, id);
    wr16(m + 6, seq);
    for (size_t i = 0; i < len; i++) m[ICMP_HLEN + i] = (uint8_t)(0x10 + i);
    p->len = (uint32_t)(ICMP_HLEN + len);
    wr16(m + 2, csum(m, p->len));
    stat_inc(s, US_C_icmp_echo_request_tx);
    return ip_output(s, p, 0, dst, IPPROTO_ICMP_);
}

bool us_ping_recv(struct us_stack *s, struct us_echo_reply *out)
{
    if (!s->ping_count) return false;
    *out = s->pings[s->ping_head];
    s->ping_head = (s->ping_head + 1) % PING_RING;
    s->ping_count--;
    return true;
}
