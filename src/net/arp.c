/*
 * arp.c: the Address Resolution Protocol (RFC 826) and the neighbour cache.
 *
 * The cache is 4-way set associative (64 sets), so lookups are O(1) and its
 * size is bounded however many addresses a flood names. Entries are
 * INCOMPLETE (a request is out; frames wait in a bounded FIFO), REACHABLE
 * (confirmed, until arp_timeout) or STALE (timed out while in use: still used,
 * re-probed by unicast as RFC 1122 §2.3.2.1 suggests, and removed if silent).
 * One timer per stack serves the whole cache.
 */
#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "net/net.h"

#define ARP_LEN 28
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

static void arp_timer_fire(struct us_timer *t, us_time_t now, void *ctx);

void arp_init(struct us_stack *s)
{
    memset(&s->arp, 0, sizeof(s->arp));
    timer_init(&s->arp.timer, timer_kind(&s->timers, arp_timer_fire));
}

static void entry_drop_queue(struct us_stack *s, struct arp_entry *e)
{
    while (e->queue) {
        struct pbuf *p = e->queue;
        e->queue = p->next;
        pbuf_free(&s->pool, p);
        stat_inc(s, US_C_drop_arp_unresolved);
    }
    e->queue_tail = NULL;
    e->queued = 0;
}

static void entry_free(struct us_stack *s, struct arp_entry *e)
{
    entry_drop_queue(s, e);
    memset(e, 0, sizeof(*e));
}

void arp_destroy(struct us_stack *s)
{
    for (unsigned i = 0; i < ARP_SETS; i++)
        for (unsigned w = 0; w < ARP_WAYS; w++) entry_free(s, &s->arp.e[i][w]);
    timer_cancel(&s->timers, &s->arp.timer);
}

static unsigned set_of(uint32_t ip)
{
    /* Fibonacci hashing spreads consecutive addresses across sets. */
    return (unsigned)((ip * 2654435769u) >> 26) & (ARP_SETS - 1);
}

static struct arp_entry *find(struct us_stack *s, uint32_t ip)
{
    struct arp_entry *set = s->arp.e[set_of(ip)];
    for (unsigned w = 0; w < ARP_WAYS; w++)
        if (set[w].state != ARP_FREE && set[w].ip == ip) return &set[w];
    return NULL;
}

const struct arp_entry *arp_lookup(const struct us_stack *s, uint32_t ip)
{
    return find((struct us_stack *)s, ip);
}

/* A free way in ip's set, or the oldest one (its queued frames dropped). */
static struct arp_entry *alloc_entry(struct us_stack *s, uint32_t ip)
{
    struct arp_entry *set = s->arp.e[set_of(ip)];
    struct arp_entry *victim = &set[0];
    for (unsigned w = 0; w < ARP_WAYS; w++) {
        if (set[w].state == ARP_FREE) {
            victim = &set[w];
            break;
        }
        if (set[w].born < victim->born) victim = &set[w];
    }
    entry_free(s, victim);
    victim->ip = ip;
    victim->born = s->now;
    return victim;
}

static void rearm(struct us_stack *s)
{
    us_time_t next = US_TIME_NEVER;
    for (unsigned i = 0; i < ARP_SETS; i++)
        for (unsigned w = 0; w < ARP_WAYS; w++) {
            const struct arp_entry *e = &s->arp.e[i][w];
            if (e->state != ARP_FREE && e->when < next) next = e->when;
        }
    if (next == US_TIME_NEVER)
        timer_cancel(&s->timers, &s->arp.timer);
    else if (!timer_pending(&s->arp.timer) || s->arp.timer.expires != next)
        timer_set(&s->timers, &s->arp.timer, next);
}

static void arp_send(struct us_stack *s, int iface, uint16_t op, const uint8_t *eth_dst,
                     const uint8_t *tha, uint32_t tpa, enum us_counter ctr)
{
    const struct iface *ifc = &s->ifaces[iface];
    struct pbuf *p = pbuf_alloc(&s->pool);
    if (!p) {
        stat_inc(s, US_C_drop_no_pbuf);
        return;
    }
    uint8_t *a = pbuf_data(p);
    wr16(a, ARP_HTYPE_ETHER);
    wr16(a + 2, ETHERTYPE_IPV4);
    a[4] = ETH_ALEN;
    a[5] = 4;
    wr16(a + 6, op);
    memcpy(a + 8, ifc->mac, ETH_ALEN);
    wr32(a + 14, ifc->addr);
    memcpy(a + 18, tha, ETH_ALEN);
    wr32(a + 24, tpa);
    p->len = ARP_LEN;
    stat_inc(s, ctr);
    eth_output(s, iface, eth_dst, ETHERTYPE_ARP, p);
}

static const uint8_t zero_mac[ETH_ALEN];

static void send_request(struct us_stack *s, struct arp_entry *e, bool unicast)
{
    arp_send(s, e->iface, ARP_OP_REQUEST, unicast ? e->mac : eth_broadcast, zero_mac, e->ip,
             US_C_arp_request_tx);
    e->tries++;
    e->when = s->now + s->cfg.arp_retry;
}

void arp_announce(struct us_stack *s, int iface)
{
    /* Gratuitous ARP (RFC 5227 §3 announcement): a request for our own address. */
    const struct iface *ifc = &s->ifaces[iface];
    arp_send(s, iface, ARP_OP_REQUEST, eth_broadcast, zero_mac, ifc->addr, US_C_arp_gratuitous_tx);
}

static void flush_queue(struct us_stack *s, struct arp_entry *e)
{
    while (e->queue) {
        struct pbuf *p = e->queue;
        e->queue = p->next;
        e->queued--;
        p->next = NULL;
        eth_output(s, e->iface, e->mac, ETHERTYPE_IPV4, p);
    }
    e->queue_tail = NULL;
}

/* The peer is confirmed at `mac`: REACHABLE, and whatever waited goes out. */
static void confirm(struct us_stack *s, struct arp_entry *e, int iface, const uint8_t *mac)
{
    if (e->state == ARP_INCOMPLETE) stat_inc(s, US_C_arp_resolved);
    memcpy(e->mac, mac, ETH_ALEN);
    e->iface = (uint8_t)iface;
    e->state = ARP_REACHABLE;
    e->tries = 0;
    e->used = false;
    e->when = s->now + s->cfg.arp_timeout;
    flush_queue(s, e);
}

void arp_input(struct us_stack *s, int iface, const uint8_t *a, size_t len)
{
    stat_inc(s, US_C_arp_rx);
    if (len < ARP_LEN) {
        stat_inc(s, US_C_drop_arp_short);
        return;
    }
    if (rd16(a) != ARP_HTYPE_ETHER || rd16(a + 2) != ETHERTYPE_IPV4 || a[4] != ETH_ALEN ||
        a[5] != 4) {
        stat_inc(s, US_C_drop_arp_format);
        return;
    }
    uint16_t op = rd16(a + 6);
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
        stat_inc(s, US_C_drop_arp_op);
        return;
    }
    const uint8_t *sha = a + 8;
    uint32_t spa = rd32(a + 14);
    uint32_t tpa = rd32(a + 24);
    const struct iface *ifc = &s->ifaces[iface];

    /* A sender hardware address of broadcast/multicast is never learned. */
    bool sane_sender = spa != 0 && !(sha[0] & 1) && spa != ifc->addr;

    /* RFC 826 "Packet Reception": merge first, then look at the target. */
    bool merged = false;
    struct arp_entry *e = sane_sender ? find(s, spa) : NULL;
    if (e) {
        confirm(s, e, iface, sha);
        merged = true;
    }
    if (tpa != ifc->addr) {
        if (op == ARP_OP_REQUEST && !merged && spa != tpa) stat_inc(s, US_C_drop_arp_not_for_us);
        rearm(s);
        return;
    }
    if (!merged && sane_sender) {
        e = alloc_entry(s, spa);
        confirm(s, e, iface, sha);
    }
    if (op == ARP_OP_REQUEST) arp_send(s, iface, ARP_OP_REPLY, sha, sha, spa, US_C_arp_reply_tx);
    rearm(s);
}

static bool is_broadcast(const struct iface *ifc, uint32_t ip)
{
    return ip == 0xffffffffu || (ifc->prefix_len < 31 && ip == (ifc->addr | ~ifc->netmask));
}

int arp_output(struct us_stack *s, int iface, uint32_t nexthop, struct pbuf *p)
{
    const struct iface *ifc = &s->ifaces[iface];
    if (is_broadcast(ifc, nexthop)) return eth_output(s, iface, eth_broadcast, ETHERTYPE_IPV4, p);

    struct arp_entry *e = find(s, nexthop);
    if (e && e->state != ARP_INCOMPLETE) {
        e->used = true;
        return eth_output(s, e->iface, e->mac, ETHERTYPE_IPV4, p);
    }
    if (!e) {
        e = alloc_entry(s, nexthop);
        e->state = ARP_INCOMPLETE;
        e->iface = (uint8_t)iface;
        send_request(s, e, false);
        rearm(s);
    }
    /* Bounded queue; like Linux, the oldest frame makes room for the newest. */
    if (e->queued >= s->cfg.arp_queue) {
        struct pbuf *old = e->queue;
        e->queue = old->next;
        if (!e->queue) e->queue_tail = NULL;
        e->queued--;
        pbuf_free(&s->pool, old);
        stat_inc(s, US_C_drop_arp_queue_full);
    }
    p->next = NULL;
    if (e->queue_tail)
        e->queue_tail->next = p;
    else
        e->queue = p;
    e->queue_tail = p;
    e->queued++;
    return 0;
}

static void arp_timer_fire(struct us_timer *t, us_time_t now, void *ctx)
{
    struct us_stack *s = ctx;
    for (unsigned i = 0; i < ARP_SETS; i++)
        for (unsigned w = 0; w < ARP_WAYS; w++) {
            struct arp_entry *e = &s->arp.e[i][w];
            if (e->state == ARP_FREE || e->when > now) continue;
            switch (e->state) {
            case ARP_INCOMPLETE:
                if (e->tries >= s->cfg.arp_tries)
                    entry_free(s, e);
                else
                    send_request(s, e, false);
                break;
            case ARP_REACHABLE:
                if (e->used) {
                    e->state = ARP_STALE;
                    e->tries = 0;
                    e->used = false;
                    send_request(s, e, true);
                } else {
                    stat_inc(s, US_C_arp_expired);
                    entry_free(s, e);
                }
                break;
            case ARP_STALE:
                if (e->tries >= s->cfg.arp_tries) {
                    stat_inc(s, US_C_arp_expired);
                    entry_free(s, e);
                } else {
                    send_request(s, e, true);
                }
                break;
            }
        }
    rearm(s);
}
