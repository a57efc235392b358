/*
 * fuzz_tcp: arbitrary segment sequences into connections in every state.
 *
 * The first input byte picks the starting point, reached with a real
 * handshake from a scripted peer: LISTEN, SYN-SENT, SYN-RECEIVED (compact
 * entry), ESTABLISHED (passive or active), FIN-WAIT-1, FIN-WAIT-2,
 * CLOSE-WAIT, LAST-ACK, CLOSING, TIME-WAIT. The rest is a program of
 * commands: segments from the peer (flags, sequence and ack numbers as
 * offsets from what the stack expects, so most land near the window, plus
 * raw ones; options from a menu or raw bytes; payload), time advancing,
 * and application calls (send, recv, shutdown, close, options). Nothing may
 * crash, read out of bounds, trip UBSan, break the state machine's diagram
 * (tcp_bad_transitions) or leak.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "ustack/link.h"
#include "ustack/socket.h"
#include "ustack/stack.h"

#define US_IP 0x0a000002u
#define PEER_IP 0x0a000001u
#define US_PORT 80
#define PEER_PORT 40000

static const uint8_t us_mac[6] = {2, 0, 0, 0, 0, 2};
static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 1};

/* What the stack last sent: enough to aim the next segment. */
struct peer {
    struct us_stack *s;
    us_time_t now;
    uint32_t stack_nxt;  /* the stack's next sequence number (seen) */
    uint32_t peer_nxt;   /* our next sequence number */
    uint32_t stack_ts;
    bool seen;
};

static struct peer P;

static int link_send(struct us_link *l, const uint8_t *f, size_t n, us_time_t now)
{
    if (n < 14 + 20 + 20 || rd16(f + 12) != 0x0800 || f[14 + 9] != 6) return 0;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    const uint8_t *t = ip + ihl;
    size_t off = (size_t)(t[12] >> 4) * 4;
    size_t len = rd16(ip + 2) - ihl - off;
    uint8_t flags = t[13];
    uint32_t end = rd32(t + 4) + (uint32_t)len + !!(flags & 0x02) + !!(flags & 0x01);
    if (!P.seen || (int32_t)(end - P.stack_nxt) > 0) P.stack_nxt = end;
    P.seen = true;
    for (size_t i = 20; i + 9 < off; i++)
        if (t[i] == 8 && t[i + 1] == 10) P.stack_ts = rd32(t + i + 2);
    return 0;
}

static const struct us_link_ops ops = {.send = link_send};

static us_time_t drv_now(void *ctx) { return P.now; }
static int drv_wait(void *ctx, us_time_t until) { return -1; }

static void segment(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd, const uint8_t *opt,
                    size_t optlen, size_t paylen)
{
    uint8_t f[14 + 20 + 60 + 1500];
    optlen &= ~(size_t)3;
    if (optlen > 40) optlen = 40;
    if (paylen > 1400) paylen = 1400;
    uint8_t *t = f + 34;
    size_t hl = 20 + optlen;
    wr16(t, PEER_PORT);
    wr16(t + 2, US_PORT);
    wr32(t + 4, seq);
    wr32(t + 8, ack);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = flags;
    wr16(t + 14, wnd);
    wr16(t + 16, 0);
    wr16(t + 18, 0);
    if (optlen) memcpy(t + 20, opt, optlen);
    for (size_t i = 0; i < paylen; i++) t[hl + i] = (uint8_t)i;
    size_t tl = hl + paylen;
    wr16(t + 16, csum_fold(csum_add(csum_pseudo(PEER_IP, US_IP, 6, (uint16_t)tl), t, tl)));
    memcpy(f, us_mac, 6);
    memcpy(f + 6, peer_mac, 6);
    wr16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(20 + tl));
    ip[8] = 64;
    ip[9] = 6;
    wr32(ip + 12, PEER_IP);
    wr32(ip + 16, US_IP);
    wr16(ip + 10, csum(ip, 20));
    us_stack_input(P.s, 0, f, 34 + tl, P.now);
}

static void advance(us_time_t dt)
{
    us_time_t until = P.now + dt;
    for (;;) {
        us_time_t next = us_stack_next_timer(P.s);
        if (next > until) break;
        P.now = next > P.now ? next : P.now;
        us_stack_poll(P.s, P.now);
    }
    P.now = until;
    us_stack_poll(P.s, P.now);
}

static const uint8_t syn_opts[] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};

static void ack_now(uint8_t extra) { segment(0x10 | extra, P.peer_nxt, P.stack_nxt, 1000, NULL, 0, 0); }

enum start {
    S_LISTEN, S_SYN_SENT, S_SYN_RCVD, S_ESTAB_PASSIVE, S_ESTAB_ACTIVE, S_FIN_WAIT_1,
    S_FIN_WAIT_2, S_CLOSE_WAIT, S_LAST_ACK, S_CLOSING, S_TIME_WAIT, S_COUNT
};

/* Brings a connection to `st`; returns the socket the fuzz program uses. */
static int reach(enum start st, int *listener)
{
    *listener = -1;
    int fd = -1;
    if (st == S_SYN_SENT || st == S_ESTAB_ACTIVE) {
        fd = us_socket(P.s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(US_PORT)};
        us_bind(P.s, fd, (struct sockaddr *)&a, sizeof(a));
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PEER_PORT),
                                 .sin_addr.s_addr = htonl(PEER_IP)};
        us_connect(P.s, fd, (struct sockaddr *)&to, sizeof(to));
        P.peer_nxt = 7000;
        if (st == S_SYN_SENT) return fd;
        segment(0x12, P.peer_nxt++, P.stack_nxt, 65535, syn_opts, sizeof(syn_opts), 0);
        return fd;
    }
    int l = us_socket(P.s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(US_PORT)};
    us_bind(P.s, l, (struct sockaddr *)&a, sizeof(a));
    us_listen(P.s, l, 4);
    *listener = l;
    P.peer_nxt = 5000;
    if (st == S_LISTEN) return l;
    segment(0x02, P.peer_nxt++, 0, 65535, syn_opts, sizeof(syn_opts), 0);
    if (st == S_SYN_RCVD) return l;
    ack_now(0);
    fd = us_accept(P.s, l, NULL, NULL);
    if (fd < 0) return l;
    switch (st) {
    case S_FIN_WAIT_1:
        us_close(P.s, fd);
        return l;
    case S_FIN_WAIT_2:
        us_shutdown(P.s, fd, SHUT_WR);
        ack_now(0);
        return fd;
    case S_CLOSE_WAIT:
        ack_now(0x01);
        P.peer_nxt++;
        return fd;
    case S_LAST_ACK:
        ack_now(0x01);
        P.peer_nxt++;
        us_close(P.s, fd);
        return l;
    case S_CLOSING: {
        us_shutdown(P.s, fd, SHUT_WR);
        uint32_t before_fin = P.stack_nxt - 1;
        segment(0x11, P.peer_nxt++, before_fin, 1000, NULL, 0, 0);
        return fd;
    }
    case S_TIME_WAIT:
        us_close(P.s, fd);
        ack_now(0);
        ack_now(0x01);
        P.peer_nxt++;
        return l;
    default:
        return fd;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    memset(&P, 0, sizeof(P));
    struct us_link link = {.ops = &ops, .mtu = 1500, .name = "fuzz"};
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.arp_timeout = US_SEC(86400 * 365);
    cfg.tcp.challenge_ack_limit = 100000;
    cfg.tcp.max_syn_backlog = 8;
    P.s = us_stack_new(&cfg);
    struct us_iface_config ic = {.addr = US_IP, .prefix_len = 24};
    memcpy(ic.mac, us_mac, 6);
    us_stack_add_iface(P.s, &link, &ic);
    struct us_driver drv = {.now = drv_now, .wait = drv_wait, .ctx = NULL};
    us_stack_set_driver(P.s, &drv);
    P.now = US_SEC(1);
    /* Teach ARP the peer. */
    uint8_t arp[42];
    memcpy(arp, us_mac, 6);
    memcpy(arp + 6, peer_mac, 6);
    wr16(arp + 12, 0x0806);
    const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 2};
    memcpy(arp + 14, hdr, 8);
    memcpy(arp + 22, peer_mac, 6);
    wr32(arp + 28, PEER_IP);
    memcpy(arp + 32, us_mac, 6);
    wr32(arp + 38, US_IP);
    us_stack_input(P.s, 0, arp, sizeof(arp), P.now);

    int listener;
    int fd = reach((enum start)(data[0] % S_COUNT), &listener);
    data++;
    size--;
    uint8_t buf[4096];
    while (size >= 2) {
        uint8_t cmd = data[0], arg = data[1];
        data += 2;
        size -= 2;
        switch (cmd % 8) {
        case 0:
        case 1:
        case 2: {
            /* A segment: flags, seq/ack offsets, window, options, payload. */
            if (size < 6) goto done;
            int16_t dseq = (int16_t)rd16(data);
            int16_t dack = (int16_t)rd16(data + 2);
            uint16_t wnd = rd16(data + 4);
            data += 6;
            size -= 6;
            size_t optlen = (cmd >> 3) & 0x0c;
            if (optlen > size) optlen = size & ~(size_t)3;
            const uint8_t *opt = data;
            data += optlen;
            size -= optlen;
            uint32_t seq = P.peer_nxt + (uint32_t)(int32_t)(dseq >> 4);
            uint32_t ack = P.stack_nxt + (uint32_t)(int32_t)(dack >> 4);
            if (cmd & 0x80) seq = (uint32_t)dseq << 16 | (uint16_t)dack; /* raw */
            size_t paylen = (size_t)(cmd >> 5) * 200 + (arg & 0x7f);
            segment(arg & 0x80 ? arg : (uint8_t)(arg | 0x10), seq, ack, wnd, opt, optlen,
                    (cmd & 0x40) ? paylen : 0);
            if ((cmd & 0x40) && (int32_t)(seq + (uint32_t)paylen - P.peer_nxt) > 0 &&
                (int32_t)(seq - P.peer_nxt) <= 0)
                P.peer_nxt = seq + (uint32_t)paylen;
            break;
        }
        case 3:
            advance((us_time_t)arg * (cmd & 0x80 ? US_SEC(10) : US_MSEC(10)));
            break;
        case 4:
            if (fd >= 0) us_send(P.s, fd, buf, (size_t)arg * 16, MSG_DONTWAIT);
            break;
        case 5:
            if (fd >= 0) us_recv(P.s, fd, buf, (size_t)arg * 16 + 1, MSG_DONTWAIT);
            if (listener >= 0) {
                int a = us_accept4(P.s, listener, NULL, NULL, SOCK_NONBLOCK);
                if (a >= 0) {
                    if (fd >= 0 && fd != listener) us_close(P.s, fd);
                    fd = a;
                }
            }
            break;
        case 6:
            if (fd >= 0) {
                if (arg < 64) {
                    us_shutdown(P.s, fd, arg % 3);
                } else if (arg < 128) {
                    struct linger lg = {.l_onoff = 1, .l_linger = 0};
                    if (arg & 1) us_setsockopt(P.s, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                    us_close(P.s, fd);
                    if (fd == listener) listener = -1;
                    fd = -1;
                } else {
                    int v = arg & 1;
                    us_setsockopt(P.s, fd, IPPROTO_TCP, arg & 2 ? TCP_NODELAY : TCP_CORK, &v,
                                  sizeof(v));
                    int one = 1, idle = 1 + (arg & 7);
                    us_setsockopt(P.s, fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                    us_setsockopt(P.s, fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
                }
            }
            break;
        case 7: {
            struct pollfd pf = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP};
            us_poll(P.s, &pf, 1, 0);
            struct us_tcp_info info;
            socklen_t il = sizeof(info);
            if (fd >= 0) us_getsockopt(P.s, fd, IPPROTO_TCP, TCP_INFO, &info, &il);
            break;
        }
        }
    }
done:
    advance(US_SEC(600));
    if (us_stack_counter(P.s, US_C_tcp_bad_transitions)) abort();
    if (us_stack_teardown(P.s) != 0) abort(); /* a leak */
    us_stack_free(P.s);
    return 0;
}
