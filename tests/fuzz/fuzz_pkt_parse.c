/*
 * fuzz_pkt_parse: arbitrary text into the packetdrill script parser.
 *
 * No input may crash, leak or read out of bounds. Beyond that, whatever
 * parses must hold together:
 *   - printing the script and parsing the print (without definitions: the
 *     print is fully expanded) gives a script that prints the same;
 *   - every packet turns into a frame that parses back to the same fields;
 *   - every outbound packet, sent as written, matches itself in both modes;
 *   - expressions evaluate or fail cleanly, times resolve.
 * A few -D definitions (including self-referencing ones) exercise macros and
 * #ifdef. Files are never read (no base directory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt/frame.h"
#include "pkt/map.h"
#include "pkt/match.h"
#include "pkt/pkt.h"

static const struct pkt_define defines[] = {
    {"MSS", "1460"}, {"OPTS", "mss MSS,nop,wscale 7"}, {"A", "A B"}, {"B", "A"}, {"FreeBSD", ""},
    {"IN", "<"},
};

static char *print(const struct pkt_script *s, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) abort();
    pkt_script_print(f, s);
    fclose(f);
    return buf;
}

static void check_round_trip(const struct pkt_script *s)
{
    size_t len1, len2;
    char *first = print(s, &len1);
    struct pkt_script *again;
    if (pkt_parse_buffer("printed", first, len1, NULL, &again, NULL) < 0) abort();
    char *second = print(again, &len2);
    if (len1 != len2 || memcmp(first, second, len1) != 0) abort();
    if (again->nevents != s->nevents) abort();
    free(first);
    free(second);
    pkt_script_free(again);
}

static void check_packet(const struct pkt_packet *p)
{
    static uint8_t frame[PKT_FRAME_MAX];
    struct pkt_addrs a;
    pkt_addrs_default(&a);
    struct pkt_seg s, back;
    pkt_seg_from_packet(&s, p, &a);
    char err[128];
    int n = pkt_frame_build(frame, sizeof(frame), &s, a.remote_mac, a.local_mac, 1);
    if (n < 0) return; /* too big for one IPv4 packet: the runner reports it */
    if (pkt_frame_parse(frame, (size_t)n, &back, err, sizeof(err)) != PKT_FRAME_TCP) abort();
    if (back.seq != s.seq || back.ack != s.ack || back.flags != s.flags || back.win != s.win ||
        back.len != s.len || back.opts.len < s.opts.len ||
        memcmp(back.opts.bytes, s.opts.bytes, s.opts.len) != 0)
        abort();

    if (p->dir != PKT_OUTBOUND) {
        struct pkt_map m;
        pkt_map_init(&m);
        pkt_map_inbound(&m, p, &s);
        return;
    }
    /* Sent exactly as written (padding aside), a packet matches itself. */
    static const struct pkt_match_cfg cfgs[2] = {{PKT_MODE_STRICT, 1000, 4000},
                                                 {PKT_MODE_PORTABLE, 0, 4000}};
    for (int i = 0; i < 2; i++) {
        struct pkt_map m;
        struct pkt_match match;
        pkt_map_init(&m);
        pkt_match_start(&match, p);
        if (pkt_match_segment(&match, &m, &cfgs[i], &s) != PKT_VERDICT_MATCH) abort();
        char report[2048];
        pkt_report_mismatch(report, sizeof(report), "f", NULL, &match, &cfgs[i]);
        pkt_report_missing(report, sizeof(report), "f", NULL, &match, 0, &cfgs[i]);
    }
}

static void check_events(const struct pkt_script *s)
{
    int64_t prev = 0;
    for (uint32_t i = 0; i < s->nevents; i++) {
        const struct pkt_event *ev = &s->events[i];
        struct pkt_when w = pkt_time_resolve(&ev->time, prev);
        if (!w.any) prev = w.start;
        if (ev->kind == PKT_EV_PACKET) check_packet(&ev->u.packet);
        if (ev->kind != PKT_EV_SYSCALL) continue;
        char err[128];
        int64_t v;
        for (uint32_t k = 0; k < ev->u.call.nargs; k++)
            pkt_expr_int(ev->u.call.args[k], &v, err, sizeof(err));
        pkt_expr_int(ev->u.call.ret, &v, err, sizeof(err));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so reads past `size` are caught by ASan. */
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    memcpy(text, data, size);
    struct pkt_parse_opts opts = {defines, sizeof(defines) / sizeof(defines[0]), NULL, false};
    struct pkt_script *s;
    struct pkt_error err;
    if (pkt_parse_buffer("fuzz.pkt", text, size, &opts, &s, &err) == 0) {
        check_round_trip(s);
        check_events(s);
        pkt_script_free(s);
    } else {
        char msg[600];
        pkt_error_format(&err, msg, sizeof(msg));
        if (!err.msg[0]) abort(); /* every failure says why */
    }
    free(text);
    return 0;
}
