/* Segment-level tests for what the packetdrill suites found (docs/
 * conformance.md): each is the smallest exchange that shows one rule, spoken
 * at one stack -- TIME-WAIT's fifth step and RFC 793 SYN rule, the error a
 * reset leaves in CLOSING and LAST-ACK, TCP_DEFER_ACCEPT. */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcp/tcp.h"
#include "testlib.h"

#define PORT 80

static struct solo *t;
static void setup(void)
{
    t = solo_new(7);
}
static void teardown(void)
{
    solo_free(t);
}
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

/* An accepted connection (peer ISN 1000) that we close first and the peer
 * then closes: we hold TIME-WAIT with RCV.NXT 1002, SND.NXT isn + 2. */
static uint32_t time_wait(int *lfd)
{
    uint32_t isn;
    int fd = solo_accept_conn_l(t, PORT, 1000, &plain_syn, &isn, lfd);
    struct tseg o;
    us_close(t->s, fd);
    cr_assert(seg_out(t, &o) && (o.flags & TH_FIN));
    in(TH_ACK | TH_FIN, 1001, isn + 2, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.ack, 1002);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_tw_entered), 1);
    return isn;
}

Test(conformance, time_wait_drops_an_acceptable_segment_without_ack)
{
    /* RFC 9293 §3.10.7.4: the sequence check passes, the fifth step drops
     * a segment whose ACK bit is off -- no reply (FreeBSD rcv-fin-time-wait
     * left-edge). */
    int l;
    uint32_t isn = time_wait(&l);
    struct tseg o;
    in(TH_FIN, 1002, isn + 2, NULL);
    cr_assert(!seg_out(t, &o), "a FIN without ACK drew flags %x", o.flags);
    /* An unacceptable one still gets its ACK (first step). */
    in(TH_ACK, 1001, isn + 2, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_ACK);
    cr_assert_eq(o.ack, 1002);
    us_close(t->s, l);
}

Test(conformance, without_rfc5961_a_syn_in_the_window_resets_time_wait)
{
    /* RFC 793's rule (RFC 5961 off: FreeBSD's insecure_syn): a SYN in the
     * window that is not a new incarnation resets, in the abort's form. */
    us_stack_tcp_config(t->s)->rfc5961 = false;
    int l;
    uint32_t isn = time_wait(&l);
    struct tseg o;
    in(TH_SYN, 1002, 0, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_RST | TH_ACK);
    cr_assert_eq(o.seq, isn + 2);
    cr_assert_eq(o.ack, 1002);
    /* The entry is gone: an ACK now finds the listener and gets a RST. */
    in(TH_ACK, 1002, isn + 2, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_RST);
    us_close(t->s, l);
}

Test(conformance, without_rfc5961_a_syn_in_the_window_resets_established)
{
    us_stack_tcp_config(t->s)->rfc5961 = false;
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    struct tseg o;
    in(TH_SYN, 1005, 0, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_RST | TH_ACK, "the abort's form, as in TIME-WAIT");
    cr_assert_eq(o.seq, isn + 1);
    cr_assert_eq(o.ack, 1001);
    int err;
    socklen_t len = sizeof(err);
    cr_assert_eq(us_getsockopt(t->s, fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    cr_assert_eq(err, ECONNRESET);
    us_close(t->s, fd);
}

static int so_error(int fd)
{
    int err = -1;
    socklen_t len = sizeof(err);
    cr_assert_eq(us_getsockopt(t->s, fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    return err;
}

Test(conformance, a_reset_in_last_ack_reports_econnreset)
{
    /* The socket was only shut down for writing: like Linux and BSD, it
     * learns that the connection was reset (FreeBSD rcv-rst-last-ack). */
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    struct tseg o;
    in(TH_ACK | TH_FIN, 1001, isn + 1, NULL);
    cr_assert_eq(us_shutdown(t->s, fd, SHUT_WR), 0);
    while (seg_out(t, &o)) {
    }
    in(TH_RST, 1002, 0, NULL);
    cr_assert_eq(so_error(fd), ECONNRESET);
    us_close(t->s, fd);
}

Test(conformance, a_reset_in_closing_reports_econnreset)
{
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    struct tseg o;
    cr_assert_eq(us_shutdown(t->s, fd, SHUT_WR), 0);
    cr_assert(seg_out(t, &o) && (o.flags & TH_FIN));
    in(TH_ACK | TH_FIN, 1001, isn + 1, NULL); /* their FIN, not the ACK of ours */
    cr_assert(seg_out(t, &o));
    struct us_tcp_info info;
    socklen_t len = sizeof(info);
    us_getsockopt(t->s, fd, IPPROTO_TCP, TCP_INFO, &info, &len);
    cr_assert_eq(info.state, US_TCP_CLOSING);
    in(TH_RST, 1002, 0, NULL);
    cr_assert_eq(so_error(fd), ECONNRESET);
    us_close(t->s, fd);
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

Test(conformance, a_syn_fin_does_not_end_time_wait)
{
    /* A listener drops SYN+FIN (a scanner's probe), so taking one as a new
     * incarnation (RFC 6191) would end TIME-WAIT for nothing. It gets the
     * challenge ACK of any SYN (FreeBSD rcv-syn-fin-time-wait). */
    int l;
    uint32_t isn = time_wait(&l);
    struct tseg o;
    in(TH_SYN | TH_FIN, 500000, 0, NULL);
    cr_assert(seg_out(t, &o), "no reply: was TIME-WAIT ended?");
    cr_assert_eq(o.flags, TH_ACK);
    cr_assert_eq(o.seq, isn + 2);
    cr_assert_eq(o.ack, 1002);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_tw_recycled), 0);
    /* Still there: a plain newer SYN does start a new connection. */
    struct tseg syn = plain_syn;
    syn.flags = TH_SYN;
    syn.seq = 500000;
    seg_in(t, PORT, &syn);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_SYN | TH_ACK);
    us_close(t->s, l);
}

Test(conformance, drop_synfin_drops_syn_fin_in_every_state)
{
    /* FreeBSD's net.inet.tcp.drop_synfin: no state sees it, so not even
     * TIME-WAIT's challenge ACK answers (rcv-syn-fin-*-dropping-enabled). */
    int l;
    uint32_t isn = time_wait(&l);
    us_stack_tcp_config(t->s)->drop_synfin = true;
    uint64_t before = us_stack_counter(t->s, US_C_drop_tcp_bad_flags);
    struct tseg o;
    in(TH_SYN | TH_FIN, 500000, 0, NULL);
    cr_assert(!seg_out(t, &o), "SYN+FIN drew flags %x", o.flags);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_tcp_bad_flags), before + 1);
    in(TH_SYN | TH_FIN | TH_ACK, 1002, isn + 2, "x");
    cr_assert(!seg_out(t, &o));
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_tcp_bad_flags), before + 2);
    us_close(t->s, l);
}

Test(conformance, a_passive_open_measures_the_handshake_rtt)
{
    /* RFC 6298 §2: the SYN-ACK, sent once, times the first RTT. Without the
     * sample the RTO stayed at its 1 s initial value until the first data
     * was acknowledged, and the tail loss probe, which needs an SRTT, could
     * not run (linux shutdown-rdwr-write-queue-close). */
    solo_learn_peer(t);
    int l = us_socket(t->s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(0, PORT);
    cr_assert_eq(us_bind(t->s, l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(us_listen(t->s, l, 8), 0);
    struct tseg syn = plain_syn;
    syn.flags = TH_SYN;
    syn.seq = 1000;
    seg_in(t, PORT, &syn);
    struct tseg sa;
    cr_assert(seg_out(t, &sa));
    solo_advance(t, us_stack_now(t->s) + US_MSEC(30));
    in(TH_ACK, 1001, sa.seq + 1, NULL);
    int fd = us_accept(t->s, l, NULL, NULL);
    cr_assert(fd >= 0);
    struct us_tcp_info info;
    socklen_t len = sizeof(info);
    us_getsockopt(t->s, fd, IPPROTO_TCP, TCP_INFO, &info, &len);
    cr_assert_eq(info.srtt, 30000, "srtt %u rto %u", info.srtt, info.rto);
    cr_assert_eq(info.rto, 200000, "rto %u: no sample?", info.rto);
    us_close(t->s, fd);
    us_close(t->s, l);
}
