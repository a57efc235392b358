/* `ustack stat`'s model (tools/stat.c): ss's way of writing timers and
 * states, the table, the JSON document and its round trip, and snapshots
 * of real stacks on the wire (LISTEN, ESTABLISHED, TIME-WAIT). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "stat.h"
#include "testlib.h"

static struct stat_socket sock(const char *proto, const char *state, uint32_t l, uint16_t lp,
                               uint32_t r, uint16_t rp, const char *timer, uint64_t ms,
                               unsigned rexmt)
{
    struct stat_socket s = {.fd = 3,
                            .laddr = l,
                            .lport = lp,
                            .raddr = r,
                            .rport = rp,
                            .timer_ms = ms,
                            .retransmits = rexmt};
    snprintf(s.proto, sizeof(s.proto), "%s", proto);
    snprintf(s.state, sizeof(s.state), "%s", state);
    snprintf(s.timer, sizeof(s.timer), "%s", timer);
    return s;
}

/* A server with a listener, one download in flight and one finished. */
static struct stat_socket sample_sockets[3];
static struct stat_counter sample_counters[4] = {
    {"eth_rx", 41223}, {"eth_tx", 0}, {"tcp_retransmits", 7}, {"a_counter_from_the_future", 5}};

static struct stat_snapshot sample(void)
{
    sample_sockets[0] = sock("tcp", "LISTEN", 0, 80, 0, 0, "off", 0, 0);
    sample_sockets[0].send_q = 128;
    sample_sockets[1] =
        sock("tcp", "ESTABLISHED", IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 43210, "on", 204, 1);
    sample_sockets[1].send_q = 262144;
    sample_sockets[2] =
        sock("tcp", "TIME-WAIT", IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 43208, "timewait", 59000, 0);
    sample_sockets[2].fd = -1;
    struct stat_snapshot s = {.version = 1,
                              .pid = 4242,
                              .addr = IP(10, 0, 0, 2),
                              .prefix = 24,
                              .uptime_ms = 72500,
                              .sockets = sample_sockets,
                              .n_sockets = 3,
                              .sockets_total = 3,
                              .counters = sample_counters,
                              .n_counters = 4};
    snprintf(s.command, sizeof(s.command), "http");
    snprintf(s.tap, sizeof(s.tap), "tap0");
    return s;
}

static char *render(void (*fn)(FILE *, const struct stat_snapshot *), const struct stat_snapshot *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, s);
    fclose(f);
    return buf;
}

static void table(FILE *f, const struct stat_snapshot *s)
{
    stat_write_table(f, s);
}
static void json_compact(FILE *f, const struct stat_snapshot *s)
{
    stat_write_json(f, s, false);
}
static void json_pretty(FILE *f, const struct stat_snapshot *s)
{
    stat_write_json(f, s, true);
}

Test(stat_format, durations_as_ss_writes_them)
{
    char b[32];
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 0), "0ms");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 7), "007ms");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 200), "200ms");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 1000), "1sec");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 1500), "1.500ms");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 9999), "9.999ms");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 12345), "12sec");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 59000), "59sec");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 60000), "1min");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 125000), "2min5sec");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 600500), "10min");
    cr_assert_str_eq(stat_format_ms(b, sizeof(b), 7199000), "119min");
}

Test(stat_format, timers)
{
    char b[64];
    struct stat_socket s = sock("tcp", "ESTABLISHED", 1, 1, 2, 2, "on", 200, 0);
    cr_assert_str_eq(stat_format_timer(b, sizeof(b), &s), "timer:(on,200ms,0)");
    s = sock("tcp", "ESTABLISHED", 1, 1, 2, 2, "on", 1600, 3);
    cr_assert_str_eq(stat_format_timer(b, sizeof(b), &s), "timer:(on,1.600ms,3)");
    s = sock("tcp", "TIME-WAIT", 1, 1, 2, 2, "timewait", 59000, 0);
    cr_assert_str_eq(stat_format_timer(b, sizeof(b), &s), "timer:(timewait,59sec,0)");
    s = sock("tcp", "ESTABLISHED", 1, 1, 2, 2, "keepalive", 7199000, 0);
    cr_assert_str_eq(stat_format_timer(b, sizeof(b), &s), "timer:(keepalive,119min,0)");
    s = sock("tcp", "ESTABLISHED", 1, 1, 2, 2, "persist", 400, 2);
    cr_assert_str_eq(stat_format_timer(b, sizeof(b), &s), "timer:(persist,400ms,2)");
    s = sock("tcp", "ESTABLISHED", 1, 1, 2, 2, "off", 0, 0);
    cr_assert_str_eq(stat_format_timer(b, sizeof(b), &s), "", "no timer, nothing printed");
}

Test(stat_format, ss_state_names)
{
    static const char *const pairs[][2] = {
        {"ESTABLISHED", "ESTAB"},     {"SYN-RECEIVED", "SYN-RECV"}, {"CLOSED", "UNCONN"},
        {"LISTEN", "LISTEN"},         {"SYN-SENT", "SYN-SENT"},     {"FIN-WAIT-1", "FIN-WAIT-1"},
        {"FIN-WAIT-2", "FIN-WAIT-2"}, {"CLOSE-WAIT", "CLOSE-WAIT"}, {"CLOSING", "CLOSING"},
        {"LAST-ACK", "LAST-ACK"},     {"TIME-WAIT", "TIME-WAIT"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct stat_socket s = sock("tcp", pairs[i][0], 0, 0, 0, 0, "off", 0, 0);
        cr_assert_str_eq(stat_ss_state(&s), pairs[i][1]);
    }
    struct stat_socket u = sock("udp", "", 0, 53, 0, 0, "off", 0, 0);
    cr_assert_str_eq(stat_ss_state(&u), "UNCONN");
    u.raddr = 1;
    cr_assert_str_eq(stat_ss_state(&u), "ESTAB", "a connected UDP socket");
}

Test(stat_format, table_reads_like_ss)
{
    struct stat_snapshot s = sample();
    char *t = render(table, &s);
    cr_assert_str_eq(
        t, "ustack 4242: http on tap0 as 10.0.0.2/24, up 1m12s\n"
           "\n"
           "State      Recv-Q Send-Q Local Address:Port   Peer Address:Port\n"
           "LISTEN     0      128    0.0.0.0:80           0.0.0.0:*\n"
           "ESTAB      0      262144 10.0.0.2:80          10.0.0.1:43210      timer:(on,204ms,1)\n"
           "TIME-WAIT  0      0      10.0.0.2:80          10.0.0.1:43208      "
           "timer:(timewait,59sec,0)\n"
           "\n"
           "Counters (non-zero):\n"
           "  eth_rx                    41223  frames received\n"
           "  tcp_retransmits               7  segments retransmitted\n"
           "  a_counter_from_the_future     5  \n");
    free(t);
}

Test(stat_format, wide_cells_widen_their_column)
{
    struct stat_socket w[1] = {sock("tcp", "ESTABLISHED", IP(192, 168, 100, 200), 65535,
                                    IP(192, 168, 100, 201), 65534, "off", 0, 0)};
    w[0].recv_q = 4294967295u;
    struct stat_snapshot s = sample();
    s.sockets = w;
    s.n_sockets = s.sockets_total = 1;
    s.n_counters = 0;
    char *t = render(table, &s);
    cr_assert(strstr(t, "State      Recv-Q     Send-Q Local Address:Port    Peer Address:Port\n"),
              "%s", t);
    cr_assert(
        strstr(t, "ESTAB      4294967295 0      192.168.100.200:65535 192.168.100.201:65534\n"),
        "%s", t);
    cr_assert(strstr(t, "Counters (non-zero):\n  (none)\n"), "%s", t);
    free(t);
}

Test(stat_format, udp_adds_a_netid_column_and_cut_lists_say_so)
{
    struct stat_socket u[2] = {sock("tcp", "LISTEN", 0, 80, 0, 0, "off", 0, 0),
                               sock("udp", "", 0, 53, 0, 0, "off", 0, 0)};
    struct stat_snapshot s = sample();
    s.sockets = u;
    s.n_sockets = 2;
    s.sockets_total = 70000;
    char *t = render(table, &s);
    cr_assert(strstr(t, "\nNetid State "), "%s", t);
    cr_assert(strstr(t, "\ntcp   LISTEN "), "%s", t);
    cr_assert(strstr(t, "\nudp   UNCONN "), "%s", t);
    cr_assert(strstr(t, "(69998 more sockets not listed)\n"), "%s", t);
    free(t);
}

Test(stat_json, document_has_stable_keys_and_parses)
{
    struct stat_snapshot s = sample();
    char *doc = render(json_compact, &s);
    cr_assert_null(strchr(doc, '\n'), "the wire form is one line");
    char err[128];
    struct json_value *v = json_parse(doc, strlen(doc), err, sizeof(err));
    cr_assert(v, "%s", err);
    static const char *const top[] = {"version",       "pid",     "command",   "tap",
                                      "address",       "prefix",  "uptime_ms", "sockets",
                                      "sockets_total", "counters"};
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
        cr_assert(json_get(v, top[i]), "no \"%s\"", top[i]);
    static const char *const per[] = {
        "proto",     "state",  "ss_state", "fd",    "local_addr", "local_port", "peer_addr",
        "peer_port", "recv_q", "send_q",   "timer", "timer_ms",   "retransmits"};
    const struct json_value *socks = json_get(v, "sockets");
    cr_assert_eq(socks->n, 3);
    for (size_t k = 0; k < socks->n; k++)
        for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++)
            cr_assert(json_get(&socks->items[k], per[i]), "socket %zu has no \"%s\"", k, per[i]);
    cr_assert_str_eq(json_get_string(&socks->items[1], "ss_state"), "ESTAB");
    cr_assert_str_eq(json_get_string(&socks->items[1], "peer_addr"), "10.0.0.1");
    cr_assert_eq(json_get(&socks->items[2], "fd")->number, -1);
    uint64_t c;
    cr_assert(json_get_uint(json_get(v, "counters"), "eth_tx", &c), "zero counters are listed");
    cr_assert_eq(c, 0);
    json_free(v);
    free(doc);
}

Test(stat_json, round_trip)
{
    struct stat_snapshot s = sample();
    char *doc = render(json_pretty, &s);
    struct stat_snapshot r;
    char err[128];
    cr_assert_eq(stat_read_json(&r, doc, strlen(doc), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.pid, 4242);
    cr_assert_str_eq(r.command, "http");
    cr_assert_str_eq(r.tap, "tap0");
    cr_assert_eq(r.addr, IP(10, 0, 0, 2));
    cr_assert_eq(r.prefix, 24);
    cr_assert_eq(r.uptime_ms, 72500);
    cr_assert_eq(r.n_sockets, 3);
    cr_assert_eq(r.n_counters, 4);
    for (size_t i = 0; i < 3; i++) {
        const struct stat_socket *a = &s.sockets[i], *b = &r.sockets[i];
        cr_assert_str_eq(a->proto, b->proto);
        cr_assert_str_eq(a->state, b->state);
        cr_assert_str_eq(a->timer, b->timer);
        cr_assert_eq(a->fd, b->fd);
        cr_assert_eq(a->laddr, b->laddr);
        cr_assert_eq(a->lport, b->lport);
        cr_assert_eq(a->raddr, b->raddr);
        cr_assert_eq(a->rport, b->rport);
        cr_assert_eq(a->send_q, b->send_q);
        cr_assert_eq(a->timer_ms, b->timer_ms);
        cr_assert_eq(a->retransmits, b->retransmits);
    }
    /* The same table from both. */
    char *t1 = render(table, &s), *t2 = render(table, &r);
    cr_assert_str_eq(t1, t2);
    free(t1);
    free(t2);
    stat_free(&r);
    free(doc);
}

static void expect_refused(const char *doc, const char *why)
{
    struct stat_snapshot r;
    char err[160] = "";
    cr_expect_eq(stat_read_json(&r, doc, strlen(doc), err, sizeof(err)), -1, "accepted %s", why);
    cr_expect_neq(err[0], 0, "no message for %s", why);
}

Test(stat_json, refuses_what_it_cannot_show)
{
    expect_refused("", "nothing");
    expect_refused("[]", "an array");
    expect_refused("{\"sockets\":[]}", "no version");
    expect_refused("{\"version\":2,\"sockets\":[]}", "a newer version");
    expect_refused("{\"version\":1}", "no sockets");
    expect_refused("{\"version\":1,\"sockets\":[1]}", "a socket that is not an object");
    expect_refused("{\"version\":1,\"sockets\":[{\"proto\":\"sctp\"}]}", "an unknown protocol");
    expect_refused("{\"version\":1,\"sockets\":[{\"proto\":\"tcp\",\"local_addr\":\"10.0.0.300\","
                   "\"peer_addr\":\"0.0.0.0\"}]}",
                   "a bad address");
}

Test(stat_json, unknown_members_are_ignored)
{
    const char *doc =
        "{\"version\":1,\"future\":{\"x\":[1,2]},\"sockets\":[{\"proto\":\"tcp\","
        "\"state\":\"LISTEN\",\"local_addr\":\"0.0.0.0\",\"local_port\":80,"
        "\"peer_addr\":\"0.0.0.0\",\"new\":true}],\"counters\":{\"x\":\"y\",\"z\":3}}";
    struct stat_snapshot r;
    char err[128];
    cr_assert_eq(stat_read_json(&r, doc, strlen(doc), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.n_sockets, 1);
    cr_assert_eq(r.sockets[0].lport, 80);
    cr_assert_str_eq(r.sockets[0].timer, "off");
    cr_assert_eq(r.n_counters, 1, "a counter that is not a number is skipped");
    stat_free(&r);
}

/* ---- snapshots of live stacks ---- */

static struct stat_origin origin = {.pid = 1, .command = "test", .tap = "wire"};

static const struct stat_socket *find(const struct stat_snapshot *s, const char *state,
                                      uint16_t lport)
{
    for (size_t i = 0; i < s->n_sockets; i++)
        if (!strcmp(s->sockets[i].state, state) && s->sockets[i].lport == lport)
            return &s->sockets[i];
    return NULL;
}

Test(stat_take, listener_connection_and_time_wait)
{
    struct pair *p = pair_new(1, NULL, NULL);
    int cfd, sfd, lfd;
    tcp_connect_pair(p, 80, &cfd, &sfd, &lfd);
    cr_assert_eq(us_send(p->b, sfd, "hello", 5, 0), 5);

    struct stat_snapshot s;
    cr_assert_eq(stat_take(&s, p->b, &origin, us_wire_now(p->w)), 0);
    cr_assert(find(&s, "LISTEN", 80));
    const struct stat_socket *e = find(&s, "ESTABLISHED", 80);
    cr_assert(e, "the accepted connection is listed");
    cr_assert_eq(e->raddr, PAIR_A_IP);
    cr_assert_eq(e->laddr, PAIR_B_IP);
    cr_assert_eq(e->fd, sfd);
    cr_assert_eq(e->send_q, 5, "five bytes not yet acknowledged");
    cr_assert_str_eq(e->timer, "on", "the retransmission timer runs");
    cr_assert_leq(e->timer_ms, 1000);
    cr_assert_eq(s.n_counters, US_C__COUNT);
    stat_free(&s);

    /* The server closes first, so the server holds TIME-WAIT. (The client
     * reads first: closing with unread data would reset.) */
    us_wire_run_for(p->w, US_MSEC(100));
    char got[8];
    cr_assert_eq(us_recv(p->a, cfd, got, sizeof(got), 0), 5);
    us_close(p->b, sfd);
    us_wire_run_for(p->w, US_MSEC(100));
    us_close(p->a, cfd);
    us_wire_run_for(p->w, US_MSEC(100));
    cr_assert_eq(stat_take(&s, p->b, &origin, us_wire_now(p->w)), 0);
    const struct stat_socket *tw = find(&s, "TIME-WAIT", 80);
    cr_assert(tw, "the server's TIME-WAIT is listed");
    cr_assert_eq(tw->fd, -1);
    cr_assert_str_eq(tw->timer, "timewait");
    cr_assert(tw->timer_ms > 59000 && tw->timer_ms < 60000, "2MSL left: %llu ms",
              (unsigned long long)tw->timer_ms);
    char t[64];
    cr_assert_str_eq(stat_format_timer(t, sizeof(t), tw), "timer:(timewait,59sec,0)");
    stat_free(&s);
    cr_assert_eq(stat_take(&s, p->a, &origin, us_wire_now(p->w)), 0);
    cr_assert_null(find(&s, "TIME-WAIT", 80), "the client does not hold it");
    stat_free(&s);

    us_close(p->b, lfd);
    pair_free(p);
}

Test(stat_json, long_names_are_cut_between_characters)
{
    /* 47 bytes fit in a counter name: 46 ASCII letters, then a two-byte
     * character that would straddle the end. Found by fuzz_stat_json. */
    char doc[256];
    snprintf(doc, sizeof(doc), "{\"version\":1,\"sockets\":[],\"counters\":{\"%s\xc3\xa9x\":1}}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    struct stat_snapshot r, again;
    char err[128];
    cr_assert_eq(stat_read_json(&r, doc, strlen(doc), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(strlen(r.counters[0].name), 46, "cut before the character, not inside it");
    char *text = render(json_compact, &r);
    cr_assert_eq(stat_read_json(&again, text, strlen(text), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(again.counters[0].name, r.counters[0].name,
                     "the same name after a round trip");
    stat_free(&again);
    stat_free(&r);
    free(text);
}
