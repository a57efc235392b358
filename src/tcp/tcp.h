/*
 * tcp.h: the TCP engine's shared definitions.
 *
 * One hash table maps a 4-tuple to whatever holds that connection: a full
 * control block (struct tcb), a compact TIME-WAIT entry (struct tw_entry) or
 * a compact SYN-RECEIVED entry (struct syn_entry). Listeners live in their own
 * table by local port. Variables keep their RFC 9293 names (snd_una, rcv_nxt,
 * ...); sequence numbers are compared only through seq_lt() and friends.
 *
 * Module map:
 *   tcp.c       the engine's tables, ports, ISNs, user operations
 *   states.c    the transition function (the only writer of tcb->state)
 *   input.c     SEGMENT ARRIVES, RFC 9293 §3.10.7, step by step
 *   output.c    what to send and how a segment is built
 *   timers.c    retransmission, persist, delayed ACK, keepalive, FIN-WAIT-2
 *   options.c   option parsing and layout
 *   reass.c     the out-of-order ranges over the receive ring
 *   sack.c      the sender's SACK scoreboard (RFC 6675)
 *   rto.c       RTT estimation and the RTO (RFC 6298)
 *   cc_*.c      congestion control: NewReno (RFC 5681/6582), CUBIC (RFC 9438)
 *   listen.c    listeners, SYN-RECEIVED entries, the accept queue
 *   syncookie.c SYN cookies
 *   timewait.c  compact TIME-WAIT entries in a FIFO
 */
#ifndef USTACK_TCP_H
#define USTACK_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/objpool.h"
#include "core/ring.h"
#include "core/timer.h"
#include "internal.h"
#include "net/net.h"

/* ---- sequence numbers (RFC 9293 §3.4): arithmetic mod 2^32 ---- */
typedef uint32_t seq_t;
static inline bool seq_lt(seq_t a, seq_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool seq_leq(seq_t a, seq_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(seq_t a, seq_t b)
{
    return (int32_t)(a - b) > 0;
}
static inline bool seq_geq(seq_t a, seq_t b)
{
    return (int32_t)(a - b) >= 0;
}
static inline seq_t seq_max(seq_t a, seq_t b)
{
    return seq_gt(a, b) ? a : b;
}
static inline seq_t seq_min(seq_t a, seq_t b)
{
    return seq_lt(a, b) ? a : b;
}
/* lo <= x < hi, all mod 2^32 */
static inline bool seq_in(seq_t x, seq_t lo, seq_t hi)
{
    return seq_leq(lo, x) && seq_lt(x, hi);
}

/* ---- header ---- */
#define TH_FIN         0x01
#define TH_SYN         0x02
#define TH_RST         0x04
#define TH_PSH         0x08
#define TH_ACK         0x10
#define TH_URG         0x20
#define TH_ECE         0x40
#define TH_CWR         0x80
#define TCP_HLEN       20
#define TCP_MAX_OPTLEN 40
#define TCP_MAX_WSCALE 14 /* RFC 7323 §2.3 */
#define TCP_MAX_WIN    65535u
#define TCP_TS_OPTLEN  12 /* TS option with its two NOPs */
#define TCP_MAX_SACK   4

struct sack_block {
    seq_t left, right;
};

struct tcp_opts {
    bool has_mss, has_ws, sack_ok, has_ts;
    uint16_t mss;
    uint8_t wscale;
    uint8_t n_sack;
    uint32_t ts_val, ts_ecr;
    struct sack_block sack[TCP_MAX_SACK];
};

/* A segment parsed once (STYLE.md: "parse, then act"). */
struct segment {
    uint32_t src, dst; /* remote, local */
    uint16_t sport, dport;
    seq_t seq, ack;
    uint8_t flags;
    uint16_t wnd; /* as on the wire, unscaled */
    uint16_t urp;
    const uint8_t *data;
    uint32_t len; /* payload bytes */
    struct tcp_opts opt;
    int iface;
};
/* SEG.LEN counts SYN and FIN (RFC 9293 §3.4). */
static inline uint32_t seg_len(const struct segment *sg)
{
    return sg->len + !!(sg->flags & TH_SYN) + !!(sg->flags & TH_FIN);
}

/* ---- the connection table ---- */
enum conn_kind { CONN_TCB = 1, CONN_TW, CONN_SYN };

struct conn_node {
    struct conn_node *hnext;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint8_t kind;
    bool hashed;
};

struct conn_table {
    struct conn_node **b;
    uint32_t mask; /* buckets - 1 */
    uint32_t count;
    uint64_t key; /* hash secret, from the stack's seed */
};

/* ---- bind records: who holds a local port, for EADDRINUSE ---- */
struct bind_rec {
    struct bind_rec *next;
    uint32_t addr; /* 0 = INADDR_ANY */
    uint16_t port;
    bool reuse; /* SO_REUSEADDR */
    bool listening;
    bool explicit_; /* by bind(), not picked by connect() */
    uint32_t refs;
};

/* ---- per-socket TCP settings, inherited by accepted connections ----
 * Shared, not copied: a tcb or listener points at one interned, refcounted
 * copy (tcp_settings_intern), so a million connections with the same
 * options hold one. A setsockopt() changes a private copy and then takes
 * the interned one equal to it. */
struct tcp_settings {
    uint32_t sndbuf, rcvbuf;
    us_time_t keepidle, keepintvl;
    us_time_t user_timeout; /* 0: off (RFC 5482) */
    us_time_t linger2;      /* orphaned FIN-WAIT-2 lifetime */
    uint16_t keepcnt;
    uint16_t maxseg;       /* TCP_MAXSEG; 0: from the MTU */
    uint32_t defer_accept; /* TCP_DEFER_ACCEPT, seconds; 0: off */
    bool keepalive, nodelay, cork, reuseaddr;
    bool sndbuf_locked; /* SO_SNDBUF was set: no send-buffer autotuning */
    uint8_t cc; /* enum cc_algo */
};

enum cc_algo { CC_NEWRENO = 0, CC_CUBIC = 1 };
enum ca_state { CA_OPEN = 0, CA_DISORDER = 1, CA_RECOVERY = 2, CA_LOSS = 3 };

/* CUBIC's state (RFC 9438 §4). */
struct cubic {
    us_time_t epoch_start; /* 0: no epoch */
    uint32_t w_max;        /* bytes */
    uint32_t w_last_max;
    uint32_t origin; /* bytes: the plateau of the current curve */
    uint32_t k_ms;   /* K, milliseconds */
    uint32_t w_est;  /* Reno-friendly estimate, bytes */
    uint32_t ack_cnt;
};

/* Counters per connection (TCP_INFO). */
struct tcp_stats {
    uint64_t bytes_sent, bytes_acked, bytes_received, bytes_retrans;
    uint32_t segs_out, segs_in, data_segs_out, data_segs_in;
    uint32_t total_retrans, dup_acks, sack_blocks_rx, sack_blocks_tx;
    uint32_t fast_retrans, rto_count, probes;
};

/* The out-of-order ranges above rcv_nxt (reass.c). */
#define REASS_MAX_RANGES 8
struct reass {
    uint8_t n;
    uint8_t recent;                        /* index of the range the last segment touched */
    struct sack_block r[REASS_MAX_RANGES]; /* sorted, disjoint, above rcv_nxt */
    struct sack_block dsack; /* the duplicate to report first (RFC 2883), with TF_DSACK */
    bool fin;                /* a FIN arrived beyond a gap ... */
    seq_t fin_seq;           /* ... with this sequence number */
};

/* The sender's scoreboard (sack.c). */
#define SB_MAX 16
struct scoreboard {
    uint8_t n;
    struct sack_block r[SB_MAX]; /* sorted, disjoint, above snd_una */
    uint32_t sacked;             /* bytes covered */
    seq_t rtx_next;              /* next hole byte to consider in recovery */
    seq_t high_rtx;              /* highest byte retransmitted this recovery */
    seq_t rtx_mark;              /* SND.MAX when the latest retransmission left */
};

/* tcb->tf */
enum {
    TF_SACK_OK = 1u << 0,    /* SACK negotiated */
    TF_TS_OK = 1u << 1,      /* timestamps negotiated */
    TF_WS_OK = 1u << 2,      /* window scaling negotiated */
    TF_FIN_QUEUED = 1u << 3, /* the user closed the sending side */
    TF_FIN_SENT = 1u << 4,
    TF_RCV_FIN = 1u << 5, /* the peer's FIN was received (in order) */
    TF_SHUT_RD = 1u << 6,
    TF_ACK_NOW = 1u << 7,     /* send an ACK at the end of this input */
    TF_DELACK = 1u << 8,      /* an ACK is owed; the delayed-ACK timer runs */
    TF_PERSIST = 1u << 9,     /* the retransmission timer is the persist timer */
    TF_PASSIVE = 1u << 10,    /* opened by a listener */
    TF_ORPHAN = 1u << 11,     /* close()d: freed once CLOSED */
    TF_RTT_ACTIVE = 1u << 12, /* timing rtt_seq (no timestamps) */
    TF_SYN_ACKED = 1u << 13,
    TF_IN_ACCEPTQ = 1u << 14,
    TF_WND_UPDATE = 1u << 15, /* a window update is owed */
    TF_DSACK = 1u << 16,      /* the next ACK reports a duplicate (RFC 2883) */
    TF_HASHED_ONCE = 1u << 17,
    TF_PEER_SACK = 1u << 18, /* the SYN offered SACK (simultaneous open) */
    TF_TLP = 1u << 20,       /* the retransmission timer is the probe timeout */
    TF_TLP_OUT = 1u << 21,   /* a probe is out; no other until new data is acked */
    TF_FIN_ALONE = 1u << 22, /* the FIN first went out in a segment of its own */
};

struct listener;

/* Laid out by temperature: what every segment in or out reads or writes
 * first (the lookup key, the sequence variables, the window, the ring
 * pointers, then the counters TCP_INFO reports), then what ACK processing,
 * timers and loss recovery use, then the handshake, keepalive, errors and
 * the listener's queues. A segment of an established connection touches
 * the first five of its seven cache lines. */
struct tcb {
    /* ---- hot: every segment ---- */
    struct conn_node node; /* must be first */
    uint8_t state;         /* enum us_tcp_state; written only by tcp_set_state() */
    uint8_t snd_wscale, rcv_wscale;
    uint8_t ca_state;
    uint32_t tf;
    /* Send sequence variables (RFC 9293 §3.3.1). */
    seq_t snd_una, snd_nxt;
    seq_t snd_max;    /* highest sequence sent + 1 */
    uint32_t snd_wnd; /* scaled; 32 bits */
    seq_t snd_wl1, snd_wl2;
    /* Receive sequence variables. */
    seq_t rcv_nxt;
    seq_t rcv_adv; /* right edge of the window we advertised */
    seq_t last_ack_sent;
    /* Timestamps (RFC 7323). */
    uint32_t ts_recent;
    uint32_t ts_offset; /* random per-connection offset of our TS clock */
    /* Congestion control. */
    uint32_t cwnd, ssthresh;
    uint32_t bytes_acked_ca; /* RFC 5681 §3.1 appropriate byte counting */
    /* RTT and RTO (RFC 6298), microseconds. */
    uint32_t srtt, rttvar, rto;
    uint16_t mss;       /* payload bytes per full segment we send */
    uint16_t quickacks; /* segments still to ACK at once (Linux's quick-ACK mode) */
    /* Buffers (allocated lazily). */
    struct ring *sndq; /* bytes from the first unacknowledged data byte */
    struct ring *rcvq; /* in-order unread bytes, then out-of-order data */
    const struct tcp_settings *set; /* shared: never written through */
    struct tcp_stats st;

    /* ---- warm: ACKs, timers, loss recovery ---- */
    /* One wheel timer; the deadlines it serves. */
    struct us_timer timer;
    us_time_t rexmt_at; /* retransmission or persist */
    us_time_t delack_at;
    us_time_t last_rx;      /* last segment from the peer (keepalive idle) */
    us_time_t last_tx_data; /* for slow-start restart after idle */
    struct reass *ooo;
    struct scoreboard *sb;
    uint32_t max_sndwnd; /* largest window the peer offered (SWS) */
    seq_t recover;       /* NewReno/SACK recovery point (RFC 6582) */
    seq_t rtt_seq;
    uint16_t last_seg_len; /* data in the highest segment sent: what a loss probe resends */
    uint8_t dupacks;       /* saturates at 255 */
    uint8_t backoff;       /* RTO doublings since the last new ACK */
    us_time_t rtt_time;    /* when rtt_seq (or the SYN) left; US_TIME_NEVER: none */
    struct cubic cubic;

    /* ---- cold: handshake, keepalive, errors, the listener's queues ---- */
    seq_t iss, irs;
    uint16_t peer_mss;      /* what the peer's MSS option said */
    uint16_t our_mss;       /* what our MSS option said */
    uint32_t ts_recent_sec; /* when TS.Recent was set (tcp_seconds) */
    us_time_t keep_at;      /* keepalive or FIN-WAIT-2 */
    us_time_t first_rexmt;  /* when the oldest unacknowledged data was first retransmitted */
    uint32_t last_oow_ms;   /* last reply to an out-of-window segment (ms | 1; 0: none) */
    uint8_t keep_probes;    /* keepalive probes unanswered */
    uint8_t rexmt_count;    /* retransmissions of the oldest segment */
    uint8_t persist_shift;
    int16_t so_error;  /* pending error for the socket (positive errno) */
    int16_t eof_error; /* error reported after EOF (ECONNRESET...) */
    struct listener *parent; /* while embryonic or in the accept queue */
    struct tcb *aq_next;     /* accept queue */
    struct bind_rec *bind;
};

/* Compact TIME-WAIT (issue: TIME-WAIT policy). */
struct tw_entry {
    struct conn_node node; /* must be first */
    struct tw_entry *fnext, *fprev;
    seq_t snd_nxt, rcv_nxt;
    uint32_t ts_recent, ts_offset;
    us_time_t expires;
    uint16_t rcv_wnd; /* window field to advertise */
    uint8_t rcv_wscale;
    bool ts_ok;
    struct bind_rec *bind;
};

/* Compact SYN-RECEIVED entry: what a SYN told us, a few dozen bytes. */
struct syn_entry {
    struct conn_node node; /* must be first */
    struct syn_entry *qnext, *qprev;
    struct listener *l;
    seq_t iss, irs;
    uint32_t ts_recent;
    uint32_t ts_offset; /* the tcb's to be, hashed once (RFC 7323 §5.4) */
    uint16_t peer_mss;
    uint16_t peer_wnd;
    uint8_t snd_wscale, rcv_wscale;
    uint8_t retries;
    uint8_t flags; /* SYNF_* */
    struct us_timer timer;
};
enum {
    SYNF_SACK = 1,
    SYNF_TS = 2,
    SYNF_WS = 4,
    SYNF_ACKED = 8, /* a bare ACK came while TCP_DEFER_ACCEPT held the handshake */
};

struct listener {
    struct listener *hnext;
    uint32_t laddr;
    uint16_t lport;
    uint32_t backlog; /* accept queue bound, as given to listen() */
    uint32_t syn_count, acc_count;
    struct syn_entry *syn_head, *syn_tail;
    struct tcb *acc_head, *acc_tail;
    const struct tcp_settings *set; /* inherited by accepted connections */
    struct bind_rec *bind;
    bool closed;
};

struct tcp_stack {
    struct conn_table conns;
    struct listener **lbuckets; /* by local port */
    uint32_t lmask;
    struct bind_rec **bbuckets; /* by local port */
    uint32_t bmask;
    struct objpool tcbs, tws, syns, binds, listeners;
    struct tw_entry *tw_head, *tw_tail;
    uint32_t tw_count;
    struct us_timer tw_timer;
    uint32_t next_ephemeral;  /* RFC 6056 algorithm 3 */
    uint32_t challenge_count; /* RFC 5961 §7 rate limit */
    us_time_t challenge_window;
    uint32_t cookie_secret_epoch;
    uint32_t rings_in_use;
    struct ring *ring_cache[32]; /* recycled rings of the default sizes */
    struct settings_node *settings[64]; /* interned settings, by hash */
    uint32_t settings_count;            /* in the table */
    uint32_t settings_unused;           /* of which nobody holds (kept for reuse) */
    uint8_t tk_tcb, tk_syn;             /* timer kinds + 1 (0: not registered yet) */
    unsigned ring_cache_n;
};

static inline struct tcp_stack *tcpst(struct us_stack *s)
{
    return s->tcp;
}

/* The clock in whole seconds, for deadlines that are days long (PAWS's 24
 * days): 32 bits and unsigned differences. */
static inline uint32_t tcp_seconds(const struct us_stack *s)
{
    return (uint32_t)(s->now / 1000000u);
}

/* tcp.c */
int tcp_init(struct us_stack *s);
unsigned tcp_destroy(struct us_stack *s);
struct conn_node *conn_lookup(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                              uint16_t rport);
void conn_insert(struct us_stack *s, struct conn_node *n);
void conn_remove(struct us_stack *s, struct conn_node *n);
struct tcb *tcb_alloc(struct us_stack *s, const struct tcp_settings *set);
/* Frees a control block that is unhashed and has no owner. */
void tcb_free(struct us_stack *s, struct tcb *t);
/* Ends the connection: CLOSED, unhashed, timers off; freed if orphaned. */
void tcb_close(struct us_stack *s, struct tcb *t, const char *cause);
seq_t tcp_new_isn(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                  uint16_t rport);
uint32_t tcp_ts_now(const struct us_stack *s, uint32_t offset);
uint32_t tcp_ts_offset(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport);
struct ring *tcp_ring_get(struct us_stack *s, uint32_t size);
void tcp_ring_put(struct us_stack *s, struct ring *r);
void tcp_settings_default(struct us_stack *s, struct tcp_settings *set);
/* The shared copy equal to `v`, with a reference taken; NULL without
 * memory. */
const struct tcp_settings *tcp_settings_intern(struct us_stack *s, const struct tcp_settings *v);
/* Another reference to a shared copy. */
const struct tcp_settings *tcp_settings_ref(const struct tcp_settings *set);
/* Drops a reference (NULL is fine); the last one frees the copy. */
void tcp_settings_put(struct us_stack *s, const struct tcp_settings *set);
/* Makes *slot the shared copy equal to `v` (a change through setsockopt);
 * 0 or -ENOBUFS. */
int tcp_settings_assign(struct us_stack *s, const struct tcp_settings **slot,
                        const struct tcp_settings *v);
/* The receive window scale we offer for a given buffer ceiling. */
uint8_t tcp_choose_wscale(uint32_t rcvbuf_max);

struct us_tcp_info;
void tcp_fill_info(struct us_stack *s, const struct tcb *t, struct us_tcp_info *i);

/* bind records */
struct bind_rec *bind_get(struct us_stack *s, uint32_t addr, uint16_t port, bool reuse,
                          bool listening, bool explicit_);
void bind_put(struct us_stack *s, struct bind_rec *b);
/* 0, or -EADDRINUSE when (addr, port) conflicts with a holder. */
int bind_check(struct us_stack *s, uint32_t addr, uint16_t port, bool reuse);
/* A free port for bind(addr, 0): 0 when the range is exhausted. */
uint16_t bind_pick_port(struct us_stack *s, uint32_t addr);
/* RFC 6056 algorithm 3: an ephemeral port whose 4-tuple is unused (no
 * connection, no TIME-WAIT entry) and that nobody bind()s. 0 when exhausted. */
uint16_t tcp_pick_ephemeral(struct us_stack *s, uint32_t laddr, uint32_t raddr, uint16_t rport);

/* states.c */
void tcp_set_state(struct us_stack *s, struct tcb *t, enum us_tcp_state to, const char *cause);
/* Reports a transition of something that is not a tcb (SYN and TIME-WAIT entries). */
void tcp_report_state(struct us_stack *s, const struct conn_node *n, enum us_tcp_state from,
                      enum us_tcp_state to, const char *cause);
bool tcp_transition_legal(enum us_tcp_state from, enum us_tcp_state to);

/* options.c */
/* Parses options; false when malformed (the segment is then dropped). */
bool tcp_parse_options(const uint8_t *opt, size_t len, bool syn, struct tcp_opts *out);
/* Writes the options of a segment; returns their length (multiple of 4). */
size_t tcp_write_syn_options(uint8_t *p, uint16_t mss, bool sack_ok, bool ts, uint32_t ts_val,
                             uint32_t ts_ecr, bool ws, uint8_t wscale);
size_t tcp_write_options(uint8_t *p, bool ts, uint32_t ts_val, uint32_t ts_ecr,
                         const struct sack_block *sack, unsigned n_sack);

/* output.c */
/* Sends whatever the connection may send now (data, FIN, ACK, window update). */
void tcp_output_slow(struct us_stack *s, struct tcb *t);
/* The same, with the commonest answer inline: past the handshake, with no
 * ACK owed, nothing unsent and no FIN to send (a receiver, on most
 * segments), there is nothing to do -- without the cost of the call. */
static inline void tcp_output(struct us_stack *s, struct tcb *t)
{
    uint32_t tf = t->tf;
    bool idle = (tf & TF_SYN_ACKED) && !(tf & (TF_ACK_NOW | TF_WND_UPDATE)) &&
                t->ca_state != CA_RECOVERY && (!(tf & TF_FIN_QUEUED) || (tf & TF_FIN_SENT)) &&
                (!t->sndq || t->sndq->len == 0 ||
                 (!seq_lt(t->snd_nxt, t->snd_una) && t->snd_nxt - t->snd_una >= t->sndq->len));
    if (!idle) tcp_output_slow(s, t);
}
/* Sends one segment of the connection: [seq, seq+len) of the send queue with
 * `flags`; SYN and FIN as flags say. The payload may come out shorter when
 * the options need room (then without FIN): returns the payload bytes sent,
 * or a negative errno when no segment could be built. */
int tcp_send_segment(struct us_stack *s, struct tcb *t, seq_t seq, uint32_t len, uint8_t flags);
/* The same, but `len` may exceed one segment when the route's link
 * segments frames itself: up to gso_max bytes of IP packet (0: one
 * segment). */
int tcp_send_segment_gso(struct us_stack *s, struct tcb *t, seq_t seq, uint32_t len,
                         uint8_t flags, uint32_t gso_max);
void tcp_send_ack(struct us_stack *s, struct tcb *t);
/* RST in reply to a segment (RFC 9293 §3.10.7.1). Never in reply to a RST. */
void tcp_send_reset_reply(struct us_stack *s, const struct segment *sg);
/* RST for a connection we abort. */
void tcp_send_reset(struct us_stack *s, struct tcb *t);
/* A bare segment with explicit fields (SYN-ACKs of compact entries, TIME-WAIT ACKs). */
int tcp_send_raw(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 seq_t seq, seq_t ack, uint8_t flags, uint16_t wnd, const uint8_t *opts,
                 size_t optlen);
/* The window to advertise now (bytes, unscaled), never shrinking the right edge. */
uint32_t tcp_rcv_window(struct us_stack *s, struct tcb *t);
/* The same; *shrunk says the ring is full and the window had to shrink. */
uint32_t tcp_rcv_window_ex(struct us_stack *s, struct tcb *t, bool *shrunk);
/* Bytes of the send queue not yet sent. */
uint32_t tcp_unsent(const struct tcb *t);
/* Sequence number of the first byte in the send queue. */
seq_t tcp_sndq_seq(const struct tcb *t);

/* timers.c */
void tcp_timer_init(struct us_stack *s, struct tcb *t);
/* Arms the wheel for the earliest deadline (lazily: only moves it earlier). */
void tcp_timer_update(struct us_stack *s, struct tcb *t);
void tcp_timers_stop(struct us_stack *s, struct tcb *t);
void tcp_rexmt_arm(struct us_stack *s, struct tcb *t);
void tcp_rexmt_stop(struct us_stack *s, struct tcb *t);
/* After new data went out: the loss probe moves to PTO from now (RFC 8985
 * §7.2), never past a running retransmission timeout. */
void tcp_tlp_rearm(struct us_stack *s, struct tcb *t);
void tcp_delack_arm(struct us_stack *s, struct tcb *t);
void tcp_keepalive_reset(struct us_stack *s, struct tcb *t);
void tcp_persist_arm(struct us_stack *s, struct tcb *t);
/* Enters loss recovery after an RTO: go back to snd_una. */
void tcp_enter_loss(struct us_stack *s, struct tcb *t);

/* rto.c */
void rto_init(struct us_stack *s, struct tcb *t);
void rto_sample(struct us_stack *s, struct tcb *t, us_time_t rtt);
us_time_t rto_current(const struct us_stack *s, const struct tcb *t);

/* reass.c: out-of-order data over the receive ring */
/* Records [seq, seq+len) above rcv_nxt; false when no range is left. */
bool reass_add(struct reass *r, seq_t seq, uint32_t len);
/* After rcv_nxt advanced to `rcv_nxt`: removes covered ranges and returns how
 * many bytes beyond rcv_nxt are now contiguous. */
uint32_t reass_advance(struct reass *r, seq_t rcv_nxt);
uint32_t reass_bytes(const struct reass *r);
/* SACK blocks to send (most recent first, RFC 2018 §4). */
unsigned reass_sack_blocks(const struct reass *r, struct sack_block *out, unsigned max);

/* sack.c: the sender's scoreboard */
void sb_update(struct scoreboard *sb, seq_t snd_una, seq_t snd_max, const struct sack_block *blk,
               unsigned n);
/* Forgets everything below snd_una. */
void sb_ack(struct scoreboard *sb, seq_t snd_una);
bool sb_is_sacked(const struct scoreboard *sb, seq_t seq);
/* The next hole at or after `from` below `limit`: [*start, *end). False when none. */
bool sb_next_hole(const struct scoreboard *sb, seq_t from, seq_t limit, seq_t *start, seq_t *end);
/* RFC 6675 IsLost(): at least DupThresh segments SACKed above seq. */
bool sb_is_lost(const struct scoreboard *sb, seq_t seq, uint32_t mss);
seq_t sb_highest(const struct scoreboard *sb, seq_t snd_una);
void sb_clear(struct scoreboard *sb);

/* congestion control (cc.c, cc_newreno.c, cc_cubic.c) */
struct cc_ops {
    const char *name;
    void (*init)(struct us_stack *s, struct tcb *t);
    /* New data acknowledged outside recovery. */
    void (*on_ack)(struct us_stack *s, struct tcb *t, uint32_t acked, us_time_t rtt);
    /* Loss detected by duplicate ACKs or SACK: returns the new ssthresh. */
    uint32_t (*ssthresh)(struct us_stack *s, struct tcb *t);
    /* The retransmission timer fired. */
    void (*on_timeout)(struct us_stack *s, struct tcb *t);
    /* Leaving recovery. */
    void (*on_recovery_end)(struct us_stack *s, struct tcb *t);
};
extern const struct cc_ops cc_newreno_ops;
extern const struct cc_ops cc_cubic_ops;
const struct cc_ops *cc_ops_of(const struct tcb *t);
/* "cubic" -> CC_CUBIC; -1 for an unknown name. */
int cc_by_name(const char *name);
const char *cc_name(int algo);
/* Bytes in flight (RFC 6675 pipe when SACK is on). */
uint32_t tcp_flight(const struct tcb *t);
void cc_init(struct us_stack *s, struct tcb *t);

/* input.c */
void tcp_process(struct us_stack *s, struct tcb *t, struct segment *sg);
/* Linux's quick-ACK mode: the next segments are ACKed at once. */
void tcp_enter_quickack(struct tcb *t);
/* RFC 5961 §7: a rate-limited challenge ACK. */
void tcp_challenge_ack(struct us_stack *s, struct tcb *t);
/* Copies received data into the connection (used also by listen.c). */

/* listen.c */
struct listener *listener_lookup(struct us_stack *s, uint32_t laddr, uint16_t lport);
struct listener *listener_new(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t backlog,
                              const struct tcp_settings *set, bool reuse);
void listener_set_backlog(struct listener *l, uint32_t backlog);
/* Stops listening: resets queued connections, drops SYN entries, frees l. */
void listener_close(struct us_stack *s, struct listener *l);
void listen_input(struct us_stack *s, struct listener *l, struct segment *sg);
void syn_entry_input(struct us_stack *s, struct syn_entry *e, struct segment *sg);
/* The connection left SYN-RECEIVED for ESTABLISHED: into the accept queue,
 * or false when it is full. */
bool listener_enqueue(struct us_stack *s, struct listener *l, struct tcb *t);
/* Takes the first connection from the accept queue, or NULL. */
struct tcb *listener_accept(struct us_stack *s, struct listener *l);
/* A connection in the accept queue died: unlink it. */
void listener_unlink(struct us_stack *s, struct tcb *t);

/* syncookie.c (RFC 4987 §3.6, Linux-style encoding) */
seq_t syncookie_make(struct us_stack *s, const struct segment *sg, uint16_t *mss_out);
/* Validates the cookie in an ACK; fills the MSS it encoded. */
bool syncookie_check(struct us_stack *s, const struct segment *sg, uint16_t *mss_out);
/* Timestamp low bits carrying wscale and SACK-permitted (Linux style). */
uint32_t syncookie_ts(struct us_stack *s, uint32_t ts_now, bool sack, bool ws, uint8_t wscale);
void syncookie_ts_decode(uint32_t ts_ecr, bool *sack, bool *ws, uint8_t *wscale);

/* timewait.c */
/* Moves the connection into a compact TIME-WAIT entry and frees the tcb;
 * returns false when the cap is reached (the connection is then simply closed). */
bool tw_enter(struct us_stack *s, struct tcb *t);
void tw_input(struct us_stack *s, struct tw_entry *tw, struct segment *sg);
void tw_kill(struct us_stack *s, struct tw_entry *tw, const char *cause);
void tw_init(struct us_stack *s);
void tw_destroy(struct us_stack *s);

#endif
