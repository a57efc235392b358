/* The TCP engine's parts on their own: the RTO estimator (RFC 6298), the
 * reassembly ranges, the SACK scoreboard (RFC 6675), NewReno (RFC 5681) and
 * CUBIC (RFC 9438), and sequence arithmetic near 2^32. */
#include <criterion/criterion.h>
#include <math.h>

#include "tcp/tcp.h"
#include "testlib.h"

double cubic_window(double t_sec, double k_sec, double w_max_segs);
double cubic_k(double w_max_segs, double cwnd_epoch_segs);

static struct us_stack *stack(void)
{
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    return us_stack_new(&cfg);
}

/* ---- byte rings ---- */

Test(ring, capacity_is_the_next_power_of_two_from_64)
{
    cr_assert_eq(ring_round_cap(0), 64u);
    cr_assert_eq(ring_round_cap(1), 64u);
    cr_assert_eq(ring_round_cap(64), 64u);
    cr_assert_eq(ring_round_cap(65), 128u);
    cr_assert_eq(ring_round_cap(16384), 16384u);
    cr_assert_eq(ring_round_cap(16385), 32768u);
    cr_assert_eq(ring_round_cap(131072 + 1024), 262144u);
    cr_assert_eq(ring_round_cap(1u << 31), 1u << 31);
    for (uint32_t n = 1; n < 5000; n++) {
        uint32_t c = ring_round_cap(n);
        cr_assert(c >= n && c >= 64 && (c & (c - 1)) == 0 && (c == 64 || c / 2 < n), "n=%u", n);
    }
}

/* ---- options ---- */

Test(options, the_aligned_timestamp_layout_and_the_general_parser_agree)
{
    /* NOP, NOP, TS: taken by one comparison; the same with a leading
     * EOL-free variant (TS, NOP, NOP) goes the general way. Both must give
     * the same answer, and must clear what an earlier parse left. */
    const uint8_t fast[12] = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 1, 0};
    const uint8_t slow[12] = {8, 10, 0, 0, 0, 7, 0, 0, 1, 0, 1, 1};
    const uint8_t sack[12] = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2};
    struct tcp_opts a, b;
    cr_assert(tcp_parse_options(sack, sizeof(sack), false, &a));
    cr_assert_eq(a.n_sack, 1);
    cr_assert(tcp_parse_options(fast, sizeof(fast), false, &a));
    cr_assert(tcp_parse_options(slow, sizeof(slow), false, &b));
    cr_assert(a.has_ts && b.has_ts);
    cr_assert_eq(a.ts_val, 7u);
    cr_assert_eq(a.ts_ecr, 256u);
    cr_assert_eq(a.ts_val, b.ts_val);
    cr_assert_eq(a.ts_ecr, b.ts_ecr);
    cr_assert_eq(a.n_sack, 0);
    cr_assert(!a.has_mss && !a.has_ws && !a.sack_ok);
    /* A timestamp option with a wrong length is no timestamp. */
    const uint8_t bad[12] = {1, 1, 8, 9, 0, 0, 0, 7, 0, 0, 1, 1};
    cr_assert(tcp_parse_options(bad, sizeof(bad), false, &a));
    cr_assert(!a.has_ts);
}

/* ---- sequence numbers ---- */

Test(seq, comparisons_wrap_around)
{
    cr_assert(seq_lt(0xfffffff0u, 0x10u));
    cr_assert(seq_gt(0x10u, 0xfffffff0u));
    cr_assert(seq_leq(0xffffffffu, 0u));
    cr_assert(seq_in(0x2u, 0xfffffffeu, 0x5u));
    cr_assert(!seq_in(0x5u, 0xfffffffeu, 0x5u));
    cr_assert_eq(seq_max(0xfffffff0u, 0x10u), 0x10u);
}

/* ---- RTO ---- */

Test(rto, first_sample_and_smoothing_follow_rfc6298)
{
    struct us_stack *s = stack();
    struct tcb t = {0};
    rto_init(s, &t);
    cr_assert_eq(rto_current(s, &t), US_SEC(1), "RFC 6298 §2.1: 1 s before any sample");
    rto_sample(s, &t, US_MSEC(100));
    /* §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR = 300 ms. */
    cr_assert_eq(t.srtt, 100000);
    cr_assert_eq(t.rttvar, 50000);
    cr_assert_eq(t.rto, 300000);
    rto_sample(s, &t, US_MSEC(200));
    /* §2.3: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5. */
    cr_assert_eq(t.rttvar, 62500);
    cr_assert_eq(t.srtt, 112500);
    cr_assert_eq(t.rto, 112500 + 4 * 62500);
    us_stack_free(s);
}

Test(rto, bounded_by_min_and_max)
{
    struct us_stack *s = stack();
    struct tcb t = {0};
    rto_init(s, &t);
    rto_sample(s, &t, 1000); /* 1 ms: RTO would be 3 ms */
    cr_assert_eq(t.rto, 200000, "rto_min 200 ms, as Linux");
    struct tcb u = {0};
    rto_init(s, &u);
    rto_sample(s, &u, US_SEC(50)); /* 50 + 4*25 = 150 s */
    cr_assert_eq(u.rto, 120000000, "rto_max 120 s");
    us_stack_free(s);
}

Test(rto, backoff_doubles_and_is_capped)
{
    struct us_stack *s = stack();
    struct tcb t = {0};
    rto_init(s, &t);
    rto_sample(s, &t, US_MSEC(100)); /* 300 ms */
    t.backoff = 1;
    cr_assert_eq(rto_current(s, &t), 600000);
    t.backoff = 3;
    cr_assert_eq(rto_current(s, &t), 2400000);
    t.backoff = 30;
    cr_assert_eq(rto_current(s, &t), 120000000);
    us_stack_free(s);
}

/* ---- reassembly ---- */

Test(reass, merges_overlaps_and_fills_gaps)
{
    struct reass r = {0};
    seq_t base = 0xfffffff0u; /* across the wrap */
    cr_assert(reass_add(&r, base + 100, 50));
    cr_assert(reass_add(&r, base + 200, 50));
    cr_assert(reass_add(&r, base + 140, 20)); /* overlaps the first */
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.r[0].left, base + 100);
    cr_assert_eq(r.r[0].right, base + 160);
    cr_assert(reass_add(&r, base + 160, 40)); /* bridges both */
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.r[0].right, base + 250);
    cr_assert_eq(reass_bytes(&r), 150);
    /* rcv_nxt reaches 100: the 150 bytes become contiguous. */
    cr_assert_eq(reass_advance(&r, base + 100), 150);
    cr_assert_eq(r.n, 0);
}

Test(reass, duplicates_cost_nothing_and_ranges_are_bounded)
{
    struct reass r = {0};
    cr_assert(reass_add(&r, 1000, 100));
    cr_assert(reass_add(&r, 1000, 100));
    cr_assert(reass_add(&r, 1020, 10));
    cr_assert_eq(r.n, 1);
    cr_assert_eq(reass_bytes(&r), 100);
    for (unsigned i = 1; i < REASS_MAX_RANGES; i++) cr_assert(reass_add(&r, 1000 + i * 1000, 10));
    cr_assert_eq(r.n, REASS_MAX_RANGES);
    cr_assert(!reass_add(&r, 50000, 10), "a new range beyond the limit is refused");
    cr_assert(reass_add(&r, 1100, 5), "growing an existing range still works");
}

Test(reass, advance_over_partial_range)
{
    struct reass r = {0};
    reass_add(&r, 100, 100);
    /* In-order data reached 150 (overlapping the range): 50 more follow. */
    cr_assert_eq(reass_advance(&r, 150), 50);
    cr_assert_eq(r.n, 0);
}

Test(reass, sack_blocks_most_recent_first)
{
    struct reass r = {0};
    reass_add(&r, 1000, 10);
    reass_add(&r, 3000, 10);
    reass_add(&r, 2000, 10);
    struct sack_block b[4];
    unsigned n = reass_sack_blocks(&r, b, 4);
    cr_assert_eq(n, 3);
    cr_assert_eq(b[0].left, 2000, "RFC 2018 §4: the block of the latest segment first");
}

/* ---- SACK scoreboard ---- */

Test(sack, holes_and_lost_segments)
{
    struct scoreboard sb = {0};
    seq_t una = 10000, max = 20000;
    uint32_t mss = 1000;
    struct sack_block b[] = {{12000, 13000}, {14000, 16000}};
    sb_update(&sb, una, max, b, 2);
    cr_assert_eq(sb.sacked, 3000);
    seq_t hs, he;
    cr_assert(sb_next_hole(&sb, una, max, &hs, &he));
    cr_assert_eq(hs, 10000);
    cr_assert_eq(he, 12000);
    cr_assert(sb_next_hole(&sb, 12000, max, &hs, &he));
    cr_assert_eq(hs, 13000);
    cr_assert_eq(he, 14000);
    /* RFC 6675 IsLost: more than 2*SMSS SACKed above 10000 (3000 bytes). */
    cr_assert(sb_is_lost(&sb, 10000, mss));
    /* Above 13000 only 2000 bytes are SACKed: not yet lost. */
    cr_assert(!sb_is_lost(&sb, 13000, mss));
    cr_assert(sb_is_sacked(&sb, 15000));
    cr_assert(!sb_is_sacked(&sb, 13500));
    cr_assert_eq(sb_highest(&sb, una), 16000);
}

Test(sack, bogus_and_dsack_blocks_are_ignored_and_acks_trim)
{
    struct scoreboard sb = {0};
    struct sack_block b[] = {{5000, 6000}, {19000, 25000}, {12000, 11000}, {11000, 12000}};
    sb_update(&sb, 10000, 20000, b, 4);
    cr_assert_eq(sb.n, 1, "below SND.UNA, beyond SND.MAX and inverted blocks are dropped");
    cr_assert_eq(sb.r[0].left, 11000);
    sb_ack(&sb, 11500);
    cr_assert_eq(sb.r[0].left, 11500);
    cr_assert_eq(sb.sacked, 500);
    sb_ack(&sb, 12000);
    cr_assert_eq(sb.n, 0);
}

/* ---- congestion control ---- */

static struct tcb *ca_tcb(struct us_stack *s, int algo)
{
    static struct tcb t;
    static struct tcp_settings set;
    memset(&t, 0, sizeof(t));
    memset(&set, 0, sizeof(set));
    set.cc = (uint8_t)algo;
    t.set = &set;
    t.mss = 1000;
    t.snd_una = 1;
    t.snd_max = 1;
    cc_init(s, &t);
    return &t;
}

Test(cc, initial_window_is_ten_segments)
{
    struct us_stack *s = stack();
    struct tcb *t = ca_tcb(s, CC_NEWRENO);
    cr_assert_eq(t->cwnd, 10000, "RFC 6928: min(10*MSS, max(2*MSS, 14600))");
    t->mss = 1460;
    cc_init(s, t);
    cr_assert_eq(t->cwnd, 14600);
    us_stack_free(s);
}

Test(cc, newreno_slow_start_then_linear)
{
    struct us_stack *s = stack();
    struct tcb *t = ca_tcb(s, CC_NEWRENO);
    const struct cc_ops *cc = cc_ops_of(t);
    cc->on_ack(s, t, 1000, 0);
    cr_assert_eq(t->cwnd, 11000, "slow start: +1 SMSS per ACK of a segment");
    cc->on_ack(s, t, 5000, 0);
    cr_assert_eq(t->cwnd, 13000, "at most 2 SMSS per ACK (RFC 3465's L, allowed by RFC 5681 §3.1)");
    t->ssthresh = 13000;
    for (int i = 0; i < 13; i++) cc->on_ack(s, t, 1000, 0);
    cr_assert_eq(t->cwnd, 14000, "congestion avoidance: +1 SMSS per window acknowledged");
    /* Loss: ssthresh = max(FlightSize/2, 2*SMSS). */
    t->snd_max = t->snd_una + 20000;
    cr_assert_eq(cc->ssthresh(s, t), 10000);
    t->snd_max = t->snd_una + 1000;
    cr_assert_eq(cc->ssthresh(s, t), 2000);
    us_stack_free(s);
}

Test(cc, cubic_curve_matches_rfc9438)
{
    /* §4.2: W_cubic(t) = C*(t-K)^3 + W_max with C = 0.4; K =
     * cbrt(W_max*(1-beta)/C) when cwnd_epoch = beta*W_max, beta = 0.7. */
    double wmax = 100.0;
    double k = cubic_k(wmax, 0.7 * wmax);
    cr_assert_float_eq(k, cbrt(100.0 * 0.3 / 0.4), 1e-9);
    cr_assert_float_eq(cubic_window(0, k, wmax), 70.0, 1e-6, "starts at beta * W_max");
    cr_assert_float_eq(cubic_window(k, k, wmax), 100.0, 1e-9, "plateau at W_max after K");
    cr_assert_float_eq(cubic_window(k + 2, k, wmax), 100.0 + 0.4 * 8, 1e-9);
    cr_assert(cubic_window(k - 1, k, wmax) < 100.0, "concave before K");
}

Test(cc, cubic_multiplicative_decrease_and_fast_convergence)
{
    struct us_stack *s = stack();
    struct tcb *t = ca_tcb(s, CC_CUBIC);
    const struct cc_ops *cc = cc_ops_of(t);
    t->cwnd = 100000;
    cr_assert_eq(cc->ssthresh(s, t), 70000, "§4.6: beta = 0.7");
    cr_assert_eq(t->cubic.w_max, 100000);
    /* A second loss before regaining W_max: fast convergence (§4.7) sets
     * W_max = cwnd * (1 + beta) / 2. */
    t->cwnd = 80000;
    cc->ssthresh(s, t);
    cr_assert_eq(t->cubic.w_max, 68000);
    us_stack_free(s);
}

Test(cc, cubic_grows_toward_w_max_then_beyond)
{
    struct us_stack *s = stack();
    struct tcb *t = ca_tcb(s, CC_CUBIC);
    const struct cc_ops *cc = cc_ops_of(t);
    t->cwnd = 100000;
    t->ssthresh = cc->ssthresh(s, t);
    t->cwnd = t->ssthresh;
    t->srtt = 10000; /* 10 ms */
    s->now = US_SEC(100);
    uint32_t prev = t->cwnd;
    /* Ten seconds of one ACK per millisecond. */
    bool passed_wmax = false;
    for (int i = 0; i < 10000; i++) {
        s->now += 1000;
        cc->on_ack(s, t, 1000, 10000);
        cr_assert(t->cwnd >= prev, "cwnd never shrinks on ACKs");
        prev = t->cwnd;
        if (t->cwnd > 100000) passed_wmax = true;
    }
    /* K = cbrt(100*0.3/0.4) ~ 4.2 s: by 10 s the curve is past W_max. */
    cr_assert(passed_wmax, "cwnd %u", t->cwnd);
    us_stack_free(s);
}

/* ---- shared settings ---- */

Test(settings, equal_settings_share_one_copy_and_unused_ones_are_bounded)
{
    struct us_stack *s = stack();
    struct tcp_stack *ts = tcpst(s);
    struct tcp_settings d;
    tcp_settings_default(s, &d);
    const struct tcp_settings *a = tcp_settings_intern(s, &d);
    const struct tcp_settings *b = tcp_settings_intern(s, &d);
    cr_assert_eq(a, b, "equal settings, one copy");
    struct tcp_settings e = d;
    e.nodelay = !d.nodelay;
    const struct tcp_settings *c = tcp_settings_intern(s, &e);
    cr_assert_neq(c, a);
    cr_assert_eq(c->nodelay, e.nodelay);
    cr_assert_eq(a->nodelay, d.nodelay, "the shared copy is never written");
    /* A change through a slot takes the equal copy, or makes one. */
    const struct tcp_settings *slot = tcp_settings_ref(a);
    cr_assert_eq(tcp_settings_assign(s, &slot, &e), 0);
    cr_assert_eq(slot, c);
    tcp_settings_put(s, slot);
    tcp_settings_put(s, a);
    tcp_settings_put(s, b);
    tcp_settings_put(s, c);
    cr_assert_eq(ts->settings_count, ts->settings_unused, "nobody holds any");
    /* Many different settings, each dropped: a bounded number is kept. */
    for (uint32_t i = 0; i < 100; i++) {
        struct tcp_settings x = d;
        x.sndbuf = 10000 + i;
        tcp_settings_put(s, tcp_settings_intern(s, &x));
    }
    cr_assert_leq(ts->settings_count, 16);
    cr_assert_eq(ts->settings_count, ts->settings_unused);
    us_stack_free(s);
}
