/*
 * ustack — a TCP/IP stack in user space.
 *
 * stack.h: the stack object and its contract (docs/DESIGN.md §3).
 *
 * A stack owns its interfaces, ARP cache, routes, sockets, timers and pools.
 * It never reads a clock: every entry point takes `now` (microseconds, any
 * epoch, never decreasing). Frames come in through us_stack_input(); frames go
 * out through each interface's link. us_stack_poll() runs due timers and
 * returns when it next needs to be called. One stack is used by one thread.
 */
#ifndef USTACK_STACK_H
#define USTACK_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/counters.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Time in microseconds. */
typedef uint64_t us_time_t;
#define US_TIME_NEVER UINT64_MAX
#define US_MSEC(ms)   ((us_time_t)(ms)*1000u)
#define US_SEC(s)     ((us_time_t)(s)*1000000u)

struct us_stack;
struct us_link;

/* TCP tunables; each is also reachable per socket where Linux has a socket
 * option for it. Defaults follow Linux (docs/DESIGN.md §4). */
struct us_tcp_config {
    us_time_t msl;                /* TIME-WAIT lasts 2*msl; default 30 s */
    us_time_t fin_wait2_timeout;  /* orphaned FIN-WAIT-2 (TCP_LINGER2); 60 s */
    us_time_t rto_initial;        /* RFC 6298 §2.1; 1 s */
    us_time_t rto_min;            /* 200 ms, as Linux */
    us_time_t rto_max;            /* 120 s, as Linux */
    us_time_t delack_timeout;     /* delayed ACK; 40 ms */
    unsigned syn_retries;         /* SYN retransmissions before ETIMEDOUT; 6 */
    unsigned synack_retries;      /* SYN-ACK retransmissions; 5 */
    unsigned retries2;            /* data retransmissions before giving up; 15 */
    us_time_t keepalive_idle;     /* TCP_KEEPIDLE; 7200 s */
    us_time_t keepalive_intvl;    /* TCP_KEEPINTVL; 75 s */
    unsigned keepalive_probes;    /* TCP_KEEPCNT; 9 (the textbook's 10 is a setting) */
    uint32_t sndbuf;              /* default SO_SNDBUF, bytes; 16384. Without
                                     SO_SNDBUF a socket's buffer is autotuned
                                     up to it: twice cwnd, at least 64 KiB */
    uint32_t rcvbuf;              /* default SO_RCVBUF, bytes; 131072 */
    uint32_t max_rcvbuf;          /* ceiling for SO_RCVBUF; 6 MiB */
    uint32_t max_sndbuf;          /* ceiling for SO_SNDBUF; 4 MiB */
    bool timestamps;              /* RFC 7323 timestamps */
    bool window_scaling;          /* RFC 7323 window scale */
    bool sack;                    /* RFC 2018 SACK */
    bool rfc5961;                 /* challenge ACKs for in-window RST/SYN */
    bool drop_synfin;             /* drop SYN+FIN in every state (FreeBSD's
                                     net.inet.tcp.drop_synfin); off: only a
                                     listener drops it, as Linux */
    unsigned challenge_ack_limit; /* challenge ACKs per second; 1000 */
    int syncookies;               /* 0 off, 1 when the SYN queue is full, 2 always */
    unsigned max_syn_backlog;     /* SYN-RECEIVED entries per listener; 256 */
    unsigned max_tw;              /* TIME-WAIT entries per stack (tcp_max_tw_buckets) */
    const char *congestion;       /* "cubic" (default) or "newreno" */
    unsigned initial_cwnd;        /* segments; 10 (RFC 6928) */
    bool slow_start_after_idle;   /* RFC 5681 §4.1 restart; on, as Linux */
    bool tlp;                     /* tail loss probes (RFC 8985 §7); on, as Linux's
                                     tcp_early_retrans */
    bool header_prediction;       /* the ESTABLISHED fast path (input.c); on. Off
                                     only to show it changes nothing */
    bool nagle;                   /* default for new sockets (TCP_NODELAY off) */
    uint16_t ephemeral_lo;        /* ephemeral port range; 32768 */
    uint16_t ephemeral_hi;        /* 60999 */
    uint16_t default_mss;         /* MSS assumed when the peer sends none; 536 */
    uint32_t isn_fixed;           /* tests only: when non-zero, every ISN is this (e.g.
                                     near 2^32 to exercise wrap-around); 0 = RFC 6528 */
};

struct us_stack_config {
    const char *name;      /* shown in logs and traces ("client"); copied */
    uint64_t seed;         /* all randomness (ISNs, ports, IP IDs) derives from it */
    unsigned max_mtu;      /* largest MTU of any interface; sizes packet buffers */
    unsigned pbuf_max;     /* packet buffers in the pool; 1024 */
    us_time_t arp_timeout; /* ARP cache entry lifetime; 60 s */
    us_time_t arp_retry;   /* ARP request retransmission interval; 1 s */
    unsigned arp_tries;    /* requests before giving up; 3 */
    unsigned arp_queue;    /* frames held per unresolved address; 8 */
    unsigned max_sockets;  /* 0: unlimited */
    struct us_tcp_config tcp;
};

/* Fills `cfg` with the defaults above. */
void us_stack_config_default(struct us_stack_config *cfg);

/* NULL on allocation failure. */
struct us_stack *us_stack_new(const struct us_stack_config *cfg);
/* Frees the stack and everything it owns (sockets, buffers, timers). */
void us_stack_free(struct us_stack *s);

const char *us_stack_name(const struct us_stack *s);
const struct us_stack_config *us_stack_config(const struct us_stack *s);
/* Mutable TCP settings, for tests and the script runner (sysctl lines). */
struct us_tcp_config *us_stack_tcp_config(struct us_stack *s);

/* Interfaces. Addresses are IPv4 in host byte order. Returns the interface
 * index (>= 0) or a negative errno. The stack does not own the link. */
struct us_iface_config {
    uint8_t mac[6];
    uint32_t addr;
    unsigned prefix_len;
    unsigned mtu; /* 0: the link's MTU */
};
int us_stack_add_iface(struct us_stack *s, struct us_link *link, const struct us_iface_config *cfg);
/* Default gateway (0 removes it). Returns 0 or -EINVAL. */
int us_stack_set_gateway(struct us_stack *s, uint32_t gw);

/* Announces every interface with a gratuitous ARP. */
void us_stack_start(struct us_stack *s, us_time_t now);

/* Hands one received Ethernet frame in. The stack copies what it keeps. */
void us_stack_input(struct us_stack *s, int iface, const uint8_t *frame, size_t len, us_time_t now);

/* Runs timers due at `now`; returns the time of the next timer, or US_TIME_NEVER. */
us_time_t us_stack_poll(struct us_stack *s, us_time_t now);

/* The time of the stack's next timer (no later than it), or US_TIME_NEVER. */
us_time_t us_stack_next_timer(const struct us_stack *s);

/* The last time the stack was given. */
us_time_t us_stack_now(const struct us_stack *s);

/* Counters (ustack/counters.h). */
uint64_t us_stack_counter(const struct us_stack *s, enum us_counter c);
const uint64_t *us_stack_counters(const struct us_stack *s);

/* Packet buffers currently taken from the pool. */
unsigned us_stack_pbufs_in_use(const struct us_stack *s);

/* Drops every socket, connection and queued frame, then returns how many
 * packet buffers, control blocks and buffers are still accounted as taken:
 * 0 unless something leaked. The stack stays usable (it is empty). Tests call
 * this at the end of every simulation. */
unsigned us_stack_teardown(struct us_stack *s);

/* --- Observers (docs/DESIGN.md §5): the engine does not know who listens. --- */

enum us_dir { US_DIR_IN = 0, US_DIR_OUT = 1 };

/* TCP states, RFC 9293 §3.3.2, in the RFC's order. */
enum us_tcp_state {
    US_TCP_CLOSED = 0,
    US_TCP_LISTEN,
    US_TCP_SYN_SENT,
    US_TCP_SYN_RECEIVED,
    US_TCP_ESTABLISHED,
    US_TCP_FIN_WAIT_1,
    US_TCP_FIN_WAIT_2,
    US_TCP_CLOSE_WAIT,
    US_TCP_CLOSING,
    US_TCP_LAST_ACK,
    US_TCP_TIME_WAIT,
    US_TCP_NSTATES
};
/* "ESTABLISHED", "SYN-SENT", ... as RFC 9293 writes them. */
const char *us_tcp_state_name(enum us_tcp_state st);

/* One state transition, reported by the TCP transition function. */
struct us_state_event {
    us_time_t time;
    uint32_t laddr, raddr; /* host byte order */
    uint16_t lport, rport;
    enum us_tcp_state from, to;
    const char *cause; /* "rcv SYN,ACK", "close()", "2MSL timeout", ... */
    /* When a synchronized connection ends (-> TIME-WAIT or CLOSED), its
     * statistics (ustack/socket.h); NULL otherwise. */
    const struct us_tcp_info *info;
};
struct us_tcp_info;

struct us_observer {
    /* Every frame the stack receives (before validation) or sends. */
    void (*frame)(void *ctx, struct us_stack *s, int iface, enum us_dir dir, const uint8_t *frame,
                  size_t len, us_time_t now);
    /* Every TCP state transition. */
    void (*state)(void *ctx, struct us_stack *s, const struct us_state_event *ev);
    void *ctx;
};
#define US_MAX_OBSERVERS 8
/* Returns 0, or -ENOSPC when US_MAX_OBSERVERS are attached. */
int us_stack_observe(struct us_stack *s, const struct us_observer *obs);
void us_stack_unobserve(struct us_stack *s, void *ctx);
/* True when a frame observer is attached (a link may then finish work it
 * would otherwise skip, so captures show complete checksums). */
bool us_stack_observed(const struct us_stack *s);

/* --- The driver: how blocking socket calls wait (docs/DESIGN.md §3). ---
 * A blocking call that cannot complete asks the driver to run the world until
 * `until` or until something happened. The in-memory wire drives virtual time;
 * the TAP loop drives the real clock. */
struct us_driver {
    us_time_t (*now)(void *ctx);
    /* Returns 0 after making progress or reaching `until`; -1 when nothing can
     * ever happen (virtual time with no event and no deadline). */
    int (*wait)(void *ctx, us_time_t until);
    void *ctx;
};
void us_stack_set_driver(struct us_stack *s, const struct us_driver *drv);
const struct us_driver *us_stack_driver(const struct us_stack *s);

/* --- ICMP echo, for ping tests and tools. --- */
struct us_echo_reply {
    uint32_t from;
    uint16_t id, seq;
    size_t len; /* ICMP payload bytes */
    us_time_t time;
};
/* Sends an echo request with `len` payload bytes. 0 or negative errno. */
int us_ping_send(struct us_stack *s, uint32_t dst, uint16_t id, uint16_t seq, size_t len);
/* Pops the oldest echo reply received; false when none. */
bool us_ping_recv(struct us_stack *s, struct us_echo_reply *out);

/* Formats an IPv4 address (host order) into buf (>= 16 bytes); returns buf. */
char *us_ip_str(uint32_t addr, char *buf);
/* Parses "A.B.C.D"; 0 on success, -1 on error. */
int us_ip_parse(const char *str, uint32_t *addr);

#ifdef __cplusplus
}
#endif
#endif
