/*
 * book_open.c: scenarios about opening a connection: the three-way
 * handshake, data as a byte stream and messages framed on it, simultaneous open, a refused
 * connection and one that times out.
 */
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "scenario/book.h"

/* The sequence numbers of the handshake, as RFC 9293 §3.5 figure 7 shows:
 * SYN <SEQ=x>, SYN,ACK <SEQ=y><ACK=x+1>, ACK <SEQ=x+1><ACK=y+1>. */
static void claim_handshake_numbers(struct stage *sg)
{
    long syn = stage_find_segment(sg, CLIENT, TF_SYN, 0);
    long synack = stage_find_segment(sg, SERVER, TF_SYN | TF_ACK, 0);
    long ack = synack < 0 ? -1 : stage_find_segment(sg, CLIENT, TF_ACK, 0);
    if (syn < 0 || synack < 0 || ack < 0) {
        claim(sg, false, "the handshake's numbers: SYN seq=x, SYN,ACK seq=y ack=x+1, ACK ack=y+1",
              "the handshake is incomplete");
        return;
    }
    const struct stage_event *a = &sg->ev[syn], *b = &sg->ev[synack], *c = &sg->ev[ack];
    claim(sg, b->ack == a->seq + 1,
          "the SYN,ACK acknowledges the client's ISN + 1 (the SYN takes one sequence number)",
          "SYN seq %u, SYN,ACK ack %u", a->seq, b->ack);
    claim(sg, c->ack == b->seq + 1 && c->seq == a->seq + 1,
          "the final ACK has seq = ISN(client) + 1 and ack = ISN(server) + 1",
          "ACK seq %u ack %u; ISNs %u and %u", c->seq, c->ack, a->seq, b->seq);
}

static void play_handshake(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    claim_ok(sg, "connect()", c);
    claim_ok(sg, "accept()", s);
    claim_segments(sg, "client SYN | server SYN,ACK | client ACK");
    claim_states(sg, CLIENT, 0, "CLOSED -> SYN-SENT -> ESTABLISHED");
    claim_states(sg, SERVER, 0, "CLOSED -> LISTEN -> SYN-RECEIVED -> ESTABLISHED");
    claim_handshake_numbers(sg);
}

const struct scenario sc_handshake = {
    .name = "handshake",
    .title = "The three-way handshake",
    .about = "The server listens; the client connects. The client's SYN carries its initial "
             "sequence number (ISN) x; the server answers SYN,ACK with its own ISN y and "
             "acknowledges x+1; the client's ACK of y+1 completes the handshake (RFC 9293 "
             "§3.5). connect() returns when the client is ESTABLISHED; accept() returns the "
             "server's connection once the final ACK has arrived.",
    .play = play_handshake,
};

static void play_byte_stream(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    /* A fresh connection ACKs its first segments at once (Linux's quick-ACK
     * mode, as ustack does); TCP_QUICKACK 0 leaves it, as an interactive
     * server that has been talking for a while would have. */
    act_setsockopt(sg, SERVER, s, IPPROTO_TCP, TCP_QUICKACK, "TCP_QUICKACK", 0);
    stage_mark(sg);
    act_send(sg, CLIENT, c, "hel", 3);
    act_send(sg, CLIENT, c, "lo", 2);
    act_run(sg, US_SEC(1));
    char got[64];
    ssize_t n = act_recv(sg, SERVER, s, got, sizeof(got) - 1, 0);
    claim_data(sg, SERVER, got, n, "hello");
    claim(sg, n == 5, "two sends, one receive: TCP keeps no message boundaries",
          "recv returned %zd bytes", n);
    /* Nagle (RFC 896, RFC 1122 §4.2.3.4): with "hel" unacknowledged, "lo"
     * waits; the server delays its ACK (RFC 1122 §4.2.3.2) for lack of
     * anything to send. */
    claim_segments(sg, "client PSH,ACK(3) | server ACK | client PSH,ACK(2) | server ACK");
    long first = stage_find_segment(sg, CLIENT, TF_PSH, 0);
    long ack = stage_find_segment(sg, SERVER, TF_ACK, 0);
    long second = stage_find_segment(sg, CLIENT, TF_PSH, 1);
    us_time_t delack = us_stack_tcp_config(sg->stack[SERVER])->delack_timeout;
    if (first >= 0 && ack >= 0 && second >= 0) {
        char want[120];
        secs_str(delack, want, sizeof(want));
        char what[200];
        snprintf(what, sizeof(what),
                 "the server delays its ACK by %s; Nagle holds \"lo\" until that ACK arrives",
                 want);
        claim(sg,
              sg->ev[ack].time - sg->ev[first].time == delack &&
                  sg->ev[second].time >= sg->ev[ack].time,
              what, "first data at %llu us, ACK at %llu us, second data at %llu us",
              (unsigned long long)sg->ev[first].time, (unsigned long long)sg->ev[ack].time,
              (unsigned long long)sg->ev[second].time);
    } else {
        claim(sg, false, "the server delays its ACK; Nagle holds \"lo\" until it arrives",
              "segments are missing");
    }
    claim_counter(sg, SERVER, US_C_tcp_delayed_acks, 2);
}

const struct scenario sc_byte_stream = {
    .name = "byte-stream",
    .title = "Data is a byte stream",
    .about = "The client calls send() twice (\"hel\", then \"lo\"); the server calls recv() "
             "once and gets \"hello\": TCP delivers bytes, not messages. On the wire, Nagle's "
             "algorithm keeps the second, small segment back while the first is "
             "unacknowledged, and the server, with nothing to send, delays its ACK by 40 ms. "
             "(A connection's first segments are ACKed at once, Linux's quick-ACK mode; the "
             "server leaves it with TCP_QUICKACK 0, as a long-running one would have.)",
    .play = play_byte_stream,
};

/* The messages of the framing scenario: an empty one, a small one, one of
 * many segments. */
static const struct {
    uint8_t type;
    uint32_t len;
} framed[] = {{1, 5}, {2, 0}, {1, 1}, {1, 3000}, {3, 20000}, {1, 300}};

static void framed_body(uint8_t *b, uint32_t len, unsigned m)
{
    for (uint32_t i = 0; i < len; i++) b[i] = (uint8_t)('a' + (i + m) % 26);
}

static void play_framing(struct stage *sg)
{
    int c, s;
    /* 10 ms each way, 10 Mbit/s: a full frame takes 1.2 ms to send, so
     * segments of one send arrive one after the other. */
    static const struct us_faults path = {.delay = US_MSEC(10), .rate_bps = 10000000};
    act_faults(sg, CLIENT, &path, "10 ms each way, 10 Mbit/s");
    act_faults(sg, SERVER, &path, NULL);
    book_connect(sg, 80, &c, &s);
    stage_mark(sg);

    /* One send, several receives. */
    static char big[6000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)('A' + i % 26);
    act_send(sg, CLIENT, c, big, sizeof(big));
    act_run(sg, US_MSEC(12));
    static char got[8192];
    ssize_t n1 = act_recv(sg, SERVER, s, got, sizeof(got) - 1, MSG_DONTWAIT);
    claim(sg, n1 > 0 && n1 < (ssize_t)sizeof(big),
          "one send of 6000 bytes: the first recv() returns only what has arrived",
          "recv returned %zd", n1);
    act_run(sg, US_SEC(1));
    ssize_t n2 = act_recv(sg, SERVER, s, got, sizeof(got) - 1, MSG_DONTWAIT);
    claim(sg, n1 + n2 == (ssize_t)sizeof(big), "a second recv() returns the rest",
          "%zd + %zd bytes", n1, n2);

    /* Messages, framed, over a path that loses and reorders. */
    static const struct us_faults bad = {
        .delay = US_MSEC(10), .rate_bps = 10000000, .loss = 15, .reorder = 10};
    act_faults(sg, CLIENT, &bad, "now 15% of frames are lost and 10% reordered, each way");
    act_faults(sg, SERVER, &bad, NULL);
    static uint8_t body[FRAME_MAX_BODY], want[FRAME_MAX_BODY];
    unsigned nmsg = sizeof(framed) / sizeof(framed[0]);
    struct us_stack *cs = sg->stack[CLIENT], *ss = sg->stack[SERVER];
    for (unsigned m = 0; m < nmsg; m++) {
        framed_body(body, framed[m].len, m);
        act_note(sg, CLIENT, "frame_send(type %u, %u bytes): header then body", framed[m].type,
                 framed[m].len);
        if (frame_send(cs, c, framed[m].type, body, framed[m].len) < 0)
            claim(sg, false, "frame_send() sends every message", "%s", strerror(errno));
    }
    struct frame_reader r;
    frame_reader_init(&r);
    r.max_read = 1000; /* small reads: a message takes several */
    unsigned whole = 0;
    for (unsigned m = 0; m < nmsg; m++) {
        uint8_t type;
        uint32_t len;
        int rc;
        while ((rc = frame_recv(ss, s, &r, &type, body, &len)) < 0 && errno == EAGAIN)
            act_run(sg, US_MSEC(5));
        if (rc != 1) break;
        framed_body(want, framed[m].len, m);
        act_note(sg, SERVER, "frame_recv: type %u, %u bytes", type, len);
        if (type == framed[m].type && len == framed[m].len && !memcmp(body, want, len)) whole++;
    }
    claim(sg, whole == nmsg,
          "frame_recv() returns exactly the six messages sent, whole, in order, once",
          "%u of %u matched", whole, nmsg);
    uint64_t rtx = us_stack_counter(cs, US_C_tcp_retransmits);
    claim(sg, rtx > 0, "the losses were repaired by retransmission, below the framing",
          "no retransmission");
}

const struct scenario sc_framing = {
    .name = "framing",
    .title = "Messages over a byte stream: framing",
    .about = "TCP keeps the order of bytes but not the edges of messages. On a 10 Mbit/s path "
             "one send of 6000 bytes arrives as several segments, and a recv() made before "
             "the last one returns only part of it. A protocol on TCP therefore marks its "
             "messages: here each is sent as a 4-byte length, a type byte and the body "
             "(examples/frame.c). With 15% of frames lost and 10% reordered, the client sends "
             "six messages from 0 to 20000 bytes and the server, reading at most 1000 bytes at "
             "a time, gets exactly those six back, each whole, in order, once.",
    .play = play_framing,
};

static void play_simultaneous_open(struct stage *sg)
{
    /* Both sides know each other's address first, so the SYNs cross. */
    act_ping(sg, CLIENT, SERVER);
    int a = act_socket(sg, CLIENT, true);
    int b = act_socket(sg, SERVER, true);
    act_bind(sg, CLIENT, a, 5000);
    act_bind(sg, SERVER, b, 6000);
    stage_mark(sg);
    int ra = act_connect(sg, CLIENT, a, SERVER, 6000);
    claim_errno(sg, "the client's non-blocking connect()", ra, EINPROGRESS);
    int rb = act_connect(sg, SERVER, b, CLIENT, 5000);
    claim_errno(sg, "the server's non-blocking connect()", rb, EINPROGRESS);
    act_run(sg, US_SEC(1));
    /* RFC 9293 §3.5 figure 8. Each SYN,ACK arrives below RCV.NXT (its SYN
     * was already received) and is answered with an ACK (§3.10.7.4 first);
     * those ACKs complete the handshake. Linux sends the same six. */
    claim_segments(sg, "client SYN | server SYN | server SYN,ACK | client SYN,ACK | server ACK | "
                       "client ACK");
    claim_states(sg, CLIENT, 0, "CLOSED -> SYN-SENT -> SYN-RECEIVED -> ESTABLISHED");
    claim_states(sg, SERVER, 0, "CLOSED -> SYN-SENT -> SYN-RECEIVED -> ESTABLISHED");
    act_send(sg, CLIENT, a, "x", 1);
    act_run(sg, US_SEC(1));
    char got[8];
    ssize_t n = act_recv(sg, SERVER, b, got, sizeof(got) - 1, 0);
    claim_data(sg, SERVER, got, n, "x");
}

const struct scenario sc_simultaneous_open = {
    .name = "simultaneous-open",
    .title = "Simultaneous open",
    .about = "Two programs connect to each other at the same moment, each from a known port. "
             "Their SYNs cross on the wire; each side goes from SYN-SENT to SYN-RECEIVED and "
             "answers with a SYN,ACK; the ACKs of those complete one connection, not two "
             "(RFC 9293 §3.5, figure 8). Neither side ever listened.",
    .play = play_simultaneous_open,
    .delay = US_MSEC(5),
};

static void play_refused(struct stage *sg)
{
    int c = act_socket(sg, CLIENT, false);
    int rc = act_connect(sg, CLIENT, c, SERVER, 81);
    claim_errno(sg, "connect() to a port nobody listens on", rc, ECONNREFUSED);
    claim_segments(sg, "client SYN | server RST,ACK");
    long syn = stage_find_segment(sg, CLIENT, TF_SYN, 0);
    long rst = stage_find_segment(sg, SERVER, TF_RST, 0);
    /* RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, the SYN
     * counting as one. */
    claim(sg,
          syn >= 0 && rst >= 0 && sg->ev[rst].ack == sg->ev[syn].seq + 1 && sg->ev[rst].seq == 0,
          "the RST has seq 0 and acknowledges the SYN (ack = ISN + 1)", "no such pair of segments");
    claim_states(sg, CLIENT, 0, "CLOSED -> SYN-SENT -> CLOSED");
    claim_counter(sg, SERVER, US_C_drop_tcp_no_socket, 1);
    claim_counter(sg, SERVER, US_C_tcp_rst_tx, 1);
}

const struct scenario sc_refused = {
    .name = "refused",
    .title = "Connection refused",
    .about = "The client connects to port 81, where nothing listens. The server's stack "
             "answers the SYN with a RST that acknowledges it (RFC 9293 §3.10.7.1), and "
             "connect() fails at once with ECONNREFUSED -- no retries, no waiting.",
    .play = play_refused,
};

static void long_arp(struct us_stack_config *cfg)
{
    /* The silent server does not answer ARP either; with the default cache
     * lifetime (60 s) the later SYNs would wait on ARP instead of reaching
     * the wire. This scenario is about TCP's backoff, so the client's cache
     * keeps the server's address. */
    cfg->arp_timeout = US_SEC(1000);
}

static void play_connect_timeout(struct stage *sg)
{
    act_ping(sg, CLIENT, SERVER);
    act_cable(sg, SERVER, true);
    stage_mark(sg);
    int c = act_socket(sg, CLIENT, false);
    us_time_t t0 = stage_now(sg);
    int rc = act_connect(sg, CLIENT, c, SERVER, 80);
    claim_errno(sg, "connect() to an unreachable server", rc, ETIMEDOUT);
    /* Linux's tcp_syn_retries = 6: the SYN and six retransmissions, the
     * wait doubling from the initial RTO of 1 s (RFC 6298 §2.1, §5.5). */
    static const unsigned at[] = {0, 1, 3, 7, 15, 31, 63};
    const unsigned want_n = sizeof(at) / sizeof(at[0]);
    unsigned n = stage_count_segments(sg, CLIENT, TF_SYN, false);
    bool times_ok = n == want_n;
    char got[256] = "";
    size_t len = 0;
    for (unsigned k = 0; k < n && len < sizeof(got) - 16; k++) {
        us_time_t t = sg->ev[stage_find_segment(sg, CLIENT, TF_SYN, k)].time - t0;
        len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%.3f", k ? ", " : "",
                                (double)t / 1e6);
        if (k < want_n && t != US_SEC(at[k])) times_ok = false;
    }
    claim(sg, times_ok, "7 SYNs, at 0, 1, 3, 7, 15, 31 and 63 s: the wait doubles each time",
          "%u SYNs, at %s s", n, got);
    claim(sg, stage_count_segments(sg, SERVER, 0, false) == 0, "the server never answers",
          "it sent %u segments", stage_count_segments(sg, SERVER, 0, false));
    us_time_t gave_up = stage_state_time(sg, CLIENT, US_TCP_CLOSED);
    claim(sg, gave_up != US_TIME_NEVER && gave_up - t0 == US_SEC(127),
          "the client gives up 127 s after the first SYN (64 s after the last)",
          "it gave up after %.3f s",
          gave_up == US_TIME_NEVER ? -1.0 : (double)(gave_up - t0) / 1e6);
    claim_states(sg, CLIENT, 0, "CLOSED -> SYN-SENT -> CLOSED");
    claim_counter(sg, CLIENT, US_C_tcp_timeouts, 1);
}

const struct scenario sc_connect_timeout = {
    .name = "connect-timeout",
    .title = "Connect timeout",
    .about = "The server's cable is unplugged, so the client's SYN gets no answer at all. "
             "The client retransmits it with exponential backoff -- 1, 2, 4, 8, 16 and 32 s "
             "apart, six retries as Linux's tcp_syn_retries -- then waits 64 s more and "
             "gives up: connect() fails with ETIMEDOUT after 127 s.",
    .play = play_connect_timeout,
    .configure = long_arp,
};
