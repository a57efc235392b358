/*
 * internal.h: the stack object as the modules see it.
 *
 * Everything hangs off struct us_stack; two stacks in one process share
 * nothing. Layers call down through the functions declared in net/net.h and
 * up through the transport entry points (tcp_input, udp_input, ...).
 */
#ifndef USTACK_INTERNAL_H
#define USTACK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pbuf.h"
#include "core/rand.h"
#include "core/timer.h"
#include "ustack/link.h"
#include "ustack/stack.h"

#define US_MAX_IFACES 4
#define ARP_WAYS 4
#define ARP_SETS 64
#define PING_RING 16

struct iface {
    struct us_link *link;
    uint8_t mac[6];
    uint32_t addr, netmask;
    unsigned prefix_len;
    unsigned mtu;
    /* The last source address that passed the martian checks here (they
     * depend only on the interfaces' addresses, reset when one is added);
     * a flow's every segment then skips them. 0xffffffff: none. */
    uint32_t src_ok;
};

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE, ARP_STALE };

struct arp_entry {
    uint32_t ip;
    uint8_t mac[6];
    uint8_t state;   /* enum arp_state */
    uint8_t tries;   /* requests sent in this resolution or probe */
    uint8_t iface;
    bool used;       /* used for output since last confirmed */
    us_time_t when;  /* INCOMPLETE/STALE: next request; REACHABLE: expiry */
    us_time_t born;  /* for replacement: the oldest goes first */
    struct pbuf *queue;  /* frames waiting for resolution, FIFO */
    struct pbuf *queue_tail;
    unsigned queued;
};

struct arp_table {
    struct arp_entry e[ARP_SETS][ARP_WAYS];
    struct us_timer timer;
};

struct tcp_stack;   /* tcp/tcp.h */
struct udp_stack;   /* udp/udp.h */
struct sock_table;  /* socket/sock.h */

struct us_stack {
    char name[32];
    struct us_stack_config cfg;
    us_time_t now;
    struct rng rng;
    uint8_t hash_key[KEYED_HASH_KEYBYTES];

    struct iface ifaces[US_MAX_IFACES];
    unsigned n_ifaces;
    bool gso_links;     /* some interface's link segments frames (gso_max) */
    bool csum_links;    /* some interface's link finishes checksums (TX_CSUM) */
    uint32_t gateway;

    struct pbuf_pool pool;
    struct timer_wheel timers;
    struct arp_table arp;
    uint16_t ip_id;

    /* ICMP error rate limit: a token bucket, RFC 1812 §4.3.2.8 style. */
    uint32_t icmp_tokens;
    us_time_t icmp_refill;

    struct us_echo_reply pings[PING_RING];
    unsigned ping_head, ping_count;

    uint64_t ctr[US_C__COUNT];
    struct us_observer obs[US_MAX_OBSERVERS];
    unsigned n_obs;
    struct us_driver driver;

    struct tcp_stack *tcp;
    struct udp_stack *udp;
    struct sock_table *socks;
};

static inline void stat_inc(struct us_stack *s, enum us_counter c) { s->ctr[c]++; }
static inline void stat_add(struct us_stack *s, enum us_counter c, uint64_t n) { s->ctr[c] += n; }

/* Brings s->now up to the driver's clock. Every API call that is not
 * us_stack_input/us_stack_poll (socket calls, ping) starts with this, so work
 * it does is stamped with the current time, not the time of the last frame. */
static inline void stack_sync_time(struct us_stack *s)
{
    if (s->driver.now) {
        us_time_t now = s->driver.now(s->driver.ctx);
        if (now > s->now) s->now = now;
    }
}

/* Observers. */
void stack_notify_frame(struct us_stack *s, int iface, enum us_dir dir, const uint8_t *frame,
                        size_t len);
void stack_notify_state(struct us_stack *s, const struct us_state_event *ev);

#endif
