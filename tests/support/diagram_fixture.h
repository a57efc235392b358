/*
 * diagram_fixture.h: TCP conversations played by hand on the in-memory wire,
 * for the diagram and event-log tests.
 *
 * Segments are built here (Ethernet + IPv4 + TCP, correct checksums) and sent
 * into the wire through a port's link, so the wire numbers them, delays,
 * loses and reports them exactly as it will real TCP. They use TEST-NET
 * addresses (192.0.2.1 -> 192.0.2.2) that neither stack owns: the stacks drop
 * them silently and never answer, so the conversation is only what the test
 * plays, today and once the stacks speak TCP. State transitions are reported
 * through the stacks' own observer path (stack_notify_state), as the TCP
 * engine reports them.
 *
 * Functions are static inline: each test file uses a different subset.
 */
#ifndef USTACK_TESTS_DIAGRAM_FIXTURE_H
#define USTACK_TESTS_DIAGRAM_FIXTURE_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "internal.h"
#include "testlib.h"

#define CONV_CLIENT_IP   IP(192, 0, 2, 1)
#define CONV_SERVER_IP   IP(192, 0, 2, 2)
#define CONV_CLIENT_PORT 40000
#define CONV_SERVER_PORT 80
#define CONV_ISN_CLIENT  1000000000u
#define CONV_ISN_SERVER  3000000000u

enum { CLIENT = 0, SERVER = 1 };

static const uint8_t conv_mac[2][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}};

struct conv {
    struct pair *p;
    struct us_link *link[2]; /* frames sent here enter the wire at that port */
    struct us_faults faults[2];
    uint32_t isn[2];
};

/* A pair on a wire with the same faults both ways (NULL: none). */
static inline struct conv *conv_new_faulty(uint64_t seed, const struct us_faults *f)
{
    struct conv *c = calloc(1, sizeof(*c));
    cr_assert(c);
    if (f) c->faults[0] = c->faults[1] = *f;
    c->p = pair_new(seed, &c->faults[0], &c->faults[1]);
    c->link[CLIENT] = c->p->a->ifaces[0].link;
    c->link[SERVER] = c->p->b->ifaces[0].link;
    c->isn[CLIENT] = CONV_ISN_CLIENT;
    c->isn[SERVER] = CONV_ISN_SERVER;
    return c;
}

/* A clean wire with a one-way delay. */
static inline struct conv *conv_new(us_time_t delay)
{
    struct us_faults f = {.delay = delay};
    return conv_new_faulty(7, &f);
}

static inline void conv_free(struct conv *c)
{
    pair_free(c->p);
    free(c);
}

static inline struct us_stack *conv_stack(struct conv *c, int side)
{
    return side == CLIENT ? c->p->a : c->p->b;
}

/* Builds a segment from `side` into f; seq and ack are relative to the
 * sender's and the receiver's ISN. SYNs carry an MSS option, `sack` (if not
 * NULL, relative pairs) a SACK block. Returns the frame length. */
static inline size_t conv_build(const struct conv *c, uint8_t *f, int side, uint8_t flags,
                                uint32_t seq, uint32_t ack, uint32_t len, uint16_t win,
                                const uint32_t *sack)
{
    uint32_t src = side == CLIENT ? CONV_CLIENT_IP : CONV_SERVER_IP;
    uint32_t dst = side == CLIENT ? CONV_SERVER_IP : CONV_CLIENT_IP;
    uint16_t sport = side == CLIENT ? CONV_CLIENT_PORT : CONV_SERVER_PORT;
    uint16_t dport = side == CLIENT ? CONV_SERVER_PORT : CONV_CLIENT_PORT;
    memcpy(f, conv_mac[!side], 6);
    memcpy(f + 6, conv_mac[side], 6);
    wr16(f + 12, 0x0800);
    uint8_t opt[40];
    size_t optlen = 0;
    if (flags & 0x02) {
        opt[0] = 2, opt[1] = 4;
        wr16(opt + 2, 1460);
        optlen = 4;
    }
    if (sack) {
        opt[optlen] = 1, opt[optlen + 1] = 1, opt[optlen + 2] = 5, opt[optlen + 3] = 10;
        wr32(opt + optlen + 4, c->isn[!side] + sack[0]);
        wr32(opt + optlen + 8, c->isn[!side] + sack[1]);
        optlen += 12;
    }
    uint8_t *ip = f + 14, *t = ip + 20;
    size_t tcplen = 20 + optlen + len;
    cr_assert(len <= 1400, "conv_build: frames are built in 2048 bytes");
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(20 + tcplen));
    wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    wr32(ip + 12, src);
    wr32(ip + 16, dst);
    wr16(ip + 10, csum(ip, 20));
    memset(t, 0, 20);
    wr16(t, sport);
    wr16(t + 2, dport);
    wr32(t + 4, c->isn[side] + seq);
    wr32(t + 8, (flags & 0x10) ? c->isn[!side] + ack : 0);
    t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    t[13] = flags;
    wr16(t + 14, win);
    memcpy(t + 20, opt, optlen);
    for (uint32_t i = 0; i < len; i++) t[20 + optlen + i] = (uint8_t)('a' + i % 26);
    uint32_t sum = csum_pseudo(src, dst, 6, (uint16_t)tcplen);
    wr16(t + 16, csum_fold(csum_add(sum, t, tcplen)));
    return 14 + 20 + tcplen;
}

/* Sends a segment into the wire now. */
static inline void conv_send_sack(struct conv *c, int side, uint8_t flags, uint32_t seq,
                                  uint32_t ack, uint32_t len, uint16_t win, const uint32_t *sack)
{
    uint8_t f[2048];
    size_t n = conv_build(c, f, side, flags, seq, ack, len, win, sack);
    cr_assert_eq(us_link_send(c->link[side], f, n, us_wire_now(c->p->w)), 0);
}

static inline void conv_send(struct conv *c, int side, uint8_t flags, uint32_t seq, uint32_t ack,
                             uint32_t len, uint16_t win)
{
    conv_send_sack(c, side, flags, seq, ack, len, win, NULL);
}

/* Sends a segment the wire loses (its loss fault at 100% for that frame). */
static inline void conv_send_lost(struct conv *c, int side, uint8_t flags, uint32_t seq,
                                  uint32_t ack, uint32_t len, uint16_t win)
{
    int port = side == CLIENT ? c->p->pa : c->p->pb;
    struct us_faults f = c->faults[side];
    f.loss = 100;
    us_wire_set_faults(c->p->w, port, &f);
    conv_send(c, side, flags, seq, ack, len, win);
    us_wire_set_faults(c->p->w, port, &c->faults[side]);
}

/* Reports a state transition of `side`'s connection (a listener's when it
 * enters or leaves LISTEN from CLOSED). */
static inline void conv_state(struct conv *c, int side, enum us_tcp_state from,
                              enum us_tcp_state to, const char *cause)
{
    bool listener = (from == US_TCP_CLOSED && to == US_TCP_LISTEN);
    struct us_state_event ev = {
        .time = us_wire_now(c->p->w),
        .laddr = side == CLIENT ? CONV_CLIENT_IP : CONV_SERVER_IP,
        .lport = side == CLIENT ? CONV_CLIENT_PORT : CONV_SERVER_PORT,
        .raddr = listener         ? 0
                 : side == CLIENT ? CONV_SERVER_IP
                                  : CONV_CLIENT_IP,
        .rport = listener         ? 0
                 : side == CLIENT ? CONV_SERVER_PORT
                                  : CONV_CLIENT_PORT,
        .from = from,
        .to = to,
        .cause = cause,
    };
    stack_notify_state(conv_stack(c, side), &ev);
}

static inline void conv_until(struct conv *c, us_time_t t)
{
    us_wire_run_until(c->p->w, t);
}

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

/* The textbook connection, with one lost segment: handshake; 5 bytes sent,
 * lost, retransmitted after 200 ms and acknowledged; the client closes, then
 * the server; TIME-WAIT ends after 60 s. `d` is the one-way delay (its
 * multiples give the times). 10 segments, 1 lost, 12 states. */
static inline void conv_play_classic(struct conv *c, us_time_t d)
{
    us_time_t rto = US_MSEC(200);
    conv_state(c, SERVER, US_TCP_CLOSED, US_TCP_LISTEN, "listen()");
    conv_state(c, CLIENT, US_TCP_CLOSED, US_TCP_SYN_SENT, "connect()");
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_until(c, d);
    conv_state(c, SERVER, US_TCP_LISTEN, US_TCP_SYN_RECEIVED, "rcv SYN");
    conv_send(c, SERVER, F_SYN | F_ACK, 0, 1, 0, 65160);
    conv_until(c, 2 * d);
    conv_state(c, CLIENT, US_TCP_SYN_SENT, US_TCP_ESTABLISHED, "rcv SYN,ACK");
    conv_send(c, CLIENT, F_ACK, 1, 1, 0, 502);
    conv_send_lost(c, CLIENT, F_PSH | F_ACK, 1, 1, 5, 502);
    conv_until(c, 3 * d);
    conv_state(c, SERVER, US_TCP_SYN_RECEIVED, US_TCP_ESTABLISHED, "rcv ACK");
    conv_until(c, 2 * d + rto);
    conv_send(c, CLIENT, F_PSH | F_ACK, 1, 1, 5, 502);
    conv_until(c, 3 * d + rto);
    conv_send(c, SERVER, F_ACK, 1, 6, 0, 510);
    conv_until(c, 4 * d + rto);
    conv_state(c, CLIENT, US_TCP_ESTABLISHED, US_TCP_FIN_WAIT_1, "close()");
    conv_send(c, CLIENT, F_FIN | F_ACK, 6, 1, 0, 502);
    conv_until(c, 5 * d + rto);
    conv_state(c, SERVER, US_TCP_ESTABLISHED, US_TCP_CLOSE_WAIT, "rcv FIN");
    conv_send(c, SERVER, F_ACK, 1, 7, 0, 510);
    conv_until(c, 6 * d + rto);
    conv_state(c, CLIENT, US_TCP_FIN_WAIT_1, US_TCP_FIN_WAIT_2, "rcv ACK of FIN");
    conv_until(c, 6 * d + rto + US_MSEC(1));
    conv_state(c, SERVER, US_TCP_CLOSE_WAIT, US_TCP_LAST_ACK, "close()");
    conv_send(c, SERVER, F_FIN | F_ACK, 1, 7, 0, 510);
    conv_until(c, 7 * d + rto + US_MSEC(1));
    conv_state(c, CLIENT, US_TCP_FIN_WAIT_2, US_TCP_TIME_WAIT, "rcv FIN");
    conv_send(c, CLIENT, F_ACK, 7, 2, 0, 502);
    conv_until(c, 8 * d + rto + US_MSEC(1));
    conv_state(c, SERVER, US_TCP_LAST_ACK, US_TCP_CLOSED, "rcv ACK of FIN");
    conv_until(c, 7 * d + rto + US_MSEC(1) + US_SEC(60));
    conv_state(c, CLIENT, US_TCP_TIME_WAIT, US_TCP_CLOSED, "2MSL timeout");
}

#endif
