/*
 * testlib.h: helpers that build a scenario in one or two calls.
 *
 * - a capture link: a link that records what a single stack sends, so a unit
 *   test can speak frames at one stack and read its answers;
 * - frame builders (Ethernet, ARP, IPv4, ICMP, TCP, UDP) with correct
 *   checksums unless asked otherwise;
 * - a simulated pair: two stacks on a wire, 10.0.0.1 (a) and 10.0.0.2 (b),
 *   checked for leaks when freed.
 * Seeds: USTACK_SEEDS (default given per test) sets how many seeds loops run;
 * USTACK_SEED runs exactly one seed (replaying a failure).
 */
#ifndef USTACK_TESTLIB_H
#define USTACK_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/link.h"
#include "ustack/socket.h"
#include "ustack/stack.h"
#include "ustack/trace.h"
#include "ustack/wire.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* ---- capture link ---- */
#define CAP_MAX 256
struct cap_frame {
    uint8_t *data;
    size_t len;
    us_time_t time;
};
struct cap_link {
    struct us_link link;
    struct cap_frame f[CAP_MAX];
    unsigned n;       /* frames captured */
    unsigned next;    /* next frame cap_pop() returns */
};
void cap_init(struct cap_link *c, unsigned mtu);
void cap_clear(struct cap_link *c);
/* The next captured frame not yet popped, or NULL. */
const struct cap_frame *cap_pop(struct cap_link *c);

/* A stack with one interface on a capture link: 10.0.0.2/24, MAC 02:00:00:00:00:02. */
struct solo {
    struct us_stack *s;
    struct cap_link cap;
    int iface;
};
extern const uint8_t SOLO_MAC[6];
extern const uint8_t PEER_MAC[6];
#define SOLO_IP IP(10, 0, 0, 2)
#define PEER_IP IP(10, 0, 0, 1)
struct solo *solo_new(uint64_t seed);
void solo_free(struct solo *t);   /* asserts no packet buffer leaked */
/* Teaches the stack PEER_IP is at PEER_MAC (via an ARP reply). */
void solo_learn_peer(struct solo *t);

/* ---- frame builders; return the frame length ---- */
size_t build_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type);
size_t build_arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
                 uint32_t tpa);
/* An IPv4 frame (Ethernet + IP) around `l4`; the IP checksum is filled in. */
size_t build_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
                  size_t l4len);
size_t build_icmp_echo(uint8_t *f, uint32_t src, uint32_t dst, uint8_t type, uint16_t id,
                       uint16_t seq, size_t payload);
void ipv4_fix_csum(uint8_t *frame);

/* ---- simulated pair ---- */
struct pair {
    struct us_wire *w;
    struct us_stack *a, *b;   /* a = 10.0.0.1 ("client"), b = 10.0.0.2 ("server") */
    int pa, pb;               /* wire ports */
    uint64_t seed;
};
/* Faults may be NULL. MTU 1500. */
struct pair *pair_new(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb);
struct pair *pair_new_mtu(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb,
                          unsigned mtu, const struct us_stack_config *cfg);
/* Frees everything; asserts no packet buffer is still taken. */
void pair_free(struct pair *p);

#define PAIR_A_IP IP(10, 0, 0, 1)
#define PAIR_B_IP IP(10, 0, 0, 2)

/* Seeds for seed loops: USTACK_SEED replays one, USTACK_SEEDS sets the count. */
unsigned test_seed_count(unsigned dflt);
uint64_t test_seed(unsigned i);

#endif

/* ---- recording what happens: segments on the wire, state transitions ---- */
#define REC_MAX 4096
struct rec_event {
    char text[96];     /* "c S", "s S. ack", "c P. 5", "client SYN-SENT", ... */
    us_time_t time;
};
struct recorder {
    struct pair *p;
    struct rec_event ev[REC_MAX];
    unsigned n;
    bool with_states;   /* interleave state transitions with segments */
    bool with_lost;     /* mark dropped frames "(lost)" */
};
/* Records TCP segments sent on the wire ("c"/"s" + tcpdump flags + payload
 * length when non-zero) and every state transition ("client ESTABLISHED"). */
struct recorder *recorder_attach(struct pair *p);
void recorder_detach(struct recorder *r);
/* The events as one string: "c S|s S.|c .|..." (segments and states mixed in order). */
const char *recorder_str(struct recorder *r, char *buf, size_t cap);
/* Only the segments, or only one side's states. */
const char *recorder_segments(struct recorder *r, char *buf, size_t cap);
const char *recorder_states(struct recorder *r, const char *who, char *buf, size_t cap);
void recorder_clear(struct recorder *r);
/* Prints everything recorded (for failing tests). */
void recorder_dump(struct recorder *r);

/* ---- TCP in one call ---- */
/* Server listens on `port` (backlog 16), client connects (blocking), server
 * accepts. Fills the descriptors; the listener stays open. */
void tcp_connect_pair(struct pair *p, uint16_t port, int *cfd, int *sfd, int *lfd);
struct sockaddr_in sin_of(uint32_t ip, uint16_t port);
/* Bytes of a deterministic pattern (seeded), for transfer checks. */
void fill_pattern(uint8_t *buf, size_t len, uint64_t seed, size_t offset);

/* ---- bulk transfer ---- */
struct xfer_opts {
    size_t a_to_b, b_to_a;     /* bytes each way (both at once) */
    unsigned mtu;              /* 0: 1500 */
    uint32_t rcvbuf, sndbuf;   /* 0: defaults */
    const char *cc;            /* NULL: default */
    us_time_t limit;           /* virtual-time limit; 0: 1 hour */
    bool sack_off, ts_off, ws_off;
    bool no_prediction;        /* header prediction off (input.c) */
    uint32_t isn;              /* both stacks' ISN (0: RFC 6528) */
    const char *pcap;          /* write the wire's frames here */
};
struct xfer_result {
    bool ok;
    char why[256];
    us_time_t elapsed;         /* virtual time from connect to both EOFs */
    uint64_t retransmits;      /* both stacks */
    uint64_t rto;              /* retransmission timeouts, both stacks */
    uint64_t fast_retransmits;
    uint64_t predicted;        /* segments taken by header prediction, both stacks */
    uint64_t segments_in;      /* TCP segments received, both stacks */
    struct us_tcp_info ia, ib; /* TCP_INFO before closing */
};
/* Transfers with SHA-256 checks of both streams; faults per direction. */
struct xfer_result xfer_run(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb,
                            const struct xfer_opts *o);

/* ---- speaking TCP segments at one stack (struct solo) ---- */
/* The peer is PEER_IP:PEER_PORT; the stack is SOLO_IP. */
#define PEER_PORT 40000
struct tseg {
    uint8_t flags;           /* TH_* bits: F S R P . U */
    uint32_t seq, ack;
    uint16_t wnd;
    uint16_t sport, dport;
    uint32_t len;
    const uint8_t *data;
    /* options to send / options parsed */
    bool mss_on, ws_on, sack_ok, ts_on;
    uint16_t mss;
    uint8_t ws;
    uint32_t ts_val, ts_ecr;
    unsigned n_sack;
    uint32_t sack[4][2];
    char optstr[128];        /* parsed: "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7" */
    size_t ip_len;           /* parsed: total IP length */
};
/* Sends a segment from the peer to the stack (port `dport`) at the stack's time. */
void seg_in(struct solo *t, uint16_t dport, const struct tseg *sg);
/* The next TCP segment the stack sent (ARP and others skipped); false if none. */
bool seg_out(struct solo *t, struct tseg *out);
/* Makes an established connection: the stack listens on `port`, the peer
 * handshakes with ISN `peer_isn` (options as `syn` says), the stack accepts.
 * Returns the accepted fd; *stack_isn gets the stack's ISN. */
int solo_accept_conn(struct solo *t, uint16_t port, uint32_t peer_isn, const struct tseg *syn,
                     uint32_t *stack_isn);
/* The same, keeping the listener open (its fd in *lfd). */
int solo_accept_conn_l(struct solo *t, uint16_t port, uint32_t peer_isn, const struct tseg *syn,
                       uint32_t *stack_isn, int *lfd);
/* Advances the solo stack's clock to `when` running its timers. */
void solo_advance(struct solo *t, us_time_t when);
