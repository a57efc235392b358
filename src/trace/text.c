/*
 * text.c: one line per frame, the way `tcpdump -n` prints it.
 *
 * Relative sequence numbers follow tcpdump's own rule (print-tcp.c): a
 * connection's bases are set by its first segment carrying ACK (and reset by
 * any SYN with ACK); that segment prints absolute numbers, later ones print
 * numbers relative to the bases. A SYN without ACK always prints absolute.
 * Keeping the same rule means our trace and `tcpdump -r` agree line by line.
 * The formatter reads frames defensively: anything short prints as truncated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ustack/socket.h"
#include "ustack/trace.h"

struct buf {
    char *p;
    size_t cap, len;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    if (b->len >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = min_size(b->cap - 1, b->len + (size_t)n);
}

static void put_ip(struct buf *b, uint32_t a)
{
    put(b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

/* ---- relative sequence numbers (tcpdump's tcp_seq_hash) ---- */

struct seqent {
    struct seqent *next;
    uint32_t a1, a2;      /* canonical order: (a1,p1) <= (a2,p2) */
    uint16_t p1, p2;
    uint32_t seq, ack;    /* bases for the canonical direction */
};

#define SEQREL_BUCKETS 256

struct us_seqrel {
    struct seqent *b[SEQREL_BUCKETS];
};

struct us_seqrel *us_seqrel_new(void) { return calloc(1, sizeof(struct us_seqrel)); }

void us_seqrel_free(struct us_seqrel *r)
{
    if (!r) return;
    for (unsigned i = 0; i < SEQREL_BUCKETS; i++)
        while (r->b[i]) {
            struct seqent *e = r->b[i];
            r->b[i] = e->next;
            free(e);
        }
    free(r);
}

static void relativise(struct us_seqrel *r, uint32_t src, uint16_t sport, uint32_t dst,
                       uint16_t dport, uint8_t flags, uint32_t *seq, uint32_t *ack)
{
    if (!r || !(flags & 0x10)) return;
    bool rev = src > dst || (src == dst && sport > dport);
    uint32_t a1 = rev ? dst : src, a2 = rev ? src : dst;
    uint16_t p1 = rev ? dport : sport, p2 = rev ? sport : dport;
    unsigned h = (p1 ^ p2 ^ a1 ^ a2) % SEQREL_BUCKETS;
    struct seqent *e = r->b[h];
    while (e && !(e->a1 == a1 && e->a2 == a2 && e->p1 == p1 && e->p2 == p2)) e = e->next;
    if (!e || (flags & 0x02)) {
        if (!e) {
            e = calloc(1, sizeof(*e));
            if (!e) return;
            e->a1 = a1, e->a2 = a2, e->p1 = p1, e->p2 = p2;
            e->next = r->b[h];
            r->b[h] = e;
        }
        if (rev) {
            e->ack = *seq;
            e->seq = *ack - 1;
        } else {
            e->seq = *seq;
            e->ack = *ack - 1;
        }
        return; /* the segment that sets the bases prints absolute numbers */
    }
    if (rev) {
        *seq -= e->ack;
        *ack -= e->seq;
    } else {
        *seq -= e->seq;
        *ack -= e->ack;
    }
}

/* ---- protocols ---- */

static void fmt_arp(struct buf *b, const uint8_t *a, size_t len)
{
    if (len < 28 || rd16(a) != 1 || rd16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4) {
        put(b, "ARP, truncated or unknown format, length %zu", len);
        return;
    }
    uint16_t op = rd16(a + 6);
    const uint8_t *sha = a + 8, *tha = a + 18;
    uint32_t spa = rd32(a + 14), tpa = rd32(a + 24);
    if (op == 1) {
        put(b, "ARP, Request who-has ");
        put_ip(b, tpa);
        static const uint8_t zero[6];
        if (memcmp(tha, zero, 6) != 0)
            put(b, " (%02x:%02x:%02x:%02x:%02x:%02x)", tha[0], tha[1], tha[2], tha[3], tha[4],
                tha[5]);
        put(b, " tell ");
        put_ip(b, spa);
    } else if (op == 2) {
        put(b, "ARP, Reply ");
        put_ip(b, spa);
        put(b, " is-at %02x:%02x:%02x:%02x:%02x:%02x", sha[0], sha[1], sha[2], sha[3], sha[4],
            sha[5]);
    } else {
        put(b, "ARP, op %u", op);
    }
    put(b, ", length %zu", len);
}

static void fmt_tcp_options(struct buf *b, const uint8_t *o, size_t len, uint32_t sack_base)
{
    put(b, ", options [");
    size_t i = 0;
    bool first = true;
    while (i < len) {
        if (!first) put(b, ",");
        first = false;
        uint8_t kind = o[i];
        if (kind == 0) {
            put(b, "eol");
            i++;
            continue;
        }
        if (kind == 1) {
            put(b, "nop");
            i++;
            continue;
        }
        if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len) {
            put(b, "bad opt");
            break;
        }
        uint8_t olen = o[i + 1];
        const uint8_t *v = o + i + 2;
        if (kind == 2 && olen == 4) {
            put(b, "mss %u", rd16(v));
        } else if (kind == 3 && olen == 3) {
            put(b, "wscale %u", v[0]);
        } else if (kind == 4 && olen == 2) {
            put(b, "sackOK");
        } else if (kind == 5 && (olen - 2) % 8 == 0) {
            put(b, "sack %d ", (olen - 2) / 8);
            for (int k = 0; k < (olen - 2) / 8; k++)
                put(b, "{%u:%u}", rd32(v + 8 * k) - sack_base, rd32(v + 8 * k + 4) - sack_base);
        } else if (kind == 8 && olen == 10) {
            put(b, "TS val %u ecr %u", rd32(v), rd32(v + 4));
        } else {
            put(b, "unknown-%u", kind);
            for (int k = 0; k < olen - 2; k++) put(b, "%s%02x", k ? "" : " 0x", v[k]);
        }
        i += olen;
    }
    put(b, "]");
}

static void fmt_tcp(struct buf *b, uint32_t src, uint32_t dst, const uint8_t *t, size_t len,
                    struct us_seqrel *rel)
{
    if (len < 20) {
        put(b, "IP ");
        put_ip(b, src);
        put(b, " > ");
        put_ip(b, dst);
        put(b, ": tcp truncated");
        return;
    }
    uint16_t sport = rd16(t), dport = rd16(t + 2);
    uint32_t seq = rd32(t + 4), ack = rd32(t + 8);
    size_t off = (size_t)(t[12] >> 4) * 4;
    uint8_t flags = t[13];
    uint16_t win = rd16(t + 14), urp = rd16(t + 18);
    put(b, "IP ");
    put_ip(b, src);
    put(b, ".%u > ", sport);
    put_ip(b, dst);
    put(b, ".%u: ", dport);
    if (off < 20 || off > len) {
        put(b, "tcp bad header length %zu", off);
        return;
    }
    size_t dlen = len - off;
    uint32_t abs_ack = ack;
    relativise(rel, src, sport, dst, dport, flags, &seq, &ack);
    uint32_t sack_base = abs_ack - ack; /* sack blocks are relative like ack */

    static const char fl[] = "FSRP.UEW";
    char fs[9];
    int n = 0;
    for (int i = 0; i < 8; i++)
        if (flags & (1 << i)) fs[n++] = fl[i];
    fs[n] = 0;
    put(b, "Flags [%s]", n ? fs : "none");
    if (dlen > 0 || (flags & 0x07)) {
        put(b, ", seq %u", seq);
        if (dlen > 0) put(b, ":%u", (uint32_t)(seq + dlen));
    }
    if (flags & 0x10) put(b, ", ack %u", ack);
    put(b, ", win %u", win);
    if (flags & 0x20) put(b, ", urg %u", urp);
    if (off > 20) fmt_tcp_options(b, t + 20, off - 20, sack_base);
    put(b, ", length %zu", dlen);
}

static void fmt_udp(struct buf *b, uint32_t src, uint32_t dst, const uint8_t *u, size_t len)
{
    put(b, "IP ");
    put_ip(b, src);
    if (len < 8) {
        put(b, " > ");
        put_ip(b, dst);
        put(b, ": udp truncated");
        return;
    }
    put(b, ".%u > ", rd16(u));
    put_ip(b, dst);
    put(b, ".%u: UDP, length %u", rd16(u + 2), rd16(u + 4) >= 8 ? rd16(u + 4) - 8 : 0);
}

static void fmt_icmp(struct buf *b, uint32_t src, uint32_t dst, const uint8_t *m, size_t len)
{
    put(b, "IP ");
    put_ip(b, src);
    put(b, " > ");
    put_ip(b, dst);
    put(b, ": ICMP ");
    if (len < 8) {
        put(b, "truncated");
        return;
    }
    switch (m[0]) {
    case 0:
    case 8:
        put(b, "echo %s, id %u, seq %u, length %zu", m[0] == 8 ? "request" : "reply", rd16(m + 4),
            rd16(m + 6), len);
        return;
    case 3: {
        const uint8_t *in = m + 8;
        size_t inlen = len - 8;
        if (inlen >= 20 && in[0] >> 4 == 4) {
            size_t ihl = (size_t)(in[0] & 0xf) * 4;
            uint32_t idst = rd32(in + 16);
            if (m[1] == 3 && ihl >= 20 && inlen >= ihl + 4 && (in[9] == 17 || in[9] == 6)) {
                put_ip(b, idst);
                put(b, " %s port %u unreachable, length %zu", in[9] == 17 ? "udp" : "tcp",
                    rd16(in + ihl + 2), len);
                return;
            }
            if (m[1] == 2) {
                put_ip(b, idst);
                put(b, " protocol %u unreachable, length %zu", in[9], len);
                return;
            }
            put_ip(b, idst);
            put(b, " unreachable - code %u, length %zu", m[1], len);
            return;
        }
        put(b, "unreachable, length %zu", len);
        return;
    }
    default:
        put(b, "type-#%u, length %zu", m[0], len);
    }
}

char *us_trace_format(char *out, size_t cap, const uint8_t *f, size_t len, struct us_seqrel *rel)
{
    struct buf b = {out, cap, 0};
    if (cap) out[0] = 0;
    if (len < 14) {
        put(&b, "[|ether]");
        return out;
    }
    uint16_t type = rd16(f + 12);
    const uint8_t *p = f + 14;
    size_t plen = len - 14;
    if (type == 0x0806) {
        fmt_arp(&b, p, plen);
        return out;
    }
    if (type != 0x0800) {
        put(&b, "ethertype 0x%04x, length %zu", type, len);
        return out;
    }
    if (plen < 20 || p[0] >> 4 != 4) {
        put(&b, "IP truncated-ip, length %zu", plen);
        return out;
    }
    size_t ihl = (size_t)(p[0] & 0xf) * 4;
    size_t total = rd16(p + 2);
    if (ihl < 20 || total < ihl || total > plen) {
        put(&b, "IP bad-hlen or truncated, length %zu", plen);
        return out;
    }
    uint32_t src = rd32(p + 12), dst = rd32(p + 16);
    const uint8_t *l4 = p + ihl;
    size_t l4len = total - ihl;
    uint16_t frag = rd16(p + 6);
    if (frag & 0x1fff) {
        put(&b, "IP ");
        put_ip(&b, src);
        put(&b, " > ");
        put_ip(&b, dst);
        put(&b, ": ip-proto-%u", p[9]);
        return out;
    }
    switch (p[9]) {
    case 6:
        fmt_tcp(&b, src, dst, l4, l4len, rel);
        break;
    case 17:
        fmt_udp(&b, src, dst, l4, l4len);
        break;
    case 1:
        fmt_icmp(&b, src, dst, l4, l4len);
        break;
    default:
        put(&b, "IP ");
        put_ip(&b, src);
        put(&b, " > ");
        put_ip(&b, dst);
        put(&b, ": ip-proto-%u %zu", p[9], l4len);
    }
    return out;
}

char *us_trace_time(char *buf, size_t cap, us_time_t t)
{
    uint64_t secs = t / 1000000u;
    snprintf(buf, cap, "%02u:%02u:%02u.%06u", (unsigned)(secs / 3600 % 24),
             (unsigned)(secs / 60 % 60), (unsigned)(secs % 60), (unsigned)(t % 1000000u));
    return buf;
}

/* ---- the text trace observer ---- */

struct us_text_trace {
    FILE *out;
    unsigned flags;
    struct us_seqrel *rel;
};

struct us_text_trace *us_text_trace_new(FILE *out, unsigned flags)
{
    struct us_text_trace *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->out = out;
    t->flags = flags;
    if (!(flags & US_TRACE_ABS_SEQ)) t->rel = us_seqrel_new();
    return t;
}

void us_text_trace_free(struct us_text_trace *t)
{
    if (!t) return;
    us_seqrel_free(t->rel);
    free(t);
}

static void trace_frame(void *ctx, struct us_stack *s, int iface, enum us_dir dir,
                        const uint8_t *frame, size_t len, us_time_t now)
{
    struct us_text_trace *t = ctx;
    char line[512], ts[32];
    us_trace_format(line, sizeof(line), frame, len, t->rel);
    if (!(t->flags & US_TRACE_NO_TIME)) fprintf(t->out, "%s ", us_trace_time(ts, sizeof(ts), now));
    if (t->flags & US_TRACE_DIR) fprintf(t->out, "%s %s ", us_stack_name(s), dir == US_DIR_IN ? "In " : "Out");
    fprintf(t->out, "%s\n", line);
}

struct us_observer us_text_trace_observer(struct us_text_trace *t)
{
    return (struct us_observer){.frame = trace_frame, .ctx = t};
}

/* ---- the state log ---- */

struct us_state_log {
    FILE *out;
};

struct us_state_log *us_state_log_new(FILE *out)
{
    struct us_state_log *l = calloc(1, sizeof(*l));
    if (l) l->out = out;
    return l;
}

void us_state_log_free(struct us_state_log *l) { free(l); }

char *us_state_event_format(char *buf, size_t cap, const char *stack,
                            const struct us_state_event *ev)
{
    char ts[32], la[16], ra[16];
    snprintf(buf, cap, "%s %s %s:%u > %s:%u %s -> %s (%s)", us_trace_time(ts, sizeof(ts), ev->time),
             stack, us_ip_str(ev->laddr, la), ev->lport, us_ip_str(ev->raddr, ra), ev->rport,
             us_tcp_state_name(ev->from), us_tcp_state_name(ev->to), ev->cause ? ev->cause : "");
    return buf;
}

static void log_state(void *ctx, struct us_stack *s, const struct us_state_event *ev)
{
    struct us_state_log *l = ctx;
    char line[256];
    fprintf(l->out, "%s\n", us_state_event_format(line, sizeof(line), us_stack_name(s), ev));
    const struct us_tcp_info *i = ev->info;
    if (i)
        fprintf(l->out,
                "    stats: segs out %u in %u, bytes sent %llu acked %llu received %llu, "
                "retransmits %u (fast %u, timeouts %u), dup acks %u, sack blocks in %u out %u, "
                "srtt %.1f ms rttvar %.1f ms rto %.0f ms, cwnd %u ssthresh %u, cc %s\n",
                (unsigned)i->segs_out, (unsigned)i->segs_in, (unsigned long long)i->bytes_sent,
                (unsigned long long)i->bytes_acked, (unsigned long long)i->bytes_received,
                i->total_retrans, i->fast_retrans, i->rto_count, i->dup_acks, i->sack_blocks_rx,
                i->sack_blocks_tx, i->srtt / 1000.0, i->rttvar / 1000.0, i->rto / 1000.0, i->snd_cwnd,
                i->snd_ssthresh, i->congestion);
}

struct us_observer us_state_log_observer(struct us_state_log *l)
{
    return (struct us_observer){.state = log_state, .ctx = l};
}
