/* The matcher: every kind of mismatch, strict against portable mode,
 * aggregation of consecutive segments, and the reports. Each test states
 * what the script expects (`want`) and what the stack sends, both written
 * as script lines; the stack's ISN is ISN. */
#include <criterion/criterion.h>
#include <string.h>

#include "pkt/match.h"

#define ISN 1000000u

static struct pkt_map map;
static struct pkt_match m;
static struct pkt_packet want;
static const struct pkt_match_cfg strict = {PKT_MODE_STRICT, 0, 4000};
static const struct pkt_match_cfg portable = {PKT_MODE_PORTABLE, 0, 4000};

static struct pkt_packet pkt(const char *line)
{
    char text[512];
    snprintf(text, sizeof(text), "0 %s\n", line);
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    int r = pkt_parse_buffer("t.pkt", text, strlen(text), NULL, &s, &err);
    cr_assert_eq(r, 0, "%s", pkt_error_format(&err, msg, sizeof(msg)));
    struct pkt_packet p = s->events[0].u.packet;
    pkt_script_free(s);
    return p;
}

/* A `>` line as the stack sends it: seq shifted by its ISN, TS val by ts_off. */
static struct pkt_seg sends(const char *line, uint32_t ts_off)
{
    struct pkt_packet p = pkt(line);
    struct pkt_addrs a;
    pkt_addrs_default(&a);
    struct pkt_seg s;
    pkt_seg_from_packet(&s, &p, &a);
    if (!p.seq_any) s.seq += ISN;
    size_t off = 0;
    struct pkt_opt o;
    while (pkt_opts_next(&s.opts, &off, &o) == 1) {
        if (o.kind != PKT_OPT_TS) continue;
        uint32_t v = o.ts_val + ts_off;
        uint8_t *b = s.opts.bytes + o.off + 2;
        b[0] = (uint8_t)(v >> 24);
        b[1] = (uint8_t)(v >> 16);
        b[2] = (uint8_t)(v >> 8);
        b[3] = (uint8_t)v;
    }
    return s;
}

/* A connection whose ISN is known, expecting `line`. */
static void expect(const char *line)
{
    pkt_map_init(&map);
    map.have_local_isn = true;
    map.local_isn = ISN;
    want = pkt(line);
    pkt_match_start(&m, &want);
}

static enum pkt_verdict offer(const struct pkt_match_cfg *cfg, const char *line)
{
    struct pkt_seg s = sends(line, 0);
    return pkt_match_segment(&m, &map, cfg, &s);
}

/* `want` against `sent` in mode `cfg` differs in exactly `diffs`, and the
 * reason mentions `why`. */
static void differs(const struct pkt_match_cfg *cfg, const char *want_line, const char *sent,
                    unsigned diffs, const char *why)
{
    expect(want_line);
    cr_assert_eq(offer(cfg, sent), PKT_VERDICT_MISMATCH, "%s vs %s", want_line, sent);
    cr_assert_eq(m.diffs, diffs, "%s vs %s: diffs 0x%x, why: %s", want_line, sent, m.diffs, m.why);
    cr_assert(strstr(m.why, why), "'%s' does not say '%s'", m.why, why);
}

static void matches(const struct pkt_match_cfg *cfg, const char *want_line, const char *sent)
{
    expect(want_line);
    cr_assert_eq(offer(cfg, sent), PKT_VERDICT_MATCH, "%s vs %s (%s): %s", want_line, sent,
                 pkt_mode_name(cfg->mode), m.why);
}

Test(pkt_match, a_syn_ack_matches_and_teaches_the_isn)
{
    pkt_map_init(&map);
    want = pkt("> S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>");
    pkt_match_start(&m, &want);
    struct pkt_seg s = sends("> S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>", 0);
    cr_assert_eq(pkt_match_segment(&m, &map, &strict, &s), PKT_VERDICT_MATCH, "%s", m.why);
    cr_assert(map.have_local_isn && map.local_isn == ISN);
    cr_assert_eq(m.actual.seq, 0, "kept in script space");
    cr_assert_eq(m.sent.seq, ISN, "and as sent");
    cr_assert_eq(pkt_match_remaining(&m), 0);
}

Test(pkt_match, every_mismatch_in_strict_mode)
{
    differs(&strict, "> . 1:1(0) ack 1", "> R. 1:1(0) ack 1", PKT_DIFF_FLAGS,
            "flags: expected ., actual R.");
    differs(&strict, "> . 1:1(0) ack 1", "> . 2:2(0) ack 1", PKT_DIFF_SEQ,
            "seq: expected 1, actual 2 (absolute 1000002)");
    differs(&strict, "> . 1:1(0) ack 1", "> . 1:1(0) ack 5", PKT_DIFF_ACK,
            "ack: expected 1, actual 5");
    differs(&strict, "> P. 1:101(100) ack 1", "> P. 1:201(200) ack 1", PKT_DIFF_LEN,
            "payload: expected 100 bytes, actual 200");
    differs(&strict, "> . 1:1(0) ack 1 win 65535", "> . 1:1(0) ack 1 win 64240", PKT_DIFF_WIN,
            "window: expected 65535, actual 64240");
    differs(&strict, "> U. 1:1(0) ack 1 urg 1", "> U. 1:1(0) ack 1 urg 2", PKT_DIFF_URG,
            "urgent pointer: expected 1, actual 2");
    differs(&strict, "> S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>",
            "> S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 6>", PKT_DIFF_OPTIONS,
            "options: expected <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>, actual <mss "
            "1460,sackOK,TS val 100 ecr 0,nop,wscale 6>");
    differs(&strict, "> S 0:0(0) <mss 1460>", "> S 0:0(0) <mss 1000>", PKT_DIFF_MSS,
            "mss: expected 1460, actual 1000");
    differs(&strict, "> S 0:0(0) <nop,wscale 6>", "> S 0:0(0) <nop,wscale 7>", PKT_DIFF_WSCALE,
            "wscale: expected 6, actual 7");
    differs(&strict, "> . 1:1(0) ack 1 <nop,nop,sack 1:2>", "> . 1:1(0) ack 1 <nop,nop,sack 1:3>",
            PKT_DIFF_SACK, "SACK blocks: expected 1:2, actual 1:3");
    differs(&strict, "> . 1:1(0) ack 1 <nop,nop,TS val 1 ecr 2>",
            "> . 1:1(0) ack 1 <nop,nop,TS val 1 ecr 3>", PKT_DIFF_TS_ECR,
            "TS ecr: expected 2, actual 3");
    differs(&strict, "> . 1:1(0) ack 1", "> . 1:1(0) ack 1 <nop,nop,TS val 1 ecr 3>",
            PKT_DIFF_OPTIONS, "options: expected <>, actual <nop,nop,TS val 1 ecr 3>");
    differs(&strict, "> S 0:0(0) <mss 1460,eol>", "> S 0:0(0) <mss 1460>", PKT_DIFF_OPTIONS,
            "options");
    differs(&strict, "> F. 1:1(0) ack 1 win 100", "> R 2:2(0) ack 7 win 0",
            PKT_DIFF_FLAGS | PKT_DIFF_SEQ | PKT_DIFF_ACK | PKT_DIFF_WIN, "flags: expected F.");
}

Test(pkt_match, what_the_script_leaves_out_is_not_compared)
{
    matches(&strict, "> S. 0:0(0) ack 1 <...>",
            "> S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>");
    matches(&strict, "> . 1:1(0) ack 1", "> . 1:1(0) ack 1 win 1234");
    matches(&strict, "> R 1:1(0)", "> R 1:1(0) ack 99 win 0");
    matches(&strict, "> S. ...(0) ack 65537 win 65535", "> S. 777:777(0) ack 65537 win 65535");
}

Test(pkt_match, strict_compares_the_ack_field_even_without_the_flag)
{
    differs(&strict, "> R 1:1(0) ack 0 win 0", "> R 1:1(0) ack 5 win 0", PKT_DIFF_ACK,
            "ack: expected 0, actual 5");
    matches(&portable, "> R 1:1(0) ack 0 win 0", "> R 1:1(0) ack 5 win 0");
    differs(&portable, "> R. 1:1(0) ack 0 win 0", "> R. 1:1(0) ack 5 win 0", PKT_DIFF_ACK, "ack");
}

Test(pkt_match, portable_mode)
{
    /* A FreeBSD SYN-ACK line against a Linux-like SYN-ACK. */
    const char *freebsd = "> S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 "
                          "ecr 0>";
    const char *linuxish = "> S. 0:0(0) ack 1 win 64240 <mss 1460,sackOK,TS val 5555 ecr 0,nop,"
                           "wscale 7>";
    matches(&portable, freebsd, linuxish);
    differs(&strict, freebsd, linuxish, PKT_DIFF_WIN | PKT_DIFF_OPTIONS, "window");

    /* Windows as zero or non-zero. */
    differs(&portable, "> R. 1:1(0) ack 1 win 0", "> R. 1:1(0) ack 1 win 5", PKT_DIFF_WIN,
            "window: expected zero, actual 5");
    differs(&portable, "> . 1:1(0) ack 1 win 65535", "> . 1:1(0) ack 1 win 0", PKT_DIFF_WIN,
            "window: expected non-zero, actual 0");

    /* PSH ignored; every other flag compared. */
    matches(&portable, "> . 1:1001(1000) ack 1", "> P. 1:1001(1000) ack 1");
    differs(&strict, "> . 1:1001(1000) ack 1", "> P. 1:1001(1000) ack 1", PKT_DIFF_FLAGS, "flags");
    differs(&portable, "> F. 1:1(0) ack 1", "> . 1:1(0) ack 1", PKT_DIFF_FLAGS, "flags");

    /* Options: kinds as a set, MSS value and SACK blocks compared. */
    matches(&portable, "> S 0:0(0) <mss 1460,sackOK,eol,eol>", "> S 0:0(0) <sackOK,mss 1460>");
    differs(&portable, "> S 0:0(0) <mss 1460,sackOK,eol,eol>", "> S 0:0(0) <mss 1460>",
            PKT_DIFF_OPTIONS, "option kinds: expected {mss,sackOK}, actual {mss}");
    differs(&portable, "> S 0:0(0) <mss 1460,sackOK>", "> S 0:0(0) <sackOK,mss 1000>", PKT_DIFF_MSS,
            "mss: expected 1460, actual 1000");
    matches(&portable, "> . 1:1(0) ack 1 <nop,nop,TS val 1 ecr 2>",
            "> . 1:1(0) ack 1 <TS val 9 ecr 8,nop,nop>");
    differs(&portable, "> . 1:1(0) ack 1 <sack 1:2 5:6>", "> . 1:1(0) ack 1 <nop,nop,sack 1:2>",
            PKT_DIFF_SACK, "SACK blocks: expected 1:2 5:6, actual 1:2");
    differs(&portable, "> . 1:1(0) ack 1", "> . 1:1(0) ack 1 <nop,nop,TS val 9 ecr 8>",
            PKT_DIFF_OPTIONS, "option kinds: expected {}, actual {TS}");

    /* Everything else as in strict mode. */
    differs(&portable, "> . 1:1(0) ack 1", "> . 2:2(0) ack 1", PKT_DIFF_SEQ, "seq");
    differs(&portable, "> . 1:1(0) ack 1", "> . 1:1(0) ack 2", PKT_DIFF_ACK, "ack");
    differs(&portable, "> P. 1:11(10) ack 1", "> P. 1:12(11) ack 1", PKT_DIFF_LEN, "payload");
}

Test(pkt_match, ts_val_is_checked_with_a_tick)
{
    struct pkt_match_cfg ticked = {PKT_MODE_STRICT, 1000, 25000}; /* 25 ticks of slack */
    const char *syn = "> S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>";
    for (int k = 0; k < 3; k++) {
        pkt_map_init(&map);
        struct pkt_packet first = pkt(syn);
        pkt_match_start(&m, &first);
        struct pkt_seg s = sends(syn, 4242);
        cr_assert_eq(pkt_match_segment(&m, &map, &ticked, &s), PKT_VERDICT_MATCH, "%s", m.why);
        cr_assert_eq(pkt_map_ts_offset(&map), 4242);

        want = pkt("> S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 1100 ecr 0>");
        pkt_match_start(&m, &want);
        static const char *sent[3] = {
            "> S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 1125 ecr 0>",
            "> S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 1074 ecr 0>",
            "> S 0:0(0) <mss 1460,nop,wscale 6,sackOK,TS val 1075 ecr 0>",
        };
        s = sends(sent[k], 4242);
        enum pkt_verdict v = pkt_match_segment(&m, &map, &ticked, &s);
        if (k == 1) {
            cr_assert_eq(v, PKT_VERDICT_MISMATCH);
            cr_assert_eq(m.diffs, PKT_DIFF_TS_VAL);
            cr_assert(strstr(m.why, "TS val: expected 1100 (+-25 ticks), actual 1074"), "%s",
                      m.why);
        } else {
            cr_assert_eq(v, PKT_VERDICT_MATCH, "%s: %s", sent[k], m.why);
        }
        /* Without a tick, TS val is never compared. */
        pkt_match_start(&m, &want);
        s = sends(sent[1], 4242);
        cr_assert_eq(pkt_match_segment(&m, &map, &strict, &s), PKT_VERDICT_MATCH);
    }
}

/* ---- aggregation ---- */

Test(pkt_match, a_tso_sized_line_met_by_mss_sized_segments)
{
    expect("> P. 1:10001(10000) ack 1");
    for (uint32_t i = 0; i < 10; i++) {
        char line[128];
        snprintf(line, sizeof(line), "> %s %u:%u(1000) ack 1", i == 9 ? "P." : ".", 1 + 1000 * i,
                 1001 + 1000 * i);
        enum pkt_verdict v = offer(&strict, line);
        cr_assert_eq(v, i == 9 ? PKT_VERDICT_MATCH : PKT_VERDICT_PARTIAL, "%s: %s", line, m.why);
        cr_assert_eq(pkt_match_remaining(&m), 9000 - 1000 * i);
    }
    cr_assert_eq(m.pieces, 10);

    /* Uneven pieces, PSH on every one. */
    expect("> P. 1:2001(2000) ack 1");
    cr_assert_eq(offer(&strict, "> P. 1:1461(1460) ack 1"), PKT_VERDICT_PARTIAL, "%s", m.why);
    cr_assert_eq(offer(&strict, "> P. 1461:2001(540) ack 1"), PKT_VERDICT_MATCH, "%s", m.why);

    /* The FIN rides on the last piece. */
    expect("> FP. 13001:20001(7000) ack 1");
    cr_assert_eq(offer(&strict, "> . 13001:17001(4000) ack 1"), PKT_VERDICT_PARTIAL, "%s", m.why);
    cr_assert_eq(offer(&strict, "> FP. 17001:20001(3000) ack 1"), PKT_VERDICT_MATCH, "%s", m.why);
}

Test(pkt_match, aggregation_failures)
{
    expect("> P. 1:3001(3000) ack 1");
    cr_assert_eq(offer(&strict, "> . 1:1001(1000) ack 1"), PKT_VERDICT_PARTIAL);
    cr_assert_eq(offer(&strict, "> . 1002:2002(1000) ack 1"), PKT_VERDICT_MISMATCH);
    cr_assert_eq(m.diffs, PKT_DIFF_SEQ, "a gap: %s", m.why);
    cr_assert(strstr(m.why, "seq: expected 1001, actual 1002"), "%s", m.why);

    expect("> P. 1:10001(10000) ack 1");
    cr_assert_eq(offer(&strict, "> . 1:6001(6000) ack 1"), PKT_VERDICT_PARTIAL);
    cr_assert_eq(offer(&strict, "> P. 6001:12001(6000) ack 1"), PKT_VERDICT_MISMATCH);
    cr_assert_eq(m.diffs, PKT_DIFF_LEN, "past the end: %s", m.why);
    cr_assert(strstr(m.why, "expected 4000 more bytes, actual segment has 6000"), "%s", m.why);

    expect("> P. 1:2001(2000) ack 1");
    cr_assert_eq(offer(&strict, "> . 1:1001(1000) ack 1"), PKT_VERDICT_PARTIAL);
    cr_assert_eq(offer(&strict, "> . 1001:1001(0) ack 1"), PKT_VERDICT_MISMATCH,
                 "a pure ACK does not continue");
    cr_assert_eq(m.diffs, PKT_DIFF_LEN);

    expect("> FP. 1:2001(2000) ack 1");
    cr_assert_eq(offer(&strict, "> F. 1:1001(1000) ack 1"), PKT_VERDICT_MISMATCH);
    cr_assert_eq(m.diffs, PKT_DIFF_FLAGS, "FIN before the end: %s", m.why);

    expect("> P. 1:2001(2000) ack 1");
    cr_assert_eq(offer(&strict, "> . 1:1001(1000) ack 1"), PKT_VERDICT_PARTIAL);
    cr_assert_eq(offer(&strict, "> . 1001:2001(1000) ack 1"), PKT_VERDICT_MISMATCH);
    cr_assert_eq(m.diffs, PKT_DIFF_FLAGS, "strict: the last piece carries PSH");
    expect("> P. 1:2001(2000) ack 1");
    cr_assert_eq(offer(&portable, "> . 1:1001(1000) ack 1"), PKT_VERDICT_PARTIAL);
    cr_assert_eq(offer(&portable, "> . 1001:2001(1000) ack 1"), PKT_VERDICT_MATCH);

    expect("> P. 1:2001(2000) ack 1 win 100");
    cr_assert_eq(offer(&strict, "> . 1:1001(1000) ack 1 win 100"), PKT_VERDICT_PARTIAL);
    cr_assert_eq(offer(&strict, "> P. 1001:2001(1000) ack 2 win 99"), PKT_VERDICT_MISMATCH);
    cr_assert_eq(m.diffs, PKT_DIFF_ACK | PKT_DIFF_WIN, "every piece matches ack and window");

    expect("> . 1:1(0) ack 1");
    cr_assert_eq(offer(&strict, "> . 1:1001(1000) ack 1"), PKT_VERDICT_MISMATCH,
                 "no aggregation for an empty segment");
}

/* ---- reports ---- */

Test(pkt_match, mismatch_report)
{
    expect("> S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>");
    cr_assert_eq(offer(&strict, "> S. 0:0(0) ack 1 win 64240 <mss 1460,sackOK,eol,eol>"),
                 PKT_VERDICT_MISMATCH);
    struct pkt_event ev = {.pos = {7, 1}};
    char buf[2048];
    pkt_report_mismatch(buf, sizeof(buf), "x.pkt", &ev, &m, &strict);
    cr_assert_str_eq(
        buf, "x.pkt:7: error: outbound packet does not match (strict mode): window: expected "
             "65535, actual 64240\n"
             "  script packet:  > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>\n"
             "  actual packet:  > S. 0:0(0) ack 1 win 64240 <mss 1460,sackOK,eol,eol>\n"
             "  expected: IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [S.], seq 0, ack 1, win "
             "65535, options [mss 1460,sackOK,eol,eol], length 0\n"
             "  actual:   IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [S.], seq 0, ack 1, win "
             "64240, options [mss 1460,sackOK,eol,eol], length 0\n");
}

Test(pkt_match, mismatch_report_inside_an_aggregate)
{
    expect("> P. 1:3001(3000) ack 1 <...>");
    cr_assert_eq(offer(&portable, "> . 1:1001(1000) ack 1"), PKT_VERDICT_PARTIAL);
    cr_assert_eq(offer(&portable, "> R. 1001:1001(0) ack 1"), PKT_VERDICT_MISMATCH);
    char buf[2048];
    pkt_report_mismatch(buf, sizeof(buf), "x.pkt", NULL, &m, &portable);
    cr_assert(strstr(buf, "x.pkt: error: outbound packet does not match (portable mode): "
                          "payload: expected 2000 more bytes, actual segment has 0; flags: "
                          "expected ., actual R.\n"),
              "%s", buf);
    cr_assert(strstr(buf, "  after 1 segment carrying 1000 of the 3000 bytes expected\n"), "%s",
              buf);
    cr_assert(strstr(buf, "  expected: IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [P.], seq "
                          "1001:3001, ack 1, options [...], length 2000\n"),
              "%s", buf);
}

Test(pkt_match, missing_reports)
{
    expect("> P. 1:3001(3000) ack 1");
    struct pkt_event ev = {.pos = {12, 1}};
    char buf[2048];
    cr_assert_eq(offer(&strict, "> . 1:1001(1000) ack 1"), PKT_VERDICT_PARTIAL);
    pkt_report_missing(buf, sizeof(buf), "y.pkt", &ev, &m, 1250000, &strict);
    cr_assert_str_eq(buf, "y.pkt:12: error: only 1000 of 3000 bytes sent (in 1 segment) by "
                          "1.250000 (strict mode)\n"
                          "  script packet:  > P. 1:3001(3000) ack 1\n");
    expect("> F. 1:1(0) ack 1");
    pkt_report_missing(buf, sizeof(buf), "y.pkt", &ev, &m, 300, &strict);
    cr_assert_str_eq(buf, "y.pkt:12: error: expected outbound packet not sent by 0.000300 (strict "
                          "mode)\n"
                          "  script packet:  > F. 1:1(0) ack 1\n");
}

Test(pkt_match, modes_by_name)
{
    enum pkt_mode mode;
    cr_assert_eq(pkt_mode_parse("portable", &mode), 0);
    cr_assert_eq(mode, PKT_MODE_PORTABLE);
    cr_assert_eq(pkt_mode_parse("strict", &mode), 0);
    cr_assert_eq(mode, PKT_MODE_STRICT);
    cr_assert_eq(pkt_mode_parse("lenient", &mode), -1);
    cr_assert_str_eq(pkt_mode_name(PKT_MODE_PORTABLE), "portable");
}
