/* The executor: scripts run against a real stack in virtual time -- timing
 * windows and tolerance, relative times after ranges, blocking calls that
 * the script's packets complete or that nothing completes, aggregation of
 * the stack's real segments, unexpected segments, system-call results,
 * settings, skips, and what a failure report says. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

#include "pkt/exec.h"

static struct pkt_result res;

static const struct pkt_result *run(enum pkt_mode mode, const char *text)
{
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    cr_assert_eq(pkt_parse_buffer("t.pkt", text, strlen(text), NULL, &s, &err), 0, "%s",
                 pkt_error_format(&err, msg, sizeof(msg)));
    struct pkt_exec_opts o;
    pkt_exec_opts_default(&o);
    o.mode = mode;
    pkt_exec(s, "t.pkt", &o, &res);
    pkt_script_free(s);
    return &res;
}

static void passes(enum pkt_mode mode, const char *text)
{
    const struct pkt_result *r = run(mode, text);
    cr_assert_eq(r->status, PKT_STATUS_PASS, "expected a pass:\n%s", r->message);
}

/* Fails, and the report holds every string given (NULL-terminated). */
static void fails(enum pkt_mode mode, const char *text, ...)
{
    const struct pkt_result *r = run(mode, text);
    cr_assert_eq(r->status, PKT_STATUS_FAIL, "expected a failure (status %d)", r->status);
    va_list ap;
    va_start(ap, text);
    for (const char *want; (want = va_arg(ap, const char *));)
        cr_assert(strstr(r->message, want), "the report lacks \"%s\":\n%s", want, r->message);
    va_end(ap);
}

#define STRICT   PKT_MODE_STRICT
#define PORTABLE PKT_MODE_PORTABLE

#define LISTEN                                                                                     \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                \
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"                                     \
    "+0 bind(3, ..., ...) = 0\n"                                                                   \
    "+0 listen(3, 1) = 0\n"

/* A passive open without timestamps or SACK; the peer's MSS is 1000. */
#define HANDSHAKE                                                                                  \
    "+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"                                            \
    "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n"                                               \
    "+0 < . 1:1(0) ack 1 win 257\n"

/* TCP_QUICKACK 0: these scripts check timing against delayed ACKs, which a
 * fresh connection does not use for its first segments (quick-ACK mode). */
#define ACCEPTED                                                                                   \
    LISTEN HANDSHAKE "+0 accept(3, ..., ...) = 4\n"                                                \
                     "+0 setsockopt(4, IPPROTO_TCP, TCP_QUICKACK, [0], 4) = 0\n"

#define CONNECTING                                                                                 \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                \
    "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"                                                \
    "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"                       \
    "+0 > S 0:0(0) <...>\n"

/* ---- a whole exchange ---- */

Test(pkt_exec, open_transfer_and_close_pass_in_both_modes)
{
    const char *s = ACCEPTED "+0 fcntl(4, F_GETFL) = 0x02 (flags O_RDWR)\n"
                             "+.1 < P. 1:11(10) ack 1 win 257\n"
                             "+.04 > . 1:1(0) ack 11\n"
                             "+0 ioctl(4, SIOCINQ, [10]) = 0\n"
                             "+0 read(4, ..., 100) = 10\n"
                             "+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%\n"
                             "+0 close(4) = 0\n"
                             "+0 > F. 1:1(0) ack 11\n"
                             "+0 < F. 11:11(0) ack 2 win 257\n"
                             "+0 > . 2:2(0) ack 12\n";
    passes(STRICT, s);
    passes(PORTABLE, s);
}

Test(pkt_exec, time_wait_runs_its_minute_in_virtual_time)
{
    /* Within 2MSL an old segment is answered by TIME-WAIT; after it the
     * connection is gone, and the same segment reaches the listener, which
     * resets it. Real time: milliseconds. */
    passes(STRICT, ACCEPTED "+0 close(4) = 0\n"
                            "+0 > F. 1:1(0) ack 1\n"
                            "+0 < F. 1:1(0) ack 2 win 257\n"
                            "+0 > . 2:2(0) ack 2\n"
                            "+59 < . 1:1(0) ack 2 win 257\n"
                            "+0 > . 2:2(0) ack 2\n"
                            "+2 < . 1:1(0) ack 2 win 257\n"
                            "+0 > R 2:2(0)\n");
}

/* ---- timing ---- */

Test(pkt_exec, an_outbound_packet_must_come_within_the_tolerance)
{
    /* The SYN is resent after the initial RTO, 1 s. */
    passes(STRICT, CONNECTING "+1 > S 0:0(0) <...>\n");
    fails(STRICT, CONNECTING "+0.5 > S 0:0(0) <...>\n",
          "t.pkt:5: error: expected outbound packet not sent by 0.504000 (strict mode)",
          "the stack's next timer is due at 1.000000 s", NULL);
    fails(STRICT, CONNECTING "+1.1 > S 0:0(0) <...>\n", "t.pkt:5: error: timing",
          "sent at 1.000000 s, the script expects it at 1.100000 s (tolerance 0.004000 s)", NULL);
    /* A range is a window; the tolerance widens it. */
    passes(STRICT, CONNECTING "+0.5~+1.5 > S 0:0(0) <...>\n");
    fails(STRICT, CONNECTING "+1.5~+2 > S 0:0(0) <...>\n",
          "sent at 1.000000 s, the script expects it between 1.500000 and 2.000000 s", NULL);
    passes(STRICT, CONNECTING "+0.997 > S 0:0(0) <...>\n");
    /* `*`: whenever it comes. */
    passes(STRICT, CONNECTING "* > S 0:0(0) <...>\n");
}

Test(pkt_exec, relative_times_after_a_range_count_from_when_it_happened)
{
    /* The second retransmission comes 2 s after the first (at 1 s): +2
     * counts from 1.0, when the ranged line happened, not from 0.5. */
    passes(STRICT, CONNECTING "+0.5~+1.5 > S 0:0(0) <...>\n"
                              "+2 > S 0:0(0) <...>\n");
    fails(STRICT,
          CONNECTING "+0.5~+1.5 > S 0:0(0) <...>\n"
                     "+2.5 > S 0:0(0) <...>\n",
          "t.pkt:6: error: timing", NULL);
}

Test(pkt_exec, a_late_segment_is_reported_missing_at_its_deadline)
{
    /* The ACK of a lone segment is delayed 40 ms. */
    passes(STRICT, ACCEPTED "+.1 < P. 1:11(10) ack 1 win 257\n"
                            "+.04 > . 1:1(0) ack 11\n");
    fails(STRICT,
          ACCEPTED "+.1 < P. 1:11(10) ack 1 win 257\n"
                   "+0 > . 1:1(0) ack 11\n",
          "t.pkt:11: error: expected outbound packet not sent by 0.104000 (strict mode)",
          "script packet:  > . 1:1(0) ack 11", NULL);
}

/* ---- blocking calls ---- */

Test(pkt_exec, a_blocking_accept_returns_when_the_scripted_handshake_completes)
{
    const char *s = LISTEN "+0...0.200 accept(3, ..., ...) = 4\n"
                           "+.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
                           "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n"
                           "+.1 < . 1:1(0) ack 1 win 257\n"
                           "+.1 write(4, ..., 2000) = 2000\n"
                           "+0 > P. 1:2001(2000) ack 1\n";
    passes(STRICT, s);
    fails(STRICT,
          LISTEN "+0...0.300 accept(3, ..., ...) = 4\n"
                 "+.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
                 "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n"
                 "+.1 < . 1:1(0) ack 1 win 257\n",
          "t.pkt:5: error: timing: accept() returned at 0.200000 s, the script expects 0.300000 s",
          NULL);
}

Test(pkt_exec, a_blocking_connect_and_read_take_the_packets_scripted_meanwhile)
{
    passes(STRICT, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                   "+.1...0.200 connect(3, ..., ...) = 0\n"
                   "+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>\n"
                   "+.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2,nop,nop,sackOK>\n"
                   "+0 > . 1:1(0) ack 1\n"
                   "+0...0.100 read(3, ..., 100) = 5\n"
                   "+.1 < P. 1:6(5) ack 1 win 257\n"
                   "+0 > . 1:1(0) ack 6\n"); /* a fresh connection ACKs at once */
}

Test(pkt_exec, a_blocking_call_nothing_completes_is_stopped_and_fails)
{
    fails(STRICT, ACCEPTED "+0...0.100 read(4, ..., 10) = 10\n",
          "t.pkt:10: error: read() was still blocked at 0.104000 s; the script expects it to "
          "return at 0.100000 s",
          "script line:  +0.000000...+0.100000 read(4, ..., 10) = 10", NULL);
    /* Without `...` a call must not block at all. */
    fails(STRICT, LISTEN "+0 accept(3, ..., ...) = 4\n", "accept() was still blocked", NULL);
}

/* ---- aggregation ---- */

Test(pkt_exec, one_line_takes_the_segments_that_make_up_its_length)
{
    /* 10000 bytes leave as ten 1000-byte segments (the peer's MSS). */
    passes(STRICT, ACCEPTED "+0 write(4, ..., 10000) = 10000\n"
                            "+0 > P. 1:10001(10000) ack 1\n");
    passes(STRICT, ACCEPTED "+0 write(4, ..., 10000) = 10000\n"
                            "+0 > . 1:4001(4000) ack 1\n"
                            "+0 > P. 4001:10001(6000) ack 1\n");
    /* A line shorter than what was sent leaves a segment nobody expected,
     * found at the next `>` line. */
    fails(STRICT,
          ACCEPTED "+0 write(4, ..., 10000) = 10000\n"
                   "+0 > . 1:9001(9000) ack 1\n"
                   "+0 close(4) = 0\n"
                   "+0 > F. 10001:10001(0) ack 1\n",
          "outbound packet does not match (strict mode)",
          "actual packet:  > P. 9001:10001(1000) ack 1", NULL);
    /* Lengths that do not fall on a segment boundary never match. */
    fails(STRICT,
          ACCEPTED "+0 write(4, ..., 10000) = 10000\n"
                   "+0 > . 1:1501(1500) ack 1\n",
          "payload: expected 500 more bytes, actual segment has 1000",
          "after 1 segment carrying 1000 of the 1500 bytes expected", NULL);
}

/* ---- what the stack sends and the script does not expect ---- */

Test(pkt_exec, an_unexpected_segment_fails_the_script)
{
    /* The delayed ACK of the data is never scripted: at the next `>` line
     * it is not what that line expects. */
    fails(STRICT,
          ACCEPTED "+.1 < P. 1:11(10) ack 1 win 257\n"
                   "+.1 close(4) = 0\n"
                   "+0 > F. 1:1(0) ack 11\n",
          "outbound packet does not match (strict mode): flags: expected F., actual .",
          "sent at 0.140000", NULL);
    /* After the script's last event nothing is checked, as in packetdrill:
     * the same delayed ACK goes unnoticed. */
    passes(STRICT, ACCEPTED "+.1 < P. 1:11(10) ack 1 win 257\n"
                            "+.1 read(4, ..., 100) = 10\n");
}

/* ---- modes and reports ---- */

Test(pkt_exec, a_mismatch_report_shows_the_line_what_was_expected_and_what_came)
{
    const char *s = LISTEN "+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
                           "+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,wscale 7,nop>\n";
    fails(STRICT, s, "t.pkt:6: error: outbound packet does not match (strict mode)",
          "window: expected 65535, actual 64240",
          "options: expected <mss 1460,wscale 7,nop>, actual <mss 1460,nop,wscale 7>",
          "script packet:  > S. 0:0(0) ack 1 win 65535 <mss 1460,wscale 7,nop>",
          "actual packet:  > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,wscale 7>",
          "expected: IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [S.]",
          "last frames (time from the script's start", NULL);
    /* Portable: a non-zero window is a non-zero window; option order and
     * padding do not matter. */
    passes(PORTABLE, s);
    fails(PORTABLE,
          LISTEN "+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
                 "+0 > S. 0:0(0) ack 1 <mss 1400,nop,wscale 7>\n",
          "(portable mode): mss: expected 1400, actual 1460", NULL);
}

Test(pkt_exec, system_call_results_are_compared)
{
    fails(STRICT, LISTEN "+0 accept(3, ..., ...) = -1 EAGAIN\n",
          "t.pkt:5: error: accept() was still blocked", NULL);
    fails(STRICT,
          LISTEN "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                 "+0 accept(3, ..., ...) = 4\n",
          "accept() returned -1 (EAGAIN: Resource temporarily unavailable), the script "
          "expects 4",
          NULL);
    passes(STRICT, LISTEN "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                          "+0 accept(3, ..., ...) = -1 EWOULDBLOCK (would block)\n");
    fails(STRICT, ACCEPTED "+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0\n",
          "getsockopt() value is 0, the script expects 104", NULL);
    fails(STRICT, ACCEPTED "+0 %{ assert tcpi_state == TCPI_CLOSE_WAIT }%\n",
          "tcpi_state is ESTABLISHED, the script asserts TCPI_CLOSE_WAIT", NULL);
    fails(STRICT, ACCEPTED "+0 frobnicate(4) = 0\n",
          "system call frobnicate() is not supported by the runner", NULL);
    /* Buffer sizes are each system's own: compared in strict mode only. */
    const char *buf = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                      "+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0\n";
    fails(STRICT, buf, "getsockopt() value is 131072, the script expects 65536", NULL);
    passes(PORTABLE, buf);
}

Test(pkt_exec, options_and_poll_structs_reach_the_socket_api)
{
    passes(STRICT,
           ACCEPTED "+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
                    "+0 getsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, [8]) = 0\n"
                    "+0 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1\n"
                    "+0 close(4) = 0\n"
                    "+0 > R. 1:1(0) ack 1\n");
}

Test(pkt_exec, shell_settings_reach_the_stack)
{
    /* SACK off: the SYN offers no sackOK. */
    passes(STRICT, "0 `sysctl -w net.inet.tcp.sack.enable=0`\n" CONNECTING
                   "+1 > S 0:0(0) <mss 1460,nop,nop,TS val 100 ecr 0,nop,wscale 7>\n");
    /* FreeBSD's rexmit_initial: the first retransmission after 3 s. */
    passes(STRICT,
           "0 `sysctl -w net.inet.tcp.rexmit_initial=3000`\n" CONNECTING "+3 > S 0:0(0) <...>\n");
}

Test(pkt_exec, scripts_for_features_ustack_lacks_are_skipped)
{
    const struct pkt_result *r = run(STRICT, "--ip_version=ipv6\n"
                                             "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
    cr_assert_eq(r->status, PKT_STATUS_SKIP);
    cr_assert_str_eq(r->message, "IPv6 (--ip_version)");
}

Test(pkt_exec, mss_and_mtu_options_set_the_link)
{
    passes(STRICT, "--mss=1000\n" LISTEN "+0 < S 0:0(0) win 32792 <mss 1460,nop,wscale 7>\n"
                   "+0 > S. 0:0(0) ack 1 <mss 1000,nop,wscale 7>\n");
    passes(STRICT, "--mtu=9000\n" LISTEN "+0 < S 0:0(0) win 32792 <mss 1460,nop,wscale 7>\n"
                   "+0 > S. 0:0(0) ack 1 <mss 8960,nop,wscale 7>\n");
}

Test(pkt_exec, a_blocking_call_times_out_before_a_later_packet)
{
    /* SO_RCVTIMEO of 0.1 s: the read gives up before the data that comes
     * 2 ms later (which is still within the read's tolerance). */
    passes(STRICT, ACCEPTED
           "+0 setsockopt(4, SOL_SOCKET, SO_RCVTIMEO, {tv_sec=0, tv_usec=100000}, 16) = 0\n"
           "+0...0.100 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n"
           "+.102 < P. 1:11(10) ack 1 win 257\n"
           "+.04 > . 1:1(0) ack 11\n"
           "+0 read(4, ..., 10) = 10\n");
}
