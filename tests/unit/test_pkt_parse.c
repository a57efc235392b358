/* The packetdrill script parser: every construct of the language, error
 * positions, #ifdef and -D macros, canonical printing, and every public
 * script in shared/packetdrill. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pkt/pkt.h"

static struct pkt_script *parse_with(const char *text, const struct pkt_parse_opts *opts)
{
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    int r = pkt_parse_buffer("t.pkt", text, strlen(text), opts, &s, &err);
    cr_assert_eq(r, 0, "parse failed: %s", pkt_error_format(&err, msg, sizeof(msg)));
    return s;
}

static struct pkt_script *parse(const char *text)
{
    return parse_with(text, NULL);
}

/* Asserts that `text` fails at line:col with a message containing `what`. */
static void parse_fails(const char *text, uint32_t line, uint32_t col, const char *what)
{
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    int r = pkt_parse_buffer("t.pkt", text, strlen(text), NULL, &s, &err);
    cr_assert_eq(r, -1, "parsed, expected an error about '%s':\n%s", what, text);
    cr_assert_null(s);
    pkt_error_format(&err, msg, sizeof(msg));
    cr_assert_eq(err.pos.line, line, "%s (wanted line %u)", msg, line);
    cr_assert_eq(err.pos.col, col, "%s (wanted col %u)", msg, col);
    cr_assert(strstr(err.msg, what), "'%s' does not mention '%s'", msg, what);
}

static const struct pkt_packet *packet_of(const struct pkt_script *s, uint32_t i)
{
    cr_assert_lt(i, s->nevents);
    cr_assert_eq(s->events[i].kind, PKT_EV_PACKET);
    return &s->events[i].u.packet;
}

static const struct pkt_syscall *call_of(const struct pkt_script *s, uint32_t i)
{
    cr_assert_lt(i, s->nevents);
    cr_assert_eq(s->events[i].kind, PKT_EV_SYSCALL);
    return &s->events[i].u.call;
}

/* The options of a one-packet script, printed. */
static void assert_opts(const char *line, const char *want)
{
    struct pkt_script *s = parse(line);
    char buf[256];
    cr_assert_str_eq(pkt_opts_format(buf, sizeof(buf), &packet_of(s, 0)->opts), want);
    pkt_script_free(s);
}

/* ---- options, comments, times ---- */

Test(pkt_parse, option_lines_fill_the_config)
{
    struct pkt_script *s = parse("--ip_version=ipv4\n"
                                 "--tolerance_usecs=25000\n"
                                 "--mtu=9000   // a comment after the value\n"
                                 "--mss=1000\n"
                                 "--tcp_ts_tick_usecs=1000\n"
                                 "--local_ip=10.0.0.1\n"
                                 "--remote_ip=10.0.0.2\n"
                                 "--bind_port=80\n"
                                 "--verbose\n"
                                 "--something_else=x y\n"
                                 "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
    cr_assert_eq(s->config.ip_version, 4);
    cr_assert_eq(s->config.tolerance_usecs, 25000);
    cr_assert_eq(s->config.mtu, 9000);
    cr_assert_eq(s->config.mss, 1000);
    cr_assert_eq(s->config.ts_tick_usecs, 1000);
    cr_assert_eq(s->config.local_ip, 0x0a000001);
    cr_assert_eq(s->config.remote_ip, 0x0a000002);
    cr_assert_eq(s->config.bind_port, 80);
    cr_assert_eq(s->noptions, 10);
    cr_assert_str_eq(s->options[2].value, "9000");
    cr_assert_str_eq(s->options[8].name, "verbose");
    cr_assert_null(s->options[8].value);
    cr_assert_str_eq(s->options[9].value, "x y");
    cr_assert_eq(s->nevents, 1);
    pkt_script_free(s);
}

Test(pkt_parse, config_defaults)
{
    struct pkt_script *s = parse("");
    cr_assert_eq(s->config.ip_version, 4);
    cr_assert_eq(s->config.tolerance_usecs, 4000);
    cr_assert_eq(s->config.mtu, 1500);
    cr_assert_eq(s->config.ts_tick_usecs, 0);
    cr_assert_eq(s->nevents, 0);
    pkt_script_free(s);
}

Test(pkt_parse, comments_of_both_kinds)
{
    struct pkt_script *s = parse("// line comment\n"
                                 "/* block\n   comment over lines */ 0 socket(..., SOCK_STREAM, "
                                 "IPPROTO_TCP) = 3 // trailing\n"
                                 "+0 /* inline */ close(3) = 0\n");
    cr_assert_eq(s->nevents, 2);
    cr_assert_eq(s->events[0].pos.line, 3);
    cr_assert_eq(s->events[0].pos.col, 26);
    cr_assert_str_eq(call_of(s, 1)->name, "close");
    pkt_script_free(s);
}

Test(pkt_parse, time_forms)
{
    struct pkt_script *s = parse("0 close(3) = 0\n"
                                 "1.5 close(3) = 0\n"
                                 ".1 close(3) = 0\n"
                                 "+0.010 close(3) = 0\n"
                                 "* close(3) = 0\n"
                                 "+.35~+2.35 close(3) = 0\n"
                                 "+0...0.200 accept(3, ..., ...) = 4\n"
                                 "1.00...6.00 connect(3, ..., ...) = 0\n"
                                 "0.1~0.2 close(3) = 0\n");
    const struct pkt_time *t;
    t = &s->events[0].time;
    cr_assert(t->kind == PKT_TIME_ABSOLUTE && t->usecs == 0 && !t->has_end);
    t = &s->events[1].time;
    cr_assert(t->kind == PKT_TIME_ABSOLUTE && t->usecs == 1500000);
    t = &s->events[2].time;
    cr_assert(t->kind == PKT_TIME_ABSOLUTE && t->usecs == 100000);
    t = &s->events[3].time;
    cr_assert(t->kind == PKT_TIME_RELATIVE && t->usecs == 10000);
    t = &s->events[4].time;
    cr_assert(t->kind == PKT_TIME_ANY);
    t = &s->events[5].time;
    cr_assert(t->kind == PKT_TIME_RELATIVE && t->usecs == 350000 && t->has_end && !t->blocking);
    cr_assert(t->end_kind == PKT_TIME_RELATIVE && t->end_usecs == 2350000);
    t = &s->events[6].time;
    cr_assert(t->kind == PKT_TIME_RELATIVE && t->usecs == 0 && t->blocking);
    cr_assert(t->end_kind == PKT_TIME_RELATIVE && t->end_usecs == 200000);
    t = &s->events[7].time;
    cr_assert(t->kind == PKT_TIME_ABSOLUTE && t->usecs == 1000000 && t->blocking);
    cr_assert(t->end_kind == PKT_TIME_ABSOLUTE && t->end_usecs == 6000000);
    t = &s->events[8].time;
    cr_assert(t->end_kind == PKT_TIME_ABSOLUTE && t->end_usecs == 200000 && !t->blocking);
    pkt_script_free(s);
}

Test(pkt_parse, time_resolution)
{
    struct pkt_script *s = parse("+.1...0.200 read(4, ..., 2000) = 2000\n"
                                 "+.35~+2.35 close(3) = 0\n"
                                 "1...6 connect(3, ..., ...) = 0\n"
                                 "* close(3) = 0\n");
    /* blocking-read.pkt: the previous event was at 0.3 s. */
    struct pkt_when w = pkt_time_resolve(&s->events[0].time, 300000);
    cr_assert_eq(w.start, 400000);
    cr_assert_eq(w.end, 500000, "returns 0.2 s after the previous event, not after its start");
    w = pkt_time_resolve(&s->events[1].time, 1000000);
    cr_assert(w.start == 1350000 && w.end == 3350000);
    w = pkt_time_resolve(&s->events[2].time, 123);
    cr_assert(w.start == 1000000 && w.end == 6000000);
    w = pkt_time_resolve(&s->events[3].time, 777);
    cr_assert(w.any && w.start == 777);
    pkt_script_free(s);
}

/* ---- packets ---- */

Test(pkt_parse, packet_fields)
{
    struct pkt_script *s = parse("0 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>\n"
                                 "+0 > S. 0:0(0) ack 1 <...>\n"
                                 "+0 < P. 1:1001(1000) ack 1 win 257 urg 3\n"
                                 "+0 > R 1:1(0) ack 0 win 0\n"
                                 "+0 > . 4294967295:999(1000) ack 1\n");
    const struct pkt_packet *p = packet_of(s, 0);
    cr_assert(p->dir == PKT_INBOUND && p->flags == PKT_SYN && p->seq == 0 && p->len == 0);
    cr_assert(!p->has_ack && p->has_win && p->win == 32792 && !p->has_urg);
    cr_assert_eq(p->opts.len, 12);
    p = packet_of(s, 1);
    cr_assert(p->dir == PKT_OUTBOUND && p->flags == (PKT_SYN | PKT_ACK));
    cr_assert(p->has_ack && p->ack == 1 && !p->has_win && p->opts.any);
    p = packet_of(s, 2);
    cr_assert(p->flags == (PKT_PSH | PKT_ACK) && p->seq == 1 && p->len == 1000);
    cr_assert(p->has_urg && p->urg == 3);
    p = packet_of(s, 3);
    cr_assert(p->flags == PKT_RST && p->has_ack && p->ack == 0, "ack without the ACK flag");
    cr_assert(p->has_win && p->win == 0 && p->opts.len == 0 && !p->opts.any);
    p = packet_of(s, 4);
    cr_assert(p->seq == 4294967295u && p->len == 1000, "ranges wrap");
    pkt_script_free(s);
}

Test(pkt_parse, every_flag)
{
    struct {
        const char *word;
        uint8_t flags;
    } cases[] = {
        {"S", PKT_SYN},
        {"S.", PKT_SYN | PKT_ACK},
        {".", PKT_ACK},
        {"F.", PKT_FIN | PKT_ACK},
        {"FP.", PKT_FIN | PKT_PSH | PKT_ACK},
        {"R", PKT_RST},
        {"R.", PKT_RST | PKT_ACK},
        {"P.", PKT_PSH | PKT_ACK},
        {"SF", PKT_SYN | PKT_FIN},
        {"SEW", PKT_SYN | PKT_ECE | PKT_CWR},
        {"U.", PKT_URG | PKT_ACK},
        {"-", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[128], back[16];
        snprintf(line, sizeof(line), "0 < %s 1:1(0) win 1\n", cases[i].word);
        struct pkt_script *s = parse(line);
        cr_assert_eq(packet_of(s, 0)->flags, cases[i].flags, "%s", cases[i].word);
        cr_assert_str_eq(pkt_flags_format(back, sizeof(back), cases[i].flags), cases[i].word);
        pkt_script_free(s);
    }
}

Test(pkt_parse, tcp_options)
{
    assert_opts("0 > S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>",
                "mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0");
    assert_opts("0 > S. 0:0(0) ack 1 <mss 1460,sackOK,eol,eol>", "mss 1460,sackOK,eol,eol");
    assert_opts("0 < . 1:1(0) ack 1 win 257 <nop,nop,sack 1001:2001 3001:4001>",
                "nop,nop,sack 1001:2001 3001:4001");
    assert_opts("0 < . 1:1(0) ack 1 win 257 <sack 1:2 3:4 5:6 7:8>", "sack 1:2 3:4 5:6 7:8");
    struct pkt_script *s = parse("0 > S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>");
    static const uint8_t wire[] = {2, 4,  0x05, 0xb4, 1, 3,   3, 6, 4, 2,
                                   8, 10, 0,    0,    0, 100, 0, 0, 0, 0};
    const struct pkt_opts *o = &packet_of(s, 0)->opts;
    cr_assert_eq(o->len, sizeof(wire));
    cr_assert_arr_eq(o->bytes, wire, sizeof(wire), "options are kept in wire form");
    pkt_script_free(s);
}

Test(pkt_parse, freebsd_any_sequence_number)
{
    struct pkt_script *s = parse("0 > S. ...(0) ack 65537 win 65535 <mss 1460>\n");
    const struct pkt_packet *p = packet_of(s, 0);
    cr_assert(p->seq_any && p->len == 0 && p->ack == 65537);
    pkt_script_free(s);
}

/* ---- system calls ---- */

Test(pkt_parse, syscall_arguments_and_results)
{
    struct pkt_script *s = parse(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n"
        "+0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)\n"
        "+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0\n"
        "+0 read(4, ..., 4) = -1 ECONNRESET (Connection Reset by Peer)\n"
        "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
        "+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLIN}], 1, 0) = 1\n"
        "+0 setsockopt(3, SOL_TCP, TCP_CONGESTION, \"cubic\", 5) = 0\n"
        "+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}, "
        "16) = 0\n"
        "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n"
        "+0 accept(3, ..., ...) = -1 EWOULDBLOCK (operation would block)\n"
        "+0 getpid() = ...\n");
    const struct pkt_syscall *c = call_of(s, 0);
    cr_assert_str_eq(c->name, "socket");
    cr_assert_eq(c->nargs, 3);
    cr_assert_eq(c->args[0]->kind, PKT_EXPR_ELLIPSIS);
    cr_assert(c->args[1]->kind == PKT_EXPR_SYMBOL && !strcmp(c->args[1]->name, "SOCK_STREAM"));
    cr_assert(c->ret->kind == PKT_EXPR_INT && c->ret->num == 3);
    cr_assert(!c->errno_name && !c->note);

    c = call_of(s, 1);
    cr_assert_eq(c->args[2]->kind, PKT_EXPR_OR);
    cr_assert_str_eq(c->args[2]->left->name, "O_RDWR");
    cr_assert_str_eq(c->args[2]->right->name, "O_NONBLOCK");

    c = call_of(s, 2);
    cr_assert(c->ret->num == 2 && !c->errno_name);
    cr_assert_str_eq(c->note, "flags O_RDWR");

    c = call_of(s, 3);
    cr_assert(c->args[3]->kind == PKT_EXPR_LIST && c->args[3]->nitems == 1);
    cr_assert_eq(c->args[3]->items[0]->num, 65536);

    c = call_of(s, 4);
    cr_assert_eq(c->ret->num, -1);
    cr_assert_str_eq(c->errno_name, "ECONNRESET");
    cr_assert_str_eq(c->note, "Connection Reset by Peer");

    c = call_of(s, 5);
    const struct pkt_expr *st = c->args[3];
    cr_assert(st->kind == PKT_EXPR_STRUCT && st->nitems == 2);
    cr_assert(st->items[0]->kind == PKT_EXPR_FIELD && !strcmp(st->items[0]->name, "onoff"));
    cr_assert_eq(st->items[1]->left->num, 0);

    c = call_of(s, 6);
    const struct pkt_expr *pfd = c->args[0]->items[0];
    cr_assert(pfd->kind == PKT_EXPR_STRUCT && pfd->nitems == 3);
    cr_assert_str_eq(pfd->items[1]->name, "events");
    cr_assert_eq(pfd->items[1]->left->kind, PKT_EXPR_OR);

    c = call_of(s, 7);
    cr_assert(c->args[3]->kind == PKT_EXPR_STRING && c->args[3]->name_len == 5);
    cr_assert_str_eq(c->args[3]->name, "cubic");

    c = call_of(s, 8);
    const struct pkt_expr *port = c->args[1]->items[1]->left;
    cr_assert(port->kind == PKT_EXPR_CALL && !strcmp(port->name, "htons") && port->nitems == 1);
    cr_assert_eq(port->items[0]->num, 8080);

    c = call_of(s, 9);
    cr_assert_str_eq(c->args[3]->items[0]->name, "ECONNREFUSED");

    c = call_of(s, 11);
    cr_assert(c->nargs == 0 && c->ret->kind == PKT_EXPR_ELLIPSIS);
    pkt_script_free(s);
}

Test(pkt_parse, expression_evaluation)
{
    struct pkt_script *s = parse("0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK, 7, -5, NO_SUCH, [1]) = 0");
    const struct pkt_syscall *c = call_of(s, 0);
    int64_t v;
    char err[128];
    cr_assert_eq(pkt_expr_int(c->args[2], &v, err, sizeof(err)), 0);
    cr_assert_eq(v, O_RDWR | O_NONBLOCK);
    cr_assert_eq(pkt_expr_int(c->args[3], &v, err, sizeof(err)), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(pkt_expr_int(c->args[4], &v, err, sizeof(err)), 0);
    cr_assert_eq(v, -5);
    cr_assert_eq(pkt_expr_int(c->args[5], &v, err, sizeof(err)), -1);
    cr_assert(strstr(err, "unknown symbol NO_SUCH"), "%s", err);
    cr_assert_eq(pkt_expr_int(c->args[6], &v, err, sizeof(err)), -1);
    cr_assert_eq(pkt_symbol_value("EWOULDBLOCK", &v), 0);
    cr_assert_eq(v, EAGAIN);
    cr_assert_eq(pkt_symbol_value("SIOCINQ", &v), 0);
    cr_assert_eq(pkt_symbol_value("TCP_NOOPT", &v), -1, "FreeBSD-only names are unknown");
    pkt_script_free(s);
}

Test(pkt_parse, buffer_size_queries)
{
    struct pkt_script *s = parse("0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0\n"
                                 "+0 getsockopt(4, SOL_SOCKET, SO_SNDBUF, [42000], [4]) = 0\n"
                                 "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n"
                                 "+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [1000], 4) = 0\n"
                                 "+0 getsockopt(3) = 0\n");
    cr_assert(pkt_syscall_reads_buffer_size(call_of(s, 0)));
    cr_assert(pkt_syscall_reads_buffer_size(call_of(s, 1)));
    cr_assert_not(pkt_syscall_reads_buffer_size(call_of(s, 2)));
    cr_assert_not(pkt_syscall_reads_buffer_size(call_of(s, 3)), "setting is compared");
    cr_assert_not(pkt_syscall_reads_buffer_size(call_of(s, 4)));
    pkt_script_free(s);
}

/* ---- shell commands and code ---- */

Test(pkt_parse, untimed_commands_and_code_blocks)
{
    struct pkt_script *s = parse("--tolerance_usecs=10000\n"
                                 "`sysctl -q net.ipv4.tcp_sack=0`\n"
                                 "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                 "+0 `sysctl -w net.inet.tcp.insecure_rst=1\nsockstat -4`\n"
                                 "+0 %{ assert tcpi_state == TCPI_FIN_WAIT_1 }%\n"
                                 "+0 %{\nprint(tcpi_rto)\n}%\n"
                                 "`/tmp/cleanup.sh`\n");
    cr_assert_not_null(s->init);
    cr_assert_eq(s->init->pos.line, 2);
    cr_assert_eq(s->init->shell.nsettings, 1);
    cr_assert_eq(s->init->shell.settings[0].setting, PKT_SET_SACK);
    cr_assert_eq(s->init->shell.settings[0].value, 0);
    cr_assert_eq(s->nevents, 4);
    const struct pkt_shell *sh = &s->events[1].u.shell;
    cr_assert_eq(s->events[1].kind, PKT_EV_SHELL);
    cr_assert_str_eq(sh->command, "sysctl -w net.inet.tcp.insecure_rst=1\nsockstat -4");
    cr_assert(sh->nsettings == 1 && sh->settings[0].setting == PKT_SET_INSECURE_RST);
    cr_assert(sh->nignored == 1 && !strcmp(sh->ignored[0], "sockstat -4"));
    cr_assert_eq(s->events[2].kind, PKT_EV_CODE);
    cr_assert_str_eq(s->events[2].u.code.tcpi_state, "FIN_WAIT_1");
    cr_assert_null(s->events[3].u.code.tcpi_state);
    cr_assert_not_null(s->cleanup);
    cr_assert_str_eq(s->cleanup->shell.command, "/tmp/cleanup.sh");
    pkt_script_free(s);
}

/* ---- #ifdef and macros ---- */

Test(pkt_parse, ifdef_takes_the_standard_branch)
{
    const char *text = "0 close(3) = 0\n"
                       "#ifdef STANDARD\n"
                       "+0 close(4) = 0\n"
                       "#endif\n"
                       "#ifdef FreeBSD\n"
                       "+0 > S. ...(0) ack 65537 this is never parsed %$#\n"
                       "#ifdef STANDARD\n"
                       "nested, skipped too\n"
                       "#endif\n"
                       "#else\n"
                       "+0 close(5) = 0\n"
                       "#endif\n"
                       "  #ifndef FreeBSD // indented, with a comment\n"
                       "+0 close(6) = 0\n"
                       "#else\n"
                       "+0 close(7) = 0\n"
                       "#endif\n";
    struct pkt_script *s = parse(text);
    cr_assert_eq(s->nevents, 4);
    cr_assert_eq(call_of(s, 1)->args[0]->num, 4);
    cr_assert_eq(call_of(s, 2)->args[0]->num, 5);
    cr_assert_eq(call_of(s, 3)->args[0]->num, 6);
    pkt_script_free(s);

    /* -D FreeBSD -U STANDARD gives the other branches. */
    struct pkt_define d = {"FreeBSD", ""};
    struct pkt_parse_opts opts = {&d, 1, NULL, true};
    const char *text2 = "#ifdef STANDARD\n0 close(4) = 0\n#endif\n"
                        "#ifdef FreeBSD\n0 close(9) = 0\n#else\n0 close(5) = 0\n#endif\n";
    s = parse_with(text2, &opts);
    cr_assert_eq(s->nevents, 1);
    cr_assert_eq(call_of(s, 0)->args[0]->num, 9);
    pkt_script_free(s);
}

Test(pkt_parse, macros_from_definitions)
{
    struct pkt_define d[] = {
        {"MSS", "1460"},
        {"SYN_OPTS", "mss MSS,nop,wscale 7"},
        {"LOOP", "LOOP"},
        {"EMPTY", ""},
    };
    struct pkt_parse_opts opts = {d, 4, NULL, false};
    struct pkt_script *s = parse_with("0 > S 0:0(0) <SYN_OPTS> EMPTY\n"
                                      "+0 close(LOOP) = 0\n",
                                      &opts);
    char buf[128];
    cr_assert_str_eq(pkt_opts_format(buf, sizeof(buf), &packet_of(s, 0)->opts),
                     "mss 1460,nop,wscale 7");
    cr_assert_str_eq(call_of(s, 1)->args[0]->name, "LOOP", "a macro does not expand itself");
    cr_assert_eq(call_of(s, 1)->args[0]->pos.col, 10, "macro tokens report the use site");
    pkt_script_free(s);

    struct pkt_define parsed;
    char arg[] = "NAME=a=b";
    cr_assert_eq(pkt_define_parse(arg, &parsed), 0);
    cr_assert_str_eq(parsed.name, "NAME");
    cr_assert_str_eq(parsed.value, "a=b");
    char bad[] = "1X=2";
    cr_assert_eq(pkt_define_parse(bad, &parsed), -1);
}

/* ---- errors, with their positions ---- */

Test(pkt_parse, errors_say_where)
{
    parse_fails("0 > SX 0:0(0)\n", 1, 6, "bad TCP flag 'X'");
    parse_fails("0 > SS 0:0(0)\n", 1, 6, "given twice");
    parse_fails("0 > S 1:10(5)\n", 1, 7, "is 9 bytes, not 5");
    parse_fails("0 < S 0:0(0)\n", 1, 7, "needs a window");
    parse_fails("0 < S 0:0(0) win 1 <...>\n", 1, 7, "cannot have '<...>'");
    parse_fails("0 > S 0:0(0) win 70000\n", 1, 18, "out of range");
    parse_fails("0 > S 0:0(0) <mss 1460,foo 3>\n", 1, 24, "unknown TCP option 'foo'");
    parse_fails("0 > S 0:0(0) <TS val 1 ecr 2,TS val 1 ecr 2,TS val 1 ecr 2,TS val 1 ecr 2,"
                "TS val 1 ecr 2>\n",
                1, 75, "do not fit");
    parse_fails("0 > S 0:0(0) <mss 1460 nop>\n", 1, 24, "',' or '>'");
    parse_fails("0 > S 0:0(0) <TS 1 ecr 2>\n", 1, 18, "'val' after TS");
    parse_fails("0 close(3)\n+0 close(4) = 0\n", 2, 1, "'=' and the expected result");
    parse_fails("0 close(3 = 0\n", 1, 11, "',' or ')'");
    parse_fails("0.1234567 close(3) = 0\n", 1, 1, "six decimals");
    parse_fails("0 close(3) = 0\n--mtu=9000\n", 2, 1, "before the first event");
    parse_fails("--mtu=abc\n", 1, 1, "--mtu needs a number");
    parse_fails("--ip_version=ipv5\n", 1, 1, "--ip_version");
    parse_fails("0 close(3) = 0\n  `date\n", 2, 3, "unterminated backquoted command");
    parse_fails("0 %{ print(1)\n", 1, 3, "unterminated %{ code block");
    parse_fails("0 write(3, \"abc, 3) = 3\n", 1, 12, "unterminated string");
    parse_fails("/* never closed\n0 close(3) = 0\n", 1, 1, "unterminated /* comment");
    parse_fails("0 close(3) = 0\n#endif\n", 2, 1, "#endif without #ifdef");
    parse_fails("0 close(3) = 0\n#ifdef STANDARD\n+0 close(4) = 0\n", 2, 1, "without #endif");
    parse_fails("#ifdef NOPE\n0 close(3) = 0\n", 1, 1, "without #endif");
    parse_fails("#ifdef STANDARD\n#else\n#else\n#endif\n", 3, 1, "#else after #else");
    parse_fails("#if 1\n#endif\n", 1, 1, "unknown directive '#if'");
    parse_fails("#ifdef\n#endif\n", 1, 1, "needs a name");
    parse_fails("0 close(3) = 0 # not a comment\n", 1, 16, "unexpected character '#'");
    parse_fails("0 close($) = 0\n", 1, 9, "unexpected character '$'");
    parse_fails("0 close(3) = 0\n`a`\n+0 close(3) = 0\n", 2, 1, "without a time");
    parse_fails("0 frobnicate\n", 2, 1, "'(' after the system call name");
    parse_fails("0 ! close(3) = 0\n", 1, 3, "unexpected character '!'");
    parse_fails("close(3) = 0\n", 1, 1, "expected an event time");
    parse_fails("0 close(3) = 0\n+ close(4) = 0\n", 2, 3, "expected an event time");
    parse_fails("0 write(3, \"\\q\", 1) = 1\n", 1, 13, "unknown escape");
}

Test(pkt_parse, nul_bytes_are_errors)
{
    static const char text[] = "0 close(3) = 0\n+0 `a\0b`\n";
    struct pkt_script *s;
    struct pkt_error err;
    cr_assert_eq(pkt_parse_buffer("t", text, sizeof(text) - 1, NULL, &s, &err), -1);
    cr_assert(err.pos.line == 2 && err.pos.col == 6, "%u:%u", err.pos.line, err.pos.col);
    cr_assert_str_eq(err.msg, "NUL byte in the script");
}

Test(pkt_parse, macros_feed_raw_reads)
{
    struct pkt_define d[] = {{"IN", "<"}, {"OUT", "> S."}, {"RET", "= -1 EPIPE"}};
    struct pkt_parse_opts opts = {d, 3, NULL, false};
    struct pkt_script *s = parse_with("0 IN S 0:0(0) win 1\n"
                                      "+0 OUT 0:0(0) ack 1\n"
                                      "+0 write(3, ..., 1) RET (Broken pipe)\n",
                                      &opts);
    cr_assert_eq(packet_of(s, 0)->flags, PKT_SYN);
    cr_assert_eq(packet_of(s, 1)->flags, PKT_SYN | PKT_ACK);
    cr_assert_str_eq(call_of(s, 2)->note, "Broken pipe");
    pkt_script_free(s);
}

Test(pkt_parse, deep_nesting_is_an_error_not_a_crash)
{
    char text[4096] = "0 f(";
    for (int i = 0; i < 200; i++) strcat(text, "[");
    struct pkt_script *s;
    struct pkt_error err;
    cr_assert_eq(pkt_parse_buffer("t", text, strlen(text), NULL, &s, &err), -1);
    cr_assert(strstr(err.msg, "nested too deeply"), "%s", err.msg);
}

Test(pkt_parse, missing_file)
{
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    cr_assert_eq(pkt_parse_file("/nonexistent/x.pkt", NULL, &s, &err), -1);
    cr_assert_str_eq(pkt_error_format(&err, msg, sizeof(msg)),
                     "/nonexistent/x.pkt: No such file or directory");
}

/* ---- printing ---- */

static char *print_script(const struct pkt_script *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pkt_script_print(f, s);
    fclose(f);
    return buf;
}

/* Parse, print, parse the print, print again: both prints are equal.
 * `base_dir` is where the first parse read sourced shell files from. */
static void assert_round_trip(const struct pkt_script *s, const char *base_dir)
{
    char *first = print_script(s);
    struct pkt_script *again;
    struct pkt_error err;
    char msg[600];
    struct pkt_parse_opts opts = {NULL, 0, base_dir, false};
    int r = pkt_parse_buffer("printed", first, strlen(first), &opts, &again, &err);
    cr_assert_eq(r, 0, "%s: the printed script does not parse: %s\n%s", s->path,
                 pkt_error_format(&err, msg, sizeof(msg)), first);
    char *second = print_script(again);
    cr_assert_str_eq(first, second, "%s does not print canonically", s->path);
    cr_assert_eq(again->nevents, s->nevents);
    free(first);
    free(second);
    pkt_script_free(again);
}

Test(pkt_parse, printing_is_canonical)
{
    struct pkt_script *s =
        parse("--tolerance_usecs=100\n"
              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
              "+.35~+2.35 > S. 0:0(0) ack 1 <mss 1460,sackOK,eol,eol>\n"
              "0.5...1.5 write(3, \"a\\\"b\\x01\", -1) = -1 EPIPE (Broken (pipe))\n"
              "* < F. 1:1(0) ack 2 win 257 urg 1 <nop,nop,sack 1:2 3:4>\n");
    char *text = print_script(s);
    cr_assert_str_eq(
        text, "--tolerance_usecs=100\n"
              "0.000000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
              "+0.350000~+2.350000 > S. 0:0(0) ack 1 <mss 1460,sackOK,eol,eol>\n"
              "0.500000...1.500000 write(3, \"a\\\"b\\x01\", -1) = -1 EPIPE (Broken (pipe))\n"
              "* < F. 1:1(0) ack 2 win 257 urg 1 <nop,nop,sack 1:2 3:4>\n");
    free(text);
    assert_round_trip(s, NULL);
    pkt_script_free(s);
}

/* ---- the public scripts ---- */

static unsigned shared_parsed, shared_failed;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t n = strlen(path);
    if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".pkt") != 0) return 0;
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    if (pkt_parse_file(path, NULL, &s, &err) < 0) {
        cr_log_error("%s", pkt_error_format(&err, msg, sizeof(msg)));
        shared_failed++;
        return 0;
    }
    shared_parsed++;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
    assert_round_trip(s, dir);
    pkt_script_free(s);
    return 0;
}

Test(pkt_parse, every_shared_script_parses)
{
    const char *dir = USTACK_SHARED_DIR "/packetdrill";
    struct stat st;
    if (stat(dir, &st) != 0) cr_skip_test("%s not found", dir);
    cr_assert_eq(nftw(dir, visit, 16, FTW_PHYS), 0);
    printf("pkt_parse: %u shared packetdrill scripts parse, %u fail\n", shared_parsed,
           shared_failed);
    cr_assert_eq(shared_failed, 0, "%u of %u scripts do not parse", shared_failed,
                 shared_parsed + shared_failed);
    cr_assert_gt(shared_parsed, 0);
}
