/* Segment-level tests for what the packetdrill suites found (docs/
 * conformance.md): each is the smallest exchange that shows one rule, spoken
 * at one stack -- TCP_DEFER_ACCEPT. */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcp/tcp.h"
#include "testlib.h"

#define PORT 80

static struct solo *t;
static void setup(void) { t = solo_new(7); }
static void teardown(void) { solo_free(t); }
TestSuite(conformance, .init = setup, .fini = teardown);

static const struct tseg plain_syn = {.mss_on = true, .mss = 1460, .wnd = 65535};

static void in(uint8_t flags, uint32_t seq, uint32_t ack, const char *data)
{
    struct tseg s = {.flags = flags, .seq = seq, .ack = ack, .wnd = 1000};
    if (data) {
        s.data = (const uint8_t *)data;
        s.len = (uint32_t)strlen(data);
    }
    seg_in(t, PORT, &s);
}

/* ---- TCP_DEFER_ACCEPT ---- */

static int deferring_listener(int secs)
{
    us_stack_set_driver(t->s, NULL);
    solo_learn_peer(t);
    int l = us_socket(t->s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    cr_assert_eq(us_setsockopt(t->s, l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)), 0);
    struct sockaddr_in a = sin_of(0, PORT);
    cr_assert_eq(us_bind(t->s, l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(us_listen(t->s, l, 4), 0);
    int got = 0;
    socklen_t len = sizeof(got);
    cr_assert_eq(us_getsockopt(t->s, l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &got, &len), 0);
    cr_assert_eq(got, secs);
    struct tseg syn = plain_syn;
    syn.flags = TH_SYN;
    syn.seq = 1000;
    seg_in(t, PORT, &syn);
    return l;
}

Test(conformance, defer_accept_holds_a_bare_ack_until_data_comes)
{
    int l = deferring_listener(5);
    struct tseg o;
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_SYN | TH_ACK);
    uint32_t isn = o.seq;
    in(TH_ACK, 1001, isn + 1, NULL);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_defer_accept_drops), 1);
    cr_assert_eq(us_accept(t->s, l, NULL, NULL), -1, "a bare ACK completes nothing");
    cr_assert_eq(errno, EAGAIN);
    /* The peer did ACK: no SYN-ACK is resent while data is awaited. */
    solo_advance(t, us_stack_now(t->s) + US_MSEC(2500));
    cr_assert(!seg_out(t, &o), "SYN-ACK resent while deferring");
    in(TH_ACK | TH_PSH, 1001, isn + 1, "data");
    int fd = us_accept(t->s, l, NULL, NULL);
    cr_assert(fd >= 0, "data completes the handshake: %s", strerror(errno));
    char b[8];
    cr_assert_eq(us_recv(t->s, fd, b, sizeof(b), MSG_DONTWAIT), 4);
    us_close(t->s, fd);
    us_close(t->s, l);
}

Test(conformance, defer_accept_ends_with_one_syn_ack_then_a_bare_ack_completes)
{
    /* 3 s are two SYN-ACK timeouts (1 s, then 2 s, as Linux counts): none
     * is resent at 1 s, one at 3 s as a last chance; then the bare ACK
     * completes the handshake (gVisor tcp_defer_accept_timeout). */
    int l = deferring_listener(3);
    us_time_t t0 = us_stack_now(t->s);
    struct tseg o;
    cr_assert(seg_out(t, &o));
    uint32_t isn = o.seq;
    in(TH_ACK, 1001, isn + 1, NULL);
    solo_advance(t, t0 + US_MSEC(2999));
    cr_assert(!seg_out(t, &o));
    in(TH_ACK, 1001, isn + 1, NULL);
    cr_assert_eq(us_accept(t->s, l, NULL, NULL), -1);
    solo_advance(t, t0 + US_SEC(3));
    cr_assert(seg_out(t, &o), "the last-chance SYN-ACK");
    cr_assert_eq(o.flags, TH_SYN | TH_ACK);
    in(TH_ACK, 1001, isn + 1, NULL);
    int fd = us_accept(t->s, l, NULL, NULL);
    cr_assert(fd >= 0, "after the deferral a bare ACK completes: %s", strerror(errno));
    us_close(t->s, fd);
    us_close(t->s, l);
}

Test(conformance, defer_accept_gives_up_when_the_deferral_is_over)
{
    /* Linux drops the embryo once the deferral's timeouts are spent; a
     * later ACK then finds nothing and gets a RST. */
    int l = deferring_listener(1);
    us_time_t t0 = us_stack_now(t->s);
    struct tseg o;
    cr_assert(seg_out(t, &o));
    uint32_t isn = o.seq;
    in(TH_ACK, 1001, isn + 1, NULL);
    cr_assert_eq(us_accept(t->s, l, NULL, NULL), -1);
    solo_advance(t, t0 + US_SEC(1));
    cr_assert(seg_out(t, &o), "the one timeout resends the SYN-ACK as its last chance");
    solo_advance(t, t0 + US_SEC(3));
    cr_assert(!seg_out(t, &o));
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_attempt_fails), 1);
    in(TH_ACK, 1001, isn + 1, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_RST);
    us_close(t->s, l);
}
