/*
 * book_listen.c: scenarios about a listener under pressure: a SYN flood
 * with and without SYN cookies, and a full accept queue.
 *
 * The flood comes from a third stack on the wire that forges SYNs from an
 * address nobody has (10.0.0.66): the server's SYN,ACKs to it never leave
 * (nobody answers ARP for it), its half-open entries wait for an ACK that
 * never comes, and they fill the SYN queue.
 */
#include <errno.h>
#include <string.h>

#include "scenario/book.h"

#define SYN_BACKLOG 4           /* the SYN queue, small so the flood is short */
#define FLOOD       6           /* forged SYNs: the queue's worth and two more */
#define SPOOFED     0x0a000042u /* 10.0.0.66 */
#define CLIENT_PORT 50000

static void flood_no_cookies(struct us_stack_config *cfg)
{
    cfg->tcp.syncookies = 0;
    cfg->tcp.max_syn_backlog = SYN_BACKLOG;
}

static void flood_cookies(struct us_stack_config *cfg)
{
    cfg->tcp.syncookies = 1; /* when the SYN queue is full, as Linux's default */
    cfg->tcp.max_syn_backlog = SYN_BACKLOG;
}

/* The server listens, the attacker floods; returns the listener. */
static int flood(struct stage *sg)
{
    int l = act_listen(sg, SERVER, 80, 16, false);
    act_note(sg, ATTACKER, "the attacker sends %d SYNs from the forged address 10.0.0.66", FLOOD);
    for (int i = 0; i < FLOOD; i++) act_spoof_syn(sg, ATTACKER, SPOOFED, 80);
    act_run(sg, US_MSEC(100));
    return l;
}

/* The server's half-open entries for the forged address. */
static unsigned half_open(const struct stage *sg)
{
    unsigned n = 0;
    for (size_t i = 0; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_STATE && e->actor == SERVER && e->to == US_TCP_SYN_RECEIVED &&
            e->daddr == SPOOFED)
            n++;
    }
    return n;
}

/* The legitimate client connects from CLIENT_PORT. */
static int legitimate_connect(struct stage *sg, int *fd, us_time_t *took)
{
    *fd = act_socket(sg, CLIENT, false);
    act_bind(sg, CLIENT, *fd, CLIENT_PORT);
    us_time_t t0 = stage_now(sg);
    int rc = act_connect(sg, CLIENT, *fd, SERVER, 80);
    *took = stage_now(sg) - t0;
    return rc;
}

static void play_syn_flood(struct stage *sg)
{
    int l = flood(sg);
    char what[160];
    snprintf(what, sizeof(what), "the first %d forged SYNs fill the SYN queue (max_syn_backlog)",
             SYN_BACKLOG);
    claim(sg, half_open(sg) == SYN_BACKLOG, what, "%u half-open entries", half_open(sg));
    claim_counter(sg, SERVER, US_C_tcp_syn_queue_full, FLOOD - SYN_BACKLOG);
    stage_mark(sg);
    int c;
    us_time_t took;
    int rc = legitimate_connect(sg, &c, &took);
    claim_ok(sg, "the legitimate client's connect()", rc);
    unsigned syns = stage_count_segments(sg, CLIENT, TF_SYN, false);
    claim(sg, syns > 1, "its SYNs are dropped while the queue is full: it has to retransmit",
          "it sent %u SYN", syns);
    claim_counter(sg, SERVER, US_C_tcp_listen_drops, FLOOD - SYN_BACKLOG + syns - 1);
    /* The half-open entries go when their SYN,ACK retries run out
     * (tcp_synack_retries = 5: 1+2+4+8+16+32 = 63 s). */
    us_time_t expired = US_TIME_NEVER, established = US_TIME_NEVER;
    unsigned gone = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind != SEV_STATE || e->actor != SERVER) continue;
        if (e->from == US_TCP_SYN_RECEIVED && e->to == US_TCP_CLOSED && e->daddr == SPOOFED) {
            gone++;
            expired = e->time;
        }
        if (e->to == US_TCP_ESTABLISHED && e->rport == CLIENT_PORT) established = e->time;
    }
    char d[32];
    claim(sg, gone == SYN_BACKLOG && established != US_TIME_NEVER && established > expired,
          "the client gets in only after the forged half-open entries expire (SYN,ACK retries "
          "exhausted)",
          "%u entries expired; the connection was established at %s", gone,
          established == US_TIME_NEVER ? "(never)" : secs_str(established, d, sizeof(d)));
    claim(sg, took > US_SEC(60), "connect() takes over a minute", "it took %s",
          secs_str(took, d, sizeof(d)));
    claim_counter(sg, SERVER, US_C_tcp_syncookies_sent, 0);
    (void)l;
}

const struct scenario sc_syn_flood = {
    .name = "syn-flood",
    .title = "SYN flood, without SYN cookies",
    .about = "An attacker sends SYNs from a forged address. Each one makes the server keep a "
             "half-open entry (SYN-RECEIVED) and send a SYN,ACK that will never be answered; "
             "the queue of such entries is small here (4) so six SYNs fill it. Without SYN "
             "cookies a full queue means new SYNs are dropped -- the legitimate client's too. "
             "It retransmits its SYN with backoff and gets in only when the forged entries "
             "give up, after their SYN,ACK retries: over a minute later.",
    .play = play_syn_flood,
    .configure = flood_no_cookies,
    .draw_port = CLIENT_PORT,
    .attacker = true,
};

static void play_syn_flood_cookies(struct stage *sg)
{
    int l = flood(sg);
    char what[160];
    snprintf(what, sizeof(what),
             "the first %d forged SYNs fill the SYN queue; the rest are "
             "answered with SYN cookies",
             SYN_BACKLOG);
    claim(sg,
          half_open(sg) == SYN_BACKLOG &&
              us_stack_counter(sg->stack[SERVER], US_C_tcp_syncookies_sent) == FLOOD - SYN_BACKLOG,
          what, "%u half-open entries, %llu cookies", half_open(sg),
          (unsigned long long)us_stack_counter(sg->stack[SERVER], US_C_tcp_syncookies_sent));
    stage_mark(sg);
    int c;
    us_time_t took;
    int rc = legitimate_connect(sg, &c, &took);
    claim_ok(sg, "the legitimate client's connect()", rc);
    claim_segments(sg, "client SYN | server SYN,ACK | client ACK");
    claim(sg, took < US_MSEC(10), "it connects at once: one round trip, no retransmission",
          "it took %.3f s", (double)took / 1e6);
    claim_states(sg, SERVER, CLIENT_PORT, "LISTEN -> SYN-RECEIVED -> ESTABLISHED");
    claim_counter(sg, SERVER, US_C_tcp_syncookies_sent, FLOOD - SYN_BACKLOG + 1);
    claim_counter(sg, SERVER, US_C_tcp_syncookies_recv, 1);
    int s = act_accept(sg, SERVER, l);
    act_send(sg, CLIENT, c, "hello", 5);
    char got[16];
    ssize_t n = act_recv(sg, SERVER, s, got, sizeof(got) - 1, 0);
    claim_data(sg, SERVER, got, n, "hello");
}

const struct scenario sc_syn_flood_cookies = {
    .name = "syn-flood-cookies",
    .title = "SYN flood, with SYN cookies",
    .about = "The same flood against a server with SYN cookies (Linux's default: used when "
             "the SYN queue is full). Once the queue is full the server still answers every "
             "SYN, but keeps nothing: the SYN,ACK's sequence number is a cookie, a keyed hash "
             "of the connection and the time (RFC 4987 §3.6). Only a real client returns it "
             "in its ACK; the server checks it and builds the connection then. The legitimate "
             "client connects in one round trip.",
    .play = play_syn_flood_cookies,
    .configure = flood_cookies,
    .draw_port = CLIENT_PORT,
    .attacker = true,
};

static void play_backlog_full(struct stage *sg)
{
    int l = act_listen(sg, SERVER, 80, 2, false);
    act_note(sg, SERVER, "the server does not call accept() yet");
    int fd[3];
    for (int i = 0; i < 3; i++) {
        fd[i] = act_socket(sg, CLIENT, true);
        act_bind(sg, CLIENT, fd[i], (uint16_t)(CLIENT_PORT + 1 + i));
        int rc = act_connect(sg, CLIENT, fd[i], SERVER, 80);
        (void)rc;
    }
    act_run(sg, US_MSEC(500));
    struct us_tcp_info ti;
    act_tcp_info(sg, CLIENT, fd[2], &ti);
    const uint16_t third = CLIENT_PORT + 3;
    claim(sg, ti.state == US_TCP_ESTABLISHED,
          "all three clients complete their side of the handshake", "the third is in %s",
          us_tcp_state_name((enum us_tcp_state)ti.state));
    claim_counter(sg, SERVER, US_C_tcp_listen_overflows, 1);
    claim_states(sg, SERVER, third, "LISTEN -> SYN-RECEIVED");
    us_time_t t_accept = stage_now(sg);
    int a = act_accept(sg, SERVER, l);
    claim_ok(sg, "accept() of the first connection", a);
    act_run(sg, US_SEC(3));
    int b = act_accept(sg, SERVER, l);
    int d = act_accept(sg, SERVER, l);
    claim_ok(sg, "accept() of the second connection", b);
    claim_ok(sg, "accept() of the third connection", d);
    claim_states(sg, SERVER, third, "LISTEN -> SYN-RECEIVED -> ESTABLISHED");
    us_time_t est = US_TIME_NEVER;
    for (size_t i = 0; i < sg->n_ev; i++)
        if (sg->ev[i].kind == SEV_STATE && sg->ev[i].actor == SERVER &&
            sg->ev[i].to == US_TCP_ESTABLISHED && sg->ev[i].rport == third)
            est = sg->ev[i].time;
    claim(sg, est != US_TIME_NEVER && est > t_accept,
          "the third handshake completes on the server only after accept() made room, when "
          "the server's SYN,ACK retransmission draws a new ACK",
          "it completed at %.3f s, accept() was at %.3f s",
          est == US_TIME_NEVER ? -1.0 : (double)est / 1e6, (double)t_accept / 1e6);
    claim_counter(sg, SERVER, US_C_tcp_synack_retransmits, 1);
}

const struct scenario sc_backlog_full = {
    .name = "backlog-full",
    .title = "The accept queue is full",
    .about = "The server calls listen(fd, 2) and does not accept. Three clients connect at "
             "once. The first two handshakes complete and fill the accept queue; the third "
             "client's final ACK finds it full and is dropped (counted as "
             "tcp_listen_overflows), though the client believes it is connected. The server "
             "keeps the entry half-open; once accept() makes room, its SYN,ACK retransmission "
             "draws another ACK from the client and the handshake completes (Linux's "
             "behaviour with tcp_abort_on_overflow = 0).",
    .play = play_backlog_full,
    .draw_port = CLIENT_PORT + 3,
};
