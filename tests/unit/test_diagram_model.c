/* The diagram model: which connection, which side, which arrows (lost,
 * retransmitted, duplicated, corrupted), where each state is written, and
 * that a live recording and the files written beside it give one diagram. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diagram/model.h"
#include "diagram/render.h"
#include "diagram_fixture.h"

/* Plays the classic conversation with `delay` and returns the live diagram;
 * with `dir`, also writes DIR/w.pcap and DIR/w.events. */
static struct diagram *record_classic(us_time_t delay, const char *dir)
{
    struct conv *c = conv_new(delay);
    struct us_eventlog *log = NULL;
    if (dir) {
        char lp[256], pp[256], err[256];
        snprintf(lp, sizeof(lp), "%s/w.events", dir);
        snprintf(pp, sizeof(pp), "%s/w.pcap", dir);
        log = us_eventlog_open(lp, pp, err, sizeof(err));
        cr_assert(log, "%s", err);
        cr_assert_eq(us_eventlog_attach_wire(log, c->p->w), 0);
        cr_assert_eq(us_eventlog_attach_stack(log, c->p->a, c->p->pa), 0);
        cr_assert_eq(us_eventlog_attach_stack(log, c->p->b, c->p->pb), 0);
    }
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    cr_assert(r);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->a, c->p->pa), 0);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->b, c->p->pb), 0);
    conv_play_classic(c, delay);
    struct diagram *d = diagram_recorder_done(r);
    cr_assert_eq(us_eventlog_close(log), 0);
    conv_free(c);
    cr_assert(d && d->found && d->finished);
    return d;
}

static const struct diagram_state *find_state(const struct diagram *d, enum diagram_side side,
                                              enum us_tcp_state to)
{
    for (size_t i = 0; i < d->n_states; i++)
        if (d->states[i].side == side && d->states[i].to == to) return &d->states[i];
    cr_assert_fail("no state %s on side %d", us_tcp_state_name(to), side);
    return NULL;
}

static void expect_at(const struct diagram *d, enum diagram_side side, enum us_tcp_state to,
                      long arrow, bool head, us_time_t t)
{
    const struct diagram_state *st = find_state(d, side, to);
    cr_expect_eq(st->arrow, arrow, "%s: arrow %ld, expected %ld", us_tcp_state_name(to), st->arrow,
                 arrow);
    if (arrow >= 0)
        cr_expect_eq(st->at_head, head, "%s at the %s", us_tcp_state_name(to),
                     head ? "head" : "tail");
    cr_expect_eq(st->time, t, "%s at %llu", us_tcp_state_name(to), (unsigned long long)st->time);
}

static char *temp_dir(void)
{
    char *dir = strdup("/tmp/ustack-diagram-XXXXXX");
    cr_assert(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(dir);
}

Test(diagram_model, classic_arrows_and_sides)
{
    struct diagram *d = record_classic(0, NULL);
    cr_assert_eq(d->n_arrows, 10);
    cr_expect_eq(d->side[DG_LEFT].addr, CONV_CLIENT_IP, "the SYN's sender is on the left");
    cr_expect_eq(d->side[DG_LEFT].port, CONV_CLIENT_PORT);
    cr_expect_eq(d->side[DG_RIGHT].port, CONV_SERVER_PORT);
    cr_expect_str_eq(d->side[DG_LEFT].name, "client");
    cr_expect_str_eq(d->side[DG_RIGHT].name, "server");
    cr_expect(d->timed);
    cr_expect(!diagram_has_flight(d), "zero delay: one clock");
    static const enum diagram_side from[10] = {DG_LEFT,  DG_RIGHT, DG_LEFT,  DG_LEFT,  DG_LEFT,
                                               DG_RIGHT, DG_LEFT,  DG_RIGHT, DG_RIGHT, DG_LEFT};
    for (size_t i = 0; i < 10; i++) {
        cr_expect_eq(d->arrows[i].from, from[i], "arrow %zu", i);
        cr_expect_eq(d->arrows[i].id, i + 1, "wire frame ids");
        cr_expect_eq(d->arrows[i].fate, i == 3 ? DG_LOST : DG_DELIVERED, "arrow %zu", i);
        cr_expect_eq(d->arrows[i].retransmit, i == 4, "arrow %zu", i);
    }
    cr_expect_str_eq(d->arrows[3].reason, "loss");
    char buf[160];
    cr_expect_str_eq(diagram_note(d, 3, buf, sizeof(buf)), "lost");
    cr_expect_str_eq(diagram_note(d, 4, buf, sizeof(buf)), "retransmission");
    cr_expect_str_eq(diagram_note(d, 0, buf, sizeof(buf)), "");
    diagram_free(d);
}

Test(diagram_model, classic_states_where_they_are_entered)
{
    struct diagram *d = record_classic(0, NULL);
    us_time_t rto = US_MSEC(200), ms = US_MSEC(1);
    cr_assert_eq(d->n_states, 12);
    expect_at(d, DG_RIGHT, US_TCP_LISTEN, -1, false, 0);
    expect_at(d, DG_LEFT, US_TCP_SYN_SENT, 0, false, 0);     /* connect() sends the SYN */
    expect_at(d, DG_RIGHT, US_TCP_SYN_RECEIVED, 0, true, 0); /* the SYN arrives */
    expect_at(d, DG_LEFT, US_TCP_ESTABLISHED, 1, true, 0);   /* the SYN,ACK arrives */
    expect_at(d, DG_RIGHT, US_TCP_ESTABLISHED, 2, true, 0);  /* the ACK arrives */
    expect_at(d, DG_LEFT, US_TCP_FIN_WAIT_1, 6, false, rto); /* close() sends the FIN */
    expect_at(d, DG_RIGHT, US_TCP_CLOSE_WAIT, 6, true, rto);
    expect_at(d, DG_LEFT, US_TCP_FIN_WAIT_2, 7, true, rto);
    expect_at(d, DG_RIGHT, US_TCP_LAST_ACK, 8, false, rto + ms);
    expect_at(d, DG_LEFT, US_TCP_TIME_WAIT, 8, true, rto + ms);
    /* Two CLOSED: the server's when the last ACK arrives, the client's 2MSL
     * later on a row of its own. */
    size_t closed = 0;
    for (size_t i = 0; i < d->n_states; i++) {
        const struct diagram_state *st = &d->states[i];
        if (st->to != US_TCP_CLOSED) continue;
        closed++;
        if (st->side == DG_RIGHT) {
            cr_expect_eq(st->arrow, 9);
            cr_expect(st->at_head);
        } else {
            cr_expect_eq(st->arrow, -1);
            cr_expect_eq(st->time, rto + ms + US_SEC(60));
        }
    }
    cr_expect_eq(closed, 2);
    /* Rows: LISTEN first, the ten arrows, TIME-WAIT's end last. */
    cr_assert_eq(d->n_rows, 12);
    cr_expect_eq(d->rows[0].kind, DG_ROW_STATE);
    cr_expect_eq(d->states[d->rows[0].index].to, US_TCP_LISTEN);
    for (size_t k = 1; k <= 10; k++) {
        cr_expect_eq(d->rows[k].kind, DG_ROW_ARROW);
        cr_expect_eq(d->rows[k].index, k - 1, "arrows in the order they were sent");
    }
    cr_expect_eq(d->rows[11].kind, DG_ROW_STATE);
    diagram_free(d);
}

Test(diagram_model, delay_gives_flight_times_and_states_at_arrival)
{
    us_time_t D = US_MSEC(5), rto = US_MSEC(200);
    struct diagram *d = record_classic(D, NULL);
    cr_assert_eq(d->n_arrows, 10);
    cr_expect(diagram_has_flight(d));
    cr_expect_eq(d->arrows[0].sent, 0);
    cr_expect_eq(d->arrows[0].arrived, D);
    cr_expect_eq(d->arrows[1].sent, D);
    cr_expect_eq(d->arrows[1].arrived, 2 * D);
    cr_expect_eq(d->arrows[3].arrived, d->arrows[3].sent, "a lost segment never arrives");
    cr_expect_eq(d->arrows[4].sent, 2 * D + rto);
    expect_at(d, DG_RIGHT, US_TCP_SYN_RECEIVED, 0, true, D);
    expect_at(d, DG_LEFT, US_TCP_ESTABLISHED, 1, true, 2 * D);
    expect_at(d, DG_RIGHT, US_TCP_ESTABLISHED, 2, true, 3 * D);
    char t[32];
    cr_expect_str_eq(diagram_time(d, d->arrows[0].arrived, t, sizeof(t)), "0.005");
    diagram_free(d);
}

Test(diagram_model, labels_relative_and_absolute)
{
    struct diagram *d = record_classic(0, NULL);
    char b[160];
    cr_expect_str_eq(diagram_label(d, 0, false, b, sizeof(b)), "SYN seq 0 win 64240 <mss 1460>");
    cr_expect_str_eq(diagram_label(d, 1, false, b, sizeof(b)),
                     "SYN,ACK seq 0 ack 1 win 65160 <mss 1460>");
    cr_expect_str_eq(diagram_label(d, 2, false, b, sizeof(b)), "ACK ack 1 win 502");
    cr_expect_str_eq(diagram_label(d, 3, false, b, sizeof(b)), "PSH,ACK seq 1:6(5) ack 1",
                     "the window shows only when it changes");
    cr_expect_str_eq(diagram_label(d, 6, false, b, sizeof(b)), "FIN,ACK seq 6 ack 1");
    cr_expect_str_eq(diagram_label(d, 1, true, b, sizeof(b)),
                     "SYN,ACK seq 3000000000 ack 1000000001 win 65160 <mss 1460>");
    cr_expect_str_eq(diagram_label(d, 3, true, b, sizeof(b)),
                     "PSH,ACK seq 1000000001:1000000006(5) ack 3000000001");
    cr_expect_str_eq(diagram_detail(d, 0, b, sizeof(b)),
                     "frame 1: 192.0.2.1.40000 > 192.0.2.2.80: Flags [S], seq 1000000000, "
                     "win 64240, options [mss 1460], length 0");
    diagram_free(d);
}

Test(diagram_model, recording_and_files_give_the_same_diagram)
{
    char *dir = temp_dir();
    struct diagram *live = record_classic(US_MSEC(5), dir);
    char pp[256], lp[256], err[256];
    snprintf(pp, sizeof(pp), "%s/w.pcap", dir);
    snprintf(lp, sizeof(lp), "%s/w.events", dir);
    struct diagram *file = diagram_new(NULL);
    cr_assert_eq(diagram_load(file, pp, lp, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(file->n_arrows, live->n_arrows);
    cr_assert_eq(file->n_states, live->n_states);
    cr_assert_eq(file->n_rows, live->n_rows);
    for (size_t i = 0; i < live->n_arrows; i++) {
        const struct diagram_arrow *a = &live->arrows[i], *b = &file->arrows[i];
        cr_expect(a->id == b->id && a->sent == b->sent && a->arrived == b->arrived &&
                      a->fate == b->fate && a->seq == b->seq && a->retransmit == b->retransmit,
                  "arrow %zu differs", i);
    }
    for (size_t i = 0; i < live->n_states; i++)
        cr_expect(live->states[i].arrow == file->states[i].arrow &&
                      live->states[i].at_head == file->states[i].at_head &&
                      live->states[i].to == file->states[i].to,
                  "state %zu differs", i);
    char *a = NULL, *b = NULL;
    size_t an, bn;
    FILE *fa = open_memstream(&a, &an), *fb = open_memstream(&b, &bn);
    cr_assert_eq(diagram_render_ascii(live, fa, 0), 0);
    cr_assert_eq(diagram_render_ascii(file, fb, 0), 0);
    fclose(fa);
    fclose(fb);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    diagram_free(live);
    diagram_free(file);
    remove_dir(dir);
}

Test(diagram_model, capture_alone_draws_every_segment_at_capture_time)
{
    char *dir = temp_dir();
    diagram_free(record_classic(US_MSEC(5), dir));
    char pp[256], err[256];
    snprintf(pp, sizeof(pp), "%s/w.pcap", dir);
    struct diagram *d = diagram_new(NULL);
    cr_assert_eq(diagram_load(d, pp, NULL, err, sizeof(err)), 0, "%s", err);
    cr_expect(!d->timed);
    cr_expect(!diagram_has_flight(d));
    cr_assert_eq(d->n_arrows, 10, "the lost segment was captured as it left");
    cr_expect_eq(d->n_states, 0);
    for (size_t i = 0; i < d->n_arrows; i++) {
        cr_expect_eq(d->arrows[i].fate, DG_DELIVERED);
        cr_expect_eq(d->arrows[i].id, i + 1, "pcap record numbers");
    }
    cr_expect(d->arrows[4].retransmit, "retransmissions show without the log");
    cr_expect_str_eq(d->side[DG_LEFT].name, "client", "named after the handshake");
    diagram_free(d);
    remove_dir(dir);
}

/* A pcap of frames at given times, as a stack on a TAP writes it. */
static void write_pcap(const char *path, const uint8_t (*frames)[2048], const size_t *lens,
                       const us_time_t *times, size_t n)
{
    char err[256];
    struct us_pcap *p = us_pcap_open(path, err, sizeof(err));
    cr_assert(p, "%s", err);
    for (size_t i = 0; i < n; i++) us_pcap_write(p, frames[i], lens[i], times[i]);
    us_pcap_close(p);
}

Test(diagram_model, capture_with_a_state_log_places_states_by_time)
{
    /* A TAP capture: frames at real times, the state log without wire events. */
    struct conv *c = conv_new(0);
    static uint8_t f[3][2048];
    size_t len[3];
    us_time_t t[3] = {US_SEC(100), US_SEC(100) + 310, US_SEC(100) + 310};
    len[0] = conv_build(c, f[0], CLIENT, F_SYN, 0, 0, 0, 64240, NULL);
    len[1] = conv_build(c, f[1], SERVER, F_SYN | F_ACK, 0, 1, 0, 65160, NULL);
    len[2] = conv_build(c, f[2], CLIENT, F_ACK, 1, 1, 0, 502, NULL);
    conv_free(c);
    char *dir = temp_dir();
    char pp[256], lp[256], err[256];
    snprintf(pp, sizeof(pp), "%s/tap.pcap", dir);
    snprintf(lp, sizeof(lp), "%s/tap.events", dir);
    write_pcap(pp, (const uint8_t(*)[2048])f, len, t, 3);
    FILE *ev = fopen(lp, "w");
    cr_assert(ev);
    fprintf(ev, "ustack-events 1\n"
                "state 100.000000 ustack 192.0.2.1 40000 192.0.2.2 80 CLOSED SYN-SENT connect()\n"
                "state 100.000310 ustack 192.0.2.1 40000 192.0.2.2 80 SYN-SENT ESTABLISHED "
                "rcv SYN,ACK\n"
                "state 100.000500 ustack 192.0.2.1 40000 192.0.2.2 80 ESTABLISHED FIN-WAIT-1 "
                "close()\n");
    fclose(ev);
    struct diagram *d = diagram_new(NULL);
    cr_assert_eq(diagram_load(d, pp, lp, err, sizeof(err)), 0, "%s", err);
    cr_expect(!d->timed);
    cr_assert_eq(d->n_arrows, 3);
    cr_assert_eq(d->n_states, 3);
    expect_at(d, DG_LEFT, US_TCP_SYN_SENT, 0, false, US_SEC(100));
    /* At 310 us the SYN,ACK came in and the ACK went out: without the wire's
     * order, arrivals come first, so the state sits where the SYN,ACK
     * arrives. The close() at 500 us sent nothing: a row of its own. */
    expect_at(d, DG_LEFT, US_TCP_ESTABLISHED, 1, true, US_SEC(100) + 310);
    expect_at(d, DG_LEFT, US_TCP_FIN_WAIT_1, -1, false, US_SEC(100) + 500);
    cr_expect_str_eq(d->side[DG_LEFT].name, "ustack", "named after the stack in the log");
    char tb[32];
    cr_expect_str_eq(diagram_time(d, US_SEC(100) + 310, tb, sizeof(tb)), "0.000310",
                     "times relative to the first row, with microseconds when needed");
    diagram_free(d);
    remove_dir(dir);
}

Test(diagram_model, port_chooses_the_connection)
{
    struct conv *c = conv_new(0);
    static uint8_t f[4][2048];
    size_t len[4];
    us_time_t t[4] = {0, 1, 2, 3};
    len[0] = conv_build(c, f[0], CLIENT, F_SYN, 0, 0, 0, 64240, NULL);
    len[1] = conv_build(c, f[1], SERVER, F_SYN | F_ACK, 0, 1, 0, 65160, NULL);
    len[2] = conv_build(c, f[2], CLIENT, F_SYN, 0, 0, 0, 64240, NULL);
    len[3] = conv_build(c, f[3], SERVER, F_RST | F_ACK, 0, 1, 0, 0, NULL);
    conv_free(c);
    /* Frames 2 and 3 become another connection: client port 40001. */
    for (int i = 2; i < 4; i++) {
        uint8_t *tcp = f[i] + 34;
        uint16_t off = i == 2 ? 0 : 2;
        wr16(tcp + off, 40001);
        wr16(tcp + 16, 0);
        uint32_t sum = csum_pseudo(rd32(f[i] + 26), rd32(f[i] + 30), 6, (uint16_t)(len[i] - 34));
        wr16(tcp + 16, csum_fold(csum_add(sum, tcp, len[i] - 34)));
    }
    char *dir = temp_dir();
    char pp[256], err[256];
    snprintf(pp, sizeof(pp), "%s/two.pcap", dir);
    write_pcap(pp, (const uint8_t(*)[2048])f, len, t, 4);
    struct diagram *first = diagram_new(NULL);
    cr_assert_eq(diagram_load(first, pp, NULL, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(first->n_arrows, 2);
    cr_expect_eq(first->side[DG_LEFT].port, 40000);
    struct diagram_opts o = {.port = 40001};
    struct diagram *second = diagram_new(&o);
    cr_assert_eq(diagram_load(second, pp, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(second->n_arrows, 2);
    cr_expect_eq(second->side[DG_LEFT].port, 40001);
    cr_expect_eq(second->arrows[1].flags, F_RST | F_ACK);
    o.port = 22;
    struct diagram *none = diagram_new(&o);
    cr_expect_eq(diagram_load(none, pp, NULL, err, sizeof(err)), -1);
    cr_expect(strstr(err, "no TCP segment to or from port 22"), "%s", err);
    diagram_free(first);
    diagram_free(second);
    diagram_free(none);
    remove_dir(dir);
}

Test(diagram_model, syn_ack_first_still_puts_the_client_left)
{
    struct conv *c = conv_new(0);
    static uint8_t f[2][2048];
    size_t len[2];
    us_time_t t[2] = {0, 10};
    len[0] = conv_build(c, f[0], SERVER, F_SYN | F_ACK, 0, 1, 0, 65160, NULL);
    len[1] = conv_build(c, f[1], CLIENT, F_ACK, 1, 1, 0, 502, NULL);
    conv_free(c);
    char *dir = temp_dir();
    char pp[256], err[256];
    snprintf(pp, sizeof(pp), "%s/late.pcap", dir);
    write_pcap(pp, (const uint8_t(*)[2048])f, len, t, 2);
    struct diagram *d = diagram_new(NULL);
    cr_assert_eq(diagram_load(d, pp, NULL, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(d->side[DG_LEFT].addr, CONV_CLIENT_IP);
    cr_expect_eq(d->arrows[0].from, DG_RIGHT);
    char b[160];
    cr_expect_str_eq(diagram_label(d, 0, false, b, sizeof(b)),
                     "SYN,ACK seq 0 ack 1 win 65160 <mss 1460>",
                     "the client's ISN is inferred from the acknowledgment");
    diagram_free(d);
    remove_dir(dir);
}

Test(diagram_model, mid_stream_capture_numbers_from_one)
{
    struct conv *c = conv_new(0);
    static uint8_t f[2][2048];
    size_t len[2];
    us_time_t t[2] = {0, 10};
    len[0] = conv_build(c, f[0], SERVER, F_PSH | F_ACK, 500, 70, 100, 510, NULL);
    len[1] = conv_build(c, f[1], CLIENT, F_ACK, 70, 600, 0, 502, NULL);
    conv_free(c);
    char *dir = temp_dir();
    char pp[256], err[256];
    snprintf(pp, sizeof(pp), "%s/mid.pcap", dir);
    write_pcap(pp, (const uint8_t(*)[2048])f, len, t, 2);
    struct diagram *d = diagram_new(NULL);
    cr_assert_eq(diagram_load(d, pp, NULL, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(d->side[DG_LEFT].addr, CONV_SERVER_IP, "without a SYN, the first sender");
    cr_expect_str_eq(d->side[DG_LEFT].name, "", "no name without a handshake or a log");
    char b[160];
    cr_expect_str_eq(diagram_label(d, 0, false, b, sizeof(b)),
                     "PSH,ACK seq 1:101(100) ack 1 win 510");
    cr_expect_str_eq(diagram_label(d, 1, false, b, sizeof(b)), "ACK ack 101 win 502");
    diagram_free(d);
    remove_dir(dir);
}

Test(diagram_model, sequence_numbers_wrap)
{
    struct conv *c = conv_new(0);
    c->isn[CLIENT] = 0xfffffff0u;
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_send(c, SERVER, F_SYN | F_ACK, 0, 1, 0, 65160);
    conv_send(c, CLIENT, F_PSH | F_ACK, 1, 1, 100, 502); /* crosses 2^32 */
    conv_send(c, CLIENT, F_PSH | F_ACK, 101, 1, 100, 502);
    conv_send(c, CLIENT, F_PSH | F_ACK, 101, 1, 100, 502); /* resent, past the wrap */
    conv_until(c, 1);
    struct diagram *d = diagram_recorder_done(r);
    conv_free(c);
    cr_assert_eq(d->n_arrows, 5);
    char b[160];
    cr_expect_str_eq(diagram_label(d, 3, false, b, sizeof(b)), "PSH,ACK seq 101:201(100) ack 1");
    cr_expect(!d->arrows[2].retransmit && !d->arrows[3].retransmit);
    cr_expect(d->arrows[4].retransmit);
    diagram_free(d);
}

Test(diagram_model, duplicated_and_corrupted_deliveries)
{
    struct conv *c = conv_new(0);
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    struct us_faults dup = {.dup = 100};
    us_wire_set_faults(c->p->w, c->p->pb, &dup);
    conv_send(c, SERVER, F_SYN | F_ACK, 0, 1, 0, 65160);
    struct us_faults bad = {.corrupt = 100};
    us_wire_set_faults(c->p->w, c->p->pa, &bad);
    conv_send(c, CLIENT, F_ACK, 1, 1, 0, 502);
    conv_until(c, 1);
    struct diagram *d = diagram_recorder_done(r);
    conv_free(c);
    cr_assert_eq(d->n_arrows, 3);
    char b[160];
    cr_expect_eq(d->arrows[1].copies, 2);
    cr_expect_str_eq(diagram_note(d, 1, b, sizeof(b)), "duplicated");
    cr_expect_eq(d->arrows[2].fate, DG_CORRUPTED);
    cr_expect_str_eq(diagram_note(d, 2, b, sizeof(b)), "corrupted");
    diagram_free(d);
}

Test(diagram_model, sack_blocks_are_relative)
{
    struct conv *c = conv_new(0);
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_send(c, SERVER, F_SYN | F_ACK, 0, 1, 0, 65160);
    static const uint32_t block[2] = {1001, 2001};
    conv_send_sack(c, SERVER, F_ACK, 1, 1, 0, 65160, block);
    conv_until(c, 1);
    struct diagram *d = diagram_recorder_done(r);
    conv_free(c);
    char b[160];
    cr_expect_str_eq(diagram_label(d, 2, false, b, sizeof(b)), "ACK ack 1 <sack 1001:2001>");
    diagram_free(d);
}

Test(diagram_model, a_new_syn_on_the_same_ports_ends_the_diagram)
{
    struct conv *c = conv_new(0);
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->a, c->p->pa), 0);
    conv_state(c, CLIENT, US_TCP_CLOSED, US_TCP_SYN_SENT, "connect()");
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240); /* a retransmitted SYN: same connection */
    conv_send(c, SERVER, F_RST | F_ACK, 0, 1, 0, 0);
    conv_until(c, 1);
    conv_state(c, CLIENT, US_TCP_SYN_SENT, US_TCP_CLOSED, "rcv RST");
    conv_until(c, US_SEC(1));
    conv_state(c, CLIENT, US_TCP_CLOSED, US_TCP_SYN_SENT, "connect()");
    c->isn[CLIENT] += 12345;
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_until(c, US_SEC(2));
    struct diagram *d = diagram_recorder_done(r);
    conv_free(c);
    cr_expect_eq(d->n_arrows, 3);
    cr_expect(d->arrows[1].retransmit);
    cr_expect_eq(d->n_states, 2, "the second connect() belongs to the next connection");
    diagram_free(d);
}

Test(diagram_model, bounded_and_marked_truncated)
{
    struct conv *c = conv_new(0);
    static uint8_t f[2048];
    size_t n = conv_build(c, f, CLIENT, F_ACK, 1, 1, 0, 502, NULL);
    conv_free(c);
    struct diagram *d = diagram_new(NULL);
    for (uint64_t i = 1; i <= DG_MAX_ARROWS + 10; i++) diagram_add_frame(d, i, i, 0, f, n);
    cr_assert_eq(diagram_finish(d), 0);
    cr_expect(d->truncated);
    cr_expect_eq(d->n_arrows, DG_MAX_ARROWS);
    FILE *null = fopen("/dev/null", "w");
    cr_expect_eq(diagram_render_ascii(d, null, 0), 0);
    cr_expect_eq(diagram_render_svg(d, null, 0), 0);
    fclose(null);
    diagram_free(d);
}

Test(diagram_model, no_tcp_no_diagram)
{
    struct diagram *d = diagram_new(NULL);
    uint8_t f[128];
    size_t n = build_icmp_echo(f, PEER_IP, SOLO_IP, 8, 1, 1, 32);
    diagram_add_frame(d, 1, 0, 0, f, n);
    diagram_add_frame(d, 2, 0, 0, f, 10); /* truncated */
    cr_expect_eq(diagram_finish(d), -ENOENT);
    cr_expect(!d->found);
    FILE *null = fopen("/dev/null", "w");
    cr_expect_eq(diagram_render_ascii(d, null, 0), -EINVAL);
    cr_expect_eq(diagram_render_svg(d, null, 0), -EINVAL);
    fclose(null);
    diagram_free(d);
}
