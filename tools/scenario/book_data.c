/*
 * book_data.c: scenarios about data in trouble: a lost segment recovered
 * by the retransmission timeout or by fast retransmit, segments that
 * arrive out of order, and a receiver that stops reading (zero window and
 * the persist timer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/book.h"

#define SEG 1000 /* bytes per send() when a scenario counts segments */

/* Bytes anyone can check: byte i of a stream is (i * 7 + i / 251) % 256. */
static void fill(uint8_t *buf, size_t len, size_t offset)
{
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)((offset + i) * 7 + (offset + i) / 251);
}

/* The server reads `len` bytes (MSG_WAITALL) and they are the stream. */
static void claim_stream(struct stage *sg, int fd, size_t len)
{
    char *got = malloc(len + 1);
    uint8_t *want = malloc(len);
    if (!got || !want) {
        free(got);
        free(want);
        claim(sg, false, "the server reads the stream intact", "out of memory");
        return;
    }
    fill(want, len, 0);
    ssize_t n = act_recv(sg, SERVER, fd, got, len, MSG_WAITALL);
    char what[96];
    snprintf(what, sizeof(what), "the server reads all %zu bytes, intact and in order", len);
    claim(sg, n == (ssize_t)len && memcmp(got, want, len) == 0, what, "it read %zd bytes%s", n,
          n == (ssize_t)len ? ", not the ones sent" : "");
    free(got);
    free(want);
}

/* The n-th (from 0) segment carrying data that `who` sent since the mark. */
static long data_segment(const struct stage *sg, int who, unsigned n)
{
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_FRAME && e->tcp && e->actor == who && e->len && n-- == 0) return (long)i;
    }
    return -1;
}

/* One send() of `len` bytes of the stream, from `offset`. */
static void send_stream(struct stage *sg, int fd, size_t offset, size_t len)
{
    uint8_t *buf = malloc(len);
    if (!buf) {
        claim(sg, false, "the client sends its data", "out of memory");
        return;
    }
    fill(buf, len, offset);
    act_send(sg, CLIENT, fd, buf, len);
    free(buf);
}

static void play_loss_rto(struct stage *sg)
{
    /* A modern stack would first send a tail loss probe after about two
     * round trips (RFC 8985 §7; on by default, as on Linux); this scenario
     * shows the timeout itself, so the probe is off. */
    us_stack_tcp_config(sg->stack[CLIENT])->tlp = false;
    int c, s;
    book_connect(sg, 80, &c, &s);
    struct us_tcp_info ti;
    act_tcp_info(sg, CLIENT, c, &ti);
    stage_mark(sg);
    static const struct us_faults lose_all = {.loss = 100};
    act_faults(sg, CLIENT, &lose_all, "the client's frames are lost from now on");
    act_send(sg, CLIENT, c, "hello", 5);
    act_faults(sg, CLIENT, NULL, "the client's frames get through again");
    char got[16];
    ssize_t n = act_recv(sg, SERVER, s, got, sizeof(got) - 1, 0);
    claim_data(sg, SERVER, got, n, "hello");
    claim_segments(sg, "client PSH,ACK(5) lost | client PSH,ACK(5) | server ACK");
    long first = stage_find_segment(sg, CLIENT, TF_PSH, 0);
    long again = stage_find_segment(sg, CLIENT, TF_PSH, 1);
    char what[160], d[32];
    /* RFC 6298 §5.4-5.6: when the timer expires, retransmit the earliest
     * unacknowledged segment and back the timer off. */
    snprintf(what, sizeof(what),
             "the retransmission leaves one RTO after the original (TCP_INFO's RTO: %s)",
             secs_str(ti.rto, d, sizeof(d)));
    claim(sg, first >= 0 && again >= 0 && sg->ev[again].time - sg->ev[first].time == ti.rto, what,
          "it left %s after",
          first >= 0 && again >= 0 ? secs_str(sg->ev[again].time - sg->ev[first].time, d, sizeof(d))
                                   : "(never)");
    claim(sg, again >= 0 && sg->ev[again].retransmit && sg->ev[again].seq == sg->ev[first].seq,
          "it carries the same sequence numbers as the lost segment", "it does not");
    claim_counter(sg, CLIENT, US_C_tcp_rto_expired, 1);
    claim_counter(sg, CLIENT, US_C_tcp_retransmits, 1);
}

const struct scenario sc_loss_rto = {
    .name = "loss-rto",
    .title = "Retransmission after a timeout",
    .about = "The client sends \"hello\" and the segment is lost. Nothing else is in flight, so "
             "nothing tells the client; its retransmission timer does. When the RTO (computed "
             "from the round-trip times measured so far, RFC 6298, at least 200 ms as on Linux) "
             "expires, the client sends the same bytes again, and the server acknowledges them.",
    .play = play_loss_rto,
};

static void play_loss_fast(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    act_setsockopt(sg, CLIENT, c, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1);
    struct us_tcp_info ti;
    act_tcp_info(sg, CLIENT, c, &ti);
    stage_mark(sg);
    static const struct us_faults lose_all = {.loss = 100};
    act_faults(sg, CLIENT, &lose_all, "the client's frames are lost from now on");
    send_stream(sg, c, 0, SEG);
    act_faults(sg, CLIENT, NULL, "the client's frames get through again");
    send_stream(sg, c, SEG, 4 * SEG);
    claim_stream(sg, s, 5 * SEG);
    /* Each segment after the hole makes the server repeat its ACK at once
     * (RFC 5681 §4.2), with a SACK block naming what did arrive. */
    unsigned dup = 0;
    us_time_t lost_at = US_TIME_NEVER, rtx_at = US_TIME_NEVER;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind != SEV_FRAME || !e->tcp) continue;
        if (e->actor == CLIENT && e->len && e->fate == FATE_LOST && lost_at == US_TIME_NEVER)
            lost_at = e->time;
        if (e->actor == CLIENT && e->retransmit && rtx_at == US_TIME_NEVER) rtx_at = e->time;
        if (e->actor == SERVER && !e->len && rtx_at == US_TIME_NEVER && strstr(e->text, "sack"))
            dup++;
    }
    claim(sg, dup >= 3,
          "the server answers the segments after the hole with duplicate ACKs "
          "carrying SACK blocks (at least 3)",
          "it sent %u", dup);
    char what[160], d[32];
    snprintf(what, sizeof(what), "the lost segment is resent before its RTO (%s) expires",
             secs_str(ti.rto, d, sizeof(d)));
    claim(sg, rtx_at != US_TIME_NEVER && rtx_at - lost_at < ti.rto, what, "it was resent %s after",
          rtx_at != US_TIME_NEVER ? secs_str(rtx_at - lost_at, d, sizeof(d)) : "(never)");
    long lost = data_segment(sg, CLIENT, 0), rtx = -1;
    for (size_t i = sg->mark; i < sg->n_ev && rtx < 0; i++)
        if (sg->ev[i].kind == SEV_FRAME && sg->ev[i].actor == CLIENT && sg->ev[i].retransmit)
            rtx = (long)i;
    claim(sg,
          lost >= 0 && rtx >= 0 && sg->ev[rtx].seq == sg->ev[lost].seq &&
              sg->ev[rtx].len == sg->ev[lost].len,
          "the retransmission carries exactly the lost bytes, nothing the server SACKed",
          "it carries %u bytes from seq %u; the lost segment %u from %u",
          rtx >= 0 ? sg->ev[rtx].len : 0, rtx >= 0 ? sg->ev[rtx].seq : 0,
          lost >= 0 ? sg->ev[lost].len : 0, lost >= 0 ? sg->ev[lost].seq : 0);
    claim_counter(sg, CLIENT, US_C_tcp_fast_retransmits, 1);
    claim_counter(sg, CLIENT, US_C_tcp_retransmits, 1);
    claim_counter(sg, CLIENT, US_C_tcp_rto_expired, 0);
}

const struct scenario sc_loss_fast = {
    .name = "loss-fast-retransmit",
    .title = "Fast retransmit",
    .about = "The client sends 1000 bytes, which are lost, then 4000 more in three segments. "
             "Each of those arrives beyond a hole, and the server answers each at once with the "
             "same ACK "
             "plus a SACK block saying what it holds. Three duplicate ACKs tell the client the "
             "segment was lost (RFC 5681 §3.2, RFC 6675): it resends that one segment "
             "without waiting for its timer, and one ACK then covers everything.",
    .play = play_loss_fast,
};

static void play_reordering(struct stage *sg)
{
    int c, s;
    /* A path with a round trip of 20 ms, so the client's SRTT says how late
     * an ACK may be; the first segment then comes 5 ms late, well inside
     * that (a tail loss probe waits 2*SRTT, RFC 8985 §7.2). */
    static const struct us_faults path = {.delay = US_MSEC(10)};
    static const struct us_faults slow = {.delay = US_MSEC(15)};
    act_faults(sg, CLIENT, &path, "each way takes 10 ms");
    act_faults(sg, SERVER, &path, NULL);
    book_connect(sg, 80, &c, &s);
    act_setsockopt(sg, CLIENT, c, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1);
    stage_mark(sg);
    act_faults(sg, CLIENT, &slow, "the client's next frame takes a slower path (15 ms)");
    send_stream(sg, c, 0, SEG);
    act_faults(sg, CLIENT, &path, "the client's frames take the usual path again (10 ms)");
    send_stream(sg, c, SEG, 2 * SEG);
    claim_stream(sg, s, 3 * SEG);
    long a = data_segment(sg, CLIENT, 0), b = data_segment(sg, CLIENT, 2);
    claim(sg, a >= 0 && b >= 0 && sg->ev[a].arrived > sg->ev[b].arrived,
          "the first segment arrives after the third", "it did not");
    claim_counter(sg, SERVER, US_C_tcp_ooo_segments, 2);
    unsigned dup = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_FRAME && e->tcp && e->actor == SERVER && strstr(e->text, "sack")) dup++;
    }
    claim(sg, dup == 2, "the server sends 2 duplicate ACKs with SACK blocks: fewer than 3",
          "it sent %u", dup);
    claim_counter(sg, CLIENT, US_C_tcp_retransmits, 0);
}

const struct scenario sc_reordering = {
    .name = "reordering",
    .title = "Reordering is not loss",
    .about = "On a path with a 20 ms round trip the client sends three segments; the first "
             "takes a slower path and arrives 5 ms late, after the other two. The server keeps the "
             "second and third in its out-of-order queue and "
             "answers each with a duplicate ACK and a SACK block; when the first arrives it "
             "delivers all three in order and acknowledges them at once. Two duplicate ACKs "
             "are below the threshold of three, and the reordering is over long before the "
             "client's timers (a tail loss probe would wait two round trips), so the client "
             "retransmits nothing.",
    .play = play_reordering,
};

static void play_zero_window(struct stage *sg)
{
    /* A small receive buffer, set before listen() so the handshake
     * advertises it. */
    int l = act_socket(sg, SERVER, false);
    act_setsockopt(sg, SERVER, l, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 4096);
    act_bind(sg, SERVER, l, 80);
    act_listen_fd(sg, SERVER, l, 16);
    int c = act_socket(sg, CLIENT, false);
    act_connect(sg, CLIENT, c, SERVER, 80);
    int s = act_accept(sg, SERVER, l);
    stage_mark(sg);
    const size_t total = 12 * SEG;
    send_stream(sg, c, 0, total);
    act_note(sg, SERVER, "the server does not read for a while");
    act_run(sg, US_SEC(8));
    long zero = -1;
    for (size_t i = sg->mark; i < sg->n_ev && zero < 0; i++)
        if (sg->ev[i].kind == SEV_FRAME && sg->ev[i].tcp && sg->ev[i].actor == SERVER &&
            sg->ev[i].win == 0)
            zero = (long)i;
    claim(sg, zero >= 0, "the server's buffer fills and it advertises a zero window",
          "it never did");
    /* The probes: pure ACKs from the client once the window is shut (RFC
     * 9293 §3.8.6.1). Each lies below the window, and the server answers
     * such a segment with its window -- at most once per 500 ms, as Linux
     * does (tcp_invalid_ratelimit), so two ACKs can never ping-pong. */
    us_time_t t[32];
    unsigned n = 0, answered = 0, quiet_ok = 0;
    us_time_t last_answer = US_TIME_NEVER;
    for (size_t i = zero < 0 ? sg->n_ev : (size_t)zero; i < sg->n_ev && n < 32; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_FRAME && e->tcp && e->actor == SERVER && e->win == 0)
            last_answer = e->time;
        if (!(e->kind == SEV_FRAME && e->tcp && e->actor == CLIENT && !e->len &&
              !(e->flags & (TF_SYN | TF_FIN | TF_RST))))
            continue;
        t[n++] = e->time;
        const struct stage_event *next = i + 1 < sg->n_ev ? &sg->ev[i + 1] : NULL;
        if (next && next->kind == SEV_FRAME && next->actor == SERVER && next->win == 0 &&
            next->time == e->arrived)
            answered++;
        else if (last_answer != US_TIME_NEVER && e->arrived - last_answer < US_MSEC(500))
            quiet_ok++;
    }
    bool doubling = n >= 3;
    char gaps[200] = "";
    size_t len = 0;
    for (unsigned i = 1; i < n && len < sizeof(gaps) - 16; i++) {
        len += (size_t)snprintf(gaps + len, sizeof(gaps) - len, "%s%.3f", i > 1 ? ", " : "",
                                (double)(t[i] - t[i - 1]) / 1e6);
        if (i >= 2 && t[i] - t[i - 1] != 2 * (t[i - 1] - t[i - 2])) doubling = false;
    }
    claim(sg, doubling,
          "the client probes the zero window, each probe waiting twice as long "
          "as the one before",
          "%u probes, %s s apart", n, gaps);
    claim(sg, n > 0 && answered + quiet_ok == n,
          "the server answers each probe with its zero window, unless it answered less than "
          "500 ms before",
          "%u of %u probes were answered, %u within 500 ms of an answer", answered, n, quiet_ok);
    /* The counter also counts what the persist timer sent into a window
     * too small for SWS avoidance (RFC 9293 §3.8.6.2.1), if anything. */
    claim_counter_min(sg, CLIENT, US_C_tcp_persist_probes, n);
    act_note(sg, SERVER, "the server reads again");
    claim_stream(sg, s, total);
    long reopen = -1;
    for (size_t i = zero < 0 ? sg->n_ev : (size_t)zero; i < sg->n_ev && reopen < 0; i++)
        if (sg->ev[i].kind == SEV_FRAME && sg->ev[i].tcp && sg->ev[i].actor == SERVER &&
            sg->ev[i].win > 0)
            reopen = (long)i;
    claim(sg, reopen >= 0, "reading reopens the window: the server sends a window update",
          "it never did");
}

const struct scenario sc_zero_window = {
    .name = "zero-window",
    .title = "Zero window and the persist timer",
    .about = "The server's receive buffer is small (SO_RCVBUF 4096, doubled as Linux does) "
             "and it stops reading. The client fills the window; the server's ACKs advertise a "
             "window of 0, and the client must stop. Lest a lost window update leave both "
             "waiting forever, the client's persist timer sends zero-window probes, backing off "
             "exponentially; the server answers them with its window (but, as Linux, not twice "
             "within 500 ms). When the server reads, it announces the open window and the rest "
             "of the data flows.",
    .play = play_zero_window,
};

/* Ten 1000-byte segments, one send() each, on a path with a 20 ms round
 * trip; the ones whose index (from 0) is in `lost` never arrive. */
static void send_ten(struct stage *sg, int c, const bool lost[10])
{
    static const struct us_faults path = {.delay = US_MSEC(10)};
    static const struct us_faults gone = {.delay = US_MSEC(10), .loss = 100};
    for (unsigned i = 0; i < 10; i++) {
        if (lost[i]) act_faults(sg, CLIENT, &gone, NULL);
        send_stream(sg, c, i * SEG, SEG);
        if (lost[i]) {
            act_faults(sg, CLIENT, &path, NULL);
            act_note(sg, CLIENT, "segment %u (bytes %u:%u) is lost", i + 1, i * SEG + 1,
                     (i + 1) * SEG + 1);
        }
    }
}

static int connect_rtt20(struct stage *sg, int *c, int *s)
{
    static const struct us_faults path = {.delay = US_MSEC(10)};
    act_faults(sg, CLIENT, &path, "each way takes 10 ms: a 20 ms round trip");
    act_faults(sg, SERVER, &path, NULL);
    int l = book_connect(sg, 80, c, s);
    act_setsockopt(sg, CLIENT, *c, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1);
    return l;
}

/* Client retransmissions since the mark: how many, and whether each
 * carries exactly one of the lost segments' bytes, each once. */
static void claim_repairs(struct stage *sg, const bool lost[10])
{
    unsigned rtx = 0, exact = 0, seen[10] = {0};
    long first = data_segment(sg, CLIENT, 0);
    uint32_t base = first >= 0 ? sg->ev[first].seq : 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (!(e->kind == SEV_FRAME && e->tcp && e->actor == CLIENT && e->retransmit)) continue;
        rtx++;
        unsigned k = (e->seq - base) / SEG;
        if (e->len == SEG && (e->seq - base) % SEG == 0 && k < 10 && lost[k] && !seen[k]++) exact++;
    }
    unsigned want = 0;
    for (unsigned i = 0; i < 10; i++) want += lost[i];
    char what[120];
    snprintf(what, sizeof(what),
             "the client resends exactly the %u lost segment%s, each once, and nothing else", want,
             want == 1 ? "" : "s");
    claim(sg, rtx == want && exact == want, what, "%u retransmissions, %u of them a lost segment",
          rtx, exact);
}

static void play_sack_recovery(struct stage *sg)
{
    int c, s;
    connect_rtt20(sg, &c, &s);
    stage_mark(sg);
    const bool lost[10] = {[2] = true, [5] = true};
    send_ten(sg, c, lost);
    claim_stream(sg, s, 10 * SEG);
    claim_repairs(sg, lost);
    /* Both holes are repaired in the same recovery, within about one round
     * trip of the third duplicate ACK: SACK says what is missing (RFC 6675),
     * where NewReno alone would learn of the second hole one RTT later. */
    us_time_t first = US_TIME_NEVER, last = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_FRAME && e->tcp && e->actor == CLIENT && e->retransmit) {
            if (first == US_TIME_NEVER) first = e->time;
            last = e->time;
        }
    }
    char d[32];
    claim(sg, first != US_TIME_NEVER && last - first < US_MSEC(20),
          "both holes are resent within one round trip (20 ms)", "%s apart",
          first != US_TIME_NEVER ? secs_str(last - first, d, sizeof(d)) : "(none sent)");
    claim_counter(sg, CLIENT, US_C_tcp_fast_retransmits, 1);
    claim_counter(sg, CLIENT, US_C_tcp_rto_expired, 0);
    act_run(sg, US_MSEC(20)); /* the last ACK reaches the client */
    struct us_tcp_info ti;
    act_tcp_info(sg, CLIENT, c, &ti);
    /* RFC 6582 §3.2 step 3 / RFC 6675: leaving recovery, cwnd = ssthresh. */
    claim(sg, ti.ca_state == 0 && ti.snd_cwnd == ti.snd_ssthresh,
          "after the recovery the congestion window is ssthresh (RFC 6582 §3.2)",
          "state %u, cwnd %u, ssthresh %u", ti.ca_state, ti.snd_cwnd, ti.snd_ssthresh);
}

const struct scenario sc_sack_recovery = {
    .name = "sack-recovery",
    .title = "Two losses in one window: SACK recovery",
    .about = "On a path with a 20 ms round trip the client sends ten segments; the third and "
             "the sixth are lost. Every segment after a hole draws a duplicate ACK whose SACK "
             "blocks say which bytes arrived. The third duplicate ACK starts fast recovery "
             "(RFC 6675): the client resends the first hole, and as soon as three segments "
             "above the second are SACKed it counts that one lost too and resends it, in the "
             "same round trip. The congestion window drops to ssthresh (CUBIC: 0.7 of the "
             "flight) and no timer expires.",
    .play = play_sack_recovery,
};

static void play_tail_loss_probe(struct stage *sg)
{
    int c, s;
    connect_rtt20(sg, &c, &s);
    stage_mark(sg);
    const bool lost[10] = {[8] = true, [9] = true};
    send_ten(sg, c, lost);
    claim_stream(sg, s, 10 * SEG);
    claim_repairs(sg, lost);
    /* The probe: the first retransmission, the last segment again, two
     * SRTTs after the last ACK of new data (RFC 8985 §7.2) -- not the
     * RTO's at least 200 ms. */
    long probe = -1, last_ack = -1;
    for (size_t i = sg->mark; i < sg->n_ev && probe < 0; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind != SEV_FRAME || !e->tcp) continue;
        if (e->actor == CLIENT && e->retransmit) probe = (long)i;
        if (e->actor == SERVER && probe < 0) last_ack = (long)i;
    }
    long tenth = data_segment(sg, CLIENT, 9);
    char d[32];
    us_time_t wait =
        probe >= 0 && last_ack >= 0 ? sg->ev[probe].time - sg->ev[last_ack].arrived : US_TIME_NEVER;
    claim(sg, probe >= 0 && tenth >= 0 && sg->ev[probe].seq == sg->ev[tenth].seq,
          "the probe is the last segment sent, again", "it is not");
    claim(sg, wait != US_TIME_NEVER && wait >= US_MSEC(40) && wait < US_MSEC(60),
          "it leaves two smoothed round trips (2*SRTT: 40 to 60 ms) after the last ACK, "
          "long before an RTO (at least 200 ms)",
          "it left %s after", wait != US_TIME_NEVER ? secs_str(wait, d, sizeof(d)) : "(never)");
    claim_counter(sg, CLIENT, US_C_tcp_loss_probes, 1);
    /* The probe's ACK SACKs the tenth segment: with two segments
     * outstanding and nothing new to send, one SACKed segment is enough to
     * call the ninth lost (RFC 5827 early retransmit). */
    claim_counter(sg, CLIENT, US_C_tcp_early_retransmits, 1);
    claim_counter(sg, CLIENT, US_C_tcp_rto_expired, 0);
}

const struct scenario sc_tail_loss_probe = {
    .name = "tail-loss-probe",
    .title = "Losses at the tail: a loss probe",
    .about = "The client sends ten segments and the last two are lost. No segment follows "
             "them, so no duplicate ACK can tell the client. Rather than wait for its "
             "retransmission timer (at least 200 ms), the client sends a tail loss probe "
             "(RFC 8985 §7) two smoothed round trips after the last ACK: the last segment "
             "again. The server's ACK for it carries a SACK block, and with only two segments "
             "outstanding one SACKed segment is enough to call the other lost (early "
             "retransmit, RFC 5827): the client resends it, and no timer expires. (The "
             "loss-rto scenario turns the probe off to show the timeout itself.)",
    .play = play_tail_loss_probe,
};
