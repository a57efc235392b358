/* The scenario book's machinery: claims decide from what happened (a false
 * claim fails and is named, with what happened instead), a failing scenario
 * makes `scenario_play` return 1 naming its first failed claim, the record
 * holds the calls, frames and states in order, and the trace puts a state
 * beside the segment it caused or the call that made it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/book.h"
#include "scenario/show.h"

static struct stage sg;

static void open_stage(void)
{
    char err[256];
    struct stage_opts o = {.seed = 1};
    cr_assert_eq(stage_open(&sg, &o, err, sizeof(err)), 0, "%s", err);
}

static void close_stage(void)
{
    stage_close(&sg);
}

TestSuite(scenario, .init = open_stage, .fini = close_stage);

Test(scenario, claims_decide_from_the_record)
{
    int c = act_socket(&sg, CLIENT, false);
    int rc = act_connect(&sg, CLIENT, c, SERVER, 81);
    cr_assert(claim_errno(&sg, "connect()", rc, ECONNREFUSED));
    cr_assert(!claim_errno(&sg, "connect()", rc, ETIMEDOUT), "a wrong errno is caught");
    cr_assert(claim_segments(&sg, "client SYN | server RST,ACK"));
    cr_assert(!claim_segments(&sg, "client SYN | server SYN,ACK | client ACK"));
    cr_assert(claim_states(&sg, CLIENT, 0, "CLOSED -> SYN-SENT -> CLOSED"));
    cr_assert(!claim_states(&sg, CLIENT, 0, "CLOSED -> SYN-SENT -> ESTABLISHED"));
    cr_assert(claim_counter(&sg, SERVER, US_C_tcp_rst_tx, 1));
    cr_assert(!claim_counter(&sg, SERVER, US_C_tcp_rst_tx, 2));
    cr_assert(claim_counter_min(&sg, SERVER, US_C_tcp_rst_tx, 1));
    cr_assert_eq(sg.failed, 4);
    cr_assert_str_eq(claims_first_failed(&sg), "connect() fails with ETIMEDOUT");
    cr_assert_str_eq(sg.claims[1].detail, "it failed with ECONNREFUSED");
    cr_assert_str_eq(sg.claims[3].detail, "the segments were: client SYN | server RST,ACK");
    cr_assert_str_eq(sg.claims[5].detail, "client went CLOSED -> SYN-SENT -> CLOSED");
    cr_assert_str_eq(sg.claims[7].detail, "tcp_rst_tx is 1");
}

Test(scenario, the_record_keeps_calls_frames_and_states_in_order)
{
    int l = act_listen(&sg, SERVER, 80, 4, false);
    cr_assert(l >= 0);
    int c = act_socket(&sg, CLIENT, false);
    cr_assert_eq(act_connect(&sg, CLIENT, c, SERVER, 80), 0);
    /* The call, its state change, the ARP exchange, the SYN... */
    const char *want[] = {
        "C bind(3, 0.0.0.0:80)", "R bind(3, 0.0.0.0:80) = 0", "C listen(3, 4)", "S LISTEN",
        "R listen(3, 4) = 0",    "C connect(3, 10.0.0.2:80)", "S SYN-SENT"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct stage_event *e = &sg.ev[i];
        char got[300];
        if (e->kind == SEV_STATE)
            snprintf(got, sizeof(got), "S %s", us_tcp_state_name(e->to));
        else
            snprintf(got, sizeof(got), "%c %s", e->kind == SEV_CALL ? 'C' : 'R', e->text);
        cr_assert_str_eq(got, want[i], "event %zu", i);
    }
    long syn = stage_find_segment(&sg, CLIENT, TF_SYN, 0);
    cr_assert(syn > 0 && !sg.ev[syn].retransmit && sg.ev[syn].fate == FATE_DELIVERED);
    cr_assert(strstr(sg.ev[syn].text, "Flags [S], seq "), "%s", sg.ev[syn].text);
    cr_assert_eq(stage_count_segments(&sg, -1, 0, false), 3);
}

Test(scenario, a_lost_segment_and_its_retransmission_are_marked)
{
    int c, s;
    book_connect(&sg, 80, &c, &s);
    stage_mark(&sg);
    static const struct us_faults lose = {.loss = 100};
    act_faults(&sg, CLIENT, &lose, "the client's frames are lost");
    act_send(&sg, CLIENT, c, "x", 1);
    act_faults(&sg, CLIENT, NULL, "they get through again");
    char buf[4];
    cr_assert_eq(act_recv(&sg, SERVER, s, buf, sizeof(buf) - 1, 0), 1);
    char segs[256];
    cr_assert_str_eq(stage_segments(&sg, segs, sizeof(segs)),
                     "client PSH,ACK(1) lost | client PSH,ACK(1) | server ACK");
    long first = stage_find_segment(&sg, CLIENT, TF_PSH, 0);
    long again = stage_find_segment(&sg, CLIENT, TF_PSH, 1);
    cr_assert(!sg.ev[first].retransmit && sg.ev[again].retransmit);
    cr_assert_str_eq(sg.ev[first].reason, "loss");
}

Test(scenario, the_trace_puts_states_beside_their_cause)
{
    int c, s;
    book_connect(&sg, 80, &c, &s);
    act_close(&sg, CLIENT, c);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    show_trace(&sg, f, 0);
    fclose(f);
    /* A call's state change is on the call's row; a state the peer's
     * segment caused sits on the row of the segment it then sends. */
    cr_assert(strstr(text, "LISTEN        server: listen(3, 16) = 0\n"), "%s", text);
    cr_assert(strstr(text, "  FIN-WAIT-1                 client: close(3) = 0\n"), "%s", text);
    cr_assert(strstr(text, "SYN-RECEIVED  IP 10.0.0.2.80 > 10.0.0.1."), "%s", text);
    cr_assert(strstr(text, "client: connect(3, 10.0.0.2:80) ...\n"), "a blocking call's start");
    cr_assert(strstr(text, "client: connect(3, 10.0.0.2:80) = 0\n"), "... and its return");
    for (char *p = text; (p = strchr(p, '\n')); p++) cr_assert(p[-1] != ' ', "a trailing space");
    free(text);
}

static void false_claim(struct stage *s)
{
    claim(s, false, "the moon is made of cheese", "it is not");
}

Test(scenario, a_failed_claim_fails_the_scenario_by_name)
{
    const struct scenario sc = {
        .name = "cheese", .title = "A false claim", .about = "Fails.", .play = false_claim};
    struct play_opts po = {.seed = 1, .ascii = true};
    char err[256] = "";
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc = scenario_play(&sc, &po, f, err, sizeof(err));
    fclose(f);
    cr_assert_eq(rc, 1);
    cr_assert_str_eq(err, "cheese: claim failed: the moon is made of cheese");
    cr_assert(strstr(text, "  FAIL  the moon is made of cheese\n        but it is not\n"), "%s",
              text);
    cr_assert(strstr(text, "cheese: FAILED (1 of 3 claims): the moon is made of cheese\n"), "%s",
              text);
    free(text);
}

Test(scenario, every_scenario_in_the_book_is_found_by_name)
{
    size_t n;
    const struct scenario *const *book = book_scenarios(&n);
    cr_assert_geq(n, 22);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(book_find(book[i]->name), book[i]);
        cr_assert(book[i]->title && book[i]->about && book[i]->play);
        for (size_t j = 0; j < i; j++) cr_assert_str_neq(book[i]->name, book[j]->name);
    }
    cr_assert_null(book_find("no-such-scenario"));
}
