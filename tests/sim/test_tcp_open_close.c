/* The textbook's opens and closes, on the wire, with the exact segments and
 * state sequences of both sides. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "testlib.h"

static struct pair *p;
static struct recorder *r;
static char buf[8192];

static void setup(void)
{
    p = pair_new(1, NULL, NULL);
    r = recorder_attach(p);
}
static void teardown(void)
{
    recorder_detach(r);
    pair_free(p);
}
TestSuite(open_close, .init = setup, .fini = teardown);

#define EXPECT_SEGS(want)                                                                          \
    do {                                                                                           \
        recorder_segments(r, buf, sizeof(buf));                                                    \
        if (strcmp(buf, want)) recorder_dump(r);                                                   \
        cr_assert_str_eq(buf, want);                                                               \
    } while (0)
#define EXPECT_STATES(who, want)                                                                   \
    do {                                                                                           \
        recorder_states(r, who, buf, sizeof(buf));                                                 \
        if (strcmp(buf, want)) recorder_dump(r);                                                   \
        cr_assert_str_eq(buf, want, "%s states", who);                                             \
    } while (0)

Test(open_close, three_way_handshake)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    EXPECT_SEGS("c S|s S.|c .");
    EXPECT_STATES("client", "SYN-SENT|ESTABLISHED");
    EXPECT_STATES("server", "LISTEN|SYN-RECEIVED|ESTABLISHED");
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
}

static void run(us_time_t dt)
{
    us_wire_run_for(p->w, dt);
}

Test(open_close, data_both_ways_is_a_byte_stream)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    recorder_clear(r);
    cr_assert_eq(us_send(p->a, c, "hel", 3, 0), 3);
    cr_assert_eq(us_send(p->a, c, "lo", 2, 0), 2);
    run(US_SEC(1));
    char got[64];
    /* Two sends, one receive: TCP keeps no message boundaries. */
    cr_assert_eq(us_recv(p->b, s, got, sizeof(got), 0), 5);
    cr_assert(memcmp(got, "hello", 5) == 0);
    cr_assert_eq(us_send(p->b, s, "HELLO", 5, 0), 5);
    cr_assert_eq(us_recv(p->a, c, got, sizeof(got), 0), 5);
    cr_assert(memcmp(got, "HELLO", 5) == 0);
    /* Nagle holds "lo" until "hel" is acknowledged; a fresh connection
     * acknowledges at once (quick-ACK mode), so the client ACKs "HELLO" too. */
    EXPECT_SEGS("c P. 3|s .|c P. 2|s .|s P. 5|c .");
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
}

Test(open_close, four_way_close_client_first)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    recorder_clear(r);
    us_close(p->a, c);
    run(US_SEC(1));
    char got[8];
    cr_assert_eq(us_recv(p->b, s, got, sizeof(got), 0), 0, "EOF after the peer's FIN");
    us_close(p->b, s);
    run(US_SEC(1));
    EXPECT_SEGS("c F.|s .|s F.|c .");
    EXPECT_STATES("client", "FIN-WAIT-1|FIN-WAIT-2|TIME-WAIT");
    EXPECT_STATES("server", "CLOSE-WAIT|LAST-ACK|CLOSED");
    /* TIME-WAIT lasts 2MSL = 60 s. */
    run(US_SEC(57));
    EXPECT_STATES("client", "FIN-WAIT-1|FIN-WAIT-2|TIME-WAIT");
    run(US_SEC(2));
    EXPECT_STATES("client", "FIN-WAIT-1|FIN-WAIT-2|TIME-WAIT|CLOSED");
    us_close(p->b, l);
}

Test(open_close, four_way_close_server_first)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    recorder_clear(r);
    us_close(p->b, s);
    run(US_SEC(1));
    char got[8];
    cr_assert_eq(us_recv(p->a, c, got, sizeof(got), 0), 0);
    us_close(p->a, c);
    run(US_SEC(61));
    EXPECT_SEGS("s F.|c .|c F.|s .");
    EXPECT_STATES("server", "FIN-WAIT-1|FIN-WAIT-2|TIME-WAIT|CLOSED");
    EXPECT_STATES("client", "CLOSE-WAIT|LAST-ACK|CLOSED");
    us_close(p->b, l);
}

Test(open_close, three_segment_close)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    recorder_clear(r);
    us_close(p->a, c);
    /* The server reads EOF and closes at once: its ACK rides on its FIN. */
    char got[8];
    cr_assert_eq(us_recv(p->b, s, got, sizeof(got), 0), 0);
    us_close(p->b, s);
    run(US_SEC(61));
    EXPECT_SEGS("c F.|s F.|c .");
    EXPECT_STATES("client", "FIN-WAIT-1|TIME-WAIT|CLOSED");
    EXPECT_STATES("server", "CLOSE-WAIT|LAST-ACK|CLOSED");
    us_close(p->b, l);
}

Test(open_close, simultaneous_close)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    recorder_clear(r);
    us_close(p->a, c);
    us_close(p->b, s);
    run(US_SEC(61));
    /* The client's FIN reaches the server first, so the server ACKs first. */
    EXPECT_SEGS("c F.|s F.|s .|c .");
    EXPECT_STATES("client", "FIN-WAIT-1|CLOSING|TIME-WAIT|CLOSED");
    EXPECT_STATES("server", "FIN-WAIT-1|CLOSING|TIME-WAIT|CLOSED");
    us_close(p->b, l);
}

Test(open_close, simultaneous_open)
{
    int a = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int b = us_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in la = sin_of(0, 5000), lb = sin_of(0, 6000);
    cr_assert_eq(us_bind(p->a, a, (struct sockaddr *)&la, sizeof(la)), 0);
    cr_assert_eq(us_bind(p->b, b, (struct sockaddr *)&lb, sizeof(lb)), 0);
    /* Both sides know each other's address; ARP first so the SYNs cross. */
    us_ping_send(p->a, PAIR_B_IP, 1, 1, 8);
    run(US_SEC(1));
    recorder_clear(r);
    struct sockaddr_in ta = sin_of(PAIR_B_IP, 6000), tb = sin_of(PAIR_A_IP, 5000);
    cr_assert_eq(us_connect(p->a, a, (struct sockaddr *)&ta, sizeof(ta)), -1);
    cr_assert_eq(errno, EINPROGRESS);
    cr_assert_eq(us_connect(p->b, b, (struct sockaddr *)&tb, sizeof(tb)), -1);
    cr_assert_eq(errno, EINPROGRESS);
    run(US_SEC(1));
    /* RFC 9293: each SYN,ACK arrives below RCV.NXT (its SYN was already
     * received), fails the acceptability test and is answered with an ACK;
     * those ACKs complete the handshake. Linux sends the same six. */
    EXPECT_SEGS("c S|s S|s S.|c S.|s .|c .");
    EXPECT_STATES("client", "SYN-SENT|SYN-RECEIVED|ESTABLISHED");
    EXPECT_STATES("server", "SYN-SENT|SYN-RECEIVED|ESTABLISHED");
    cr_assert_eq(us_send(p->a, a, "x", 1, 0), 1);
    run(US_SEC(1));
    char got[4];
    cr_assert_eq(us_recv(p->b, b, got, sizeof(got), 0), 1);
    us_close(p->a, a);
    us_close(p->b, b);
}

Test(open_close, half_close_server_keeps_sending)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    recorder_clear(r);
    cr_assert_eq(us_shutdown(p->a, c, SHUT_WR), 0);
    run(US_SEC(1));
    char got[64];
    cr_assert_eq(us_recv(p->b, s, got, sizeof(got), 0), 0, "the server sees EOF");
    /* The other direction still flows. */
    for (int i = 0; i < 3; i++) cr_assert_eq(us_send(p->b, s, "more", 4, 0), 4);
    run(US_SEC(1));
    cr_assert_eq(us_recv(p->a, c, got, sizeof(got), MSG_WAITALL), 12);
    cr_assert_eq(us_send(p->a, c, "x", 1, 0), -1, "no sending after SHUT_WR");
    cr_assert_eq(errno, EPIPE);
    us_close(p->b, s);
    run(US_SEC(1));
    cr_assert_eq(us_recv(p->a, c, got, sizeof(got), 0), 0);
    EXPECT_STATES("client", "FIN-WAIT-1|FIN-WAIT-2|TIME-WAIT");
    EXPECT_STATES("server", "CLOSE-WAIT|LAST-ACK|CLOSED");
    us_close(p->a, c);
    us_close(p->b, l);
}

Test(open_close, time_wait_holds_the_port_until_2msl)
{
    int one = 1;
    /* The server sets SO_REUSEADDR, as servers do: on Linux a TIME-WAIT
     * entry lets a new socket bind only if both set it. */
    int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    us_setsockopt(p->b, l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = sin_of(0, 80);
    cr_assert_eq(us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(us_listen(p->b, l, 4), 0);
    int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int s = us_accept(p->b, l, NULL, NULL);
    cr_assert(s >= 0);
    /* The server closes first, so the server holds TIME-WAIT on port 80. */
    us_close(p->b, l);
    us_close(p->b, s);
    run(US_SEC(1));
    us_close(p->a, c);
    run(US_SEC(1));
    int n = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(us_bind(p->b, n, (struct sockaddr *)&a, sizeof(a)), -1);
    cr_assert_eq(errno, EADDRINUSE);
    int m = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    us_setsockopt(p->b, m, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    cr_assert_eq(us_bind(p->b, m, (struct sockaddr *)&a, sizeof(a)), 0, "SO_REUSEADDR: %s",
                 strerror(errno));
    us_close(p->b, m);
    run(US_SEC(59));
    cr_assert_eq(us_bind(p->b, n, (struct sockaddr *)&a, sizeof(a)), 0, "after 2MSL: %s",
                 strerror(errno));
    us_close(p->b, n);
}

Test(open_close, lost_final_ack_is_resent_from_time_wait)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    r->with_lost = true;
    us_close(p->a, c);
    run(US_SEC(1));
    recorder_clear(r);
    /* The client's final ACK is lost. */
    struct us_faults f = {.loss = 100};
    us_wire_set_faults(p->w, p->pa, &f);
    us_close(p->b, s);
    run(US_MSEC(20)); /* long enough to lose that ACK, not the next */
    struct us_faults none = {0};
    us_wire_set_faults(p->w, p->pa, &none);
    run(US_SEC(5));
    EXPECT_SEGS("s F.|c .|(lost)|s F.|c .");
    EXPECT_STATES("server", "LAST-ACK|CLOSED");
    cr_assert_eq(us_stack_counter(p->b, US_C_tcp_retransmits), 1);
    us_close(p->b, l);
}

Test(open_close, connect_to_closed_port_is_refused)
{
    int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(PAIR_B_IP, 81);
    cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&a, sizeof(a)), -1);
    cr_assert_eq(errno, ECONNREFUSED);
    EXPECT_SEGS("c S|s R.");
    EXPECT_STATES("client", "SYN-SENT|CLOSED");
    us_close(p->a, c);
}

Test(open_close, syn_to_silent_peer_times_out_with_backoff)
{
    /* A silent peer also stops answering ARP, and after the neighbour entry
     * fails (about 63 s) the SYNs would wait on ARP instead of reaching the
     * wire; this test is about TCP's backoff, so ARP entries live longer. */
    recorder_detach(r);
    pair_free(p);
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.arp_timeout = US_SEC(1000);
    p = pair_new_mtu(1, NULL, NULL, 1500, &cfg);
    r = recorder_attach(p);
    us_ping_send(p->a, PAIR_B_IP, 1, 1, 8); /* ARP first: SYNs go on the wire */
    run(US_SEC(1));
    recorder_clear(r);
    us_wire_set_down(p->w, p->pb, true);
    us_time_t t0 = us_wire_now(p->w);
    int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(PAIR_B_IP, 80);
    cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&a, sizeof(a)), -1);
    cr_assert_eq(errno, ETIMEDOUT);
    /* 6 retries: SYNs at 0, 1, 3, 7, 15, 31, 63 s; give up at 127 s. */
    static const unsigned at[] = {0, 1, 3, 7, 15, 31, 63};
    unsigned k = 0;
    for (unsigned i = 0; i < r->n; i++) {
        if (strcmp(r->ev[i].text, "c S")) continue;
        cr_assert(k < 7);
        cr_assert_eq(r->ev[i].time - t0, US_SEC(at[k]), "SYN %u at %llu us", k,
                     (unsigned long long)(r->ev[i].time - t0));
        k++;
    }
    if (k != 7) recorder_dump(r);
    cr_assert_eq(k, 7);
    cr_assert_eq(us_wire_now(p->w) - t0, US_SEC(127));
    us_close(p->a, c);
}

Test(open_close, unplugged_cable_and_restarted_server_reset)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    /* The cable is pulled; the server reboots (loses every connection);
     * the cable is plugged back. */
    us_wire_set_down(p->w, p->pb, true);
    cr_assert_eq(us_stack_teardown(p->b), 0);
    us_wire_set_down(p->w, p->pb, false);
    recorder_clear(r);
    cr_assert_eq(us_send(p->a, c, "anyone?", 7, 0), 7);
    run(US_SEC(1));
    EXPECT_SEGS("c P. 7|s R");
    char got[8];
    cr_assert_eq(us_recv(p->a, c, got, sizeof(got), 0), -1);
    cr_assert_eq(errno, ECONNRESET);
    EXPECT_STATES("client", "CLOSED");
    us_close(p->a, c);
}

Test(open_close, abortive_close_with_linger_zero)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    recorder_clear(r);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    cr_assert_eq(us_setsockopt(p->a, c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    us_close(p->a, c);
    run(US_SEC(1));
    EXPECT_SEGS("c R.");
    EXPECT_STATES("client", "CLOSED");
    EXPECT_STATES("server", "CLOSED");
    char got[8];
    cr_assert_eq(us_recv(p->b, s, got, sizeof(got), 0), -1);
    cr_assert_eq(errno, ECONNRESET);
    us_close(p->b, s);
    us_close(p->b, l);
}

Test(open_close, close_with_unread_data_sends_rst)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    cr_assert_eq(us_send(p->a, c, "unread", 6, 0), 6);
    run(US_SEC(1));
    recorder_clear(r);
    us_close(p->b, s);
    run(US_SEC(1));
    EXPECT_SEGS("s R.");
    char got[8];
    cr_assert_eq(us_recv(p->a, c, got, sizeof(got), 0), -1);
    cr_assert_eq(errno, ECONNRESET);
    us_close(p->a, c);
    us_close(p->b, l);
}
