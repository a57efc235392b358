/* The event log and the wire capture: the exact lines (escaping included),
 * corrupted deliveries recognised, pcap record k = wire frame k, and a closed
 * log no longer listening. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diagram_fixture.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

Test(eventlog, lines_and_capture)
{
    char dir[] = "/tmp/ustack-eventlog-XXXXXX";
    cr_assert(mkdtemp(dir));
    char lp[128], pp[128], err[256];
    snprintf(lp, sizeof(lp), "%s/t.events", dir);
    snprintf(pp, sizeof(pp), "%s/t.pcap", dir);

    struct conv *c = conv_new(US_MSEC(1));
    struct us_eventlog *log = us_eventlog_open(lp, pp, err, sizeof(err));
    cr_assert(log, "%s", err);
    cr_assert_eq(us_eventlog_attach_wire(log, c->p->w), 0);
    cr_assert_eq(us_eventlog_attach_stack(log, c->p->a, c->p->pa), 0);
    cr_assert_eq(us_eventlog_attach_stack(log, c->p->b, c->p->pb), 0);
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.name = "odd name%";
    struct us_stack *odd = us_stack_new(&cfg);
    cr_assert_eq(us_eventlog_attach_stack(log, odd, 5), 0);

    conv_state(c, CLIENT, US_TCP_CLOSED, US_TCP_SYN_SENT, "connect() 100%\n");
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_send_lost(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    conv_until(c, US_MSEC(1));
    struct us_faults bad = {.delay = US_MSEC(1), .corrupt = 100};
    us_wire_set_faults(c->p->w, c->p->pb, &bad);
    conv_send(c, SERVER, F_SYN | F_ACK, 0, 1, 0, 65160);
    conv_until(c, US_MSEC(2));
    cr_assert_eq(us_eventlog_close(log), 0);

    /* Closed: nothing listens any more (ASan would see a use after free). */
    conv_send(c, CLIENT, F_ACK, 1, 1, 0, 502);
    conv_until(c, US_MSEC(3));
    conv_state(c, CLIENT, US_TCP_SYN_SENT, US_TCP_ESTABLISHED, "late");

    cr_expect_str_eq(slurp(lp),
                     "# ustack event log (format: src/trace/eventlog.c)\n"
                     "ustack-events 1\n"
                     "port 0 client\n"
                     "port 1 server\n"
                     "port 5 odd%20name%25\n"
                     "state 0.000000 client 192.0.2.1 40000 192.0.2.2 80 CLOSED SYN-SENT "
                     "connect() 100%25%0A\n"
                     "send 1 0.000000 0 58\n"
                     "send 2 0.000000 0 58\n"
                     "drop 2 0.000000 loss\n"
                     "deliver 1 0.001000 1\n"
                     "send 3 0.001000 1 58\n"
                     "deliver 3 0.002000 0 corrupt\n");

    /* The capture: record k is frame k, stamped with its send time. */
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(pp, perr);
    cr_assert(p, "%s", perr);
    cr_expect_eq(pcap_datalink(p), DLT_EN10MB);
    struct pcap_pkthdr *h;
    const u_char *data;
    static const us_time_t when[3] = {0, 0, US_MSEC(1)};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(pcap_next_ex(p, &h, &data), 1, "record %d", k + 1);
        cr_expect_eq((us_time_t)h->ts.tv_sec * 1000000u + (us_time_t)h->ts.tv_usec, when[k]);
        cr_expect_eq(h->len, 58);
        cr_expect_eq(data[14 + 20 + 13], k == 2 ? (F_SYN | F_ACK) : F_SYN, "TCP flags");
    }
    cr_expect_eq(pcap_next_ex(p, &h, &data), -2, "exactly one record per frame");
    pcap_close(p);

    us_stack_free(odd);
    conv_free(c);
    unlink(lp);
    unlink(pp);
    rmdir(dir);
}

Test(eventlog, open_failure_says_why)
{
    char err[256];
    cr_expect_null(us_eventlog_open("/nonexistent/dir/x.events", NULL, err, sizeof(err)));
    cr_expect(strstr(err, "cannot write /nonexistent/dir/x.events"), "%s", err);
    cr_expect_eq(us_eventlog_close(NULL), 0);
}

Test(eventlog, write_errors_are_reported)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full) cr_skip_test("no /dev/full");
    struct us_eventlog *log = us_eventlog_new(full, NULL);
    cr_assert(log);
    cr_expect_eq(us_eventlog_close(log), -EIO);
    fclose(full);
}
