/*
 * match.c: comparing what the stack sent with the script's `>` lines, in
 * strict or portable mode, with aggregation of consecutive segments; and
 * the reports that say why a match failed. The rules are in match.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt/match.h"
#include "ustack/trace.h"

const char *pkt_mode_name(enum pkt_mode m)
{
    return m == PKT_MODE_PORTABLE ? "portable" : "strict";
}

int pkt_mode_parse(const char *s, enum pkt_mode *out)
{
    if (!strcmp(s, "strict"))
        *out = PKT_MODE_STRICT;
    else if (!strcmp(s, "portable"))
        *out = PKT_MODE_PORTABLE;
    else
        return -1;
    return 0;
}

/* ---- a bounded string builder ---- */

struct sb {
    char *buf;
    size_t cap, len;
};

static void sb_put(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_put(struct sb *b, const char *fmt, ...)
{
    if (b->cap == 0 || b->len >= b->cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

/* Appends one difference to m->why, "; "-separated. */
static void differ(struct pkt_match *m, unsigned bit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void differ(struct pkt_match *m, unsigned bit, const char *fmt, ...)
{
    m->diffs |= bit;
    size_t len = strlen(m->why);
    if (len + 3 >= sizeof(m->why)) return;
    if (len) {
        memcpy(m->why + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->why + len, sizeof(m->why) - len, fmt, ap);
    va_end(ap);
}

/* ---- options ---- */

static const char *kind_name(uint8_t kind, char *buf, size_t cap)
{
    switch (kind) {
    case PKT_OPT_MSS:
        return "mss";
    case PKT_OPT_WSCALE:
        return "wscale";
    case PKT_OPT_SACK_OK:
        return "sackOK";
    case PKT_OPT_SACK:
        return "sack";
    case PKT_OPT_TS:
        return "TS";
    default:
        snprintf(buf, cap, "kind-%u", kind);
        return buf;
    }
}

/* The option kinds present, nop and eol left out: a 256-bit set. */
struct kind_set {
    uint64_t bits[4];
};

static void kinds_of(const struct pkt_opts *o, struct kind_set *k)
{
    memset(k, 0, sizeof(*k));
    size_t off = 0;
    struct pkt_opt opt;
    while (pkt_opts_next(o, &off, &opt) == 1)
        if (opt.kind != PKT_OPT_NOP && opt.kind != PKT_OPT_EOL)
            k->bits[opt.kind / 64] |= 1ull << (opt.kind % 64);
}

static char *kinds_format(const struct kind_set *k, char *buf, size_t cap)
{
    struct sb b = {buf, cap, 0};
    char tmp[16];
    sb_put(&b, "{");
    bool first = true;
    for (unsigned i = 0; i < 256; i++) {
        if (!(k->bits[i / 64] & (1ull << (i % 64)))) continue;
        sb_put(&b, "%s%s", first ? "" : ",", kind_name((uint8_t)i, tmp, sizeof(tmp)));
        first = false;
    }
    sb_put(&b, "}");
    return buf;
}

static int find_opt(const struct pkt_opts *o, uint8_t kind, struct pkt_opt *out)
{
    size_t off = 0;
    while (pkt_opts_next(o, &off, out) == 1)
        if (out->kind == kind) return 1;
    return 0;
}

static char *sack_format(const struct pkt_opt *o, char *buf, size_t cap)
{
    struct sb b = {buf, cap, 0};
    if (cap) buf[0] = 0;
    for (int k = 0; k < o->nsack; k++)
        sb_put(&b, "%s%u:%u", k ? " " : "", o->sack[k].left, o->sack[k].right);
    if (o->nsack == 0) sb_put(&b, "none");
    return buf;
}

static void compare_sack(struct pkt_match *m, const struct pkt_opt *e, const struct pkt_opt *a)
{
    bool same = e->nsack == a->nsack;
    for (int k = 0; same && k < e->nsack; k++)
        same = e->sack[k].left == a->sack[k].left && e->sack[k].right == a->sack[k].right;
    if (same) return;
    char eb[96], ab[96];
    differ(m, PKT_DIFF_SACK, "SACK blocks: expected %s, actual %s", sack_format(e, eb, sizeof(eb)),
           sack_format(a, ab, sizeof(ab)));
}

static void compare_ts_val(struct pkt_match *m, const struct pkt_match_cfg *cfg,
                           const struct pkt_map *map, uint32_t e, uint32_t a)
{
    if (cfg->ts_tick_usecs == 0 || !map->have_ts) return;
    int64_t slack = (cfg->tolerance_usecs + cfg->ts_tick_usecs - 1) / cfg->ts_tick_usecs;
    int64_t d = (int32_t)(a - e);
    if (d >= -slack && d <= slack) return;
    differ(m, PKT_DIFF_TS_VAL, "TS val: expected %u (+-%lld ticks), actual %u", e, (long long)slack,
           a);
}

static bool known_kind(uint8_t kind)
{
    return kind == PKT_OPT_EOL || kind == PKT_OPT_NOP || kind == PKT_OPT_MSS ||
           kind == PKT_OPT_WSCALE || kind == PKT_OPT_SACK_OK || kind == PKT_OPT_SACK ||
           kind == PKT_OPT_TS;
}

/* The same kinds in the same order with the same lengths; kinds we do not
 * decode, byte for byte. */
static bool same_layout(const struct pkt_opts *eo, const struct pkt_opts *ao)
{
    size_t eoff = 0, aoff = 0;
    struct pkt_opt e, a;
    for (;;) {
        int er = pkt_opts_next(eo, &eoff, &e), ar = pkt_opts_next(ao, &aoff, &a);
        if (er != ar) return false;
        if (er != 1) return true;
        if (e.kind != a.kind || e.len != a.len) return false;
        if (!known_kind(e.kind) && memcmp(eo->bytes + e.off, ao->bytes + a.off, e.len) != 0)
            return false;
    }
}

/* packetdrill's rule: the same options in the same order, byte for byte,
 * TS val aside. */
static void compare_opts_strict(struct pkt_match *m, const struct pkt_match_cfg *cfg,
                                const struct pkt_map *map, const struct pkt_opts *eo,
                                const struct pkt_opts *ao)
{
    if (!same_layout(eo, ao)) {
        char eb[256], ab[256];
        differ(m, PKT_DIFF_OPTIONS, "options: expected <%s>, actual <%s>",
               pkt_opts_format(eb, sizeof(eb), eo), pkt_opts_format(ab, sizeof(ab), ao));
        return;
    }
    size_t eoff = 0, aoff = 0;
    struct pkt_opt e, a;
    while (pkt_opts_next(eo, &eoff, &e) == 1 && pkt_opts_next(ao, &aoff, &a) == 1) {
        switch (e.kind) {
        case PKT_OPT_MSS:
            if (e.mss != a.mss)
                differ(m, PKT_DIFF_MSS, "mss: expected %u, actual %u", e.mss, a.mss);
            break;
        case PKT_OPT_WSCALE:
            if (e.wscale != a.wscale)
                differ(m, PKT_DIFF_WSCALE, "wscale: expected %u, actual %u", e.wscale, a.wscale);
            break;
        case PKT_OPT_SACK:
            compare_sack(m, &e, &a);
            break;
        case PKT_OPT_TS:
            compare_ts_val(m, cfg, map, e.ts_val, a.ts_val);
            if (e.ts_ecr != a.ts_ecr)
                differ(m, PKT_DIFF_TS_ECR, "TS ecr: expected %u, actual %u", e.ts_ecr, a.ts_ecr);
            break;
        default:
            break; /* same_layout() compared the rest */
        }
    }
}

/* The README's rule: kinds as a set, MSS value and SACK blocks compared. */
static void compare_opts_portable(struct pkt_match *m, const struct pkt_opts *eo,
                                  const struct pkt_opts *ao)
{
    struct kind_set ek, ak;
    kinds_of(eo, &ek);
    kinds_of(ao, &ak);
    if (memcmp(&ek, &ak, sizeof(ek)) != 0) {
        char eb[128], ab[128];
        differ(m, PKT_DIFF_OPTIONS, "option kinds: expected %s, actual %s",
               kinds_format(&ek, eb, sizeof(eb)), kinds_format(&ak, ab, sizeof(ab)));
        return;
    }
    struct pkt_opt e, a;
    if (find_opt(eo, PKT_OPT_MSS, &e) && find_opt(ao, PKT_OPT_MSS, &a) && e.mss != a.mss)
        differ(m, PKT_DIFF_MSS, "mss: expected %u, actual %u", e.mss, a.mss);
    if (find_opt(eo, PKT_OPT_SACK, &e) && find_opt(ao, PKT_OPT_SACK, &a)) compare_sack(m, &e, &a);
}

/* ---- matching ---- */

void pkt_match_start(struct pkt_match *m, const struct pkt_packet *expected)
{
    memset(m, 0, sizeof(*m));
    m->expected = expected;
    m->next_seq = expected->seq;
}

uint32_t pkt_match_remaining(const struct pkt_match *m)
{
    return m->expected->len - m->consumed;
}

enum pkt_verdict pkt_match_segment(struct pkt_match *m, struct pkt_map *map,
                                   const struct pkt_match_cfg *cfg, const struct pkt_seg *sent)
{
    const struct pkt_packet *e = m->expected;
    bool strict = cfg->mode == PKT_MODE_STRICT;
    m->diffs = 0;
    m->why[0] = 0;
    m->sent = *sent;
    if (m->pieces == 0) pkt_map_learn(map, sent, e);
    m->actual = *sent;
    pkt_map_outbound(map, &m->actual);
    const struct pkt_seg *a = &m->actual;

    /* Length, and whether this is the last piece of the packet. */
    uint32_t remaining = e->len - m->consumed;
    bool last = a->len >= remaining;
    if (a->len > remaining || (a->len == 0 && remaining > 0)) {
        if (m->pieces == 0)
            differ(m, PKT_DIFF_LEN, "payload: expected %u bytes, actual %u", e->len, a->len);
        else
            differ(m, PKT_DIFF_LEN, "payload: expected %u more bytes, actual segment has %u",
                   remaining, a->len);
    }

    /* Flags: the pieces before the last have no FIN and any PSH. */
    uint8_t ef = e->flags, af = a->flags;
    if (!strict || !last) {
        ef &= (uint8_t)~PKT_PSH;
        af &= (uint8_t)~PKT_PSH;
    }
    if (!last) ef &= (uint8_t)~PKT_FIN;
    if (ef != af) {
        char eb[16], ab[16];
        differ(m, PKT_DIFF_FLAGS, "flags: expected %s, actual %s",
               pkt_flags_format(eb, sizeof(eb), ef), pkt_flags_format(ab, sizeof(ab), af));
    }

    bool check_seq = !(e->seq_any && m->pieces == 0);
    if (check_seq && a->seq != m->next_seq)
        differ(m, PKT_DIFF_SEQ, "seq: expected %u, actual %u (absolute %u)", m->next_seq, a->seq,
               sent->seq);

    if (e->has_ack && (strict || (e->flags & PKT_ACK)) && a->ack != e->ack)
        differ(m, PKT_DIFF_ACK, "ack: expected %u, actual %u", e->ack, a->ack);

    if (e->has_win) {
        if (strict && a->win != e->win)
            differ(m, PKT_DIFF_WIN, "window: expected %u, actual %u", e->win, a->win);
        if (!strict && (a->win == 0) != (e->win == 0))
            differ(m, PKT_DIFF_WIN, "window: expected %s, actual %u", e->win ? "non-zero" : "zero",
                   a->win);
    }

    if (e->has_urg && a->urg != e->urg)
        differ(m, PKT_DIFF_URG, "urgent pointer: expected %u, actual %u", e->urg, a->urg);

    if (!e->opts.any) {
        if (strict)
            compare_opts_strict(m, cfg, map, &e->opts, &a->opts);
        else
            compare_opts_portable(m, &e->opts, &a->opts);
    }

    if (m->diffs) {
        m->verdict = PKT_VERDICT_MISMATCH;
        return m->verdict;
    }
    m->consumed += a->len;
    m->pieces++;
    m->next_seq = a->seq + a->len;
    m->verdict = m->consumed == e->len ? PKT_VERDICT_MATCH : PKT_VERDICT_PARTIAL;
    return m->verdict;
}

/* ---- formatting ---- */

static void put_ip(struct sb *b, uint32_t ip)
{
    sb_put(b, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

/* Options the way tcpdump (and us_trace_format) prints them. */
static void put_opts_tcpdump(struct sb *b, const struct pkt_opts *o)
{
    sb_put(b, ", options [");
    if (o->any) {
        sb_put(b, "...]");
        return;
    }
    size_t off = 0;
    struct pkt_opt opt;
    bool first = true;
    while (pkt_opts_next(o, &off, &opt) == 1) {
        if (!first) sb_put(b, ",");
        first = false;
        switch (opt.kind) {
        case PKT_OPT_EOL:
            sb_put(b, "eol");
            break;
        case PKT_OPT_NOP:
            sb_put(b, "nop");
            break;
        case PKT_OPT_MSS:
            sb_put(b, "mss %u", opt.mss);
            break;
        case PKT_OPT_WSCALE:
            sb_put(b, "wscale %u", opt.wscale);
            break;
        case PKT_OPT_SACK_OK:
            sb_put(b, "sackOK");
            break;
        case PKT_OPT_SACK:
            sb_put(b, "sack %d ", opt.nsack);
            for (int k = 0; k < opt.nsack; k++)
                sb_put(b, "{%u:%u}", opt.sack[k].left, opt.sack[k].right);
            break;
        case PKT_OPT_TS:
            sb_put(b, "TS val %u ecr %u", opt.ts_val, opt.ts_ecr);
            break;
        default:
            sb_put(b, "unknown-%u", opt.kind);
            break;
        }
    }
    sb_put(b, "]");
}

/* The expected packet in tcpdump's form, as us_trace_format() would print
 * the segment, except that what the script leaves open stays open (no
 * window when it gives none, "options [...]"), and an ack the script gives
 * without the ACK flag is shown. Addresses come from `addr`. */
static char *expected_tcpdump(char *buf, size_t cap, const struct pkt_packet *e, uint32_t seq,
                              uint32_t len, const struct pkt_seg *addr)
{
    struct sb b = {buf, cap, 0};
    if (cap) buf[0] = 0;
    static const char fl[] = "FSRP.UEW"; /* tcpdump's order: bit 0 first */
    char fs[9];
    int n = 0;
    for (int i = 0; i < 8; i++)
        if (e->flags & (1 << i)) fs[n++] = fl[i];
    fs[n] = 0;
    sb_put(&b, "IP ");
    put_ip(&b, addr->src_ip);
    sb_put(&b, ".%u > ", addr->src_port);
    put_ip(&b, addr->dst_ip);
    sb_put(&b, ".%u: Flags [%s]", addr->dst_port, n ? fs : "none");
    if (len > 0 || (e->flags & (PKT_FIN | PKT_SYN | PKT_RST))) {
        if (e->seq_any)
            sb_put(&b, ", seq *");
        else
            sb_put(&b, ", seq %u", seq);
        if (len > 0 && !e->seq_any) sb_put(&b, ":%u", seq + len);
    }
    if (e->has_ack) sb_put(&b, ", ack %u", e->ack);
    if (e->has_win) sb_put(&b, ", win %u", e->win);
    if (e->has_urg) sb_put(&b, ", urg %u", e->urg);
    if (e->opts.any || e->opts.len) put_opts_tcpdump(&b, &e->opts);
    sb_put(&b, ", length %u", len);
    return buf;
}

char *pkt_seg_format_tcpdump(char *buf, size_t cap, const struct pkt_seg *s,
                             const struct pkt_map *map)
{
    struct pkt_seg copy = *s;
    if (map) pkt_map_outbound(map, &copy);
    static const uint8_t mac[6] = {0};
    uint8_t *frame = malloc(PKT_FRAME_MAX);
    int n = frame ? pkt_frame_build(frame, PKT_FRAME_MAX, &copy, mac, mac, 0) : -1;
    if (n < 0)
        snprintf(buf, cap, "(cannot format segment)");
    else
        us_trace_format(buf, cap, frame, (size_t)n, NULL);
    free(frame);
    return buf;
}

/* The segment as a script line would write it. */
static char *actual_packet(char *buf, size_t cap, const struct pkt_seg *a, bool show_ack)
{
    struct pkt_packet p;
    memset(&p, 0, sizeof(p));
    p.dir = PKT_OUTBOUND;
    p.flags = a->flags;
    p.seq = a->seq;
    p.len = a->len;
    p.has_ack = show_ack || (a->flags & PKT_ACK);
    p.ack = a->ack;
    p.has_win = true;
    p.win = a->win;
    p.has_urg = (a->flags & PKT_URG) != 0;
    p.urg = a->urg;
    p.opts = a->opts;
    p.opts.any = false;
    return pkt_packet_format(buf, cap, &p);
}

static void put_where(struct sb *b, const char *path, const struct pkt_event *ev)
{
    if (ev)
        sb_put(b, "%s:%u: ", path, ev->pos.line);
    else
        sb_put(b, "%s: ", path);
}

char *pkt_report_mismatch(char *buf, size_t cap, const char *path, const struct pkt_event *ev,
                          const struct pkt_match *m, const struct pkt_match_cfg *cfg)
{
    struct sb b = {buf, cap, 0};
    char line[1024];
    const struct pkt_packet *e = m->expected;
    if (cap) buf[0] = 0;
    put_where(&b, path, ev);
    sb_put(&b, "error: outbound packet does not match (%s mode): %s\n", pkt_mode_name(cfg->mode),
           m->why);
    if (m->pieces)
        sb_put(&b, "  after %u segment%s carrying %u of the %u bytes expected\n", m->pieces,
               m->pieces == 1 ? "" : "s", m->consumed, e->len);
    sb_put(&b, "  script packet:  %s\n", pkt_packet_format(line, sizeof(line), e));
    sb_put(&b, "  actual packet:  %s\n", actual_packet(line, sizeof(line), &m->actual, e->has_ack));
    sb_put(&b, "  expected: %s\n",
           expected_tcpdump(line, sizeof(line), e, m->next_seq, e->len - m->consumed, &m->actual));
    sb_put(&b, "  actual:   %s\n", pkt_seg_format_tcpdump(line, sizeof(line), &m->actual, NULL));
    return buf;
}

char *pkt_report_missing(char *buf, size_t cap, const char *path, const struct pkt_event *ev,
                         const struct pkt_match *m, int64_t deadline,
                         const struct pkt_match_cfg *cfg)
{
    struct sb b = {buf, cap, 0};
    char line[1024];
    const struct pkt_packet *e = m->expected;
    if (cap) buf[0] = 0;
    put_where(&b, path, ev);
    sb_put(&b, "error: ");
    if (m->pieces)
        sb_put(&b, "only %u of %u bytes sent (in %u segment%s)", m->consumed, e->len, m->pieces,
               m->pieces == 1 ? "" : "s");
    else
        sb_put(&b, "expected outbound packet not sent");
    sb_put(&b, " by %lld.%06lld (%s mode)\n", (long long)(deadline / 1000000),
           (long long)(deadline % 1000000), pkt_mode_name(cfg->mode));
    sb_put(&b, "  script packet:  %s\n", pkt_packet_format(line, sizeof(line), e));
    return buf;
}
