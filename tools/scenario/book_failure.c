/*
 * book_failure.c: scenarios about a peer that goes away: keepalive finding
 * out that it vanished, a cable pulled and plugged back, and the reset a
 * rebooted server answers with.
 */
#include <errno.h>
#include <string.h>

#include "scenario/book.h"

#define KEEPIDLE  60 /* s */
#define KEEPINTVL 10 /* s */
#define KEEPCNT   3

static void long_arp(struct us_stack_config *cfg)
{
    /* A vanished peer stops answering ARP too: once the cache entry
     * failed, the probes would wait on ARP instead of reaching the wire.
     * This scenario is about keepalive, so the entries outlive it. */
    cfg->arp_timeout = US_SEC(1000);
}

/* Times of the client's keepalive probes since the mark: pure ACKs with no
 * data, one below SND.NXT. */
static unsigned probe_times(const struct stage *sg, us_time_t *t, unsigned max)
{
    unsigned n = 0;
    for (size_t i = sg->mark; i < sg->n_ev && n < max; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_FRAME && e->tcp && e->actor == CLIENT && e->flags == TF_ACK && !e->len)
            t[n++] = e->time;
    }
    return n;
}

static void play_keepalive(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    act_setsockopt(sg, CLIENT, c, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
    act_setsockopt(sg, CLIENT, c, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", KEEPIDLE);
    act_setsockopt(sg, CLIENT, c, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", KEEPINTVL);
    act_setsockopt(sg, CLIENT, c, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", KEEPCNT);
    long hs_ack = stage_find_segment(sg, CLIENT, TF_ACK, 0);
    us_time_t idle_from = stage_now(sg);
    stage_mark(sg);
    act_run(sg, US_SEC(KEEPIDLE + 1));
    /* RFC 1122 §4.2.3.6: a probe the peer must answer, SEG.SEQ = SND.NXT-1. */
    long probe = stage_find_segment(sg, CLIENT, TF_ACK, 0);
    long answer = stage_find_segment(sg, SERVER, TF_ACK, 0);
    claim(sg, probe >= 0 && sg->ev[probe].time - idle_from == US_SEC(KEEPIDLE),
          "after 60 s of silence (TCP_KEEPIDLE) the client sends a probe", "it did not");
    claim(sg,
          probe >= 0 && hs_ack >= 0 && sg->ev[probe].seq + 1 == sg->ev[hs_ack].seq &&
              sg->ev[probe].len == 0,
          "the probe is an ACK without data, one below the next sequence number",
          "its seq is %u, SND.NXT %u", probe >= 0 ? sg->ev[probe].seq : 0,
          hs_ack >= 0 ? sg->ev[hs_ack].seq : 0);
    claim(sg, answer > probe, "the server, alive, answers it with an ACK", "it did not");

    act_cable(sg, SERVER, true);
    us_time_t quiet_from = answer >= 0 ? sg->ev[answer].time : stage_now(sg);
    stage_mark(sg);
    char got[8];
    ssize_t n = act_recv(sg, CLIENT, c, got, sizeof(got) - 1, 0);
    claim_errno(sg, "the client's blocking recv()", n, ETIMEDOUT);
    us_time_t t[16];
    unsigned np = probe_times(sg, t, 16);
    bool ok = np == KEEPCNT;
    for (unsigned i = 0; ok && i < np; i++)
        if (t[i] - quiet_from != US_SEC(KEEPIDLE + i * KEEPINTVL)) ok = false;
    char list[160] = "";
    size_t len = 0;
    for (unsigned i = 0; i < np && len < sizeof(list) - 16; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%.3f", i ? ", " : "",
                                (double)(t[i] - quiet_from) / 1e6);
    claim(sg, ok,
          "unanswered probes go out at idle, idle+intvl, idle+2*intvl: 60, 70 and 80 s "
          "after the last answer",
          "%u probes, at %s s", np, list);
    us_time_t closed = stage_state_time(sg, CLIENT, US_TCP_CLOSED);
    claim(sg,
          closed != US_TIME_NEVER && closed - quiet_from == US_SEC(KEEPIDLE + KEEPCNT * KEEPINTVL),
          "after TCP_KEEPCNT (3) unanswered probes and one more interval, at 90 s, the client "
          "gives up",
          "it gave up at %.3f s",
          closed == US_TIME_NEVER ? -1.0 : (double)(closed - quiet_from) / 1e6);
    claim_states(sg, CLIENT, 0, "ESTABLISHED -> CLOSED");
    claim_counter(sg, CLIENT, US_C_tcp_keepalive_probes, 1 + KEEPCNT);
    claim_counter(sg, CLIENT, US_C_tcp_keepalive_timeouts, 1);
}

const struct scenario sc_keepalive = {
    .name = "keepalive",
    .title = "Keepalive finds a vanished peer",
    .about = "An idle connection sends nothing, so a peer that vanished goes unnoticed -- "
             "unless the socket asks for keepalive. The client sets SO_KEEPALIVE with "
             "TCP_KEEPIDLE 60 s, TCP_KEEPINTVL 10 s and TCP_KEEPCNT 3 (Linux's defaults are "
             "7200 s, 75 s and 9; virtual time makes them as cheap). After 60 s of silence it "
             "probes and the server answers. Then the server's cable is unplugged: three "
             "probes go unanswered, 10 s apart, and 10 s after the last the client gives up: "
             "the connection is dropped and recv() fails with ETIMEDOUT.",
    .play = play_keepalive,
    .configure = long_arp,
};

static void play_cable_unplugged(struct stage *sg)
{
    /* The backoff is the point here: without the tail loss probe (RFC 8985,
     * on by default) the first retransmission is the timeout's too. */
    us_stack_tcp_config(sg->stack[CLIENT])->tlp = false;
    int c, s;
    book_connect(sg, 80, &c, &s);
    stage_mark(sg);
    act_cable(sg, SERVER, true);
    act_send(sg, CLIENT, c, "hello", 5);
    act_run(sg, US_SEC(5));
    act_cable(sg, SERVER, false);
    us_time_t back = stage_now(sg);
    char got[16];
    ssize_t n = act_recv(sg, SERVER, s, got, sizeof(got) - 1, 0);
    claim_data(sg, SERVER, got, n, "hello");
    /* RFC 6298 §5.5: each expiry doubles the timer. */
    us_time_t t[16];
    unsigned k = 0;
    long last = -1;
    for (size_t i = sg->mark; i < sg->n_ev && k < 16; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind != SEV_FRAME || !e->tcp || e->actor != CLIENT || !e->len) continue;
        t[k++] = e->time;
        last = (long)i;
    }
    bool doubling = k >= 4;
    char gaps[200] = "";
    size_t len = 0;
    for (unsigned i = 1; i < k && len < sizeof(gaps) - 16; i++) {
        len += (size_t)snprintf(gaps + len, sizeof(gaps) - len, "%s%.3f", i > 1 ? ", " : "",
                                (double)(t[i] - t[i - 1]) / 1e6);
        if (i >= 2 && t[i] - t[i - 1] != 2 * (t[i - 1] - t[i - 2])) doubling = false;
    }
    claim(sg, doubling, "the client retransmits, each wait twice the one before",
          "%u sends, %s s apart", k, gaps);
    unsigned lost = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++)
        if (sg->ev[i].kind == SEV_FRAME && sg->ev[i].actor == CLIENT && sg->ev[i].tcp &&
            sg->ev[i].fate == FATE_LOST)
            lost++;
    claim(sg,
          lost == k - 1 && last >= 0 && sg->ev[last].fate == FATE_DELIVERED &&
              sg->ev[last].time >= back,
          "every copy sent while the cable was out is lost; the first one after it arrives",
          "%u of %u lost", lost, k);
    claim(sg, stage_count_segments(sg, -1, TF_RST, false) == 0,
          "no reset: the connection survives the outage", "a RST was sent");
    struct us_tcp_info ti;
    act_tcp_info(sg, CLIENT, c, &ti);
    char states[256];
    stage_states(sg, CLIENT, 0, states, sizeof(states));
    claim(sg, !strcmp(states, "(no change)") && ti.state == US_TCP_ESTABLISHED,
          "the client stays ESTABLISHED throughout", "it went %s", states);
    claim_counter(sg, CLIENT, US_C_tcp_rto_expired, k - 1);
}

const struct scenario sc_cable_unplugged = {
    .name = "cable-unplugged",
    .title = "The unplugged cable",
    .about = "The server's cable is pulled just as the client sends \"hello\". The segment "
             "is lost, and so is each retransmission, the client doubling its wait every "
             "time (RFC 6298 §5.5). Nothing tells either side that the cable is out: no "
             "error, no reset. When it is plugged back in, the next retransmission arrives, "
             "the server acknowledges it, and the connection carries on as if nothing had "
             "happened.",
    .play = play_cable_unplugged,
};

static void play_cable_reboot(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    (void)s;
    stage_mark(sg);
    act_cable(sg, SERVER, true);
    act_send(sg, CLIENT, c, "anyone?", 7);
    act_run(sg, US_SEC(1));
    act_reboot(sg, SERVER);
    act_cable(sg, SERVER, false);
    char got[8];
    ssize_t n = act_recv(sg, CLIENT, c, got, sizeof(got) - 1, 0);
    claim_errno(sg, "the client's recv()", n, ECONNRESET);
    unsigned lost = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++)
        if (sg->ev[i].kind == SEV_FRAME && sg->ev[i].actor == CLIENT && sg->ev[i].tcp &&
            sg->ev[i].fate == FATE_LOST)
            lost++;
    claim(sg, lost >= 2, "while the cable is out, the data and its retransmissions are lost",
          "%u were lost", lost);
    long data = stage_find_segment(sg, CLIENT, TF_PSH, 0);
    long rst = stage_find_segment(sg, SERVER, TF_RST, 0);
    /* RFC 9293 §3.10.7.1: no connection; the segment has ACK, so the reset
     * is <SEQ=SEG.ACK><CTL=RST>. */
    claim(sg,
          rst >= 0 && data >= 0 && sg->ev[rst].flags == TF_RST &&
              sg->ev[rst].seq == sg->ev[data].ack,
          "the rebooted server knows no such connection and answers a retransmission with "
          "RST, seq = the segment's ACK field",
          "no such RST");
    claim_states(sg, CLIENT, 0, "ESTABLISHED -> CLOSED");
    claim_counter(sg, CLIENT, US_C_tcp_estab_resets, 1);
    claim_counter(sg, SERVER, US_C_drop_tcp_no_socket, 1);
}

const struct scenario sc_cable_reboot = {
    .name = "cable-reboot",
    .title = "The unplugged cable and the restarted server",
    .about = "With the server's cable unplugged, the client's data and its retransmissions "
             "are lost; TCP keeps trying, backing off. Meanwhile the server reboots and "
             "forgets every connection. When the cable is back, the next retransmission "
             "reaches a server that has never heard of it, and it answers with a RST: the "
             "client's recv() fails with ECONNRESET (compare cable-unplugged, where the "
             "server stayed up).",
    .play = play_cable_reboot,
};
