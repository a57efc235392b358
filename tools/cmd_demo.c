/*
 * cmd_demo.c: `ustack demo`: a TCP conversation from the first SYN to the
 * end of TIME-WAIT, between two stacks on the in-memory wire (no root, no
 * TAP), shown as it happens and written to files.
 *
 * The client connects to an upper-casing echo server, sends "hello", reads
 * "HELLO" and closes; the server reads the end of the stream and closes;
 * TIME-WAIT runs out. The terminal shows each segment as tcpdump prints it
 * with each side's state changes beside it, the sequence diagram, and a
 * summary computed from what happened (never from what should have). The
 * wire capture goes to demo.pcap and the diagram to demo.svg. Fault options
 * make the wire lossy, so retransmissions show.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "diagram/render.h"
#include "scenario/claim.h"
#include "scenario/show.h"
#include "scenario/stage.h"

#define ECHO_PORT        7 /* RFC 862 */
#define DEFAULT_DELAY_MS 5

static void help(void)
{
    printf("Usage: ustack demo [OPTIONS]\n\n"
           "Two ustack stacks in this process, a client (10.0.0.1) and an upper-casing echo\n"
           "server (10.0.0.2:%d), talk over an in-memory wire under virtual time: the client\n"
           "connects, sends \"hello\", reads \"HELLO\" and closes; the server closes; TIME-WAIT\n"
           "runs out. Every TCP segment is printed as tcpdump prints it, with each side's\n"
           "state changes beside it, then the sequence diagram and a summary. Needs no root.\n\n"
           "Options:\n"
           "  --seed N       seed of the stacks and the wire: ISNs, ports, which frames the\n"
           "                 faults hit (1)\n"
           "  --delay MS     one-way delay of the wire in milliseconds (%d)\n"
           "  --loss P       percentage of frames lost, in each direction (0)\n"
           "  --dup P        percentage of frames delivered twice (0)\n"
           "  --reorder P    percentage of frames given an extra random delay (0)\n"
           "  --corrupt P    percentage of frames with one bit flipped (0)\n"
           "  --pcap FILE    write the wire capture to FILE (demo.pcap)\n"
           "  --svg FILE     write the sequence diagram to FILE (demo.svg)\n"
           "  --no-color     no colours (default: colour on a terminal unless NO_COLOR is set)\n"
           "\nA lossy wire shows retransmissions: ustack demo --loss 30 --seed 2 (each seed\n"
           "loses different frames).\n",
           ECHO_PORT, DEFAULT_DELAY_MS);
}

/* What the conversation achieved, for the summary. */
struct outcome {
    bool connected, echoed, server_saw_eof, closed;
    char reply[16];
    const char *failed_call; /* the call that failed, or NULL */
    int failed_errno;
    uint16_t client_port;
};

static bool step_ok(struct stage *sg, struct outcome *o, long rc, const char *call)
{
    if (rc >= 0) return true;
    if (!o->failed_call) {
        o->failed_call = call;
        o->failed_errno = sg->err;
    }
    return false;
}

/* The conversation, as the textbook tells it. Stops at the first call that
 * fails (a very lossy wire can make connect() time out). */
static void converse(struct stage *sg, struct outcome *o)
{
    int l = act_listen(sg, SERVER, ECHO_PORT, 16, false);
    if (!step_ok(sg, o, l, "listen()")) return;
    int c = act_socket(sg, CLIENT, false);
    if (!step_ok(sg, o, c, "socket()")) return;
    if (!step_ok(sg, o, act_connect(sg, CLIENT, c, SERVER, ECHO_PORT), "connect()")) return;
    o->connected = true;
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    if (us_getsockname(sg->stack[CLIENT], c, (struct sockaddr *)&me, &len) == 0)
        o->client_port = ntohs(me.sin_port);
    /* The client sends at once, as a client program does, without waiting
     * for the server to accept: if the handshake's final ACK was lost, this
     * segment completes the handshake on the server's side. */
    if (!step_ok(sg, o, act_send(sg, CLIENT, c, "hello", 5), "the client's send()")) return;
    int s = act_accept(sg, SERVER, l);
    if (!step_ok(sg, o, s, "accept()")) return;

    char buf[16];
    ssize_t n = act_recv(sg, SERVER, s, buf, 5, MSG_WAITALL);
    if (!step_ok(sg, o, n, "the server's recv()")) return;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 'a' + 'A');
    if (!step_ok(sg, o, act_send(sg, SERVER, s, buf, (size_t)n), "the server's send()")) return;

    n = act_recv(sg, CLIENT, c, o->reply, 5, MSG_WAITALL);
    if (!step_ok(sg, o, n, "the client's recv()")) return;
    o->echoed = n == 5 && memcmp(o->reply, "HELLO", 5) == 0;
    if (!step_ok(sg, o, act_close(sg, CLIENT, c), "the client's close()")) return;
    n = act_recv(sg, SERVER, s, buf, sizeof(buf) - 1, 0);
    if (!step_ok(sg, o, n, "the server's recv() of the end of the stream")) return;
    o->server_saw_eof = n == 0;
    if (!step_ok(sg, o, act_close(sg, SERVER, s), "the server's close()")) return;
    o->closed = true;
}

/* Runs the world until both ends of the connection are CLOSED (TIME-WAIT
 * has run out) or nothing is left to happen. The listener stays. */
static void run_until_closed(struct stage *sg, uint16_t client_port)
{
    const us_time_t limit = stage_now(sg) + US_SEC(3600);
    for (;;) {
        bool open = false;
        for (int who = CLIENT; who <= SERVER; who++) {
            enum us_tcp_state last = US_TCP_CLOSED;
            for (size_t i = 0; i < sg->n_ev; i++) {
                const struct stage_event *e = &sg->ev[i];
                if (e->kind == SEV_STATE && e->actor == who &&
                    (e->lport == client_port || e->rport == client_port))
                    last = e->to;
            }
            if (last != US_TCP_CLOSED) open = true;
        }
        if (!open || stage_now(sg) >= limit || !us_wire_step(sg->w, limit)) break;
    }
    stage_settle(sg);
}

/* Counts from the record, per side. */
struct tally {
    unsigned segments, retransmitted, lost, duplicated, corrupted, other_frames;
};

static void count(const struct stage *sg, struct tally t[2])
{
    memset(t, 0, 2 * sizeof(*t));
    for (size_t i = 0; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind != SEV_FRAME || (e->actor != CLIENT && e->actor != SERVER)) continue;
        struct tally *x = &t[e->actor];
        if (!e->tcp) {
            x->other_frames++;
            continue;
        }
        x->segments++;
        if (e->retransmit) x->retransmitted++;
        if (e->fate == FATE_LOST) x->lost++;
        if (e->fate == FATE_CORRUPTED) x->corrupted++;
        if (e->duplicated) x->duplicated++;
    }
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void print_faults(const struct us_faults *f, FILE *out)
{
    fprintf(out, "one-way delay %llu ms", (unsigned long long)(f->delay / 1000));
    if (f->loss) fprintf(out, ", %g%% loss", f->loss);
    if (f->dup) fprintf(out, ", %g%% duplication", f->dup);
    if (f->reorder) fprintf(out, ", %g%% reordering", f->reorder);
    if (f->corrupt) fprintf(out, ", %g%% corruption", f->corrupt);
}

/* The one-screen summary, every line from the record or the counters. */
static void summary(struct stage *sg, const struct outcome *o, const struct us_faults *f,
                    uint64_t seed, const uint64_t ctr[2][US_C__COUNT], const char *pcap,
                    const char *svg, double real_ms, bool color, FILE *out)
{
    const char *b = color ? "\033[1m" : "", *r = color ? "\033[0m" : "";
    char buf[512], d[32];
    fprintf(out, "\n%sSummary%s\n", b, r);

    /* What happened, in one sentence built from the record. */
    char what[600];
    size_t n = 0;
    if (o->connected) {
        long syn = stage_find_segment(sg, CLIENT, TF_SYN, 0);
        us_time_t est = stage_state_time(sg, CLIENT, US_TCP_ESTABLISHED);
        unsigned syns = stage_count_segments(sg, CLIENT, TF_SYN, false);
        n += (size_t)snprintf(what + n, sizeof(what) - n,
                              "the client connected (three-way handshake: %s%s)",
                              syn >= 0 ? secs_str(est - sg->ev[syn].time, d, sizeof(d)) : "?",
                              syns > 1 ? ", its SYN sent more than once" : "");
        if (o->echoed)
            n += (size_t)snprintf(what + n, sizeof(what) - n, ", sent \"hello\", read back \"%s\"",
                                  o->reply);
        int first = -1;
        for (size_t i = 0; i < sg->n_ev && first < 0; i++)
            if (sg->ev[i].kind == SEV_STATE && sg->ev[i].to == US_TCP_FIN_WAIT_1)
                first = sg->ev[i].actor;
        if (first == CLIENT) n += (size_t)snprintf(what + n, sizeof(what) - n, " and closed first");
        if (o->server_saw_eof)
            n += (size_t)snprintf(what + n, sizeof(what) - n,
                                  "; the server read the end of the stream and closed too");
    } else {
        n += (size_t)snprintf(what + n, sizeof(what) - n, "the client never connected");
    }
    if (o->failed_call && n < sizeof(what))
        n +=
            (size_t)snprintf(what + n, sizeof(what) - n, "; %s failed with %s (%s)", o->failed_call,
                             errno_name(o->failed_errno), strerror(o->failed_errno));
    if (n < sizeof(what)) snprintf(what + n, sizeof(what) - n, ".");
    show_wrap_label(out, "  what happened", what, 18, 90);

    fprintf(out, "  %-15s %s\n", "client states",
            stage_states(sg, CLIENT, o->client_port, buf, sizeof(buf)));
    if (o->client_port)
        fprintf(out, "  %-15s %s\n", "server states",
                stage_states(sg, SERVER, o->client_port, buf, sizeof(buf)));

    /* TIME-WAIT, measured: RFC 9293 §3.10.7.4 restarts the 2 MSL wait each
     * time a retransmitted FIN arrives, so it ends 2 MSL after the last FIN
     * that reached the side in TIME-WAIT. */
    for (int who = CLIENT; who <= SERVER; who++) {
        us_time_t in = US_TIME_NEVER, left = US_TIME_NEVER, last_fin = US_TIME_NEVER;
        for (size_t i = 0; i < sg->n_ev; i++) {
            const struct stage_event *e = &sg->ev[i];
            if (e->kind == SEV_STATE && e->actor == who && e->to == US_TCP_TIME_WAIT) in = e->time;
            if (e->kind == SEV_STATE && e->actor == who && e->from == US_TCP_TIME_WAIT)
                left = e->time;
            if (e->kind == SEV_FRAME && e->tcp && e->actor == 1 - who && (e->flags & TF_FIN) &&
                e->arrived != US_TIME_NEVER && e->arrived <= left)
                last_fin = e->arrived;
        }
        if (in == US_TIME_NEVER) continue;
        us_time_t msl = us_stack_tcp_config(sg->stack[who])->msl;
        if (left == US_TIME_NEVER) {
            fprintf(out, "  %-15s the %s was still in TIME-WAIT when the demo stopped\n",
                    "TIME-WAIT", actor_name(who));
            continue;
        }
        fprintf(out, "  %-15s the %s held the connection %s", "TIME-WAIT", actor_name(who),
                secs_str(left - in, buf, sizeof(buf)));
        if (left - in == 2 * msl)
            fprintf(out, " (2 MSL, MSL = %s)\n", secs_str(msl, d, sizeof(d)));
        else if (last_fin != US_TIME_NEVER && left - last_fin == 2 * msl)
            fprintf(out, ":\n  %-15s 2 MSL (MSL = %s) after the last FIN, which was resent\n", "",
                    secs_str(msl, d, sizeof(d)));
        else
            fprintf(out, "\n");
    }

    /* Counters that matter: what every run has, then whatever trouble this
     * run had (a row of zeros says nothing). */
    struct tally t[2];
    count(sg, t);
    fprintf(out, "\n  %-34s %8s %8s\n", "", "client", "server");
    static const struct {
        const char *label;
        size_t off;
        bool always;
    } rows[] = {
        {"TCP segments sent", offsetof(struct tally, segments), true},
        {"  retransmissions", offsetof(struct tally, retransmitted), true},
        {"  lost on the wire", offsetof(struct tally, lost), true},
        {"  duplicated by the wire", offsetof(struct tally, duplicated), false},
        {"  corrupted by the wire", offsetof(struct tally, corrupted), false},
        {"other frames (ARP)", offsetof(struct tally, other_frames), true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned a = *(const unsigned *)((const char *)&t[0] + rows[i].off);
        unsigned z = *(const unsigned *)((const char *)&t[1] + rows[i].off);
        if (rows[i].always || a || z) fprintf(out, "  %-34s %8u %8u\n", rows[i].label, a, z);
    }
    static const enum us_counter shown[] = {US_C_tcp_rto_expired, US_C_tcp_fast_retransmits,
                                            US_C_tcp_dup_segments, US_C_drop_tcp_bad_csum,
                                            US_C_tcp_delayed_acks};
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        uint64_t a = ctr[0][shown[i]], z = ctr[1][shown[i]];
        if (a || z)
            fprintf(out, "  %-34s %8llu %8llu\n", us_counter_name(shown[i]), (unsigned long long)a,
                    (unsigned long long)z);
    }

    fprintf(out, "\n  %-15s ", "the wire");
    print_faults(f, out);
    fprintf(out, ", seed %llu\n", (unsigned long long)seed);
    fprintf(out, "  %-15s %s of virtual time in %.1f ms of real time\n", "time",
            secs_str(stage_now(sg), buf, sizeof(buf)), real_ms);
    int fw = (int)strlen(pcap) + 2;
    if (svg && (int)strlen(svg) + 2 > fw) fw = (int)strlen(svg) + 2;
    fprintf(out, "  %-15s %-*sthe capture: tcpdump -nr %s  (or open it in Wireshark)\n", "files",
            fw, pcap, pcap);
    if (svg)
        fprintf(out, "  %-15s %-*sthe sequence diagram: open it in a web browser\n", "", fw, svg);
    fprintf(out, "  %-15s ustack demo --loss 30 --seed 2 (retransmissions); ustack scenario list\n",
            "next");
}

enum {
    OPT_SEED = 1,
    OPT_DELAY,
    OPT_LOSS,
    OPT_DUP,
    OPT_REORDER,
    OPT_CORRUPT,
    OPT_PCAP,
    OPT_SVG,
    OPT_NO_COLOR
};

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},
        {"seed", required_argument, 0, OPT_SEED},
        {"delay", required_argument, 0, OPT_DELAY},
        {"loss", required_argument, 0, OPT_LOSS},
        {"dup", required_argument, 0, OPT_DUP},
        {"reorder", required_argument, 0, OPT_REORDER},
        {"corrupt", required_argument, 0, OPT_CORRUPT},
        {"pcap", required_argument, 0, OPT_PCAP},
        {"svg", required_argument, 0, OPT_SVG},
        {"no-color", no_argument, 0, OPT_NO_COLOR},
        {0, 0, 0, 0},
    };
    struct stage_opts so = {.seed = 1, .faults.delay = US_MSEC(DEFAULT_DELAY_MS)};
    const char *pcap = "demo.pcap", *svg = "demo.svg";
    bool color = show_want_color();
    unsigned long long v;
    double pct;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case OPT_SEED:
            if (parse_uint(optarg, UINT64_MAX, &v) < 0)
                usage_error("bad --seed '%s': expected a number", optarg);
            so.seed = v;
            break;
        case OPT_DELAY:
            if (parse_uint(optarg, 10000, &v) < 0)
                usage_error("bad --delay '%s': expected milliseconds 0..10000", optarg);
            so.faults.delay = US_MSEC(v);
            break;
        case OPT_LOSS:
        case OPT_DUP:
        case OPT_REORDER:
        case OPT_CORRUPT:
            if (parse_percent(optarg, &pct) < 0)
                usage_error("bad --%s '%s': expected a percentage 0..100",
                            c == OPT_LOSS      ? "loss"
                            : c == OPT_DUP     ? "dup"
                            : c == OPT_REORDER ? "reorder"
                                               : "corrupt",
                            optarg);
            if (c == OPT_LOSS) so.faults.loss = pct;
            if (c == OPT_DUP) so.faults.dup = pct;
            if (c == OPT_REORDER) so.faults.reorder = pct;
            if (c == OPT_CORRUPT) so.faults.corrupt = pct;
            break;
        case OPT_PCAP:
            if (!*optarg) usage_error("--pcap needs a file name");
            pcap = optarg;
            break;
        case OPT_SVG:
            if (!*optarg) usage_error("--svg needs a file name");
            svg = optarg;
            break;
        case OPT_NO_COLOR:
            color = false;
            break;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) usage_error("unexpected argument '%s'", argv[optind]);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct stage sg;
    char err[512];
    so.pcap_path = pcap;
    if (stage_open(&sg, &so, err, sizeof(err)) < 0) fail("%s", err);
    struct outcome o = {0};
    converse(&sg, &o);
    run_until_closed(&sg, o.client_port);
    uint64_t ctr[2][US_C__COUNT];
    for (int who = CLIENT; who <= SERVER; who++)
        memcpy(ctr[who], us_stack_counters(sg.stack[who]), sizeof(ctr[who]));
    stage_finish(&sg);
    double real_ms = ms_since(&t0);

    const char *b = color ? "\033[1m" : "", *r = color ? "\033[0m" : "";
    printf("%sustack demo%s: a client talks to an upper-casing echo server\n", b, r);
    printf("The client (10.0.0.1) and the server (10.0.0.2, port %d) are two ustack stacks in\n"
           "this process, joined by an in-memory wire (",
           ECHO_PORT);
    print_faults(&so.faults, stdout);
    printf(").\nTime is virtual: the 60 s of TIME-WAIT take no time at all. Sequence numbers "
           "are\nrelative once both sides are known, as tcpdump prints them.\n\n");
    show_trace(&sg, stdout, (color ? SHOW_COLOR : 0) | SHOW_TCP_ONLY);

    if (sg.diagram) {
        printf("\n%sThe same conversation as a sequence diagram%s (numbers relative to each "
               "ISN):\n\n",
               b, r);
        diagram_render_ascii(sg.diagram, stdout, color ? DIAGRAM_COLOR : 0);
        FILE *f = fopen(svg, "w");
        int rc = f ? diagram_render_svg(sg.diagram, f, 0) : -errno;
        if (f && fclose(f) != 0 && rc == 0) rc = -EIO;
        if (rc < 0) {
            fprintf(stderr, "%s: cannot write %s: %s\n", prog_cmd, svg, strerror(-rc));
            svg = NULL;
        }
    } else {
        svg = NULL;
    }
    summary(&sg, &o, &so.faults, so.seed, ctr, pcap, svg, real_ms, color, stdout);
    fflush(stdout);
    stage_close(&sg);
    if (!o.closed || !o.echoed) {
        fprintf(stderr, "%s: the conversation did not complete%s%s%s\n", prog_cmd,
                o.failed_call ? ": " : "", o.failed_call ? o.failed_call : "",
                o.failed_call ? " failed" : "");
        return 1;
    }
    return svg ? 0 : 1;
}
