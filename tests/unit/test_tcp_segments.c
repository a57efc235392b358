/* The engine's exact segments, spoken at one stack: option layout, probes,
 * RFC 5961, PAWS, the window rules, TIME-WAIT, wrap-around near 2^32. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "tcp/tcp.h"
#include "testlib.h"

static struct solo *t;
static void setup(void)
{
    t = solo_new(5);
}
static void teardown(void)
{
    solo_free(t);
}
TestSuite(segments, .init = setup, .fini = teardown);

static const struct tseg linux_syn = {.mss_on = true,
                                      .mss = 1460,
                                      .sack_ok = true,
                                      .ts_on = true,
                                      .ts_val = 1000,
                                      .ws_on = true,
                                      .ws = 7,
                                      .wnd = 64240};
static const struct tseg plain_syn = {.mss_on = true, .mss = 1460, .wnd = 65535};

#define PORT 80

static void in(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd, const char *data)
{
    struct tseg s = {.flags = flags, .seq = seq, .ack = ack, .wnd = wnd};
    if (data) {
        s.data = (const uint8_t *)data;
        s.len = (uint32_t)strlen(data);
    }
    seg_in(t, PORT, &s);
}

Test(segments, synack_options_are_laid_out_like_linux)
{
    uint32_t isn;
    solo_learn_peer(t);
    int l = us_socket(t->s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, PORT);
    us_bind(t->s, l, (struct sockaddr *)&a, sizeof(a));
    us_listen(t->s, l, 4);
    struct tseg syn = linux_syn;
    syn.flags = TH_SYN;
    syn.seq = 5000;
    seg_in(t, PORT, &syn);
    struct tseg sa;
    cr_assert(seg_out(t, &sa));
    isn = sa.seq;
    (void)isn;
    cr_assert(strncmp(sa.optstr, "mss 1460,sackOK,TS val ", 23) == 0, "got [%s]", sa.optstr);
    cr_assert(strstr(sa.optstr, "ecr 1000,nop,wscale 7"), "got [%s]", sa.optstr);
    cr_assert_eq(sa.wnd, 65160, "like Linux: whole segments of 1448 bytes");
    us_close(t->s, l);
}

Test(segments, full_segment_with_sack_blocks_fits_the_mtu)
{
    /* Regression: a full-sized retransmission carrying SACK blocks once
     * exceeded the MTU and was dropped below TCP, forever. */
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &linux_syn, &isn);
    /* The peer's data arrives out of order, so our segments carry SACK. */
    in(TH_ACK, 1001 + 100, isn + 1, 1000, "out of order");
    struct tseg o;
    while (seg_out(t, &o)) {
    }
    static uint8_t big[12000];
    cr_assert_eq(us_send(t->s, fd, big, sizeof(big), MSG_DONTWAIT), (ssize_t)sizeof(big));
    unsigned n = 0;
    while (seg_out(t, &o)) {
        cr_assert(o.ip_len <= 1500, "segment of %zu bytes exceeds the MTU", o.ip_len);
        if (o.len) {
            cr_assert(o.n_sack > 0, "data segments carry the SACK block");
            n++;
        }
    }
    cr_assert(n > 0);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_ip_too_big), 0);
    us_close(t->s, fd);
}

Test(segments, zero_window_probes_at_snd_una_minus_one_with_backoff)
{
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    in(TH_ACK, 1001, isn + 1, 0, NULL); /* the peer's window closes */
    cr_assert_eq(us_send(t->s, fd, "data", 4, MSG_DONTWAIT), 4);
    struct tseg o;
    cr_assert(!seg_out(t, &o), "nothing goes into a zero window");
    us_time_t last = us_stack_now(t->s), gap_prev = 0;
    for (int i = 0; i < 5; i++) {
        us_time_t next = us_stack_next_timer(t->s);
        solo_advance(t, next);
        cr_assert(seg_out(t, &o), "probe %d", i);
        cr_assert_eq(o.seq, isn, "Linux's probe: SEG.SEQ = SND.UNA - 1");
        cr_assert_eq(o.len, 0);
        cr_assert_eq(o.flags, TH_ACK);
        us_time_t gap = us_stack_now(t->s) - last;
        if (i > 0)
            cr_assert_eq(gap, 2 * gap_prev, "backoff doubles: %llu then %llu",
                         (unsigned long long)gap_prev, (unsigned long long)gap);
        gap_prev = gap;
        last = us_stack_now(t->s);
        in(TH_ACK, 1001, isn + 1, 0, NULL); /* still zero */
    }
    /* The window opens: the data goes at once. */
    in(TH_ACK, 1001, isn + 1, 1000, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.len, 4);
    cr_assert_eq(o.seq, isn + 1);
    us_close(t->s, fd);
}

Test(segments, keepalive_probe_form_and_timing)
{
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    int one = 1, idle = 100, intvl = 10, cnt = 3;
    us_setsockopt(t->s, fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    us_setsockopt(t->s, fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    us_setsockopt(t->s, fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    us_setsockopt(t->s, fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    us_time_t t0 = us_stack_now(t->s);
    struct tseg o;
    for (int i = 0; i < 3; i++) {
        solo_advance(t, t0 + US_SEC(100 + 10 * i) - 1);
        cr_assert(!seg_out(t, &o), "probe %d early", i);
        solo_advance(t, t0 + US_SEC(100 + 10 * i));
        bool got = seg_out(t, &o);
        if (!got)
            fprintf(stderr, "now %llu next timer %llu\n", (unsigned long long)us_stack_now(t->s),
                    (unsigned long long)us_stack_next_timer(t->s));
        cr_assert(got, "probe %d at idle + %d*intvl", i, i);
        cr_assert_eq(o.seq, isn, "SEG.SEQ = SND.NXT - 1");
        cr_assert_eq(o.len, 0);
    }
    solo_advance(t, t0 + US_SEC(130));
    cr_assert(seg_out(t, &o), "the connection is reset when it gives up");
    cr_assert(o.flags & TH_RST);
    char b[4];
    cr_assert_eq(us_recv(t->s, fd, b, 4, MSG_DONTWAIT), -1);
    cr_assert_eq(errno, ETIMEDOUT);
    us_close(t->s, fd);
}

Test(segments, rfc5961_rst_handling)
{
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    struct tseg o;
    /* Out of window: silently dropped. */
    in(TH_RST, 1001 + 1000000, 0, 0, NULL);
    cr_assert(!seg_out(t, &o));
    /* In window but not exact: a challenge ACK. */
    in(TH_RST, 1001 + 10, 0, 0, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_ACK);
    cr_assert_eq(o.ack, 1001);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_challenge_acks), 1);
    /* A SYN in ESTABLISHED: a challenge ACK, never a reset. */
    in(TH_SYN, 5, 0, 1000, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_ACK);
    /* Exact: the connection is reset; no RST goes back. */
    in(TH_RST, 1001, 0, 0, NULL);
    cr_assert(!seg_out(t, &o), "never a RST in reply to a RST");
    char b[4];
    cr_assert_eq(us_recv(t->s, fd, b, 4, MSG_DONTWAIT), -1);
    cr_assert_eq(errno, ECONNRESET);
    us_close(t->s, fd);
}

Test(segments, challenge_acks_are_rate_limited)
{
    us_stack_tcp_config(t->s)->challenge_ack_limit = 5;
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    for (int i = 0; i < 20; i++) in(TH_RST, 1001 + 10, 0, 0, NULL);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_challenge_acks), 5);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_challenge_ratelimited), 15);
    us_close(t->s, fd);
}

Test(segments, paws_drops_an_old_timestamp)
{
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &linux_syn, &isn);
    struct tseg s = {.flags = TH_ACK | TH_PSH,
                     .seq = 1001,
                     .ack = isn + 1,
                     .wnd = 1000,
                     .ts_on = true,
                     .ts_val = 2000,
                     .data = (const uint8_t *)"new",
                     .len = 3};
    seg_in(t, PORT, &s);
    struct tseg old = s;
    old.seq = 1004;
    old.ts_val = 1500; /* older than TS.Recent */
    old.data = (const uint8_t *)"old";
    seg_in(t, PORT, &old);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_paws_rejected), 1);
    char b[8];
    cr_assert_eq(us_recv(t->s, fd, b, sizeof(b), MSG_DONTWAIT), 3);
    cr_assert(memcmp(b, "new", 3) == 0);
    us_close(t->s, fd);
}

Test(segments, receive_window_never_shrinks_and_data_beyond_it_is_dropped)
{
    uint32_t isn;
    struct tseg syn = plain_syn;
    int fd = solo_accept_conn(t, PORT, 1000, &syn, &isn);
    struct tseg o;
    while (seg_out(t, &o)) {
    }
    /* Fill the buffer without reading; track the right edge we advertise. */
    static uint8_t chunk[1460];
    uint32_t seq = 1001, edge = 0;
    for (int i = 0; i < 200; i++) {
        struct tseg d = {.flags = TH_ACK,
                         .seq = seq,
                         .ack = isn + 1,
                         .wnd = 1000,
                         .data = chunk,
                         .len = sizeof(chunk)};
        seg_in(t, PORT, &d);
        solo_advance(t, us_stack_now(t->s) + US_MSEC(50));
        while (seg_out(t, &o)) {
            uint32_t e = o.ack + o.wnd; /* no window scaling here */
            cr_assert(!edge || seq_geq(e, edge), "the right edge moved left: %u < %u", e, edge);
            edge = e;
        }
        seq += sizeof(chunk);
        if (seq_geq(seq, edge) && edge) break;
    }
    /* Data entirely beyond the window is not accepted. */
    uint32_t before = 0;
    int v;
    us_ioctl(t->s, fd, SIOCINQ, &v);
    before = (uint32_t)v;
    struct tseg d = {.flags = TH_ACK,
                     .seq = edge + 5000,
                     .ack = isn + 1,
                     .wnd = 1000,
                     .data = chunk,
                     .len = 100};
    seg_in(t, PORT, &d);
    us_ioctl(t->s, fd, SIOCINQ, &v);
    cr_assert_eq((uint32_t)v, before);
    cr_assert(us_stack_counter(t->s, US_C_drop_tcp_unacceptable) > 0);
    us_close(t->s, fd);
}

Test(segments, sequence_numbers_wrap_at_2_32)
{
    uint32_t isn;
    uint32_t peer_isn = 0xfffffff0u;
    int fd = solo_accept_conn(t, PORT, peer_isn, &plain_syn, &isn);
    const char *parts[] = {"0123456789", "abcdefghij", "KLMNOPQRST"};
    uint32_t seq = peer_isn + 1;
    for (int i = 0; i < 3; i++) {
        in(TH_ACK | TH_PSH, seq, isn + 1, 1000, parts[i]);
        seq += 10;
    }
    char b[64];
    ssize_t got = us_recv(t->s, fd, b, sizeof(b), MSG_DONTWAIT);
    cr_assert_eq(got, 30, "got %zd", got);
    cr_assert(memcmp(b, "0123456789abcdefghijKLMNOPQRST", 30) == 0);
    solo_advance(t, us_stack_now(t->s) + US_MSEC(40)); /* the delayed ACK */
    struct tseg o, last = {0};
    while (seg_out(t, &o)) last = o;
    cr_assert_eq(last.ack, peer_isn + 31, "ACK wrapped past zero (got %u)", last.ack);
    us_close(t->s, fd);
}

Test(segments, out_of_order_then_gap_filled_and_dsack)
{
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &linux_syn, &isn);
    struct tseg o;
    struct tseg s = {.flags = TH_ACK,
                     .seq = 1011,
                     .ack = isn + 1,
                     .wnd = 1000,
                     .ts_on = true,
                     .ts_val = 2000,
                     .data = (const uint8_t *)"world",
                     .len = 5};
    seg_in(t, PORT, &s);
    cr_assert(seg_out(t, &o), "an out-of-order segment is acknowledged at once");
    cr_assert_eq(o.ack, 1001);
    cr_assert_eq(o.n_sack, 1);
    cr_assert_eq(o.sack[0][0], 1011);
    cr_assert_eq(o.sack[0][1], 1016);
    s.seq = 1001;
    s.data = (const uint8_t *)"hello pad.";
    s.len = 10;
    seg_in(t, PORT, &s);
    cr_assert(seg_out(t, &o), "filling the gap is acknowledged at once");
    cr_assert_eq(o.ack, 1016);
    char b[32];
    cr_assert_eq(us_recv(t->s, fd, b, sizeof(b), MSG_DONTWAIT), 15);
    /* The same bytes again: a D-SACK names them (RFC 2883). */
    seg_in(t, PORT, &s);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.n_sack, 1);
    cr_assert_eq(o.sack[0][0], 1001);
    cr_assert_eq(o.sack[0][1], 1011);
    us_close(t->s, fd);
}

Test(segments, delayed_ack_and_every_second_segment)
{
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &plain_syn, &isn);
    struct tseg o;
    static uint8_t full[1460];
    /* A fresh connection ACKs its first segments at once (quick-ACK mode). */
    struct tseg q = {
        .flags = TH_ACK, .seq = 1001, .ack = isn + 1, .wnd = 1000, .data = full, .len = 100};
    seg_in(t, PORT, &q);
    cr_assert(seg_out(t, &o), "quick ACK");
    int zero = 0;
    us_setsockopt(t->s, fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
    struct tseg d = {.flags = TH_ACK,
                     .seq = 1101,
                     .ack = isn + 1,
                     .wnd = 1000,
                     .data = full,
                     .len = sizeof(full)};
    seg_in(t, PORT, &d);
    cr_assert(!seg_out(t, &o), "one segment: the ACK waits");
    d.seq += sizeof(full);
    seg_in(t, PORT, &d);
    cr_assert(seg_out(t, &o), "a second full segment: ACK at once");
    cr_assert_eq(o.ack, 1101 + 2 * 1460);
    d.seq += sizeof(full);
    d.len = 10;
    seg_in(t, PORT, &d);
    cr_assert(!seg_out(t, &o));
    us_time_t t0 = us_stack_now(t->s);
    solo_advance(t, t0 + US_MSEC(39));
    cr_assert(!seg_out(t, &o));
    solo_advance(t, t0 + US_MSEC(40));
    cr_assert(seg_out(t, &o), "the delayed ACK after 40 ms");
    us_close(t->s, fd);
}

Test(segments, time_wait_ignores_rst_reacks_fin_and_accepts_newer_syn)
{
    uint32_t isn;
    int l;
    int fd = solo_accept_conn_l(t, PORT, 1000, &plain_syn, &isn, &l);
    struct tseg o;
    /* We close first, the peer closes: we hold TIME-WAIT. */
    us_close(t->s, fd);
    cr_assert(seg_out(t, &o));
    cr_assert(o.flags & TH_FIN);
    in(TH_ACK, 1001, isn + 2, 1000, NULL);
    in(TH_ACK | TH_FIN, 1001, isn + 2, 1000, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.ack, 1002);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_tw_entered), 1);
    /* RFC 1337: a RST does not end TIME-WAIT. */
    in(TH_RST, 1002, 0, 0, NULL);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_tw_rst_ignored), 1);
    /* The FIN again (our ACK was lost): ACKed again. */
    in(TH_ACK | TH_FIN, 1001, isn + 2, 1000, NULL);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_ACK);
    cr_assert_eq(o.ack, 1002);
    /* RFC 6191: with the listener still there, a SYN from the same peer
     * port with a higher sequence number starts a new connection. */
    struct tseg syn = plain_syn;
    syn.flags = TH_SYN;
    syn.seq = 900; /* not newer */
    seg_in(t, PORT, &syn);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_ACK,
                 "an old SYN gets an ACK from TIME-WAIT (got flags %x seq %u ack %u)", o.flags,
                 o.seq, o.ack);
    syn.seq = 500000;
    seg_in(t, PORT, &syn);
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.flags, TH_SYN | TH_ACK, "a newer SYN starts a new connection");
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_tw_recycled), 1);
    us_close(t->s, l);
}

Test(segments, scaled_window_closes_under_dribbling_with_bounded_creep)
{
    /* Regression: rounding the scaled window up (to keep the right edge
     * from moving left) lets the edge creep by up to 127 bytes per segment.
     * Unbounded, a peer sending a few bytes at a time was never told the
     * buffer is full and we overran our own ring; the ring's capacity now
     * bounds the creep: the window closes and nothing inside it is lost. */
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &linux_syn, &isn);
    int small = 4096;
    us_setsockopt(t->s, fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct tseg o;
    uint32_t seq = 1001, first_edge = 0, max_edge = 0;
    bool closed = false;
    static uint8_t chunk[1000];
    /* Fill most of the promise with big segments, then dribble. */
    for (int i = 0; i < 3000 && !closed; i++) {
        uint32_t n = i < 60 ? sizeof(chunk) : 10;
        struct tseg d = {.flags = TH_ACK,
                         .seq = seq,
                         .ack = isn + 1,
                         .wnd = 1000,
                         .ts_on = true,
                         .ts_val = 2000 + (uint32_t)i,
                         .data = chunk,
                         .len = n};
        seg_in(t, PORT, &d);
        solo_advance(t, us_stack_now(t->s) + US_MSEC(50));
        while (seg_out(t, &o)) {
            uint32_t edge = o.ack + ((uint32_t)o.wnd << 7);
            if (!first_edge) first_edge = edge;
            if (seq_gt(edge, max_edge) || !max_edge) max_edge = edge;
            if (o.wnd == 0) closed = true;
        }
        seq += n;
    }
    cr_assert(closed, "the window never closed");
    cr_assert(max_edge - first_edge <= 65536, "the right edge crept by %u bytes",
              max_edge - first_edge);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_tcp_rcvbuf), 0,
                 "data inside the advertised window must fit the ring");
    us_close(t->s, fd);
}

Test(segments, data_sent_into_the_shown_window_is_taken_and_later_acks_count)
{
    /* Regression (found against the Linux kernel): we showed a rounded-up
     * scaled window, the kernel sent into it, we refused those bytes as
     * beyond our (quietly smaller) window -- and then every kernel ACK,
     * carrying a sequence number past our edge, failed the acceptability
     * test and was never processed. What the peer is shown is honoured. */
    uint32_t isn;
    int fd = solo_accept_conn(t, PORT, 1000, &linux_syn, &isn);
    int small = 4096;
    us_setsockopt(t->s, fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    static uint8_t chunk[1000];
    struct tseg o;
    uint32_t seq = 1001, edge = 0;
    for (int i = 0; i < 200; i++) {
        struct tseg d = {.flags = TH_ACK,
                         .seq = seq,
                         .ack = isn + 1,
                         .wnd = 1000,
                         .ts_on = true,
                         .ts_val = 2000 + (uint32_t)i,
                         .data = chunk,
                         .len = sizeof(chunk)};
        if (edge && seq_gt(seq + sizeof(chunk), edge)) d.len = edge - seq; /* exactly to the edge */
        if (!d.len) break;
        seg_in(t, PORT, &d);
        seq += d.len;
        solo_advance(t, us_stack_now(t->s) + US_MSEC(50));
        while (seg_out(t, &o)) edge = o.ack + ((uint32_t)o.wnd << 7);
    }
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_tcp_rcvbuf), 0,
                 "data inside the shown window fits");
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_tcp_unacceptable), 0,
                 "nothing sent into it refused");
    /* We send; the peer acknowledges with its SEG.SEQ at our window's edge. */
    cr_assert_eq(us_send(t->s, fd, "reply", 5, MSG_DONTWAIT), 5);
    while (seg_out(t, &o)) {
    }
    struct tseg a = {.flags = TH_ACK,
                     .seq = seq,
                     .ack = isn + 1 + 5,
                     .wnd = 1000,
                     .ts_on = true,
                     .ts_val = 5000};
    seg_in(t, PORT, &a);
    int unacked = -1;
    cr_assert_eq(us_ioctl(t->s, fd, SIOCOUTQ, &unacked), 0);
    cr_assert_eq(unacked, 0, "the peer's ACK was processed");
    us_close(t->s, fd);
}

/* ---- tail loss probes (RFC 8985 §7) and early retransmit (RFC 5827) ---- */

/* An accepted connection with SACK, no timestamps, whose handshake took
 * 30 ms: SRTT 30 ms, RTO 200 ms (the minimum). TCP_NODELAY set. */
static int accept_rtt30(uint32_t *isn)
{
    solo_learn_peer(t);
    int l = us_socket(t->s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(0, PORT);
    cr_assert_eq(us_bind(t->s, l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(us_listen(t->s, l, 4), 0);
    struct tseg syn = {
        .flags = TH_SYN, .seq = 1000, .mss_on = true, .mss = 1460, .sack_ok = true, .wnd = 65535};
    seg_in(t, PORT, &syn);
    struct tseg sa;
    cr_assert(seg_out(t, &sa));
    *isn = sa.seq;
    solo_advance(t, us_stack_now(t->s) + US_MSEC(30));
    in(TH_ACK, 1001, sa.seq + 1, 65535, NULL);
    int fd = us_accept(t->s, l, NULL, NULL);
    cr_assert(fd >= 0);
    us_close(t->s, l);
    int one = 1;
    us_setsockopt(t->s, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct us_tcp_info ti;
    socklen_t len = sizeof(ti);
    us_getsockopt(t->s, fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
    cr_assert_eq(ti.srtt, 30000);
    cr_assert_eq(ti.rto, 200000);
    return fd;
}

static void send_segments(int fd, unsigned n)
{
    static const char k[1000];
    struct tseg o;
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(us_send(t->s, fd, k, sizeof(k), MSG_DONTWAIT), 1000);
        cr_assert(seg_out(t, &o));
        cr_assert_eq(o.len, 1000);
    }
}

Test(segments, a_lost_tail_draws_a_probe_then_an_early_retransmit)
{
    uint32_t isn;
    int fd = accept_rtt30(&isn);
    send_segments(fd, 4);
    us_time_t t0 = us_stack_now(t->s);
    /* The first two arrive and are ACKed 30 ms later; the last two are lost. */
    solo_advance(t, t0 + US_MSEC(30));
    in(TH_ACK, 1001, isn + 2001, 65535, NULL);
    struct tseg o;
    cr_assert(!seg_out(t, &o));
    /* Two segments out: PTO = 2*SRTT, 60 ms from the ACK, not the RTO. */
    us_time_t acked = us_stack_now(t->s);
    solo_advance(t, acked + US_MSEC(60) - 1);
    cr_assert(!seg_out(t, &o), "sent %u bytes at %u before the PTO", o.len, o.seq - isn);
    solo_advance(t, acked + US_MSEC(60));
    cr_assert(seg_out(t, &o), "no probe");
    cr_assert_eq(o.seq, isn + 3001, "the probe is the last segment sent");
    cr_assert_eq(o.len, 1000);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_loss_probes), 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_rto_expired), 0);
    /* Its ACK SACKs it: two segments outstanding, nothing new to send, so
     * one SACKed segment calls the other lost (RFC 5827 §3.2). */
    solo_advance(t, us_stack_now(t->s) + US_MSEC(30));
    struct tseg d = {.flags = TH_ACK,
                     .seq = 1001,
                     .ack = isn + 2001,
                     .wnd = 65535,
                     .n_sack = 1,
                     .sack = {{isn + 3001, isn + 4001}}};
    seg_in(t, PORT, &d);
    cr_assert(seg_out(t, &o), "no early retransmit");
    cr_assert_eq(o.seq, isn + 2001);
    cr_assert_eq(o.len, 1000);
    cr_assert(!seg_out(t, &o), "only the hole goes");
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_early_retransmits), 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_fast_retransmits), 1);
    us_close(t->s, fd);
}

Test(segments, one_segment_out_probes_at_the_rto_then_times_out)
{
    /* One segment out: the peer may be holding a delayed ACK, so PTO =
     * 2*SRTT + 200 ms = 260 ms, capped at the RTO (200 ms). When it fires
     * it still probes (RFC 8985 §7.2-7.3); the RTO proper comes after. */
    uint32_t isn;
    int fd = accept_rtt30(&isn);
    send_segments(fd, 1);
    us_time_t t0 = us_stack_now(t->s);
    struct tseg o;
    solo_advance(t, t0 + US_MSEC(200) - 1);
    cr_assert(!seg_out(t, &o), "nothing before the RTO");
    solo_advance(t, t0 + US_MSEC(200));
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.seq, isn + 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_loss_probes), 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_rto_expired), 0);
    /* No second probe for the same tail: next is the timeout, one RTO
     * after the probe. */
    solo_advance(t, t0 + US_MSEC(400));
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.seq, isn + 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_loss_probes), 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_rto_expired), 1);
    us_close(t->s, fd);
}

Test(segments, without_tlp_the_rto_comes_first)
{
    us_stack_tcp_config(t->s)->tlp = false;
    uint32_t isn;
    int fd = accept_rtt30(&isn);
    send_segments(fd, 4);
    us_time_t t0 = us_stack_now(t->s);
    struct tseg o;
    solo_advance(t, t0 + US_MSEC(200) - 1);
    cr_assert(!seg_out(t, &o), "nothing before the RTO");
    solo_advance(t, t0 + US_MSEC(200));
    cr_assert(seg_out(t, &o));
    cr_assert_eq(o.seq, isn + 1, "the timeout resends the first segment");
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_rto_expired), 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_loss_probes), 0);
    us_close(t->s, fd);
}

/* ---- a lost retransmission found by SACK, not by the RTO ---- */

/* Sends a duplicate ACK of `ack` whose SACK blocks cover [lo, hi). */
static void dup_sack(uint32_t ack, uint32_t lo, uint32_t hi)
{
    struct tseg d = {
        .flags = TH_ACK, .seq = 1001, .ack = ack, .wnd = 65535, .n_sack = 1, .sack = {{lo, hi}}};
    seg_in(t, PORT, &d);
}

Test(segments, a_lost_retransmission_is_sent_again_once_later_data_is_sacked)
{
    uint32_t isn;
    int fd = accept_rtt30(&isn);
    static const char k[40000];
    int big = 65536;
    us_setsockopt(t->s, fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    cr_assert_eq(us_send(t->s, fd, k, sizeof(k), MSG_DONTWAIT), (ssize_t)sizeof(k));
    struct tseg o;
    uint32_t first_end = 0, n = 0, una = isn + 1;
    while (seg_out(t, &o)) {
        first_end = o.seq + o.len;
        n++;
    }
    cr_assert_eq(n, 10, "the initial window is ten segments");
    uint32_t mss = (first_end - una) / n;
    /* The first segment is lost; the next three arrive: fast retransmit. */
    solo_advance(t, us_stack_now(t->s) + US_MSEC(30));
    unsigned rtx = 0;
    for (uint32_t i = 1; i <= 3; i++) {
        dup_sack(una, una + mss, una + (i + 1) * mss);
        while (seg_out(t, &o)) rtx += o.seq == una;
    }
    cr_assert_eq(rtx, 1, "one fast retransmission of the first segment");
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_fast_retransmits), 1);
    /* That retransmission is lost too. The rest of the first flight is
     * SACKed: the pipe drains and new data goes out -- sent after the
     * retransmission. None of this says the retransmission was lost. */
    uint32_t new_seq = 0;
    for (uint32_t i = 4; i < 10; i++) {
        dup_sack(una, una + mss, una + (i + 1) * mss);
        while (seg_out(t, &o)) {
            rtx += o.seq == una;
            if (!new_seq && o.seq >= first_end) new_seq = o.seq;
        }
    }
    cr_assert_eq(rtx, 1, "no second retransmission yet");
    cr_assert(new_seq, "new data went out during recovery");
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_lost_retransmits), 0);
    /* Data sent after the retransmission arrives while the retransmitted
     * hole is still missing: the retransmission was lost; it goes again
     * now, long before the RTO. */
    struct tseg d = {.flags = TH_ACK,
                     .seq = 1001,
                     .ack = una,
                     .wnd = 65535,
                     .n_sack = 2,
                     .sack = {{new_seq, new_seq + mss}, {una + mss, first_end}}};
    seg_in(t, PORT, &d);
    bool again = false;
    while (seg_out(t, &o)) again |= o.seq == una;
    cr_assert(again, "the lost retransmission was not sent again");
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_lost_retransmits), 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_rto_expired), 0);
    us_close(t->s, fd);
}
