/*
 * match.h: does what the stack sent match the script's `>` line?
 *
 * Two modes. Strict is packetdrill's: every field the script gives is
 * compared exactly, options byte for byte in order, except TS val, which is
 * compared only when the script sets packetdrill's --tcp_ts_tick_usecs (the
 * stack's TS clock rate; without it a script cannot know what the stack's
 * clock reads). Portable is defined by
 * shared/packetdrill/README.md, for scripts written for another system:
 *   - options compared as a set of kinds; nop/eol padding and order ignored;
 *     the MSS value compared; the wscale value and TS val/ecr not compared;
 *     SACK blocks compared;
 *   - windows compared only as zero or non-zero;
 *   - PSH ignored;
 *   - ack_seq ignored when the script's packet has no ACK flag.
 * In both modes a field the script leaves out (`win`, `ack`, options with
 * `<...>`, seq with `...`) is not compared. A script packet without options
 * expects none.
 *
 * Aggregation (both modes). A script may expect in one line what the stack
 * sends in several segments (`> P. 1:10001(10000)` met by ten 1000-byte
 * segments: packetdrill's Linux scripts assume TSO, ustack has none). The
 * rule, precisely: an expected packet E with payload length L > 0 is met by
 * consecutive outbound segments A1..An when
 *   - A1.seq = E.seq and each next Ai.seq = A(i-1).seq + A(i-1).len,
 *   - every Ai.len > 0 and A1.len + ... + An.len = L exactly (a segment that
 *     would go past E's end is a mismatch, not split),
 *   - A1..A(n-1) carry E's flags without FIN and with or without PSH (the
 *     last segment of a burst takes PSH), An carries E's flags exactly (PSH
 *     still ignored in portable mode),
 *   - every Ai matches E's ack, window, urgent pointer and options.
 * pkt_match_segment() says PARTIAL after A1..A(n-1) and MATCH after An.
 * "Consecutive" is the executor's part: it must not run another script event
 * while a match is PARTIAL (that is a failure: pkt_report_missing()),
 * and each Ai must arrive within E's time window. A segment with no payload
 * never continues an aggregate. An expected packet with L = 0 is met by
 * exactly one segment.
 */
#ifndef USTACK_TOOLS_PKT_MATCH_H
#define USTACK_TOOLS_PKT_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt/frame.h"
#include "pkt/map.h"
#include "pkt/pkt.h"

enum pkt_mode { PKT_MODE_STRICT, PKT_MODE_PORTABLE };
/* "strict", "portable". */
const char *pkt_mode_name(enum pkt_mode m);
/* Parses "strict" or "portable"; 0 or -1. */
int pkt_mode_parse(const char *s, enum pkt_mode *out);

struct pkt_match_cfg {
    enum pkt_mode mode;
    /* The script's --tcp_ts_tick_usecs: the stack's TS clock in
     * microseconds per tick. 0: TS val is not compared (packetdrill's
     * default). Otherwise a TS val may differ from the script's (in script
     * space) by tolerance_usecs / ts_tick_usecs ticks, rounded up. Only in
     * strict mode. */
    uint32_t ts_tick_usecs;
    int64_t tolerance_usecs;
};

enum pkt_verdict {
    PKT_VERDICT_MATCH,    /* the expected packet is complete */
    PKT_VERDICT_PARTIAL,  /* a correct first part; more segments must follow */
    PKT_VERDICT_MISMATCH, /* see pkt_match.diffs and .why */
};

/* What differed, as bits of pkt_match.diffs. */
enum {
    PKT_DIFF_FLAGS = 1 << 0,
    PKT_DIFF_SEQ = 1 << 1,
    PKT_DIFF_ACK = 1 << 2,
    PKT_DIFF_LEN = 1 << 3,
    PKT_DIFF_WIN = 1 << 4,
    PKT_DIFF_URG = 1 << 5,
    PKT_DIFF_OPTIONS = 1 << 6, /* kinds, count, order or padding */
    PKT_DIFF_MSS = 1 << 7,
    PKT_DIFF_WSCALE = 1 << 8,
    PKT_DIFF_SACK = 1 << 9,
    PKT_DIFF_TS_VAL = 1 << 10,
    PKT_DIFF_TS_ECR = 1 << 11,
};

/* The matching of one expected packet, segment after segment. */
struct pkt_match {
    const struct pkt_packet *expected;
    uint32_t consumed; /* payload bytes matched so far */
    uint32_t pieces;   /* segments matched so far */
    uint32_t next_seq; /* script-space seq the next piece must have */
    /* The last segment offered. */
    enum pkt_verdict verdict;
    unsigned diffs;        /* PKT_DIFF_* */
    char why[512];         /* "bad outbound TCP window: expected 65535, actual 64240" */
    struct pkt_seg actual; /* in script space */
    struct pkt_seg sent;   /* as the stack sent it */
};

/* Starts matching `expected` (an outbound packet; kept by pointer). */
void pkt_match_start(struct pkt_match *m, const struct pkt_packet *expected);
/* Offers one segment the stack sent (as parsed, the stack's space). Learns
 * offsets into `map` (map.h) and compares in script space. */
enum pkt_verdict pkt_match_segment(struct pkt_match *m, struct pkt_map *map,
                                   const struct pkt_match_cfg *cfg, const struct pkt_seg *sent);
/* Payload bytes still expected (0 when complete). */
uint32_t pkt_match_remaining(const struct pkt_match *m);

/* ---- reports, in packetdrill's spirit ----
 * Each writes a few lines into buf (truncated to cap) and returns buf:
 *   FILE:LINE: error: WHAT (MODE mode)
 *   script packet:  > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>
 *   actual packet:  > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,wscale 7,...>
 *   expected: IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [S.], seq 0, ack 1, win 65535, ...
 *   actual:   IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [S.], seq 0, ack 1, win 64240, ...
 * Packet lines are in script space (relative seq), tcpdump-style lines too.
 * `ev` is the script event; `path` the script's name. */

/* After pkt_match_segment() said MISMATCH. */
char *pkt_report_mismatch(char *buf, size_t cap, const char *path, const struct pkt_event *ev,
                          const struct pkt_match *m, const struct pkt_match_cfg *cfg);
/* The expected packet (or the rest of an aggregate) was not sent by
 * `deadline` (microseconds from the script start). */
char *pkt_report_missing(char *buf, size_t cap, const char *path, const struct pkt_event *ev,
                         const struct pkt_match *m, int64_t deadline,
                         const struct pkt_match_cfg *cfg);

/* One segment tcpdump-style (us_trace_format), in script space when `map`
 * is given, else as is. */
char *pkt_seg_format_tcpdump(char *buf, size_t cap, const struct pkt_seg *s,
                             const struct pkt_map *map);

#endif
