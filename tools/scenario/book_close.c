/*
 * book_close.c: scenarios about closing a connection: the four-way close
 * from either side, the three-segment close, simultaneous close,
 * half-close, and TIME-WAIT (what it blocks, why it exists).
 */
#include <errno.h>
#include <string.h>

#include "scenario/book.h"

/* TIME-WAIT lasts 2 MSL (RFC 9293 §3.4.2; Linux: 60 s). */
static void claim_time_wait(struct stage *sg, int who)
{
    us_time_t msl = us_stack_tcp_config(sg->stack[who])->msl;
    us_time_t tw = stage_state_time(sg, who, US_TCP_TIME_WAIT);
    us_time_t end = US_TIME_NEVER;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_STATE && e->actor == who && e->from == US_TCP_TIME_WAIT) end = e->time;
    }
    char what[160], d[32];
    snprintf(what, sizeof(what), "the %s's TIME-WAIT lasts 2 MSL = %s", actor_name(who),
             secs_str(2 * msl, d, sizeof(d)));
    if (tw == US_TIME_NEVER || end == US_TIME_NEVER) {
        claim(sg, false, what, "it %s",
              tw == US_TIME_NEVER ? "never entered TIME-WAIT" : "never left TIME-WAIT");
        return;
    }
    claim(sg, end - tw == 2 * msl, what, "it lasted %s", secs_str(end - tw, d, sizeof(d)));
}

/* The side that reads its peer's FIN sees the end of the stream. */
static void read_eof(struct stage *sg, int who, int fd)
{
    char got[16];
    ssize_t n = act_recv(sg, who, fd, got, sizeof(got) - 1, 0);
    char what[96];
    snprintf(what, sizeof(what), "the %s's recv() returns 0: the end of the stream",
             actor_name(who));
    claim(sg, n == 0, what, "it returned %zd", n);
}

static void play_close_client_first(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    stage_mark(sg);
    act_close(sg, CLIENT, c);
    act_run(sg, US_SEC(1));
    read_eof(sg, SERVER, s);
    act_close(sg, SERVER, s);
    act_run_idle(sg);
    claim_segments(sg, "client FIN,ACK | server ACK | server FIN,ACK | client ACK");
    claim_states(sg, CLIENT, 0, "ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED");
    claim_states(sg, SERVER, 0, "ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED");
    claim_time_wait(sg, CLIENT);
}

const struct scenario sc_close_client_first = {
    .name = "close-client-first",
    .title = "Four-way close, the client first",
    .about = "The client closes: its FIN takes it to FIN-WAIT-1, the server's ACK to "
             "FIN-WAIT-2. The server reads the end of the stream (recv() returns 0) and sits in "
             "CLOSE-WAIT until it closes too; its FIN takes it to LAST-ACK, and the client's ACK "
             "to CLOSED. The client, which closed first, waits in TIME-WAIT for 2 MSL before "
             "the connection is forgotten.",
    .play = play_close_client_first,
};

static void play_close_server_first(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    stage_mark(sg);
    act_close(sg, SERVER, s);
    act_run(sg, US_SEC(1));
    read_eof(sg, CLIENT, c);
    act_close(sg, CLIENT, c);
    act_run_idle(sg);
    claim_segments(sg, "server FIN,ACK | client ACK | client FIN,ACK | server ACK");
    claim_states(sg, SERVER, 0, "ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED");
    claim_states(sg, CLIENT, 0, "ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED");
    claim_time_wait(sg, SERVER);
}

const struct scenario sc_close_server_first = {
    .name = "close-server-first",
    .title = "Four-way close, the server first",
    .about = "The same close with the roles swapped, as when an HTTP server closes after its "
             "response: now the server goes through FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT, and "
             "the client through CLOSE-WAIT and LAST-ACK. TIME-WAIT belongs to whoever closes "
             "first, which is why busy servers collect TIME-WAIT entries.",
    .play = play_close_server_first,
};

static void play_close_three(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    stage_mark(sg);
    act_close(sg, CLIENT, c);
    /* The server reads the end of the stream as soon as the FIN arrives and
     * closes at once, before its delayed ACK is due: the ACK rides on its
     * FIN. */
    read_eof(sg, SERVER, s);
    act_close(sg, SERVER, s);
    act_run_idle(sg);
    claim_segments(sg, "client FIN,ACK | server FIN,ACK | client ACK");
    claim_states(sg, CLIENT, 0, "ESTABLISHED -> FIN-WAIT-1 -> TIME-WAIT -> CLOSED");
    claim_states(sg, SERVER, 0, "ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED");
    long fin = stage_find_segment(sg, CLIENT, TF_FIN, 0);
    long sfin = stage_find_segment(sg, SERVER, TF_FIN, 0);
    claim(sg, fin >= 0 && sfin >= 0 && sg->ev[sfin].ack == sg->ev[fin].seq + 1,
          "the server's FIN,ACK also acknowledges the client's FIN (ack = its seq + 1)",
          "the FINs are missing or the ACK field is %u", sfin >= 0 ? sg->ev[sfin].ack : 0);
    claim_time_wait(sg, CLIENT);
}

const struct scenario sc_close_three = {
    .name = "close-three-segments",
    .title = "The three-segment close",
    .about = "When the server closes as soon as it reads the client's FIN, the ACK it owes "
             "(delayed, waiting for something to ride on) leaves on its own FIN: three segments "
             "instead of four. The client goes from FIN-WAIT-1 straight to TIME-WAIT, since "
             "one segment both acknowledges its FIN and carries the server's.",
    .play = play_close_three,
};

static void play_close_simultaneous(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    stage_mark(sg);
    act_close(sg, CLIENT, c);
    act_close(sg, SERVER, s);
    act_run_idle(sg);
    /* Both FINs are sent before either arrives. */
    claim_segments(sg, "client FIN,ACK | server FIN,ACK | server ACK | client ACK");
    claim_states(sg, CLIENT, 0, "ESTABLISHED -> FIN-WAIT-1 -> CLOSING -> TIME-WAIT -> CLOSED");
    claim_states(sg, SERVER, 0, "ESTABLISHED -> FIN-WAIT-1 -> CLOSING -> TIME-WAIT -> CLOSED");
    claim_time_wait(sg, CLIENT);
    claim_time_wait(sg, SERVER);
}

const struct scenario sc_close_simultaneous = {
    .name = "close-simultaneous",
    .title = "Simultaneous close",
    .about = "Both sides close at the same moment; their FINs cross. Each receives a FIN while "
             "in FIN-WAIT-1, acknowledges it and moves to CLOSING; each ACK then takes its "
             "receiver to TIME-WAIT (RFC 9293 §3.6, figure 13). Both sides wait 2 MSL.",
    .play = play_close_simultaneous,
    .delay = US_MSEC(5),
};

static void play_half_close(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    stage_mark(sg);
    act_shutdown(sg, CLIENT, c, SHUT_WR);
    act_run(sg, US_SEC(1));
    read_eof(sg, SERVER, s);
    for (int i = 0; i < 3; i++) act_send(sg, SERVER, s, "more", 4);
    char got[64];
    ssize_t n = act_recv(sg, CLIENT, c, got, 12, MSG_WAITALL);
    claim_data(sg, CLIENT, got, n, "moremoremore");
    long cfin = stage_find_segment(sg, CLIENT, TF_FIN, 0);
    long data = stage_find_segment(sg, SERVER, TF_PSH, 0);
    claim(sg, cfin >= 0 && data > cfin,
          "the server's data follows the client's FIN: the other direction still flows",
          "FIN at event %ld, first data at event %ld", cfin, data);
    ssize_t w = act_send(sg, CLIENT, c, "x", 1);
    claim_errno(sg, "send() after shutdown(SHUT_WR)", w, EPIPE);
    act_close(sg, SERVER, s);
    n = act_recv(sg, CLIENT, c, got, sizeof(got) - 1, 0);
    claim(sg, n == 0, "after the server's FIN the client's recv() returns 0", "it returned %zd", n);
    act_close(sg, CLIENT, c);
    act_run_idle(sg);
    claim_states(sg, CLIENT, 0, "ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED");
    claim_states(sg, SERVER, 0, "ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED");
}

const struct scenario sc_half_close = {
    .name = "half-close",
    .title = "Half-close",
    .about = "The client calls shutdown(SHUT_WR): it sends its FIN, saying \"no more data from "
             "me\", but keeps reading. The server sees the end of the stream, yet may go on "
             "sending from CLOSE-WAIT; the client, in FIN-WAIT-2, receives all of it. Only "
             "when the server closes does the connection end. send() on the shut side fails "
             "with EPIPE.",
    .play = play_half_close,
};

static void play_time_wait_rebind(struct stage *sg)
{
    /* A server sets SO_REUSEADDR on its listener, as servers do: on Linux a
     * TIME-WAIT entry lets a new socket bind the port only when both the
     * old socket and the new one set it. */
    int l = act_listen(sg, SERVER, 80, 4, true);
    int c = act_socket(sg, CLIENT, false);
    act_connect(sg, CLIENT, c, SERVER, 80);
    int s = act_accept(sg, SERVER, l);
    /* The server stops: it closes its listener and its connection first,
     * so the server holds TIME-WAIT on port 80. */
    act_close(sg, SERVER, l);
    act_close(sg, SERVER, s);
    act_run(sg, US_SEC(1));
    act_close(sg, CLIENT, c);
    act_run(sg, US_SEC(1));
    us_time_t tw = stage_state_time(sg, SERVER, US_TCP_TIME_WAIT);
    claim(sg, tw != US_TIME_NEVER, "the server, which closed first, is in TIME-WAIT",
          "it never entered TIME-WAIT");

    act_note(sg, SERVER, "the server restarts at once");
    int n = act_socket(sg, SERVER, false);
    int rc = act_bind(sg, SERVER, n, 80);
    claim_errno(sg, "bind(80) without SO_REUSEADDR during TIME-WAIT", rc, EADDRINUSE);
    int m = act_socket(sg, SERVER, false);
    act_setsockopt(sg, SERVER, m, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1);
    rc = act_bind(sg, SERVER, m, 80);
    claim_ok(sg, "bind(80) with SO_REUSEADDR during TIME-WAIT", rc);
    act_close(sg, SERVER, m);

    us_time_t msl = us_stack_tcp_config(sg->stack[SERVER])->msl;
    act_run(sg, tw + 2 * msl - stage_now(sg));
    rc = act_bind(sg, SERVER, n, 80);
    claim_ok(sg, "bind(80) without SO_REUSEADDR once TIME-WAIT ended (2 MSL)", rc);
    act_close(sg, SERVER, n);
    claim_counter(sg, SERVER, US_C_tcp_tw_entered, 1);
}

const struct scenario sc_time_wait_rebind = {
    .name = "time-wait-rebind",
    .title = "TIME-WAIT blocks a re-bind; SO_REUSEADDR",
    .about = "A server that closed its connections first holds them in TIME-WAIT for 2 MSL. "
             "Restarted at once, it cannot bind its port again: bind() fails with EADDRINUSE. "
             "With SO_REUSEADDR set (on the old sockets and the new one, as Linux requires) "
             "the bind succeeds; without it the server must wait until TIME-WAIT ends.",
    .play = play_time_wait_rebind,
};

static void play_time_wait_lost_ack(struct stage *sg)
{
    int c, s;
    book_connect(sg, 80, &c, &s);
    act_close(sg, CLIENT, c);
    act_run(sg, US_SEC(1));
    stage_mark(sg);
    static const struct us_faults lose_all = {.loss = 100};
    act_faults(sg, CLIENT, &lose_all, "the client's frames are lost from now on");
    act_close(sg, SERVER, s);
    act_run(sg, US_MSEC(20)); /* long enough to lose the ACK, not the next one */
    act_faults(sg, CLIENT, NULL, "the client's frames get through again");
    act_run_idle(sg);
    /* RFC 9293 §3.10.7.4: in TIME-WAIT, a retransmitted FIN is acknowledged
     * again and the 2 MSL timeout restarts. */
    claim_segments(sg, "server FIN,ACK | client ACK lost | server FIN,ACK | client ACK");
    claim_states(sg, SERVER, 0, "CLOSE-WAIT -> LAST-ACK -> CLOSED");
    long fin2 = stage_find_segment(sg, SERVER, TF_FIN, 1);
    us_time_t closed = US_TIME_NEVER;
    for (size_t i = sg->mark; i < sg->n_ev; i++)
        if (sg->ev[i].kind == SEV_STATE && sg->ev[i].actor == CLIENT &&
            sg->ev[i].from == US_TCP_TIME_WAIT)
            closed = sg->ev[i].time;
    us_time_t msl = us_stack_tcp_config(sg->stack[CLIENT])->msl;
    char d[32];
    claim(sg, fin2 >= 0 && closed != US_TIME_NEVER && closed - sg->ev[fin2].arrived == 2 * msl,
          "the client's TIME-WAIT restarts: it ends 2 MSL after the retransmitted FIN",
          "it ended %s after it",
          fin2 >= 0 && closed != US_TIME_NEVER
              ? secs_str(closed - sg->ev[fin2].arrived, d, sizeof(d))
              : "(never)");
    claim_counter(sg, SERVER, US_C_tcp_retransmits, 1);
}

const struct scenario sc_time_wait_lost_ack = {
    .name = "time-wait-lost-ack",
    .title = "The lost final ACK: why TIME-WAIT exists",
    .about = "The client closed first; the server's FIN takes it to TIME-WAIT, and its ACK "
             "of that FIN is lost. The server, in LAST-ACK, retransmits its FIN after "
             "its retransmission timeout. Because the client kept the connection in TIME-WAIT "
             "it can acknowledge the FIN again (instead of answering with a RST), and the "
             "server closes cleanly. The retransmitted FIN restarts the 2 MSL wait.",
    .play = play_time_wait_lost_ack,
};
