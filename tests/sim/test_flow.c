/* Flow control and the things a clean path must not do. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "testlib.h"

Test(flow, zero_window_persist_and_resume)
{
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    struct pair *p = pair_new_mtu(3, NULL, NULL, 1500, &cfg);
    struct us_faults f = {.delay = US_MSEC(10)};
    us_wire_set_faults(p->w, p->pa, &f);
    us_wire_set_faults(p->w, p->pb, &f);
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    /* A small receive buffer set after the handshake: the window already
     * promised is honoured, then it closes. */
    int small = 8192;
    us_setsockopt(p->b, s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    /* The client writes far more than the server's buffer; the server does
     * not read. */
    static uint8_t data[200000];
    fill_pattern(data, sizeof(data), 9, 0);
    size_t sent = 0;
    struct us_tcp_info ci;
    socklen_t il = sizeof(ci);
    us_time_t t0 = us_wire_now(p->w);
    do {
        ssize_t n = us_send(p->a, c, data + sent, sizeof(data) - sent, MSG_DONTWAIT);
        if (n > 0) sent += (size_t)n;
        us_wire_run_for(p->w, US_MSEC(50));
        us_getsockopt(p->a, c, IPPROTO_TCP, TCP_INFO, &ci, &il);
    } while (ci.snd_wnd && us_wire_now(p->w) - t0 < US_SEC(60));
    cr_assert_eq(ci.snd_wnd, 0, "the receiver's window is closed (snd_wnd %u, sent %zu)", ci.snd_wnd, sent);
    /* Persist probes go out with backoff while the window stays closed. */
    uint64_t probes0 = us_stack_counter(p->a, US_C_tcp_persist_probes);
    us_wire_run_for(p->w, US_SEC(30));
    uint64_t probes = us_stack_counter(p->a, US_C_tcp_persist_probes) - probes0;
    cr_assert(probes >= 3 && probes <= 10, "%llu probes in 30 s: backoff", (unsigned long long)probes);
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_timeouts), 0, "a zero window is not a failure");
    /* The server reads: the window opens and data flows again at once. */
    static uint8_t got[200000];
    size_t rcvd = 0;
    us_time_t opened = us_wire_now(p->w);
    while (rcvd < sent) {
        ssize_t n = us_recv(p->b, s, got + rcvd, sizeof(got) - rcvd, MSG_DONTWAIT);
        if (n > 0) {
            rcvd += (size_t)n;
            continue;
        }
        if (sent < sizeof(data)) {
            ssize_t w = us_send(p->a, c, data + sent, sizeof(data) - sent, MSG_DONTWAIT);
            if (w > 0) sent += (size_t)w;
        }
        cr_assert(us_wire_now(p->w) - opened < US_SEC(20), "stalled after the window opened");
        us_wire_step(p->w, US_TIME_NEVER);
    }
    cr_assert(memcmp(got, data, rcvd) == 0, "nothing lost, nothing out of order");
    /* Resuming took round trips, not a persist interval. */
    cr_assert(us_wire_now(p->w) - opened < US_SEC(2), "resumed in %.3f s",
              (double)(us_wire_now(p->w) - opened) / 1e6);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
    pair_free(p);
}

Test(flow, clean_wire_has_no_retransmissions)
{
    unsigned n = test_seed_count(20);
    for (unsigned i = 0; i < n; i++) {
        struct us_faults f = {.delay = US_MSEC(1 + i % 7)};
        struct xfer_opts o = {.a_to_b = 300000, .b_to_a = 100000};
        struct xfer_result r = xfer_run(test_seed(i), &f, &f, &o);
        cr_assert(r.ok, "seed %llu: %s", (unsigned long long)test_seed(i), r.why);
        cr_assert_eq(r.retransmits, 0, "seed %llu: %llu needless retransmissions",
                     (unsigned long long)test_seed(i), (unsigned long long)r.retransmits);
        cr_assert_eq(r.ia.dup_acks + r.ib.dup_acks, 0);
    }
}

Test(flow, sequence_wrap_under_loss)
{
    /* Both ISNs just below 2^32: every comparison in the engine crosses the
     * wrap within the first kilobytes, under loss and reordering. */
    struct us_faults f = {.loss = 3, .reorder = 5, .delay = US_MSEC(2)};
    unsigned n = test_seed_count(10);
    for (unsigned i = 0; i < n; i++) {
        struct xfer_opts o = {.a_to_b = 200000, .b_to_a = 200000, .isn = 0xfffff000u};
        struct xfer_result r = xfer_run(test_seed(i), &f, &f, &o);
        cr_assert(r.ok, "seed %llu: %s", (unsigned long long)test_seed(i), r.why);
    }
}

static long count_lines(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    cr_assert(f);
    long n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        if (ch == '\n') n++;
    pclose(f);
    return n;
}

Test(flow, tshark_finds_nothing_to_flag_on_a_clean_capture)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0) cr_skip_test("tshark missing");
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ustack-clean-%d.pcap", getpid());
    struct us_faults f = {.delay = US_MSEC(2)};
    struct xfer_opts o = {.a_to_b = 1000000, .b_to_a = 200000, .pcap = path};
    struct xfer_result r = xfer_run(11, &f, &f, &o);
    cr_assert(r.ok, "%s", r.why);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "tshark -r %s -Y tcp 2>/dev/null", path);
    long frames = count_lines(cmd);
    cr_assert(frames > 500, "only %ld TCP frames", frames);
    snprintf(cmd, sizeof(cmd),
             "tshark -r %s -Y 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission "
             "|| tcp.analysis.spurious_retransmission || tcp.analysis.duplicate_ack || "
             "tcp.analysis.out_of_order || tcp.analysis.lost_segment' 2>/dev/null",
             path);
    long flagged = count_lines(cmd);
    cr_assert_eq(flagged, 0, "tshark flags %ld of %ld frames (%s)", flagged, frames, path);
    unlink(path);
}

/* Send-buffer autotuning: without SO_SNDBUF the buffer is twice the
 * congestion window (at least 64 KiB), up to the configured size, and
 * grows as the window opens; with SO_SNDBUF it is what was asked. */
Test(flow, send_buffer_follows_the_window_unless_set)
{
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.tcp.sndbuf = 1u << 20;
    cfg.tcp.rcvbuf = 4u << 20;
    struct pair *p = pair_new_mtu(4, NULL, NULL, 1500, &cfg);
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    us_fcntl(p->a, c, F_SETFL, O_NONBLOCK);
    static uint8_t data[4u << 20];
    ssize_t first = us_send(p->a, c, data, sizeof(data), 0);
    cr_assert_eq(first, 64 * 1024, "a new connection's buffer is the 64 KiB floor, not %zd", first);
    /* Let the window open: the server reads everything. */
    size_t got = 0;
    static uint8_t sink[1u << 16];
    ssize_t most = first;
    for (int i = 0; i < 2000 && got < (8u << 20); i++) {
        ssize_t k = us_send(p->a, c, data, sizeof(data), 0);
        if (k > most) most = k;
        us_wire_run_for(p->w, 200);
        while ((k = us_recv(p->b, s, sink, sizeof(sink), MSG_DONTWAIT)) > 0) got += (size_t)k;
    }
    cr_assert_gt(got, 4u << 20, "data flowed (%zu bytes)", got);
    cr_assert_gt(most, 64 * 1024, "the buffer grew with the window");
    cr_assert_leq(most, 1 << 20, "never past the configured size");
    /* SO_SNDBUF fixes it (Linux doubles the value asked for). */
    int c2 = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    int want = 300000;
    us_setsockopt(p->a, c2, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    cr_assert_eq(us_connect(p->a, c2, (struct sockaddr *)&sa, sizeof(sa)), 0);
    us_fcntl(p->a, c2, F_SETFL, O_NONBLOCK);
    cr_assert_eq(us_send(p->a, c2, data, sizeof(data), 0), 600000);
    us_close(p->a, c2);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
    pair_free(p);
}
