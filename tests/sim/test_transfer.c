/* The transfer matrix: bytes arrive, all of them, once, in order, under
 * loss, duplication, reordering, corruption, delay and bandwidth limits, in
 * both directions at once, for many seeds. A failure prints its seed and
 * faults; USTACK_SEED=N replays it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testlib.h"

static void matrix(const char *name, const struct us_faults *f, const struct xfer_opts *o,
                   unsigned seeds)
{
    unsigned n = test_seed_count(seeds);
    for (unsigned i = 0; i < n; i++) {
        uint64_t seed = test_seed(i);
        struct xfer_result r = xfer_run(seed, f, f, o);
        cr_assert(r.ok,
                  "%s: seed %llu: %s (loss %.1f%% dup %.1f%% reorder %.1f%% corrupt %.1f%% delay "
                  "%llu us rate %llu bit/s) -- replay with USTACK_SEED=%llu",
                  name, (unsigned long long)seed, r.why, f->loss, f->dup, f->reorder, f->corrupt,
                  (unsigned long long)f->delay, (unsigned long long)f->rate_bps,
                  (unsigned long long)seed);
    }
}

static const struct xfer_opts both_100k = {.a_to_b = 100000, .b_to_a = 100000};

Test(transfer, clean)
{
    struct us_faults f = {.delay = US_MSEC(1)};
    matrix("clean", &f, &both_100k, 5);
}

Test(transfer, loss_1)
{
    struct us_faults f = {.loss = 1, .delay = US_MSEC(2)};
    matrix("loss 1%", &f, &both_100k, 20);
}

Test(transfer, loss_5)
{
    struct us_faults f = {.loss = 5, .delay = US_MSEC(5)};
    matrix("loss 5%", &f, &both_100k, 20);
}

Test(transfer, loss_20)
{
    struct us_faults f = {.loss = 20, .delay = US_MSEC(5)};
    struct xfer_opts o = {.a_to_b = 30000, .b_to_a = 30000};
    matrix("loss 20%", &f, &o, 10);
}

Test(transfer, duplication)
{
    struct us_faults f = {.dup = 10, .delay = US_MSEC(2)};
    matrix("dup 10%", &f, &both_100k, 20);
}

Test(transfer, reordering)
{
    struct us_faults f = {.reorder = 10, .delay = US_MSEC(5), .reorder_delay = US_MSEC(10)};
    matrix("reorder 10%", &f, &both_100k, 20);
}

Test(transfer, corruption)
{
    struct us_faults f = {.corrupt = 1, .delay = US_MSEC(2)};
    matrix("corrupt 1%", &f, &both_100k, 20);
}

Test(transfer, everything_at_once)
{
    struct us_faults f = {.loss = 2, .dup = 2, .reorder = 5, .corrupt = 1, .delay = US_MSEC(3)};
    matrix("mixed", &f, &both_100k, 20);
}

Test(transfer, delays_from_100us_to_200ms)
{
    static const us_time_t d[] = {100, 1000, 10000, 50000, 200000};
    for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        struct us_faults f = {.loss = 1, .delay = d[i]};
        matrix("delay", &f, &both_100k, 4);
    }
}

Test(transfer, bandwidth_limit_small_queue)
{
    /* 10 Mbit/s with a 20-frame queue: tail drops are the loss signal. */
    struct us_faults f = {.rate_bps = 10000000, .queue_frames = 20, .delay = US_MSEC(5)};
    struct xfer_opts o = {.a_to_b = 300000, .b_to_a = 100000};
    matrix("10 Mbit/s, 20-frame queue", &f, &o, 10);
}

Test(transfer, bufferbloat_big_queue)
{
    struct us_faults f = {.rate_bps = 5000000, .queue_frames = 1000, .delay = US_MSEC(1)};
    struct xfer_opts o = {.a_to_b = 300000, .b_to_a = 0};
    matrix("5 Mbit/s, 1000-frame queue", &f, &o, 5);
}

Test(transfer, window_scaling_path)
{
    /* 50 Mbit/s x 100 ms one way: a bandwidth-delay product of ~1.2 MB,
     * far above 64 KiB. Without window scaling the transfer takes at least
     * bytes / (64 KiB per RTT); with it, the window opens past 64 KiB. */
    struct us_faults f = {.rate_bps = 50000000, .queue_frames = 2000, .delay = US_MSEC(50)};
    struct xfer_opts o = {.a_to_b = 2000000, .b_to_a = 0, .rcvbuf = 2000000, .sndbuf = 2000000};
    unsigned n = test_seed_count(3);
    for (unsigned i = 0; i < n; i++) {
        struct xfer_result r = xfer_run(test_seed(i), &f, &f, &o);
        cr_assert(r.ok, "seed %llu: %s", (unsigned long long)test_seed(i), r.why);
        cr_assert(r.ib.rcv_wnd > 65535 || r.ia.snd_wnd > 65535,
                  "the window must open beyond 64 KiB (rcv_wnd %u)", r.ib.rcv_wnd);
        /* 2 MB at 64 KiB per 100 ms RTT would take >= 3 s. */
        cr_assert(r.elapsed < US_SEC(3), "window scaling should beat 64 KiB/RTT: %.2f s",
                  (double)r.elapsed / 1e6);
    }
}

Test(transfer, newreno_under_loss)
{
    struct us_faults f = {.loss = 3, .delay = US_MSEC(5)};
    struct xfer_opts o = {.a_to_b = 100000, .b_to_a = 100000, .cc = "newreno"};
    matrix("newreno loss 3%", &f, &o, 10);
}

Test(transfer, no_sack_no_timestamps)
{
    struct us_faults f = {.loss = 3, .reorder = 3, .delay = US_MSEC(5)};
    struct xfer_opts o = {.a_to_b = 100000, .b_to_a = 100000, .sack_off = true, .ts_off = true};
    matrix("no SACK, no TS", &f, &o, 10);
}

Test(transfer, small_buffers)
{
    struct us_faults f = {.loss = 2, .delay = US_MSEC(2)};
    struct xfer_opts o = {.a_to_b = 50000, .b_to_a = 50000, .rcvbuf = 4096, .sndbuf = 4096};
    matrix("4 KiB buffers", &f, &o, 10);
}

Test(transfer, jumbo_mtu)
{
    struct us_faults f = {.loss = 1, .delay = US_MSEC(1)};
    struct xfer_opts o = {.a_to_b = 500000, .b_to_a = 100000, .mtu = 9000};
    matrix("MTU 9000", &f, &o, 5);
}

/* Header prediction (input.c) is an optimisation, never a behaviour: with it
 * on and off, the same seed and faults must put byte-identical frames on
 * the wire -- under loss, reordering and duplication too, where segments
 * keep switching between the fast and the full path. */
static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = false;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

Test(transfer, header_prediction_changes_nothing_on_the_wire)
{
    /* A clean path, a faulty one, and a small receive buffer (the window,
     * not cwnd, paces the sender: window updates matter). */
    struct {
        struct us_faults f;
        uint32_t rcvbuf;
        unsigned min_pct; /* of segments predicted, at least */
    } cases[] = {
        {{.delay = US_MSEC(1)}, 0, 80},
        /* under these faults the connection is nearly always recovering or
         * holding out-of-order data: only a few segments qualify */
        {{.loss = 3, .dup = 2, .reorder = 5, .delay = US_MSEC(5)}, 0, 1},
        {{.delay = US_MSEC(2)}, 6000, 50},
    };
    char pa[] = "/tmp/ustack-hp-on-XXXXXX", pb[] = "/tmp/ustack-hp-off-XXXXXX";
    int fda = mkstemp(pa), fdb = mkstemp(pb);
    cr_assert(fda >= 0 && fdb >= 0);
    close(fda);
    close(fdb);
    unsigned n = test_seed_count(4);
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        for (unsigned i = 0; i < n; i++) {
            uint64_t seed = test_seed(i);
            struct xfer_opts on = {
                .a_to_b = 200000, .b_to_a = 50000, .rcvbuf = cases[k].rcvbuf, .pcap = pa};
            struct xfer_opts off = on;
            off.pcap = pb;
            off.no_prediction = true;
            struct xfer_result ra = xfer_run(seed, &cases[k].f, &cases[k].f, &on);
            struct xfer_result rb = xfer_run(seed, &cases[k].f, &cases[k].f, &off);
            cr_assert(ra.ok && rb.ok, "seed %llu: %s / %s", (unsigned long long)seed, ra.why, rb.why);
            cr_assert_eq(rb.predicted, 0);
            cr_assert(ra.predicted * 100 > ra.segments_in * cases[k].min_pct,
                      "case %u seed %llu: %llu of %llu segments predicted", k,
                      (unsigned long long)seed, (unsigned long long)ra.predicted,
                      (unsigned long long)ra.segments_in);
            cr_assert(same_file(pa, pb),
                      "case %u seed %llu: the wire differs with header prediction off "
                      "(USTACK_SEED=%llu)",
                      k, (unsigned long long)seed, (unsigned long long)seed);
        }
    }
    unlink(pa);
    unlink(pb);
}
