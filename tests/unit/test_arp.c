/* ARP: replies, learning, the pending queue and its bound, retries, cache
 * expiry, re-probing of entries in use, and malformed packets. */
#include <criterion/criterion.h>

#include "core/util.h"
#include "internal.h"
#include "net/net.h"
#include "testlib.h"

static const uint8_t ZERO[6];

static uint16_t arp_op(const struct cap_frame *f) { return rd16(f->data + 14 + 6); }
static uint32_t arp_tpa(const struct cap_frame *f) { return rd32(f->data + 14 + 24); }

Test(arp, answers_a_request_for_our_address_and_learns_the_asker)
{
    struct solo *t = solo_new(1);
    uint8_t f[64];
    size_t n = build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, SOLO_IP);
    us_stack_input(t->s, t->iface, f, n, 0);
    const struct cap_frame *r = cap_pop(&t->cap);
    cr_assert(r);
    cr_assert_eq(arp_op(r), 2);
    cr_assert(memcmp(r->data, PEER_MAC, 6) == 0, "reply is unicast to the asker");
    cr_assert(memcmp(r->data + 14 + 8, SOLO_MAC, 6) == 0);
    cr_assert_eq(rd32(r->data + 14 + 14), SOLO_IP);
    const struct arp_entry *e = arp_lookup(t->s, PEER_IP);
    cr_assert(e && e->state == ARP_REACHABLE);
    cr_assert(memcmp(e->mac, PEER_MAC, 6) == 0);
    solo_free(t);
}

Test(arp, ignores_requests_for_other_addresses)
{
    struct solo *t = solo_new(1);
    uint8_t f[64];
    size_t n = build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, IP(10, 0, 0, 77));
    us_stack_input(t->s, t->iface, f, n, 0);
    cr_assert_null(cap_pop(&t->cap));
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_arp_not_for_us), 1);
    cr_assert_null(arp_lookup(t->s, PEER_IP), "no entry created for a stranger's request");
    solo_free(t);
}

Test(arp, gratuitous_announcement_at_start)
{
    struct solo *t = solo_new(1);
    us_stack_start(t->s, 0);
    const struct cap_frame *r = cap_pop(&t->cap);
    cr_assert(r);
    cr_assert_eq(arp_op(r), 1);
    cr_assert_eq(rd32(r->data + 14 + 14), SOLO_IP);
    cr_assert_eq(arp_tpa(r), SOLO_IP, "announcement: sender and target are our address");
    cr_assert_eq(us_stack_counter(t->s, US_C_arp_gratuitous_tx), 1);
    solo_free(t);
}

Test(arp, pending_queue_flushes_on_reply_in_order)
{
    struct solo *t = solo_new(1);
    for (uint16_t seq = 1; seq <= 3; seq++) cr_assert_eq(us_ping_send(t->s, PEER_IP, 7, seq, 10), 0);
    const struct cap_frame *req = cap_pop(&t->cap);
    cr_assert(req && arp_op(req) == 1 && arp_tpa(req) == PEER_IP);
    cr_assert_null(cap_pop(&t->cap), "one request, frames wait");
    cr_assert_eq(us_stack_pbufs_in_use(t->s), 3);

    uint8_t f[64];
    size_t n = build_arp(f, 2, PEER_MAC, PEER_IP, SOLO_MAC, SOLO_IP);
    us_stack_input(t->s, t->iface, f, n, 1000);
    for (uint16_t seq = 1; seq <= 3; seq++) {
        const struct cap_frame *p = cap_pop(&t->cap);
        cr_assert(p, "frame %u flushed", seq);
        cr_assert(memcmp(p->data, PEER_MAC, 6) == 0);
        cr_assert_eq(rd16(p->data + 14 + 20 + 6), seq, "FIFO order");
    }
    cr_assert_eq(us_stack_pbufs_in_use(t->s), 0);
    solo_free(t);
}

Test(arp, pending_queue_is_bounded)
{
    struct solo *t = solo_new(1);
    unsigned limit = us_stack_config(t->s)->arp_queue;
    for (unsigned i = 0; i < limit + 5; i++) us_ping_send(t->s, PEER_IP, 7, (uint16_t)i, 10);
    cr_assert_eq(us_stack_pbufs_in_use(t->s), limit);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_arp_queue_full), 5);
    solo_free(t);
}

Test(arp, gives_up_after_retries_and_drops_the_queue)
{
    struct solo *t = solo_new(1);
    us_ping_send(t->s, PEER_IP, 7, 1, 10);
    us_ping_send(t->s, PEER_IP, 7, 2, 10);
    const struct us_stack_config *cfg = us_stack_config(t->s);
    unsigned requests = 0;
    for (us_time_t now = 0; now <= cfg->arp_retry * (cfg->arp_tries + 1); now += US_MSEC(100)) {
        us_stack_poll(t->s, now);
        const struct cap_frame *f;
        while ((f = cap_pop(&t->cap))) requests += arp_op(f) == 1;
    }
    cr_assert_eq(requests, cfg->arp_tries);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_arp_unresolved), 2);
    cr_assert_null(arp_lookup(t->s, PEER_IP));
    cr_assert_eq(us_stack_pbufs_in_use(t->s), 0);
    solo_free(t);
}

Test(arp, unused_entry_expires)
{
    struct solo *t = solo_new(1);
    solo_learn_peer(t);
    cr_assert(arp_lookup(t->s, PEER_IP));
    us_time_t timeout = us_stack_config(t->s)->arp_timeout;
    us_stack_poll(t->s, timeout - 1);
    cr_assert(arp_lookup(t->s, PEER_IP), "still there just before the timeout");
    us_stack_poll(t->s, timeout);
    cr_assert_null(arp_lookup(t->s, PEER_IP));
    cr_assert_eq(us_stack_counter(t->s, US_C_arp_expired), 1);
    cr_assert_null(cap_pop(&t->cap), "no probe for an entry nobody uses");
    solo_free(t);
}

Test(arp, entry_in_use_is_reprobed_by_unicast_and_kept)
{
    struct solo *t = solo_new(1);
    solo_learn_peer(t);
    us_ping_send(t->s, PEER_IP, 7, 1, 10);
    cr_assert(cap_pop(&t->cap));
    us_time_t timeout = us_stack_config(t->s)->arp_timeout;
    us_stack_poll(t->s, timeout);
    const struct arp_entry *e = arp_lookup(t->s, PEER_IP);
    cr_assert(e && e->state == ARP_STALE, "still usable while re-probing");
    const struct cap_frame *probe = cap_pop(&t->cap);
    cr_assert(probe && arp_op(probe) == 1);
    cr_assert(memcmp(probe->data, PEER_MAC, 6) == 0, "probe is unicast");
    /* The peer answers: reachable again. */
    uint8_t f[64];
    size_t n = build_arp(f, 2, PEER_MAC, PEER_IP, SOLO_MAC, SOLO_IP);
    us_stack_input(t->s, t->iface, f, n, timeout + 10);
    cr_assert_eq(arp_lookup(t->s, PEER_IP)->state, ARP_REACHABLE);
    solo_free(t);
}

Test(arp, malformed_packets_are_dropped_by_reason)
{
    struct solo *t = solo_new(1);
    uint8_t f[64];
    size_t n = build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, SOLO_IP);
    us_stack_input(t->s, t->iface, f, 14 + 20, 0); /* truncated */
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_arp_short), 1);
    f[14 + 4] = 8; /* hardware length 8 */
    us_stack_input(t->s, t->iface, f, n, 0);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_arp_format), 1);
    n = build_arp(f, 9, PEER_MAC, PEER_IP, SOLO_MAC, SOLO_IP);
    us_stack_input(t->s, t->iface, f, n, 0);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_arp_op), 1);
    cr_assert_null(cap_pop(&t->cap));
    solo_free(t);
}
