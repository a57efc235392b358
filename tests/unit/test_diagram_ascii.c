/* The text diagram: golden comparisons of the textbook connection with one
 * clock (no delay) and two (5 ms each way), arrows lost either way,
 * corrupted and cut, colour that never moves a column. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "diagram/render.h"
#include "diagram_fixture.h"

static struct diagram *record(us_time_t delay, void (*play)(struct conv *c, us_time_t d))
{
    struct conv *c = conv_new(delay);
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    cr_assert(r);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->a, c->p->pa), 0);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->b, c->p->pb), 0);
    play(c, delay);
    struct diagram *d = diagram_recorder_done(r);
    conv_free(c);
    cr_assert(d && d->found);
    return d;
}

/* Renders to a string the caller frees. */
static char *render(const struct diagram *d, unsigned flags)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    cr_assert(f);
    cr_assert_eq(diagram_render_ascii(d, f, flags), 0);
    fclose(f);
    return text;
}

static void expect_text(const char *got, const char *want)
{
    cr_expect_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
}

/* The goldens read as the diagrams they are: no reformatting. */
/* clang-format off */
static const char classic_one_clock[] =
    "  time           client                                              server\n"
    "             192.0.2.1:40000                                      192.0.2.2:80\n"
    "                    |                                                   |\n"
    " 0.000              |                                                   | LISTEN\n"
    " 0.000     SYN-SENT |----- SYN seq 0 win 64240 <mss 1460> ------------->| SYN-RECEIVED\n"
    " 0.000  ESTABLISHED |<---- SYN,ACK seq 0 ack 1 win 65160 <mss 1460> ----|\n"
    " 0.000              |----- ACK ack 1 win 502 -------------------------->| ESTABLISHED\n"
    " 0.000              |----- PSH,ACK seq 1:6(5) ack 1 ---X lost           |\n"
    " 0.200              |----- PSH,ACK seq 1:6(5) ack 1 ------------------->| retransmission\n"
    " 0.200              |<---- ACK ack 6 win 510 ---------------------------|\n"
    " 0.200   FIN-WAIT-1 |----- FIN,ACK seq 6 ack 1 ------------------------>| CLOSE-WAIT\n"
    " 0.200   FIN-WAIT-2 |<---- ACK ack 7 -----------------------------------|\n"
    " 0.201    TIME-WAIT |<---- FIN,ACK seq 1 ack 7 -------------------------| LAST-ACK\n"
    " 0.201              |----- ACK ack 2 ---------------------------------->| CLOSED\n"
    "60.201       CLOSED |                                                   |\n"
    "                    |                                                   |\n";

static const char classic_two_clocks[] =
    "                 client                                              server\n"
    "             192.0.2.1:40000                                      192.0.2.2:80\n"
    "                    |                                                   |\n"
    "                    |                                                   |  0.000  LISTEN\n"
    "   SYN-SENT   0.000 |----- SYN seq 0 win 64240 <mss 1460> ------------->|  0.005  SYN-RECEIVED\n"
    "ESTABLISHED   0.010 |<---- SYN,ACK seq 0 ack 1 win 65160 <mss 1460> ----|  0.005\n"
    "              0.010 |----- ACK ack 1 win 502 -------------------------->|  0.015  ESTABLISHED\n"
    "              0.010 |----- PSH,ACK seq 1:6(5) ack 1 ---X lost           |\n"
    "              0.210 |----- PSH,ACK seq 1:6(5) ack 1 ------------------->|  0.215  retransmission\n"
    "              0.220 |<---- ACK ack 6 win 510 ---------------------------|  0.215\n"
    " FIN-WAIT-1   0.220 |----- FIN,ACK seq 6 ack 1 ------------------------>|  0.225  CLOSE-WAIT\n"
    " FIN-WAIT-2   0.230 |<---- ACK ack 7 -----------------------------------|  0.225\n"
    "  TIME-WAIT   0.236 |<---- FIN,ACK seq 1 ack 7 -------------------------|  0.231  LAST-ACK\n"
    "              0.236 |----- ACK ack 2 ---------------------------------->|  0.241  CLOSED\n"
    "     CLOSED  60.236 |                                                   |\n"
    "                    |                                                   |\n";
/* clang-format on */

Test(diagram_ascii, classic_one_clock)
{
    struct diagram *d = record(0, conv_play_classic);
    char *text = render(d, 0);
    expect_text(text, classic_one_clock);
    free(text);
    diagram_free(d);
}

Test(diagram_ascii, classic_two_clocks)
{
    struct diagram *d = record(US_MSEC(5), conv_play_classic);
    char *text = render(d, 0);
    expect_text(text, classic_two_clocks);
    free(text);
    diagram_free(d);
}

Test(diagram_ascii, lines_fit_and_carry_no_trailing_space)
{
    for (int delay = 0; delay <= 5; delay += 5) {
        struct diagram *d = record(US_MSEC(delay), conv_play_classic);
        char *text = render(d, 0), *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            size_t n = strlen(line);
            cr_expect(n <= 100, "%zu columns: %s", n, line);
            cr_expect(n == 0 || line[n - 1] != ' ', "trailing space: '%s'", line);
        }
        free(text);
        diagram_free(d);
    }
}

/* The server's FIN is tail-dropped behind its data in a slow queue and
 * resent; the client's acknowledgment arrives damaged. */
static void play_lost_leftwards(struct conv *c, us_time_t d)
{
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_send(c, SERVER, F_SYN | F_ACK, 0, 1, 0, 65160);
    conv_send(c, CLIENT, F_ACK, 1, 1, 0, 502);
    conv_until(c, US_MSEC(1));
    struct us_faults full = {.rate_bps = 8000, .queue_frames = 1};
    us_wire_set_faults(c->p->w, c->p->pb, &full);
    conv_send(c, SERVER, F_PSH | F_ACK, 1, 1, 100, 65160); /* fills the queue */
    conv_send(c, SERVER, F_FIN | F_ACK, 101, 1, 0, 65160); /* tail-dropped */
    conv_until(c, US_SEC(1));
    us_wire_set_faults(c->p->w, c->p->pb, &c->faults[SERVER]);
    conv_send(c, SERVER, F_FIN | F_ACK, 101, 1, 0, 65160);
    struct us_faults bad = {.corrupt = 100};
    us_wire_set_faults(c->p->w, c->p->pa, &bad);
    conv_send(c, CLIENT, F_ACK, 1, 102, 0, 502);
    conv_until(c, US_SEC(2));
}

Test(diagram_ascii, lost_leftwards_and_corrupted)
{
    struct diagram *d = record(0, play_lost_leftwards);
    char *text = render(d, 0);
    /* At 8 kbit/s the data takes 154 ms to leave, so there are two clocks. */
    /* clang-format off */
    expect_text(text,
        "     client                                              server\n"
        " 192.0.2.1:40000                                      192.0.2.2:80\n"
        "        |                                                   |\n"
        "  0.000 |----- SYN seq 0 win 64240 <mss 1460> ------------->| 0.000\n"
        "  0.000 |<---- SYN,ACK seq 0 ack 1 win 65160 <mss 1460> ----| 0.000\n"
        "  0.000 |----- ACK ack 1 win 502 -------------------------->| 0.000\n"
        "  0.155 |<---- PSH,ACK seq 1:101(100) ack 1 ----------------| 0.001\n"
        "        |    lost (queue) X----- FIN,ACK seq 101 ack 1 -----| 0.001\n"
        "  1.000 |<---- FIN,ACK seq 101 ack 1 -----------------------| 1.000  retransmission\n"
        "  1.000 |----- ACK ack 102 --------------------------------X| 1.000  corrupted\n"
        "        |                                                   |\n");
    /* clang-format on */
    free(text);
    diagram_free(d);
}

/* Removes ANSI escape sequences in place. */
static void strip_ansi(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\033' && r[1] == '[') {
            r += 2;
            while (*r && *r != 'm') r++;
            if (!*r) break;
            continue;
        }
        *w++ = *r;
    }
    *w = 0;
}

Test(diagram_ascii, colour_only_adds_escapes)
{
    struct diagram *d = record(US_MSEC(5), conv_play_classic);
    char *plain = render(d, 0), *color = render(d, DIAGRAM_COLOR);
    cr_expect(strstr(color, "\033[1;36mSYN-SENT"), "states are coloured");
    cr_expect(strstr(color, "\033[31m"), "the lost arrow is red");
    cr_expect(!strchr(plain, '\033'), "no escape without DIAGRAM_COLOR");
    strip_ansi(color);
    cr_expect_str_eq(color, plain);
    free(plain);
    free(color);
    diagram_free(d);
}

Test(diagram_ascii, absolute_numbers_widen_the_body)
{
    struct diagram *d = record(0, conv_play_classic);
    char *text = render(d, DIAGRAM_ABS_SEQ);
    cr_expect(strstr(text, "|----- PSH,ACK seq 1000000001:1000000006(5) ack 3000000001 ---"), "%s",
              text);
    cr_expect(strstr(text, "SYN,ACK seq 3000000000 ack 1000000001 win 65160 <mss 1460>"), "%s",
              text);
    free(text);
    diagram_free(d);
}

/* A label longer than the widest body is cut, and the lifelines stay put. */
Test(diagram_ascii, long_labels_are_cut)
{
    struct conv *c = conv_new(0);
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    static const uint32_t block[2] = {4000000000u, 4100000000u};
    c->isn[CLIENT] = 0;
    for (int i = 0; i < 3; i++)
        conv_send_sack(c, SERVER, F_FIN | F_PSH | F_ACK | 0x20, 4000000000u, 4000000000u, 1400,
                       65535, block);
    conv_until(c, 1);
    struct diagram *d = diagram_recorder_done(r);
    conv_free(c);
    char *text = render(d, DIAGRAM_ABS_SEQ), *save = NULL;
    size_t bar = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *last = strrchr(line, '|');
        if (!last) continue;
        if (!bar) bar = (size_t)(last - line);
        cr_expect_eq((size_t)(last - line), bar, "the right lifeline moved: %s", line);
        cr_expect(strlen(line) <= 120, "%s", line);
    }
    free(text);
    text = render(d, DIAGRAM_ABS_SEQ);
    cr_expect(strstr(text, "ack 4000000.. --->|"), "the cut is marked: %s", text);
    free(text);
    diagram_free(d);
}
